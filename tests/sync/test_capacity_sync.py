"""Sales capacity in a sync against the HubSpot sandbox: the run hands over at most the
week's places, reports the queue, a dry run hands over nobody, `explain` says a waiting
lead's place, and the hand-over stage written is never taken back."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from rich.console import Console

from sandbox import Sandbox
from scoring import RuleSet, load_rules
from scoring.capacity_rules import Capacity
from sync import StateStore, SyncOptions
from sync.capacity import queue_of
from sync.report import print_explanation, print_status, print_summary
from tests.sync.test_sync_hubspot import RULES, make_sync
from tests.sync.test_trigger import open_app as trigger_app

PER_WEEK = 2
HANDOVER = ("Sales qualified", "Opportunity")
"""The lead stages at or above the hand-over stage (`Customer` is `lead: false`)."""


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    loaded = load_rules(RULES)
    # validated the way the file's own block is
    capacity = Capacity(per_week=PER_WEEK)
    assert loaded.stages is not None and capacity.stage_index(loaded.stages) == 3
    return loaded.model_copy(update={"capacity": capacity})


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox(people=200, seed=3) as sandbox:
        yield sandbox


def test_a_sync_hands_over_the_weeks_places_and_reports_the_queue(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    at = box.now() + timedelta(hours=1)
    job = make_sync(box, rules, store, at=at)
    dry = job.run(SyncOptions(full=True, dry_run=True))
    assert queue_of(store, at.timestamp()).handed == 0, "a dry run hands over nobody"
    uncapped, _ = make_sync(box, load_rules(RULES), store, at=at).score(as_of=at)
    eligible = [r for r in range(len(uncapped)) if uncapped.stage(r) in HANDOVER]
    assert len(eligible) > PER_WEEK, "the sandbox must have more eligible leads than places"
    assert dry.handover is not None and dry.handover.handed == PER_WEEK
    assert dry.handover.waiting == len(eligible) - PER_WEEK

    summary = job.run(SyncOptions(full=True))
    queue = summary.handover
    assert queue is not None and queue.handed == PER_WEEK
    assert queue.waiting == len(eligible) - PER_WEEK
    assert summary.as_dict()["handover"]["waiting"] == queue.waiting
    batch, _ = job.score(as_of=at)
    on_stage = [r for r in range(len(batch)) if batch.stage(r) in HANDOVER]
    best = sorted((float(uncapped.total[r]) for r in eligible), reverse=True)
    assert sorted((float(batch.total[r]) for r in on_stage), reverse=True) == best[:PER_WEEK]
    assert sorted(batch.waiting.values()) == list(range(1, queue.waiting + 1))
    assert queue.last_score == min(best[:PER_WEEK])

    # a later run the same week: the same two, nobody more, nobody taken back
    later = at + timedelta(days=1) if at.isoweekday() < 7 else at + timedelta(hours=1)
    again = make_sync(box, rules, store, at=later).run(SyncOptions(full=True))
    assert again.handover is not None and again.handover.handed == PER_WEEK
    rescored, _ = job.score(as_of=later)
    ids = {
        str(rescored.contact_ids[r]) for r in range(len(rescored)) if rescored.stage(r) in HANDOVER
    }
    assert ids == {str(batch.contact_ids[r]) for r in on_stage}

    # `explain` says a waiting lead's place; `leadscore status` the last run's queue
    row = next(r for r, place in batch.waiting.items() if place == 1)
    out = Console(file=io.StringIO(), width=200)
    print_explanation(out, batch, row)
    assert "waiting for hand-over: 1st in queue" in out.file.getvalue()
    out = Console(file=io.StringIO(), width=200)
    print_status(out, store, [], rules=rules, at=at.timestamp())
    assert f"{PER_WEEK} handed over, {queue.waiting} waiting" in out.file.getvalue()
    out = Console(file=io.StringIO(), width=200)
    print_summary(out, summary)
    assert f"{PER_WEEK} handed over, {queue.waiting} waiting" in out.file.getvalue()


def test_concurrent_triggers_hand_over_no_more_than_the_week_allows(
    box: Sandbox, rules: RuleSet, tmp_path: Path
) -> None:
    """Eligible records rescored at once, each by an application with a store of its own
    on one file (as separate processes): one place, one hand-over written."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    one = rules.model_copy(update={"capacity": Capacity(per_week=1)})
    at = box.now()
    with trigger_app(box, one, url, clock=lambda: at) as app:
        app.setup()
        app.job.run(SyncOptions(full=True, dry_run=True))  # the store knows everyone
        plain, people = make_sync(box, load_rules(RULES), app.store, at=at).score(as_of=at)
    eligible = [str(plain.contact_ids[r]) for r in range(len(plain)) if plain.stage(r) in HANDOVER]
    records = [people.records[p][0][1] for p in eligible[:4]]
    assert len(records) >= 3
    results: list[str | None] = []
    failures: list[BaseException] = []
    gate = threading.Barrier(len(records))

    def trigger(record: str) -> None:
        try:
            with trigger_app(box, one, url, clock=lambda: at) as mine:
                gate.wait()
                results.append(mine.rescore(f"hubspot:{record}").stage)
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=trigger, args=(r,)) for r in records]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    assert sum(stage in HANDOVER for stage in results) == 1, results
    table = box.hubspot.contacts
    written = [table.value("leadscore_stage", int(r) - 1) for r in records]
    assert sum(stage in HANDOVER for stage in written) == 1, written
    with trigger_app(box, one, url, clock=lambda: at) as app:
        queue = queue_of(app.store, at.timestamp())
    assert queue.handed == 1 and queue.waiting == len(records) - 1
