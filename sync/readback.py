"""Everyone in the store read back as scoring input, in two queries (persons with their
records, and activities), each read straight into Arrow columns (`sync.columns`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scoring import TYPE_CODES, ActivityType, Column, Contact
from sync.columns import column_reader, dictionary_codes, json_columns, number_column, text_column
from sync.people import ActivityColumns, People
from sync.schema import SPLIT_COLUMNS, activities, identities, persons

PERSON_COLUMNS = {
    "id": pa.int64(),
    "email": pa.string(),
    "system": pa.string(),
    "record_id": pa.string(),
    "attributes": pa.string(),
}
READ_COLUMNS = {
    "person_id": pa.int64(),
    "system": pa.string(),
    "type": pa.string(),
    "occurred_at": pa.float64(),
    "url": pa.string(),
    "campaign": pa.string(),
    "form": pa.string(),
    "amount": pa.float64(),
    "extra": pa.string(),
}


def stored_people(
    connection: Connection,
    wanted: list[int] | None,
    chosen: sa.ColumnElement[bool] | None = None,
    *,
    adbc: bool = True,
    activity_ids: bool = False,
) -> People:
    """Persons (all, those `wanted`, or those the condition on `persons` `chosen` holds
    for, such as being due) with their merged attributes and all their activities
    (with their `system:id` where `activity_ids` asks: scoring needs none).
    `adbc` False reads through SQLAlchemy's rows (what an in-memory store always does);
    so do reads of given persons and of a small SQLite store, for which starting the
    reading worker would cost more than the rows (`worth_a_worker`)."""
    schema = {**READ_COLUMNS, **({"activity_id": pa.string()} if activity_ids else {})}
    adbc = adbc and (connection.dialect.name != "sqlite" or worth_a_worker(connection, wanted))
    with column_reader(connection, adbc) as read:
        found = read(persons_query(wanted, chosen), PERSON_COLUMNS)
        table = read(activities_query(wanted, chosen, list(schema)), schema)
    return people_of(found, activity_columns(table))


WORKER_ROWS = 200_000
"""From how many stored activities a SQLite store is read by the worker process (about
half a second to start): below, SQLAlchemy's rows cost less."""


def worth_a_worker(connection: Connection, wanted: list[int] | None) -> bool:
    """Whether a read of a SQLite store goes to the worker: not for given persons (a
    trigger's one record), nor for a store holding fewer than `WORKER_ROWS` activities
    (the largest rowid bounds their number at once)."""
    if wanted is not None:
        return False
    stored = connection.execute(sa.select(sa.func.max(sa.text("rowid"))).select_from(activities))
    return int(stored.scalar() or 0) >= WORKER_ROWS


def persons_query(
    wanted: list[int] | None, chosen: sa.ColumnElement[bool] | None
) -> sa.Select[Any]:
    """Persons with each of their records (none: one row of NULLs), by person then system."""
    query = sa.select(
        persons.c.id,
        persons.c.email,
        identities.c.system,
        identities.c.record_id,
        identities.c.attributes,
    ).select_from(persons.outerjoin(identities, identities.c.person_id == persons.c.id))
    if wanted is not None:
        query = query.where(persons.c.id.in_(wanted))
    if chosen is not None:
        query = query.where(chosen)
    return query.order_by(persons.c.id, identities.c.system)


def people_of(found: pa.Table, columns: ActivityColumns) -> People:
    """Contacts (attributes merged across records, the first system's value standing),
    their records and each record's own attributes, from the persons query's columns."""
    merged: dict[int, dict[str, Any]] = {}
    emails: dict[int, str | None] = {}
    records: dict[str, list[tuple[str, str]]] = {}
    own: dict[tuple[str, str], Mapping[str, Any]] = {}
    parsed: dict[str, dict[str, Any]] = {}
    cells = (found.column(name).to_pylist() for name in PERSON_COLUMNS)
    for pid, email, system, record, text in zip(*cells, strict=True):
        attributes = merged.setdefault(pid, {})
        emails.setdefault(pid, email)
        if system is None:
            continue
        pulled = parsed.get(text)
        if pulled is None:  # records often share their attributes' text ({} for most)
            pulled = parsed[text] = json.loads(text)
        for key, value in pulled.items():
            attributes.setdefault(key, value)
        records.setdefault(str(pid), []).append((system, record))
        own[(system, record)] = pulled
    contacts = [
        Contact(str(pid), email=emails[pid], attributes=merged[pid], source="store")
        for pid in merged
    ]
    return People(contacts, columns, records, own)


def activities_query(
    wanted: list[int] | None,
    chosen: sa.ColumnElement[bool] | None,
    names: list[str] | None = None,
) -> sa.Select[Any]:
    """The activities of persons (all, those `wanted`, or those `chosen`) in a stable
    order: time, then system and id. An activity joins its person by its record, or by
    address."""
    a = activities
    fields = (a.c.system, a.c.activity_id, a.c.type, a.c.occurred_at, *SPLIT_COLUMNS)
    by_record = (
        sa.select(identities.c.person_id, *fields)
        .select_from(
            a.join(
                identities,
                sa.and_(
                    identities.c.system == a.c.system,
                    identities.c.record_id == a.c.record_id,
                ),
            )
        )
        .where(a.c.record_id.is_not(None))
    )
    by_email = (
        sa.select(persons.c.id.label("person_id"), *fields)
        .select_from(a.join(persons, persons.c.email == a.c.email))
        .where(a.c.record_id.is_(None))
    )
    if wanted is not None:
        by_record = by_record.where(identities.c.person_id.in_(wanted))
        by_email = by_email.where(persons.c.id.in_(wanted))
    if chosen is not None:
        # As lists of the chosen persons (and their addresses), so that the database
        # starts from them, by the index on the condition, and then reads each one's
        # activities by index: a join would scan every activity for a few persons.
        picked = sa.select(persons.c.id).where(chosen)
        by_record = by_record.where(identities.c.person_id.in_(picked))
        addresses = sa.select(persons.c.email).where(chosen)
        by_email = by_email.where(a.c.email.in_(addresses), chosen)
    union = sa.union_all(by_record, by_email).subquery()
    shown = [union.c[name] for name in names or READ_COLUMNS]
    return sa.select(*shown).order_by(union.c.occurred_at, union.c.system, union.c.activity_id)


def activity_columns(table: pa.Table) -> ActivityColumns:
    """The activities query's answer as the engine's columns: texts dictionary-encoded,
    each distinct `extra` JSON parsed once, no Python object per row."""
    names = [c.name for c in SPLIT_COLUMNS[:-1]]
    attributes: dict[str, Column] = {}
    for name in names:
        cells = table.column(name)
        if cells.null_count == len(cells):
            continue
        attributes[name] = number_column(cells) if name == "amount" else text_column(cells)
    for key, column in json_columns(table.column("extra")).items():
        if key in attributes:  # an amount that was no number stays in the JSON
            column = either(table.column(key), column)
        attributes[key] = column
    kind_codes, kinds = dictionary_codes(table.column("type"))
    code_of = {t.value: TYPE_CODES[t] for t in ActivityType}
    type_codes = np.array([code_of[k] for k in kinds], dtype=np.int8)[kind_codes]
    return ActivityColumns(
        table.column("person_id").to_numpy().astype(np.int64, copy=False),
        type_codes,
        table.column("occurred_at").to_numpy().astype(np.float64, copy=False),
        text_column(table.column("system")),
        attributes,
        ids_of(table) if "activity_id" in table.column_names else None,
    )


def ids_of(table: pa.Table) -> list[str]:
    """Each activity's `system:id`."""
    joined = pc.binary_join_element_wise(table.column("system"), table.column("activity_id"), ":")
    return [str(i) for i in joined.to_pylist()]


def either(split: pa.ChunkedArray, rest: Column) -> Column:
    """A key with a column of its own and a place in the JSON: the column's value where it
    has one, the JSON's elsewhere (rare: an `amount` some pull gave as text)."""
    from scoring import column_from_values
    from sync.columns import values_of

    firsts = split.to_pylist()
    return column_from_values(
        [a if a is not None else b for a, b in zip(firsts, values_of(rest), strict=True)]
    )
