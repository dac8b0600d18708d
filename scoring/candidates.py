"""Candidate rules for `leadscore calibrate`: what the data could say, in the rule language.

A candidate is a rule without its points: a contact value (a category held by enough
contacts, a numeric bucket between quantiles, a missing value) or an activity group (a
count up to a threshold, a recent activity, decaying activities). The engine itself
scores every candidate at one point per unit, so the fitted file's score is exactly
the weighted sum of the columns the fit saw (`features`).

`rule_data` is the one place a candidate becomes rule-file data: the fitted file and
the candidates scored for the fit are both written by it.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from scoring.engine import score
from scoring.frames import (
    ActivityFrame,
    CategoricalColumn,
    Column,
    ContactFrame,
    FloatArray,
    format_number,
)
from scoring.numbers import parse_number
from scoring.records import TYPE_CODES
from scoring.rules import IDENTIFIER, OUTPUT_COLUMNS, Dimension, Rule, RuleSet
from scoring.ruletypes import MAX_POINTS, Filters

MIN_SUPPORT = 20
"""The fewest contacts a category or bucket needs to become a candidate (or a share,
`SUPPORT_SHARE`, of them when that is more)."""
SUPPORT_SHARE = 0.005
MAX_CATEGORIES = 30
"""Categories per column, the most common first."""
NUMERIC_BUCKETS = 6
"""Numeric columns are cut at the quantiles into at most this many buckets."""
THRESHOLDS = True
NUMERIC_SHARE = 0.95
"""A text column is numeric when this share of its values read as numbers."""
COUNT_CAPS = (3, 10)
"""Activities of a type counted one by one up to these caps..."""
MIN_COUNTS = (1, 3, 10)
"""... and as steps, once at least this many (`min_count`)."""
LINEAR_STEPS = 500
"""A numeric column measured per unit has about this many units between its low and
high quantiles (`LINEAR_QUANTILES`), its cap at the high one, but no unit finer than the
column's own resolution (the least gap between its values): fine units keep contacts of
different values apart, where coarse ones would tie them."""
LINEAR_QUANTILES = (0.01, 0.99)
LINEAR_NEAR_ZERO = 0.5
"""Units count from zero: a column whose low quantile is above this share of its high
one would give everyone a large constant, and has no per-unit candidate."""
TREND_STEPS = 1000
"""The fit sees a trend in units of about this share of its column's range (or of the
column's resolution, the least gap between its values, when that is coarser)."""
GUARD = 1.0
"""A trend's cap is where the column's highest value plus this many times its range
would be: a value so far out is a typo more likely than a lead that far along."""
WINDOWS = (7, 30, 90)
HALF_LIFE = 30.0
HALF_LIFE_CAP = 5.0
SKIPPED_FIELDS = frozenset({"email"})


@dataclass(frozen=True)
class Candidate:
    """A rule without its points. `contact` conditions for a value rule; `activity` and
    its shape for a behaviour rule. `unit_cap` is the cap in matches (a rule of `p`
    points gets `|p| * unit_cap`)."""

    id: str
    label: str
    contact: Mapping[str, Any] | None = None
    activity: str | None = None
    unit_cap: float | None = None
    once: bool = False
    window_days: float | None = None
    half_life_days: float | None = None
    min_count: int | None = None
    value: str | None = None
    """A numeric contact field measured per unit (`per`, capped at `unit_cap` units) or,
    with `buckets`, by bucket."""
    per: float | None = None
    column: str | None = None
    """The numeric column of a bucket or step candidate (`bounds` from low to high):
    several of one column become one `buckets` rule in the fitted file."""
    bounds: tuple[float | None, float | None] | None = None
    buckets: tuple[tuple[float | None, float | None, float], ...] | None = None
    trend: bool = False
    """A per-unit candidate whose cap is a guard far out (`trend_candidate`): fitted centred,
    written in whole points per a round step (`scoring.trends`)."""
    centres: str | None = None
    """The id of the trend this candidate (its column given) brings back to 0 at its median."""

    @property
    def is_behaviour(self) -> bool:
        return self.activity is not None


def rule_data(candidate: Candidate, points: float, dimension: str | None = None) -> dict[str, Any]:
    """The candidate as rule-file data worth `points` (per unit), in `dimension`; a
    candidate with `buckets` carries its own points (`points` is not written)."""
    data: dict[str, Any] = {"id": candidate.id, "label": candidate.label}
    if dimension is not None:
        data["dimension"] = dimension
    if candidate.activity is not None:
        data["activity"] = candidate.activity
    if candidate.contact is not None:
        data["contact"] = dict(candidate.contact)
    if candidate.value is not None:
        data["value"] = candidate.value
    if candidate.buckets is not None:
        data["buckets"] = [list(bucket) for bucket in candidate.buckets]
        return data
    if candidate.per is not None:
        data["per"] = candidate.per
    if candidate.min_count is not None:
        data["min_count"] = candidate.min_count
    data["points"] = points
    if candidate.once:
        data["once"] = True
    if candidate.unit_cap is not None:
        data["cap"] = float(f"{abs(points) * candidate.unit_cap:.12g}")
    if candidate.window_days is not None:
        data["window_days"] = candidate.window_days
    if candidate.half_life_days is not None:
        data["half_life_days"] = candidate.half_life_days
    return data


def bucket_rule(parts: list[tuple[Candidate, float]], taken: Iterable[str]) -> Candidate:
    """Bucket and step candidates of one numeric column, with their points, as one
    `buckets` candidate that gives every value the sum of the points of the parts that
    hold it: the column cut at every bound of the parts, buckets of 0 points left out and
    neighbours of equal points joined. Its id is new (not in `taken`)."""
    column = parts[0][0].column
    assert column is not None and all(c.column == column and c.bounds for c, _ in parts)
    edges = sorted({e for c, _ in parts for e in c.bounds or () if e is not None})
    pieces: list[list[Any]] = []
    for low, high in itertools.pairwise([None, *edges, None]):
        total = round(sum(points for c, points in parts if _holds(c.bounds, low, high)), 9)
        if total == 0:
            continue
        if pieces and pieces[-1][2] == total and pieces[-1][1] == low:
            pieces[-1][1] = high
        else:
            pieces.append([low, high, total])
    ids = _Ids()
    ids.taken.update(taken)
    return Candidate(
        ids.new(column, "buckets"),
        f"{column}, by bucket",
        value=column,
        buckets=tuple((_bound(lo), _bound(hi), float(p)) for lo, hi, p in pieces),
    )


def _holds(bounds: tuple[float | None, float | None] | None, low: Any, high: Any) -> bool:
    """Whether a part's bounds hold the piece from `low` to `high` (None: open)."""
    assert bounds is not None
    start, end = bounds
    above = start is None or (low is not None and start <= low)
    below = end is None or (high is not None and high <= end)
    return above and below


def _bound(value: float | None) -> float | None:
    return None if value is None else _plain(value)


def default_dimension(candidate: Candidate) -> str:
    """Where the defaults put such a rule: fit, engagement (email) or activity."""
    if candidate.activity is None:
        return "fit"
    return "engagement" if candidate.activity.startswith("email_") else "activity"


def min_support(contacts: int) -> int:
    return max(MIN_SUPPORT, int(SUPPORT_SHARE * contacts))


def all_candidates(
    contacts: ContactFrame,
    activities: ActivityFrame,
    skipped: Iterable[str] = (),
    trends: bool = False,
) -> list[Candidate]:
    """The candidates of contact values (every column but `skipped` and the address; with
    `trends`, a trend of each numeric column), then of activities, with unique ids."""
    ids = _Ids()
    return contact_candidates(contacts, skipped, ids, trends) + activity_candidates(activities, ids)


def contact_candidates(
    frame: ContactFrame, skipped: Iterable[str], ids: _Ids, trends: bool = False
) -> list[Candidate]:
    """Candidates from every contact column but `skipped` (and the address itself).

    Each column's candidates leave out one side of it, its reference: the commonest of its
    categories, buckets and blanks. No sum of candidates is then the same for everyone,
    so the fit cannot move a constant between them: the typical contact scores 0."""
    least = min_support(len(frame))
    left_out = SKIPPED_FIELDS | set(skipped)
    found: list[Candidate] = []
    for name, column in frame.columns.items():
        if name in left_out:
            continue
        missing = int(np.count_nonzero(_missing(column)))
        numbers = _numbers(column)
        if numbers is not None:
            trend = trend_candidate(name, numbers, least, ids) if trends else None
            parts, blank_reference = _buckets(name, numbers, least, missing, ids, trend is None)
            found += (
                parts + _linear(name, numbers, least, ids) + ([trend] if trend is not None else [])
            )
        else:
            assert isinstance(column, CategoricalColumn)
            parts, blank_reference = _categories(name, column, least, missing, ids)
            found += parts
        if not blank_reference and least <= missing <= len(frame) - least:
            found.append(
                Candidate(ids.new(name, "missing"), f"{name}: blank", {name: {"exists": False}})
            )
    return found


def activity_candidates(activities: ActivityFrame, ids: _Ids) -> list[Candidate]:
    """Candidates from each activity type present: counts up to a threshold, an activity in
    the last days, and activities decaying with a half-life."""
    present = set(np.unique(activities.type_codes).tolist())
    found: list[Candidate] = []
    for kind, code in TYPE_CODES.items():
        if code not in present:
            continue
        name = kind.value
        words = name.replace("_", " ")
        for cap in COUNT_CAPS:
            if cap > 1:
                text = f"{words}, each up to {cap}"
                found.append(Candidate(ids.new(name, f"upto_{cap}"), text, None, name, float(cap)))
        for least in MIN_COUNTS:
            text = f"{words}, any" if least == 1 else f"{words}, {least} or more"
            found.append(
                Candidate(ids.new(name, f"min_{least}"), text, activity=name, min_count=least)
            )
        for days in WINDOWS:
            found.append(
                Candidate(
                    ids.new(name, f"last_{days}_days"),
                    f"{words} in the last {days} days",
                    activity=name,
                    once=True,
                    window_days=float(days),
                )
            )
        found.append(
            Candidate(
                ids.new(name, "recent"),
                f"{words}, halving every {format_number(HALF_LIFE)} days",
                activity=name,
                unit_cap=HALF_LIFE_CAP,
                half_life_days=HALF_LIFE,
            )
        )
    return found


def candidate_rules(candidates: list[Candidate], filters: Filters) -> RuleSet:
    """Every candidate at one point per unit in one uncapped dimension, with the `filters`
    of the file being calibrated (the machine-click filter sets activities aside)."""
    rules = [Rule.model_validate(rule_data(c, 1, "fit")) for c in candidates]
    return RuleSet(dimensions={"fit": Dimension()}, rules=rules, filters=filters)


def features(
    candidates: list[Candidate],
    filters: Filters,
    contacts: ContactFrame,
    activities: ActivityFrame,
    as_of: datetime | FloatArray,
) -> FloatArray:
    """(contacts, candidates): each candidate's points at one point per unit, as the
    engine gives them."""
    batch = score(candidate_rules(candidates, filters), contacts, activities, as_of)
    matrix = np.zeros((len(contacts), len(candidates)), dtype=np.float64)
    for index, hits in enumerate(batch.rule_hits):
        matrix[:, index] = hits.dense(len(contacts))[0]
    return matrix


def _numbers(column: Column) -> FloatArray | None:
    """The column as numbers when it holds numbers (NaN where missing), else None."""
    if not isinstance(column, CategoricalColumn):
        return np.asarray(column.values, dtype=np.float64)
    parsed = np.array(
        [np.nan if (n := parse_number(str(c))) is None else n for c in column.categories],
        dtype=np.float64,
    )
    codes = column.codes
    present = codes >= 0
    if not present.any():
        return None
    values = np.where(present, parsed[np.maximum(codes, 0)], np.nan)
    read = np.count_nonzero(~np.isnan(values))
    distinct = np.unique(values[~np.isnan(values)])
    if read < NUMERIC_SHARE * np.count_nonzero(present) or len(distinct) <= 2:
        return None
    return values


def _missing(column: Column) -> Any:
    if isinstance(column, CategoricalColumn):
        return column.codes < 0
    return np.isnan(column.values)


def _buckets(
    name: str, values: FloatArray, least: int, missing: int, ids: _Ids, steps: bool = True
) -> tuple[list[Candidate], bool]:
    """Buckets between the quantiles but the reference (the commonest bucket, or the blanks
    when they are commoner: then True), and steps away from the reference: up from each
    edge above it, down from each edge below it."""
    present = values[~np.isnan(values)]
    edges = np.unique(
        np.quantile(present, np.linspace(0, 1, NUMERIC_BUCKETS + 1)[1:-1], method="lower")
    )
    inner: list[float] = edges[edges > present.min()].tolist()
    pairs = list(itertools.pairwise([None, *inner, None]))
    counts = [int(np.count_nonzero(_inside(present, low, high))) for low, high in pairs]
    reference = int(np.argmax(counts)) if max(counts) > missing else None
    found = [
        _range_candidate(name, low, high, ids)
        for index, ((low, high), count) in enumerate(zip(pairs, counts, strict=True))
        if index != reference and (low is not None or high is not None) and count >= least
    ]
    if THRESHOLDS and steps:  # steps: a trend in few rules, 0 at the reference like the buckets
        above = 0 if reference is None else reference  # edges from inner[above] are above it
        for index, edge in enumerate(inner):
            up = index >= above
            if (up and index == len(inner) - 1) or (not up and index == 0):
                continue  # the top (or bottom) bucket itself
            side = int(np.count_nonzero(present >= edge))
            if least <= side <= len(present) - least:
                found.append(
                    _range_candidate(name, edge, None, ids)
                    if up
                    else _range_candidate(name, None, edge, ids)
                )
    return found, reference is None


def _inside(present: FloatArray, low: float | None, high: float | None) -> Any:
    inside = np.ones(len(present), dtype=bool)
    if low is not None:
        inside &= present >= low
    if high is not None:
        inside &= present < high
    return inside


def _range_candidate(name: str, low: float | None, high: float | None, ids: _Ids) -> Candidate:
    ops: dict[str, float] = {}
    if low is not None:
        ops["gte"] = _plain(low)
    if high is not None:
        ops["lt"] = _plain(high)
    shown = _range_text(low, high)
    return Candidate(
        ids.new(name, shown), f"{name} {shown}", {name: ops}, column=name, bounds=(low, high)
    )


def _linear(name: str, values: FloatArray, least: int, ids: _Ids) -> list[Candidate]:
    """Points per unit of the column up to a cap at its high quantile: a trend in one rule
    that keeps going where buckets stay flat. The engine counts no units below zero, so
    a column whose high quantile is not above zero has none."""
    present = values[~np.isnan(values)]
    low, high = np.quantile(present, LINEAR_QUANTILES, method="lower").tolist()
    low = max(low, 0.0)
    if high <= low or low > LINEAR_NEAR_ZERO * high:
        return []
    distinct = np.unique(present)
    finest = nice_step(float(np.diff(distinct).min()))  # the data's own resolution
    per = max(nice_step((high - low) / LINEAR_STEPS), finest)
    units = np.minimum(np.floor(present / per), math.floor(high / per))
    if np.count_nonzero(units >= 1) < least or len(np.unique(units)) < 3:
        return []
    shown = format_number(per)
    return [
        Candidate(
            ids.new(name, "per", shown),
            f"{name}, per {shown}",
            value=name,
            per=_plain(per),
            unit_cap=float(math.floor(high / per)),
        )
    ]


def trend_candidate(name: str, values: FloatArray, least: int, ids: _Ids) -> Candidate | None:
    """The trend of a column of numbers (NaN where missing) that are not below zero (the
    engine counts no units below it) and take at least three values held by `least`
    contacts in all; None for any other column."""
    present = values[~np.isnan(values)]
    if present.size < least or present.min() < 0:
        return None
    distinct = np.unique(present)
    if len(distinct) < 3:
        return None
    low, high = float(distinct[0]), float(distinct[-1])
    finest = nice_step(float(np.diff(distinct).min()))
    per = max(nice_step((high - low) / TREND_STEPS), finest)
    guard = high + GUARD * (high - low)
    if per > MAX_POINTS or math.floor(guard / per) > MAX_POINTS:
        return None  # a rule's `per` and `cap` stay within a million (`scoring.ruletypes`)
    shown = format_number(per)
    return Candidate(
        ids.new(name, "trend"),
        f"{name}, per {shown} (a trend)",
        value=name,
        per=_plain(per),
        unit_cap=float(math.floor(guard / per)),
        trend=True,
    )


def nice_step(size: float) -> float:
    """The number 1, 2 or 5 times a power of ten nearest below `size` (> 0)."""
    power = 10.0 ** math.floor(math.log10(size))
    for factor in (5, 2, 1):
        if factor * power <= size:
            return float(f"{factor * power:.12g}")
    return float(f"{power:.12g}")


def _range_text(low: float | None, high: float | None) -> str:
    if low is None:
        return f"under {format_number(high or 0.0)}"
    if high is None:
        return f"{format_number(low)} or more"
    return f"{format_number(low)} to under {format_number(high)}"


def _plain(value: float) -> float:
    """A bound as the file writes it: whole numbers without `.0`."""
    return int(value) if float(value).is_integer() else float(value)


def _categories(
    name: str, column: CategoricalColumn, least: int, missing: int, ids: _Ids
) -> tuple[list[Candidate], bool]:
    """The commonest categories but the reference (the commonest of all, or the blanks when
    they are commoner: then True): of a yes/no column, one side only."""
    counts = np.bincount(column.codes[column.codes >= 0], minlength=len(column.categories))
    folded: dict[str, tuple[int, str]] = {}
    for code, count in enumerate(counts.tolist()):
        text = str(column.categories[code])
        key = text.casefold()
        held, first = folded.get(key, (0, text))
        folded[key] = (held + count, first)
    common = sorted(folded.values(), key=lambda pair: -pair[0])
    blank_reference = not common or missing >= common[0][0]
    found = [
        Candidate(ids.new(name, text), f"{name}: {text}", {name: text})
        for index, (count, text) in enumerate(common[:MAX_CATEGORIES])
        if (index or blank_reference) and least <= count <= len(column) - least
    ]
    return found, blank_reference


class _Ids:
    """Rule ids in lower_snake_case, unique, never an output column's name."""

    def __init__(self) -> None:
        self.taken: set[str] = set()

    def new(self, *parts: str) -> str:
        words = re.sub(r"[^a-z0-9]+", "_", "_".join(parts).casefold()).strip("_")[:48]
        base = words if words and IDENTIFIER.match(words) else f"r_{words}".rstrip("_")
        if base in OUTPUT_COLUMNS:
            base = f"{base}_value"
        found, number = base, 2
        while found in self.taken:
            found, number = f"{base}_{number}", number + 1
        self.taken.add(found)
        return found
