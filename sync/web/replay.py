"""Webhook requests remembered for a while, in the store, so a replay is seen by any process.

A key is a digest (what a request carried need not be stored: a signature is as
good as a password for its minutes); `first_seen` inserts each key it has not
seen within `keep` seconds and says which were new. Keys older than that are
deleted as it goes, a few hundred at a time. `forget` takes keys back, for an
ask that failed and will be sent again (a Salesforce notification whose rescore
must be retried must not be taken for a duplicate then).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the store's modules load SQLAlchemy: only once a key is looked up
    from sync.store import StateStore

KEEP = 24 * 3600.0
"""Seconds a key is remembered: Salesforce retries a notification for up to 24 hours."""
PURGE = 500


def digest(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}\0{value}".encode()).hexdigest()


def first_seen(
    store: StateStore, keys: Sequence[str], now: float, keep: float = KEEP
) -> list[bool]:
    """For each key, whether it was not seen within `keep` seconds before `now`; every
    key is remembered from now on. A key repeated within `keys` is new once."""
    import sqlalchemy as sa

    from sync.schema import seen, upsert_dialect

    fresh: list[bool] = []
    with store.writing(), store.engine.begin() as connection:
        old = sa.select(seen.c.key).where(seen.c.seen_at < now - keep).limit(PURGE)
        connection.execute(sa.delete(seen).where(seen.c.key.in_(old.scalar_subquery())))
        insert = (
            upsert_dialect(connection)
            .insert(seen)
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(seen.c.key)
        )
        for key in keys:
            # One insert per key: the row it returns says this process put it there first,
            # also when another process inserts the same key at the same moment. (Not its
            # row count: psycopg reports -1 for an INSERT ... ON CONFLICT here.)
            row = connection.execute(insert, {"key": key, "seen_at": now}).first()
            fresh.append(row is not None)
    return fresh


def forget(store: StateStore, keys: Sequence[str]) -> None:
    """Each key taken back: its next sighting is a first one again."""
    if not keys:
        return
    import sqlalchemy as sa

    from sync.schema import seen

    with store.writing(), store.engine.begin() as connection:
        connection.execute(sa.delete(seen).where(seen.c.key.in_(list(keys))))
