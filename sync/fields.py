"""What is written back: one field per value, named and shaped for each system.

A `FieldMap` is one rule set's fields in one system: their names follow the
system's naming rule from a prefix (or a rename), their types what the system
can hold (`Capabilities`), and the values are text the system accepts. The
values are rounded to what a rep reads (whole points, reasons with whole
points that add up to the score), so that decay moves a written value only
when it crosses a whole point; `scored_at` is written along with a change but
never causes one.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from connectors.protocol import Capabilities, FieldKind, FieldSpec, Held
from scoring import RuleSet, ScoreBatch, ensure_utc, whole_points

SCORED_AT = "scored_at"
REASONS_SHOWN = 3
REASONS_MAX_CHARS = 1000


@functools.lru_cache(maxsize=8)
def timestamp(moment: datetime) -> str:
    """A moment as written back: UTC to the second, with a Z."""
    return ensure_utc(moment).isoformat(timespec="seconds").replace("+00:00", "Z")


class FieldNameError(ValueError):
    """A field name the system cannot hold (too long, or against its naming rule)."""


@dataclass(frozen=True)
class FieldMap:
    """The fields of one rule set in one system, with their names and types there."""

    specs: tuple[FieldSpec, ...]
    capabilities: Capabilities

    @classmethod
    def for_rules(
        cls,
        rules: RuleSet,
        capabilities: Capabilities,
        prefix: str = "leadscore_",
        names: Mapping[str, str] | None = None,
    ) -> FieldMap:
        """The fields `rules` writes, named by the system's rule from `prefix` unless
        `names` renames them; raises `FieldNameError` for a name the system refuses."""
        renamed = dict(names or {})

        def spec(key: str, label: str, kind: FieldKind, options: tuple[str, ...] = ()) -> FieldSpec:
            name = renamed.get(key) or capabilities.field_name(prefix, key)
            problem = capabilities.name_problem(name)
            if problem is not None:
                raise FieldNameError(f"field for {key}: {problem}")
            shaped = capabilities.kind(kind)
            kept = options if shaped == "enumeration" else ()
            return FieldSpec(key, name, label, shaped, kept, f"leadscore: {label.lower()}")

        specs = [spec("score", "Lead score", "number")]
        for name, dimension in rules.dimensions.items():
            label = dimension.label or name.replace("_", " ")
            specs.append(spec(name, f"Lead score: {label}", "number"))
        if rules.grades is not None:
            grades = tuple(band.grade for band in rules.grades.bands)
            specs.append(spec("grade", "Lead grade", "enumeration", grades))
        if rules.stages is not None:
            stages = tuple(stage.name for stage in rules.stages.ladder)
            kind: FieldKind = "enumeration" if capabilities.stage_ordered else "text"
            specs.append(spec("stage", "Lead stage", kind, stages))
        specs.append(spec("reasons", "Lead score reasons", "text"))
        specs.append(spec(SCORED_AT, "Lead scored at", "datetime"))
        return cls(tuple(specs), capabilities)

    @property
    def system(self) -> str:
        return self.capabilities.system

    @cached_property
    def names(self) -> dict[str, str]:
        """Field key (score, a dimension, grade, stage, reasons, scored_at) -> its name here."""
        return {s.key: s.name for s in self.specs}

    def pulled(self, rules: RuleSet) -> list[str]:
        """The contact fields a connector reads: the rules' own, what it reads back of ours
        (the stage the CRM holds is a floor for the next one, even when the store forgot
        it) and the system's lifecycle field (a mapped stage moves it forward only)."""
        stage = [self.names["stage"]] if "stage" in self.names else []
        lifecycle = self.capabilities.lifecycle_field
        held = [*stage, *([lifecycle] if lifecycle else [])]
        return list(dict.fromkeys([*rules.contact_fields(), *held]))

    def held(self, attributes: Mapping[str, Any]) -> Held:
        """What a record pulled from this system holds of ours (see `Capabilities.held`)."""
        return self.capabilities.held(attributes, self.names)

    def values(self, batch: ScoreBatch, row: int, scored_at: datetime) -> dict[str, str]:
        """The text of every field for one scored contact, keyed by field name."""
        names = self.names
        limit = self.capabilities.max_text_length
        out = {names["score"]: str(whole_points(float(batch.total[row])))}
        for dimension, points in zip(
            batch.dimension_names, batch.whole_dimensions(row), strict=True
        ):
            out[names[dimension]] = str(points)
        if "grade" in names:
            out[names["grade"]] = batch.grade(row) or ""
        if "stage" in names:
            out[names["stage"]] = batch.stage(row) or ""
        out[names["reasons"]] = batch.reasons_text(
            row, limit=REASONS_SHOWN, max_chars=min(REASONS_MAX_CHARS, limit)
        )
        out[names[SCORED_AT]] = timestamp(scored_at)
        for name, value in out.items():
            if len(value) > limit:
                out[name] = value[:limit]
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
