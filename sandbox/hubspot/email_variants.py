"""What HubSpot's email events say beyond their type, and the events the world does not make.

A BOUNCE carries one of HubSpot's bounce categories, an OPEN or CLICK whether HubSpot
filtered it as a machine's, a STATUSCHANGE whether it unsubscribed from the whole portal or
from one subscription type, a DROPPED its reason. The world logs sends, opens, clicks,
bounces and unsubscribes only; PROCESSED, DEFERRED and DROPPED events and status changes of
one subscription are derived here from them, deterministically.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sandbox.world.tables import Floats, Ints

BOUNCE_CATEGORIES: tuple[tuple[str, str, str], ...] = (
    (
        "UNKNOWN_USER",
        "5.1.1",
        "550 5.1.1 The email account that you tried to reach does not exist.",
    ),
    ("MAILBOX_FULL", "4.2.2", "452 4.2.2 The email account that you tried to reach is over quota."),
    ("POLICY", "5.7.1", "550 5.7.1 Message rejected by the recipient's security policy."),
    ("SPAM", "5.7.1", "550 5.7.1 Message rejected as spam by content filtering."),
    ("CONTENT", "5.7.0", "554 5.7.0 Message content rejected."),
    ("TIMEOUT", "4.4.7", "421 4.4.7 Delivery time expired."),
    ("THROTTLED", "4.7.0", "421 4.7.0 Too many messages from this sender; try again later."),
    ("DNS_FAILURE", "5.1.2", "550 5.1.2 The recipient's domain does not exist."),
)
"""(category, status, response): a sample of HubSpot's documented bounce categories."""
BOUNCE_CYCLE = (0, 0, 0, 1, 0, 2, 1, 3, 0, 4, 5, 0, 6, 7)
"""Categories given to the world's bounces in turn: mostly unknown users, some of the rest."""
FILTERED_WITHIN_MS = 10_000
"""An open or click this soon after its send is one HubSpot flags `filteredEvent: true`."""
FILTERED = 1
"""Variant of an OPEN or CLICK that HubSpot filtered whatever its time."""
SUBSCRIPTION_ONLY = 1
"""Variant of a STATUSCHANGE that unsubscribes from one subscription type only."""
DROP_REASONS = ("PREVIOUSLY_BOUNCED", "PREVIOUSLY_UNSUBSCRIBED_PORTAL")
PROCESSED_EVERY, DEFERRED_EVERY, PREFERENCES_EVERY = 10, 40, 25
"""Every n-th send is logged PROCESSED, every n-th delivered one DEFERRED first; every n-th
open is followed by an unsubscribe from one subscription type."""
PROCESSED_BEFORE_MS, DEFERRED_AFTER_MS, PREFERENCES_AFTER_MS = 1_000, 1_000, 60_000
DROP_AFTER_MS = 7 * 86_400_000
"""A bounced address's next campaign, a week later, is dropped."""


@dataclass(frozen=True)
class Extra:
    """Events to add to the log, one column each."""

    contact: Ints
    kind: Ints
    at: Floats
    campaign: Ints
    variant: Ints


def every(mask: np.ndarray, n: int) -> np.ndarray:
    """Positions of every n-th True of `mask` (the first, the n+1-th, ...)."""
    positions = np.flatnonzero(mask)
    return positions[::n]


def extra_events(
    contact: Ints,
    kind: Ints,
    at: Floats,
    campaign: Ints,
    delivered: np.ndarray,
    now_ms: float,
    codes: tuple[int, int, int, int, int, int, int],
) -> Extra:
    """PROCESSED, DEFERRED, DROPPED and subscription-only STATUSCHANGE events for a log.

    `codes` are the positions of SENT, OPEN, BOUNCE, STATUSCHANGE, PROCESSED, DEFERRED and
    DROPPED in the log's event types; `delivered` marks the sends that did not bounce.
    """
    sent, opened, bounced, status, processed, deferred, dropped = codes
    parts: list[tuple[np.ndarray, int, float, int]] = [
        (every(kind == sent, PROCESSED_EVERY), processed, -PROCESSED_BEFORE_MS, 0),
        (every(delivered, DEFERRED_EVERY), deferred, DEFERRED_AFTER_MS, 1),
        (np.flatnonzero(kind == bounced), dropped, DROP_AFTER_MS, 0),
        (every(kind == opened, PREFERENCES_EVERY), status, PREFERENCES_AFTER_MS, SUBSCRIPTION_ONLY),
    ]
    columns: list[list[np.ndarray]] = [[], [], [], [], []]
    for rows, event_type, delay, variant in parts:
        times = at[rows] + delay
        keep = times <= now_ms
        rows, times = rows[keep], times[keep]
        # A drop is of the next campaign; the other events belong to their own.
        shift = 1 if event_type == dropped else 0
        columns[0].append(contact[rows])
        columns[1].append(np.full(len(rows), event_type, dtype=np.int64))
        columns[2].append(times)
        columns[3].append(np.where(campaign[rows] > 0, campaign[rows] + shift, 0))
        columns[4].append(np.full(len(rows), variant, dtype=np.int64))
    contact_, kind_, at_, campaign_, variant_ = (np.concatenate(c) for c in columns)
    return Extra(
        contact_.astype(np.int64),
        kind_.astype(np.int64),
        at_.astype(np.float64),
        campaign_.astype(np.int64),
        variant_.astype(np.int64),
    )


def bounce_variants(count: int) -> Ints:
    """Categories (indices into BOUNCE_CATEGORIES) of `count` bounces in log order."""
    cycle = np.array(BOUNCE_CYCLE, dtype=np.int64)
    return cycle[np.arange(count) % len(cycle)]
