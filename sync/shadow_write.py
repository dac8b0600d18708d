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

The same mechanism writes the fields of each extra model (`sync.models`): its own prefix,
its own `written` system (`<system>:model:<name>`, `extra_system`), and more keys (the
dimensions, disqualified and the reasons, `MODEL_KEYS`); a person its condition no longer
holds for has those fields cleared once (`plan_extra`'s `clear`).

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

import sqlalchemy as sa

from connectors.protocol import Capabilities, Connector, FieldKind, FieldSpec, Write, WriteOutcome
from scoring import RuleSet, ScoreBatch
from sync.fields import DISQUALIFIED, FieldMap, FieldNameError, descriptions, field_spec
from sync.people import People
from sync.summary import SyncOptions, SystemSummary
from sync.vanished import gone_records
from sync.writing import write_batches

if TYPE_CHECKING:
    from sync.pipeline import Sync
    from sync.shadow import ShadowComparison


SHADOW_KEYS = frozenset({"score", "grade", "stage"})
"""What the shadow rules write: the score, the grade and the stage."""
DIMENSIONS = "~dimensions"
MODEL_KEYS = frozenset({*SHADOW_KEYS, DIMENSIONS, DISQUALIFIED, "reasons"})
"""What an extra model writes: the shadow's, each dimension, disqualified and the reasons."""
SHADOW_NOTE = " These are the shadow rules' (a rule file tried beside the live one), not live."


def extra_system(system: str, kind: str) -> str:
    """The name the values written to a system's extra fields of `kind` (`shadow`,
    `model:<name>`) are kept under in the `written` table."""
    return f"{system}:{kind}"


def shadow_system(system: str) -> str:
    """The name the values written to a system's shadow fields are kept under."""
    return extra_system(system, "shadow")


def extra_systems(column: sa.ColumnElement[str], system: str) -> sa.ColumnElement[bool]:
    """Rows whose `column` names one of a system's extra kinds: its shadow fields', or any
    model's (`sync.models`), never its company records' (`<system>:accounts`)."""
    models = extra_system(system, "model:").replace("_", r"\_").replace("%", r"\%")
    return sa.or_(column == shadow_system(system), column.like(models + "%", escape="\\"))


def extra_fields(
    rules: RuleSet,
    capabilities: Capabilities,
    prefix: str,
    *,
    label: str = "Shadow",
    note: str = SHADOW_NOTE,
    keys: frozenset[str] = SHADOW_KEYS,
) -> FieldMap:
    """The `keys` of `rules` as fields of their own in one system, named from `prefix`,
    labelled `<label> lead score`...; raises `FieldNameError` for a name the system
    refuses or two fields sharing one."""
    about = descriptions(rules)

    def spec(key: str, what: str, kind: FieldKind, options: tuple[str, ...] = ()) -> FieldSpec:
        name = capabilities.field_name(prefix, key)
        text = about.get(key, f"{label} {what}.") + note
        return field_spec(capabilities, key, name, f"{label} {what}", kind, text, options)

    specs = [spec("score", "lead score", "number")]
    for name, dimension in rules.dimensions.items() if DIMENSIONS in keys else ():
        specs.append(spec(name, f"lead score: {dimension.label or name}", "number"))
    if rules.grades is not None:
        specs.append(spec("grade", "lead grade", "enumeration",
                          tuple(b.grade for b in rules.grades.bands)))  # fmt: skip
    if rules.stages is not None:
        kind: FieldKind = "enumeration" if capabilities.stage_ordered else "text"
        specs.append(spec("stage", "lead stage", kind, tuple(s.name for s in rules.stages.ladder)))
    if DISQUALIFIED in keys:
        specs.append(spec(DISQUALIFIED, "lead disqualified", "boolean"))
    if "reasons" in keys:
        specs.append(spec("reasons", "lead score reasons", "text"))
    names = [s.name.lower() for s in specs]
    same = next((s for s in specs if names.count(s.name.lower()) > 1), None)
    if same is not None:
        raise FieldNameError(f"two {label} fields would be named {same.name!r}")
    return FieldMap(tuple(specs), capabilities)


def shadow_fields(rules: RuleSet, capabilities: Capabilities, prefix: str) -> FieldMap:
    """The shadow rules' score, grade and stage fields in one system, named from `prefix`;
    raises `FieldNameError` for a name the system refuses."""
    return extra_fields(rules, capabilities, prefix)


def taken_names(maps: Mapping[str, FieldMap] | None, system: str) -> set[str]:
    """The names (lower case) of a system's fields in `maps`."""
    own = None if maps is None else maps.get(system)
    return {n.lower() for n in own.names.values()} if own is not None else set()


def shadow_maps(
    rules: RuleSet, live: Mapping[str, FieldMap], systems: Sequence[Capabilities], prefix: str
) -> dict[str, FieldMap]:
    """Per system, the shadow fields; `FieldNameError` for a name the system refuses or one
    a live field already has (names compare without case)."""
    out = {}
    for capabilities in systems:
        found = shadow_fields(rules, capabilities, prefix)
        taken = taken_names(live, capabilities.system)
        same = [s.name for s in found.specs if s.name.lower() in taken]
        if same:
            raise FieldNameError(f"shadow field {same[0]!r} is a live field's name")
        out[capabilities.system] = found
    return out


def plan_extra(
    job: Sync,
    batch: ScoreBatch,
    people: People,
    maps: Mapping[str, FieldMap],
    *,
    kind: str,
    as_of: datetime,
    full: bool,
    clear: bool = False,
) -> dict[str, list[Write]]:
    """Per connected system with extra fields of `kind`, the writes whose values differ
    from those last written there (`full`: those refused for good with the same values
    too). A person of `people` the batch did not score is passed over, or with `clear`
    has the fields of each record written to before emptied, once."""
    row_of = {str(pid): row for row, pid in enumerate(batch.contact_ids)}
    emails = {contact.id: contact.email for contact in people.contacts}
    plan: dict[str, list[Write]] = {}
    for connector in job.connectors:
        system = connector.system
        fields = maps.get(system)
        if fields is None:
            continue
        written = job.store.written_values(extra_system(system, kind))
        refused = {} if full else job.store.refused(extra_system(system, kind))
        vanished = gone_records(job.store, system)
        by_email = fields.capabilities.record_key == "email"
        empty = fields.cleared()
        writes = []
        for person, records in people.records.items():
            row = row_of.get(person)
            if row is None and not clear:  # excluded, or not scored this run
                continue
            values = empty if row is None else fields.values(batch, row, as_of)
            for where, record in records:
                if where != system or record in vanished:
                    continue
                before = written.get(record)
                if row is None and before is None:
                    continue  # nothing of this model was written there: nothing to clear
                held = refused.get(record)
                if held is not None and fields.same(values, held):
                    continue
                if fields.differs(values, before):
                    writes.append(Write(record, values, emails.get(person) if by_email else None))
        plan[system] = writes
    return plan


@dataclass(frozen=True)
class ExtraSide:
    """A connector's records as the write phase writes their extra fields, kept under
    `system` (`extra_system`)."""

    connector: Connector
    system: str

    def write_size(self, planned: int) -> int:
        return self.connector.write_size(planned)

    def write(self, writes: Sequence[Write]) -> WriteOutcome:
        return self.connector.write(writes)


def write_extra(
    job: Sync,
    options: SyncOptions,
    batch: ScoreBatch,
    people: People,
    maps: Mapping[str, FieldMap],
    as_of: datetime,
    *,
    kind: str,
    clear: bool = False,
) -> dict[str, dict[str, int]]:
    """Plan (`plan_extra`) and, unless a dry run or a trial, write the extra fields of
    `kind`; per system, how many writes were planned, written and failed."""
    done: dict[str, dict[str, int]] = {}
    planned = plan_extra(
        job, batch, people, maps, kind=kind, as_of=as_of, full=options.full, clear=clear
    )
    for system, writes in planned.items():
        counted = SystemSummary(planned=len(writes))
        if not (options.dry_run or options.limit is not None or not writes):
            connector = next(c for c in job.connectors if c.system == system)
            side = ExtraSide(connector, extra_system(system, kind))
            write_batches(job, side, writes, options, counted, as_of)
        done[system] = {
            "planned": counted.planned, "written": counted.written, "failed": counted.failed
        }  # fmt: skip
    return done


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
    written = write_extra(job, options, found.batch, people, maps, as_of, kind="shadow")
    return replace(found, batch=None, written=written)
