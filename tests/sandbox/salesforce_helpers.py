"""What the Salesforce tests do to a sandbox besides calling its API.

They look records up by world person, change a record as a user would in
Salesforce, end every session, and simulate what a person just did (a Task, a
campaign response, a deal), always under the sandbox's `org_lock`, as a
request handler would. `grant_fields` is the exception: it opens custom fields
to the API user through the API itself, as an admin would.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sandbox.clock import SandboxClock
from sandbox.salesforce import SalesforceSandbox
from sandbox.salesforce.activities import call_values, contact_role_values, event_values
from sandbox.salesforce.org import Org
from sandbox.salesforce.projection import CAMPAIGN_MEMBER_KINDS
from sandbox.salesforce.table import QUOTED, WON, Row, Table
from scoring.records import ActivityType


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


def add_activity(
    sandbox: SalesforceSandbox,
    person: int,
    kind: ActivityType | str,
    at: datetime | None = None,
    *,
    campaign: int = -1,
    amount: float | None = None,
) -> str:
    """Simulate what a person just did (a Task, a campaign response, a deal); its id."""
    with sandbox.org_lock:
        org = sandbox.org
        moment = at or org.stamp()
        return _record_activity(org, person, ActivityType(kind), moment, campaign, amount)


def _record_activity(
    org: Org, person: int, kind: ActivityType, at: datetime, campaign: int, amount: float | None
) -> str:
    """Record what a world person just did; the id of the record made or changed."""
    who = org.index.person_record(person)
    if who is None:
        raise ValueError(f"person {person} is not in Salesforce")
    if kind == ActivityType.MEETING:
        table, row = _add(org, "Event", event_values(who, at, 30, at))
        return table.id(row)
    if kind == ActivityType.SALES_TOUCH:
        table, row = _add(org, "Task", call_values(who, at, 0))
        return table.id(row)
    if kind in CAMPAIGN_MEMBER_KINDS:
        return _campaign_member(org, who, campaign, kind == ActivityType.EMAIL_CLICK, at)
    if kind in (ActivityType.QUOTE_SENT, ActivityType.PURCHASE):
        return _deal(org, person, kind == ActivityType.PURCHASE, at, amount)
    raise ValueError(f"Salesforce keeps no record of {kind.value}")


def _add(org: Org, name: str, values: Row) -> tuple[Table, int]:
    """A new record of sObject `name`, stamped with the org's clock."""
    return org.insert(name, values)


def _member_row(org: Org, campaign_id: str, who: str) -> int | None:
    """The CampaignMember row of a Lead or Contact in a campaign, if it is a member."""
    members = org.table("CampaignMember")
    for row in range(len(members)):
        member = members.record(row)
        if member["CampaignId"] == campaign_id and who in (member["LeadId"], member["ContactId"]):
            return row
    return None


def _campaign_member(org: Org, who: str, campaign: int, click: bool, at: datetime) -> str:
    campaigns = org.table("Campaign")
    if not 0 <= campaign < len(campaigns):
        raise ValueError(f"no campaign {campaign} in Salesforce")
    members = org.table("CampaignMember")
    row = _member_row(org, campaigns.id(campaign), who)
    if row is None:
        lead = who if who.startswith("00Q") else None
        person_record = org.record(who) or {}
        _, row = _add(
            org,
            "CampaignMember",
            {
                "CampaignId": campaigns.id(campaign),
                "LeadId": lead,
                "ContactId": None if lead else who,
                "Status": "Sent",
                "FirstRespondedDate": None,
                "Email": person_record.get("Email"),
            },
        )
    if click and members.record(row)["Status"] != "Responded":
        org.apply(members, row, {"Status": "Responded", "FirstRespondedDate": at.date()})
    return members.id(row)


def _deal(org: Org, person: int, won: bool, at: datetime, amount: float | None) -> str:
    contact_row = org.index.row("Contact", person)
    if contact_row is None:
        raise ValueError(f"person {person} is a Lead in Salesforce: no deal without a Contact")
    opportunities = org.table("Opportunity")
    open_deals = org.index.open_deals.setdefault(person, [])
    if won and open_deals:
        row = open_deals.pop(0)
        changes = {"StageName": WON, "CloseDate": at.date()}
        org.apply(opportunities, row, changes | ({"Amount": amount} if amount else {}))
        return opportunities.id(row)
    contact = org.table("Contact").record(contact_row)
    account = org.record(str(contact["AccountId"])) or {}
    close = at if won else at + timedelta(days=30)
    _, row = _add(
        org,
        "Opportunity",
        {
            "Name": f"{account.get('Name')} - {at.date()}",
            "AccountId": contact["AccountId"],
            "StageName": WON if won else QUOTED,
            "Amount": amount,
            "CloseDate": close.date(),
        },
    )
    _add(org, "OpportunityContactRole", contact_role_values(row, str(contact["Id"]), at))
    if not won:
        open_deals.append(row)
    return opportunities.id(row)
