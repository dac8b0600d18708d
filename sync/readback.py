"""Everyone in the store read back as scoring input, in two queries: persons, activities."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scoring import TYPE_CODES, ActivityType, Contact
from sync.people import ActivityColumns, People
from sync.schema import SPLIT_COLUMNS, activities, identities, persons


def stored_people(
    connection: Connection,
    wanted: list[int] | None,
    chosen: sa.ColumnElement[bool] | None = None,
) -> People:
    """Persons (all, those `wanted`, or those the condition on `persons` `chosen` holds
    for, such as being due) with their merged attributes and all their activities."""
    query = sa.select(
        persons.c.id,
        persons.c.email,
        identities.c.system,
        identities.c.record_id,
        identities.c.email.label("held"),
        identities.c.attributes,
    ).select_from(persons.outerjoin(identities, identities.c.person_id == persons.c.id))
    if wanted is not None:
        query = query.where(persons.c.id.in_(wanted))
    if chosen is not None:
        query = query.where(chosen)
    merged: dict[int, dict[str, Any]] = {}
    emails: dict[int, str | None] = {}
    records: dict[str, list[tuple[str, str]]] = {}
    own: dict[tuple[str, str], Mapping[str, Any]] = {}
    for row in connection.execute(query.order_by(persons.c.id, identities.c.system)):
        attributes = merged.setdefault(row.id, {})
        emails.setdefault(row.id, row.email)
        if row.system is None:
            continue
        pulled = json.loads(row.attributes)
        for key, value in pulled.items():
            attributes.setdefault(key, value)
        records.setdefault(str(row.id), []).append((row.system, row.record_id))
        own[(row.system, row.record_id)] = pulled
    contacts = [
        Contact(str(pid), email=emails[pid], attributes=merged[pid], source="store")
        for pid in merged
    ]
    columns = stored_activities(connection, wanted, chosen)
    return People(contacts, columns, records, own)


def stored_activities(
    connection: Connection,
    wanted: list[int] | None,
    chosen: sa.ColumnElement[bool] | None = None,
) -> ActivityColumns:
    """The activities of persons (all, or those `wanted`) as columns, in a stable order:
    time, then system and id. An activity joins its person by its record, or by address."""
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
    query = sa.select(union).order_by(union.c.occurred_at, union.c.system, union.c.activity_id)
    rows = connection.execute(query).all()
    size = len(rows)
    if not size:
        empty = np.zeros(0)
        return ActivityColumns(empty.astype(np.int64), empty.astype(np.int8), empty, [], [], {})
    person, system, activity_id, kind, at, *common, extra = (
        list(c) for c in zip(*rows, strict=True)
    )
    names = [c.name for c in SPLIT_COLUMNS[:-1]]
    attributes = {n: v for n, v in zip(names, common, strict=True) if any(x is not None for x in v)}
    parsed: dict[str, dict[str, Any]] = {}  # most rows share a few texts ({"recorded_by": ...})
    for i, text in enumerate(extra):
        if text != "{}":
            found = parsed.get(text)
            if found is None:
                found = parsed[text] = json.loads(text)
            for key, value in found.items():
                if key not in attributes:
                    attributes[key] = [None] * size
                attributes[key][i] = value
    codes = {t.value: TYPE_CODES[t] for t in ActivityType}
    return ActivityColumns(
        np.array(person, dtype=np.int64),
        np.array([codes[k] for k in kind], dtype=np.int8),
        np.array(at, dtype=np.float64),
        [f"{s}:{a}" for s, a in zip(system, activity_id, strict=True)],
        system,
        attributes,
    )
