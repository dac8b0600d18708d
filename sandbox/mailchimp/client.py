"""`sandbox_client`: the real SDK, pointed at the sandbox."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sandbox.mailchimp.values import API_ROOT

if TYPE_CHECKING:
    import mailchimp_marketing

    from sandbox.mailchimp.emulator import MailchimpSandbox


def sandbox_client(emulator: MailchimpSandbox) -> mailchimp_marketing.Client:
    """The official SDK client, unchanged but for its host; the sandbox must be running."""
    import mailchimp_marketing as sdk

    client = sdk.Client()
    client.set_config({"api_key": emulator.api_key, "server": emulator.data_center})
    client.api_client.host = f"{emulator.base_url}{API_ROOT}"
    return client
