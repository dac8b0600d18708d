"""Deals and engagements (meetings, calls, emails), each associated with one contact."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from sandbox.hubspot.errors import HubSpotError
from scoring.records import ActivityType


@dataclass(frozen=True)
class ObjectType:
    """A CRM object type other than contacts, and how it is associated with contacts."""

    type_id: str
    to_contacts: tuple[str, int]
    """v3 association label and v4 type id from this object to a contact."""
    from_contacts: tuple[str, int]
    defaults: tuple[str, ...]


ENGAGEMENT_DEFAULTS = ("hs_createdate", "hs_lastmodifieddate", "hs_object_id")
OBJECT_TYPES: Mapping[str, ObjectType] = {
    "deals": ObjectType(
        "0-3",
        ("deal_to_contact", 3),
        ("contact_to_deal", 4),
        (
            "amount",
            "closedate",
            "createdate",
            "dealname",
            "dealstage",
            "hs_lastmodifieddate",
            "hs_object_id",
            "pipeline",
        ),
    ),
    "meetings": ObjectType(
        "0-47",
        ("meeting_event_to_contact", 200),
        ("contact_to_meeting_event", 199),
        ENGAGEMENT_DEFAULTS,
    ),
    "calls": ObjectType(
        "0-48", ("call_to_contact", 194), ("contact_to_call", 193), ENGAGEMENT_DEFAULTS
    ),
    "emails": ObjectType(
        "0-49", ("email_to_contact", 198), ("contact_to_email", 197), ENGAGEMENT_DEFAULTS
    ),
}
OBJECT_ALIASES = {
    "0-1": "contacts",
    "contact": "contacts",
    **{kind.type_id: name for name, kind in OBJECT_TYPES.items()},
    **{name[:-1]: name for name in OBJECT_TYPES},
}
"""Other names of the object types in paths: type ids ("0-3") and singular names."""
SALES_ACTIVITY = (
    ActivityType.MEETING,
    ActivityType.SALES_TOUCH,
    ActivityType.QUOTE_SENT,
    ActivityType.PURCHASE,
)
"""The world's activity that becomes deals and engagements."""


def object_type(raw: str) -> str:
    """The object type a path names ("contacts", "deals", ...), or HubSpot's 400."""
    kind = OBJECT_ALIASES.get(raw.lower(), raw.lower())
    if kind != "contacts" and kind not in OBJECT_TYPES:
        raise HubSpotError(400, f"Unable to infer object type from: {raw}")
    return kind


@dataclass(slots=True)
class CrmObject:
    """One deal or engagement (meeting, call, email) and the contact it is associated with.

    Its properties are rendered when it is read (`record_json.object_properties`).
    """

    id: int
    contact: int
    created: float
    updated: float
    amount: float = math.nan
    stage: str = ""
    """Deals only: contractsent while open, closedwon once bought."""
    closed: float = math.nan


class CrmObjects:
    """The portal's deals and engagements by object type, and each contact's of them."""

    def __init__(self) -> None:
        self.by_type: dict[str, list[CrmObject]] = {kind: [] for kind in OBJECT_TYPES}
        self.links: dict[int, dict[str, list[int]]] = {}
        """Contact id -> object type -> ids of the objects associated with the contact."""

    def get(self, kind: str, key: str) -> CrmObject | None:
        objects = self.by_type[kind]
        return objects[int(key) - 1] if key.isdigit() and 0 < int(key) <= len(objects) else None

    def linked(self, contact: int, kind: str) -> list[int]:
        return self.links.get(contact, {}).get(kind, [])

    def add(self, kind: str, item: CrmObject) -> None:
        """Keep a new object under the next id of its type."""
        objects = self.by_type[kind]
        item.id = len(objects) + 1
        objects.append(item)
        self.links.setdefault(item.contact, {}).setdefault(kind, []).append(item.id)

    def record_sale(self, row: int, activity: ActivityType, at: float, amount: float) -> None:
        """What one of SALES_ACTIVITY of the contact at `row` becomes."""
        contact = row + 1
        if activity is ActivityType.MEETING:
            self.add("meetings", CrmObject(0, contact, at, at))
        elif activity is ActivityType.SALES_TOUCH:
            self.add("calls", CrmObject(0, contact, at, at))
        elif activity is ActivityType.QUOTE_SENT:
            self.add("emails", CrmObject(0, contact, at, at))
            self.add("deals", CrmObject(0, contact, at, at, amount, "contractsent"))
        else:
            self.close_deal(contact, at, amount)

    def close_deal(self, contact: int, at: float, amount: float) -> None:
        """Win the contact's first open deal, or a new deal if none is open."""
        deals = self.by_type["deals"]
        for deal_id in self.linked(contact, "deals"):
            deal = deals[deal_id - 1]
            if deal.stage != "closedwon":
                deal.stage, deal.closed, deal.updated = "closedwon", at, max(deal.updated, at)
                deal.amount = amount if math.isfinite(amount) else deal.amount
                return
        self.add("deals", CrmObject(0, contact, at, at, amount, "closedwon", at))
