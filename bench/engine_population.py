"""The engine bench's baseline, its population part: RFM, account roll-ups and interests
of bench/rules_realistic.yaml in plain numpy, written from their definitions
(docs/rules.md), not from the engine's code, which it never imports.

    RFM        each contact's purchases up to now (count, sum of amounts, last moment);
               per measure, four bounds over the contacts who bought: the values of rank
               ceil(k·n/5), k = 1..4, in rising order; a digit is 1 plus the number of
               bounds its value is above; the segments of the rule file, first match
    accounts   a contact's account is its email domain unless free mail; its engagement
               the usable activities of its own (clicks, views, forms, downloads, questions,
               demo requests, meetings; not opens) in the last 90 days; per account, its
               engaged people and its demo requests of the last 90 days, summed
    interests  per topic, the usable activities of every type but sends, opens, bounces,
               unsubscribes and spam reports whose URL, without query string, fragment
               and trailing slash, matches one of its globs (each distinct URL tested
               once), within its window, decayed, summed, capped; the
               top interest is the highest score to two decimals (the first topic on a
               tie), none under half a point

Only what the totals and the check need is computed: not an account's summed or largest
engagement, nor each topic's match counts.
"""

from __future__ import annotations

from collections.abc import Callable
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from engine_baseline import Inputs

DAY = 86_400.0
Floats = npt.NDArray[np.float64]
Rows = tuple[npt.NDArray[np.intp], Floats]
"""Usable activity rows of some types, and their ages (seconds before now)."""

SEGMENTS = {  # name -> (recency, monetary) digit ranges, as bench/rules_realistic.yaml
    "champions": ((4, 5), (4, 5)),
    "new": ((4, 5), (1, 5)),
    "at risk": ((1, 2), (3, 5)),
    "others": ((1, 5), (1, 5)),
}
ENGAGEMENT = (  # not opens: scoring.account_rules.ENGAGEMENT leaves machine opens out
    "email_click",
    "page_view",
    "form_submission",
    "content_download",
    "question",
    "demo_request",
    "meeting",
)
NOT_INTEREST = (
    "email_sent",
    "email_open",
    "email_bounce",
    "email_unsubscribe",
    "email_spam_report",
)
TOPICS = {  # id -> URL globs; each 1 point, half-life 60 days, window 365 days, cap 20
    "scoring": ("*/product/scoring*", "*/docs/rules*", "*/docs/decay*", "*/blog/*scor*"),
    "sync": ("*/product/sync*", "*/integrations/*", "*/docs/connect-*"),
    "analytics": ("*/product/analytics*", "*/docs/backtesting*", "*/docs/calibration*"),
    "routing": ("*/product/routing*", "*/blog/lead-routing*", "*/webinars/fixing-lead-routing*"),
}


def quintile_bounds(values: Floats) -> list[float]:
    ordered = np.sort(values)
    n = len(ordered)
    return [float(ordered[-(-k * n // 5) - 1]) for k in range(1, 5)] if n else []


def digit(values: Floats, bounds: list[float]) -> npt.NDArray[np.int32]:
    """1 plus the bounds below; a value equal to two bounds or more (a tie) takes 1 when
    its span of digits touches 1, 5 when it touches 5, else its middle (docs/rules.md)."""
    low = np.ones(len(values), dtype=np.int32)
    high = np.ones(len(values), dtype=np.int32)
    for bound in bounds:
        low += values > bound
        high += values >= bound
    tied = np.where(low == 1, 1, np.where(high == 5, 5, (low + high) // 2))
    return np.where(high - low >= 2, tied, low)


def rfm(inputs: Inputs, rows: Rows) -> tuple[Floats, Floats, npt.NDArray[np.int32]]:
    """Per contact: the sum of the digits and the segment's index (NaN: no purchase), and
    the digits as one number (543; 0: no purchase)."""
    n = inputs.size
    who = inputs.who[rows[0]]
    amount = np.nan_to_num(inputs.amount[rows[0]], nan=0.0)
    count = np.bincount(who, minlength=n).astype(np.float64)
    spent = np.bincount(who, weights=amount, minlength=n)
    last = np.full(n, -np.inf)
    np.maximum.at(last, who, inputs.when[rows[0]])
    bought = count > 0
    r, f, m = (digit(v, quintile_bounds(v[bought])) for v in (last, count, spent))
    segment = np.full(n, np.nan)
    for index, ((r_low, r_high), (m_low, m_high)) in enumerate(SEGMENTS.values()):
        hit = np.isnan(segment) & bought & (r >= r_low) & (r <= r_high)
        segment[hit & (m >= m_low) & (m <= m_high)] = index
    total = np.where(bought, r + f + m, np.nan)
    return total, segment, np.where(bought, r * 100 + f * 10 + m, 0).astype(np.int32)


def accounts(
    inputs: Inputs, account: npt.NDArray[np.int64], group: Callable[[tuple[str, ...]], Rows]
) -> tuple[Floats, Floats]:
    """Per contact: its account's engaged people, and its colleagues' demo requests of
    the last 90 days (NaN: no account)."""
    n = inputs.size

    def own(kinds: tuple[str, ...]) -> Floats:
        rows, age = group(kinds)
        return np.bincount(inputs.who[rows[age <= 90 * DAY]], minlength=n).astype(np.float64)

    engaged, demos = own(ENGAGEMENT) > 0, own(("demo_request",))
    has = account >= 0
    size = int(account.max()) + 1 if has.any() else 0
    at = account[has]
    people = np.bincount(at, weights=engaged[has], minlength=size)
    asked = np.bincount(at, weights=demos[has], minlength=size)
    engaged_people, colleagues = np.full(n, np.nan), np.full(n, np.nan)
    engaged_people[has] = people[at]
    colleagues[has] = np.maximum(asked[at] - demos[has], 0.0)
    return engaged_people, colleagues


def interests(
    inputs: Inputs, group: Callable[[tuple[str, ...]], Rows]
) -> tuple[npt.NDArray[np.int16], Floats]:
    """Per contact: the top topic's index (-1: none) and its score to two decimals."""
    n = inputs.size
    kinds = tuple(k for k in inputs.type_codes if k not in NOT_INTEREST)
    rows, age = group(kinds)
    codes, urls = inputs.url
    url_codes = codes[rows]
    folded = [str(u).split("?")[0].split("#")[0].rstrip("/").casefold() for u in urls]
    who = inputs.who[rows]
    scores = np.zeros((n, len(TOPICS)))
    for column, globs in enumerate(TOPICS.values()):
        table = np.array([any(fnmatchcase(u, g) for g in globs) for u in folded] + [False])
        keep = table[url_codes] & (age <= 365 * DAY)
        weights = np.exp2(-age[keep] / (60 * DAY))
        scores[:, column] = np.minimum(np.bincount(who[keep], weights, minlength=n), 20.0)
    rounded = np.round(scores, 2) + 0.0
    best = np.argmax(rounded, axis=1)
    top_score = rounded[np.arange(n), best]
    held = top_score >= 0.5
    return np.where(held, best, -1).astype(np.int16), np.where(held, top_score, 0.0)
