"""Stages across runs: what was reached stays reached, and the CRM's own stage moves forward only.

Two rules of the design meet here. Stages never move back on their own: the
stage last written to any of a person's records counts as reached (the
engine's `reached` floor). And mapping our stage onto a system's lifecycle
field (HubSpot's `lifecyclestage`, Salesforce's Lead `Status`) is
opt-in and forward-only: the mapped value is written only when it ranks above
the record's current value in the system's own order (a value the system does not
list is never overwritten).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scoring import Contact, RuleSet

if TYPE_CHECKING:
    from sync.fields import FieldMap


class StageMapError(ValueError):
    """A stage mapping that names a stage or a system value that does not exist."""


def reached_stages(
    rules: RuleSet,
    contacts: Sequence[Contact],
    records: Mapping[str, list[tuple[str, str]]],
    written: Mapping[str, Mapping[str, Mapping[str, str]]],
    fields: Mapping[str, FieldMap],
    record_attributes: Mapping[tuple[str, str], Mapping[str, Any]] | None = None,
) -> list[str | None]:
    """The highest stage scoring gave each contact before, in their order: the engine's floor.

    That stage is the highest of what the store remembers writing to any of the
    person's records (`written`: system -> record -> values) and what each record
    holds of ours in its system, read back through that system's `FieldMap`, so a
    lost store or a write that landed unrecorded cannot make a stage move back. It
    is the engine's `reached` argument, not the ladder's `current_field`: a
    sales-owned stage we proposed ourselves is not frozen as if a rep had set it.
    """
    ladder = rules.stages
    if ladder is None:
        return [None] * len(contacts)
    rank = {stage.name: i for i, stage in enumerate(ladder.ladder)}
    reached: dict[str, str] = {}

    def note(person: str, stage: object) -> None:
        if isinstance(stage, str) and rank.get(stage, -1) > rank.get(reached.get(person, ""), -1):
            reached[person] = stage

    own = record_attributes or {}
    for person, pairs in records.items():
        for system, record in pairs:
            field_map = fields.get(system)
            if field_map is None or "stage" not in field_map.names:
                continue
            name = field_map.names["stage"]
            note(person, written.get(system, {}).get(record, {}).get(name))
            # each record's own copy in the CRM: duplicates may hold different stages
            note(person, field_map.held(own.get((system, record), {})).stage)
    return [reached.get(contact.id) for contact in contacts]


def unknown_stages(rules: RuleSet, mapping: Mapping[str, str], setting: str) -> list[str]:
    """What is wrong with a mapping's stages against the rule file's ladder (no call needed)."""
    ours = [s.name for s in rules.stages.ladder] if rules.stages else []
    return [
        f"{setting}: {stage!r} is not a stage of the rule file ({', '.join(ours) or 'none'})"
        for stage in mapping
        if stage not in ours
    ]


@dataclass(frozen=True)
class StageMap:
    """Our stage -> a system's lifecycle value, written forward only."""

    system: str
    field: str
    """The system's lifecycle field, e.g. `lifecyclestage`."""
    mapping: Mapping[str, str]
    order: Sequence[str]
    """The system's values, lowest first, as the system lists them."""

    @classmethod
    def checked(
        cls,
        rules: RuleSet,
        system: str,
        field: str,
        mapping: Mapping[str, str],
        order: Sequence[str],
        setting: str,
    ) -> StageMap:
        """A mapping whose stages exist in the ladder and whose values exist in the system."""
        problems = unknown_stages(rules, mapping, setting)
        problems += [
            f"{setting}: {value!r} is not a {system} {field} value ({', '.join(order)})"
            for value in mapping.values()
            if value not in order
        ]
        if problems:
            raise StageMapError("; ".join(problems))
        return cls(system, field, dict(mapping), list(order))

    def value(self, stage: str | None, current: object) -> str | None:
        """The value to write for our `stage`, or None when it would not move forward: the
        record's value ranks at or above it in the system's order, or is one the system no
        longer lists (an inactive picklist value, say), which cannot be ranked and so is
        left as it is."""
        target = self.mapping.get(stage or "")
        if target is None:
            return None
        rank = {value: i for i, value in enumerate(self.order)}
        if current in (None, ""):
            return target
        now = rank.get(str(current))
        return target if now is not None and rank[target] > now else None
