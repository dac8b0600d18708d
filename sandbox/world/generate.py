"""A seeded synthetic B2B world: `generate_world(people)`.

Follows what a B2B seller's marketing and sales data look like: companies with
a heavy-tailed head count, people with roles and company-style addresses spread
over HubSpot, Salesforce and Mailchimp, a hidden fit and interest from which
conversion and behaviour are both drawn, and a year of campaign email, site
visits, hand-raises and sales. Simplifies: one seller, one site, one campaign
calendar. The model in full is in docs/sandbox.md (The world); its parts live
in `population`, `activity`, `sales` and `mailing`, and this module puts them
together.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from sandbox.world import vocabulary as vocab
from sandbox.world.activity import Log, Site, hand_raises, visits
from sandbox.world.mailing import schedule_campaigns, send_emails
from sandbox.world.population import (
    DAY,
    Period,
    assign_systems,
    held_emails,
    make_crowd,
    make_firms,
    make_lives,
    people_table,
)
from sandbox.world.sales import sales
from sandbox.world.tables import World, objects
from scoring.records import ensure_utc

DEFAULT_NOW = datetime(2026, 11, 1, tzinfo=UTC)
PEOPLE_PER_COMPANY = 6
STREAMS = ("companies", "people", "lives", "hand raises", "sales", "systems", "email", "visits")
"""The generator's stages, each drawing from a random stream of its own."""


def generate_world(
    people: int, *, seed: int = 0, now: datetime | None = None, days: int = 365
) -> World:
    """A world of `people` people and `days` days of their activity up to `now`."""
    if people < 1 or days < 1:
        raise ValueError("generate_world needs at least one person and one day")
    end = ensure_utc(now or DEFAULT_NOW).timestamp()
    period = Period(end - days * DAY, end)
    # one stream per stage, so that changing one stage leaves the others' draws alone
    streams = np.random.SeedSequence(seed).spawn(len(STREAMS))
    rng = dict(zip(STREAMS, map(np.random.default_rng, streams), strict=True))
    firms = make_firms(rng["companies"], max(1, people // PEOPLE_PER_COMPANY))
    crowd = make_crowd(rng["people"], people, firms)
    lives = make_lives(rng["lives"], crowd, period)
    site, log = Site(), Log(period)
    sources = hand_raises(rng["hand raises"], log, site, crowd, lives)
    engaged = sales(rng["sales"], log, crowd, lives, firms, int(site.groups["demo"][0]))
    systems = assign_systems(rng["systems"], crowd, sources, engaged)
    held = held_emails(rng["systems"], crowd.email, systems)
    campaigns, links = schedule_campaigns(rng["email"], period, site)
    send_emails(rng["email"], log, crowd, lives, systems, campaigns, links, firms)
    visits(rng["visits"], log, site, crowd, lives)
    return World(
        now=end,
        companies=firms.table,
        people=people_table(crowd, firms, lives, systems, held),
        campaigns=campaigns.table,
        events=log.events(),
        urls=objects([vocab.SITE + path for path in vocab.site_paths()]),
        seed=seed,
    )
