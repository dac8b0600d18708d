"""New activity while the sandbox runs, as Salesforce would record it (`record_activity`).

What a world person just did becomes the record a rep or Salesforce makes of it:
a meeting an Event, a sales touch a logged call (a Task), an email event a
CampaignMember (a click its response), a quote an open Opportunity and a
purchase a won one, each tied to the person's Lead or Contact and stamped with
the org's clock, so that a pull by SystemModstamp finds it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sandbox.salesforce.activities import call_values, contact_role_values, event_values
from sandbox.salesforce.org import Org
from sandbox.salesforce.projection import CAMPAIGN_MEMBER_KINDS
from sandbox.salesforce.schema import CURRENCIES
from sandbox.salesforce.table import QUOTED, WON
from scoring.records import ActivityType


def record_activity(
    org: Org, person: int, kind: ActivityType, at: datetime, campaign: int, amount: float | None
) -> str:
    """Record what a world person just did; the id of the record made or changed."""
    who = org.index.person_record(person)
    if who is None:
        raise ValueError(f"person {person} is not in Salesforce")
    if kind == ActivityType.MEETING:
        table, row = org.insert("Event", event_values(who, at, 30, at))
        return table.id(row)
    if kind == ActivityType.SALES_TOUCH:
        table, row = org.insert("Task", call_values(who, at, 0))
        return table.id(row)
    if kind in CAMPAIGN_MEMBER_KINDS:
        return _campaign_member(org, who, campaign, kind == ActivityType.EMAIL_CLICK, at)
    if kind in (ActivityType.QUOTE_SENT, ActivityType.PURCHASE):
        return _deal(org, person, kind == ActivityType.PURCHASE, at, amount)
    raise ValueError(f"Salesforce keeps no record of {kind.value}")


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
        _, row = org.insert(
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
    _, row = org.insert(
        "Opportunity",
        {
            "Name": f"{account.get('Name')} - {at.date()}",
            "AccountId": contact["AccountId"],
            "StageName": WON if won else QUOTED,
            "Amount": amount,
            "CurrencyIsoCode": CURRENCIES[0],  # the user's default currency
            "CloseDate": close.date(),
        },
    )
    org.insert("OpportunityContactRole", contact_role_values(row, str(contact["Id"]), at))
    if not won:
        open_deals.append(row)
    return opportunities.id(row)
