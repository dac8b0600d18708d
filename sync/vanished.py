"""Records a system reported merged away or deleted: kept in the store, never written again.

A write that found them gone reports them (`WriteOutcome.gone`), and so does a pull that
read them deleted (`Page.gone`: Salesforce's queryAll answers deleted records with their
`MasterRecordId`).

A record can take with it activities not keyed by its id (`Gone.withdrawn`: a Mailchimp
member deleted for good, and the campaign activity of its address in its audience): they
are withdrawn in the same transaction (`sync.withdrawals`).

A merged record is re-pointed to the one it was merged into: its activities and former
addresses follow the winner, and its own address becomes the winner's alias unless another
record of the system holds it (`sync.identity.merge_record`), whether or not the store
holds the winner yet. A deleted record is retired: its record, record-keyed activities and
aliases go (`sync.identity.retire_record`). Either way the record's written values and
failures go, and its gone row stays, until the record is pulled again (HubSpot restores a
deleted contact for 90 days): `StateStore.save_contacts` clears the gone rows of the
records it stores.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

import sqlalchemy as sa

from connectors.protocol import Withdrawn
from scoring import normalize_email
from sync.dues import Marks
from sync.identity import drop_leftover_persons, merge_record, retire_record
from sync.schema import activities, aliases, chunks, failures, forget_records, gone, identities
from sync.schema import written as written_values
from sync.store import StateStore
from sync.withdrawals import like_literal, persons_of, withdraw

HOLDING = (identities, activities, aliases, written_values, failures)
"""The tables that may hold something of a record, keyed by (system, record_id)."""


def record_gone(
    store: StateStore,
    system: str,
    reported: Sequence[tuple[str, str | None]],
    at: datetime,
    withdrawn: Sequence[Withdrawn] = (),
    for_good: Collection[str] = (),
) -> int:
    """Remember records the system no longer has: (record id, id merged into or None), and
    re-point or retire what the store held of them, in one transaction; with the activities
    that went with them but are not keyed by their ids (`Gone.withdrawn`); of those deleted
    `for_good` (`Gone.for_good`), the system's activities keyed by their addresses too.
    Returns how many activities `withdrawn` took out of the store."""
    reported = list(dict(reported).items())  # one row per record: the last report stands
    if not reported:
        return 0
    with store.writing(), store.engine.begin() as connection:
        marks = Marks()
        taken, emptied = withdraw(connection, system, withdrawn, marks) if withdrawn else (0, set())
        ids = [record for record, _ in reported]
        forget_records(connection, gone, system, ids)
        rows = [
            {"system": system, "record_id": r, "merged_into": m, "reported_at": at.timestamp()}
            for r, m in reported
        ]
        connection.execute(sa.insert(gone), rows)
        # A record the store holds nothing of (a converted lead a full pull meets for the
        # first time) has nothing to re-point or retire: passed over, in bulk.
        held = held_records(connection, system, ids)
        left: set[int] = set()
        for record, merged_into in reported:
            if record not in held:
                continue
            if merged_into is None:
                left |= retire_record(connection, system, record, record in for_good)
            else:
                left |= merge_record(connection, system, record, merged_into, at)
        marks.mark(connection, system)
        drop_leftover_persons(connection, left | persons_of(connection, emptied))
    return taken


def retire_address(
    store: StateStore,
    system: str,
    email: str,
    prefix: str,
    where: Sequence[tuple[str, str]],
    at: datetime,
) -> list[str]:
    """Retire, as `record_gone` does, the records of `system` holding `email` whose ids
    start with `prefix`, with their activities and those keyed by the address alone that
    hold `where`; the records retired (none: nothing is done)."""
    address = normalize_email(email)
    if address is None:
        return []
    with store.engine.connect() as connection:
        query = sa.select(identities.c.record_id).where(
            identities.c.system == system,
            identities.c.email == address,
            identities.c.record_id.like(like_literal(prefix) + "%", escape="\\"),
        )
        records = sorted(str(r) for r in connection.execute(query).scalars())
    taken = [Withdrawn(record_id=r, email=address, where=tuple(where)) for r in records]
    record_gone(store, system, [(r, None) for r in records], at, taken)
    return records


def held_records(connection: sa.Connection, system: str, ids: Sequence[str]) -> set[str]:
    """Those of these records of `system` that the store holds anything of."""
    found: set[str] = set()
    for table in HOLDING:
        for part in chunks(ids):
            query = sa.select(table.c.record_id).where(
                table.c.system == system, table.c.record_id.in_(part)
            )
            found.update(str(r) for r in connection.execute(query.distinct()).scalars())
    return found


def gone_records(store: StateStore, system: str) -> dict[str, str | None]:
    """Records the system reported gone -> the record merged into (None: deleted)."""
    with store.engine.connect() as connection:
        rows = connection.execute(
            sa.select(gone.c.record_id, gone.c.merged_into).where(gone.c.system == system)
        )
        return {str(record): merged for record, merged in rows}
