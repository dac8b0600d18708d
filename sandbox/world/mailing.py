"""Campaign email in the synthetic world: sends, opens, clicks, scanner clicks and bounces."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from sandbox.world import vocabulary as vocab
from sandbox.world.activity import Log, Site
from sandbox.world.population import (
    DAY,
    GATEWAY,
    HOUR,
    SANDBOX,
    Bools,
    Crowd,
    Firms,
    Lives,
    Period,
    repeat,
    within,
)
from sandbox.world.tables import HUBSPOT, MAILCHIMP, Campaigns, Floats, Ints, objects
from scoring.records import ActivityType

BOUNCE, UNSUBSCRIBE, SPAM = 1, 2, 3


def _subset(rng: np.random.Generator, n: int, share: float) -> Ints:
    """Sorted rows of 0..n-1, each kept with probability `share` (geometric skips)."""
    if share >= 1.0:
        return np.arange(n)
    size = int(n * share + 6 * math.sqrt(n * share) + 16)
    rows = np.cumsum(rng.geometric(share, size)) - 1
    while rows[-1] < n:
        rows = np.concatenate((rows, rows[-1] + np.cumsum(rng.geometric(share, size))))
    return rows[rows < n]


@dataclass
class Schedule:
    """The campaigns, in the order they were sent, with the kind of each."""

    table: Campaigns
    kind: Ints
    sent_at: Floats


@dataclass
class Links:
    """The links of each campaign: urls[start[c] : start[c] + count[c]], the main one first."""

    start: Ints
    count: Ints
    urls: Ints


def schedule_campaigns(
    rng: np.random.Generator, period: Period, site: Site
) -> tuple[Schedule, Links]:
    """A newsletter every other week and two other campaigns every week, in the morning."""
    weeks = math.ceil(period.span / (7 * DAY))
    others = len(vocab.CAMPAIGN_KINDS) - 1
    kind, day = [], []
    for week in range(weeks):
        if week % 2 == 0:
            kind.append(vocab.NEWSLETTER)
            day.append(7 * week + 1)
        picks = 1 + rng.choice(others, size=2, replace=False)
        kind += [int(k) for k in picks]
        day += [7 * week + 2, 7 * week + 4]
    hours = rng.uniform(8, 11, len(kind))
    sent_at = period.start + (np.array(day, dtype=np.float64) * 24 + hours) * HOUR
    keep = sent_at < period.end - HOUR
    kinds, sent_at = np.array(kind, dtype=np.int64)[keep], sent_at[keep]
    names, subjects = [], []
    for k, at in zip(kinds.tolist(), sent_at.tolist(), strict=True):
        spec = vocab.CAMPAIGN_KINDS[k]
        names.append(f"{spec.name} {datetime.fromtimestamp(at, UTC):%Y-%m-%d}")
        subjects.append(spec.subjects[int(rng.integers(len(spec.subjects)))])
    senders = np.array([vocab.CAMPAIGN_KINDS[k].system for k in kinds.tolist()], dtype=np.uint8)
    table = Campaigns(objects(names), objects(subjects), sent_at, senders)
    return Schedule(table, kinds, sent_at), _campaign_links(rng, kinds, site)


def _campaign_links(rng: np.random.Generator, kinds: Ints, site: Site) -> Links:
    count = rng.integers(3, 6, len(kinds))
    urls = []
    for k, links in zip(kinds.tolist(), count.tolist(), strict=True):
        groups = vocab.CAMPAIGN_KINDS[k].links
        urls += [int(site.pick(rng, groups[j % len(groups)], 1)[0]) for j in range(links)]
    return Links(np.cumsum(count) - count, count, np.array(urls, dtype=np.int64))


@dataclass
class Sends:
    """One row per email delivered: to whom, of which campaign, when."""

    who: Ints
    campaign: Ints
    at: Floats
    fate: Ints
    """BOUNCE, UNSUBSCRIBE or SPAM on the send that ends the person's emails, else 0."""


def send_emails(
    rng: np.random.Generator,
    log: Log,
    crowd: Crowd,
    lives: Lives,
    systems: Ints,
    schedule: Schedule,
    links: Links,
    firms: Firms,
) -> None:
    """Every campaign's sends, and what followed each: opens, clicks, the end of the address."""
    sends = _deliveries(rng, crowd, lives, systems, schedule)
    log.add(ActivityType.EMAIL_SENT, sends.who, sends.at, campaign=sends.campaign)
    for kind in (BOUNCE, SPAM):
        rows = np.flatnonzero(sends.fate == kind)
        delay = (
            rng.uniform(2, 90, len(rows)) if kind == BOUNCE else rng.lognormal(9.3, 1, len(rows))
        )
        event = ActivityType.EMAIL_BOUNCE if kind == BOUNCE else ActivityType.EMAIL_SPAM_REPORT
        log.add(event, sends.who[rows], sends.at[rows] + delay, campaign=sends.campaign[rows])
    read_at = _opens(rng, log, crowd, sends)
    rows = np.flatnonzero(sends.fate == UNSUBSCRIBE)
    at = read_at[rows] + rng.uniform(10, 600, len(rows))
    log.add(ActivityType.EMAIL_UNSUBSCRIBE, sends.who[rows], at, campaign=sends.campaign[rows])
    _human_clicks(rng, log, crowd, sends, read_at, links)
    scanner = np.where(crowd.free_mail >= 0, 0, firms.scanner[crowd.company])
    _scanner_clicks(rng, log, scanner[sends.who], sends, links)


def _deliveries(
    rng: np.random.Generator, crowd: Crowd, lives: Lives, systems: Ints, schedule: Schedule
) -> Sends:
    """Who gets each campaign: a share of its system's members, until their address ends."""
    n = len(crowd)
    limit, fate = _email_fates(rng, crowd)
    members = {bit: systems & bit > 0 for bit in (HUBSPOT, MAILCHIMP)}
    received = np.zeros(n, dtype=np.int64)
    who: list[Ints] = []
    last: list[Bools] = []
    for kind, at in zip(schedule.kind.tolist(), schedule.sent_at.tolist(), strict=True):
        spec = vocab.CAMPAIGN_KINDS[kind]
        rows = _subset(rng, n, spec.audience)
        rows = rows[members[spec.system][rows] & (lives.created[rows] <= at)]
        rows = rows[received[rows] < limit[rows]]
        last.append(received[rows] == limit[rows] - 1)
        received[rows] += 1
        who.append(rows)
    sizes = np.array([len(rows) for rows in who], dtype=np.int64)
    campaign = repeat(sizes)
    people = np.concatenate(who) if who else np.zeros(0, np.int64)
    ends = np.concatenate(last) if last else np.zeros(0, bool)
    at = schedule.sent_at[campaign] + rng.uniform(0, 1200, len(campaign))
    return Sends(people, campaign, at, np.where(ends, fate[people], 0))


def _email_fates(rng: np.random.Generator, crowd: Crowd) -> tuple[Ints, Ints]:
    """How many emails each person gets before the last, and how that last one ends."""
    n = len(crowd)
    i = crowd.interest
    hazards = np.stack([np.full(n, 0.002), 0.006 * (1.2 - i), 0.0004 * (1 - i)], axis=1)
    total = hazards.sum(axis=1)
    limit = rng.geometric(total)
    fate = 1 + (rng.random(n)[:, None] * total[:, None] > np.cumsum(hazards, axis=1)).sum(axis=1)
    invalid = rng.random(n) < 0.015  # a typo or a former employee: the first email bounces
    limit[invalid], fate[invalid] = 1, BOUNCE
    return np.asarray(limit, dtype=np.int64), np.asarray(fate, dtype=np.int64)


def _opens(rng: np.random.Generator, log: Log, crowd: Crowd, sends: Sends) -> Floats:
    """Opens: by readers, and by Apple Mail prefetching for a third of people; read times."""
    n, size = len(crowd), len(sends.who)
    p_read = np.clip(rng.beta(1.2, 5, n) + 0.3 * crowd.interest, 0, 0.9)
    prefetch = rng.random(n) < 0.33
    delivered = sends.fate != BOUNCE
    read = ((rng.random(size) < p_read[sends.who]) | (sends.fate == UNSUBSCRIBE)) & delivered
    machine = prefetch[sends.who] & delivered & (rng.random(size) < 0.9)
    read_at = sends.at + 20 + rng.lognormal(math.log(2 * HOUR), 1.4, size)
    open_at = np.where(machine, sends.at + rng.uniform(5, 900, size), read_at)
    rows = np.flatnonzero(read | machine)
    log.add(ActivityType.EMAIL_OPEN, sends.who[rows], open_at[rows], campaign=sends.campaign[rows])
    return np.where(read, read_at, np.nan)


def _human_clicks(
    rng: np.random.Generator,
    log: Log,
    crowd: Crowd,
    sends: Sends,
    read_at: Floats,
    links: Links,
) -> None:
    """Readers click the main link mostly, sometimes twice; each click lands on the page."""
    p_click = 0.03 + 0.4 * crowd.interest
    rows = np.flatnonzero(~np.isnan(read_at) & (sends.fate == 0))
    rows = rows[rng.random(len(rows)) < p_click[sends.who[rows]]]
    rows = rows[repeat(1 + (rng.random(len(rows)) < 0.15))]
    second = np.zeros(len(rows), dtype=bool)
    second[1:] = rows[1:] == rows[:-1]
    at = read_at[rows] + 3 + rng.lognormal(math.log(30), 1.0, len(rows))
    at[second] = at[np.flatnonzero(second) - 1] + 5 + rng.lognormal(4, 1, int(second.sum()))
    campaign = sends.campaign[rows]
    main = rng.random(len(rows)) < 0.6
    link = np.where(main, 0, (rng.random(len(rows)) * links.count[campaign]).astype(np.int64))
    url = links.urls[links.start[campaign] + link]
    who = sends.who[rows]
    log.add(ActivityType.EMAIL_CLICK, who, at, campaign=campaign, url=url)
    log.add(ActivityType.PAGE_VIEW, who, at + rng.uniform(0.5, 3, len(rows)), url=url)


def _scanner_clicks(
    rng: np.random.Generator, log: Log, scanner: Ints, sends: Sends, links: Links
) -> None:
    """Security scanners: a gateway follows one or two links within seconds of delivery; a
    sandbox opens every link (3 to 5) inside one second, a little later."""
    size = len(sends.who)
    delivered = sends.fate != BOUNCE
    gateway = delivered & (scanner == GATEWAY) & (rng.random(size) < 0.6)
    sandbox = delivered & (scanner == SANDBOX) & (rng.random(size) < 0.3)
    for rows, is_gateway in ((np.flatnonzero(gateway), True), (np.flatnonzero(sandbox), False)):
        campaign = sends.campaign[rows]
        if is_gateway:
            first = sends.at[rows] + rng.uniform(0.3, 1.0, len(rows))
            count = 1 + (rng.random(len(rows)) < 0.5)
        else:
            first = sends.at[rows] + rng.uniform(20, 600, len(rows))
            count = links.count[campaign]
        log.add(ActivityType.EMAIL_OPEN, sends.who[rows], first - 0.1, campaign=campaign)
        item = repeat(count)
        spread = rng.uniform(0, 7.0 if is_gateway else 0.9, len(item))
        url = links.urls[links.start[campaign[item]] + within(count)]
        who, at = sends.who[rows][item], first[item] + spread
        log.add(ActivityType.EMAIL_CLICK, who, at, campaign=campaign[item], url=url)
