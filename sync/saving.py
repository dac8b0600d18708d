"""What storing a page of pulled records does, inside the caller's transaction.

`StateStore.save_pages` (and its `save_contacts` and `save_activities`) runs these
on the records the store can key (`sync.schema.storable_contact`, `storable_activity`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from scoring import Activity, Contact
from sync.bulk import execute_in, execute_many
from sync.dues import mark_due, mark_due_by, unchanged_revisions
from sync.identity import Saved, drop_leftover_persons, persons_for, pin_to_aliases, store_records
from sync.schema import (
    ACTIVITY_COLUMNS,
    INSERT_ACTIVITY,
    REVISE_ACTIVITY,
    SEEN_ACTIVITIES,
    activity_key,
    activity_row,
    chunks,
)


def keep_contacts(
    connection: Connection,
    system: str,
    contacts: Sequence[Contact],
    at: datetime,
    ours: frozenset[str] = frozenset(),
) -> int:
    """Store pulled contacts (the last of each id); how many are new or changed (a change
    in `ours`, the fields leadscore writes, alone is none)."""
    saved = Saved()
    for part in chunks(list({c.id: c for c in contacts}.values())):
        store_records(connection, system, part, at, saved, ours)
    mark_due(connection, saved.touched)
    drop_leftover_persons(connection, saved.left)
    return saved.changed


def keep_activities(connection: Connection, system: str, usable: Sequence[Activity]) -> int:
    """Store activities not seen before (by their key), and the latest of revisable ones;
    how many were new."""
    unique = {activity_key(a): a for a in usable}
    new = 0
    addresses: set[str] = set()
    for part in chunks(list(unique)):
        seen = {key for (key,) in execute_in(connection, SEEN_ACTIVITIES, part, system)}
        kept = [k for k in part if k not in seen or unique[k].revisable]
        rows = [activity_row(system, key, unique[key]) for key in kept]
        # Sent to a former address of a record: that record's.
        pin_to_aliases(connection, system, rows)
        unchanged = unchanged_revisions(connection, system, rows, seen)
        plain: list[tuple[Any, ...]] = []
        revised: list[tuple[Any, ...]] = []
        for row in rows:
            values = tuple(row[c] for c in ACTIVITY_COLUMNS)
            (revised if unique[row["activity_id"]].revisable else plain).append(values)
        # Another process may store the same activities meanwhile: theirs stand.
        execute_many(connection, INSERT_ACTIVITY, plain)
        # Stored since `seen` was read, by another process, or not: ours is later (a pin
        # stays: see `REVISE_ACTIVITY`).
        execute_many(connection, REVISE_ACTIVITY, revised)
        new += sum(r["activity_id"] not in seen for r in rows)
        # the persons they join (by record, or by address) are due now
        touched = [r for r in rows if r["activity_id"] not in unchanged]
        mark_due_by(
            connection,
            system,
            [r["record_id"] for r in touched if r["record_id"] is not None],
            [r["email"] for r in touched if r["record_id"] is None and r["email"]],
        )
        # A revision may name another address: its person exists too.
        addresses.update(r["email"] for r in rows if r["record_id"] is None and r["email"])
    if addresses:
        # Someone with new activity but no contact anywhere still gets a person.
        persons_for(connection, addresses)
    return new
