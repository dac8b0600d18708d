"""Who a record is: the system's record id first, the email second.

A person is keyed by address; a record (system, record id) belongs to the person of its
current address, and follows its id, not its address, when the address changes. An
activity keeps the system's own reference: a record id, joined through the record, or
only an address, joined to the person with that address (`sync.readback`).

- An address a record of system S leaves (its email changed) becomes an alias of that
  record, unless another live record of S holds it: S's activities keyed by that address,
  those already stored and those that arrive later, are pinned to the record (their
  `record_id` is set), so they stay with it.
- An alias yields to a live record: when a record of S takes the address (the record
  itself changing back too), the alias goes, and S's activities keyed by it that arrive
  afterwards go to the person of the address. What was pinned stays pinned, revised or
  not. Other systems' activities are never pinned by S's changes.
- A merge re-points the loser's activities and aliases to the winner, and makes the
  loser's address an alias of the winner on the same terms; a deletion drops the record
  with its record-keyed activities and aliases. Either way the gone row stays, so the
  record is never written again, until it is pulled again.
- A person left with no record and no address-keyed activity is deleted.

Each function runs inside its caller's transaction. On PostgreSQL, a person is read with
a key-share lock by every writer about to point something at it, and a leftover person is
deleted only if no writer holds it (`SKIP LOCKED`) and nothing points at it then, so a
concurrent writer never finds its person gone.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scoring import Contact, normalize_email
from sync.bulk import driver_sql, execute_in, execute_many, insert_sql, update_sql
from sync.dues import mark_due_by
from sync.handover_schema import forget_handovers
from sync.history import forget_history
from sync.json_text import dumps
from sync.run_tables import forget_written_log, write_log
from sync.schema import (
    activities,
    aliases,
    chunks,
    failures,
    forget_records,
    gone,
    identities,
    persons,
    queue,
    upsert_dialect,
    written,
)

_PERSONS_OF = f"SELECT id, email FROM {persons.name} WHERE email IN"
_ADD_PERSONS = insert_sql(persons, ["email"], " ON CONFLICT (email) DO NOTHING")


def persons_for(connection: Connection, emails: set[str]) -> dict[str, int]:
    """The person of each address, created where missing. In SQL written once, not built
    per call: a page of email events asks this for up to a thousand addresses."""
    # Locked against deletion, as `_held` does.
    held = " FOR KEY SHARE" if connection.dialect.name == "postgresql" else ""
    found: dict[str, int] = {}
    for part in chunks(sorted(emails)):
        found.update(
            (email, pid) for pid, email in execute_in(connection, _PERSONS_OF, part, tail=held)
        )
    missing = sorted(emails - set(found))
    if missing:
        # In address order, so concurrent writers adding the same new addresses take their
        # locks in the same order (no deadlock), and a person another writer just created
        # stands.
        execute_many(connection, _ADD_PERSONS, [(email,) for email in missing])
        for part in chunks(missing):
            found.update(
                (email, pid) for pid, email in execute_in(connection, _PERSONS_OF, part, tail=held)
            )
    return found


def new_person(connection: Connection, email: str | None) -> int:
    """A person for `email`, created unless another writer just created it."""
    if email is None:
        key = connection.execute(sa.insert(persons).values(email=None)).inserted_primary_key
        assert key is not None
        return int(key[0])
    insert = upsert_dialect(connection).insert(persons).values(email=email)
    connection.execute(insert.on_conflict_do_nothing(index_elements=["email"]))
    found = connection.execute(_held(sa.select(persons.c.id).where(persons.c.email == email)))
    return int(found.scalar_one())


def _held(query: sa.Select[Any]) -> sa.Select[Any]:
    """The query, locking the persons it reads against deletion until the transaction ends
    (PostgreSQL's `FOR KEY SHARE`; SQLite has one writer at a time and ignores it)."""
    return query.with_for_update(read=True, key_share=True)


# -- contacts -------------------------------------------------------------------------------------


@dataclass
class Saved:
    """What storing contacts did: how many were new or changed, and the persons they left."""

    changed: int = 0
    left: set[int] = field(default_factory=set)
    touched: set[int] = field(default_factory=set)
    """Persons whose inputs changed: due now (`sync.dues`)."""


_ADD = insert_sql(
    identities, ["system", "record_id", "person_id", "email", "attributes", "pulled_at"]
)
_REFRESH = update_sql(identities, ["attributes", "pulled_at"], ["system", "record_id"])
_MOVE = update_sql(
    identities, ["person_id", "email", "attributes", "pulled_at"], ["system", "record_id"]
)
"""A record's identity row: new; the same address, pulled again; its person's, anew."""


def store_records(
    connection: Connection,
    system: str,
    part: Sequence[Contact],
    at: datetime,
    saved: Saved,
    ours: frozenset[str] = frozenset(),
) -> None:
    """Store one chunk of pulled contacts of `system` (unique ids), as if one at a time:
    a record taking an address ends any alias of it, and an address a record leaves becomes
    its alias (`_move_addresses`). Records pulled again are no longer gone. A record pulled
    again whose only news is in `ours` (the fields leadscore writes: a system that re-reads
    what a run wrote) is kept as pulled but is no change: nothing else it holds moved."""
    ids = [c.id for c in part]
    known = {
        row.record_id: row
        for row in connection.execute(
            sa.select(identities).where(
                identities.c.system == system, identities.c.record_id.in_(ids)
            )
        )
    }
    # A deleted record comes back when restored (HubSpot keeps them 90 days).
    forget_records(connection, gone, system, ids)
    changes: list[tuple[str, str | None, str]] = []
    pulled_at = at.timestamp()
    refreshed: list[tuple[Any, ...]] = []  # same address, other attributes
    for contact in part:
        email = normalize_email(contact.email)
        attributes = dumps(contact.attributes)
        before = known.get(contact.id)
        if before is not None and before.email == email:
            if before.attributes != attributes:
                if not ours or not only_ours_moved(before.attributes, attributes, ours):
                    saved.changed += 1
                    saved.touched.add(before.person_id)
                refreshed.append((attributes, pulled_at, system, contact.id))
            continue
        changes.append((contact.id, email, attributes))
    execute_many(connection, _REFRESH, refreshed)
    if not changes:
        return
    saved.changed += len(changes)
    people = persons_for(connection, {email for _, email, _ in changes if email is not None})
    added: list[tuple[Any, ...]] = []
    moved: list[tuple[Any, ...]] = []
    for record, email, attributes in changes:
        # Without an address (or once it is removed) a record is a person of its own.
        person = people[email] if email is not None else new_person(connection, None)
        before = known.get(record)
        saved.touched.add(person)
        if before is None:
            added.append((system, record, person, email, attributes, pulled_at))
        else:
            saved.touched.add(before.person_id)
            saved.left.add(before.person_id)
            moved.append((person, email, attributes, pulled_at, system, record))
    execute_many(connection, _ADD, added)
    execute_many(connection, _MOVE, moved)
    moves = [
        (record, known[record].email if record in known else None, email)
        for record, email, _ in changes
    ]
    _move_addresses(connection, system, moves, {r: c.email for r, c in known.items()}, at)


def only_ours_moved(stored: str, pulled: str, ours: frozenset[str]) -> bool:
    """Whether a record's attributes as stored and as pulled now (both JSON, as `dumps`
    writes them) differ in `ours` only; compared as text, so 0, 0.0 and false differ."""
    before, now = json.loads(stored), json.loads(pulled)
    kept = [{k: v for k, v in d.items() if k not in ours} for d in (before, now)]
    return dumps(kept[0]) == dumps(kept[1])


def _move_addresses(
    connection: Connection,
    system: str,
    moves: Sequence[tuple[str, str | None, str | None]],
    before: Mapping[str, str | None],
    at: datetime,
) -> None:
    """Pins and aliases for (record, address before, address now), in order: each as if
    stored alone. `before` holds the addresses the chunk's records had before it."""
    left = {old for _, old, _ in moves if old is not None}
    if not left and not any(new is not None for _, _, new in moves):
        return
    chunk = {record for record, _, _ in moves} | set(before)
    # Who else of the system holds the addresses left: records outside this chunk.
    outside: set[str] = set()
    if left:
        outside = set(
            connection.execute(
                sa.select(identities.c.email).where(
                    identities.c.system == system,
                    identities.c.email.in_(sorted(left)),
                    identities.c.record_id.not_in(sorted(chunk)),
                )
            ).scalars()
        )
    holding = dict(before)
    pins: list[dict[str, str]] = []
    aliased: dict[str, str | None] = {}  # address -> the record it is an alias of, None: none
    for record, old, new in moves:
        holding[record] = new
        if old is not None and old not in outside and old not in holding.values():
            pins.append({"address": old, "record": record})
            aliased[old] = record
        if new is not None:
            aliased[new] = None
    pin_addresses(connection, system, pins)
    gone_aliases = sorted(a for a, r in aliased.items() if r is None)
    if gone_aliases:
        connection.execute(
            sa.delete(aliases).where(aliases.c.system == system, aliases.c.email.in_(gone_aliases))
        )
    _alias(connection, system, {a: r for a, r in aliased.items() if r is not None}, at)


def pin_addresses(connection: Connection, system: str, pins: Sequence[Mapping[str, str]]) -> None:
    """Give the system's activities keyed only by `address` the record id `record`."""
    if not pins:
        return
    connection.execute(
        sa.update(activities)
        .where(
            activities.c.system == system,
            activities.c.record_id.is_(None),
            activities.c.email == sa.bindparam("address"),
        )
        .values(record_id=sa.bindparam("record")),
        list(pins),
    )


def _alias(connection: Connection, system: str, records: Mapping[str, str], at: datetime) -> None:
    """Make each address an alias of its record, replacing any alias it was before."""
    if not records:
        return
    insert = upsert_dialect(connection).insert(aliases)
    upsert = insert.on_conflict_do_update(
        index_elements=["system", "email"],
        set_={"record_id": insert.excluded.record_id, "since": insert.excluded.since},
    )
    connection.execute(
        upsert,
        [
            {"system": system, "email": address, "record_id": record, "since": at.timestamp()}
            for address, record in sorted(records.items())
        ],
    )


# -- activities -----------------------------------------------------------------------------------


_ALIASES_OF = f"SELECT email, record_id FROM {aliases.name} WHERE system = ? AND email IN"


def pin_to_aliases(
    connection: Connection, system: str, rows: list[tuple[Any, ...]]
) -> list[tuple[Any, ...]]:
    """The activity rows (`sync.schema.ACTIVITY_COLUMNS`), those keyed only by an address
    that is an alias of a record of `system` given that record's id (one query per 500
    addresses, in SQL written once: SQLAlchemy would compile each list of 500 anew)."""
    addresses = sorted({r[3] for r in rows if r[2] is None and r[3]})
    owner: dict[str, str] = {}
    for part in chunks(addresses):
        owner.update(execute_in(connection, _ALIASES_OF, part, system))
    if not owner:
        return rows
    return [(*r[:2], owner[r[3]], *r[3:]) if r[2] is None and r[3] in owner else r for r in rows]


_GONE_OF = f"SELECT record_id, merged_into FROM {gone.name} WHERE system = ? AND record_id IN"
_ANY_GONE = f"SELECT 1 FROM {gone.name} WHERE system = ? LIMIT 1"


def past_gone(
    connection: Connection, system: str, rows: list[tuple[Any, ...]]
) -> list[tuple[Any, ...]]:
    """The activity rows (`sync.schema.ACTIVITY_COLUMNS`) without those of records the
    system reported deleted, and with those of merged records given the record the merge
    led to. A pull may read an activity of a record after the record's deletion was stored
    (a Salesforce contact role of a deleted Contact, read again in a cursor's overlap by
    another stream than the one that read the deletion): stored, it would outlive the
    record it belongs to, as those stored before the deletion do not (`retire_record`).
    A record restored later (HubSpot keeps a deleted contact 90 days) gets back what is
    pulled after its restore; what came before it, a full pull brings back."""
    if connection.exec_driver_sql(driver_sql(connection, _ANY_GONE), (system,)).first() is None:
        return rows
    records = sorted({str(r[2]) for r in rows if r[2] is not None})
    found: dict[str, str | None] = {}
    for part in chunks(records):
        found.update((str(r), m) for r, m in execute_in(connection, _GONE_OF, part, system))
    if not found:
        return rows
    led = {r: _merged_to(connection, system, r, into) for r, into in found.items()}
    kept: list[tuple[Any, ...]] = []
    for row in rows:
        if row[2] is None or str(row[2]) not in led:
            kept.append(row)
        elif (now := led[str(row[2])]) is not None:
            kept.append((*row[:2], now, *row[3:]))
    return kept


def _merged_to(connection: Connection, system: str, record: str, into: str | None) -> str | None:
    """Where the merges of a gone record (merged `into`) led: a record not gone, or None
    when they end at a deleted record or go round in a circle."""
    if into is None:
        return None
    end, ended_gone = _merges_end(connection, system, into, record)
    return None if ended_gone else end


# -- merges and deletions -------------------------------------------------------------------------


def merge_record(
    connection: Connection, system: str, loser: str, winner: str, at: datetime
) -> set[int]:
    """Re-point what the loser had to the winner (known to the store or not yet): its
    activities, its aliases, and its address unless another record of the system holds it.
    The loser's record, written values and failures go. Returns the persons it left."""
    winner, _ = _merges_end(connection, system, winner, loser)
    if winner == loser:
        return retire_record(connection, system, loser)
    before = _identity(connection, system, loser)
    # both lose or gain activities (and the loser's address's person may gain them)
    address = None if before is None else before[1]
    mark_due_by(connection, system, [loser, winner], [address] if address else [])
    connection.execute(
        sa.update(activities)
        .where(activities.c.system == system, activities.c.record_id == loser)
        .values(record_id=winner)
    )
    connection.execute(
        sa.update(aliases)
        .where(aliases.c.system == system, aliases.c.record_id == loser)
        .values(record_id=winner)
    )
    _forget(connection, system, loser)
    if before is None:
        return set()
    person, address = before
    if address is not None and not _held_by_a_record(connection, system, address):
        pin_addresses(connection, system, [{"address": address, "record": winner}])
        _alias(connection, system, {address: winner}, at)
    return {person}


def retire_record(
    connection: Connection, system: str, record: str, for_good: bool = False
) -> set[int]:
    """Drop a deleted record: its identity, record-keyed activities, aliases, written values,
    failures and queue entry. Deleted `for_good` (with everything the system held of it),
    the system's activities keyed by its address alone go too, unless another record of the
    system holds the address; otherwise they stay with the address (the system keeps them: a
    full pull would bring them back). Returns the persons it left."""
    before = _identity(connection, system, record)
    mark_due_by(connection, system, [record], [])
    connection.execute(
        sa.delete(activities).where(activities.c.system == system, activities.c.record_id == record)
    )
    connection.execute(
        sa.delete(aliases).where(aliases.c.system == system, aliases.c.record_id == record)
    )
    _forget(connection, system, record)
    address = None if before is None else before[1]
    if for_good and address is not None and not _held_by_a_record(connection, system, address):
        connection.execute(
            sa.delete(activities).where(
                activities.c.system == system,
                activities.c.record_id.is_(None),
                activities.c.email == address,
            )
        )
    return set() if before is None else {before[0]}


def _merges_end(connection: Connection, system: str, record: str, loser: str) -> tuple[str, bool]:
    """Where a chain of merges from `loser` into `record` ends: that record, and whether
    it is gone itself (deleted, or the chain goes round in a circle)."""
    seen = {loser}
    while record not in seen:
        seen.add(record)
        further = connection.execute(
            sa.select(gone.c.merged_into).where(gone.c.system == system, gone.c.record_id == record)
        ).first()
        if further is None:
            return record, False
        if further[0] is None:
            return record, True
        record = str(further[0])
    return record, True


def _identity(connection: Connection, system: str, record: str) -> tuple[int, str | None] | None:
    found = connection.execute(
        sa.select(identities.c.person_id, identities.c.email).where(
            identities.c.system == system, identities.c.record_id == record
        )
    ).first()
    return None if found is None else (int(found.person_id), found.email)


def _held_by_a_record(connection: Connection, system: str, address: str) -> bool:
    query = sa.select(identities.c.record_id).where(
        identities.c.system == system, identities.c.email == address
    )
    return connection.execute(query.limit(1)).first() is not None


def _forget(connection: Connection, system: str, record: str) -> None:
    for table in (identities, written, failures, queue, write_log):  # its log goes too
        forget_records(connection, table, system, [record])


# -- leftover persons -----------------------------------------------------------------------------


def drop_leftover_persons(connection: Connection, candidates: Iterable[int]) -> int:
    """Delete those of these persons with no record and no address-keyed activity, so they
    are not scored, counted or shown; returns how many. Run it last in a transaction: on
    PostgreSQL it locks what it deletes, and passes over persons another writer holds."""
    dropped = 0
    for part in chunks(sorted(set(candidates))):
        vacant = sa.and_(
            persons.c.id.in_(part),
            ~sa.exists().where(identities.c.person_id == persons.c.id),
            ~sa.exists().where(
                activities.c.record_id.is_(None), activities.c.email == persons.c.email
            ),
        )
        query = sa.select(persons.c.id).where(vacant)
        found = list(
            connection.execute(query.with_for_update(of=persons, skip_locked=True)).scalars()
        )
        if found:
            # Checked again once locked: a writer that committed meanwhile may point at it.
            result = connection.execute(
                sa.delete(persons).where(vacant, persons.c.id.in_(found)).returning(persons.c.id)
            )
            gone = list(result.scalars())
            # history, hand-over, write log go with them: a person id may be given again (SQLite)
            forget_history(connection, gone)
            forget_handovers(connection, gone)
            forget_written_log(connection, gone)
            dropped += len(gone)
    return dropped
