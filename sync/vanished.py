"""Records a system reported merged away or deleted: kept in the store, never written again.

Re-pointing a person to the record it was merged into is left to a later change;
until then the sync only stops writing to the gone id.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from sync.schema import failures, forget_records, gone
from sync.store import StateStore


def record_gone(
    store: StateStore, system: str, reported: Sequence[tuple[str, str | None]], at: datetime
) -> None:
    """Remember records the system no longer has: (record id, id merged into or None)."""
    if not reported:
        return
    with store._writing, store.engine.begin() as connection:
        ids = [record for record, _ in reported]
        forget_records(connection, gone, system, ids)
        forget_records(connection, failures, system, ids)
        rows = [
            {"system": system, "record_id": r, "merged_into": m, "reported_at": at.timestamp()}
            for r, m in reported
        ]
        connection.execute(sa.insert(gone), rows)


def gone_records(store: StateStore, system: str) -> dict[str, str | None]:
    """Records the system reported gone -> the record merged into (None: deleted)."""
    with store.engine.connect() as connection:
        rows = connection.execute(
            sa.select(gone.c.record_id, gone.c.merged_into).where(gone.c.system == system)
        )
        return {str(record): merged for record, merged in rows}
