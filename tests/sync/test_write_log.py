"""The write log and the runs flat (`sync.run_tables`) after real syncs of the sandbox, on
SQLite and PostgreSQL, read with the SQL the README gives a dbt source; purged by retention."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from sandbox import Sandbox
from scoring import ActivityType
from sync.retention import Retention, purge_write_log
from sync.rulefile import rule_version
from sync.run_tables import LogContext, write_log
from sync.schema import meta, written
from sync.store import SCHEMA_VERSION, StateStore
from sync.summary import SyncOptions
from tests.sync.privacy_helpers import open_app

NOW = datetime(2026, 11, 1, tzinfo=UTC)
README = Path(__file__).parents[2] / "README.md"
ONLY_IN_HUBSPOT = """
    SELECT w.record_id FROM write_log w JOIN identities i
      ON i.system = w.system AND i.record_id = w.record_id
    WHERE w.system = 'hubspot' AND NOT EXISTS (
      SELECT 1 FROM identities o WHERE o.person_id = i.person_id AND o.system <> 'hubspot')
    ORDER BY w.id
"""


def readme_queries() -> list[str]:
    """The SQL statements of the README's "From and to a warehouse" subsection."""
    text = README.read_text("utf-8")
    section = text[text.index("### From and to a warehouse") :].split("\n## ", 1)[0]
    blocks = re.findall(r"```sql\n(.*?)```", section, re.S)
    return [s.strip() for block in blocks for s in block.split(";") if s.strip()]


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox(people=40, seed=3) as sandbox:
        yield sandbox


def rows(store: StateStore, sql: str) -> list[dict]:
    with store.engine.connect() as connection:
        return [dict(r._mapping) for r in connection.execute(sa.text(sql))]


def test_each_landed_write_is_logged_with_its_run_person_and_rules_as_the_readme_reads(
    box: Sandbox, url: str
) -> None:
    with open_app(box, url) as app:
        app.setup()
        first = app.sync(SyncOptions(full=True))
        second = app.sync(SyncOptions())  # nothing new: nothing written, nothing logged
        store = app.store
        version = rule_version(app.job.rules_text)
        # a HubSpot record whose person has no record elsewhere: its rescore writes it alone
        before = rows(store, ONLY_IN_HUBSPOT)
        record = before[0]["record_id"]
        box.hubspot.add_event(record, ActivityType.DEMO_REQUEST, url="https://x.example/demo")
        rescored = app.rescore(f"hubspot:{record}")  # outside a run

        *log, last_row = rows(store, "SELECT * FROM write_log ORDER BY id")
        runs = rows(store, "SELECT * FROM run_log ORDER BY run_id")
        with store.engine.connect() as connection:
            last = {(r.system, r.record_id): json.loads(r.values) for r in
                    connection.execute(sa.select(written))}  # fmt: skip
            known = dict(
                connection.execute(sa.text("SELECT record_id, person_id FROM identities")).all()
            )
        by_readme = [rows(store, sql) for sql in readme_queries()]

    total = sum(s.written for s in first.systems.values())
    assert rescored.written == {"hubspot": [record]}
    assert (last_row["record_id"], last_row["run_id"]) == (record, None)
    assert json.loads(last_row["written_values"]) == last[("hubspot", record)]
    assert total > 0 and len(log) == total
    assert {r["run_id"] for r in log} == {runs[0]["run_id"]}
    assert {r["rules_version"] for r in log} == {version}
    for row in log:
        if (row["system"], row["record_id"]) != ("hubspot", record):
            assert json.loads(row["written_values"]) == last[(row["system"], row["record_id"])]
        assert row["person_id"] == known[row["record_id"]]
    assert [r["status"] for r in runs] == [first.status, second.status]
    assert [r["written"] for r in runs] == [total, 0]
    calls = sum(sum(s.calls.values()) for s in first.systems.values())
    assert runs[0]["calls"] == calls and runs[0]["failed"] == 0
    assert runs[0]["systems"] == ",".join(sorted(first.systems))
    assert runs[0]["mode"] == "full" and runs[1]["mode"] == "incremental"
    assert runs[0]["started_at"] <= runs[0]["finished_at"] <= runs[1]["started_at"]
    # what the README gives a dbt source reads the same
    assert len(by_readme) == 2
    assert [r["record_id"] for r in by_readme[0]] == [r["record_id"] for r in [*log, last_row]]
    assert [r["mode"] for r in by_readme[0]] == ["full"] * total + [None]
    assert [r["written"] for r in by_readme[1]] == [total, 0]


def test_retention_purges_the_log_in_batches(store: StateStore) -> None:
    context = LogContext(7, "v" * 64)
    for stamp in (100.0, 200.0, 300.0):
        values = {f"r{i}-{int(stamp)}": {"leadscore_score": str(i)} for i in range(5)}
        store.record_written("hubspot", values, datetime.fromtimestamp(stamp, UTC), context)

    purged = purge_write_log(store, 250.0, Retention(batch=3, per_run=100))

    assert purged == 10
    with store.engine.connect() as connection:
        left = connection.execute(sa.select(write_log.c.written_at)).scalars().all()
    assert sorted(set(left)) == [300.0] and len(left) == 5


def test_a_store_at_version_11_gains_the_log_and_the_runs_flat(url: str) -> None:
    first = StateStore(url)
    first.record_written("hubspot", {"101": {"leadscore_score": "12"}}, NOW)
    with first.engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE write_log"))
        connection.execute(sa.text("DROP TABLE run_log"))
        connection.execute(sa.update(meta).where(meta.c.key == "schema_version").values(value="11"))
    first.close()

    again = StateStore(url)

    assert again.version() == SCHEMA_VERSION == 15
    assert {"write_log", "run_log"} <= set(sa.inspect(again.engine).get_table_names())
    assert again.written_values("hubspot") == {"101": {"leadscore_score": "12"}}
    run = again.start_run("full", NOW)
    again.record_written("hubspot", {"101": {"leadscore_score": "13"}}, NOW, LogContext(run, None))
    again.finish_run(run, "ok", {"systems": {"hubspot": {"written": 1, "calls": 2}}}, NOW)
    [logged] = rows(again, "SELECT run_id, person_id, written_values FROM write_log")
    assert logged == {
        "run_id": run,
        "person_id": None,
        "written_values": '{"leadscore_score":"13"}',
    }
    [flat] = rows(again, "SELECT written, calls, planned, systems FROM run_log")
    assert flat == {"written": 1, "calls": 2, "planned": 0, "systems": "hubspot"}
    again.close()


def test_a_run_is_in_the_runs_flat_from_its_start_so_a_crashed_one_shows(
    store: StateStore,
) -> None:
    crashed = store.start_run("incremental", NOW)  # never finished: the process died
    done = store.start_run("full", NOW)
    later = NOW.replace(hour=1)
    store.finish_run(done, "ok", {"systems": {"hubspot": {"written": 3}}}, later)

    flat = rows(store, "SELECT run_id, mode, status, finished_at, written FROM run_log")
    assert sorted(flat, key=lambda r: r["run_id"]) == [
        {"run_id": crashed, "mode": "incremental", "status": "running", "finished_at": None,
         "written": 0},
        {"run_id": done, "mode": "full", "status": "ok", "finished_at": later.timestamp(),
         "written": 3},
    ]  # fmt: skip
