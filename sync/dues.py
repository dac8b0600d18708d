"""Who is due to be rescored: the `persons.due` column and the scoring fingerprint.

A person's `due` is the moment (epoch seconds) from which a rescore may change a
value written for them with no new data (`scoring.due_in`); NULL means now.
Whatever changes a person's inputs sets it to NULL in the same transaction: a new
or changed record (`sync.identity.store_records`), a new or revised activity
(`StateStore.save_activities`), a merge or deletion (`sync.identity`), a write that
failed and may be tried again, a refusal `setup` clears, a record a trigger queued.
After a run has scored a person and its writes landed, `due` becomes `as_of +
due_in` (`save_dues`); `NEVER` stands for a person no time can change.

Every mark also counts up the person's `marked`. A run reads those counts before
it reads the persons it scores, and saves a due only for those whose count is
unchanged: a merge reported by a write, a trigger's activity or `setup`'s clearing
of a refusal during the run leaves the person due, not set to a moment computed
without the news.

The fingerprint (`meta`) is what the last full scoring used: the rule set, the
field names and the stage mappings of every system. When it differs, everyone is
rescored (`sync.incremental`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scoring import RuleSet
from sync.bulk import execute_in, execute_many
from sync.schema import ACTIVITY_COLUMNS, REVISED, activities, chunks, identities, meta, persons

if TYPE_CHECKING:
    from connectors.attributes import AttributeMap
    from sync.fields import FieldMap
    from sync.stages import StageMap

NEVER = 1e18
"""The `due` of a person no passing of time can change (a float every backend holds)."""
FINGERPRINT = "scoring_fingerprint"
LAST_AS_OF = "last_as_of"
SCORING_FORMAT = 1
"""Raised when a release changes what the same rules and data write (rounding, the
reasons' layout, the free-mail list): part of the fingerprint, so everyone is rescored."""
FIELDS_CURSOR = "~fields"
"""A cursor row (with the streams') holding what a system's contact pull reads: when the
rules or the attribute mapping read another field, every contact is read again."""
BACKWARDS = 60.0
"""Seconds a run's moment may lie before the last run's without rescoring everyone."""


def marks_of(connection: Connection, chosen: sa.ColumnElement[bool] | None) -> dict[int, int]:
    """Person id -> its count of marks, for the persons `chosen` (all: None). Read before
    reading whom to score: a person marked since then keeps its due NULL."""
    query = sa.select(persons.c.id, sa.func.coalesce(persons.c.marked, 0))
    if chosen is not None:
        query = query.where(chosen)
    return {int(pid): int(count) for pid, count in connection.execute(query)}


def due_and_marks(
    connection: Connection, as_of: float, every: bool = False
) -> tuple[set[int], dict[int, int]]:
    """The persons due by `as_of`, and the count of marks of each of them, or of `every`
    person (a run that reads everyone and scores who is due among them), in one read."""
    if not every:
        marks = marks_of(connection, due_filter(as_of))
        return set(marks), marks
    due = sa.case((due_filter(as_of), 1), else_=0)
    query = sa.select(persons.c.id, sa.func.coalesce(persons.c.marked, 0), due)
    found = connection.execute(query).all()
    return {int(pid) for pid, _, now in found if now}, {int(p): int(c) for p, c, _ in found}


_DUE_NOW = {"due": None, "marked": sa.func.coalesce(persons.c.marked, 0) + 1}


def mark_due(connection: Connection, person_ids: Iterable[int]) -> None:
    """These persons are due now."""
    ids = sorted(set(person_ids))
    for part in chunks(ids):
        connection.execute(sa.update(persons).where(persons.c.id.in_(part)).values(_DUE_NOW))


def mark_due_by(
    connection: Connection, system: str, records: Collection[str], emails: Collection[str]
) -> None:
    """The persons of these records of `system`, and of these addresses, are due now."""
    for part in chunks(sorted(set(records))):
        execute_in(connection, _DUE_BY_RECORD, part, system, tail=")")
    for part in chunks(sorted(set(emails))):
        execute_in(connection, _DUE_BY_ADDRESS, part)


_SAVE_DUE = f"UPDATE {persons.name} SET due = ? WHERE id = ? AND COALESCE(marked, 0) = ?"
_DUE = f"UPDATE {persons.name} SET due = NULL, marked = COALESCE(marked, 0) + 1 WHERE "
_DUE_BY_RECORD = (
    _DUE + f"id IN (SELECT person_id FROM {identities.name} WHERE system = ? AND record_id IN"
)
_DUE_BY_ADDRESS = _DUE + "email IN"
"""Every mark counts, also of a person due already: a run may have read it before."""


DUES_CHUNK = 50_000
"""Persons whose due moment one statement saves."""


def save_dues(
    connection: Connection,
    person_ids: Sequence[int],
    due: Sequence[float],
    marks: Mapping[int, int],
) -> None:
    """Each person's next due moment, in bulk (`NEVER` for infinity), for the persons
    whose count of marks is still the one in `marks` (`marks_of`, read before scoring),
    a chunk of persons at a time (a million rows of parameters at once would cost more
    memory than the scoring); rows sent as tuples straight to the driver (`sync.bulk`)."""
    for start in range(0, len(person_ids), DUES_CHUNK):
        part = zip(
            person_ids[start : start + DUES_CHUNK], due[start : start + DUES_CHUNK], strict=True
        )
        rows = [(min(float(d), NEVER), int(p), marks[int(p)]) for p, d in part if int(p) in marks]
        execute_many(connection, _SAVE_DUE, rows)


def due_filter(as_of: float) -> sa.ColumnElement[bool]:
    """Persons due by `as_of`."""
    return sa.or_(persons.c.due.is_(None), persons.c.due <= as_of)


def person_count(connection: Connection) -> int:
    return int(connection.execute(sa.select(sa.func.count()).select_from(persons)).scalar() or 0)


def fingerprint(
    rules: RuleSet,
    fields: Mapping[str, FieldMap],
    stage_maps: Mapping[str, StageMap],
    models: str | None = None,
) -> str:
    """What scoring and writing read beside the data: any change rescores everyone
    (`models`: the extra models' digest, `sync.models`)."""
    parts: dict[str, Any] = {
        "format": SCORING_FORMAT,
        "systems": sorted(fields),
        "rules": rules.model_dump(mode="json"),
        "fields": {s: dict(sorted(f.names.items())) for s, f in sorted(fields.items())},
        "stages": {
            s: [m.field, dict(m.mapping), list(m.order)] for s, m in sorted(stage_maps.items())
        },
    }
    if models is not None:  # none declared: the fingerprint stays what it was
        parts["models"] = models
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def pull_fingerprint(properties: Sequence[str], mapping: AttributeMap) -> str:
    """What a system's contact pull reads: the fields asked for and how they are mapped."""
    parts = [sorted(properties), sorted(mapping.fields.items()), mapping.derive_roles]
    text = json.dumps(parts, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def meta_value(connection: Connection, key: str) -> str | None:
    found = connection.execute(sa.select(meta.c.value).where(meta.c.key == key)).scalar()
    return None if found is None else str(found)


def set_meta(connection: Connection, key: str, value: str) -> None:
    connection.execute(sa.delete(meta).where(meta.c.key == key))
    connection.execute(sa.insert(meta).values(key=key, value=value))


def fingerprint_key(systems: Collection[str], elsewhere: Collection[str]) -> str:
    """The `meta` key of the fingerprint: one, or where other runs sync some of the store's
    systems (a tenant's runs of one system each, `Sync.elsewhere`), one per set of systems
    synced together, as each holds only its own systems' stage mappings."""
    return FINGERPRINT if not elsewhere else f"{FINGERPRINT}:{'+'.join(sorted(systems))}"


def stored_fingerprint(connection: Connection, key: str = FINGERPRINT) -> str | None:
    return meta_value(connection, key)


def store_fingerprint(connection: Connection, value: str, key: str = FINGERPRINT) -> None:
    set_meta(connection, key, value)


def went_back(connection: Connection, as_of: float) -> bool:
    """Whether `as_of` lies before the last run's moment (by more than `BACKWARDS`): the
    values written then are a later moment's, and the dues saved then too far."""
    last = meta_value(connection, LAST_AS_OF)
    return last is not None and as_of < float(last) - BACKWARDS


def store_as_of(connection: Connection, as_of: float) -> None:
    set_meta(connection, LAST_AS_OF, repr(as_of))


def unchanged_revisions(
    connection: Connection,
    system: str,
    rows: Sequence[tuple[Any, ...]],
    seen: set[str],
    marks: Marks,
) -> set[str]:
    """Of the rows (`ACTIVITY_COLUMNS`) stored before (revisable ones, pulled again), the
    keys of those the store holds as they are; the persons the others joined before go to
    `marks` (a revision may move)."""
    again = [r[1] for r in rows if r[1] in seen]
    if not again:
        return set()
    columns = [activities.c[c] for c in REVISED]
    stored = {
        row.activity_id: row
        for row in connection.execute(
            sa.select(activities.c.activity_id, *columns).where(
                activities.c.system == system, activities.c.activity_id.in_(again)
            )
        )
    }
    unchanged: set[str] = set()
    for row in rows:
        before = stored.get(row[1])
        if before is None:
            continue
        kept = dict(zip(ACTIVITY_COLUMNS, row, strict=True))
        if kept["record_id"] is None and kept["email"] == before.email:
            kept["record_id"] = before.record_id  # a pin stays (see `REVISE_ACTIVITY`)
        if all(kept[c] == getattr(before, c) for c in REVISED):
            unchanged.add(row[1])
    moved = [b for key, b in stored.items() if key not in unchanged]
    marks.records.update(b.record_id for b in moved if b.record_id is not None)
    marks.emails.update(b.email for b in moved if b.record_id is None and b.email)
    return unchanged


@dataclass
class Marks:
    """The persons a transaction's saving makes due now, by record of one system and by
    address: marked once, at its end (`mark`), rather than once per page or chunk of
    rows, so a person with many activities in a transaction is updated once."""

    records: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)

    def mark(self, connection: Connection, system: str) -> None:
        mark_due_by(connection, system, self.records, self.emails)
