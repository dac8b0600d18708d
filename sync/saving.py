"""What storing a page of pulled records does, inside the caller's transaction.

`StateStore.save_pages` (and its `save_contacts` and `save_activities`) runs these
on the records the store can key (`sync.schema.storable_contact`, `activity_values`).
The activities of a page arrive as rows prepared before the transaction
(`pulled_activities`), so that the transaction (and the store's lock, which the
fetch threads' pages wait on) holds little more than the statements; who they make
due is marked once at the end of the transaction (`sync.dues.Marks`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from scoring import Activity, Contact
from sync.bulk import execute_in, execute_many
from sync.dues import Marks, mark_due, unchanged_revisions
from sync.identity import Saved, drop_leftover_persons, persons_for, pin_to_aliases, store_records
from sync.minimise import Kept
from sync.schema import (
    INSERT_ACTIVITY,
    REVISE_ACTIVITY,
    SEEN_ACTIVITIES,
    activity_values,
    chunks,
    split_attributes,
)

ActivityRow = tuple[Any, ...]
"""An activity as a row of the `activities` table (`sync.schema.ACTIVITY_COLUMNS`)."""


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


def pulled_activities(
    system: str, pulled: Sequence[Activity], kept: Kept | None = None
) -> tuple[dict[str, ActivityRow], set[str], int]:
    """The rows of the activities the store can key, the last of each key, by key; the
    keys whose (last) activity is revisable (all, when `kept` says to revise); and how many
    no column could key. With `kept`, a row holds only the attributes kept; its key, when
    the activity has no id, is still made of all of them, so it never changes with `kept`."""
    rows: dict[str, ActivityRow] = {}
    revisable: set[str] = set()
    unusable = 0
    revise = kept is not None and kept.revise
    for activity in pulled:
        row = activity_values(system, activity)
        if row is None:
            unusable += 1
            continue
        if kept is not None and activity.attributes:
            attributes = kept.activity_attributes(activity.attributes)
            if attributes is not activity.attributes:
                row = (*row[:6], *split_attributes(attributes))
        key = row[1]
        rows[key] = row
        if revise or activity.revisable:
            revisable.add(key)
        else:
            revisable.discard(key)
    return rows, revisable, unusable


def keep_activities(
    connection: Connection,
    system: str,
    rows: dict[str, ActivityRow],
    revisable: set[str],
    marks: Marks,
) -> int:
    """Store activities not seen before (by their key), and the latest of revisable ones;
    how many were new. The persons they join (by record, or by address) go to `marks`."""
    seen: set[str] = set()
    for part in chunks(list(rows)):
        seen.update(key for (key,) in execute_in(connection, SEEN_ACTIVITIES, part, system))
    kept = [row for key, row in rows.items() if key not in seen or key in revisable]
    # Sent to a former address of a record: that record's.
    kept = pin_to_aliases(connection, system, kept)
    unchanged = unchanged_revisions(connection, system, kept, seen, marks) if seen else set()
    if revisable:
        plain = [row for row in kept if row[1] not in revisable]
        revised = [row for row in kept if row[1] in revisable]
    else:
        plain, revised = kept, []
    # Another process may store the same activities meanwhile: theirs stand.
    execute_many(connection, INSERT_ACTIVITY, plain)
    # Stored since `seen` was read, by another process, or not: ours is later (a pin stays:
    # see `REVISE_ACTIVITY`).
    execute_many(connection, REVISE_ACTIVITY, revised)
    # the persons they join (by record, or by address) are due now
    touched = [row for row in kept if row[1] not in unchanged] if unchanged else kept
    marks.records.update(row[2] for row in touched if row[2] is not None)
    marks.emails.update(row[3] for row in touched if row[2] is None and row[3])
    # Someone with new activity but no contact anywhere still gets a person (a revision may
    # name another address: its person exists too).
    addresses = {row[3] for row in kept if row[2] is None and row[3]}
    if addresses:
        persons_for(connection, addresses)
    return len(rows) - len(seen)
