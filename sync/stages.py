"""Stages across runs: what was reached stays reached, and the CRM's own stage moves forward only.

Two rules of the design meet here. Stages never move back on their own: the
stage last written to any of a person's records counts as reached (the
engine's `REACHED_STAGE` floor). And mapping our stage onto a system's lifecycle
field (HubSpot's `lifecyclestage`, later Salesforce's Lead `Status`) is
opt-in and forward-only: the mapped value is written only when it ranks above
the record's current value in the system's own order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scoring.engine import REACHED_STAGE
from scoring.records import Contact
from scoring.rules import RuleSet


class StageMapError(ValueError):
    """A stage mapping that names a stage or a system value that does not exist."""


def with_reached_stages(
    rules: RuleSet,
    contacts: Sequence[Contact],
    records: Mapping[str, list[tuple[str, str]]],
    written: Mapping[str, Mapping[str, Mapping[str, str]]],
    stage_name: str | None,
    record_attributes: Mapping[tuple[str, str], Mapping[str, object]] | None = None,
) -> list[Contact]:
    """Contacts carrying the highest stage scoring gave them before, as the engine's floor.

    That stage is the highest of what the store remembers writing to any of the
    person's records (`written`: system -> record -> values) and what the CRM holds
    in our stage field (`stage_name`, pulled with the contact), so a lost store or a
    write that landed unrecorded cannot make a stage move back. It goes to the
    engine's `REACHED_STAGE` field, not to the ladder's `current_field`: a
    sales-owned stage we proposed ourselves is not frozen as if a rep had set it.
    """
    ladder = rules.stages
    if ladder is None or stage_name is None:
        return list(contacts)
    rank = {stage.name: i for i, stage in enumerate(ladder.ladder)}
    reached: dict[str, str] = {}

    def note(person: str, stage: object) -> None:
        if isinstance(stage, str) and rank.get(stage, -1) > rank.get(reached.get(person, ""), -1):
            reached[person] = stage

    own = record_attributes or {}
    for person, pairs in records.items():
        for system, record in pairs:
            note(person, written.get(system, {}).get(record, {}).get(stage_name))
            # each record's own copy in the CRM: duplicates may hold different stages
            note(person, own.get((system, record), {}).get(stage_name))
    out = []
    for contact in contacts:
        note(contact.id, contact.attributes.get(stage_name))
        stage = reached.get(contact.id)
        if stage:
            attributes = {**contact.attributes, REACHED_STAGE: stage}
            contact = Contact(contact.id, contact.email, attributes, contact.source)
        out.append(contact)
    return out


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
        ours = [s.name for s in rules.stages.ladder] if rules.stages else []
        problems = [
            f"{setting}: {stage!r} is not a stage of the rule file ({', '.join(ours) or 'none'})"
            for stage in mapping
            if stage not in ours
        ]
        problems += [
            f"{setting}: {value!r} is not a {system} {field} value ({', '.join(order)})"
            for value in mapping.values()
            if value not in order
        ]
        if problems:
            raise StageMapError("; ".join(problems))
        return cls(system, field, dict(mapping), list(order))

    def value(self, stage: str | None, current: object) -> str | None:
        """The value to write for our `stage`, or None when it would not move forward."""
        target = self.mapping.get(stage or "")
        if target is None:
            return None
        rank = {value: i for i, value in enumerate(self.order)}
        now = rank.get(str(current), -1) if current not in (None, "") else -1
        return target if rank[target] > now else None
