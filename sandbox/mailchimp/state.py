"""What the Mailchimp sandbox holds: the projected world, its changes and batches, its time."""

from __future__ import annotations

import threading
import time
from collections import defaultdict

from sandbox.clock import SandboxClock
from sandbox.faults import FaultPlan, Latency
from sandbox.http import Emulator, Request
from sandbox.mailchimp.arguments import path_param
from sandbox.mailchimp.audience import Audience
from sandbox.mailchimp.batches import Batch
from sandbox.mailchimp.campaigns import (
    Campaign,
    all_world_recipients,
    project_campaigns,
    world_recipients,
)
from sandbox.mailchimp.orders import Order, world_orders
from sandbox.mailchimp.problems import not_found
from sandbox.mailchimp.projection import MemberEvent
from sandbox.mailchimp.segments import world_tag_counts
from sandbox.mailchimp.values import short_id
from sandbox.world.tables import World

REQUEST_TIME_LIMIT = 120.0
"""Vendor seconds Mailchimp serves one request at most; a slower one ends unanswered."""
BATCH_START_DELAY = 2.0
"""Vendor seconds before a batch starts (Mailchimp queues batches; none is documented)."""
BATCH_PACE = 1000.0
"""Operations a batch runs per vendor second (an assumption: Mailchimp documents none)."""


class MailchimpState(Emulator):
    """The sandbox's data over one projected world, and the lookups its handlers share."""

    def __init__(
        self,
        world: World | None = None,
        *,
        api_key: str = "sandbox-key-us1",
        faults: FaultPlan | None = None,
        latency: Latency | None = None,
        clock: SandboxClock | None = None,
        max_connections: int = 10,
        soft_bounce_share: float = 0.3,
        transactional_share: float = 0.02,
        archived_share: float = 0.02,
    ) -> None:
        super().__init__(faults=faults, latency=latency, clock=clock)
        # "Requests to the Marketing API time out at 120 seconds" (the batch guide,
        # https://mailchimp.com/developer/marketing/guides/run-async-requests-batch-endpoint/)
        self.request_limit = REQUEST_TIME_LIMIT
        self.world = world
        self.api_key = api_key
        self.data_center = api_key.rsplit("-", 1)[1] if "-" in api_key else ""
        self.max_connections = max_connections
        self.soft_bounce_share = soft_bounce_share
        """The seeded share of the world's bounces that are soft (the rest are hard)."""
        self.status_shares = (transactional_share, archived_share)
        """Seeded shares of the members without a status event that are transactional and
        archived."""
        self.peak_connections = 0
        """The most simultaneous connections one key held since the start or `reset`."""
        self.epoch = world.now if world is not None else float(int(time.time()))
        self.list_id = short_id("audience", world.seed if world is not None else 0)
        self.batch_start_delay = BATCH_START_DELAY
        """Vendor seconds a batch waits (pending) before its first operation runs."""
        self.batch_pace = BATCH_PACE
        """Operations a batch runs per vendor second once started."""
        self.advancing = False
        self.in_flight: defaultdict[str | None, int] = defaultdict(int)
        self._local = threading.local()
        self.project_world()
        self.add_routes()

    def project_world(self) -> None:
        """Project the world afresh: its members, campaigns and orders, with no change or batch."""
        self.audience = Audience(
            self.world, self.list_id, self.soft_bounce_share, self.status_shares
        )
        self.audience.world_tag_counts = world_tag_counts(self.audience.index)
        self.peak_connections = 0
        self.campaigns = project_campaigns(self.world, self.audience.index, self.audience.soft)
        self.campaigns_by_id = {c.id: c for c in self.campaigns}
        self.orders: list[Order] = []
        self.orders_by_row: defaultdict[int, list[Order]] = defaultdict(list)
        for order in world_orders(self.audience.index, self.campaigns):
            self.keep_order(order)
        self.batches: dict[str, Batch] = {}
        self.events_by_campaign: dict[int, dict[int, list[MemberEvent]]] | None = None
        """Per campaign, each recipient row's events of it (built on first use, in one pass
        over the members; dropped when activity is recorded)."""
        self.departures: dict[tuple[int, str], tuple[object, list[tuple[int, float]]]] = {}
        """Per (campaign number, "unsub" or "abuse"), the events they were read from and
        (recipient row, time) of each, in time order (`ReportRoutes._departures`)."""

    def now(self) -> float:
        """Sandbox time: the world's "now" plus the clock's vendor seconds, to the second."""
        return float(int(self.epoch + self.clock.now()))

    # -- lookups shared by the route handlers -----------------------------------------------

    def _check_list(self, request: Request) -> None:
        if path_param(request, "list_id") != self.list_id:
            raise not_found()

    def _row(self, request: Request) -> int:
        self._check_list(request)
        row = self.audience.row_of(path_param(request, "subscriber_hash"))
        if row is None:
            raise not_found()
        return row

    def recipients(self, campaign: Campaign) -> list[int]:
        """The campaign's recipient rows: the world's in list order, then later ones."""
        if campaign.rows is None:
            campaign.rows = world_recipients(self.audience.index, campaign.index)
            campaign.row_set = set(campaign.rows)
        return campaign.rows

    def warm_reports(self) -> None:
        """Build what the reports read before serving: each campaign's recipients (in one
        pass for all) and the events by campaign. Built on first read, they held every call
        behind that read for seconds (handlers run one at a time), where Mailchimp's
        reports are there to read; a world's size then set the pull's pace, not latency."""
        waiting = [c for c in self.campaigns if c.rows is None]
        found = all_world_recipients(self.audience.index, [c.index for c in waiting])
        for campaign, rows in zip(waiting, found, strict=True):
            campaign.rows, campaign.row_set = rows, set(rows)
        self.campaign_events(-1)

    def campaign_events(self, campaign: int) -> dict[int, list[MemberEvent]]:
        """The events of campaign number `campaign`, by recipient row, in each member's order:
        what its reports list, without projecting every recipient again for each call."""
        if self.events_by_campaign is None:
            found: dict[int, dict[int, list[MemberEvent]]] = defaultdict(dict)
            for row in range(self.audience.size):
                for event in self.audience.member(row).events:
                    if event.campaign >= 0:
                        found[event.campaign].setdefault(row, []).append(event)
            self.events_by_campaign = dict(found)
        return self.events_by_campaign.get(campaign, {})

    def keep_order(self, order: Order) -> None:
        self.orders.append(order)
        self.orders_by_row[order.row].append(order)
