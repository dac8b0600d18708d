"""Everyone in the store read back as scoring input, in two queries (persons with their
records, and activities), each read straight into Arrow columns (`sync.columns`)."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scoring import TYPE_CODES, ActivityType, Column, Contact
from sync.columns import (
    Distinct,
    column_reader,
    compute,
    fill_null,
    json_columns_of,
    masked,
    number_column,
    text_column_of,
)
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
        found = people_of(read.batches(persons_query(wanted, chosen), PERSON_COLUMNS))
        typed = read.infers
        query = activities_query(wanted, chosen, list(schema), typed=typed)
        columns = activity_columns(read.batches(query, schema), typed, activity_ids)
    return People(found.contacts, columns, found.records, found.record_attributes)


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


PARSED_KEPT = 4096
"""How many distinct attribute texts `people_of` keeps parsed at once: records share a
few ({} for most); the others are each one record's own."""


def people_of(batches: Iterable[pa.RecordBatch]) -> People:
    """Contacts (attributes merged across records, the first system's value standing),
    their records and each record's own attributes, from the persons query's batches
    (no activity columns yet). A person with one record shares its attributes' mapping
    with it; no one changes either."""
    merged: dict[int, Mapping[str, Any]] = {}
    own_merge: set[int] = set()
    emails: dict[int, str | None] = {}
    records: dict[str, list[tuple[str, str]]] = {}
    own: dict[tuple[str, str], Mapping[str, Any]] = {}
    parsed: dict[str, Mapping[str, Any]] = {}
    texts: dict[str, str] = {}
    for batch in batches:
        cells = [batch.column(name).to_pylist() for name in PERSON_COLUMNS]
        for pid, email, system, record, text in zip(*cells, strict=True):
            if pid not in merged:
                merged[pid] = {}
                emails[pid] = email
            if system is None:
                continue
            pulled = parsed.get(text)
            if pulled is None:  # records often share their attributes' text ({} for most)
                if len(parsed) >= PARSED_KEPT:
                    parsed.clear()
                pulled = parsed[text] = shared(json.loads(text), texts)
            attributes = merged[pid]
            if not attributes and pid not in own_merge:
                merged[pid] = pulled  # the first record's, shared until a second comes
            else:
                if pid not in own_merge:
                    attributes = merged[pid] = dict(attributes)
                    own_merge.add(pid)
                assert isinstance(attributes, dict)
                for key, value in pulled.items():
                    attributes.setdefault(key, value)
            system = sys.intern(system)
            records.setdefault(str(pid), []).append((system, record))
            own[(system, record)] = pulled
        del cells
    contacts = [
        Contact(str(pid), email=emails[pid], attributes=merged[pid], source="store")
        for pid in merged
    ]
    return People(contacts, activity_columns([]), records, own)


def shared(attributes: dict[str, Any], texts: dict[str, str]) -> dict[str, Any]:
    """The attributes with each name and text value one object across records (most
    records repeat a country, an industry, a title): `texts` holds them."""
    return {
        sys.intern(key): texts.setdefault(value, value) if type(value) is str else value
        for key, value in attributes.items()
    }


def activities_query(
    wanted: list[int] | None,
    chosen: sa.ColumnElement[bool] | None,
    names: list[str] | None = None,
    *,
    typed: bool = False,
    types: list[str] | None = None,
) -> sa.Select[Any]:
    """The activities of persons (all, those `wanted`, or those `chosen`) in a stable
    order: time, then system and id; of the `types` given, or of every type. An activity
    joins its person by its record, or by address. `typed`: led by a row of each column's
    type and no activity (person -1, empty texts, a time before any), for a reader that
    takes types from values."""
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
    if types is not None:
        of_types = _of_types(types)
        by_record, by_email = by_record.where(of_types), by_email.where(of_types)
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
    arms = [by_record, by_email]
    if typed:
        arms.append(sa.select(*(sa.literal(v).label(k) for k, v in TYPED_ROW.items())))
    union = sa.union_all(*arms).subquery()
    shown = [union.c[name] for name in names or READ_COLUMNS]
    return sa.select(*shown).order_by(union.c.occurred_at, union.c.system, union.c.activity_id)


def _of_types(types: list[str]) -> sa.ColumnElement[bool]:
    """`type IN (...)` with the type names written in the statement, and one type as
    `type = '...'`: a partial index on one type (`ix_activities_purchases`) serves only a
    query that names it so. The names are checked to be words."""
    if not all(re.fullmatch(r"[a-z_]+", t) for t in types):
        raise ValueError(f"not activity types: {types!r}")
    named: list[sa.ColumnElement[str]] = [sa.literal_column(f"'{t}'") for t in types]
    return activities.c.type == named[0] if len(named) == 1 else activities.c.type.in_(named)


TYPED_ROW: dict[str, Any] = {
    "person_id": -1,
    "system": "",
    "activity_id": "",
    "type": "",
    "occurred_at": float("-inf"),
    "url": "",
    "campaign": "",
    "form": "",
    "amount": 0.0,
    "extra": "{}",
}
"""The row a `typed` activities query begins with (`activities_query`)."""


def activity_columns(
    batches: Iterable[pa.RecordBatch], typed: bool = False, with_ids: bool = False
) -> ActivityColumns:
    """The activities query's answer, batch by batch, as the engine's columns: texts
    dictionary-encoded, each distinct `extra` JSON parsed once, no Python object per
    row, no batch kept once read (`typed`: the first row is `TYPED_ROW`'s, left out;
    `with_ids`: the query gave each activity's id)."""
    names = [c.name for c in SPLIT_COLUMNS[:-1]]
    texts = {name: Distinct() for name in ("system", "type", "extra", *names[:-1])}
    # copies: a column read from a stream is a view of its whole batch, kept alive by it
    amounts: list[np.ndarray] = []
    unset: list[np.ndarray] = []
    person: list[np.ndarray] = []
    at: list[np.ndarray] = []
    ids: list[str] | None = [] if with_ids else None
    for n, batch in enumerate(batches):
        if typed and n == 0:
            assert batch.num_rows and batch.column("person_id")[0].as_py() == -1
            batch = batch.slice(1)
        for name, found in texts.items():
            found.add(batch.column(name))
        amount = batch.column("amount")
        amounts.append(np.array(fill_null(amount, 0.0).to_numpy(zero_copy_only=False)))
        unset.append(np.array(compute("is_null", amount).to_numpy(zero_copy_only=False)))
        person.append(np.array(batch.column("person_id").to_numpy(), dtype=np.int64))
        at.append(np.array(batch.column("occurred_at").to_numpy(), dtype=np.float64))
        if ids is not None:
            ids += ids_of(batch)
        del batch, amount
    amount = (
        masked(np.concatenate(amounts).astype(np.float64), np.concatenate(unset))
        if amounts
        else pa.array([], pa.float64())
    )
    del amounts, unset
    split: dict[str, Any] = {"amount": amount}
    attributes: dict[str, Column] = {}
    for name in names:
        if name == "amount":
            if amount.null_count < len(amount):
                attributes[name] = number_column(amount)
            continue
        codes = texts[name].codes()
        if (codes >= 0).any():
            attributes[name] = text_column_of(codes, texts[name].distinct)
            split[name] = texts[name]
    extra = texts.pop("extra")
    for key, column in json_columns_of(extra.codes(), extra.distinct).items():
        if key in attributes:  # an amount that was no number stays in the JSON
            found = split[key]
            column = either(found if key == "amount" else found.cells(), column)
        attributes[key] = column
    kind = texts.pop("type")
    code_of = {t.value: TYPE_CODES[t] for t in ActivityType}
    type_codes = np.array([code_of[k] for k in kind.distinct], dtype=np.int8)[kind.codes()]
    system = texts.pop("system")
    return ActivityColumns(
        np.concatenate(person) if person else np.zeros(0, np.int64),
        type_codes,
        np.concatenate(at) if at else np.zeros(0, np.float64),
        text_column_of(system.codes(), system.distinct),
        attributes,
        ids,
    )


def ids_of(batch: pa.RecordBatch) -> list[str]:
    """Each activity's `system:id`."""
    joined = compute(
        "binary_join_element_wise",
        batch.column("system"),
        batch.column("activity_id"),
        pa.scalar(":"),
    )
    return [str(i) for i in joined.to_pylist()]


def either(split: pa.Array | pa.ChunkedArray, rest: Column) -> Column:
    """A key with a column of its own and a place in the JSON: the column's value where it
    has one, the JSON's elsewhere (rare: an `amount` some pull gave as text)."""
    from scoring import column_from_values
    from sync.columns import values_of

    firsts = split.to_pylist()
    return column_from_values(
        [a if a is not None else b for a, b in zip(firsts, values_of(rest), strict=True)]
    )
