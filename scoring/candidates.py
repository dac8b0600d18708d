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
from scoring.rules import IDENTIFIER, OUTPUT_COLUMNS, Dimension, Filters, Rule, RuleSet

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
COUNT_CAPS = (1, 3, 10)
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

    @property
    def is_behaviour(self) -> bool:
        return self.activity is not None


def rule_data(candidate: Candidate, points: int, dimension: str | None = None) -> dict[str, Any]:
    """The candidate as rule-file data worth `points` (per unit), in `dimension`."""
    data: dict[str, Any] = {"id": candidate.id, "label": candidate.label}
    if dimension is not None:
        data["dimension"] = dimension
    if candidate.activity is not None:
        data["activity"] = candidate.activity
    if candidate.contact is not None:
        data["contact"] = dict(candidate.contact)
    data["points"] = points
    if candidate.once:
        data["once"] = True
    if candidate.unit_cap is not None:
        data["cap"] = abs(points) * candidate.unit_cap
    if candidate.window_days is not None:
        data["window_days"] = candidate.window_days
    if candidate.half_life_days is not None:
        data["half_life_days"] = candidate.half_life_days
    return data


def default_dimension(candidate: Candidate) -> str:
    """Where the defaults put such a rule: fit, engagement (email) or activity."""
    if candidate.activity is None:
        return "fit"
    return "engagement" if candidate.activity.startswith("email_") else "activity"


def min_support(contacts: int) -> int:
    return max(MIN_SUPPORT, int(SUPPORT_SHARE * contacts))


def all_candidates(
    contacts: ContactFrame, activities: ActivityFrame, skipped: Iterable[str] = ()
) -> list[Candidate]:
    """The candidates of contact values (every column but `skipped` and the address),
    then of activities, with unique ids."""
    ids = _Ids()
    return contact_candidates(contacts, skipped, ids) + activity_candidates(activities, ids)


def contact_candidates(frame: ContactFrame, skipped: Iterable[str], ids: _Ids) -> list[Candidate]:
    """Candidates from every contact column but `skipped` (and the address itself)."""
    least = min_support(len(frame))
    left_out = SKIPPED_FIELDS | set(skipped)
    found: list[Candidate] = []
    for name, column in frame.columns.items():
        if name in left_out:
            continue
        numbers = _numbers(column)
        if numbers is not None:
            found += _buckets(name, numbers, least, ids)
        else:
            assert isinstance(column, CategoricalColumn)
            found += _categories(name, column, least, ids)
        missing = int(np.count_nonzero(_missing(column)))
        if least <= missing <= len(frame) - least:
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
            text = f"{words}, any" if cap == 1 else f"{words}, each up to {cap}"
            found.append(Candidate(ids.new(name, f"upto_{cap}"), text, None, name, float(cap)))
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


def _buckets(name: str, values: FloatArray, least: int, ids: _Ids) -> list[Candidate]:
    present = values[~np.isnan(values)]
    edges = np.unique(
        np.quantile(present, np.linspace(0, 1, NUMERIC_BUCKETS + 1)[1:-1], method="lower")
    )
    edges = edges[edges > present.min()]
    bounds = [None, *edges.tolist(), None]
    found = []
    for low, high in itertools.pairwise(bounds):
        inside = np.ones(len(present), dtype=bool)
        ops: dict[str, float] = {}
        if low is not None:
            inside &= present >= low
            ops["gte"] = _plain(low)
        if high is not None:
            inside &= present < high
            ops["lt"] = _plain(high)
        if not ops or np.count_nonzero(inside) < least:
            continue
        shown = _range_text(low, high)
        found.append(Candidate(ids.new(name, shown), f"{name} {shown}", {name: ops}))
    if THRESHOLDS:  # steps up from each inner edge: a trend in few rules
        for edge in edges.tolist()[:-1]:
            above = int(np.count_nonzero(present >= edge))
            if least <= above <= len(present) - least:
                shown = _range_text(edge, None)
                found.append(
                    Candidate(
                        ids.new(name, shown), f"{name} {shown}", {name: {"gte": _plain(edge)}}
                    )
                )
    return found


def _range_text(low: float | None, high: float | None) -> str:
    if low is None:
        return f"under {format_number(high or 0.0)}"
    if high is None:
        return f"{format_number(low)} or more"
    return f"{format_number(low)} to under {format_number(high)}"


def _plain(value: float) -> float:
    """A bound as the file writes it: whole numbers without `.0`."""
    return int(value) if float(value).is_integer() else float(value)


def _categories(name: str, column: CategoricalColumn, least: int, ids: _Ids) -> list[Candidate]:
    counts = np.bincount(column.codes[column.codes >= 0], minlength=len(column.categories))
    folded: dict[str, tuple[int, str]] = {}
    for code, count in enumerate(counts.tolist()):
        text = str(column.categories[code])
        key = text.casefold()
        held, first = folded.get(key, (0, text))
        folded[key] = (held + count, first)
    common = sorted(folded.values(), key=lambda pair: -pair[0])
    return [
        Candidate(ids.new(name, text), f"{name}: {text}", {name: text})
        for count, text in common[:MAX_CATEGORIES]
        if least <= count <= len(column) - least
    ]


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
