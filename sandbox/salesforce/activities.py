"""The values of activity records: Tasks (calls, logged emails), Events (meetings),
campaigns a web response makes, and opportunity contact roles.

Follows the Object Reference for Task (`TaskSubtype`, `CallType`,
`CallDisposition`, `CallDurationInSeconds`, `CompletedDateTime`: set to when the
call or email happened, which a task recorded later keeps), Event (`StartDateTime`,
`EndDateTime`, `ActivityDateTime`, `DurationInMinutes`, `EventSubtype`) and
Campaign (`Type`, with its standard values). Event has no standard field telling
a held meeting from a planned one: a meeting is held once its `EndDateTime` has
passed. Details: docs/sandbox.md (Salesforce).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sandbox.salesforce.ids import PREFIXES, make_id
from sandbox.salesforce.table import Row

CALL_RESULTS = ("Connected", "Left voicemail", "No answer")
"""What a rep writes in `CallDisposition` (free text in Salesforce), by the call's number."""
URL_CAMPAIGNS = {"/webinars/": "Webinar", "/events/": "Conference", "/resources/": "Other"}
"""Web responses that make Campaigns: the path part of the page, and the Campaign `Type`."""


def call_values(who: str | None, at: datetime, number: int) -> Row:
    """A logged outbound call; `number` picks its result and length."""
    result = CALL_RESULTS[number % len(CALL_RESULTS)]
    seconds = 120 + (number * 37) % 900 if result == "Connected" else (number * 7) % 40
    return _task(who, at, "Call", "Call") | {
        "CallType": "Outbound",
        "CallDisposition": result,
        "CallDurationInSeconds": seconds,
    }


def email_task_values(who: str | None, at: datetime) -> Row:
    """A logged sales email."""
    return _task(who, at, "Email", "Email: follow-up")


def _task(who: str | None, at: datetime, subtype: str, subject: str) -> Row:
    return {
        "Subject": subject,
        "ActivityDate": at.date(),
        "WhoId": who,
        "Status": "Completed",
        "TaskSubtype": subtype,
        "Type": subtype,
        "CompletedDateTime": at,  # the call or email as it happened; logged at CreatedDate
        "CreatedDate": at,
        "LastModifiedDate": at,
        "SystemModstamp": at,
    }


def event_values(who: str | None, start: datetime, minutes: int, created: datetime) -> Row:
    """A meeting from `start`, `minutes` long, put in the calendar at `created`."""
    return {
        "Subject": "Meeting",
        "WhoId": who,
        "StartDateTime": start,
        "EndDateTime": start + timedelta(minutes=minutes),
        "ActivityDateTime": start,
        "ActivityDate": start.date(),
        "DurationInMinutes": minutes,
        "IsAllDayEvent": False,
        "EventSubtype": "Event",
        "Type": "Meeting",
        "CreatedDate": created,
        "LastModifiedDate": created,
        "SystemModstamp": created,
    }


def url_campaign(url: str, first: datetime) -> Row:
    """The Campaign of a webinar, conference or content page, first answered at `first`."""
    kind = next((k for part, k in URL_CAMPAIGNS.items() if part in url), "Other")
    slug = url.rstrip("/").rsplit("/", 1)[-1]
    name = {"Webinar": "Webinar", "Conference": "Event"}.get(kind, "Content")
    return {
        "Name": f"{name}: {slug}"[:80],
        "Type": kind,
        "Status": "In Progress" if kind == "Other" else "Completed",
        "StartDate": first.date(),
        "IsActive": kind == "Other",
        "Description": url,
        "CreatedDate": first,
        "LastModifiedDate": first,
        "SystemModstamp": first,
    }


def contact_role_values(opportunity: int, contact: str, created: datetime) -> Row:
    return {
        "OpportunityId": make_id(PREFIXES["Opportunity"], opportunity),
        "ContactId": contact,
        "Role": "Decision Maker",
        "IsPrimary": True,
        "CreatedDate": created,
        "LastModifiedDate": created,
        "SystemModstamp": created,
    }
