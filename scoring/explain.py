"""Scores of a batch and their explanations.

`ScoreBatch` keeps the engine's arrays; reasons are built on demand for the
contacts someone looks at or writes back, so that scoring a million contacts
does not build a million strings.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from scoring.frames import BoolArray, CategoricalColumn, FloatArray, ObjectArray
from scoring.rules import RuleSet

SEPARATOR = " · "


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
        notes = []
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
class ScoreBatch:
    """Per contact: total, dimensions, grade, stage, disqualification and the rules that fired."""

    rules: RuleSet
    contact_ids: ObjectArray
    emails: CategoricalColumn
    total: FloatArray
    dimensions: npt.NDArray[np.float64]
    """(contacts, dimensions), after dimension caps and floors; columns follow `dimension_names`."""
    uncapped: npt.NDArray[np.float64]
    rule_points: npt.NDArray[np.float64]
    """(contacts, rules): each rule's points after decay, once and its cap."""
    rule_counts: npt.NDArray[np.int32]
    disqualified: BoolArray
    stage_codes: npt.NDArray[np.int16] | None
    grade_codes: npt.NDArray[np.int16] | None
    bant_names: list[str]
    bant_met: BoolArray

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
    def _rule_facts(
        self,
    ) -> list[tuple[str, str, str, float, float | None, bool, bool]]:
        """Per rule what its reasons repeat: id, label, dimension, points, cap,
        disqualify, once (read once per batch, not once per contact)."""
        return [
            (
                rule.id,
                rule.text,
                self.rules.dimension_of(rule),
                rule.points,
                rule.cap,
                rule.disqualify,
                rule.once,
            )
            for rule in self.rules.rules
        ]

    def reasons(self, row: int) -> list[Reason]:
        """Why the contact has its score; the points add up to the total.

        Disqualifying rules first, then the other rules that fired, largest first,
        then the dimension caps and floors that bit.
        """
        found: list[Reason] = []
        # One row read as Python values: per-element numpy access costs more than the rules.
        counts_row = self.rule_counts[row].tolist()
        points_row = self.rule_points[row].tolist()
        for index, count in enumerate(counts_row):
            if not count:
                continue
            points = points_row[index]
            rule_id, label, dimension, each, cap, disqualify, once = self._rule_facts[index]
            base = each * (1 if once else count)
            capped = cap if cap is not None and math.isclose(abs(points), cap) else None
            found.append(
                Reason(
                    rule_id, label, dimension, points, count, base, capped, disqualify, once=once
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
        record["reasons"] = self.reasons_text(index)
        return record

    @cached_property
    def leads(self) -> BoolArray:
        """Whether each contact is a lead: not on a stage marked `lead: false` (customers)."""
        if self.stage_codes is None or self.rules.stages is None:
            return np.ones(len(self), dtype=bool)
        flags = np.array([stage.lead for stage in self.rules.stages.ladder] + [True])
        return flags[self.stage_codes]

    def ranking(self) -> npt.NDArray[np.intp]:
        """Rows from the best lead down: qualified leads by score, then disqualified ones,
        then the contacts who are not leads (customers), each by score."""
        return np.lexsort((np.arange(len(self)), -self.total, self.disqualified, ~self.leads))

    def columns(self, ranked: bool = False) -> dict[str, Any]:
        """Every contact's result as columns, the values `row` gives (`leadscore score
        --out`): ids as an object array, text as `(codes, categories)`, numbers rounded as
        `row` rounds them, and the reasons as one `PackedText`; ids as the frame holds them
        (the text of ids from files)."""
        from scoring.reasons import exact_round, reasons_column

        order = self.ranking() if ranked else np.arange(len(self))
        columns: dict[str, Any] = {
            "id": self.contact_ids[order],
            "email": (self.emails.codes[order], self.emails.categories),
            "score": exact_round(self.total[order]),
        }
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
        columns["reasons"] = reasons_column(self, order)
        return columns

    def rows(self, ranked: bool = False) -> Iterator[dict[str, Any]]:
        order = self.ranking() if ranked else range(len(self))
        for index in order:
            yield self.row(int(index))
