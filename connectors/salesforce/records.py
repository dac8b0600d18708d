"""What Salesforce's query answers become: `Contact` and `Activity` records, without any I/O.

A Lead (id prefix 00Q) or a Contact (003) is one person. A converted Lead
(`IsConverted`) is not a person of its own any more: its Contact
(`ConvertedContactId`) is, and the Lead is neither scored nor written to.

Activities, by the Object Reference's fields, onto the canonical vocabulary:
- CampaignMember: every member of an Email campaign was sent it (`email_sent`, at
  `CreatedDate`); a member who responded (`HasResponded`) clicked it
  (`email_click`, at `FirstRespondedDate`); a responder to any other campaign type
  (webinar, trade show, direct mail) answered a form (`form_submission`). The
  campaign, its type and the member status are attributes;
- Task: completed ones only (`IsClosed`, or Status "Completed" where the org has no
  IsClosed); `TaskSubtype` Call or Email, or `Type` Call or Email, is a
  `sales_touch` (`channel` call or email; a call's `CallDisposition` is its
  `outcome`); `Type` Meeting is a `meeting`; a list email (`TaskSubtype` ListEmail)
  is `email_sent`. Other tasks are to-dos, not something the person did;
- Event: a `meeting`, at its end (`EndDateTime`: held once that has passed);
- a Task or Event deleted (`IsDeleted`, from queryAll) keeps its activity, with the
  `outcome` `deleted`;
- a won Opportunity (`IsWon`), through each OpportunityContactRole: a `purchase`
  of the role's Contact, at `CloseDate`, with its `amount`;
- a CampaignMember, a won Opportunity or a contact role deleted (`IsDeleted`, from
  queryAll) withdraws the activities it gave (`Withdrawn`): the member's sent and
  responded, the Opportunity's purchases (by the prefix of their ids), the role's one;
  so does an Opportunity an incremental pull finds no longer won (`pull_purchases`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Any

from connectors.attributes import AttributeMap
from connectors.protocol import Withdrawn
from connectors.salesforce.attributes import SALESFORCE_ATTRIBUTES
from connectors.values import finite_number, label_of, parse_time
from scoring.records import Activity, ActivityType, Contact

SF_SOURCE = "salesforce"
KEY_PREFIXES = {"00Q": "Lead", "003": "Contact"}
"""Key prefixes of the records leadscore scores and writes (Object Reference, "Lead",
"Contact"; the first three characters of every id name its object)."""
STAMP_FIELDS = frozenset({"SystemModstamp", "LastModifiedDate"})
"""Moved by every write, ours included: not attributes, or each write would look like news."""
QUERY_ALL_FIELDS = frozenset({"IsDeleted", "MasterRecordId"})
"""Selected by incremental pulls only (queryAll), to tell deleted records: not attributes, or
the first incremental pull after a full one would make every record look changed."""
EMAIL_CAMPAIGN = "email"
DELETED_OUTCOME = "deleted"
"""The `outcome` of a Task or Event deleted since it was stored (read through queryAll): it
replaces the stored activity, and rules that count held meetings or connected calls
(`outcome` completed, connected, or none) pass it over."""


def sobject_of(record_id: str) -> str | None:
    """Lead or Contact by an id's key prefix; None for any other record."""
    return KEY_PREFIXES.get(record_id[:3])


def flatten(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A query record's fields, relationship fields as `Account.Industry`; no `attributes`."""
    out: dict[str, Any] = {}
    for name, value in record.items():
        if name == "attributes":
            continue
        if isinstance(value, Mapping):
            out |= flatten(value, f"{prefix}{name}.")
        else:
            out[f"{prefix}{name}"] = value
    return out


def person_of(record: Mapping[str, Any], mapping: AttributeMap = SALESFORCE_ATTRIBUTES) -> Contact:
    """A Lead or Contact as a `Contact`: its fields, plus the rule attributes they give."""
    fields = flatten(record)
    kept = {
        k: v
        for k, v in fields.items()
        if v not in (None, "") and k not in STAMP_FIELDS | QUERY_ALL_FIELDS | {"Id"}
    }
    email = fields.get("Email") or None
    return Contact(str(fields["Id"]), email=email, attributes=mapping.apply(kept), source=SF_SOURCE)


def is_converted(record: Mapping[str, Any]) -> bool:
    return record.get("IsConverted") is True


def converted_to(record: Mapping[str, Any]) -> str | None:
    """The Contact a converted Lead became, if the org says."""
    contact = record.get("ConvertedContactId")
    return str(contact) if is_converted(record) and contact else None


def day_start(raw: Any) -> datetime | None:
    """A date field (`2026-10-30`) as the start of that day in UTC."""
    if isinstance(raw, date) and not isinstance(raw, datetime):
        return datetime(raw.year, raw.month, raw.day, tzinfo=UTC)
    return parse_time(raw)


def _person(record: Mapping[str, Any], *keys: str) -> str | None:
    """The first of `keys` holding a Lead or Contact id."""
    for key in keys:
        value = record.get(key)
        if value and sobject_of(str(value)) is not None:
            return str(value)
    return None


def member_activities(record: Mapping[str, Any]) -> Iterator[Activity]:
    """A CampaignMember's activities: sent (email campaigns), and responded."""
    fields = flatten(record)
    person = _person(fields, "ContactId", "LeadId")
    if person is None:
        return
    kind = label_of(str(fields.get("Campaign.Type") or ""))
    attributes: dict[str, Any] = {"campaign": fields.get("CampaignId")}
    if kind:
        attributes["campaign_type"] = kind
    if fields.get("Status"):
        attributes["member_status"] = label_of(str(fields["Status"]))
    created = parse_time(fields.get("CreatedDate"))
    member = str(fields["Id"])
    if kind == EMAIL_CAMPAIGN and created is not None:
        yield Activity(person, ActivityType.EMAIL_SENT, created, id=member_activity_id(member,
                       "sent"), attributes=attributes, source=SF_SOURCE)  # fmt: skip
    if fields.get("HasResponded") is True:
        responded = day_start(fields.get("FirstRespondedDate")) or parse_time(
            fields.get("SystemModstamp")
        )
        if responded is None:
            return
        answered = (
            ActivityType.EMAIL_CLICK if kind == EMAIL_CAMPAIGN else ActivityType.FORM_SUBMISSION
        )
        yield Activity(person, answered, responded, id=member_activity_id(member, "responded"),
                       attributes=attributes, source=SF_SOURCE)  # fmt: skip


MEMBER_ACTIONS = ("sent", "responded")
"""The activities a CampaignMember can give, by the last part of their ids."""


def member_activity_id(member: str, action: str) -> str:
    """The id of a CampaignMember's activity (`MEMBER_ACTIONS`)."""
    return f"cm:{member}:{action}"


def purchase_id(opportunity: str, person: str) -> str:
    """The id of a won Opportunity's purchase by one of its contact roles' Contacts."""
    return f"{purchase_prefix(opportunity)}{person}"


def purchase_prefix(opportunity: str) -> str:
    """What the ids of an Opportunity's purchases (one per contact role) start with."""
    return f"won:{opportunity}:"


def is_deleted(record: Mapping[str, Any]) -> bool:
    """Whether a queryAll answered the record from the Recycle Bin."""
    return record.get("IsDeleted") is True


def member_withdrawn(record: Mapping[str, Any]) -> list[Withdrawn]:
    """A deleted CampaignMember's activities (`is_deleted`), whichever it gave."""
    member = str(record["Id"])
    return [Withdrawn(member_activity_id(member, action)) for action in MEMBER_ACTIONS]


def role_withdrawn(role: Mapping[str, Any]) -> list[Withdrawn]:
    """A deleted contact role's purchase, if the role names its Opportunity and Contact."""
    fields = flatten(role)
    person, opportunity = _person(fields, "ContactId"), fields.get("OpportunityId")
    if person is None or not opportunity:
        return []
    return [Withdrawn(purchase_id(str(opportunity), person))]


def task_activity(record: Mapping[str, Any]) -> Activity | None:
    """A completed Task as what the person did, or None for a to-do or an open task."""
    fields = flatten(record)
    person = _person(fields, "WhoId")
    closed = fields.get("IsClosed")
    done = closed is True or (closed is None and fields.get("Status") == "Completed")
    moment = parse_time(fields.get("CompletedDateTime")) or parse_time(fields.get("CreatedDate"))
    if person is None or not done or moment is None:
        return None
    subtype = label_of(str(fields.get("TaskSubtype") or ""))
    kind = label_of(str(fields.get("Type") or ""))
    attributes: dict[str, Any] = {}
    if kind == "meeting":
        activity = ActivityType.MEETING
    elif subtype == "listemail":
        activity, attributes["channel"] = ActivityType.EMAIL_SENT, "list_email"
    elif "call" in (subtype, kind):
        activity, attributes["channel"] = ActivityType.SALES_TOUCH, "call"
        if fields.get("CallDisposition"):
            attributes["outcome"] = label_of(str(fields["CallDisposition"]))
    elif "email" in (subtype, kind):
        activity, attributes["channel"] = ActivityType.SALES_TOUCH, "email"
    else:
        return None
    if fields.get("IsDeleted") is True:
        attributes["outcome"] = DELETED_OUTCOME
    return Activity(person, activity, moment, id=f"task:{fields['Id']}", attributes=attributes,
                    source=SF_SOURCE, revisable=True)  # fmt: skip


def event_activity(record: Mapping[str, Any]) -> Activity | None:
    """An Event with a Lead or Contact as a meeting, dated when it ends: Salesforce has no
    field saying a meeting took place (no IsHeld on Event), so it is held once its
    `EndDateTime` has passed. An Event put in the calendar ahead is pulled before then,
    and counts from that moment on (scoring counts an activity from its date)."""
    fields = flatten(record)
    person = _person(fields, "WhoId")
    moment = (
        parse_time(fields.get("EndDateTime"))
        or parse_time(fields.get("StartDateTime"))
        or parse_time(fields.get("ActivityDateTime"))
    )
    if person is None or moment is None:
        return None
    attributes = {"meeting_type": label_of(str(fields["Type"]))} if fields.get("Type") else {}
    if fields.get("IsDeleted") is True:
        attributes["outcome"] = DELETED_OUTCOME
    return Activity(person, ActivityType.MEETING, moment, id=f"event:{fields['Id']}",
                    attributes=attributes, source=SF_SOURCE, revisable=True)  # fmt: skip


def purchase_activity(role: Mapping[str, Any]) -> Activity | None:
    """An OpportunityContactRole of a won Opportunity as the Contact's purchase."""
    fields = flatten(role)
    person = _person(fields, "ContactId")
    opportunity = fields.get("OpportunityId")
    closed = day_start(fields.get("Opportunity.CloseDate"))
    if person is None or not opportunity or closed is None:
        return None
    if fields.get("Opportunity.IsWon") is not True:
        return None
    amount = finite_number(fields.get("Opportunity.Amount"))
    attributes: dict[str, Any] = {"opportunity": str(opportunity)}
    if amount is not None:
        attributes["amount"] = amount
    if fields.get("Opportunity.CurrencyIsoCode"):  # a multi-currency org's
        attributes["currency"] = str(fields["Opportunity.CurrencyIsoCode"])
    return Activity(person, ActivityType.PURCHASE, closed, id=purchase_id(str(opportunity), person),
                    attributes=attributes, source=SF_SOURCE, revisable=True)  # fmt: skip
