"""A local emulator of the part of Salesforce's REST API the leadscore connector uses.

`emulator` serves the routes; `auth` the OAuth and SOAP logins and session
lifetime, `assertion` the JWT bearer check; `security` field-level security;
`org` the records of one org, projected from the world by `projection`; `schema` the
sObject types and their fields, `ids` their ids, `values` their values and
`describe` their describe results; `errors` the refusals; `query` and `soql`
SOQL; `bulk` Bulk API 2.0; `transport` how simple-salesforce reaches it. Sources
and simplifications: docs/sandbox.md.
"""

from __future__ import annotations

from sandbox.salesforce.emulator import SalesforceSandbox
from sandbox.salesforce.transport import SandboxAdapter, connect, sandbox_session

__all__ = ["SalesforceSandbox", "SandboxAdapter", "connect", "sandbox_session"]
