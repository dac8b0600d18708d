"""One person fetched whole for a trigger or a trial: the Lead or Contact, and its activity.

By id (a Lead's 00Q or a Contact's 003) or by email (a Contact first, then a
Lead not converted, newest first). A converted Lead gives its Contact. Every
value reaches SOQL as an escaped literal (`soql.soql_quote`) or a checked id.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from connectors.attributes import AttributeMap
from connectors.paging import side_by_side
from connectors.protocol import Page
from connectors.salesforce.client import SalesforceApi
from connectors.salesforce.describe import Schema
from connectors.salesforce.pull import (
    EVENT_FIELDS,
    MEMBER_FIELDS,
    PEOPLE_FIELDS,
    ROLE_FIELDS,
    TASK_FIELDS,
    ToActivities,
    events,
    members,
    purchases,
    tasks,
    walk,
)
from connectors.salesforce.records import converted_to, is_converted, person_of, sobject_of
from connectors.salesforce.soql import is_record_id, select, soql_id, soql_quote
from scoring.records import Activity

QUERIES_AT_ONCE = 4
"""Queries of one round at once: the record and three or four kinds of activity."""


def find_record(
    api: SalesforceApi, schema: Schema, fields: Sequence[str], record_id: str | None,
    email: str | None,
) -> Mapping[str, Any] | None:  # fmt: skip
    """The Lead or Contact record wanted, or None."""
    if record_id is not None:
        sobject = sobject_of(record_id)
        if sobject is None or not is_record_id(record_id):
            return None
        candidates = [(sobject, [f"Id = {soql_id(record_id)}"])]
    elif email is not None:
        address = soql_quote(email.strip())
        candidates = [("Contact", [f"Email = {address}"]),
                      ("Lead", [f"Email = {address}", "IsConverted = false"])]  # fmt: skip
    else:
        raise ValueError("fetch needs a record id or an email")
    for sobject, where in candidates:
        present = schema.present(sobject, [*PEOPLE_FIELDS[sobject], *fields])
        soql = select(sobject, present, where, "SystemModstamp DESC") + " LIMIT 1"
        for records in walk(api, f"{sobject.lower()}s.fetch", soql):
            if records:
                return records[0]
    return None


def fetch_person(
    api: SalesforceApi,
    schema: Schema,
    fields: Sequence[str],
    mapping: AttributeMap,
    record_id: str | None,
    email: str | None,
) -> Page:
    """The Lead or Contact and its activity. By id, the record and the activity of that id
    are read side by side (one round of calls); a converted Lead's Contact, and a person
    found by email, need another."""
    early: list[Activity] | None = None
    record: Mapping[str, Any] | None
    if record_id is not None and sobject_of(record_id) and is_record_id(record_id):
        both: list[Any] = side_by_side(
            [lambda: find_record(api, schema, fields, record_id, None),
             lambda: person_activities(api, schema, record_id)],
            QUERIES_AT_ONCE,
        )  # fmt: skip
        record, early = both
    else:
        record = find_record(api, schema, fields, record_id, email)
    if record is not None and is_converted(record):
        contact = converted_to(record)
        record = find_record(api, schema, fields, contact, None) if contact else None
    if record is None:
        return Page("contacts")
    person = person_of(record, mapping)
    if early is None or person.id != record_id:
        early = person_activities(api, schema, person.id)
    return Page("contacts", [person], early)


def person_activities(api: SalesforceApi, schema: Schema, person: str) -> list[Activity]:
    """Everything a Lead or Contact did that the streams read, its queries side by side."""
    who = soql_id(person)
    is_contact = sobject_of(person) == "Contact"
    asks = [
        ("CampaignMember", MEMBER_FIELDS, members,
         [f"{'ContactId' if is_contact else 'LeadId'} = {who}"]),
        ("Task", TASK_FIELDS, tasks, [f"WhoId = {who}"]),
        ("Event", EVENT_FIELDS, events, [f"WhoId = {who}"]),
    ]  # fmt: skip
    if is_contact:
        asks.append(("OpportunityContactRole", ROLE_FIELDS, purchases,
                     [f"ContactId = {who}", "Opportunity.IsWon = true"]))  # fmt: skip

    def read(sobject: str, wanted: Sequence[str], to_activities: ToActivities,
             where: list[str]) -> list[Activity]:  # fmt: skip
        present = schema.present(sobject, wanted)
        soql = select(sobject, present, where)
        return [a for records in walk(api, f"{sobject.lower()}.fetch", soql)
                for r in records for a in to_activities(r)]  # fmt: skip

    reads = [functools.partial(read, *ask) for ask in asks if schema.fields(ask[0]) is not None]
    return [a for found in side_by_side(reads, QUERIES_AT_ONCE) for a in found]
