"""Mailchimp: audience members in; leadscore's merge fields made in each audience.

`settings` the `LEADSCORE_MAILCHIMP__*` section (an API key, or an OAuth token and
its server; the audiences); `client` the official SDK under the call policy and
the 10-connection cap, every answer checked; `system` merge tags, capabilities and
the registry entry; `attributes` the default attribute mapping; `members` members
as `Contact`s and signups; `pull` the members stream and `fetch` one member; `setup`
the merge fields; `write` merge fields and stage tags of existing members, call by
call, and `batch` the same through `/batches`; `connector` puts them together.
"""

from __future__ import annotations

from connectors.mailchimp.settings import MailchimpSettings
from connectors.mailchimp.system import MAILCHIMP_CAPABILITIES, MAILCHIMP_SYSTEM

__all__ = ["MAILCHIMP_CAPABILITIES", "MAILCHIMP_SYSTEM", "MailchimpSettings"]
