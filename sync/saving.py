"""What storing a page of pulled records does, inside the caller's transaction.

`StateStore.save_pages` (and its `save_contacts` and `save_activities`) runs these
on the records the store can key (`sync.schema.storable_contact`,
`sync.activity_rows.activity_values`).
The activities of a page arrive as rows prepared before the transaction
(`pulled_activities`), so that the transaction (and the store's lock, which the
fetch threads' pages wait on) holds little more than the statements; who they make
due is marked once at the end of the transaction (`sync.dues.Marks`). The new activities
of the transaction's pages in a row are inserted by one statement, in address order
(`save_group`): storing the same pages one by one or together leaves the same store
(tests/sync/test_saving_groups.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from connectors.protocol import Page, Withdrawn
from scoring import Activity, Contact
from sync.activity_rows import activity_values
from sync.bulk import execute_in, execute_many
from sync.dues import Marks, mark_due, unchanged_revisions
from sync.identity import (
    Saved,
    drop_leftover_persons,
    past_gone,
    persons_for,
    pin_to_aliases,
    store_records,
)
from sync.minimise import Kept
from sync.schema import (
    INSERT_ACTIVITY,
    REVISE_ACTIVITY,
    SEEN_ACTIVITIES,
    chunks,
    storable_contact,
)
from sync.withdrawals import persons_of, withdraw

ActivityRow = tuple[Any, ...]
"""An activity as a row of the `activities` table (`sync.schema.ACTIVITY_COLUMNS`)."""
Prepared = tuple[Sequence[Contact], dict[str, ActivityRow], set[str]]
"""A page ready to store: its contacts, its activity rows by key, the keys revisable
(`pulled_activities`)."""
GROUP_PAGES = 64
"""The most pages the pull stores in one transaction (`sync.fanin.fan_in_groups`): in larger
transactions SQLite inserts for less (fewer commits, each index's pages touched once for
more rows); 64 is what the fan-in's queue holds (`buffered`), so a group never waits."""
GROUP_ROWS = 100_000
"""And once a group's pages hold this many records, activities and withdrawals together
(`page_rows`), it takes no more: a group's memory stays bounded whatever a system's page
size (about 64 pages of Mailchimp's email activity, of 1,000 recipients each with a few
actions; 50 pages of Salesforce's 2,000 records)."""


def page_rows(page: Page | None) -> int:
    """What a page brings to store, in rows (none for the end of a stream)."""
    if page is None:
        return 0
    return len(page.contacts) + len(page.activities) + len(page.withdrawn) + len(page.gone)


@dataclass
class PageGroup:
    """What storing a transaction's pages carries from page to page."""

    marks: Marks = field(default_factory=Marks)
    """The persons made due, marked once at the end."""
    held: set[str] = field(default_factory=set)
    """Addresses known to have a person in this transaction (made, or found and on
    PostgreSQL locked, by an earlier page): not looked up again; emptied when persons are
    dropped (`keep_contacts`)."""
    rows: list[ActivityRow] = field(default_factory=list)
    """New, plain activity rows of the pages so far, inserted together (`flush`)."""
    keys: set[str] = field(default_factory=set)
    """Their keys: a later page holding one of them has it seen."""

    def flush(self, connection: Connection) -> None:
        """Insert the rows held back, in address order: one statement for the pages since
        the last flush, whose inserts into the address index then go through its pages in
        order rather than at random (about a third of the inserts' work in SQLite)."""
        self.rows.sort(key=_address)
        # Another process may store the same activities meanwhile: theirs stand.
        execute_many(connection, INSERT_ACTIVITY, self.rows)
        self.rows, self.keys = [], set()


def _address(row: ActivityRow) -> str:
    return row[3] or ""


def save_group(
    connection: Connection,
    system: str,
    prepared: Sequence[Prepared],
    at: datetime,
    ours: frozenset[str],
    withdrawn: Sequence[Sequence[Withdrawn]],
) -> list[tuple[int, int, int]]:
    """Store prepared pages in the caller's transaction, each page as `keep_contacts`,
    `keep_activities` and then `withdraw` would, in order; for each page, how many contacts
    were new or changed, how many activities were new and how many its `withdrawn` took
    out. The activity rows of pages in a row are inserted together, before anything that
    reads or deletes activities (storing contacts, a withdrawal, a revision, the end)."""
    counts: list[tuple[int, int, int]] = []
    group = PageGroup()
    emptied: set[str] = set()
    for n, (contacts, rows, revisable) in enumerate(prepared):
        changed = 0
        if contacts:
            group.flush(connection)
            changed = keep_contacts(connection, system, contacts, at, ours, group.held)
        new = keep_activities(connection, system, rows, revisable, group) if rows else 0
        taken = 0
        if n < len(withdrawn) and withdrawn[n]:
            group.flush(connection)
            taken, addresses = withdraw(connection, system, withdrawn[n], group.marks)
            emptied |= addresses
        counts.append((changed, new, taken))
    group.flush(connection)
    group.marks.mark(connection, system)
    if emptied:
        drop_leftover_persons(connection, persons_of(connection, emptied))
    return counts


def keep_contacts(
    connection: Connection,
    system: str,
    contacts: Sequence[Contact],
    at: datetime,
    ours: frozenset[str] = frozenset(),
    held: set[str] | None = None,
) -> int:
    """Store pulled contacts (the last of each id); how many are new or changed (a change
    in `ours`, the fields leadscore writes, alone is none). Persons left with nothing are
    dropped, and then `held` (`keep_activities`) emptied."""
    saved = Saved()
    for part in chunks(list({c.id: c for c in contacts}.values())):
        store_records(connection, system, part, at, saved, ours)
    mark_due(connection, saved.touched)
    if saved.left and drop_leftover_persons(connection, saved.left) and held is not None:
        held.clear()
    return saved.changed


def prepare_pages(
    system: str,
    pages: Sequence[tuple[Sequence[Contact], Sequence[Activity]]],
    kept: Kept | None = None,
) -> tuple[list[Prepared], int]:
    """Pages of pulled (contacts, activities) ready to store (`save_group`), work that
    needs no store: the contacts and activities a column can key, with only what `kept`
    keeps, the activities as rows; and how many records no column could key."""
    prepared: list[Prepared] = []
    unusable = 0
    for found, pulled in pages:
        contacts = [c for c in map(storable_contact, found) if c is not None]
        rows, revisable, unkeyed = pulled_activities(system, pulled, kept)
        unusable += len(found) - len(contacts) + unkeyed
        prepared.append((kept.contacts(contacts) if kept else contacts, rows, revisable))
    return prepared, unusable


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
        attributes = activity.attributes
        if kept is not None and attributes:
            attributes = kept.activity_attributes(attributes)
        row = activity_values(system, activity, attributes)
        if row is None:
            unusable += 1
            continue
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
    group: PageGroup,
) -> int:
    """Store activities not seen before (by their key), and the latest of revisable ones;
    how many were new. New plain ones wait in `group` for its `flush`; the persons they
    join (by record, or by address) go to its marks."""
    if revisable and group.rows:
        group.flush(connection)  # a revision replaces what the store holds
    seen: set[str] = {key for key in rows if key in group.keys} if group.keys else set()
    for part in chunks(list(rows)):
        seen.update(key for (key,) in execute_in(connection, SEEN_ACTIVITIES, part, system))
    kept = [row for key, row in rows.items() if key not in seen or key in revisable]
    # Sent to a former address of a record: that record's; of a record gone: not kept.
    pinned = pin_to_aliases(connection, system, kept)
    kept = past_gone(connection, system, pinned)
    dropped = {row[1] for row in pinned} - {row[1] for row in kept} - seen
    unchanged = unchanged_revisions(connection, system, kept, seen, group.marks) if seen else set()
    if revisable:
        plain = [row for row in kept if row[1] not in revisable]
        revised = [row for row in kept if row[1] in revisable]
    else:
        plain, revised = kept, []
    group.rows += plain
    group.keys.update(row[1] for row in plain)
    # Stored since `seen` was read, by another process, or not: ours is later (a pin stays:
    # see `REVISE_ACTIVITY`).
    execute_many(connection, REVISE_ACTIVITY, revised)
    # the persons they join (by record, or by address) are due now
    touched = [row for row in kept if row[1] not in unchanged] if unchanged else kept
    group.marks.records.update(row[2] for row in touched if row[2] is not None)
    group.marks.emails.update(row[3] for row in touched if row[2] is None and row[3])
    # Someone with new activity but no contact anywhere still gets a person (a revision may
    # name another address: its person exists too).
    addresses = {row[3] for row in kept if row[2] is None and row[3]} - group.held
    if addresses:
        group.held |= addresses
        persons_for(connection, addresses)
    return len(rows) - len(seen) - len(dropped)
