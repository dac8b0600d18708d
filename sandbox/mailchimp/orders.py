"""The store's orders: one paid order per purchase of a Mailchimp member."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sandbox.mailchimp.campaigns import Campaign
from sandbox.mailchimp.projection import MemberEvent, WorldIndex, world_event
from sandbox.mailchimp.values import subscriber_hash
from scoring.records import TYPE_CODES, ActivityType


@dataclass(frozen=True)
class Order:
    id: str
    row: int
    amount: float
    at: float
    campaign: str


def customer_id(email: str) -> str:
    return f"cust_{subscriber_hash(email)[:12]}"


def world_orders(index: WorldIndex | None, campaigns: list[Campaign]) -> list[Order]:
    """One order per purchase of a Mailchimp member, in time order."""
    if index is None:
        return []
    kinds = index.column(index.world.events.type)
    positions = np.flatnonzero(kinds == TYPE_CODES[ActivityType.PURCHASE])
    events, rows = index.events[positions], index.rows[positions]
    order = np.lexsort((rows, index.world.events.at[events]))
    return [
        order_of(int(rows[i]), world_event(index.world, int(events[i])), campaigns, n)
        for n, i in enumerate(order)
    ]


def order_of(row: int, event: MemberEvent, campaigns: list[Campaign], number: int) -> Order:
    campaign = campaigns[event.campaign].id if 0 <= event.campaign < len(campaigns) else ""
    return Order(f"order_{number + 1}", row, event.amount, event.at, campaign)
