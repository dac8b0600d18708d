"""Deals and engagements (meetings, calls, emails), each associated with one contact."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from sandbox.hubspot.errors import HubSpotError
from sandbox.hubspot.pipelines import CUSTOM_PIPELINE, DEFAULT_PIPELINE, QUOTE_STAGE, WON_STAGE
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
            "hs_is_closed_won",
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
MEETING_OUTCOMES = ("SCHEDULED", "COMPLETED", "RESCHEDULED", "NO_SHOW", "CANCELED")
"""`hs_meeting_outcome`'s internal values (HubSpot's meetings guide)."""
CALL_OUTCOME_IDS = {
    "Busy": "9d9162e7-6cf3-4944-bf63-4dff82258764",
    "Connected": "f240bbac-87c9-4f6e-bf70-924b57d47db7",
    "Left live message": "a4c4c377-d246-4b32-a13b-75a56a4cd0ff",
    "Left voicemail": "b2cf5968-551e-4856-9783-52b3da59a7d0",
    "No answer": "73a0d17f-1163-4015-bdd5-ec830791da20",
    "Wrong number": "17b47fee-58de-441e-a44c-c6300d46f273",
}
"""A portal's default call outcomes: `hs_call_disposition` holds the id, not the label."""
CALL_STATUSES = {"Busy": "BUSY", "No answer": "NO_ANSWER"}
"""`hs_call_status` of a call whose outcome says it never connected; COMPLETED otherwise."""


def meeting_outcome(item_id: int) -> str:
    """Most meetings of the world were held; one in twenty each a no-show, canceled, moved."""
    return {0: "NO_SHOW", 1: "CANCELED", 2: "RESCHEDULED"}.get(item_id % 20, "COMPLETED")


def call_disposition(item_id: int) -> str:
    """Calls connect about half the time; the rest spread over the other outcomes."""
    labels = list(CALL_OUTCOME_IDS)
    label = "Connected" if item_id % 2 else labels[(item_id // 2) % len(labels)]
    return label


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
    """Deals only: the quote stage of its pipeline while open, its won stage once bought."""
    closed: float = math.nan
    pipeline: str = DEFAULT_PIPELINE
    start: float = math.nan
    """Meetings only: when it starts (`hs_meeting_start_time`); the creation time if NaN."""
    outcome: str = ""
    """Meetings: `hs_meeting_outcome`; calls: the label of `hs_call_disposition`."""
    currency: str = "USD"
    """Deals: `deal_currency_code`, one of the portal's currencies (USD, its company currency)."""
    archived_at: float = math.nan
    """When it was archived (moved to the recycling bin; epoch ms); NaN while live."""

    @property
    def archived(self) -> bool:
        return not math.isnan(self.archived_at)


class CrmObjects:
    """The portal's deals and engagements by object type, and each contact's of them."""

    def __init__(self) -> None:
        self.by_type: dict[str, list[CrmObject]] = {kind: [] for kind in OBJECT_TYPES}
        self.links: dict[int, dict[str, list[int]]] = {}
        """Contact id -> object type -> ids of the objects associated with the contact."""
        self.version = 0
        """Moves on every change, so a search's table of the objects is rebuilt only then."""

    def get(self, kind: str, key: str, *, archived: bool = False) -> CrmObject | None:
        """The object of `key`, if live (`archived`: if archived)."""
        objects = self.by_type[kind]
        found = objects[int(key) - 1] if key.isdigit() and 0 < int(key) <= len(objects) else None
        return found if found is not None and found.archived == archived else None

    def archive(self, kind: str, key: str, at: float) -> None:
        """Move a live object to the recycling bin at `at` (epoch ms): gone from lists,
        reads and searches, answered only with `archived=true` (`object_routes`)."""
        item = self.get(kind, key)
        if item is None:
            raise KeyError(f"no live {kind[:-1]} {key} in the HubSpot sandbox")
        item.archived_at = at
        self.version += 1

    def linked(self, contact: int, kind: str) -> list[int]:
        return self.links.get(contact, {}).get(kind, [])

    def add(self, kind: str, item: CrmObject) -> None:
        """Keep a new object under the next id of its type."""
        objects = self.by_type[kind]
        item.id = len(objects) + 1
        if kind == "meetings" and not item.outcome:
            item.outcome = meeting_outcome(item.id)
        if kind == "calls" and not item.outcome:
            item.outcome = call_disposition(item.id)
        objects.append(item)
        self.links.setdefault(item.contact, {}).setdefault(kind, []).append(item.id)
        self.version += 1

    def record_sale(
        self,
        row: int,
        activity: ActivityType,
        at: float,
        amount: float,
        booked: float | None = None,
    ) -> None:
        """What one of SALES_ACTIVITY of the contact at `row` becomes.

        A meeting whose start `at` is after `booked` (when it was booked) is
        created then, with the outcome SCHEDULED: a booking, not a meeting held.
        """
        contact = row + 1
        pipeline = CUSTOM_PIPELINE if contact % 3 == 0 else DEFAULT_PIPELINE
        if activity is ActivityType.MEETING:
            if booked is not None and at > booked:
                meeting = CrmObject(0, contact, booked, booked, start=at, outcome="SCHEDULED")
            else:
                meeting = CrmObject(0, contact, at, at, start=at)
            self.add("meetings", meeting)
        elif activity is ActivityType.SALES_TOUCH:
            self.add("calls", CrmObject(0, contact, at, at))
        elif activity is ActivityType.QUOTE_SENT:
            self.add("emails", CrmObject(0, contact, at, at))
            deal = CrmObject(0, contact, at, at, amount, QUOTE_STAGE[pipeline], pipeline=pipeline)
            self.add("deals", deal)
        else:
            self.close_deal(contact, at, amount, pipeline)

    def change(self, kind: str, key: str, at: float, **values: object) -> None:
        """Set fields of one object (a meeting's outcome, a deal's stage) as of `at`."""
        item = self.get(kind, key)
        if item is None:
            raise KeyError(f"no {kind[:-1]} {key} in the HubSpot sandbox")
        for name, value in values.items():
            setattr(item, name, value)
        item.updated = max(item.updated, at)
        self.version += 1

    def close_deal(self, contact: int, at: float, amount: float, pipeline: str) -> None:
        """Win the contact's first open deal, or a new deal if none is open."""
        deals = self.by_type["deals"]
        self.version += 1
        for deal_id in self.linked(contact, "deals"):
            deal = deals[deal_id - 1]
            won = WON_STAGE[deal.pipeline]
            if deal.stage != won:
                deal.stage, deal.closed, deal.updated = won, at, max(deal.updated, at)
                deal.amount = amount if math.isfinite(amount) else deal.amount
                return
        deal = CrmObject(0, contact, at, at, amount, WON_STAGE[pipeline], at, pipeline=pipeline)
        self.add("deals", deal)
