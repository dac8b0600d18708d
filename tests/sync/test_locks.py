"""One sync at a time per store and system: the lock, its staleness, and what a user sees."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from sandbox import Sandbox
from scoring import load_rules
from sync import Leadscore, StateStore, SyncOptions
from sync.cli import app
from sync.demo import sandbox_settings
from sync.locks import (
    RECORD_STALE_AFTER,
    STALE_AFTER,
    LockHeld,
    LockLost,
    RunLock,
    held_locks,
    record_lock,
    wait_for_rescores,
)
from sync.schema import aliases, gone, locks, meta, queue
from sync.store import SCHEMA_VERSION

RULES = Path(__file__).parents[2] / "scoring" / "rulesets" / "default.yaml"


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    return StateStore(f"sqlite:///{tmp_path / 'state.db'}")


def test_a_second_run_finds_the_lock_held_and_takes_none_of_its_locks(store: StateStore) -> None:
    first = RunLock(store, ["sync:hubspot", "sync:salesforce"])
    first.acquire()
    second = RunLock(store, ["sync:mailchimp", "sync:hubspot"])
    with pytest.raises(LockHeld, match=r"skipped: the run started .* holds the lock for hubspot"):
        second.acquire()

    assert sorted(held_locks(store)) == ["hubspot", "salesforce"]  # mailchimp was given back
    first.release()
    second.acquire()
    assert sorted(held_locks(store)) == ["hubspot", "mailchimp"]


def test_a_lock_left_by_a_killed_process_or_a_silent_host_is_taken_over(
    store: StateStore,
) -> None:
    with store.engine.begin() as connection:
        connection.execute(
            sa.insert(locks),
            [
                # this host, a process id no process has
                {
                    "name": "sync:hubspot",
                    "holder": "gone",
                    "host": __import__("socket").gethostname(),
                    "pid": 2**22 + 7,
                    "since": 0.0,
                    "beat": 1e12,
                },
                # another host, silent for longer than STALE_AFTER
                {
                    "name": "sync:salesforce",
                    "holder": "far",
                    "host": "elsewhere",
                    "pid": 1,
                    "since": 0.0,
                    "beat": 1e12 - STALE_AFTER - 1,
                },
                # another host, refreshed a minute ago: a live run there
                {
                    "name": "sync:mailchimp",
                    "holder": "busy",
                    "host": "elsewhere",
                    "pid": 1,
                    "since": 0.0,
                    "beat": 1e12 - 60,
                },
            ],
        )
    clock = lambda: 1e12  # noqa: E731

    RunLock(store, ["sync:hubspot", "sync:salesforce"], clock=clock).acquire()
    with pytest.raises(LockHeld, match="process 1 on elsewhere"):
        RunLock(store, ["sync:mailchimp"], clock=clock).acquire()


def test_a_run_waiting_long_on_one_call_keeps_its_lock_fresh(store: StateStore) -> None:
    """A Bulk API job polled for an hour makes no progress the run could beat on: the
    lock's own thread refreshes it, and stops when the run ends."""
    now = [1.8e9]
    lock = RunLock(store, ["sync:salesforce"], clock=lambda: now[0])
    lock.acquire()

    def beat() -> float:
        with store.engine.connect() as connection:
            return float(connection.execute(sa.select(locks.c.beat)).scalar_one())

    with lock.kept_alive(every=0.01):
        now[0] += STALE_AFTER + 1  # silent for longer than a stale lock
        deadline = time.monotonic() + 5
        while beat() < now[0] and time.monotonic() < deadline:
            time.sleep(0.01)
        during = beat()
    now[0] += STALE_AFTER + 1
    time.sleep(0.05)

    assert during == 1.8e9 + STALE_AFTER + 1
    assert beat() == during  # no beat once the run is over
    with pytest.raises(LockHeld):  # a live run's lock is not taken over
        RunLock(store, ["sync:salesforce"], clock=lambda: during + 60).acquire()


def test_two_syncs_at_once_one_runs_and_the_other_is_skipped_cleanly(tmp_path: Path) -> None:
    rules = load_rules(RULES)
    url = f"sqlite:///{tmp_path / 'state.db'}"
    with Sandbox(people=300, seed=5) as box:
        with Leadscore.open(sandbox_settings(box, url), rules=rules, clock=box.now) as setup:
            setup.setup()
        outcomes: list[str] = []
        started = threading.Barrier(2)

        def one_run() -> None:
            with Leadscore.open(sandbox_settings(box, url), rules=rules, clock=box.now) as app_:
                started.wait()
                try:
                    summary = app_.sync(SyncOptions(full=True))
                    outcomes.append(f"ran, wrote {summary.systems['hubspot'].written}")
                except LockHeld:
                    outcomes.append("skipped")

        threads = [threading.Thread(target=one_run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        writes = box.hubspot.calls["contacts.batch_update"]

    # whichever came second either found the lock or ran after the first (then wrote nothing)
    assert "ran, wrote 0" in outcomes or "skipped" in outcomes
    assert writes == -(-box.hubspot.contacts.size // 100)  # every contact written once


def test_the_cli_says_skipped_and_exits_0_and_status_names_a_killed_run(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    with Sandbox(people=50, seed=5) as box:
        env = {
            "COLUMNS": "200",
            "LEADSCORE_RULES": str(RULES),
            "LEADSCORE_STATE_URL": url,
            "LEADSCORE_HUBSPOT__ACCESS_TOKEN": box.hubspot.token,
            "LEADSCORE_HUBSPOT__HOST": box.hubspot.base_url,
        }
        runner = CliRunner()
        assert runner.invoke(app, ["setup"], env=env).exit_code == 0
        store = StateStore(url)
        held = RunLock(store, ["sync:hubspot"])
        held.acquire()
        skipped = runner.invoke(app, ["sync"], env=env)
        held.release()
        store.start_run("incremental", box.now())  # a run that was killed: never finished
        status = runner.invoke(app, ["status"], env=env)

    assert skipped.exit_code == 0 and "skipped: the run started" in skipped.stderr
    assert "error" not in skipped.stderr
    assert "interrupted" in status.stdout


def test_an_older_store_gains_the_tables_of_later_versions(store: StateStore) -> None:
    with store.engine.begin() as connection:
        for table in (gone, locks, aliases, queue):
            table.drop(connection)
        connection.execute(sa.text("DROP INDEX ix_persons_due"))
        connection.execute(sa.text("ALTER TABLE persons DROP COLUMN due"))
        connection.execute(sa.text("ALTER TABLE persons DROP COLUMN marked"))
        connection.execute(sa.update(meta).values(value="1"))
    store.close()

    again = StateStore(store.url)
    tables = sa.inspect(again.engine).get_table_names()
    columns = {c["name"] for c in sa.inspect(again.engine).get_columns("persons")}

    assert again.version() == SCHEMA_VERSION == 15
    assert {"gone", "locks", "aliases", "queue"} <= set(tables)
    assert {"due", "marked"} <= columns


def test_a_sync_waits_for_a_rescore_at_work_only_so_long(store: StateStore) -> None:
    rescore = record_lock(store, "hubspot", "7")
    rescore.acquire()
    told: list[tuple[str, int]] = []

    given_up = wait_for_rescores(store, lambda what, n: told.append((what, n)), limit=0.1)
    assert held_locks(store) == []  # a record's lock is no sync's
    rescore.release()

    assert given_up == 1 and told == [("waiting for rescores", 1)]
    assert wait_for_rescores(store) == 0


def test_a_record_lock_silent_for_a_minute_is_stale_where_a_sync_lock_is_not(
    store: StateStore,
) -> None:
    [record] = record_lock(store, "hubspot", "7").names
    silent = 1e12 - RECORD_STALE_AFTER - 1
    with store.engine.begin() as connection:
        connection.execute(
            sa.insert(locks),
            [
                {
                    "name": n,
                    "holder": n,
                    "host": "elsewhere",
                    "pid": 1,
                    "since": 0.0,
                    "beat": silent,
                }
                for n in (record, "sync:hubspot")
            ],
        )
    clock = lambda: 1e12  # noqa: E731

    RunLock(store, [record], clock=clock).acquire()  # taken over
    with pytest.raises(LockHeld):
        RunLock(store, ["sync:hubspot"], clock=clock).acquire()  # 30 minutes are not up


def test_a_rescore_paused_past_its_locks_staleness_or_taken_over_goes_no_further(
    store: StateStore,
) -> None:
    now = [1_000.0]
    guard = record_lock(store, "hubspot", "7")
    guard.clock = lambda: now[0]
    guard.acquire()
    now[0] += 10
    guard.still_held()  # at work: nothing to ask
    now[0] += 31
    guard.still_held()  # refreshed, still its own
    with store.engine.connect() as connection:
        assert connection.execute(sa.select(locks.c.beat)).scalar() == 1_041.0
    now[0] += RECORD_STALE_AFTER  # frozen with its instance, thawed a minute later
    with pytest.raises(LockLost, match="paused 60 s"):
        guard.still_held()

    other = record_lock(store, "hubspot", "8")
    other.clock = lambda: now[0]
    other.acquire()
    with store.engine.begin() as connection:  # taken over by another run meanwhile
        connection.execute(sa.update(locks).values(holder="someone else"))
    now[0] += 31
    with pytest.raises(LockLost, match="taken by another run"):
        other.still_held()

    sync_lock = RunLock(store, ["sync:salesforce"], clock=lambda: now[0])
    sync_lock.acquire()
    now[0] += RECORD_STALE_AFTER * 2  # a sync's lock is stale only after 30 minutes
    sync_lock.still_held()


def test_ctrl_c_inside_a_store_write_lets_the_run_say_so_and_give_its_lock_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An interrupt in the middle of SQLite's executemany leaves a statement that only the
    interrupt's traceback keeps alive, and with it the file's write lock: the run's own
    bookkeeping then waited 30 s twice and ended with 'database is locked'."""
    rules = load_rules(RULES)
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    dialect = type(store.engine.dialect)
    real = dialect.do_executemany

    def interrupted(
        self: object, cursor: Any, statement: str, parameters: Any, context: Any
    ) -> None:
        def rows() -> Iterator[Any]:
            yield parameters[0]
            raise KeyboardInterrupt  # as a Ctrl-C arriving halfway through the statement

        cursor.executemany(statement, rows())

    with (
        Sandbox(people=40, seed=5) as box,
        Leadscore.open(sandbox_settings(box), rules=rules, store=store, clock=box.now) as app_,
    ):
        app_.setup()
        monkeypatch.setattr(dialect, "do_executemany", interrupted)
        began = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            app_.sync(SyncOptions(full=True))
        took = time.monotonic() - began
        monkeypatch.setattr(dialect, "do_executemany", real)

    assert took < 10
    assert held_locks(store) == [] and store.runs(1)[0].status == "failed"
    store.close()


def test_a_pause_is_seen_though_the_locks_own_thread_beat_first_once_thawed(
    store: StateStore,
) -> None:
    """Frozen with its instance, both the rescore and its lock's thread thaw together:
    the thread's beat, whichever runs first, does not hide the pause."""
    now = [1_000.0]
    guard = record_lock(store, "hubspot", "7")
    guard.clock = lambda: now[0]
    guard.acquire()
    now[0] += RECORD_STALE_AFTER
    guard.beat()  # the lock's own thread, thawed first
    with pytest.raises(LockLost, match="paused 60 s"):
        guard.still_held()
    with pytest.raises(LockLost, match="paused 60 s"):  # and it stays lost
        guard.still_held()
