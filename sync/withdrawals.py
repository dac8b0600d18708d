"""Activities a pull found taken back (`connectors.protocol.Withdrawn`), deleted from the store.

A system can take back an activity without taking back the person who did it: a Salesforce
CampaignMember or won Opportunity deleted (read through queryAll with `IsDeleted`), a
Mailchimp member archived with the campaign activity of its address. The connector names
what went on the page that found it (`Page.withdrawn`); `StateStore.save_pages` runs
`withdraw` inside the page's transaction, right after the page's own activities, so a
process killed at any point leaves both or neither. The persons the deleted activities
joined (by record, or by address for those keyed by address alone) go to the
transaction's `Marks` and are rescored by the next run; a person left with no record and
no activity is dropped at the end of the transaction (`sync.identity`). Naming an activity
the store does not hold, or withdrawing one twice, does nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from connectors.protocol import Withdrawn
from scoring import normalize_email
from sync.dues import Marks
from sync.schema import activities, chunks, persons

_COLUMNS = ("url", "campaign", "form", "amount")
"""Attributes stored in columns of their own; the others are in `extra`
(`sync.activity_rows.split_attributes`)."""
_FOUND = (
    activities.c.activity_id,
    activities.c.record_id,
    activities.c.email,
    *(activities.c[c] for c in _COLUMNS),
    activities.c.extra,
)


def withdraw(
    connection: Connection, system: str, withdrawn: Sequence[Withdrawn], marks: Marks
) -> tuple[int, set[str]]:
    """Delete the activities of `system` that `withdrawn` names; their persons go to
    `marks`. Returns how many were deleted, and the addresses that lost address-keyed
    activities (whose persons may be left with nothing: `persons_of`)."""
    rows: dict[str, Any] = {}
    exact = sorted({w.activity_id for w in withdrawn if w.activity_id})
    for part in chunks(exact):
        rows.update(_rows(connection, system, activities.c.activity_id.in_(part)))
    rows.update(_by_prefixes(connection, system, withdrawn))
    for each in withdrawn:
        if each.prefix and each.where and not each.activity_id:
            found = _rows(connection, system, _starting(each.prefix))
            rows.update((key, row) for key, row in found.items() if _holds(row, each.where))
    rows.update(_of_contacts(connection, system, withdrawn))
    if not rows:
        return 0, set()
    for part in chunks(sorted(rows)):
        connection.execute(
            sa.delete(activities).where(
                activities.c.system == system, activities.c.activity_id.in_(part)
            )
        )
    marks.records.update(r.record_id for r in rows.values() if r.record_id is not None)
    addresses = {r.email for r in rows.values() if r.record_id is None and r.email}
    marks.emails.update(addresses)
    return len(rows), addresses


def persons_of(connection: Connection, addresses: Iterable[str]) -> set[int]:
    """The persons holding these addresses (to drop those left with nothing)."""
    found: set[int] = set()
    for part in chunks(sorted(set(addresses))):
        query = sa.select(persons.c.id).where(persons.c.email.in_(part))
        found.update(int(pid) for pid in connection.execute(query).scalars())
    return found


def _by_prefixes(
    connection: Connection, system: str, withdrawn: Sequence[Withdrawn]
) -> dict[str, Any]:
    """The activities the prefixes (without `where`) name, found in one query by the
    prefix they share (every Opportunity an incremental pull finds no longer won names
    one; most hold nothing), then each id checked against them."""
    prefixes = tuple(sorted({w.prefix for w in withdrawn if w.prefix and not w.where}))
    if not prefixes:
        return {}
    first, last = prefixes[0], prefixes[-1]  # sorted: what these share, all share
    size = min(len(first), len(last))
    size = next((i for i in range(size) if first[i] != last[i]), size)
    shared = first[:size]
    if not shared:  # no shared start: one query each rather than the whole system's
        found: dict[str, Any] = {}
        for prefix in prefixes:
            found.update(_rows(connection, system, _starting(prefix)))
        return found
    rows = _rows(connection, system, _starting(shared))
    return {key: row for key, row in rows.items() if key.startswith(prefixes)}


def _starting(prefix: str) -> sa.ColumnElement[bool]:
    return activities.c.activity_id.like(like_literal(prefix) + "%", escape="\\")


def _rows(connection: Connection, system: str, condition: sa.ColumnElement[bool]) -> dict[str, Any]:
    query = sa.select(*_FOUND).where(activities.c.system == system, condition)
    return {str(row.activity_id): row for row in connection.execute(query)}


def _of_contacts(
    connection: Connection, system: str, withdrawn: Sequence[Withdrawn]
) -> dict[str, Any]:
    """The activities the contacts among `withdrawn` name (each record's, and those keyed by
    each address alone, where they hold its `where`), found a chunk of records and a chunk
    of addresses per query, each by its index: one query per contact, `record_id = ? OR
    (record_id IS NULL AND email = ?)`, had SQLite read every activity of the system (it
    takes the system alone from the record index), per archived Mailchimp member."""
    by_record: dict[str, list[Withdrawn]] = {}
    by_address: dict[str, list[Withdrawn]] = {}
    for each in withdrawn:
        if each.activity_id or each.prefix:
            continue
        if each.record_id:
            by_record.setdefault(each.record_id, []).append(each)
        address = normalize_email(each.email)
        if address is not None:
            by_address.setdefault(address, []).append(each)
    found: dict[str, Any] = {}
    for part in chunks(sorted(by_record)):
        for key, row in _rows(connection, system, activities.c.record_id.in_(part)).items():
            if any(_holds(row, w.where) for w in by_record[row.record_id]):
                found[key] = row
    for part in chunks(sorted(by_address)):
        # by the address index alone: the system and the record are checked here
        query = sa.select(*_FOUND, activities.c.system).where(activities.c.email.in_(part))
        for row in connection.execute(query):
            if row.system != system or row.record_id is not None:
                continue
            if any(_holds(row, w.where) for w in by_address[row.email]):
                found[str(row.activity_id)] = row
    return found


def like_literal(text: str) -> str:
    """`text` taken literally by LIKE (with ESCAPE '\\')."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _holds(row: Any, where: Sequence[tuple[str, str]]) -> bool:
    """Whether a stored activity's attributes hold every (name, value) of `where`."""
    if not where:
        return True
    extra: dict[str, Any] | None = None
    for name, value in where:
        if name in _COLUMNS:
            held = getattr(row, name)
        else:
            if extra is None:
                extra = json.loads(row.extra or "{}")
            held = extra.get(name)
        if held is None or str(held) != value:
            return False
    return True
