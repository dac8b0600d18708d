"""Runs a deadline cuts short again and again make progress where a stream can resume
(HubSpot's contacts walk by id), and say so where one cannot (Mailchimp's members,
walked by offset in no order a cursor follows). The deadline's clock is injected."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from connectors.protocol import Connector, Page
from sandbox import Sandbox
from scoring import RuleSet, load_rules
from sync import Leadscore, StateStore, Sync, SyncOptions
from sync.demo import sandbox_settings
from sync.resume import cursors_to_commit, stuck_streams
from tests.sync.test_deadline import DEADLINE, Ticks
from tests.sync.test_sync_hubspot import RULES, held

PEOPLE, SEED = 1500, 4
STEP = 0.4 * DEADLINE
"""The clock moves this much as each contacts page is handed on: the pull (until 800)
stops after two pages, 400 contacts."""


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules(RULES)


def open_job(
    sandbox: Sandbox, rules: RuleSet, store: StateStore, at: datetime, systems: tuple[str, ...]
) -> Sync:
    app = Leadscore.open(
        sandbox_settings(sandbox, systems=systems),
        rules=rules,
        store=store,
        clock=lambda: at,
        pace=sandbox.clock,
        seed=0,
    )
    app.setup()
    return app.job


def slow_contacts(connector: Connector, ticks: Ticks) -> None:
    """Each page of contacts moves the clock by `STEP` as it is handed on, once the other
    streams have been pulled to their end (so that only the contacts are ever cut)."""
    pull = connector.pull
    others = set(connector.streams[1:])
    ended: set[str] = set()
    done = threading.Event()

    def pulled(stream: str, cursor: str | None) -> Iterator[Page]:
        for page in pull(stream, cursor):
            if stream == connector.streams[0]:
                assert done.wait(timeout=60)
                if page.contacts:  # the walk's pages, not the archived list before it
                    ticks.now += STEP
            yield page
        ended.add(stream)
        if ended >= others:
            done.set()

    connector.pull = pulled  # type: ignore[method-assign]


def test_runs_cut_short_resume_the_contacts_walk_until_all_is_written(
    rules: RuleSet, tmp_path: Path
) -> None:
    with Sandbox(people=PEOPLE, seed=SEED) as box, Sandbox(people=PEOPLE, seed=SEED) as twin:
        at = box.now() + timedelta(hours=1)
        store = StateStore(f"sqlite:///{tmp_path / 'cut.db'}")
        other = StateStore(f"sqlite:///{tmp_path / 'whole.db'}")
        contacts = box.hubspot.contacts.size
        assert contacts > 1000  # more than two runs' pages
        walked, written, runs = [], 0, 0
        while runs < 10:
            job, ticks = open_job(box, rules, store, at, ("hubspot",)), Ticks()
            job.monotonic = ticks
            slow_contacts(job.connectors[0], ticks)
            summary = job.run(SyncOptions(deadline=DEADLINE))
            runs += 1
            written += summary.systems["hubspot"].written
            cursors = store.cursors("hubspot")
            assert "~fields" in cursors  # the fields are committed with the contacts cursor
            if summary.status == "ok":
                break
            assert "hubspot contacts not pulled whole" in " ".join(summary.warnings)
            assert not any("--full" in w for w in summary.warnings)
            walked.append(json.loads(cursors["contacts"])["walk"]["after"])
        # each cut run walked 400 contacts further, and the walk ended
        assert walked == [min(400 * (n + 1), contacts) for n in range(len(walked))]
        assert runs == len(walked) + 1 <= 10 and walked[-1] == contacts
        assert written >= contacts - 50  # nearly everyone holds a score (a few hold none)
        whole = open_job(twin, rules, other, at, ("hubspot",)).run(SyncOptions(full=True))
        quiet = open_job(box, rules, store, at, ("hubspot",)).run()
        assert whole.status == quiet.status == "ok"
        assert held(box, rules) == held(twin, rules)
        assert quiet.changed == 0
        store.close()
        other.close()


def cut_after_first_page(connector: Connector, ticks: Ticks) -> None:
    pull = connector.pull

    def pulled(stream: str, cursor: str | None) -> Iterator[Page]:
        for page in pull(stream, cursor):
            if stream == connector.streams[0]:
                ticks.now = 0.9 * DEADLINE
            yield page

    connector.pull = pulled  # type: ignore[method-assign]


def test_a_stream_cut_again_with_no_resume_point_is_named_with_what_to_do(
    rules: RuleSet, tmp_path: Path
) -> None:
    with Sandbox(people=300, seed=SEED) as box:
        at = box.now() + timedelta(hours=1)
        store = StateStore(f"sqlite:///{tmp_path / 'cut.db'}")
        found = []
        for _ in range(2):
            job, ticks = open_job(box, rules, store, at, ("mailchimp",)), Ticks()
            job.monotonic = ticks
            cut_after_first_page(job.connectors[0], ticks)
            found.append(job.run(SyncOptions(deadline=DEADLINE)))
        first, second = found
        assert first.status == second.status == "partial"
        # (which other streams are cut too is the threads' race)
        assert "mailchimp contacts" in first.stuck and "mailchimp contacts" in second.stuck
        assert store.runs(1)[0].summary["stuck_streams"] == second.stuck
        assert not any("--full" in w for w in first.warnings)  # once may be bad luck
        (advice,) = [w for w in second.warnings if "--full" in w]
        assert advice.startswith("mailchimp contacts")
        assert "without --max-seconds" in advice and "against the same store" in advice
        assert "contacts" not in store.cursors("mailchimp")
        store.close()


def test_a_cut_stream_commits_its_resume_point_and_the_fields_go_with_the_contacts() -> None:
    streams = ("contacts", "events", "deals")
    pending = {"contacts": "end", "events": "e", "deals": "d", "~fields": "f"}
    resumes: dict[str, str | None] = {"contacts": "r", "events": None}
    assert cursors_to_commit(streams, pending, resumes, {"deals"}) == {
        "contacts": "r",
        "deals": "d",
        "~fields": "f",
    }
    assert cursors_to_commit(streams, pending, {"contacts": None}, {"events"}) == {"events": "e"}
    assert cursors_to_commit(streams, pending, {}, set(streams)) == pending
    assert stuck_streams("x", streams, resumes, {"deals"}) == ["x events"]
