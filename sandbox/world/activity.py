"""The event log of the synthetic world, the seller's site, and what people do off email."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from sandbox.world import vocabulary as vocab
from sandbox.world.population import (
    DAY,
    Crowd,
    Int32s,
    Lives,
    Period,
    draw,
    repeat,
)
from sandbox.world.tables import Events, Floats, Ints
from scoring.records import TYPE_CODES, ActivityType

BROWSE, BUY, CAREER, CUSTOMER = (
    list(vocab.VISIT_MIXES).index(mix) for mix in ("browse", "buy", "career", "customer")
)
"""Codes of the visit mixes: what a session's visitor came for."""


class Site:
    """The seller's pages, by group, with a few popular pages in each group."""

    def __init__(self) -> None:
        self.groups: dict[str, Ints] = {}
        first = 0
        for name, paths in vocab.PAGES.items():
            self.groups[name] = np.arange(first, first + len(paths))
            first += len(paths)

    def pick(self, rng: np.random.Generator, group: str, size: int) -> Ints:
        pages = self.groups[group]
        popularity = 1.0 / np.arange(1, len(pages) + 1) ** 0.8
        return pages[draw(rng, popularity.tolist(), size)]

    def visit(self, rng: np.random.Generator, mix: str, size: int) -> Ints:
        """Pages of `size` views by a visitor who came for `mix` (a key of VISIT_MIXES)."""
        weights = vocab.VISIT_MIXES[mix]
        groups = draw(rng, list(weights.values()), size)
        urls = np.empty(size, dtype=np.int64)
        for code, name in enumerate(weights):
            rows = np.flatnonzero(groups == code)
            urls[rows] = self.pick(rng, name, len(rows))
        return urls


@dataclass
class Log:
    """Events as they are made, by kind; `events()` keeps those in range, in time order."""

    period: Period
    parts: list[tuple[int, Int32s, Floats, Int32s | None, Int32s | None, Floats | None]] = field(
        default_factory=list
    )

    def add(
        self,
        kind: ActivityType,
        who: Ints,
        at: Floats,
        *,
        campaign: Ints | None = None,
        url: Ints | None = None,
        amount: Floats | None = None,
    ) -> None:
        keep = (at >= self.period.start) & (at <= self.period.end)
        cut = [None if a is None else a[keep].astype(np.int32) for a in (campaign, url)]
        money = None if amount is None else amount[keep]
        self.parts.append(
            (TYPE_CODES[kind], who[keep].astype(np.int32), at[keep], cut[0], cut[1], money)
        )

    def events(self) -> Events:
        """Every event made, in time order; the log is empty afterwards."""
        total = sum(len(part[1]) for part in self.parts)
        person, at = np.empty(total, np.int32), np.empty(total, np.float64)
        kind = np.empty(total, np.int8)
        campaign, url = np.full(total, -1, np.int32), np.full(total, -1, np.int32)
        amount = np.full(total, np.nan)
        first = 0
        self.parts.reverse()
        while self.parts:  # free each part once copied, to spare memory
            code, who, when, camp, page, money = self.parts.pop()
            rows = slice(first, first + len(who))
            person[rows], at[rows], kind[rows] = who, when, code
            for target, values in ((campaign, camp), (url, page), (amount, money)):
                if values is not None:
                    target[rows] = values
            first += len(who)
        # stable: the same order on every platform even if two times ever coincide
        order = np.argsort(at, kind="stable")
        # one column at a time: each old column is freed as soon as its sorted copy exists
        person = person[order]
        kind = kind[order]
        at = at[order]
        campaign = campaign[order]
        url = url[order]
        amount = amount[order]
        return Events(person, kind, at, campaign, url, amount)


def _moments(
    rng: np.random.Generator, lo: Floats, hi: Floats, center: Floats, width: Floats, focus: Floats
) -> Floats:
    """A time in [lo, hi] per item: near `center` with probability `focus`, else uniform."""
    at = center + width * rng.standard_normal(len(lo))
    uniform = (at < lo) | (at > hi) | (rng.random(len(lo)) >= focus)
    at[uniform] = lo[uniform] + (hi[uniform] - lo[uniform]) * rng.random(int(uniform.sum()))
    return at


def prospect_times(rng: np.random.Generator, lives: Lives, who: Ints) -> Floats:
    """Times of prospect behaviour (before any conversion) for the people `who`."""
    center, width, focus = lives.center[who], lives.width[who], lives.focus[who]
    return _moments(rng, lives.lo[who], lives.hi[who], center, width, focus)


def between(rng: np.random.Generator, lo: Floats, hi: Floats) -> Floats:
    return np.asarray(lo + (hi - lo) * rng.random(len(lo)), dtype=np.float64)


SOURCES = (("none", 15), ("newsletter", 35), ("guide", 30), ("form", 20))
"""How a person created during the period got into the database (its first event)."""


def hand_raises(rng: np.random.Generator, log: Log, site: Site, crowd: Crowd, lives: Lives) -> Ints:
    """Signups, downloads, forms, questions and social clicks; returns each person's source."""
    n = len(crowd)
    new = np.flatnonzero(lives.created >= log.period.start)
    source = np.zeros(n, dtype=np.int64)
    source[new] = draw(rng, [w for _, w in SOURCES], len(new))
    at = lives.created
    firsts = (
        (ActivityType.NEWSLETTER_SIGNUP, "newsletter"),
        (ActivityType.CONTENT_DOWNLOAD, "guides"),
        (ActivityType.FORM_SUBMISSION, "webinars"),
    )
    for code, (kind, group) in enumerate(firsts, start=1):
        who = np.flatnonzero(source == code)
        log.add(kind, who, at[who], url=site.pick(rng, group, len(who)))
    i, active = crowd.interest, lives.active
    rates = {
        (ActivityType.CONTENT_DOWNLOAD, "guides"): 0.06 + 1.2 * i**2 + 1.5 * crowd.non_buyer,
        (ActivityType.FORM_SUBMISSION, "webinars"): 0.03 + 0.3 * i**2,
        (ActivityType.FORM_SUBMISSION, "events"): 0.02 + 0.2 * i**2,
        (ActivityType.FORM_SUBMISSION, "contact"): 0.01 + 0.3 * i**3,
        (ActivityType.NEWSLETTER_SIGNUP, "newsletter"): 0.03 + 0.08 * i,
        (ActivityType.QUESTION, "pricing"): 0.5 * i**3,
        (ActivityType.QUESTION, "product"): 0.3 * i**3,
        (ActivityType.SOCIAL_CLICK, "blog"): 0.08 + 0.6 * i,
    }
    for (kind, group), rate in rates.items():
        who = repeat(rng.poisson(rate * active))
        log.add(kind, who, prospect_times(rng, lives, who), url=site.pick(rng, group, len(who)))
    customers = np.flatnonzero(lives.converted)
    after = (lives.end - lives.converted_at[customers]) / DAY / 365
    who = customers[repeat(rng.poisson(1.0 * after))]  # support questions
    moments = between(rng, lives.converted_at[who], np.full(len(who), lives.end))
    log.add(ActivityType.QUESTION, who, moments, url=site.pick(rng, "docs", len(who)))
    return source


def visits(rng: np.random.Generator, log: Log, site: Site, crowd: Crowd, lives: Lives) -> None:
    """Site sessions: prospects browse, buyers study pricing, customers read the docs."""
    i = crowd.interest
    who = repeat(rng.poisson((0.4 + 12 * i**2) * lives.active))
    mix = np.where(rng.random(len(who)) < 0.05 + 0.55 * i[who], BUY, BROWSE)
    mix[crowd.non_buyer[who] & (rng.random(len(who)) < 0.6)] = CAREER
    _sessions(rng, log, site, who, prospect_times(rng, lives, who), mix)
    buyers = np.flatnonzero(lives.converted)
    who = buyers[repeat(rng.poisson(2 + 3 * i[buyers]))]
    lo = np.maximum(lives.journey[who] - 30 * DAY, lives.lo[who])
    _sessions(
        rng, log, site, who, between(rng, lo, lives.converted_at[who]), np.full_like(who, BUY)
    )
    after = (lives.end - lives.converted_at[buyers]) / DAY / 30
    who = buyers[repeat(rng.poisson(1.5 * after))]
    moments = between(rng, lives.converted_at[who], np.full(len(who), lives.end))
    _sessions(rng, log, site, who, moments, np.full_like(who, CUSTOMER))


def _sessions(
    rng: np.random.Generator, log: Log, site: Site, who: Ints, start: Floats, mix: Ints
) -> None:
    """Page views of sessions: a few pages each, 5 s to a few minutes apart."""
    pages = rng.geometric(np.where(mix == BUY, 0.3, 0.45))
    owner = repeat(pages)
    gaps = rng.lognormal(math.log(45), 0.9, len(owner))
    gaps[np.cumsum(pages) - pages] = 0.0
    elapsed = np.cumsum(gaps)
    elapsed -= np.repeat(elapsed[np.cumsum(pages) - pages], pages)
    urls = np.empty(len(owner), dtype=np.int64)
    for code, name in enumerate(vocab.VISIT_MIXES):
        rows = np.flatnonzero(mix[owner] == code)
        urls[rows] = site.visit(rng, name, len(rows))
    log.add(ActivityType.PAGE_VIEW, who[owner], start[owner] + elapsed, url=urls)
