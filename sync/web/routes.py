"""Every webhook endpoint leadscore serves, one per system's way of asking."""

from __future__ import annotations

from sync.web.endpoint import Endpoint


def all_endpoints() -> tuple[Endpoint, ...]:
    """The endpoints, imported on first use (each module is light: no SDK, no store)."""
    from sync.web.mailchimp import MailchimpEndpoint

    return (MailchimpEndpoint(),)
