"""The marketing email events HubSpot logged: projected from the world, appended at runtime."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from sandbox.hubspot.contact_events import ContactEvents
from sandbox.hubspot.email_variants import bounce_variants, extra_events
from sandbox.hubspot.values import Mask
from sandbox.world.tables import Floats, Ints, World
from scoring.records import ACTIVITY_TYPES, TYPE_CODES, ActivityType

EMAIL_EVENT_TYPES = (
    "SENT",
    "DELIVERED",
    "OPEN",
    "CLICK",
    "BOUNCE",
    "STATUSCHANGE",
    "SPAMREPORT",
    "PROCESSED",
    "DEFERRED",
    "DROPPED",
)
SENT_EVENT, DELIVERED_EVENT, OPEN_EVENT, CLICK_EVENT, BOUNCE_EVENT, STATUS_EVENT = range(6)
PROCESSED_EVENT, DEFERRED_EVENT, DROPPED_EVENT = 7, 8, 9
"""Positions in EMAIL_EVENT_TYPES."""
EMAIL_EVENT_OF: Mapping[ActivityType, int] = {
    ActivityType.EMAIL_SENT: SENT_EVENT,
    ActivityType.EMAIL_OPEN: OPEN_EVENT,
    ActivityType.EMAIL_CLICK: CLICK_EVENT,
    ActivityType.EMAIL_BOUNCE: BOUNCE_EVENT,
    ActivityType.EMAIL_UNSUBSCRIBE: STATUS_EVENT,
    ActivityType.EMAIL_SPAM_REPORT: 6,
}
"""The email event type (index into EMAIL_EVENT_TYPES) each kind of world activity is."""
DELIVERY_DELAY_MS = 2_000
"""A send not bounced is DELIVERED this long after it is SENT."""


@dataclass
class EmailLog:
    """Marketing email events, one position each, in the order they are served."""

    contact: Ints
    kind: Ints
    """Index into EMAIL_EVENT_TYPES."""
    at: Floats
    campaign: Ints
    """emailCampaignId, 0 when the event belongs to no campaign."""
    url: Ints
    """Index into the sandbox's urls, -1 when none."""
    variant: Ints
    """What only events of one type say (see `email_variants`): a bounce's category, whether
    an open or click was filtered, a status change's scope, a drop's reason."""
    sent: Ints = field(init=False)
    """Position of the SENT event each event belongs to, -1 when unknown."""

    _pending: list[tuple[int, int, float, int, int, int]] = field(
        init=False, repr=False, default_factory=list
    )

    def __post_init__(self) -> None:
        self.sent = link_sends(self)

    def __len__(self) -> int:
        return len(self.contact)

    def append(
        self, contact: int, kind: int, at: float, campaign: int, url: int, variant: int = 0
    ) -> None:
        """Add an event at the end; it is served after the next `flush`."""
        self._pending.append((contact, kind, at, campaign, url, variant))

    def add_activity(
        self,
        contact: int,
        activity: ActivityType,
        at: float,
        campaign: int,
        url: int,
        variant: int = 0,
    ) -> None:
        """Log what new activity of a contact shows as email events (a send: also delivered).

        `campaign` is the emailCampaignId (0 for none); other activity logs nothing.
        """
        event_type = EMAIL_EVENT_OF.get(activity)
        if event_type is None:
            return
        self.append(contact, event_type, at, campaign, url, variant)
        if event_type == SENT_EVENT:
            self.append(contact, DELIVERED_EVENT, at + DELIVERY_DELAY_MS, campaign, -1)

    def flush(self) -> None:
        """Merge the added events and link every event to its send again (one pass)."""
        if not self._pending:
            return
        contact, kind, at, campaign, url, variant = (
            np.array(column) for column in zip(*self._pending, strict=True)
        )
        self._pending.clear()
        self.contact = np.concatenate([self.contact, contact.astype(np.int64)])
        self.kind = np.concatenate([self.kind, kind.astype(np.int64)])
        self.at = np.concatenate([self.at, at.astype(np.float64)])
        self.campaign = np.concatenate([self.campaign, campaign.astype(np.int64)])
        self.url = np.concatenate([self.url, url.astype(np.int64)])
        self.variant = np.concatenate([self.variant, variant.astype(np.int64)])
        self.sent = link_sends(self)


def link_sends(log: EmailLog) -> Ints:
    """For each event, the latest SENT of the same contact and campaign at or before it."""
    if not len(log):
        return np.zeros(0, dtype=np.int64)
    key = log.contact * (int(log.campaign.max()) + 2) + log.campaign
    order = np.lexsort((log.kind != SENT_EVENT, log.at, key))
    sends = np.where(log.kind[order] == SENT_EVENT, np.arange(len(order)), -1)
    latest = np.maximum.accumulate(sends)
    anchor = order[np.maximum(latest, 0)]
    linked = np.where((latest >= 0) & (key[anchor] == key[order]), anchor, -1)
    out = np.empty(len(order), dtype=np.int64)
    out[order] = linked
    return out


def project_email_log(world: World, events: ContactEvents) -> EmailLog:
    """The email events of the contacts' visible activity: a DELIVERED for each send not
    bounced, the categories of bounces, and the events HubSpot logs besides (`email_variants`)."""
    lookup = np.full(len(ACTIVITY_TYPES), -1, dtype=np.int64)
    for activity_type, event_type in EMAIL_EVENT_OF.items():
        lookup[TYPE_CODES[activity_type]] = event_type
    mask = lookup[events.code] >= 0
    index = events.index[mask]
    contact = events.row[mask].astype(np.int64) + 1
    kind = lookup[events.code[mask]]
    at = events.at[mask]
    campaign = world.events.campaign[index].astype(np.int64) + 1
    url = world.events.url[index].astype(np.int64)
    delivered = delivered_sends(contact, kind, campaign)
    codes = (SENT_EVENT, OPEN_EVENT, BOUNCE_EVENT, STATUS_EVENT)
    extra = extra_events(
        contact,
        kind,
        at,
        campaign,
        delivered,
        world.now * 1000.0,
        (*codes, PROCESSED_EVENT, DEFERRED_EVENT, DROPPED_EVENT),
    )
    count = int(delivered.sum())
    variant = np.zeros(len(kind), dtype=np.int64)
    variant[kind == BOUNCE_EVENT] = bounce_variants(int((kind == BOUNCE_EVENT).sum()))
    columns = (
        np.concatenate([contact, contact[delivered], extra.contact]),
        np.concatenate([kind, np.full(count, DELIVERED_EVENT), extra.kind]),
        np.concatenate([at, at[delivered] + DELIVERY_DELAY_MS, extra.at]),
        np.concatenate([campaign, campaign[delivered], extra.campaign]),
        np.concatenate([url, np.full(count, -1), np.full(len(extra.kind), -1)]),
        np.concatenate([variant, np.zeros(count, dtype=np.int64), extra.variant]),
    )
    order = np.argsort(columns[2], kind="stable")
    return EmailLog(*(column[order] for column in columns))


def delivered_sends(contact: Ints, kind: Ints, campaign: Ints) -> Mask:
    """Sends that did not bounce (no bounce of the same contact and campaign)."""
    key = contact * (int(campaign.max(initial=0)) + 2) + campaign
    sends: Mask = np.equal(kind, SENT_EVENT)
    return sends & ~np.isin(key, key[kind == BOUNCE_EVENT])
