"""A person as the state store holds them, found once: erased (`erase_people`) or read out
(`sync.access`).

What belongs to the person of an address (normalized), and goes when they are forgotten:

- the `persons` row of the address, and every record of theirs (`identities`);
- the record ids they had besides: records merged into theirs (`gone.merged_into`, a chain
  followed to its end), whose `gone` rows go too, so that no table names a record of theirs;
- activities keyed by any of those records, and activities keyed by the address itself or
  by a former address of their records (`aliases`) in any system, whoever they were pinned
  to: a row that holds the address is erased with it;
- the aliases of their records and the alias rows of the address;
- written values, failures and queue entries of their records; their score `history`;
- their sales hand-over and their place in its queue (`sync.capacity`); the period's count
  of hand-overs stays, so forgetting someone frees no capacity.

`runs` summaries hold counts and systems only, never an address or a record id (held so by
the erasure test), and stay; `cursors` hold moments and offsets; `seen` holds digests of
webhook signatures and notification ids, kept 24 hours; `rulesets` hold rule files.

The erasure is one transaction: a process killed on the way leaves the person whole. It does
not keep the person's record ids anywhere, not even as a marker: a record pulled again later
makes a new person (`sync.identity`). A run under way could store a page it pulled before
the erasure; the caller takes the systems' run locks first (`sync.forgetting`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scoring import normalize_email
from sync.gone_check import rewind_cursors
from sync.handover_schema import forget_handovers
from sync.history import forget_history
from sync.run_tables import write_log
from sync.schema import (
    activities,
    aliases,
    chunks,
    failures,
    gone,
    history,
    identities,
    persons,
    queue,
    written,
)
from sync.shadow_write import extra_systems
from sync.store import StateStore

RECORD_TABLES = (written, failures, queue, write_log)
"""Tables keyed by (system, record_id) that hold nothing but a record's own rows."""


def records_clause(table: sa.Table, records: Iterable[tuple[str, str]]) -> sa.ColumnElement[bool]:
    """Rows of `table` keyed by one of these (system, record id) pairs."""
    by_system: dict[str, list[str]] = {}
    for system, record in sorted(records):
        by_system.setdefault(system, []).append(record)
    parts = [
        sa.and_(table.c.system == system, table.c.record_id.in_(ids))
        for system, ids in by_system.items()
    ]
    return sa.or_(sa.false(), *parts)


@dataclass
class Holdings:
    """What the store holds of one address: its person, records and former addresses."""

    address: str
    person: int | None = None
    records: set[tuple[str, str]] = field(default_factory=set)
    """(system, record id) of the person's live records."""
    merged: set[tuple[str, str]] = field(default_factory=set)
    """(system, record id) of records merged into theirs (`gone` rows)."""
    former: set[tuple[str, str]] = field(default_factory=set)
    """(system, address): the former addresses of their records (aliases)."""

    @property
    def found(self) -> bool:
        return self.person is not None or bool(self.records)

    @property
    def all_records(self) -> set[tuple[str, str]]:
        return self.records | self.merged

    def record_clause(self, table: sa.Table) -> sa.ColumnElement[bool]:
        """Rows of `table` keyed by one of the person's records (live or merged into them),
        under its system or its shadow or models' fields' (`sync.shadow_write.extra_systems`)."""
        mine = self.all_records
        extra = [
            sa.and_(extra_systems(table.c.system, s), table.c.record_id == r)
            for s, r in sorted(mine)
        ]
        return sa.or_(records_clause(table, mine), *extra)

    def _address_clause(self, table: sa.Table) -> sa.ColumnElement[bool]:
        """Rows of `table` keyed by the address (any system) or a former one (its system)."""
        former = [sa.and_(table.c.system == s, table.c.email == a) for s, a in sorted(self.former)]
        return sa.or_(table.c.email == self.address, *former)

    def activity_clause(self) -> sa.ColumnElement[bool]:
        """The person's activities: keyed by a record of theirs or by one of their addresses."""
        return sa.or_(self.record_clause(activities), self._address_clause(activities))

    def alias_clause(self) -> sa.ColumnElement[bool]:
        return sa.or_(self.record_clause(aliases), self._address_clause(aliases))

    def gone_clause(self) -> sa.ColumnElement[bool]:
        """`gone` rows of records merged into theirs (and of their own, reported gone)."""
        return self.record_clause(gone)


def holdings(connection: Connection, address: str) -> Holdings:
    """What the store holds of `address` (normalized here)."""
    email = normalize_email(address) or address
    held = Holdings(email)
    person = connection.execute(sa.select(persons.c.id).where(persons.c.email == email)).scalar()
    held.person = None if person is None else int(person)
    owners = identities.c.email == email
    if held.person is not None:
        owners = sa.or_(owners, identities.c.person_id == held.person)
    for system, record in connection.execute(
        sa.select(identities.c.system, identities.c.record_id).where(owners)
    ):
        held.records.add((str(system), str(record)))
    _merged_into(connection, held)
    for part in chunks(sorted(held.all_records)):
        rows = connection.execute(
            sa.select(aliases.c.system, aliases.c.email).where(records_clause(aliases, part))
        )
        held.former.update((str(s), str(a)) for s, a in rows)
    return held


def _merged_into(connection: Connection, held: Holdings) -> None:
    """Add the records merged into the person's, and into those, to `held.merged`."""
    frontier = set(held.records)
    while frontier:
        found: set[tuple[str, str]] = set()
        for part in chunks(sorted(frontier)):
            clause = sa.or_(
                sa.false(),
                *(sa.and_(gone.c.system == s, gone.c.merged_into == r) for s, r in part),
            )
            rows = connection.execute(sa.select(gone.c.system, gone.c.record_id).where(clause))
            found.update((str(s), str(r)) for s, r in rows)
        frontier = found - held.all_records
        held.merged |= frontier


@dataclass(frozen=True)
class Erased:
    """What forgetting one address did."""

    address: str
    records: tuple[tuple[str, str], ...]
    """The (system, record id) pairs the person had, live ones first, each sorted."""
    rows: dict[str, int]
    """Rows deleted per table (tables with none left out)."""

    @property
    def found(self) -> bool:
        return bool(self.rows)


def erase(connection: Connection, held: Holdings) -> dict[str, int]:
    """Delete everything `held` names, in the caller's transaction; rows deleted per table."""
    deleted: dict[str, int] = {}

    def count(name: str, result: sa.CursorResult[object]) -> None:
        if result.rowcount:
            deleted[name] = deleted.get(name, 0) + int(result.rowcount)

    count("activities", connection.execute(sa.delete(activities).where(held.activity_clause())))
    count("aliases", connection.execute(sa.delete(aliases).where(held.alias_clause())))
    for table in RECORD_TABLES:
        count(table.name, connection.execute(sa.delete(table).where(held.record_clause(table))))
    count("gone", connection.execute(sa.delete(gone).where(held.gone_clause())))
    count(
        "identities",
        connection.execute(sa.delete(identities).where(held.record_clause(identities))),
    )
    rewind_cursors(connection, held.all_records)
    if held.person is not None:
        before = connection.execute(
            sa.select(sa.func.count())
            .select_from(history)
            .where(history.c.person_id == held.person)
        ).scalar()
        forget_history(connection, [held.person])
        if before:
            deleted["history"] = int(before)
        for name, rows in forget_handovers(connection, [held.person]).items():
            deleted[name] = rows
        count("persons", connection.execute(sa.delete(persons).where(persons.c.id == held.person)))
    return deleted


def erase_people(store: StateStore, addresses: Iterable[str]) -> list[Erased]:
    """Forget the person of each address everywhere in the store, all in one transaction;
    what each erasure deleted, in the order given (an address the store does not know
    deletes nothing)."""
    wanted = list(dict.fromkeys(normalize_email(a) or a for a in addresses))
    done: list[Erased] = []
    with store.writing(), store.engine.begin() as connection:
        for address in wanted:
            held = holdings(connection, address)
            records = (*sorted(held.records), *sorted(held.merged))
            done.append(Erased(address, records, erase(connection, held)))
    return done


def known_addresses(store: StateStore, addresses: Sequence[str]) -> set[str]:
    """Those of these (normalized) addresses the store holds anything of."""
    found: set[str] = set()
    with store.engine.connect() as connection:
        for address in addresses:
            if holdings(connection, address).found:
                found.add(address)
    return found
