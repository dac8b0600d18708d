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
STATUSES = ("subscribed", "unsubscribed", "cleaned", "pending", "transactional", "archived")
SOFT_BOUNCES_TO_CLEAN = 7
"""Soft bounces after which Mailchimp cleans a member (its help article on bounces)."""
SOFT_BOUNCES_TO_CLEAN_ACTIVE = 15
"""The same for a member with earlier activity (opens or clicks)."""

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
    bounce: str = ""
    """For a bounce, "hard" or "soft"."""


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


def seeded_share(seed: int, keys: npt.NDArray[np.intp], salt: int) -> npt.NDArray[np.float64]:
    """A deterministic number in [0, 1) per key (an event or a row), for seeded shares."""
    mixed = (keys.astype(np.uint64) + np.uint64(salt)) * np.uint64(0x9E3779B97F4A7C15)
    mixed ^= np.uint64(((seed & 0xFFFFFFFF) * 0xBF58476D1CE4E5B9) % (1 << 64))
    mixed ^= mixed >> np.uint64(29)
    mixed *= np.uint64(0x94D049BB133111EB)
    mixed ^= mixed >> np.uint64(32)
    return (mixed % np.uint64(1 << 24)).astype(np.float64) / float(1 << 24)


def soft_bounces(index: WorldIndex, share: float) -> npt.NDArray[np.bool_]:
    """Per indexed event: a bounce that is soft (a seeded `share` of the world's bounces)."""
    kinds = index.column(index.world.events.type)
    bounce = kinds == TYPE_CODES[ActivityType.EMAIL_BOUNCE]
    soft: npt.NDArray[np.bool_] = bounce & (seeded_share(index.world.seed, index.events, 1) < share)
    return soft


def cleaning_soft_bounces(index: WorldIndex, soft: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """Per indexed event: the soft bounce that reaches its member's cleaning threshold."""
    kinds = index.column(index.world.events.type)
    engaged = np.isin(kinds, type_codes_of((ActivityType.EMAIL_OPEN, ActivityType.EMAIL_CLICK)))
    active_rows = np.zeros(len(index.persons), dtype=bool)
    active_rows[index.rows[engaged]] = True
    positions = np.flatnonzero(soft)
    rows = index.rows[positions]
    first = np.searchsorted(rows, rows, side="left")
    rank = np.arange(len(rows)) - first + 1
    threshold = np.where(active_rows[rows], SOFT_BOUNCES_TO_CLEAN_ACTIVE, SOFT_BOUNCES_TO_CLEAN)
    cleaning = np.zeros(len(index.events), dtype=bool)
    cleaning[positions[rank == threshold]] = True
    return cleaning


def deciding_events(index: WorldIndex, soft: npt.NDArray[np.bool_]) -> npt.NDArray[np.intp]:
    """Positions of the events that set a status: signups, unsubscribes, spam reports, hard
    bounces and the soft bounce that reaches the threshold."""
    kinds = index.column(index.world.events.type)
    deciding = np.isin(kinds, type_codes_of(DECIDED)) & ~soft
    return np.flatnonzero(deciding | cleaning_soft_bounces(index, soft))


DECIDED = {
    ActivityType.EMAIL_UNSUBSCRIBE: "unsubscribed",
    ActivityType.EMAIL_SPAM_REPORT: "unsubscribed",
    ActivityType.EMAIL_BOUNCE: "cleaned",
    ActivityType.NEWSLETTER_SIGNUP: "subscribed",
}


def initial_status(
    index: WorldIndex, soft: npt.NDArray[np.bool_], shares: tuple[float, float] = (0.0, 0.0)
) -> npt.NDArray[np.int8]:
    """Each world member's status, from its last unsubscribe, spam report, bounce or signup.

    Members with none of those are subscribed, but for seeded `shares` of them
    (transactional, archived), who are contacts that never opted in and contacts
    the account archived.
    """
    status = np.zeros(len(index.persons), dtype=np.int8)
    draw = seeded_share(index.world.seed, np.arange(len(index.persons)), 2)
    status[draw < shares[0]] = STATUSES.index("transactional")
    status[(draw >= shares[0]) & (draw < shares[0] + shares[1])] = STATUSES.index("archived")
    kinds = index.column(index.world.events.type)
    lookup = np.zeros(len(ACTIVITY_TYPES), dtype=np.int8)
    for kind, name in DECIDED.items():
        lookup[TYPE_CODES[kind]] = STATUSES.index(name)
    deciding = deciding_events(index, soft)
    rows, last = last_per_row(index.rows[deciding])
    positions = deciding[last]
    found = lookup[kinds[positions]]
    at = index.column(index.world.events.at)[positions]
    recent = index.world.now - PENDING_WINDOW
    signup = kinds[positions] == TYPE_CODES[ActivityType.NEWSLETTER_SIGNUP]
    found[signup & (at > recent)] = STATUSES.index("pending")
    status[rows] = found
    return status


def initial_changed(index: WorldIndex, soft: npt.NDArray[np.bool_]) -> npt.NDArray[np.float64]:
    """Each world member's last change of its own data: its creation, a status change or a
    tag (signup, purchase). Sends, opens, clicks and soft bounces that do not clean it are
    activity, not changes."""
    changed = index.world.people.created_at[index.persons].astype(np.float64)
    kinds = index.column(index.world.events.type)
    tagging = np.isin(kinds, type_codes_of((ActivityType.NEWSLETTER_SIGNUP, ActivityType.PURCHASE)))
    changing = np.flatnonzero(tagging)
    changing = np.union1d(changing, deciding_events(index, soft))
    np.maximum.at(changed, index.rows[changing], index.column(index.world.events.at)[changing])
    return changed


def world_events(
    world: World, events: npt.NDArray[np.intp], soft: npt.NDArray[np.bool_]
) -> list[MemberEvent]:
    """`world_event` of each of `events` (with its `soft` flag), read column by column."""
    table = world.events
    urls, amounts = table.url[events].tolist(), table.amount[events].tolist()
    actions = [ACTIONS[ACTIVITY_TYPES[code]] for code in table.type[events].tolist()]
    return [
        MemberEvent(
            action,
            at,
            campaign,
            str(world.urls[url]) if url >= 0 else "",
            0.0 if amount != amount else amount,  # NaN: no amount
            ("soft" if is_soft else "hard") if action == "bounce" else "",
        )
        for action, at, campaign, url, amount, is_soft in zip(
            actions,
            table.at[events].astype(np.float64).tolist(),
            table.campaign[events].astype(np.int64).tolist(),
            urls,
            amounts,
            soft.tolist(),
            strict=True,
        )
    ]


def world_event(world: World, event: int, soft: bool = False) -> MemberEvent:
    url, amount = int(world.events.url[event]), float(world.events.amount[event])
    action = world_action(world, event)
    return MemberEvent(
        action,
        float(world.events.at[event]),
        int(world.events.campaign[event]),
        str(world.urls[url]) if url >= 0 else "",
        0.0 if np.isnan(amount) else amount,
        ("soft" if soft else "hard") if action == "bounce" else "",
    )
