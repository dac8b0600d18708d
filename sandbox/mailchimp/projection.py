"""The world seen from Mailchimp: each member's visible events and initial status."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from sandbox.values import last_per_row
from sandbox.world.tables import MAILCHIMP, World
from scoring.records import ACTIVITY_TYPES, TYPE_CODES, ActivityType

PENDING_WINDOW = 86_400.0
STATUSES = ("subscribed", "unsubscribed", "cleaned", "pending", "transactional")

# How each canonical activity type appears in Mailchimp; other types are invisible to it.
ACTIONS: Mapping[ActivityType, str] = {
    ActivityType.EMAIL_SENT: "sent",
    ActivityType.EMAIL_OPEN: "open",
    ActivityType.EMAIL_CLICK: "click",
    ActivityType.EMAIL_BOUNCE: "bounce",
    ActivityType.EMAIL_UNSUBSCRIBE: "unsub",
    ActivityType.EMAIL_SPAM_REPORT: "abuse",
    ActivityType.NEWSLETTER_SIGNUP: "signup",
    ActivityType.PURCHASE: "order",
}
EMAIL_KINDS = (
    ActivityType.EMAIL_SENT,
    ActivityType.EMAIL_OPEN,
    ActivityType.EMAIL_CLICK,
    ActivityType.EMAIL_BOUNCE,
    ActivityType.EMAIL_UNSUBSCRIBE,
    ActivityType.EMAIL_SPAM_REPORT,
)
EMAIL_ACTIONS = frozenset({"sent", "open", "click", "bounce", "unsub", "abuse"})
TAG_OF_ACTION = {"signup": "newsletter", "order": "customer"}


@dataclass(frozen=True)
class MemberEvent:
    """One thing Mailchimp saw a member do: sent, open, click, bounce, unsub, abuse, ..."""

    action: str
    at: float
    campaign: int = -1
    url: str = ""
    amount: float = 0.0
    bounce: str = "hard"
    """A bounce's type, "hard" or "soft" (the world's bounces are all hard)."""


@dataclass
class WorldIndex:
    """The Mailchimp-visible events of a world, grouped by member row, in time order per row."""

    world: World
    persons: npt.NDArray[np.intp]
    events: npt.NDArray[np.intp]
    rows: npt.NDArray[np.intp]
    starts: npt.NDArray[np.intp]
    ends: npt.NDArray[np.intp]

    def column(self, values: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """A world event column restricted to the indexed events."""
        return values[self.events]


def index_world(world: World) -> WorldIndex:
    persons = world.people.in_system(MAILCHIMP)
    row_of = np.full(len(world.people), -1, dtype=np.intp)
    row_of[persons] = np.arange(len(persons))
    rows = row_of[world.events.person]
    visible = np.flatnonzero(np.isin(world.events.type, type_codes_of(ACTIONS)) & (rows >= 0))
    order = np.argsort(rows[visible], kind="stable")
    events, grouped = visible[order], rows[visible][order]
    targets = np.arange(len(persons))
    starts = np.searchsorted(grouped, targets, side="left").astype(np.intp)
    ends = np.searchsorted(grouped, targets, side="right").astype(np.intp)
    return WorldIndex(world, persons, events, grouped, starts, ends)


def type_codes_of(kinds: Iterable[ActivityType]) -> list[int]:
    return [TYPE_CODES[kind] for kind in kinds]


def world_action(world: World, event: int) -> str:
    return ACTIONS[ACTIVITY_TYPES[int(world.events.type[event])]]


def initial_status(index: WorldIndex) -> npt.NDArray[np.int8]:
    """Each world member's status, from its last unsubscribe, spam report, bounce or signup."""
    status = np.zeros(len(index.persons), dtype=np.int8)
    kinds = index.column(index.world.events.type)
    decided = {
        ActivityType.EMAIL_UNSUBSCRIBE: "unsubscribed",
        ActivityType.EMAIL_SPAM_REPORT: "unsubscribed",
        ActivityType.EMAIL_BOUNCE: "cleaned",
        ActivityType.NEWSLETTER_SIGNUP: "subscribed",
    }
    lookup = np.zeros(len(ACTIVITY_TYPES), dtype=np.int8)
    for kind, name in decided.items():
        lookup[TYPE_CODES[kind]] = STATUSES.index(name)
    deciding = np.flatnonzero(np.isin(kinds, type_codes_of(decided)))
    rows, last = last_per_row(index.rows[deciding])
    positions = deciding[last]
    found = lookup[kinds[positions]]
    at = index.column(index.world.events.at)[positions]
    recent = index.world.now - PENDING_WINDOW
    signup = kinds[positions] == TYPE_CODES[ActivityType.NEWSLETTER_SIGNUP]
    found[signup & (at > recent)] = STATUSES.index("pending")
    status[rows] = found
    return status


def initial_changed(index: WorldIndex) -> npt.NDArray[np.float64]:
    """Each world member's last change: its creation or its latest Mailchimp event."""
    changed = index.world.people.created_at[index.persons].astype(np.float64)
    np.maximum.at(changed, index.rows, index.column(index.world.events.at))
    return changed


def world_event(world: World, event: int) -> MemberEvent:
    url, amount = int(world.events.url[event]), float(world.events.amount[event])
    return MemberEvent(
        world_action(world, event),
        float(world.events.at[event]),
        int(world.events.campaign[event]),
        str(world.urls[url]) if url >= 0 else "",
        0.0 if np.isnan(amount) else amount,
    )
