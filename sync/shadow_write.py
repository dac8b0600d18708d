"""The shadow rules' score, stage and grade written to fields of their own, when asked.

    `leadscore setup --shadow NEW.yaml`            creates them beside the live fields
    `leadscore sync --shadow NEW.yaml --shadow-write`   writes what changed in them

The fields are the live fields' mechanism (`sync.fields.field_spec`: each system's naming
rule, its kinds, its name checks) with the shadow prefix (`LEADSCORE_SHADOW_FIELD_PREFIX`,
default `leadscore_shadow_`) and labels of their own: a HubSpot property
`leadscore_shadow_score`, a Salesforce custom field `Leadscore_Shadow_Score__c` (with the
field-level security setup gives every field), a Mailchimp merge field `LSS_SCORE` (a head
of three characters, so no shadow field is taken for the live stage tag:
`connectors.mailchimp.system.prefix_tag`). Only the score (as written: whole points,
-1000 disqualified), the grade and the stage: no dimensions, reasons or scoring time.

What was last written to them is kept in the `written` table under the system
`<system>:shadow` (`shadow_system`), apart from the live values, so the two diffs never
mix: a record gets a shadow write only when its shadow values differ from the shadow
values last written there, by the same write phase as the live fields
(`sync.writing.write_batches`: batches, each outcome recorded as it lands, refusals kept
and not sent again with the same values, retryable failures planned again next run).
A dry run and a trial (`--limit`) plan them and write nothing.

The shadow values are those of the people the run scores: everyone on `--full` or when
the live rules changed, else who is due under the live rules. A shadow value that time
alone moves (decay) waits for the person's next rescore: the due moments are the live
rules'. The shadow stage's floor is the live stage written (`sync.shadow`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from connectors.protocol import Capabilities, Connector, FieldKind, FieldSpec, Write, WriteOutcome
from scoring import RuleSet, ScoreBatch
from sync.fields import FieldMap, FieldNameError, descriptions, field_spec, written_score
from sync.people import People
from sync.summary import SyncOptions, SystemSummary
from sync.vanished import gone_records
from sync.writing import write_batches

if TYPE_CHECKING:
    from sync.pipeline import Sync
    from sync.shadow import ShadowComparison


def shadow_system(system: str) -> str:
    """The name the values written to a system's shadow fields are kept under."""
    return f"{system}:shadow"


def shadow_fields(rules: RuleSet, capabilities: Capabilities, prefix: str) -> FieldMap:
    """The shadow rules' score, grade and stage fields in one system, named from `prefix`;
    raises `FieldNameError` for a name the system refuses."""
    about = descriptions(rules)
    note = " These are the shadow rules' (a rule file tried beside the live one), not live."

    def spec(key: str, label: str, kind: FieldKind, options: tuple[str, ...] = ()) -> FieldSpec:
        name = capabilities.field_name(prefix, key)
        return field_spec(capabilities, key, name, f"Shadow {label}", kind, about[key] + note,
                          options)  # fmt: skip

    specs = [spec("score", "lead score", "number")]
    if rules.grades is not None:
        specs.append(spec("grade", "lead grade", "enumeration",
                          tuple(b.grade for b in rules.grades.bands)))  # fmt: skip
    if rules.stages is not None:
        kind: FieldKind = "enumeration" if capabilities.stage_ordered else "text"
        specs.append(spec("stage", "lead stage", kind, tuple(s.name for s in rules.stages.ladder)))
    return FieldMap(tuple(specs), capabilities)


def shadow_maps(
    rules: RuleSet, live: Mapping[str, FieldMap], systems: Sequence[Capabilities], prefix: str
) -> dict[str, FieldMap]:
    """Per system, the shadow fields; `FieldNameError` for a name the system refuses or one
    a live field already has (names compare without case)."""
    out = {}
    for capabilities in systems:
        found = shadow_fields(rules, capabilities, prefix)
        own = live.get(capabilities.system)
        taken = {n.lower() for n in own.names.values()} if own is not None else set()
        same = [s.name for s in found.specs if s.name.lower() in taken]
        if same:
            raise FieldNameError(f"shadow field {same[0]!r} is a live field's name")
        out[capabilities.system] = found
    return out


def shadow_values(fields: FieldMap, batch: ScoreBatch, row: int) -> dict[str, str]:
    """The text of each shadow field for one contact, keyed by field name."""
    names = fields.names
    out = {names["score"]: str(written_score(batch, row))}
    if "grade" in names:
        out[names["grade"]] = batch.grade(row) or ""
    if "stage" in names:
        out[names["stage"]] = batch.stage(row) or ""
    return out


def plan_shadow(
    job: Sync, batch: ScoreBatch, people: People, maps: Mapping[str, FieldMap], full: bool
) -> dict[str, list[Write]]:
    """Per connected system with shadow fields, the writes whose shadow values differ from
    those last written there (`full`: those refused for good with the same values too)."""
    row_of = {str(pid): row for row, pid in enumerate(batch.contact_ids)}
    emails = {contact.id: contact.email for contact in people.contacts}
    plan: dict[str, list[Write]] = {}
    for connector in job.connectors:
        system = connector.system
        fields = maps.get(system)
        if fields is None:
            continue
        written = job.store.written_values(shadow_system(system))
        refused = {} if full else job.store.refused(shadow_system(system))
        vanished = gone_records(job.store, system)
        by_email = fields.capabilities.record_key == "email"
        writes = []
        for person, records in people.records.items():
            row = row_of.get(person)
            if row is None:  # excluded, or not scored this run
                continue
            values = shadow_values(fields, batch, row)
            for where, record in records:
                if where != system or record in vanished:
                    continue
                if written.get(record) != values and refused.get(record) != values:
                    writes.append(Write(record, values, emails.get(person) if by_email else None))
        plan[system] = writes
    return plan


@dataclass(frozen=True)
class ShadowSide:
    """A connector's records as the write phase writes their shadow fields."""

    connector: Connector
    system: str

    def write_size(self, planned: int) -> int:
        return self.connector.write_size(planned)

    def write(self, writes: Sequence[Write]) -> WriteOutcome:
        return self.connector.write(writes)


def write_shadow(
    job: Sync,
    options: SyncOptions,
    found: ShadowComparison | None,
    people: People,
    as_of: datetime,
) -> ShadowComparison | None:
    """With `options.shadow_fields`: plan and (unless a dry run or a trial) write the
    shadow fields' changes from the comparison's batch; the comparison, its batch let go,
    with what each system's shadow fields were planned, written and failed."""
    maps = options.shadow_fields
    if found is None or found.batch is None:
        return found
    if maps is None:
        return replace(found, batch=None)
    written: dict[str, dict[str, int]] = {}
    for system, writes in plan_shadow(job, found.batch, people, maps, options.full).items():
        counted = SystemSummary(planned=len(writes))
        if not (options.dry_run or options.limit is not None or not writes):
            connector = next(c for c in job.connectors if c.system == system)
            side = ShadowSide(connector, shadow_system(system))
            write_batches(job, side, writes, options, counted, as_of)
        written[system] = {
            "planned": counted.planned, "written": counted.written, "failed": counted.failed
        }  # fmt: skip
    return replace(found, batch=None, written=written)
