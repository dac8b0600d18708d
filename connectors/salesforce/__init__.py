"""Salesforce: Leads and Contacts and their campaign, sales and deal activity in; scores out
as custom fields.

`auth` logs in (client credentials, JWT bearer, a given access token, or the legacy
password flows); `client` wraps simple-salesforce under the call policy and the
daily budget; `describe` what the org has; `soql` escaped query text; `pull` the
streams and `fetch` one person; `records` turns query records into `Contact` and
`Activity` records; `write` the sObject Collections updates; `setup` the custom
fields and their field-level security; `settings` the `LEADSCORE_SALESFORCE__*`
section; `system` the registry entry; `connector` puts them together.
"""

from __future__ import annotations

from connectors.salesforce.settings import SalesforceSettings
from connectors.salesforce.system import SALESFORCE_SYSTEM, SF_CAPABILITIES

__all__ = ["SALESFORCE_SYSTEM", "SF_CAPABILITIES", "SalesforceSettings"]
