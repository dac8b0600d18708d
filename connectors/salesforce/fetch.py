"""One person fetched whole for a trigger or a trial: the Lead or Contact, and its activity.

By id (a Lead's 00Q or a Contact's 003) or by email (a Contact first, then a
Lead not converted, newest first). A converted Lead gives its Contact. Every
value reaches SOQL as an escaped literal (`soql.soql_quote`) or a checked id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from connectors.attributes import AttributeMap
from connectors.protocol import Page
from connectors.salesforce.client import SalesforceApi
from connectors.salesforce.describe import Schema
from connectors.salesforce.pull import (
    EVENT_FIELDS,
    MEMBER_FIELDS,
    PEOPLE_FIELDS,
    ROLE_FIELDS,
    TASK_FIELDS,
    events,
    members,
    purchases,
    tasks,
    walk,
)
from connectors.salesforce.records import converted_to, is_converted, person_of, sobject_of
from connectors.salesforce.soql import is_record_id, select, soql_id, soql_quote
from scoring.records import Activity


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
    record = find_record(api, schema, fields, record_id, email)
    if record is not None and is_converted(record):
        contact = converted_to(record)
        record = find_record(api, schema, fields, contact, None) if contact else None
    if record is None:
        return Page("contacts")
    person = person_of(record, mapping)
    return Page("contacts", [person], person_activities(api, schema, person.id))


def person_activities(api: SalesforceApi, schema: Schema, person: str) -> list[Activity]:
    """Everything a Lead or Contact did that the streams read."""
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
    found: list[Activity] = []
    for sobject, wanted, to_activities, where in asks:
        if schema.fields(sobject) is None:
            continue
        present = schema.present(sobject, wanted)
        for records in walk(api, f"{sobject.lower()}.fetch", select(sobject, present, where)):
            found += [a for r in records for a in to_activities(r)]
    return found
