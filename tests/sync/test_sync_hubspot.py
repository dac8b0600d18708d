"""The sync end to end: the real hubspot-api-client against the HubSpot sandbox, a SQLite store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.hubspot import CAPABILITIES, HubSpotConnector
from connectors.policy import CallPolicy
from sandbox import FaultPlan, Latency, Sandbox
from scoring import ActivityType, RuleSet, load_rules
from sync import Leadscore, StateStore, Sync, SyncOptions, SyncSummary
from sync.demo import sandbox_settings
from sync.fields import SCORED_AT, FieldMap

RULES = Path(__file__).parents[2] / "scoring" / "rulesets" / "default.yaml"
PEOPLE, SEED = 400, 11


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules(RULES)


def fields(rules: RuleSet) -> FieldMap:
    return FieldMap.for_rules(rules, CAPABILITIES)


def open_app(
    box: Sandbox,
    rules: RuleSet,
    store: StateStore,
    at: datetime | None = None,
    *,
    hubspot: HubSpotConnector | None = None,
    lifecycle_stages: dict[str, str] | None = None,
    seed: int = 0,
) -> Leadscore:
    """The application on the sandbox as the demo opens it, with this store; its calls
    paced by the sandbox's clock (scaled time stays consistent) and seeded jitter."""
    stage_maps = {"hubspot": lifecycle_stages} if lifecycle_stages else None
    return Leadscore.open(
        sandbox_settings(box, stage_maps=stage_maps),
        rules=rules,
        store=store,
        connectors=None if hubspot is None else [hubspot],
        clock=(lambda: at) if at is not None else box.now,
        pace=box.clock,
        seed=seed,
    )


def connector(box: Sandbox, rules: RuleSet) -> HubSpotConnector:
    """The connector the application builds for the sandbox."""
    built = open_app(box, rules, StateStore("sqlite://")).connectors[0]
    assert isinstance(built, HubSpotConnector)
    return built


def make_sync(
    box: Sandbox, rules: RuleSet, store: StateStore, at: datetime | None = None, seed: int = 0
) -> Sync:
    app = open_app(box, rules, store, at, seed=seed)
    app.setup()
    return app.job


def held(box: Sandbox, rules: RuleSet) -> dict[str, dict[str, str | None]]:
    """What HubSpot holds in the leadscore properties, per contact (scoring time aside)."""
    names = [s.name for s in fields(rules).specs if s.key != SCORED_AT]
    table = box.hubspot.contacts
    return {
        str(row + 1): {name: table.value(name, row) for name in names if name in table.defs}
        for row in range(table.size)
    }


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox(people=PEOPLE, seed=SEED) as sandbox:
        yield sandbox


def writes(summary: SyncSummary) -> int:
    return summary.systems["hubspot"].calls.get("contacts.batch_update", 0)


def test_full_sync_writes_every_contact_the_engine_scored(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    sync = make_sync(box, rules, store)
    summary = sync.run(SyncOptions(full=True))
    batch, people = sync.score()
    values = held(box, rules)

    size = box.hubspot.contacts.size
    assert summary.systems["hubspot"].written == size == summary.changed
    assert writes(summary) == -(-size // 100)  # ceil: full batches of 100
    # pages of 200, and one search for the next cursor
    assert summary.systems["hubspot"].calls["contacts.search"] == size // 200 + 1 + 1
    row_of = {str(pid): row for row, pid in enumerate(batch.contact_ids)}
    for person, records in people.records.items():
        row = row_of[person]
        for _system, record in records:
            written = "-1000" if batch.disqualified[row] else str(round(float(batch.total[row])))
            assert values[record]["leadscore_score"] == written
            assert values[record]["leadscore_stage"] == batch.stage(row)
    assert {v["leadscore_stage"] for v in values.values()} >= {"Prospect", "Lead"}


def test_incremental_sync_with_nothing_new_writes_nothing(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    sync = make_sync(box, rules, store)
    sync.run(SyncOptions(full=True))
    again = sync.run()

    assert again.changed == 0 and writes(again) == 0
    assert store.cursors("hubspot").keys() >= {"contacts", "email_events", "meetings"}


def test_the_runs_after_a_full_sync_pass_over_its_own_writes(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    sync = make_sync(box, rules, store)

    def contact_searches(options: SyncOptions | None = None) -> tuple[int, SyncSummary]:
        """A run's contact searches HubSpot answered (a retried 429 is not another search)."""
        before = len(box.hubspot.log)
        summary = sync.run(options)
        answered = [c for c in box.hubspot.log[before:] if c.status == 200]
        return sum(c.operation == "contacts.search" for c in answered), summary

    contact_searches(SyncOptions(full=True))
    (first, quiet), (second, quieter) = contact_searches(), contact_searches()
    box.clock.sleep(5)
    box.hubspot.add_event("7", ActivityType.DEMO_REQUEST, url="https://x.example/demo")
    _, third = contact_searches()
    fourth, _ = contact_searches()

    # one search for the next cursor, one page that finds nothing: every contact the
    # full sync wrote is newer than its cursor, but only by our own write
    assert (first, second) == (2, 2)
    assert (
        quiet.systems["hubspot"].contacts_changed
        == quieter.systems["hubspot"].contacts_changed
        == 0
    )
    # a change made after our writes is still news, and our write of it is then passed over
    assert third.systems["hubspot"].written == 1 and fourth == 2


def test_an_email_event_recorded_late_is_still_read_by_an_incremental_sync(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    sync = make_sync(box, rules, store)
    sync.run(SyncOptions(full=True))
    cursor = json.loads(store.cursors("hubspot")["email_events"])["created_since"]
    # a bounce HubSpot records now, dated three hours before the newest event read
    late = datetime.fromtimestamp(cursor / 1000, UTC) - timedelta(hours=3)
    box.hubspot.add_event("9", ActivityType.EMAIL_BOUNCE, late)
    later = sync.run()

    assert later.systems["hubspot"].activities_new == 1


def test_incremental_sync_writes_only_the_contacts_with_new_activity(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    sync = make_sync(box, rules, store)
    sync.run(SyncOptions(full=True))
    before = held(box, rules)
    for contact in ("3", "17", "42"):
        box.hubspot.add_event(contact, ActivityType.DEMO_REQUEST, url="https://x.example/demo")
    box.hubspot.add_event("5", ActivityType.EMAIL_CLICK, url="https://x.example/p", campaign=0)
    summary = sync.run()
    after = held(box, rules)

    changed = {c for c in after if after[c] != before[c]}
    assert changed == {"3", "17", "42", "5"}
    assert summary.systems["hubspot"].written == 4 and writes(summary) == 1


def test_dry_run_plans_the_writes_and_changes_nothing_in_hubspot(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    sync = make_sync(box, rules, store)
    summary = sync.run(SyncOptions(full=True, dry_run=True))

    assert len(summary.plan["hubspot"]) == box.hubspot.contacts.size
    assert writes(summary) == 0 and store.written_values("hubspot") == {}
    assert store.cursors("hubspot") == {}
    assert all(v["leadscore_score"] is None for v in held(box, rules).values())


def test_limit_is_a_trial_that_writes_what_a_full_run_would_and_moves_no_cursor(
    box: Sandbox, rules: RuleSet, store: StateStore, tmp_path: Path
) -> None:
    at, expected = clean_run(rules, tmp_path)
    summary = make_sync(box, rules, store, at).run(SyncOptions(full=True, limit=30))
    values = held(box, rules)
    written = [c for c, v in values.items() if v["leadscore_score"] is not None]

    assert summary.systems["hubspot"].contacts == 30
    assert len(written) == summary.systems["hubspot"].written == 30
    assert all(values[c] == expected[c] for c in written)  # each with all its activity
    assert store.cursors("hubspot") == {}


def test_a_failing_store_stops_every_pull_at_once(
    box: Sandbox, rules: RuleSet, store: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    def broken(*_args: object) -> int:
        raise RuntimeError("disk full")

    monkeypatch.setattr(store, "save_pages", broken)
    sync = make_sync(box, rules, store)
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="disk full"):
        sync.run(SyncOptions(full=True))

    assert time.monotonic() - started < 10
    assert not [t for t in threading.enumerate() if t.name.startswith("pull-")]
    assert store.runs(1)[0].status == "failed" and store.cursors("hubspot") == {}


def test_stage_never_moves_back_when_the_score_drops(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    at = box.now()
    make_sync(box, rules, store, at).run(SyncOptions(full=True))
    before = held(box, rules)
    reached = {c: v["leadscore_stage"] for c, v in before.items()}
    # A year later every behaviour point has decayed or left its window.
    later = make_sync(box, rules, store, at + timedelta(days=365)).run()
    now = held(box, rules)

    ladder = [s.name for s in rules.stages.ladder] if rules.stages else []
    kept = [
        c
        for c, stage in reached.items()
        if stage != ladder[0]
        and now[c]["leadscore_stage"] == stage
        and int(now[c]["leadscore_score"] or 0) < int(before[c]["leadscore_score"] or 0)
    ]
    assert later.changed > 0 and kept  # lower scores, same stages
    assert all(
        ladder.index(now[c]["leadscore_stage"] or "") >= ladder.index(s or "")
        for c, s in reached.items()
    )


def clean_run(rules: RuleSet, tmp_path: Path) -> tuple[datetime, dict[str, dict[str, str | None]]]:
    """The moment and the values an uninterrupted full sync of a fault-free sandbox writes."""
    with Sandbox(people=PEOPLE, seed=SEED) as clean_box:
        at = clean_box.now()
        clean = StateStore(f"sqlite:///{tmp_path / 'clean.db'}")
        make_sync(clean_box, rules, clean, at).run(SyncOptions(full=True))
        return at, held(clean_box, rules)


def test_a_faulty_hubspot_ends_with_the_values_of_a_clean_run(
    rules: RuleSet, tmp_path: Path
) -> None:
    at, expected = clean_run(rules, tmp_path)
    faults = FaultPlan(
        rate_limited=0.05, server_error=0.05, dropped=0.02, record_failure=0.03, seed=5
    )
    # Scaled time: Retry-After seconds and backoff pass ten times faster.
    with Sandbox(people=PEOPLE, seed=SEED, scale=10, faults={"hubspot": faults}) as box:
        store = StateStore(f"sqlite:///{tmp_path / 'faulty.db'}")
        sync = make_sync(box, rules, store, at, seed=3)
        first = sync.run(SyncOptions(full=True))
        failed = len(store.failures("hubspot"))
        runs = [sync.run() for _ in range(4)]
        got = held(box, rules)

    assert first.systems["hubspot"].failed == failed > 0  # partial batch failures were kept
    assert sum(sum(s.calls.values()) for s in first.systems.values()) > 0
    assert store.failures("hubspot") == [] and runs[-1].changed == 0
    assert got == expected


def test_replies_cut_off_or_lost_are_retried_and_end_with_the_values_of_a_clean_run(
    rules: RuleSet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    at, expected = clean_run(rules, tmp_path)
    # Truncated list and search bodies are read by the connector itself; lost replies
    # land (a batch write is carried out) and the client never hears of it.
    with Sandbox(people=PEOPLE, seed=SEED, scale=10) as box:
        store = StateStore(f"sqlite:///{tmp_path / 'cut.db'}")
        # From setup on: a property create whose reply was lost answers 409 when
        # retried, and setup takes that as the property being there.
        box.hubspot.faults = FaultPlan(truncated=0.10, lost=0.05, seed=9)
        sync = make_sync(box, rules, store, at, seed=4)
        first = sync.run(SyncOptions(full=True))
        runs = [sync.run() for _ in range(2)]
        got = held(box, rules)
        cut = [c for c in box.hubspot.log if c.status == 0]

    assert len(cut) > 5  # lost replies happened, truncated ones are logged with their status
    assert first.status == "ok" and first.error is None, first.error
    assert first.systems["hubspot"].failed == 0 and store.failures("hubspot") == []
    assert runs[-1].changed == 0
    assert got == expected
    assert "Traceback" not in capsys.readouterr().err


CHILD = textwrap.dedent(
    """
    import sys
    from datetime import datetime
    from pathlib import Path
    from sync import Leadscore, SyncOptions
    from sync.settings import isolated_settings

    base, token, state, rules_path, at = sys.argv[1:]
    moment = datetime.fromisoformat(at)
    settings = isolated_settings(hubspot={"access_token": token, "host": base}, state_url=state)
    app = Leadscore.open(settings, rules=Path(rules_path), clock=lambda: moment)
    app.job.run(SyncOptions(full=True, workers=1))
    """
)


@pytest.mark.parametrize(
    ("moment", "operation", "calls"),
    [("mid-pull", "email.events", 2), ("mid-write", "contacts.batch_update", 2)],
)
def test_a_sync_killed_then_rerun_ends_like_an_uninterrupted_one(
    rules: RuleSet, tmp_path: Path, moment: str, operation: str, calls: int
) -> None:
    at, expected = clean_run(rules, tmp_path)
    # Slow answers so the child is surely in the middle of its work when it is killed.
    with Sandbox(people=PEOPLE, seed=SEED, latency=Latency(fixed=0.05)) as box:
        state = f"sqlite:///{tmp_path / 'crashed.db'}"
        connector(box, rules).setup(fields(rules).specs)
        root = Path(__file__).parents[2]
        child = subprocess.Popen(
            [
                sys.executable,
                "-c",
                CHILD,
                box.hubspot.base_url,
                box.hubspot.token,
                state,
                str(RULES),
                at.isoformat(),
            ],
            cwd=root,
            env={**os.environ, "PYTHONPATH": str(root)},
        )
        deadline = time.monotonic() + 60
        while box.hubspot.calls[operation] < calls and time.monotonic() < deadline:
            time.sleep(0.005)
        child.send_signal(signal.SIGKILL)
        child.wait()
        partly = held(box, rules)
        store = StateStore(state)
        assert store.cursors("hubspot") == {}  # cursors move only after every write landed
        make_sync(box, rules, store, at).run()
        got = held(box, rules)

    assert any(v["leadscore_score"] is None for v in partly.values())
    if moment == "mid-write":
        assert any(v["leadscore_score"] is not None for v in partly.values())
    assert got == expected


def test_fetch_returns_one_contact_with_its_email_events_and_engagements(
    box: Sandbox, rules: RuleSet
) -> None:
    hubspot = connector(box, rules)
    box.hubspot.add_event("7", ActivityType.MEETING)
    box.hubspot.add_event("7", ActivityType.EMAIL_OPEN, campaign=0)
    email = box.hubspot.contacts.value("email", 6) or ""
    page = hubspot.fetch(email=email.upper())
    by_id = hubspot.fetch("7")

    kinds = {a.type for a in page.activities}
    assert [c.id for c in page.contacts] == ["7"] == [c.id for c in by_id.contacts]
    assert {ActivityType.MEETING, ActivityType.EMAIL_OPEN} <= kinds
    assert all(a.contact_id == "7" or a.contact_email for a in page.activities)


def test_an_oauth_app_is_paced_at_its_own_limit_with_no_daily_budget(
    rules: RuleSet, store: StateStore
) -> None:
    # Vendor time runs 4 times faster: the window, not the test, sets the pace.
    with Sandbox(people=PEOPLE, seed=SEED, hubspot_tier="oauth", scale=4) as box:
        app = open_app(box, rules, store)
        app.setup()
        hubspot = app.connectors[0]
        assert isinstance(hubspot, HubSpotConnector)
        summary = app.job.run(SyncOptions(full=True))
        for contact in range(1, 41):
            hubspot.fetch(str(contact))

        answered = len(box.hubspot.log)
    [window, _search] = hubspot.policy.limits
    assert summary.systems["hubspot"].written == box.hubspot.contacts.size
    # paced at 110 per 10 s, well past 110 calls, and none failed (the sandbox's own
    # 10-second window for "oauth" is tested with the sandbox)
    assert window.window.limit == 110 and answered > 150
    assert hubspot.policy.budget is not None and hubspot.policy.budget.remaining is None


def test_a_spent_daily_budget_stops_the_sync_before_hubspot_refuses(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    from connectors.errors import BudgetExhausted
    from connectors.policy import DailyBudget

    box.hubspot.daily.used = box.hubspot.daily.limit - 8  # other apps spent the day
    hubspot = HubSpotConnector(
        box.hubspot.token,
        host=box.hubspot.base_url,
        policy=CallPolicy("hubspot", budget=DailyBudget(625_000), clock=box.clock),
    )
    sync = open_app(box, rules, store, hubspot=hubspot).job
    with pytest.raises(BudgetExhausted) as stopped:
        sync.run(SyncOptions(full=True))

    assert "daily" in str(stopped.value)
    # the 8 the day had left, and at most one more per stream: each stream's call in flight
    # as the day ran out is refused, and none is begun once a refusal is heard
    assert box.hubspot.calls.total() <= 8 + len(hubspot.streams)
    assert store.runs(1)[0].status == "failed"
    # only streams pulled whole before the stop keep their place (which, threads decide),
    # and the contacts where their walk can resume, with the fields it read
    assert set(store.cursors("hubspot")) <= {*hubspot.streams, "~fields", "~activity-fields"}


def test_a_run_stops_at_its_share_of_the_daily_budget_and_says_so(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    from connectors.errors import BudgetExhausted

    # two millionths of the day: 12 requests, fewer than a full sync needs (and than the
    # setup of the interest fields beside the others: rules without them)
    settings = sandbox_settings(box).model_copy(deep=True)
    settings.hubspot.budget_per_run = 0.00002
    rules = rules.model_copy(update={"interests": None})
    app = Leadscore.open(settings, rules=rules, store=store, clock=box.now, pace=box.clock)
    app.setup()
    with pytest.raises(BudgetExhausted, match=r"share of the daily request budget \(0.002%, 12 "):
        app.job.run(SyncOptions(full=True))
    [run] = store.runs(1)
    budget = run.summary["systems"]["hubspot"]["budget"]

    assert (budget["run_allowance"], budget["spent_this_run"]) == (12, 12)
    assert budget["daily_limit"] == 625_000 and budget["kept_for_other_apps"] == 125_000
    assert run.status == "failed"
    # streams pulled whole, or cut where they can resume (contacts, with the fields read)
    assert set(store.cursors("hubspot")) <= {
        *app.connectors[0].streams,
        "~fields",
        "~activity-fields",
    }


def test_a_mapped_lifecycle_stage_moves_forward_and_never_back(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    mapping = {
        "Lead": "lead",
        "Marketing qualified": "marketingqualifiedlead",
        "Customer": "customer",
    }
    app = open_app(box, rules, store, lifecycle_stages=mapping)
    hubspot = app.connectors[0]
    table = box.hubspot.contacts
    before = [table.value("lifecyclestage", row) for row in range(table.size)]
    app.setup()
    summary = app.sync(SyncOptions(full=True))
    after = [table.value("lifecyclestage", row) for row in range(table.size)]
    ours = [table.value("leadscore_stage", row) for row in range(table.size)]

    order = hubspot.stage_values()
    rank = {v: i for i, v in enumerate(order)}
    moved = [i for i in range(table.size) if after[i] != before[i]]
    assert summary.systems["hubspot"].failed == 0  # no backwards write was even tried
    assert moved and all(rank[after[i]] > rank.get(before[i] or "", -1) for i in moved)
    assert all(after[i] == mapping[ours[i] or ""] for i in moved)
    assert all(
        rank.get(after[i] or "", -1) >= rank.get(before[i] or "", -1) for i in range(table.size)
    )


def test_a_contact_changed_while_the_pull_walks_past_it_is_in_the_next_pull(
    box: Sandbox, rules: RuleSet
) -> None:
    hubspot = HubSpotConnector(
        box.hubspot.token,
        host=box.hubspot.base_url,
        policy=CallPolicy("hubspot", clock=box.clock),
        lookback_ms=0,  # no safety margin: the cursor alone must be right
    )
    pages = hubspot.pull("contacts", None)
    first = next(p for p in pages if p.contacts)  # the walk's first page, after the archived
    box.clock.sleep(2)
    box.hubspot.add_event("1", ActivityType.DEMO_REQUEST)  # already passed by the walk
    rest = list(pages)
    box.clock.sleep(2)
    again = list(hubspot.pull("contacts", rest[-1].cursor))

    assert "1" in {c.id for c in first.contacts}
    found = [c.id for page in again for c in page.contacts]
    # and the newest record at the cursor itself (the search is inclusive)
    assert "1" in found and len(found) <= 2


def test_a_lost_store_cannot_make_a_stage_move_back(
    box: Sandbox, rules: RuleSet, tmp_path: Path
) -> None:
    at = box.now()
    first = StateStore(f"sqlite:///{tmp_path / 'first.db'}")
    make_sync(box, rules, first, at).run(SyncOptions(full=True))
    reached = {c: v["leadscore_stage"] for c, v in held(box, rules).items()}
    # A new, empty store a year later: only HubSpot remembers the stages written.
    fresh = StateStore(f"sqlite:///{tmp_path / 'fresh.db'}")
    make_sync(box, rules, fresh, at + timedelta(days=365)).run(SyncOptions(full=True))
    now = held(box, rules)

    ladder = [s.name for s in rules.stages.ladder] if rules.stages else []
    assert any(s != ladder[0] for s in reached.values())
    assert all(
        ladder.index(now[c]["leadscore_stage"] or "") >= ladder.index(s or "")
        for c, s in reached.items()
    )


def test_writes_refused_for_a_missing_field_land_once_setup_has_run(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    app = open_app(box, rules, store)
    first = app.job.run(SyncOptions(full=True))  # no setup: HubSpot has no leadscore fields
    size = box.hubspot.contacts.size
    app.setup()  # creates the fields, and lets the writes they refused be tried again
    second = app.sync()

    assert first.systems["hubspot"].written == 0 and first.systems["hubspot"].failed == size
    assert writes(first) == -(-size // 100)  # one call per batch: no halving for it
    assert second.systems["hubspot"].written == size
    assert all(v["leadscore_score"] is not None for v in held(box, rules).values())
