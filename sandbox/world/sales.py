"""Sales in the synthetic world: demo requests, meetings, touches, quotes and purchases."""

from __future__ import annotations

import numpy as np

from sandbox.world.activity import Log, between, prospect_times
from sandbox.world.population import (
    DAY,
    HOUR,
    Bools,
    Crowd,
    Firms,
    Lives,
    repeat,
)
from sandbox.world.tables import Floats, Ints
from scoring.records import ActivityType


def sales(
    rng: np.random.Generator, log: Log, crowd: Crowd, lives: Lives, firms: Firms, demo_url: int
) -> Bools:
    """Demo requests, meetings, sales touches, quotes and purchases; returns who sales worked."""
    n = len(crowd)
    engaged = np.zeros(n, dtype=bool)
    buyers = np.flatnonzero(lives.converted)
    engaged[buyers] = True
    _journeys(rng, log, lives, buyers, firms.employees[crowd.company[buyers]], demo_url)
    i = crowd.interest
    p_demo = np.select([crowd.competitor, crowd.non_buyer], [0.25, 0.01], 0.25 * i**2)
    demo = np.flatnonzero(~lives.converted & (rng.random(n) < p_demo))
    engaged[demo] = True
    demo_at = prospect_times(rng, lives, demo)
    log.add(ActivityType.DEMO_REQUEST, demo, demo_at, url=np.full(len(demo), demo_url))
    met = rng.random(len(demo)) < np.where(crowd.competitor[demo], 0.3, 0.6)
    who = repeat(np.where(met, 1 + rng.poisson(0.5, len(demo)), 0))
    at = _office_hours(rng, demo_at[who] + rng.uniform(1, 21, len(who)) * DAY)
    log.add(ActivityType.MEETING, demo[who], at)
    who = repeat(1 + rng.poisson(2, len(demo)))
    at = _office_hours(rng, demo_at[who] + rng.uniform(0.1, 45, len(who)) * DAY)
    log.add(ActivityType.SALES_TOUCH, demo[who], at)
    lost = np.flatnonzero(met & (rng.random(len(demo)) < 0.3))
    amount = _quoted(rng, _deal_size(rng, firms.employees[crowd.company[demo[lost]]]))
    at = _office_hours(rng, demo_at[lost] + rng.uniform(20, 70, len(lost)) * DAY)
    log.add(ActivityType.QUOTE_SENT, demo[lost], at, amount=amount)
    outbound = np.flatnonzero((crowd.fit > 0.55) & (rng.random(n) < 0.3) & ~lives.converted)
    who = outbound[repeat(rng.poisson(1.5, len(outbound)))]
    engaged[who] = True
    at = _office_hours(rng, between(rng, lives.lo[who], lives.hi[who]))
    log.add(ActivityType.SALES_TOUCH, who, at)
    return engaged


def _journeys(
    rng: np.random.Generator,
    log: Log,
    lives: Lives,
    buyers: Ints,
    employees: Ints,
    demo_url: int,
) -> None:
    """Converters: a demo request (most), meetings, touches, quotes, the purchase, then care."""
    start, length = lives.journey[buyers], lives.converted_at[buyers] - lives.journey[buyers]
    k = len(buyers)

    def during(rows: Ints, low: float, high: float) -> Floats:
        at = start[rows] + length[rows] * rng.uniform(low, high, len(rows))
        return _office_hours(rng, np.asarray(at, dtype=np.float64))

    demo = np.flatnonzero(rng.random(k) < 0.65)
    url = np.full(len(demo), demo_url)
    log.add(ActivityType.DEMO_REQUEST, buyers[demo], during(demo, 0.0, 0.15), url=url)
    rows = repeat(1 + rng.poisson(1.0, k))
    log.add(ActivityType.MEETING, buyers[rows], during(rows, 0.15, 0.85))
    rows = repeat(2 + rng.poisson(3.0, k))
    log.add(ActivityType.SALES_TOUCH, buyers[rows], during(rows, 0.0, 0.98))
    amount = _deal_size(rng, employees)
    rows = repeat(1 + (rng.random(k) < 0.3))
    at = np.minimum(during(rows, 0.6, 0.95), lives.converted_at[buyers[rows]] - HOUR)
    log.add(ActivityType.QUOTE_SENT, buyers[rows], at, amount=_quoted(rng, amount[rows]))
    log.add(ActivityType.PURCHASE, buyers, lives.converted_at[buyers], amount=amount)
    after = (lives.end - lives.converted_at[buyers]) / DAY / 365
    for kind, rate in ((ActivityType.SALES_TOUCH, 3.0), (ActivityType.MEETING, 1.5)):
        rows = repeat(rng.poisson(rate * after))
        moments = between(rng, lives.converted_at[buyers[rows]], np.full(len(rows), lives.end))
        log.add(kind, buyers[rows], _office_hours(rng, moments))


def _deal_size(rng: np.random.Generator, employees: Ints) -> Floats:
    """Yearly contract value: grows with the head count, rounded to 100."""
    value = 6_000 * (employees / 50) ** 0.45 * rng.lognormal(0, 0.35, len(employees))
    return np.asarray(np.round(np.clip(value, 1_200, 500_000), -2), dtype=np.float64)


def _quoted(rng: np.random.Generator, amount: Floats) -> Floats:
    """The price on a quote: the deal size before the discount that closes it."""
    return np.asarray(np.round(amount * rng.uniform(1.0, 1.25, len(amount)), -2))


def _office_hours(rng: np.random.Generator, at: Floats) -> Floats:
    """A random office-hours moment (8:00-18:00 UTC, Monday to Friday) at or after `at`."""
    day = np.floor(at / DAY)
    clock = rng.uniform(8, 18, len(at)) * HOUR
    day += day * DAY + clock < at  # too late that day: the next one
    weekday = (day + 3) % 7  # 1970-01-01, day 0, was a Thursday
    day += np.where(weekday >= 5, 7 - weekday, 0)
    return np.asarray(day * DAY + clock, dtype=np.float64)
