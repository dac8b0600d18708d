"""When may a contact's written values next change, with no new data?

`due_in` gives, per contact of a scored batch, the seconds from `as_of` until any
value leadscore writes could change by the passing of time alone (`inf`: never):
the whole score, the whole points of each dimension (apportioned to add up to the
score), the grade, the stage, disqualified, and the reasons as `reasons_key` sees
them. It is a bound, never late, often early: a contact rescored at its due
moment may well write nothing.

Time moves values in two ways:

- Decay. A rule's points are `a·2^(-age/h)` summed over its activities (one sign,
  one half-life), or the youngest one's (`once`), so they shrink towards 0 at a rate
  of at most `ln2/h·|p|`, `p` its points now; a rule's cap and a dimension's cap or
  floor only hold a value still. A rule held at its cap is still for exactly
  `h·log2(|raw| / cap)` (`RuleHits.held`): its raw sum decays as one. A dimension
  and the total move at most at the sum of their rules' rates, down for positive
  rules and up for negative ones; a value cannot reach a boundary (a whole point's
  rounding edge `k ± 0.5`, an integer where apportioning changes, a grade or stage
  threshold, two dimensions' remainders crossing) before distance / rate. A
  dimension held at its cap or floor is still until its raw sum comes back to it.
- Moments. An activity counted by a rule or stage condition with a window stops
  counting at `occurred_at + window`; an activity dated after `as_of` starts
  counting at its time (and may change which clicks are a machine's).

Reasons: a reason causes a write on its own only when a reader would see it
change in substance: a rule starts or stops counting, its count changes, its own
whole points change, or a dimension's cap or floor takes off another whole point.
The apportioned points shown beside each reason follow the score; while the
score and those stay, the reasons written last still add up to the score written
beside them. `reasons_key` is that substance, kept beside the written values.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

from scoring.explain import ScoreBatch, whole_points
from scoring.frames import ActivityFrame, BoolArray, FloatArray
from scoring.interests import Grouped, InterestScores
from scoring.records import TYPE_CODES, ActivityType, ensure_utc
from scoring.rfm import changes_in
from scoring.rules import RuleSet, stage_conditions

if TYPE_CHECKING:
    from scoring.account_rules import Accounts

_DAY = 86_400.0
_LN2 = math.log(2.0)
_SLACK = 1e-9
"""Relative slack taken off every distance, so float noise in a later score cannot
cross a boundary the bound says is not yet reached."""
_EARLY = 1e-3
"""Seconds taken off every moment: times are floats of epoch seconds (a quarter of a
microsecond apart today) and moments are datetimes (a microsecond apart)."""


def due_in(batch: ScoreBatch, activities: ActivityFrame, as_of: datetime) -> FloatArray:
    """Per contact of `batch` (scored from `activities` as of `as_of`), the seconds until
    a written value may change with no new data; `inf` when it never can."""
    now = ensure_utc(as_of).timestamp()
    rules = batch.rules
    n = len(batch)
    due = np.full(n, np.inf)
    _moments(rules, activities, now, due)
    if batch.rfm is not None:  # a fixed recency bound passed with time alone
        np.minimum(due, changes_in(batch.rfm, now), out=due)
    np.subtract(due, _EARLY, out=due)
    if batch.interests is not None and batch.interests.interests.write != "none":
        np.minimum(due, _interest_due(batch.interests), out=due)
    dims = list(rules.dimensions)
    down = np.zeros((n, len(dims)))
    up = np.zeros((n, len(dims)))
    for rule, hits in zip(rules.rules, batch.rule_hits, strict=True):
        if rule.half_life_days is None or not hits.rows.size:
            continue
        points = np.asarray(hits.points, dtype=np.float64)
        rate = np.abs(points) * (_LN2 / (rule.half_life_days * _DAY))
        if hits.held is not None:
            # held at the rule's cap: still until the decay brings the points down to it
            held = hits.held > 0
            rate[held] = 0.0
            lasts = hits.held[held] * (1.0 - _SLACK) - _EARLY
            due[hits.rows[held]] = np.minimum(due[hits.rows[held]], lasts)
        # the rule's own whole points (the reasons' substance)
        own = _rounding(points, *((rate, 0.0) if rule.points > 0 else (0.0, rate)))
        due[hits.rows] = np.minimum(due[hits.rows], own)
        column = dims.index(rules.dimension_of(rule))
        (down if rule.points > 0 else up)[hits.rows, column] += rate  # a rule's rows are unique
    if not (down.any() or up.any()):
        return _not_before_now(due)
    thresholds = _thresholds(rules)
    raw, kept = batch.uncapped, batch.dimensions
    still = np.zeros((n, len(dims)), dtype=bool)
    for column, (name, dim) in enumerate(rules.dimensions.items()):
        r, d, u = raw[:, column], down[:, column], up[:, column]
        marks = list(thresholds.get(name, []))
        if dim.cap is not None:
            high = r >= dim.cap
            still |= _column(high, column, len(dims))
            # held at the cap until the raw sum comes down to it
            due = np.minimum(due, np.where(high, _towards(r - dim.cap, r, d), np.inf))
            # the cap's own reason: whole points taken off (raw moves them both ways)
            excess = np.where(high, dim.cap - r, 0.0)
            due = np.minimum(due, np.where(high, _rounding(excess, u, d), np.inf))
            marks.append(dim.cap + 0.5)
        if dim.floor is not None:
            low = r <= dim.floor
            still |= _column(low, column, len(dims))
            due = np.minimum(due, np.where(low, _towards(dim.floor - r, r, u), np.inf))
            excess = np.where(low, dim.floor - r, 0.0)
            due = np.minimum(due, np.where(low, _rounding(excess, u, d), np.inf))
            marks.append(dim.floor - 0.5)
        # a dimension held still moves nothing until it is let go (bounded above)
        free = ~still[:, column]
        d, u, value = np.where(free, d, 0.0), np.where(free, u, 0.0), kept[:, column]
        down[:, column], up[:, column] = d, u
        due = np.minimum(due, _integers(value, d, u))  # apportioning reads the floors
        if marks:
            due = np.minimum(due, _marks(value, d, u, np.array(sorted(set(marks)))))
    # apportioning by largest remainder: two remainders crossing
    rem = kept - np.floor(kept)
    speed = down + up
    for i in range(len(dims)):
        for j in range(i + 1, len(dims)):
            gap = np.abs(rem[:, i] - rem[:, j])
            due = np.minimum(due, _over(gap, speed[:, i] + speed[:, j], 1.0))
    total_down, total_up = down.sum(axis=1), up.sum(axis=1)
    due = np.minimum(due, _rounding(batch.total, total_down, total_up))
    marks = thresholds.get("total", [])
    if marks:
        due = np.minimum(due, _marks(batch.total, total_down, total_up, np.array(sorted(marks))))
    return _not_before_now(due)


def _not_before_now(due: FloatArray) -> FloatArray:
    out: FloatArray = np.maximum(due, 0.0)
    return out


def reasons_key(batch: ScoreBatch, row: int) -> str:
    """The substance of a contact's reasons: each rule that counted with its count and its
    own whole points, and each dimension limit that takes off whole points. The reasons
    text causes a write on its own only when this changes (see the module's docstring)."""
    rules, limits = [], []
    for reason in batch.reasons(row):
        if reason.limit:
            whole = whole_points(reason.points)
            if whole:
                limits.append(f"{reason.dimension}={whole}")
        else:
            shown = "" if reason.detail is None else f"({reason.detail})"
            rules.append(f"{reason.rule_id}:{reason.count}{shown}={whole_points(reason.points)}")
    return ",".join(sorted(rules)) + "|" + ",".join(sorted(limits))


# -- moments -------------------------------------------------------------------------------------


def _moments(rules: RuleSet, activities: ActivityFrame, now: float, due: FloatArray) -> None:
    """Activities dated after `now` start counting then; counted ones leave their windows."""
    at, who = activities.occurred_at, activities.contact_rows
    later = at > now
    if later.any():
        np.minimum.at(due, who[later], at[later] - now)
    windows: set[tuple[frozenset[ActivityType], float]] = set()
    for rule in rules.rules:
        # a window `since` a contact's date does not move with the moment
        if rule.activity is not None and rule.window_days is not None and rule.since is None:
            windows.add((frozenset(rule.activity), rule.window_days))
        if rule.absent is not None:
            windows.add((frozenset(rule.absent.activity), rule.absent.days))
    if rules.stages is not None:
        for stage in rules.stages.ladder:
            for cond in stage_conditions(stage.when):
                if cond.has_activity is not None and cond.within_days is not None:
                    windows.add((frozenset(cond.has_activity), cond.within_days))
    if rules.interests is not None and rules.interests.write != "none":
        for topic in rules.interests.topics:
            if topic.window_days is not None:
                windows.add((frozenset(topic.types), topic.window_days))
    for types, days in windows:
        width = days * _DAY
        codes = np.array([TYPE_CODES[t] for t in types], dtype=activities.type_codes.dtype)
        inside: BoolArray = np.isin(activities.type_codes, codes) & ~later & (at >= now - width)
        # counted while `now + t - at <= width`: the last moment unchanged is `at + width`
        np.minimum.at(due, who[inside], at[inside] + width - now)


def _thresholds(rules: RuleSet) -> dict[str, list[float]]:
    """The values of each dimension (and `total`) where a grade or stage changes."""
    out: dict[str, list[float]] = {}
    if rules.grades is not None:
        mins = [b.min for b in rules.grades.bands if b.min is not None]
        out.setdefault(rules.grades.dimension, []).extend(mins)
    if rules.stages is not None:
        for stage in rules.stages.ladder:
            for cond in stage_conditions(stage.when):
                for key, minimum in cond.min.items():
                    out.setdefault(key, []).append(minimum)
    return out


# -- crossings -----------------------------------------------------------------------------------


def _column(mask: BoolArray, column: int, width: int) -> BoolArray:
    out = np.zeros((len(mask), width), dtype=bool)
    out[:, column] = mask
    return out


_ROUNDED = 0.01
"""Interest scores are compared and written rounded to two decimals: a boundary is
taken as reached this much early."""


def _interest_due(found: InterestScores) -> FloatArray:
    """Until a written interest value may change by decay (interest points are positive,
    so they only fall): the top's whole points, each topic's where written, and which
    topic is on top, whose lead over any other closes at most at the top's own rate
    (the other only falls too). A topic at its cap is taken to fall from now: early."""
    scores = np.asarray(found.scores, dtype=np.float64)
    n = len(scores)
    rates = np.zeros_like(scores)
    for index, topic in enumerate(found.interests.topics):
        if topic.half_life_days is not None:
            rates[:, index] = scores[:, index] * (_LN2 / (topic.half_life_days * _DAY))
    top = np.maximum(found.top, 0)
    rows = np.arange(n)
    lead, rate = scores[rows, top], rates[rows, top]

    def edge(value: FloatArray, speed: FloatArray) -> FloatArray:
        # the whole points written, of the value rounded to two decimals, change when it
        # falls below their lower rounding edge (halves up)
        written = np.floor(np.round(value, 2) + 0.5)
        below = value - (written - 0.5) - _ROUNDED
        return _over(np.maximum(below, 0.0), speed, value)

    due = np.where(found.top >= 0, edge(lead, rate), np.inf)
    if scores.shape[1] > 1:
        others = scores.copy()
        others[rows, top] = -np.inf
        # a topic tied with the top at the same rate, below its cap, falls in step with it
        # and stays behind it (a tie goes to the topic listed first): no lead to close
        caps = np.array([t.cap if t.cap is not None else np.inf for t in found.interests.topics])
        in_step = (others == lead[:, None]) & (rates == rate[:, None]) & (scores < caps)
        others[in_step] = -np.inf
        gap = lead - others.max(axis=1) - _ROUNDED
        due = np.minimum(
            due, np.where(found.top >= 0, _over(np.maximum(gap, 0), rate, lead), np.inf)
        )
    if found.interests.write == "each":
        for index in range(scores.shape[1]):
            due = np.minimum(due, edge(scores[:, index], rates[:, index]))
    return due


def _over(distance: FloatArray, rate: FloatArray | float, scale: FloatArray | float) -> FloatArray:
    """Seconds to cover `distance` (less the slack) at `rate`; inf where the rate is 0."""
    rate = np.broadcast_to(np.asarray(rate, dtype=np.float64), np.shape(distance))
    room = np.maximum(distance - _SLACK * (1.0 + np.abs(scale)), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(rate > 0, room / np.where(rate > 0, rate, 1.0), np.inf)
    return np.asarray(out, dtype=np.float64)


def _towards(distance: FloatArray, value: FloatArray, rate: FloatArray) -> FloatArray:
    return _over(distance, rate, value)


def _steps(
    value: FloatArray, down: FloatArray | float, up: FloatArray | float, offset: float
) -> FloatArray:
    """Time to the nearest boundary `offset + k` below (at `down`) or above (at `up`)."""
    x = np.asarray(value, dtype=np.float64) - offset
    below = x - np.floor(x)
    above = np.floor(x) + 1.0 - x
    return np.minimum(_over(below, down, value), _over(above, up, value))


def _rounding(value: FloatArray, down: FloatArray | float, up: FloatArray | float) -> FloatArray:
    """Until `whole_points(value)` (halves up) may change: value crossing some `k - 0.5`."""
    return _steps(value, down, up, 0.5)


def _integers(value: FloatArray, down: FloatArray, up: FloatArray) -> FloatArray:
    return _steps(value, down, up, 0.0)


def _marks(value: FloatArray, down: FloatArray, up: FloatArray, marks: FloatArray) -> FloatArray:
    """Until `value >= m` may change for some mark m (sorted): reaching one from above or
    below, equality counted as reached both ways."""
    below_at = np.searchsorted(marks, value, side="right") - 1
    above_at = np.searchsorted(marks, value, side="left")
    padded = np.concatenate([[-np.inf], marks, [np.inf]])
    below = value - padded[below_at + 1]
    above = padded[above_at + 1] - value
    return np.minimum(_over(below, down, value), _over(above, up, value))


def rollup_due(
    spec: Accounts,
    activities: ActivityFrame,
    size: int,
    group: Callable[[list[ActivityType]], Grouped],
    now: float,
) -> FloatArray:
    """Per contact (of `size`, its activities `activities`, the usable ones by type from
    `group` as of `now`), the moment (epoch seconds) from which its own engagement or
    counts in an account's roll-up (`scoring.accounts.own_counts`) may change with no new
    data: one of their activities dated after `now` starts counting, a counted one leaves
    its window (inf: never). An account's roll-up may change first at its people's least."""
    due = np.full(size, np.inf)
    windows = [(spec.engagement.activity, spec.engagement.window_days)]
    windows += [(count.activity, count.window_days) for count in spec.counts.values()]
    kinds = sorted({TYPE_CODES[t] for types, _ in windows for t in types})
    at = activities.occurred_at
    later = (at > now) & np.isin(activities.type_codes, np.array(kinds, dtype=np.int64))
    np.minimum.at(due, activities.contact_rows[later], at[later])
    for types, days in windows:
        if days is None:
            continue
        width = days * _DAY
        for kind in types:
            found = group([kind])
            inside = found.ages <= width
            # counted while its age is at most `width`: unchanged until `now + width - age`
            np.minimum.at(due, found.who[inside], now + (width - found.ages[inside]))
    return due
