"""Scores of a batch and their explanations.

`ScoreBatch` keeps the engine's arrays; reasons are built on demand for the
contacts someone looks at or writes back, so that scoring a million contacts
does not build a million strings. Per rule it keeps only the contacts the rule
matched (`RuleHits`), not a (contacts x rules) matrix: most rules match few
contacts, and a dense matrix of a million contacts by a hundred rules is a
gigabyte to allocate and touch.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from scoring.frames import BoolArray, CategoricalColumn, FloatArray, IntArray, ObjectArray
from scoring.hit_arrays import hit_arrays
from scoring.rfm import RfmScores
from scoring.rules import Rule, RuleSet

if TYPE_CHECKING:
    from scoring.interests import InterestScores

SEPARATOR = " · "

RuleFacts = tuple[str, str, str, float, float | None, bool, bool, bool]
"""What the reasons of one rule repeat: id, label, dimension, points each, cap,
disqualify, once, and whether it measures (`Rule.measured`)."""


def rule_facts(rules: RuleSet, rule: Rule) -> RuleFacts:
    return (
        rule.id,
        rule.text,
        rules.dimension_of(rule),
        rule.points,
        rule.cap,
        rule.disqualify,
        rule.once,
        rule.measured,
    )


def detail_of(rule: Rule, measure: float) -> str:
    """How a measuring rule's reason shows what it measured: the value with its unit, the
    count of matching activities, or the window an absence covers."""
    if rule.absent is not None:
        return f"none in {number(rule.absent.days)} days"
    if rule.value is not None:
        # a typo's value (1e308) in six significant digits, not three hundred
        shown = number(measure) if abs(measure) < 1e9 else f"{measure:.6g}"
        return f"{shown} {rule.unit}" if rule.unit else shown
    return str(int(measure))


@dataclass(frozen=True)
class Reason:
    """One rule that moved a score, with its points after decay and caps."""

    rule_id: str
    label: str
    dimension: str
    points: float
    count: int
    base_points: float
    """What the matches were worth before decay and caps."""
    capped_at: float | None = None
    disqualifies: bool = False
    limit: bool = False
    """A dimension's cap or floor, not a rule: listed after the rules."""
    once: bool = False
    detail: str | None = None
    """What a measuring rule measured, as shown: `300 s`, `3`, `none in 90 days`."""

    @property
    def decayed(self) -> bool:
        """Whether decay took points off the rule (not a cap, not a dimension's limit)."""
        return not self.limit and not math.isclose(self.points, self.base_points, abs_tol=0.05)

    def describe(self, points: int) -> str:
        """The reason as a rep reads it, showing `points`: its points as whole points
        apportioned with the other reasons of the score (`ScoreBatch.explained`)."""
        head = f"{signed(points)} {self.label}"
        if self.count > 1 and not self.once:
            head += f" ×{self.count}"
        notes = [] if self.detail is None else [self.detail]
        if self.disqualifies:
            notes.append("disqualifies")
        if self.capped_at is not None:
            notes.append(f"capped at {whole_points(self.capped_at)}")
        elif self.decayed and points != whole_points(self.base_points):
            notes.append(f"decayed from {whole_points(self.base_points)}")
        return f"{head} ({', '.join(notes)})" if notes else head


def whole_points(value: float) -> int:
    """Whole points, halves rounded up (12.5 is 13), as a person rounds and as scores are
    written back."""
    return math.floor(value + 0.5)


def number(value: float) -> str:
    """A score for a table: one decimal where it has one."""
    rounded = round(value, 1)
    return str(int(rounded)) if rounded == int(rounded) else f"{rounded:.1f}"


def signed(value: float) -> str:
    text = number(value)
    return text if text.startswith("-") else f"+{text}"


def apportion(points: Sequence[float], total: int) -> list[int]:
    """Whole points for each of `points` that add up to `total`, the whole points of their sum.

    Each value is rounded down, and the points still missing go one each to the
    values with the largest remainders, so a list of reasons always adds up to the
    score written beside it, however the halves fall.
    """
    floors = [math.floor(p) for p in points]
    missing = max(0, min(len(points), total - sum(floors)))
    order = sorted(range(len(points)), key=lambda i: (floors[i] - points[i], i))
    for i in order[:missing]:
        floors[i] += 1
    return floors


def format_reasons(
    explained: Sequence[tuple[Reason, int]],
    *,
    disqualified: bool = False,
    shown: int | None = None,
    max_chars: int | None = None,
) -> str:
    """The one text of a score's reasons, for the CRM field, the terminal and files alike.

    `explained` are the reasons with their apportioned whole points, which add up
    to the whole score (`ScoreBatch.explained`): at most `shown` reasons, then what
    the others give together (`+12 from 4 more`), fewer reasons shown while the
    text is longer than `max_chars`.
    """
    reasons = [reason for reason, _ in explained]
    parts = [points for _, points in explained]
    count = len(reasons) if shown is None else min(shown, len(reasons))
    while True:
        texts = [r.describe(p) for r, p in zip(reasons[:count], parts[:count], strict=True)]
        rest = len(reasons) - count
        if rest:
            texts.append(f"{signed(sum(parts[count:]))} from {rest} more")
        if disqualified:
            texts.insert(0, "DISQUALIFIED")
        text = SEPARATOR.join(texts)
        if max_chars is None or len(text) <= max_chars or count == 0:
            return text if max_chars is None else text[:max_chars]
        count -= 1


@dataclass(frozen=True, eq=False)
class RuleHits:
    """The contacts one rule matched: their rows (ascending), how many of their activities
    matched (1 for a contact rule), and the rule's points after decay, once and its cap.

    A contact the rule did not match has no count and no points, and is not kept.
    """

    rows: IntArray
    counts: npt.NDArray[np.integer[Any]]
    """In the narrowest of uint8, uint16 and int32 that holds them."""
    points: npt.NDArray[np.floating[Any]]
    """float32 where that holds every value exactly (whole points, halves), else float64."""
    held: FloatArray | None = None
    """For a decaying rule with a cap: the seconds each contact's points stay at the cap
    while the decay brings them down to it (0 where they are under it); else None."""
    measure: FloatArray | None = None
    """For a measuring rule: what it measured for each contact it fired for (its counts
    are then 1); else None."""

    @classmethod
    def matched(
        cls,
        points: FloatArray,
        counts: npt.NDArray[np.integer[Any]],
        held: FloatArray | None = None,
        measure: FloatArray | None = None,
    ) -> RuleHits:
        """The hits of a rule from its points and counts (and `held`, `measure`) for
        every contact (`scoring.hit_arrays`)."""
        return cls(*hit_arrays(points, counts, held, measure))

    def dense(self, size: int) -> tuple[FloatArray, IntArray]:
        """The rule's points and counts for every one of `size` contacts (0 where unmatched)."""
        points = np.zeros(size, dtype=np.float64)
        counts = np.zeros(size, dtype=np.int32)
        points[self.rows] = self.points
        counts[self.rows] = self.counts
        return points, counts


@dataclass(frozen=True, eq=False)
class _ByContact:
    """Every rule's hits laid out contact by contact (compressed rows): the hits of
    contact `row` are at `start[row]:start[row + 1]`, in the order of the rules."""

    start: npt.NDArray[np.int64]
    rule: IntArray
    counts: IntArray
    points: FloatArray

    @classmethod
    def of(cls, hits: Sequence[RuleHits], size: int, block: int = 1 << 16) -> _ByContact:
        """Laid out a block of contacts at a time, so that the writes of one block stay in
        the processor's cache whatever the number of rules."""
        every = [rule.rows for rule in hits]
        start = np.zeros(size + 1, dtype=np.int64)
        if every:
            np.cumsum(np.bincount(np.concatenate(every), minlength=size), out=start[1:])
        total = int(start[-1])
        rule_of = np.empty(total, dtype=np.int32)
        counts = np.empty(total, dtype=np.int32)
        points = np.empty(total, dtype=np.float64)
        edges = np.arange(0, size + block, block).clip(max=size)
        cuts = [np.searchsorted(rows, edges).tolist() for rows in every]
        for b in range(len(edges) - 1):
            first = int(edges[b])
            free = start[first : int(edges[b + 1])].copy()
            for index, rule in enumerate(hits):
                begin, end = cuts[index][b], cuts[index][b + 1]
                if begin == end:
                    continue
                local = rule.rows[begin:end] - first
                at = free[local]
                rule_of[at] = index
                counts[at] = rule.counts[begin:end]
                points[at] = rule.points[begin:end]
                free[local] += 1
        return cls(start, rule_of, counts, points)


@dataclass(frozen=True, eq=False)
class ScoreBatch:
    """Per contact: total, dimensions, grade, stage, disqualification and the rules that fired."""

    rules: RuleSet
    contact_ids: ObjectArray
    emails: CategoricalColumn
    total: FloatArray
    dimensions: npt.NDArray[np.float64]
    """(contacts, dimensions), after dimension caps and floors; columns follow `dimension_names`."""
    uncapped: npt.NDArray[np.float64]
    rule_hits: Sequence[RuleHits]
    """Per rule, in the order of `rules.rules`, the contacts it matched."""
    disqualified: BoolArray
    stage_codes: npt.NDArray[np.int16] | None
    grade_codes: npt.NDArray[np.int16] | None
    bant_names: list[str]
    bant_met: BoolArray
    notes: tuple[str, ...] = ()
    """What a person should know of how the batch was scored (a filter that stood down),
    each said once."""
    velocity: FloatArray | None = None
    """Per contact, the total's change over the rules' velocity window (`RuleSet.velocity`;
    NaN: no score then), or None when the rules bucket no velocity."""
    rfm: RfmScores | None = None
    """The contacts' RFM digits and segments (`scoring.rfm`), when the rules have `rfm`."""
    excluded_ids: tuple[str, ...] = ()
    """The contacts given that the rules' `exclude` left unscored (`scoring.exclusion`)."""
    interests: InterestScores | None = None
    """Per contact and topic, the interest scores (`scoring.interests`), when the rules
    have `interests`."""
    waiting: Mapping[int, int] = field(default_factory=dict)
    """Per row held below the hand-over stage by sales capacity, its place in the queue."""

    def __len__(self) -> int:
        return len(self.total)

    @property
    def dimension_names(self) -> list[str]:
        return list(self.rules.dimensions)

    def dimension(self, name: str) -> FloatArray:
        return self.dimensions[:, self.dimension_names.index(name)]

    def stage(self, row: int) -> str | None:
        if self.stage_codes is None or self.rules.stages is None:
            return None
        code = int(self.stage_codes[row])
        return None if code < 0 else self.rules.stages.ladder[code].name

    def grade(self, row: int) -> str | None:
        if self.grade_codes is None or self.rules.grades is None:
            return None
        code = int(self.grade_codes[row])
        return None if code < 0 else self.rules.grades.bands[code].grade

    @cached_property
    def _rule_facts(self) -> list[RuleFacts]:
        """Per rule what its reasons repeat (read once per batch, not once per contact)."""
        return [rule_facts(self.rules, rule) for rule in self.rules.rules]

    @cached_property
    def _by_contact(self) -> _ByContact:
        """The hits of every rule by contact, laid out when reasons are first asked for."""
        return _ByContact.of(self.rule_hits, len(self))

    def rule_row(self, row: int) -> tuple[list[float], list[int]]:
        """One contact's points and count for each rule, in the order of the rules
        (0 for a rule that did not match)."""
        points = [0.0] * len(self.rule_hits)
        counts = [0] * len(self.rule_hits)
        for index, count, each in self._fired(row):
            points[index], counts[index] = each, count
        return points, counts

    def _fired(self, row: int) -> zip[tuple[int, int, float]]:
        """The rules that matched the contact: (rule index, count, points), by rule index."""
        by = self._by_contact
        begin, end = by.start[row : row + 2].tolist()
        return zip(
            by.rule[begin:end].tolist(),
            by.counts[begin:end].tolist(),
            by.points[begin:end].tolist(),
            strict=True,
        )

    def reasons(self, row: int) -> list[Reason]:
        """Why the contact has its score; the points add up to the total.

        Disqualifying rules first, then the other rules that fired, largest first,
        then the dimension caps and floors that bit.
        """
        found: list[Reason] = []
        # The row's hits read as Python values: per-element numpy access costs more.
        for index, count, points in self._fired(row):
            rule_id, label, dimension, each, cap, disqualify, once, measured = self._rule_facts[
                index
            ]
            base = points if measured else each * (1 if once else count)
            capped = cap if cap is not None and math.isclose(abs(points), cap) else None
            detail = self._detail(index, row) if measured else None
            found.append(
                Reason(
                    rule_id,
                    label,
                    dimension,
                    points,
                    count,
                    base,
                    capped,
                    disqualify,
                    once=once or measured,
                    detail=detail,
                )
            )
        kept, raw = self.dimensions[row].tolist(), self.uncapped[row].tolist()
        for column, (name, dim) in enumerate(self.rules.dimensions.items()):
            excess = kept[column] - raw[column]
            if excess != 0.0:
                limit = dim.cap if excess < 0 else dim.floor
                label = dim.label or name
                bound = "capped at" if excess < 0 else "floored at"
                found.append(
                    Reason(
                        f"{name}_limit",
                        f"{label} {bound} {number(limit or 0)}",
                        name,
                        excess,
                        1,
                        excess,
                        limit=True,
                    )
                )
        found.sort(key=lambda r: (not r.disqualifies, r.limit, -abs(r.points)))
        return found

    def _detail(self, index: int, row: int) -> str:
        """What measuring rule `index` measured for contact `row`, as its reason shows it."""
        hits = self.rule_hits[index]
        assert hits.measure is not None  # kept for every measuring rule
        at = int(np.searchsorted(hits.rows, row))
        return detail_of(self.rules.rules[index], float(hits.measure[at]))

    def whole_dimensions(self, row: int) -> list[int]:
        """Each dimension in whole points that add up to the whole score, as written back."""
        total = whole_points(float(self.total[row]))
        return apportion(self.dimensions[row].tolist(), total)

    def explained(self, row: int) -> list[tuple[Reason, int]]:
        """The reasons with whole points that add up to the whole score: what every view
        of a score (the CRM field, `explain`, files) shows."""
        reasons = self.reasons(row)
        total = whole_points(float(self.total[row]))
        return list(zip(reasons, apportion([r.points for r in reasons], total), strict=True))

    def reasons_text(self, row: int, limit: int | None = None, max_chars: int | None = None) -> str:
        """The reasons as one text whose whole points add up to the whole score
        (`format_reasons`): at most `limit` reasons, then the rest together."""
        return format_reasons(
            self.explained(row),
            disqualified=bool(self.disqualified[row]),
            shown=limit,
            max_chars=max_chars,
        )

    def row(self, index: int) -> dict[str, Any]:
        """One contact's result as plain values (the columns of `leadscore score`)."""
        record: dict[str, Any] = {
            "id": str(self.contact_ids[index]),
            "email": self.emails.value(index),
            "score": round(float(self.total[index]), 2),
        }
        for column, name in enumerate(self.dimension_names):
            record[name] = round(float(self.dimensions[index, column]), 2)
        record["grade"] = self.grade(index)
        record["stage"] = self.stage(index)
        record["disqualified"] = bool(self.disqualified[index])
        record["lead"] = bool(self.leads[index])
        if self.bant_names:
            record["bant"] = int(self.bant_met[index].sum())
        record |= {} if self.rfm is None else self.rfm.row(index)
        record["reasons"] = self.reasons_text(index)
        return record | (self.interests.row(index) if self.interests is not None else {})

    @cached_property
    def leads(self) -> BoolArray:
        """Whether each contact is a lead: not on a stage marked `lead: false` (customers)."""
        if self.stage_codes is None or self.rules.stages is None:
            return np.ones(len(self), dtype=bool)
        flags = np.array([stage.lead for stage in self.rules.stages.ladder] + [True])
        return flags[self.stage_codes]

    def ranking(self) -> npt.NDArray[np.intp]:
        """Rows from the best lead down: qualified leads by score, then disqualified ones,
        then the contacts who are not leads (customers), each by score, ties in row order
        (sorted once a batch, read-only)."""
        return self._ranked

    @cached_property
    def _ranked(self) -> npt.NDArray[np.intp]:
        by_score = np.argsort(-self.total, kind="stable")
        group = (~self.leads).astype(np.int8) * 2 + self.disqualified.astype(np.int8)
        ranked = by_score[np.argsort(group[by_score], kind="stable")]
        ranked.flags.writeable = False
        return ranked

    def columns(self, ranked: bool = False, ids: bool = True) -> dict[str, Any]:
        """Every contact's result as columns, the values `row` gives (`leadscore score
        --out`): ids as an object array, text as `(codes, categories)` (Arrow's, where
        the frame holds them so), numbers rounded as
        `row` rounds them, and the reasons as one `PackedText`; ids as the frame holds them
        (the text of ids from files; no `id` column without `ids`, for a caller that has
        them)."""
        from scoring.reasons import exact_round, reasons_column

        order = self.ranking() if ranked else np.arange(len(self))
        reasons = reasons_column(self, order)  # made on threads while the rest are
        columns: dict[str, Any] = {"id": self.contact_ids[order]} if ids else {}
        columns["email"] = (self.emails.codes[order], self.emails.held_categories)
        columns["score"] = exact_round(self.total[order])
        for column, name in enumerate(self.dimension_names):
            columns[name] = exact_round(self.dimensions[order, column])
        grades = [band.grade for band in self.rules.grades.bands] if self.rules.grades else []
        stages = [stage.name for stage in self.rules.stages.ladder] if self.rules.stages else []
        for name, codes, labels in (
            ("grade", self.grade_codes, grades),
            ("stage", self.stage_codes, stages),
        ):
            coded = np.full(len(order), -1, np.int32)
            if codes is not None and labels:
                coded = codes[order].astype(np.int32)
            columns[name] = (coded.astype(np.int32), np.array(labels, dtype=object))
        columns["disqualified"] = self.disqualified[order]
        columns["lead"] = self.leads[order]
        if self.bant_names:
            columns["bant"] = self.bant_met[order].sum(axis=1).astype(np.int64)
        columns |= {} if self.rfm is None else self.rfm.columns(order)
        columns["reasons"] = reasons
        return columns | (self.interests.columns(order) if self.interests is not None else {})

    def rows(self, ranked: bool = False) -> Iterator[dict[str, Any]]:
        order = self.ranking() if ranked else range(len(self))
        for index in order:
            yield self.row(int(index))
