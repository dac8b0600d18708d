"""RFM on whole columns: each contact's purchases measured, quintile bounds over a
population, and the digits 1 to 5, their sum and segment.

A contact's purchases are its activities of the rule file's `rfm.activity` types up to
its scoring moment. Recency is the moment of the last one, frequency their count,
monetary value the sum of their amounts (a missing or non-numeric amount counts 0).
A contact without a purchase has no digits (0 here, missing in conditions).

Digits by fixed bounds (`rfm.bounds`): recency in days since the last purchase, up to
the first bound 5 down to beyond the fourth 1; frequency and monetary up to the first
bound 1 up to beyond the fourth 5. Digits by quintiles: the bounds are four values of
the population (the contacts with a purchase), the k-th the value of rank ceil(k·n/5)
in rising order (nearest rank); recency is ranked by the moment of the last purchase
(later is better), which does not move with time. A contact's digit is 1 plus the
number of bounds below its value, but for a tie: a value equal to two or more bounds
spans the digits from 1 plus the bounds below it to 1 plus the bounds at or below it,
and takes the lowest of its span when the span touches 1, 5 when it touches 5 (and not
1), else the middle of its span (rounded down) (`quintile_digit`). Ties share a digit,
and digits rise with the value; with no purchaser in the population there are no bounds
and every purchaser scores 1, as a lone purchaser does.

The engine never computes quintiles over its batch: the caller passes them
(`RfmBounds`, from `population_bounds` over the scored population), so a batch of one
scores as a batch of many.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from scoring.errors import InputError
from scoring.frames import (
    ActivityFrame,
    BoolArray,
    CategoricalColumn,
    Column,
    FloatArray,
    NumericColumn,
)
from scoring.purchases import Sales, frame_sales
from scoring.records import TYPE_CODES
from scoring.rfm_rules import MEASURES, RFM_FIELDS, Rfm

if TYPE_CHECKING:
    from scoring.rules import RuleSet

_DAY = 86_400.0
Digits = npt.NDArray[np.int8]


@dataclass(frozen=True)
class RfmBounds:
    """The quintile bounds of a population: per measure four rising values (recency as
    epoch seconds of the last purchase), empty when the population had no purchaser."""

    recency: tuple[float, ...] = ()
    frequency: tuple[float, ...] = ()
    monetary: tuple[float, ...] = ()
    people: int = 0
    """How many contacts with a purchase they were computed over."""
    notes: tuple[str, ...] = ()
    """What the population's purchases say of how monetary value was measured
    (`Sales.notes`): a batch scored by these bounds says these, whoever it holds, so that
    every run over one store says them alike."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "recency": list(self.recency),
            "frequency": list(self.frequency),
            "monetary": list(self.monetary),
            "people": self.people,
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RfmBounds:
        r, f, m = (tuple(float(v) for v in data.get(name) or ()) for name in MEASURES)
        notes = tuple(str(n) for n in data.get("notes") or ())
        return cls(r, f, m, people=int(data.get("people", 0)), notes=notes)


@dataclass(frozen=True, eq=False)
class ContactBounds:
    """Quintile bounds per contact: each measure's four bounds as a (4, contacts) array,
    the population's as of that contact's own moment (`scoring.as_of`); +inf where the
    population had no purchaser then (a contact's purchase puts it in the population, so
    only contacts without a digit meet one)."""

    recency: FloatArray
    frequency: FloatArray
    monetary: FloatArray
    people: npt.NDArray[np.int64]
    """Per contact, how many contacts with a purchase they were computed over."""


Bounds = RfmBounds | ContactBounds
"""One population's bounds for every contact, or each contact's own."""


@dataclass(frozen=True, eq=False)
class Measures:
    """Per contact: whether it has a purchase, the last one's moment (-inf: none), their
    count and the sum of their amounts."""

    bought: BoolArray
    last: FloatArray
    count: FloatArray
    amount: FloatArray


def measure(who: npt.NDArray[np.int32], at: FloatArray, amounts: FloatArray, size: int) -> Measures:
    """The measures of `size` contacts from their purchases: contact row, moment and amount
    of each (NaN amount: 0). Each contact's amounts are summed in the order of their
    moments (then of the amounts): an order of the values alone, so that any reading of
    the same purchases, and a running sum over time (`scoring.as_of`), gives the same sum
    to the last bit."""
    count = np.bincount(who, minlength=size).astype(np.float64)
    clean = np.where(np.isfinite(amounts), amounts, 0.0)
    order = np.lexsort((clean, at))
    # bincount returns integers for an empty input, even with weights
    amount = np.bincount(who[order], weights=clean[order], minlength=size).astype(
        np.float64, copy=False
    )
    last = np.full(size, -np.inf)
    np.maximum.at(last, who, at)
    return Measures(count > 0, last, count, amount)


def rfm_scores(
    rfm: Rfm,
    activities: ActivityFrame,
    rows: npt.NDArray[np.intp],
    size: int,
    bounds: Bounds | None,
    moment: float | FloatArray,
) -> RfmScores:
    """The RFM of `size` contacts from their purchases, the activity `rows` that count. Its
    notes are the population's where `bounds` are one population's (`RfmBounds.notes`),
    else those of these contacts' purchases."""
    measures, found = _measured(rfm, activities, rows, size)
    notes = bounds.notes if isinstance(bounds, RfmBounds) else found.notes(rfm)
    return RfmScores.of(rfm, measures, bounds, moment, notes)


def _measured(
    rfm: Rfm, activities: ActivityFrame, rows: npt.NDArray[np.intp], size: int
) -> tuple[Measures, Sales]:
    """The measures of `size` contacts from the purchase `rows` of `activities`, each sale
    once (`scoring.purchases`), and those sales."""
    found = frame_sales(rfm, activities, rows)
    return measure(found.who, found.at, found.amounts, size), found


def population_bounds(
    rules: RuleSet, activities: ActivityFrame, size: int, moment: float
) -> RfmBounds | None:
    """The quintile bounds of a population: the `size` contacts `activities` belong to, as
    of `moment` (None when the rules score no measure by quintiles)."""
    rfm = rules.rfm
    if rfm is None or not rfm.quintiles:
        return None
    codes = np.array([TYPE_CODES[t] for t in rfm.activity], dtype=np.int8)
    rows = np.flatnonzero(
        np.isin(activities.type_codes, codes) & (activities.occurred_at <= moment)
    )
    measures, found = _measured(rfm, activities, rows, size)
    return bounds_of(measures, found.notes(rfm))


def quintile_bounds(values: FloatArray) -> tuple[float, ...]:
    """Four bounds between the quintiles of `values` (nearest rank: the k-th is the value
    of rank ceil(k·n/5)); none for no values."""
    n = len(values)
    if n == 0:
        return ()
    ordered = np.sort(values)
    return tuple(float(ordered[(k * n + 4) // 5 - 1]) for k in range(1, 5))


def bounds_of(measures: Measures, notes: tuple[str, ...] = ()) -> RfmBounds:
    """The quintile bounds over the contacts of `measures` that have a purchase, with what
    their purchases say (`notes`)."""
    kept = measures.bought
    return RfmBounds(
        quintile_bounds(measures.last[kept]),
        quintile_bounds(measures.count[kept]),
        quintile_bounds(measures.amount[kept]),
        people=int(kept.sum()),
        notes=notes,
    )


def rising_digit(values: FloatArray, bounds: Sequence[float] | FloatArray) -> Digits:
    """1 plus the number of bounds below each value (up to the first bound: 1)."""
    return 1 + _above(values, bounds)


def quintile_digit(values: FloatArray, bounds: Sequence[float] | FloatArray) -> Digits:
    """The digit of each value by quintile bounds: that of `rising_digit`, but for a value
    equal to two or more bounds (a tie across digits), whose span runs from 1 plus the
    bounds below it to 1 plus the bounds at or below it: a span touching 1 gives 1, one
    touching 5 (and not 1) gives 5, any other its middle (rounded down)."""
    low = 1 + _above(values, bounds)
    high = 1 + _above(values, bounds, at=True)
    middle = (low + high) // 2
    tied = np.where(low == 1, low, np.where(high == 5, 5, middle))
    return np.where(high - low >= 2, tied, low).astype(np.int8)


def _above(values: FloatArray, bounds: Sequence[float] | FloatArray, *, at: bool = False) -> Digits:
    """How many of the (four) bounds each value is above (`at`: at or above): a comparison
    per bound, which costs less than a search per value (a bound may be one per value)."""
    out = np.zeros(len(values), dtype=np.int8)
    for bound in bounds:
        out += (values >= bound) if at else (values > bound)
    return out


def digits(
    rfm: Rfm, measures: Measures, bounds: Bounds | None, moment: float | FloatArray
) -> tuple[Digits, Digits, Digits]:
    """The recency, frequency and monetary digits (0 for a contact without a purchase),
    by the rule file's fixed bounds or the population's quintile `bounds`."""
    missing = [m for m in rfm.quintiles if bounds is None]
    if missing:
        raise InputError(
            f"rfm: the quintile bounds of {', '.join(missing)} are the population's; "
            "compute them over it (scoring.rfm.population_bounds) and pass them in"
        )
    fixed = rfm.bounds
    if fixed.recency is not None:
        with np.errstate(invalid="ignore"):
            days = (moment - measures.last) / _DAY
        r = 5 - _above(days, fixed.recency)
    else:
        assert bounds is not None
        r = quintile_digit(measures.last, bounds.recency)
    f = _digit(measures.count, fixed.frequency, bounds.frequency if bounds else ())
    m = _digit(measures.amount, fixed.monetary, bounds.monetary if bounds else ())
    none = ~measures.bought
    for digit in (r, f, m):
        digit[none] = 0
    return r, f, m


def _digit(
    values: FloatArray, fixed: Sequence[float] | None, quintiles: Sequence[float] | FloatArray
) -> Digits:
    """A rising measure's digits: by the rule file's fixed bounds, else by quintiles."""
    if fixed:
        return rising_digit(values, fixed)
    return quintile_digit(values, quintiles)


def moved_digits(
    rfm: Rfm, measures: Measures, old: Bounds | None, new: Bounds | None, moment: float
) -> BoolArray:
    """Per contact of `measures`, whether any of its digits differs between the bounds
    `old` and `new` (either missing: every contact with a purchase)."""
    if old is None or new is None:
        return measures.bought.copy()
    before, after = digits(rfm, measures, old, moment), digits(rfm, measures, new, moment)
    moved = np.zeros(len(measures.bought), dtype=bool)
    for a, b in zip(before, after, strict=True):
        moved |= a != b
    return moved


def segment_codes(rfm: Rfm, r: Digits, f: Digits, m: Digits) -> npt.NDArray[np.int16]:
    """Per contact the index of the first segment its digits match (-1: none)."""
    codes = np.full(len(r), -1, dtype=np.int16)
    for index in range(len(rfm.segments) - 1, -1, -1):  # last first: the first match wins
        segment = rfm.segments[index]
        hold = r > 0
        for digit, span in ((r, segment.r), (f, segment.f), (m, segment.m)):
            if span is not None:
                hold &= (digit >= span[0]) & (digit <= span[1])
        codes[hold] = index
    return codes


@dataclass(frozen=True, eq=False)
class RfmScores:
    """A batch's RFM: the measures, the three digits, the segments, and the bounds used."""

    rfm: Rfm
    measures: Measures
    r: Digits
    f: Digits
    m: Digits
    segments: npt.NDArray[np.int16]
    bounds: Bounds | None
    moment: float | FloatArray
    """The moment each contact was scored as of (epoch seconds)."""
    notes: tuple[str, ...] = ()
    """How monetary value was measured, where a person should know (`Sales.notes`)."""

    @classmethod
    def of(
        cls,
        rfm: Rfm,
        measures: Measures,
        bounds: Bounds | None,
        moment: float | FloatArray,
        notes: tuple[str, ...] = (),
    ) -> RfmScores:
        r, f, m = digits(rfm, measures, bounds, moment)
        codes = segment_codes(rfm, r, f, m)
        return cls(rfm, measures, r, f, m, codes, bounds, moment, notes)

    @cached_property
    def total(self) -> npt.NDArray[np.int16]:
        """The sum of the three digits (0 without a purchase)."""
        return self.r.astype(np.int16) + self.f + self.m

    def code(self, row: int) -> str | None:
        """The three digits as text (`543`); None without a purchase."""
        if not self.measures.bought[row]:
            return None
        return f"{self.r[row]}{self.f[row]}{self.m[row]}"

    def segment(self, row: int) -> str | None:
        index = int(self.segments[row])
        return None if index < 0 else self.rfm.segments[index].name

    @property
    def fields(self) -> dict[str, Column]:
        """The contact fields rules and stages read (`RFM_FIELDS`), missing without a
        purchase."""
        return {name: self.field(name) for name in RFM_FIELDS}

    def field(self, name: str) -> Column:
        """One of `fields`, made when first read (rules read one or two of them)."""
        found = self._fields.get(name)
        if found is None:
            found = self._fields[name] = self._make(name)
        return found

    @cached_property
    def _fields(self) -> dict[str, Column]:
        return {}

    def _make(self, name: str) -> Column:
        bought = self.measures.bought
        digit = {"rfm_r": self.r, "rfm_f": self.f, "rfm_m": self.m}.get(name)
        if digit is not None:
            return NumericColumn(np.where(bought, digit, np.nan))
        if name == "rfm_score":
            return NumericColumn(np.where(bought, self.total, np.nan))
        if name == "rfm":
            # the 125 texts 111 to 555 in order, each contact's code its place among them
            r, f, m = (d.astype(np.int32) - 1 for d in (self.r, self.f, self.m))
            texts = np.array([f"{a}{b}{c}" for a in "12345" for b in "12345" for c in "12345"])
            place = np.where(bought, r * 25 + f * 5 + m, -1)
            return CategoricalColumn(place, texts.astype(object))
        assert name == "rfm_segment", name
        names = np.array([s.name for s in self.rfm.segments], dtype=object)
        return CategoricalColumn(self.segments.astype(np.int32), names)

    def columns(self, order: npt.NDArray[np.intp]) -> dict[str, Any]:
        """The output columns of `leadscore score --out` in `order`: digits as text, their
        sum (0: no purchase) and the segment as (codes, categories)."""
        fields = self.fields
        rfm, segment = fields["rfm"], fields["rfm_segment"]
        assert isinstance(rfm, CategoricalColumn) and isinstance(segment, CategoricalColumn)
        return {
            "rfm": (rfm.codes[order], rfm.categories),
            "rfm_score": self.total[order].astype(np.int64),
            "rfm_segment": (segment.codes[order], segment.categories),
        }

    def row(self, row: int) -> dict[str, Any]:
        return {
            "rfm": self.code(row),
            "rfm_score": int(self.total[row]),
            "rfm_segment": self.segment(row),
        }

    def explain(self, row: int) -> str:
        """One line on a contact's RFM and what each digit stands on, for `explain`."""
        if not self.measures.bought[row]:
            return "RFM: no purchase"
        code, named = self.code(row), self.segment(row)
        last = self.measures.last[row]
        moment = self.moment if isinstance(self.moment, float) else float(self.moment[row])
        days = max(0, math.floor((moment - last) / _DAY))
        when = datetime.fromtimestamp(last, UTC).date().isoformat()
        by = self.rfm.quintiles
        fixed = [m[0].upper() for m in MEASURES if m not in by]
        counted = None if self.bounds is None else self.bounds.people
        if isinstance(counted, np.ndarray):
            counted = int(counted[row])
        people = "" if counted is None else f" of {counted} purchaser{_plural(counted)}"
        how = "; ".join(
            part
            for part in (
                f"{', '.join(m[0].upper() for m in by)} by quintiles{people}" if by else "",
                f"{', '.join(fixed)} by fixed bounds" if fixed else "",
            )
            if part
        )
        count = int(self.measures.count[row])
        parts = [
            f"R{self.r[row]} last purchase {when} ({days} days ago)",
            f"F{self.f[row]} {count} purchase{_plural(count)}",
            f"M{self.m[row]} {_amount(self.measures.amount[row])} {self.rfm.amount}",
        ]
        head = f"RFM {code}" + (f" {named}" if named else "")
        return f"{head}: {', '.join(parts)} ({how})"


def _plural(count: int) -> str:
    return "" if count == 1 else "s"


def _amount(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".")


def changes_in(scores: RfmScores, moment: float | FloatArray) -> FloatArray:
    """Per contact, the seconds until its recency digit moves with time alone: under fixed
    bounds when the days since its last purchase pass the next bound; never otherwise
    (quintiles rank the moment itself)."""
    out = np.full(len(scores.r), np.inf)
    bounds = scores.rfm.bounds.recency
    if bounds is None:
        return out
    last = scores.measures.last
    for bound in bounds:
        later = last + bound * _DAY - moment
        with np.errstate(invalid="ignore"):
            ahead = scores.measures.bought & (later >= 0)
        out = np.where(ahead, np.minimum(out, later), out)
    return out
