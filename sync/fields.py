"""What is written back: one field per value, named from a prefix, as text each CRM accepts.

The values are rounded to what a rep reads (whole points, reasons with whole
points), so that decay moves a written value only when it crosses a whole
point; `scored_at` is written along with a change but never causes one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from connectors.protocol import FieldSpec
from scoring import ScoreBatch
from scoring.explain import SEPARATOR
from scoring.records import ensure_utc
from scoring.rules import RuleSet

SCORED_AT = "scored_at"
REASONS_SHOWN = 3
REASONS_MAX_CHARS = 1000


@dataclass(frozen=True)
class FieldMap:
    """The fields of one rule set under a name prefix, with their CRM types."""

    specs: tuple[FieldSpec, ...]

    @classmethod
    def for_rules(
        cls, rules: RuleSet, prefix: str = "leadscore_", names: Mapping[str, str] | None = None
    ) -> FieldMap:
        renamed = dict(names or {})

        def spec(key: str, label: str, kind: str, options: tuple[str, ...] = ()) -> FieldSpec:
            name = renamed.get(key, f"{prefix}{key}")
            return FieldSpec(key, name, label, kind, options, f"leadscore: {label.lower()}")  # type: ignore[arg-type]

        specs = [spec("score", "Lead score", "number")]
        for name, dimension in rules.dimensions.items():
            label = dimension.label or name.replace("_", " ")
            specs.append(spec(name, f"Lead score: {label}", "number"))
        if rules.grades is not None:
            grades = tuple(band.grade for band in rules.grades.bands)
            specs.append(spec("grade", "Lead grade", "enumeration", grades))
        if rules.stages is not None:
            stages = tuple(stage.name for stage in rules.stages.ladder)
            specs.append(spec("stage", "Lead stage", "enumeration", stages))
        specs.append(spec("reasons", "Lead score reasons", "text"))
        specs.append(spec(SCORED_AT, "Lead scored at", "datetime"))
        return cls(tuple(specs))

    @property
    def names(self) -> dict[str, str]:
        return {s.key: s.name for s in self.specs}

    def pulled(self, rules: RuleSet) -> list[str]:
        """The contact fields a connector reads: the rules' own, and our stage field (the
        stage the CRM holds is a floor for the next one, even when the store forgot it)."""
        stage = [self.names["stage"]] if "stage" in self.names else []
        return list(dict.fromkeys([*rules.contact_fields(), *stage]))

    def values(self, batch: ScoreBatch, row: int, scored_at: datetime) -> dict[str, str]:
        """The text of every field for one scored contact, keyed by field name."""
        names = self.names
        out = {names["score"]: whole(float(batch.total[row]))}
        for column, dimension in enumerate(batch.dimension_names):
            out[names[dimension]] = whole(float(batch.dimensions[row, column]))
        if "grade" in names:
            out[names["grade"]] = batch.grade(row) or ""
        if "stage" in names:
            out[names["stage"]] = batch.stage(row) or ""
        out[names["reasons"]] = reasons_text(batch, row)
        stamp = ensure_utc(scored_at).isoformat(timespec="seconds")
        out[names[SCORED_AT]] = stamp.replace("+00:00", "Z")
        return out

    def differs(self, values: Mapping[str, str], before: Mapping[str, str] | None) -> bool:
        """Whether anything other than the scoring time changed since the last write."""
        if before is None:
            return True
        stamp = self.names[SCORED_AT]
        return any(before.get(k) != v for k, v in values.items() if k != stamp)

    def same(self, values: Mapping[str, str], other: Mapping[str, str]) -> bool:
        """Whether two writes set the same fields to the same values, scoring time aside."""
        stamp = self.names[SCORED_AT]
        return {k: v for k, v in values.items() if k != stamp} == {
            k: v for k, v in other.items() if k != stamp
        }


def whole(value: float) -> str:
    """Whole points, halves rounded up (12.5 is 13), as a person rounds."""
    return str(math.floor(value + 0.5))


def reasons_text(batch: ScoreBatch, row: int) -> str:
    """The top reasons with whole points, as a rep reads them in the CRM."""
    parts = []
    for reason in batch.reasons(row)[:REASONS_SHOWN]:
        points = whole(reason.points)
        text = f"{points if points.startswith('-') else '+' + points} {reason.label}"
        if reason.count > 1 and not reason.once:
            text += f" ×{reason.count}"
        notes = ["disqualifies"] if reason.disqualifies else []
        if reason.capped_at is not None:
            notes.append(f"capped at {whole(reason.capped_at)}")
        elif round(reason.points) != round(reason.base_points):
            notes.append(f"decayed from {whole(reason.base_points)}")
        parts.append(f"{text} ({', '.join(notes)})" if notes else text)
    if batch.disqualified[row]:
        parts.insert(0, "DISQUALIFIED")
    return SEPARATOR.join(parts)[:REASONS_MAX_CHARS]
