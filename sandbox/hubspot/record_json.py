"""CRM records as the v3 objects API returns them: contacts, deals and engagements."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from sandbox.hubspot.arguments import unique
from sandbox.hubspot.contact_table import ContactTable
from sandbox.hubspot.crm_objects import (
    CALL_OUTCOME_IDS,
    CALL_STATUSES,
    OBJECT_ALIASES,
    OBJECT_TYPES,
    CrmObject,
    CrmObjects,
)
from sandbox.hubspot.pipelines import closed_won
from sandbox.hubspot.properties import ALWAYS_RETURNED
from sandbox.hubspot.values import Json, iso_millis, property_text


def contact_json(
    contacts: ContactTable,
    objects: CrmObjects,
    row: int,
    names: Iterable[str],
    links: Sequence[str] = (),
) -> Json:
    """A contact with the properties asked for (and the always returned ones) and associations."""
    wanted = unique([*names, *ALWAYS_RETURNED])
    body: Json = {
        "id": str(row + 1),
        "properties": {name: contacts.value(name, row) for name in wanted if name in contacts.defs},
        "createdAt": iso_millis(float(contacts.floats("createdate")[row])),
        "updatedAt": iso_millis(float(contacts.floats("lastmodifieddate")[row])),
        "archived": False,
    }
    associations = contact_associations(objects, row + 1, links)
    if associations:
        body["associations"] = associations
    return body


def contact_associations(objects: CrmObjects, contact: int, links: Sequence[str]) -> Json:
    """v3 `associations`: the contact's objects of each type asked for that it has."""
    out: Json = {}
    for requested in links:
        kind = OBJECT_ALIASES.get(requested, requested)
        if kind in OBJECT_TYPES and objects.linked(contact, kind):
            label = OBJECT_TYPES[kind].from_contacts[0]
            ids = objects.linked(contact, kind)
            out[requested] = {"results": [{"id": str(i), "type": label} for i in ids]}
    return out


def object_json(
    contacts: ContactTable, kind: str, item: CrmObject, names: Sequence[str], links: Sequence[str]
) -> Json:
    """A deal or engagement with the properties asked for and, if asked, its contact."""
    properties = object_properties(contacts, kind, item)
    body: Json = {
        "id": str(item.id),
        "properties": {name: properties.get(name) for name in names},
        "createdAt": iso_millis(item.created),
        "updatedAt": iso_millis(item.updated),
        "archived": item.archived,
    }
    if item.archived:
        body["archivedAt"] = iso_millis(item.archived_at)
    wanted = [link for link in links if OBJECT_ALIASES.get(link, link) == "contacts"]
    if wanted:
        label = OBJECT_TYPES[kind].to_contacts[0]
        results = [{"id": str(item.contact), "type": label}]
        body["associations"] = {wanted[0]: {"results": results}}
    return body


def object_properties(contacts: ContactTable, kind: str, item: CrmObject) -> dict[str, str | None]:
    """An object's properties as HubSpot returns them, with today's contact names."""
    row = item.contact - 1

    def text(name: str) -> str:
        return contacts.value(name, row) or ""

    common: dict[str, str | None] = {
        "hs_object_id": str(item.id),
        "hs_lastmodifieddate": iso_millis(item.updated),
    }
    if kind == "deals":
        amount = property_text("number", item.amount) if math.isfinite(item.amount) else None
        return common | {
            "createdate": iso_millis(item.created),
            "dealname": f"{text('company') or text('lastname')} - {item.id}",
            "pipeline": item.pipeline,
            "dealstage": item.stage,
            "hs_is_closed_won": "true" if closed_won(item.stage) else "false",
            "amount": amount,
            "deal_currency_code": item.currency,
            "closedate": iso_millis(item.closed) if math.isfinite(item.closed) else None,
        }
    who = " ".join(v for v in (text("firstname"), text("lastname")) if v)
    # A meeting's hs_timestamp defaults to its start time (HubSpot changelog, Nov 2024).
    start = item.start if math.isfinite(item.start) else item.created
    common |= {"hs_createdate": iso_millis(item.created), "hs_timestamp": iso_millis(start)}
    if kind == "meetings":
        return common | {
            "hs_meeting_title": f"Meeting with {who}",
            "hs_meeting_start_time": iso_millis(start),
            "hs_meeting_end_time": iso_millis(start + 30 * 60_000),
            "hs_meeting_outcome": item.outcome or "COMPLETED",
        }
    if kind == "calls":
        connected = item.outcome in ("Connected", "Left live message")
        return common | {
            "hs_call_title": f"Call with {who}",
            "hs_call_direction": "OUTBOUND",
            "hs_call_status": CALL_STATUSES.get(item.outcome, "COMPLETED"),
            "hs_call_disposition": CALL_OUTCOME_IDS.get(item.outcome),
            "hs_call_duration": "600000" if connected else "30000",
        }
    return common | {
        "hs_email_subject": f"Your quote, {who}",
        "hs_email_direction": "EMAIL",
        "hs_email_status": "SENT",
    }
