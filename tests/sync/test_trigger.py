"""One record rescored on request, beside the syncs: the guard, the queue, the command.

Every test runs the real HubSpot SDK against the sandbox over HTTP. A sync or a
rescore is held at a chosen point by a threading.Event (in a progress callback, or in
a connector's fetch), so both orders of a sync and a rescore are played without sleeps.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from connectors.hubspot import CAPABILITIES
from connectors.protocol import Connector, FieldSpec, Page, SetupReport, Write, WriteOutcome
from sandbox import Sandbox
from scoring import ActivityType, RuleSet, load_rules
from sync import Leadscore, RecordNotFound, StateStore, SyncOptions
from sync.cli import app as cli
from sync.demo import sandbox_settings
from sync.errors import SetupNeeded
from sync.fields import SCORED_AT, FieldMap
from sync.locks import RECORD_STALE_AFTER, LockLost, RunLock, record_lock
from sync.pipeline import Progress
from sync.schema import locks, runs
from sync.trigger import enqueue, forget_entries, queued_entries
from tests.sync.lock_clock import on_a_clock, paused_after

RULES = Path(__file__).parents[2] / "scoring" / "rulesets" / "default.yaml"
PEOPLE, SEED = 60, 11
DEAD_PID = 2**22 + 7
"""A process id no process has (above Linux's default pid_max)."""


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules(RULES)


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox(people=PEOPLE, seed=SEED) as sandbox:
        yield sandbox


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state.db'}"


class Watched:
    """A HubSpot connector that keeps the ids it wrote and, when asked, stops inside
    `fetch` (`inside` is set) until the test lets it go (`go`)."""

    def __init__(self, inner: Connector, *, pause_fetch: bool = False) -> None:
        self.inner = inner
        self.pause_fetch = pause_fetch
        self.inside, self.go = threading.Event(), threading.Event()
        self.written: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def fetch(self, record_id: str | None = None, *, email: str | None = None) -> Page:
        if self.pause_fetch:
            self.inside.set()
            assert self.go.wait(30)
        return self.inner.fetch(record_id, email=email)

    def write(self, writes: Sequence[Write]) -> WriteOutcome:
        outcome = self.inner.write(writes)
        self.written += outcome.written
        return outcome


class Background:
    """Work on a thread of its own; `result` joins it and raises what it raised."""

    def __init__(self, work: Callable[[], Any]) -> None:
        self.value: Any = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(work,), daemon=True)
        self.thread.start()

    def _run(self, work: Callable[[], Any]) -> None:
        try:
            self.value = work()
        except BaseException as exc:  # re-raised in the test's thread
            self.error = exc

    def result(self) -> Any:
        self.thread.join(60)
        assert not self.thread.is_alive()
        if self.error is not None:
            raise self.error
        return self.value


def watched(box: Sandbox, rules: RuleSet, *, pause_fetch: bool = False) -> Watched:
    """A connector of its own to the sandbox, as another process would have."""
    with Leadscore.open(sandbox_settings(box), rules=rules, pace=box.clock) as opened:
        return Watched(opened.connectors[0], pause_fetch=pause_fetch)


def open_app(
    box: Sandbox,
    rules: RuleSet,
    url: str,
    *,
    clock: Callable[[], Any] | None = None,
    connector: Watched | None = None,
    progress: Progress | None = None,
) -> Leadscore:
    """The application on the sandbox with a store of its own on the file at `url`."""
    return Leadscore.open(
        sandbox_settings(box, url),
        rules=rules,
        connectors=None if connector is None else [connector],  # type: ignore[list-item]
        clock=clock or box.now,
        pace=box.clock,
        progress=progress,
    )


def held(box: Sandbox, rules: RuleSet) -> dict[str, dict[str, str | None]]:
    """What HubSpot holds in the leadscore properties, per contact (scoring time aside)."""
    names = [s.name for s in FieldMap.for_rules(rules, CAPABILITIES).specs]
    table = box.hubspot.contacts
    return {
        str(row + 1): {n: table.value(n, row) for n in names if n in table.defs}
        for row in range(table.size)
    }


def without_time(values: dict[str, Any]) -> dict[str, Any]:
    """The values but the scoring time, an empty one as HubSpot reads back a cleared
    property (no top interest written as "" reads back as null)."""
    return {k: v or None for k, v in values.items() if not k.endswith(SCORED_AT)}


def synced(box: Sandbox, rules: RuleSet, url: str) -> None:
    """Fields set up and a full sync done: the store knows everyone."""
    with open_app(box, rules, url) as first:
        first.setup()
        first.sync(SyncOptions(full=True))


def demo_request(box: Sandbox, contact: str) -> None:
    box.hubspot.add_event(contact, ActivityType.DEMO_REQUEST, url="https://x.example/demo")


def test_a_rescore_writes_its_contact_alone_as_a_full_sync_would_then_nothing(
    box: Sandbox, rules: RuleSet, url: str, tmp_path: Path
) -> None:
    at = box.now()
    with open_app(box, rules, url, clock=lambda: at) as app:
        app.setup()
        first = app.rescore("hubspot:7")
        updates = box.hubspot.calls["contacts.batch_update"]
        again = app.rescore("hubspot:7")
        updates_again = box.hubspot.calls["contacts.batch_update"] - updates
    values = held(box, rules)
    # a full sync into an empty store plans every contact: what it would write for 7
    other = f"sqlite:///{tmp_path / 'other.db'}"
    with open_app(box, rules, other, clock=lambda: at) as full:
        planned = {w.record_id: w.values for w in full.sync(SyncOptions(full=True)).plan["hubspot"]}

    assert first.status == "done" and first.written == {"hubspot": ["7"]} and updates == 1
    assert [c for c, v in values.items() if v["leadscore_score"] is not None] == ["7"]
    assert without_time(planned["7"]) == without_time(values["7"])
    assert first.score == int(values["7"]["leadscore_score"] or "")
    assert first.stage == values["7"]["leadscore_stage"] and first.reasons
    assert again.status == "done" and again.written == {} and updates_again == 0


def test_a_rescore_while_a_sync_runs_is_queued_and_the_sync_writes_the_contact_once(
    box: Sandbox, rules: RuleSet, url: str
) -> None:
    synced(box, rules, url)
    demo_request(box, "7")
    pulling, resume = threading.Event(), threading.Event()

    def pause(what: str, _count: int) -> None:
        if what.startswith("pulled") and not pulling.is_set():
            pulling.set()
            assert resume.wait(30)

    syncing, trigger = watched(box, rules), watched(box, rules)
    with (
        open_app(box, rules, url, connector=syncing, progress=pause) as sync_app,
        open_app(box, rules, url, connector=trigger) as trigger_app,
    ):
        run = Background(sync_app.sync)
        assert pulling.wait(30)  # the sync holds its locks, inside its pull
        result = trigger_app.rescore("hubspot:7")
        calls = dict(trigger.calls())
        waiting = [(e.system, e.record_id) for e in queued_entries(trigger_app.store, ["hubspot"])]
        resume.set()
        summary = run.result()
        left = queued_entries(trigger_app.store, ["hubspot"])
        after = trigger_app.rescore("hubspot:7")

    assert result.status == "queued" and calls == {}  # no API call
    assert waiting == [("hubspot", "7")] and left == [] and summary.queued == 1
    assert syncing.written.count("7") == 1  # the sync wrote the person, once
    assert after.status == "done" and after.written == {}  # with what a rescore writes


def test_a_sync_that_starts_while_a_rescore_works_waits_and_writes_its_record_no_more(
    box: Sandbox, rules: RuleSet, url: str
) -> None:
    synced(box, rules, url)
    demo_request(box, "7")
    waiting = threading.Event()

    def told(what: str, _count: int) -> None:
        if what == "waiting for rescores":
            waiting.set()

    trigger = watched(box, rules, pause_fetch=True)
    syncing = watched(box, rules)
    with (
        open_app(box, rules, url, connector=trigger) as trigger_app,
        open_app(box, rules, url, connector=syncing, progress=told) as sync_app,
    ):
        rescoring = Background(lambda: trigger_app.rescore("hubspot:7"))
        assert trigger.inside.wait(30)  # holds the record's lock, inside its fetch
        # a full sync rescores everyone, so it would write 7 had it not waited
        run = Background(lambda: sync_app.sync(SyncOptions(full=True)))
        assert waiting.wait(30)  # pulled, holds its locks, and waits for the rescore
        trigger.go.set()
        result, summary = rescoring.result(), run.result()

    assert result.status == "done" and result.written == {"hubspot": ["7"]}
    assert "7" not in syncing.written and summary.status == "ok"
    assert trigger.written == ["7"]


def test_two_rescores_of_one_record_at_once_the_second_is_busy(
    box: Sandbox, rules: RuleSet, url: str
) -> None:
    first, second = watched(box, rules, pause_fetch=True), watched(box, rules)
    with (
        open_app(box, rules, url, connector=first) as one,
        open_app(box, rules, url, connector=second) as other,
    ):
        one.setup()
        working = Background(lambda: one.rescore("hubspot:7"))
        assert first.inside.wait(30)
        busy = other.rescore("hubspot:7")
        calls = dict(second.calls())
        elsewhere = other.rescore("hubspot:8")  # another record is not held up
        first.go.set()
        done = working.result()

    assert busy.status == "busy" and calls == {}
    assert done.status == "done" and elsewhere.status == "done"
    assert first.written == ["7"] and second.written == ["8"]


def test_a_record_queued_before_a_sync_was_killed_is_written_by_the_next_sync(
    box: Sandbox, rules: RuleSet, url: str
) -> None:
    synced(box, rules, url)
    demo_request(box, "7")
    with open_app(box, rules, url) as app:
        RunLock(app.store, ["sync:hubspot"]).acquire()  # a sync at work...
        result = app.rescore("hubspot:7")
        with app.store.engine.begin() as connection:  # ...killed: its process is gone
            connection.execute(sa.update(locks).values(pid=DEAD_PID))
        enqueue(app.store, "hubspot", "999999")  # and a record deleted since it was queued
        summary = app.sync()
        left = queued_entries(app.store, ["hubspot"])
        after = app.rescore("hubspot:7")
        with app.store.engine.connect() as connection:  # kept after the record is erased
            kept = connection.execute(sa.select(runs.c.summary)).scalars().all()

    assert result.status == "queued"
    assert summary.queued == 2 and summary.systems["hubspot"].calls["contacts.get"] == 2
    assert left == [] and after.written == {}
    assert summary.warnings == ["a trigger queued a hubspot record that is gone"]
    assert kept and not any("999999" in text for text in kept)  # no record id in a run


def test_a_record_lock_left_by_a_dead_process_is_taken_over(
    box: Sandbox, rules: RuleSet, url: str
) -> None:
    with open_app(box, rules, url) as app:
        app.setup()
        [name] = record_lock(app.store, "hubspot", "7").names
        row = {"name": name, "holder": "gone", "host": socket.gethostname()}
        row |= {"pid": DEAD_PID, "since": time.time(), "beat": time.time()}
        with app.store.engine.begin() as connection:
            connection.execute(sa.insert(locks), [row])
        result = app.rescore("hubspot:7")
        with app.store.engine.connect() as connection:
            rows = connection.execute(sa.select(locks)).all()

    assert result.status == "done" and result.written == {"hubspot": ["7"]} and rows == []


def test_an_unknown_record_is_a_clear_error_and_nothing_is_written(
    box: Sandbox, rules: RuleSet, url: str
) -> None:
    with open_app(box, rules, url) as app:
        app.setup()
        with pytest.raises(RecordNotFound, match="hubspot has no contact '999999'"):
            app.rescore("hubspot:999999")
        with app.store.engine.connect() as connection:
            rows = connection.execute(sa.select(locks)).all()
        stored = app.store.counts()

    assert box.hubspot.calls["contacts.batch_update"] == 0
    assert rows == [] and stored["written"] == stored["identities"] == 0


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_later_ask_outlives_a_drain_that_read_the_earlier_one(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    else:  # a real server (tests/sync/conftest.py); skipped where there is none
        store = StateStore(str(request.getfixturevalue("postgres_url")))
    enqueue(store, "hubspot", "7")
    enqueue(store, "hubspot", "8")
    read = queued_entries(store, ["hubspot"])
    enqueue(store, "hubspot", "7")  # asked again while a drain works on the first ask
    forget_entries(store, read)

    left = [(e.system, e.record_id) for e in queued_entries(store, ["hubspot"])]
    store.close()

    assert left == [("hubspot", "7")]


def test_the_command_rescores_one_contact_in_a_few_lines(tmp_path: Path, box: Sandbox) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    env = {
        "COLUMNS": "80",
        "LEADSCORE_RULES": str(RULES),
        "LEADSCORE_STATE_URL": url,
        "LEADSCORE_HUBSPOT__ACCESS_TOKEN": box.hubspot.token,
        "LEADSCORE_HUBSPOT__HOST": box.hubspot.base_url,
    }
    runner = CliRunner()
    assert runner.invoke(cli, ["setup"], env=env).exit_code == 0
    done = runner.invoke(cli, ["rescore", "hubspot:7"], env=env)
    again = runner.invoke(cli, ["rescore", "HubSpot:7"], env=env)
    malformed = runner.invoke(cli, ["rescore", "7"], env=env)
    elsewhere = runner.invoke(cli, ["rescore", "salesforce:0035"], env=env)
    missing = runner.invoke(cli, ["rescore", "hubspot:999999"], env=env)
    store = StateStore(url)
    sync_lock = RunLock(store, ["sync:hubspot"])
    sync_lock.acquire()
    queued = runner.invoke(cli, ["rescore", "hubspot:8"], env=env)
    sync_lock.release()

    assert done.exit_code == 0, done.output
    assert "hubspot 7 (" in done.stdout and "score " in done.stdout
    assert "wrote hubspot 7" in done.stdout
    assert all(len(line) <= 80 for line in done.stdout.splitlines())
    assert again.exit_code == 0 and "nothing to write" in again.stdout
    assert malformed.exit_code == 2 and malformed.stderr.count("\n") == 1
    assert "expected SYSTEM:RECORD_ID" in malformed.stderr
    assert elsewhere.exit_code == 2 and "not a configured system" in elsewhere.stderr
    assert missing.exit_code == 1 and "hubspot has no contact '999999'" in missing.stderr
    assert queued.exit_code == 0
    assert queued.stdout == "queued: a sync is running; it will write this contact\n"
    for result in (done, malformed, elsewhere, missing):
        assert "Traceback" not in result.output


class CheckedBesideFetch(Watched):
    """A connector whose setup check waits, a bounded time, for a fetch to begin: it
    sees one begun only when the check runs beside the fetch, not before it."""

    def __init__(self, inner: Connector) -> None:
        super().__init__(inner)
        self.fetching = threading.Event()
        self.saw_fetch: list[bool] = []

    def fetch(self, record_id: str | None = None, *, email: str | None = None) -> Page:
        self.fetching.set()
        return super().fetch(record_id, email=email)

    def setup(self, fields: Sequence[FieldSpec], *, dry_run: bool = False) -> SetupReport:
        if dry_run:
            self.saw_fetch.append(self.fetching.wait(5))
        return self.inner.setup(fields, dry_run=dry_run)


def test_the_setup_check_runs_beside_the_fetch(box: Sandbox, rules: RuleSet, url: str) -> None:
    connector = CheckedBesideFetch(watched(box, rules).inner)
    with open_app(box, rules, url, connector=connector) as app:
        app.setup()
        result = app.rescore("hubspot:7")

    assert connector.saw_fetch == [True]
    assert result.status == "done" and connector.written == ["7"]


class Frozen(Watched):
    """A connector whose fetch returns a minute late, as from a Lambda or Cloud Functions
    instance frozen once its answer was sent and thawed by a later request."""

    def __init__(self, inner: Connector, now: list[float]) -> None:
        super().__init__(inner)
        self.now = now

    def fetch(self, record_id: str | None = None, *, email: str | None = None) -> Page:
        page = self.inner.fetch(record_id, email=email)
        self.now[0] += RECORD_STALE_AFTER
        return page


def test_a_rescore_paused_past_its_locks_staleness_stores_and_writes_nothing(
    box: Sandbox, rules: RuleSet, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [time.time()]
    on_a_clock(monkeypatch, now)
    connector = Frozen(watched(box, rules).inner, now)
    with open_app(box, rules, url, connector=connector) as app:
        app.setup()
        with pytest.raises(LockLost, match="another run may have taken it"):
            app.rescore("hubspot:7")
        stored = app.store.counts()
        with app.store.engine.connect() as connection:
            rows = connection.execute(sa.select(locks)).all()

    assert connector.written == [] and box.hubspot.calls["contacts.batch_update"] == 0
    assert stored["identities"] == stored["written"] == 0 and rows == []


class Slow(Watched):
    """A connector whose fetch lasts a minute and a half of a live process (HubSpot's
    429s waited out): the lock's own thread refreshes it meanwhile, each half minute."""

    def __init__(self, inner: Connector, now: list[float], guards: list[RunLock]) -> None:
        super().__init__(inner)
        self.now, self.guards = now, guards

    def fetch(self, record_id: str | None = None, *, email: str | None = None) -> Page:
        for _ in range(3):
            self.now[0] += 31
            deadline = time.monotonic() + 5
            while self.guards[-1]._beaten < self.now[0] and time.monotonic() < deadline:
                time.sleep(0.005)
        return self.inner.fetch(record_id, email=email)


def test_a_slow_rescore_whose_process_is_alive_keeps_its_lock_and_writes(
    box: Sandbox, rules: RuleSet, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [time.time()]
    guards = on_a_clock(monkeypatch, now, every=0.01)
    connector = Slow(watched(box, rules).inner, now, guards)
    with open_app(box, rules, url, connector=connector) as app:
        app.setup()
        result = app.rescore("hubspot:7")
    assert result.status == "done" and connector.written == ["7"]


class Thawed(Frozen):
    """`Frozen`, its lock's own thread thawed first: it beats before the fetch returns."""

    def __init__(self, inner: Connector, now: list[float], guards: list[RunLock]) -> None:
        super().__init__(inner, now)
        self.guards = guards

    def fetch(self, record_id: str | None = None, *, email: str | None = None) -> Page:
        page = super().fetch(record_id, email=email)
        deadline = time.monotonic() + 5
        while self.guards[-1]._beaten < self.now[0] and time.monotonic() < deadline:
            time.sleep(0.005)
        assert self.guards[-1]._beaten == self.now[0]
        return page


def test_a_frozen_rescore_whose_lock_thread_beat_first_writes_nothing_and_is_queued(
    box: Sandbox, rules: RuleSet, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [time.time()]
    guards = on_a_clock(monkeypatch, now, every=0.01)
    connector = Thawed(watched(box, rules).inner, now, guards)
    with open_app(box, rules, url, connector=connector) as app:
        app.setup()
        with pytest.raises(LockLost, match="another run may have taken it"):
            app.rescore("hubspot:7")
        entries = queued_entries(app.store, ["hubspot"])
    assert connector.written == [] and box.hubspot.calls["contacts.batch_update"] == 0
    assert [(e.system, e.record_id) for e in entries] == [("hubspot", "7")]


def test_a_rescore_frozen_after_storing_its_page_writes_nothing(
    box: Sandbox, rules: RuleSet, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Frozen once the page is stored (its account rolled up, its person scored): thawed a
    minute later, it writes none of the values it worked out before the pause."""
    paused_after(monkeypatch, "roll_up_again")
    connector = watched(box, rules)
    with open_app(box, rules, url, connector=connector) as app:
        app.setup()
        with pytest.raises(LockLost, match="another run may have taken it"):
            app.rescore("hubspot:7")
    assert connector.written == [] and box.hubspot.calls["contacts.batch_update"] == 0


class FrozenFirst(Watched):
    """A connector whose fetch answers a minute late, whatever it answers (a 404)."""

    def __init__(self, inner: Connector, now: list[float]) -> None:
        super().__init__(inner)
        self.now = now

    def fetch(self, record_id: str | None = None, *, email: str | None = None) -> Page:
        self.now[0] += RECORD_STALE_AFTER
        return self.inner.fetch(record_id, email=email)


def test_a_rescore_paused_past_its_lock_retires_nothing_on_a_404(
    box: Sandbox, rules: RuleSet, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sync.trigger

    now, retired = [time.time()], []
    on_a_clock(monkeypatch, now)
    monkeypatch.setattr(sync.trigger, "retire_if_gone", lambda *args: retired.append(args))
    connector = FrozenFirst(watched(box, rules).inner, now)
    with open_app(box, rules, url, connector=connector) as app:
        app.setup()
        with pytest.raises(LockLost, match="another run may have taken it"):
            app.rescore("hubspot:99999")
    assert retired == []


def test_a_missing_field_is_said_before_anything_is_stored_or_written(
    box: Sandbox, rules: RuleSet, url: str
) -> None:
    lacks = r"hubspot lacks .*leadscore_score.*: run `leadscore setup` first"
    with open_app(box, rules, url) as app:  # never set up: the portal lacks the fields
        with pytest.raises(SetupNeeded, match=lacks):
            app.rescore("hubspot:7")
        with pytest.raises(SetupNeeded, match=lacks):  # said before the fetch's own error
            app.rescore("hubspot:999999")
        with app.store.engine.connect() as connection:
            rows = connection.execute(sa.select(locks)).all()
        stored = app.store.counts()

    assert box.hubspot.calls["contacts.batch_update"] == 0
    assert stored["identities"] == stored["written"] == 0 and rows == []
