"""The store's tables a warehouse reads (schema version 12): what was written, and runs flat.

write_log   a row per record written to a CRM and landed, appended, never updated: the
            system, record id, the store's person id, the values written (JSON text),
            when (epoch seconds), the run (none for a rescore on request: `sync.trigger`),
            and the rule version (`sync.rulefile.rule_version`, its text kept in
            `rulesets`); purged with the score history (`LEADSCORE_HISTORY_RETENTION_DAYS`),
            a person's rows erased and exported with them (`sync.erasure`, `sync.access`)
run_log     a row per run, written as it starts (status `running`, no `finished_at`: a
            run that crashed stays so) and replaced as it finishes: its id (`runs.id`),
            mode, status, started and finished (epoch seconds), and what it planned,
            wrote, failed and the API calls it made, summed over its systems, beside its
            error; `runs.summary` keeps the detail

`written` keeps each record's last values (what the diff compares against); this is the
change log a reverse-ETL user expects, queryable as a plain table on SQLite and
PostgreSQL (README: "From and to a warehouse" has the SQL a dbt source can use).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync.bulk import execute_in, execute_many
from sync.schema import (
    ID_LENGTH,
    chunks,
    metadata,
    replace_rows,
    runs,
)

write_log = sa.Table(
    "write_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.Integer, nullable=True),
    sa.Column("system", sa.String(32), nullable=False),
    sa.Column("record_id", sa.String(ID_LENGTH), nullable=False),
    # No foreign key, as `history`: erasing a person is one DELETE by this column.
    sa.Column("person_id", sa.Integer, nullable=True),
    sa.Column("written_values", sa.Text, nullable=False),
    sa.Column("written_at", sa.Float, nullable=False),
    sa.Column("rules_version", sa.String(64), nullable=True),
    sa.Index("ix_write_log_at", "written_at"),
    sa.Index("ix_write_log_person", "person_id"),
)
run_log = sa.Table(
    "run_log",
    metadata,
    sa.Column("run_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("mode", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("finished_at", sa.Float, nullable=True),
    sa.Column("systems", sa.Text, nullable=False),
    sa.Column("planned", sa.Integer, nullable=False),
    sa.Column("written", sa.Integer, nullable=False),
    sa.Column("failed", sa.Integer, nullable=False),
    sa.Column("calls", sa.Integer, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
)


def create_run_tables(connection: Connection) -> None:
    for table in (write_log, run_log):
        table.create(connection, checkfirst=True)


@dataclass(frozen=True)
class LogContext:
    """What every row a write phase logs shares: its run and the rules it scored under."""

    run_id: int | None
    rules_version: str | None


UPSERT_WRITTEN = (
    'INSERT INTO written (system, record_id, "values", written_at) VALUES (?, ?, ?, ?) '
    'ON CONFLICT (system, record_id) DO UPDATE SET "values" = excluded."values", '
    "written_at = excluded.written_at"
)
"""A record's last written values, replacing those before (SQLite and PostgreSQL)."""
LOG_WRITTEN = (
    "INSERT INTO write_log (run_id, system, record_id, person_id, written_values, "
    "written_at, rules_version) SELECT CAST(? AS INTEGER), w.system, w.record_id, i.person_id, "
    'w."values", w.written_at, CAST(? AS VARCHAR(64)) FROM written AS w LEFT OUTER JOIN '
    "identities AS i ON i.system = "
    "w.system AND i.record_id = w.record_id WHERE w.system = ? AND w.record_id IN"
)


def keep_written(connection: Connection, rows: Sequence[tuple[str, str, str, float]]) -> None:
    """(system, record id, values as JSON text, written at) of records that landed, each
    replacing its record's row of `written`: rows sent as tuples straight to the driver
    (`sync.bulk`), the write phase records a batch's rows beside the writers' calls."""
    execute_many(connection, UPSERT_WRITTEN, rows)


def log_written(
    connection: Connection, system: str, records: Sequence[str], context: LogContext
) -> None:
    """Append a row per record of `records` (landed in `system`), as `written` holds them
    (recorded just before, in the caller's transaction: their values and stamp), with the
    person the store knows each as: one INSERT ... SELECT per chunk, nothing encoded or
    looked up twice here, its SQL written once (SQLite and PostgreSQL)."""
    before = (context.run_id, context.rules_version, system)
    for part in chunks(list(records)):
        execute_in(connection, LOG_WRITTEN, part, *before)


def log_started(connection: Connection, mode: str, at: float) -> int:
    """A run begun at `at`: its `runs` row and its flat row, status `running` (so that a run
    that crashed, never finished, is seen as such), inside the caller's transaction; the
    run's id."""
    result = connection.execute(
        sa.insert(runs).values(mode=mode, status="running", started_at=at, summary="{}")
    )
    key = result.inserted_primary_key
    assert key is not None
    run = int(key[0])
    row = {"run_id": run, "mode": mode, "status": "running", "started_at": at,
           "finished_at": None, "systems": "", "planned": 0, "written": 0, "failed": 0,
           "calls": 0, "error": None}  # fmt: skip
    connection.execute(sa.insert(run_log), [row])
    return run


def log_run(
    connection: Connection, run: int, status: str, summary: Mapping[str, Any], at: float
) -> None:
    """The finished run's flat row (from its `runs` row and summary), in place of the row
    its start wrote, inside the caller's transaction."""
    found = connection.execute(
        sa.select(runs.c.mode, runs.c.started_at).where(runs.c.id == run)
    ).first()
    if found is None:
        return
    systems: Mapping[str, Mapping[str, Any]] = summary.get("systems") or {}

    def total(key: str) -> int:
        return sum(int(s.get(key) or 0) for s in systems.values())

    row = {
        "run_id": run,
        "mode": found.mode,
        "status": status,
        "started_at": found.started_at,
        "finished_at": at,
        "systems": ",".join(sorted(systems)),
        "planned": total("planned"),
        "written": total("written"),
        "failed": total("failed"),
        "calls": total("calls"),
        "error": summary.get("error"),
    }
    replace_rows(connection, run_log, [row])


def forget_written_log(connection: Connection, persons: Collection[int]) -> None:
    """Delete these persons' rows of the write log, inside the caller's transaction."""
    for part in chunks(list(persons)):
        connection.execute(sa.delete(write_log).where(write_log.c.person_id.in_(list(part))))
