"""A run given a deadline stops in time: the pull at page boundaries with a reserve left
for scoring and writing, the writes at the deadline; it commits the cursors of the
streams it pulled whole only, ends "partial", and the next run ends where an
uninterrupted run would. The deadline's clock is injected: nothing here sleeps."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from connectors.protocol import Connector, Page, Write, WriteOutcome
from sandbox import Sandbox
from scoring import RuleSet, load_rules
from sync import Leadscore, StateStore, Sync, SyncOptions
from sync.deadline import (
    ESTIMATE_FACTOR,
    ESTIMATE_RUNS,
    RESERVE_MOST,
    RESERVE_SHARE,
    RunDeadline,
    pages_until,
    reserve_for,
    submitted_in_time,
)
from sync.demo import sandbox_settings
from sync.errors import ConfigError
from sync.schema import persons
from tests.sync.test_sync_hubspot import RULES, held

PEOPLE, SEED = 400, 11
SYSTEMS = ("hubspot", "mailchimp")
DEADLINE = 1_000.0
"""On the injected clock, which starts at 0: the pull may go on until 800 (a fifth kept)."""


class Ticks:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules(RULES)


def boxes() -> Iterator[Sandbox]:
    with Sandbox(people=PEOPLE, seed=SEED) as sandbox:
        yield sandbox


box = pytest.fixture(boxes)
twin = pytest.fixture(boxes)
"""A sandbox identical to `box`: the same world, for a run no deadline stops."""


def open_job(sandbox: Sandbox, rules: RuleSet, store: StateStore, at: datetime) -> Sync:
    app = Leadscore.open(
        sandbox_settings(sandbox, systems=SYSTEMS),
        rules=rules,
        store=store,
        clock=lambda: at,
        pace=sandbox.clock,
        seed=0,
    )
    app.setup()
    return app.job


def holdings(sandbox: Sandbox, rules: RuleSet) -> dict[str, Any]:
    """What every system holds of what leadscore writes: HubSpot's properties, Mailchimp's
    merge fields and tags, per record."""
    audience = sandbox.mailchimp.audience
    with sandbox.mailchimp.lock:
        members = {
            row: (dict(audience.member(row).merge_fields), sorted(audience.member(row).tags))
            for row in range(audience.size)
            if row not in audience.deleted
        }
    return {"hubspot": held(sandbox, rules), "mailchimp": members}


def dues(store: StateStore) -> dict[int, float | None]:
    with store.engine.connect() as connection:
        rows = connection.execute(sa.select(persons.c.id, persons.c.due)).all()
    return {int(pid): due for pid, due in rows}


def cut_contacts_after_first_page(connector: Connector, ticks: Ticks, to: float) -> set[str]:
    """The connector's contacts pull moves the clock to `to` as its first page is handed
    on: a page fetched before the pull's time was up, the last one asked for; and not
    before the meetings have been pulled to their end. Returns the streams whose pull
    the connector ends, filled in as they end."""
    pull = connector.pull
    ended: set[str] = set()
    meetings = threading.Event()

    def pulled(stream: str, cursor: str | None) -> Iterator[Page]:
        first = True  # the first page holding contacts (the archived ones' listing comes before)
        for page in pull(stream, cursor):
            if stream == connector.streams[0] and first and page.contacts:
                first = False
                assert meetings.wait(timeout=60)
                ticks.now = to
            yield page
        ended.add(stream)
        if stream == "meetings":
            meetings.set()

    connector.pull = pulled  # type: ignore[method-assign]
    return ended


def stop_writes_after_first_batch(connector: Connector, ticks: Ticks, to: float) -> None:
    write = connector.write

    def written(writes: Sequence[Write]) -> WriteOutcome:
        outcome = write(writes)
        ticks.now = to
        return outcome

    connector.write = written  # type: ignore[method-assign]


def test_a_run_cut_short_commits_whole_streams_only_and_the_next_run_ends_as_one_uncut(
    box: Sandbox, twin: Sandbox, rules: RuleSet, tmp_path: Path
) -> None:
    at = box.now() + timedelta(hours=1)
    store = StateStore(f"sqlite:///{tmp_path / 'cut.db'}")
    other = StateStore(f"sqlite:///{tmp_path / 'whole.db'}")
    job, ticks = open_job(box, rules, store, at), Ticks()
    job.monotonic = ticks
    hubspot, mailchimp = job.connectors
    assert hubspot.system == "hubspot" and mailchimp.system == "mailchimp"
    # HubSpot's contacts come in pages of 200: the pull stops after the first; then the
    # writes stop after HubSpot's first batch, before any reaches Mailchimp.
    ended = cut_contacts_after_first_page(hubspot, ticks, to=DEADLINE * 0.9)
    stop_writes_after_first_batch(hubspot, ticks, to=DEADLINE)

    cut = job.run(SyncOptions(full=True, deadline=DEADLINE, workers=1))
    committed = {s: store.cursors(s) for s in SYSTEMS}
    due_after_cut = dues(store)
    runs = store.runs(1)
    resumed = open_job(box, rules, store, at).run()
    whole = open_job(twin, rules, other, at).run(SyncOptions(full=True))
    quiet = open_job(box, rules, store, at).run()

    assert cut.status == "partial" and runs[0].status == "partial"
    warning = next(w for w in cut.warnings if w.startswith("stopped before its deadline"))
    assert "hubspot contacts not pulled whole" in warning
    assert "mailchimp not pulled" in warning  # its pull was not started
    assert f"hubspot: {cut.systems['hubspot'].planned - 100:,} writes not sent" in warning
    assert "the next run takes up what was left" in warning
    # nothing of Mailchimp came in, and only HubSpot's first batch was written
    assert cut.systems["mailchimp"].contacts == 0 and cut.systems["hubspot"].written == 100
    # the cursors of the streams pulled to their end, and the contacts' resume point (their
    # walk by id goes on from its first page) with the fields the pull read; none of
    # another stream cut short (which streams end first is the threads' race)
    assert "contacts" not in ended and "contacts" in other.cursors("hubspot")
    resumable = {"contacts", "~fields", "~activity-fields"}
    assert set(committed["hubspot"]) == (ended & set(other.cursors("hubspot"))) | resumable
    assert json.loads(committed["hubspot"]["contacts"])["walk"]["after"] == 200
    assert "meetings" in committed["hubspot"] and committed["mailchimp"] == {}
    # whoever a write was planned for and did not land stays due
    assert sum(1 for d in due_after_cut.values() if d is None or d <= 0) >= 100
    assert resumed.status == whole.status == "ok"
    assert holdings(box, rules) == holdings(twin, rules)
    assert quiet.changed == 0
    assert store.cursors("hubspot").keys() == other.cursors("hubspot").keys()
    store.close()
    other.close()


def test_a_run_whose_deadline_is_past_changes_nothing(
    box: Sandbox, rules: RuleSet, tmp_path: Path
) -> None:
    at = box.now() + timedelta(hours=1)
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    open_job(box, rules, store, at).run(SyncOptions(full=True))
    before = (holdings(box, rules), {s: store.cursors(s) for s in SYSTEMS}, dues(store))
    calls = len(box.hubspot.log)
    job, ticks = open_job(box, rules, store, at + timedelta(hours=1)), Ticks()
    job.monotonic = ticks
    ticks.now = 50.0

    late = job.run(SyncOptions(deadline=10.0))
    after = (holdings(box, rules), {s: store.cursors(s) for s in SYSTEMS}, dues(store))

    assert late.status == "partial" and late.rescored == 0 and late.changed == 0
    assert any("hubspot not pulled" in w and "nothing scored" in w for w in late.warnings)
    assert all(s.written == 0 and s.contacts == 0 for s in late.systems.values())
    assert not any(c.operation.startswith("contacts.") for c in box.hubspot.log[calls:])
    assert after == before
    store.close()


# -- the parts ---------------------------------------------------------------------------------


def test_the_reserve_is_a_share_or_the_store_s_estimate_never_more_than_half() -> None:
    assert reserve_for(100.0, []) == pytest.approx(RESERVE_SHARE * 100)
    assert reserve_for(100.0, [10.0, 30.0]) == pytest.approx(45.0)  # 1.5 x the slowest
    assert reserve_for(100.0, [400.0]) == pytest.approx(RESERVE_MOST * 100)
    assert reserve_for(0.0, [5.0]) == 0.0


@given(
    st.floats(0, 1e6, allow_nan=False),
    st.lists(st.floats(0, 1e6, allow_nan=False), max_size=ESTIMATE_RUNS),
)
def test_the_reserve_leaves_the_pull_at_least_half_the_time(span: float, past: list[float]) -> None:
    reserve = reserve_for(span, past)

    assert RESERVE_SHARE * span <= reserve + 1e-9 and reserve <= RESERVE_MOST * span + 1e-9
    assert reserve >= min(RESERVE_MOST * span, ESTIMATE_FACTOR * max(past, default=0.0)) - 1e-6


def test_the_reserve_is_estimated_from_the_store_s_last_runs(tmp_path: Path) -> None:
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    run = store.start_run("incremental", datetime.now().astimezone())
    summary = {"phase_seconds": {"pull": 50.0, "score": 20.0, "plan": 4.0}}
    store.finish_run(run, "ok", summary, datetime.now().astimezone())
    ticks = Ticks()

    deadline = RunDeadline.of_run(100.0, ticks, store)

    assert deadline.reserve == pytest.approx(36.0) and deadline.pull_until == pytest.approx(64.0)
    assert RunDeadline.of_run(None, ticks, store).remaining() == float("inf")
    store.close()


def test_a_stream_stops_at_a_page_boundary_and_says_whether_it_was_whole() -> None:
    ticks = Ticks()
    deadline = RunDeadline(100.0, ticks, reserve=20.0)
    asked: list[int] = []

    def pages() -> Iterator[Page]:
        for n in range(5):
            asked.append(n)
            if n == 1:
                ticks.now = 80.0  # the pull's time is up while page 1 is fetched
            yield Page("contacts", cursor=str(n))

    cut = list(pages_until(pages, deadline, "hubspot contacts"))
    whole = list(pages_until(lambda: iter([Page("deals")]), RunDeadline(None, ticks), "x"))

    assert [p.cursor for p in cut if p is not None] == ["0", "1"] and None not in cut
    assert asked == [0, 1]  # page 2 never asked for
    assert deadline.cut == ["hubspot contacts not pulled whole"] and deadline.reached
    assert whole[-1] is None and len(whole) == 2


def test_no_batch_is_sent_once_the_deadline_has_passed_and_those_in_flight_land() -> None:
    ticks = Ticks()
    deadline = RunDeadline(10.0, ticks)
    sent: list[int] = []
    lock = threading.Lock()

    def work(item: list[int]) -> int:
        with lock:
            sent.append(item[0])
            if len(sent) == 3:
                ticks.now = 10.0
        return item[0]

    batches = [[n, n] for n in range(10)]
    with ThreadPoolExecutor(max_workers=1) as pool:
        done = list(
            submitted_in_time(pool, work, batches, deadline, most=1, what="hubspot", size=len)
        )

    assert done == sent == [0, 1, 2]
    assert deadline.cut == ["hubspot: 14 writes not sent"]


def test_a_deadline_that_is_no_number_is_refused() -> None:
    with pytest.raises(ConfigError, match="deadline: expected a finite moment"):
        SyncOptions(deadline=float("nan"))


def test_each_worker_takes_the_next_batch_as_soon_as_its_own_landed() -> None:
    started: list[int] = []
    release = {n: threading.Event() for n in range(6)}
    lock = threading.Lock()

    def work(item: int) -> int:
        with lock:
            started.append(item)
        assert release[item].wait(5)
        return item

    with ThreadPoolExecutor(max_workers=2) as pool:
        done = submitted_in_time(pool, work, list(range(6)), RunDeadline(None, Ticks()), most=2,
                                 what="salesforce")  # fmt: skip
        release[1].set()
        first = next(done)
        # item 0 still runs: the worker that finished 1 took 2 without waiting for it
        for _ in range(100):
            if 2 in started:
                break
            time.sleep(0.01)
        assert first == 1 and sorted(started) == [0, 1, 2] and started[-1] == 2
        for event in release.values():
            event.set()
        assert sorted([first, *done]) == list(range(6))


def test_a_failure_stops_the_workers_taking_more_and_is_raised() -> None:
    taken: list[int] = []

    def work(item: int) -> int:
        taken.append(item)
        if item == 2:
            raise RuntimeError("budget")
        return item

    with ThreadPoolExecutor(max_workers=1) as pool, pytest.raises(RuntimeError, match="budget"):
        list(submitted_in_time(pool, work, list(range(9)), RunDeadline(None, Ticks()),
                               most=1, what="salesforce"))  # fmt: skip
    assert taken == [0, 1, 2]
