"""What the Salesforce tests do to a sandbox besides calling its API.

They look records up by world person, change a record as a user would in
Salesforce and end every session, always under the sandbox's `org_lock`, as a
request handler would (what a person just did is the sandbox's own
`add_activity`). `grant_fields` is the exception: it opens custom fields
to the API user through the API itself, as an admin would.
"""

from __future__ import annotations

from typing import Any

from sandbox.clock import SandboxClock
from sandbox.salesforce import SalesforceSandbox


class HandClock(SandboxClock):
    """Vendor time that moves only when a test moves it (`advance`); sleeps stay real."""

    def __init__(self) -> None:
        super().__init__()
        self.offset = 0.0

    def now(self) -> float:
        return self.offset

    def advance(self, vendor_seconds: float) -> None:
        self.offset += vendor_seconds


def record_id(sandbox: SalesforceSandbox, person: int) -> str | None:
    """The Lead or Contact id of a world person."""
    return sandbox.org.index.person_record(person)


def stored_record(sandbox: SalesforceSandbox, record_id: str) -> dict[str, Any] | None:
    """A record as stored (Python values), or None."""
    with sandbox.org_lock:
        return sandbox.org.record(record_id)


def update_record(sandbox: SalesforceSandbox, record_id: str, **values: Any) -> None:
    """Change a record as a user would in Salesforce (stamps SystemModstamp)."""
    with sandbox.org_lock:
        org = sandbox.org
        located = org.locate(record_id)
        if located is None:
            raise ValueError(f"no record {record_id}")
        table, row, changes = org.prepare_update(
            {"Id": record_id, **values}, located[0].sobject.name
        )
        org.apply(table, row, changes)


def quick_jobs(sandbox: SalesforceSandbox) -> None:
    """Make Bulk API 2.0 jobs finish at the first look after they are closed, for tests of
    what a job does rather than of how long it takes."""
    for jobs in (sandbox.bulk, sandbox.bulk_queries):
        jobs.queue_seconds = jobs.least_seconds = jobs.record_seconds = 0.0


def expire_sessions(sandbox: SalesforceSandbox) -> None:
    """End every session, as a timeout or a password change would."""
    sandbox.login.sessions.clear()


def grant_fields(
    sf: Any, user_id: str, *fields: str, edit: bool = True, name: str = "Leadscore_Fields"
) -> str:
    """Let the API user read (and edit) custom fields, as an admin would: a permission set,
    its field permissions, and its assignment to the user. The permission set's id."""
    permission_set = str(sf.PermissionSet.create({"Name": name, "Label": name})["id"])
    for full_name in fields:
        sf.FieldPermissions.create({"ParentId": permission_set, "SobjectType": full_name.split(".")[0],
                                    "Field": full_name, "PermissionsRead": True,
                                    "PermissionsEdit": edit})  # fmt: skip
    sf.PermissionSetAssignment.create({"AssigneeId": user_id, "PermissionSetId": permission_set})
    return permission_set
