"""A seeded synthetic B2B world: `generate_world(people)`, and `world_frames` to score it.

The model, in short:

* Companies have an industry, a country and a heavy-tailed head count (most are
  small, a few are large accounts with many contacts, which more often run mail
  security scanners); two are competitors.
* People work at a company with a title, function and seniority. Their address
  follows the company's convention (first.last, flast, ...) or is free mail.
  About 2 % are students or job seekers. Each is in HubSpot, Salesforce and/or
  Mailchimp, some under an address spelled differently there (case, spaces).
* Each person has a hidden fit (who they are: industry, size, role, market) and
  interest (fit, whether their account is in market, and chance). Whether they
  convert (a won deal, about 9 %) is drawn from fit and interest; behaviour is
  drawn from interest, so it predicts conversion through their common cause.
* Behaviour in the last `days`: campaign emails (a few a week, from Mailchimp or
  HubSpot) with opens (Apple Mail prefetches for a third of people), clicks,
  security-scanner clicks, bounces, unsubscribes and spam reports; site sessions
  that lean to pricing and product pages as interest grows; downloads, forms,
  signups, questions and demo requests; sales touches and meetings; for
  converters a buying journey (demo, meetings, quotes, purchase) and then
  customer activity (docs, support questions).

Every event falls in [now - days, now], after the person's `created_at`, and
opens, clicks, bounces and unsubscribes follow the send of their campaign. The
parts live in `sandbox.synthetic`; this module puts them together.
`World.campaigns` does not say which tool sent a campaign: `campaign_system`
reads it from the campaign's name.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from sandbox.world import vocabulary as vocab
from sandbox.world.activity import Log, Site, hand_raises, visits
from sandbox.world.mailing import schedule_campaigns, send_emails
from sandbox.world.population import (
    DAY,
    Clock,
    assign_systems,
    held_emails,
    make_crowd,
    make_firms,
    make_lives,
    objects,
    people_table,
)
from sandbox.world.sales import sales
from sandbox.world.tables import World
from scoring.records import ensure_utc

DEFAULT_NOW = datetime(2026, 11, 1, tzinfo=UTC)
PEOPLE_PER_COMPANY = 6
STAGES = ("companies", "people", "lives", "hand raises", "sales", "systems", "email", "visits")


def generate_world(
    people: int, *, seed: int = 0, now: datetime | None = None, days: int = 365
) -> World:
    """A world of `people` people and `days` days of their activity up to `now`."""
    if people < 1 or days < 1:
        raise ValueError("generate_world needs at least one person and one day")
    end = ensure_utc(now or DEFAULT_NOW).timestamp()
    clock = Clock(end - days * DAY, end)
    # one stream per stage, so that changing one stage leaves the others' draws alone
    streams = np.random.SeedSequence(seed).spawn(len(STAGES))
    rng = dict(zip(STAGES, map(np.random.default_rng, streams), strict=True))
    firms = make_firms(rng["companies"], max(1, people // PEOPLE_PER_COMPANY))
    crowd = make_crowd(rng["people"], people, firms)
    lives = make_lives(rng["lives"], crowd, clock)
    site, log = Site(), Log(clock)
    sources = hand_raises(rng["hand raises"], log, site, crowd, lives)
    engaged = sales(rng["sales"], log, crowd, lives, firms, int(site.groups["demo"][0]))
    systems = assign_systems(rng["systems"], crowd, sources, engaged)
    held = held_emails(rng["systems"], crowd.email, systems)
    campaigns, links = schedule_campaigns(rng["email"], clock, site)
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


def campaign_system(name: str) -> int:
    """The system bit of the tool that sent a generated campaign, from its name."""
    for kind in vocab.CAMPAIGN_KINDS:
        if name.startswith(kind.name + " "):
            return kind.system
    raise ValueError(f"not a generated campaign name: {name!r}")
