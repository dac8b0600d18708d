"""A trigger and a sync at the same moment hand over the same leads: a decision ranks the
waiting leads outside its batch by their scores as of its moment (`sync.capacity`)."""

from __future__ import annotations

import io
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from rich.console import Console

from scoring import Activity, ActivityType, Contact, parse_rules
from sync.handover_schema import handover_waiting, handovers
from sync.pipeline import Sync
from sync.report import print_status
from sync.store import StateStore
from sync.summary import SyncOptions
from tests.sync.test_capacity import MONDAY

RULES = """
rules:
  - {id: pts, dimension: fit, value: points, per: 1, points: 1, cap: 100}
  - {id: demo, dimension: engagement, activity: demo_request, points: 60, half_life_days: 1}
stages:
  ladder:
    - name: New
    - {name: MQL, when: {min: {total: 10}}}
    - {name: SQL, owner: sales, when: {min: {total: 50}}}
capacity: {per_week: 1}
"""
NEXT_WEEK = MONDAY + timedelta(days=7) - timedelta(hours=9) + timedelta(minutes=5)
"""Monday 00:05 of the next ISO week: last week's demo request has decayed to nothing."""


def job_on(path: Path, at: datetime) -> Sync:
    return Sync(parse_rules(RULES, "c.yaml"), StateStore(f"sqlite:///{path}"), [], {},
                clock=lambda: at)  # fmt: skip


def week_one(path: Path) -> None:
    """Ann (90) takes the week's place; Bob (20 and a fresh demo request: 80) waits."""
    job = job_on(path, MONDAY)
    job.store.save_contacts("hubspot", [
        Contact("1", email="ann@acme.io", attributes={"points": 90}),
        Contact("2", email="bob@acme.io", attributes={"points": 20}),
    ], MONDAY)  # fmt: skip
    job.store.save_activities(
        "hubspot", [Activity("2", ActivityType.DEMO_REQUEST, MONDAY, id="demo:2")]
    )
    job.score(as_of=MONDAY, claim=True)
    with job.store.engine.connect() as connection:
        waiting = connection.execute(sa.select(handover_waiting.c.score)).scalars().all()
    assert waiting == [80.0]
    # Cyd (70) comes in during the week; the place is taken
    job.store.save_contacts(
        "hubspot", [Contact("3", email="cyd@acme.io", attributes={"points": 70})], MONDAY
    )
    job.store.close()


def handed_next_week(job: Sync) -> set[str]:
    with job.store.engine.connect() as connection:
        query = sa.select(handovers.c.person_id).where(handovers.c.period == "2026-W50")
        persons = [int(p) for p in connection.execute(query).scalars()]
    return {c.email or "" for c in job.store.load_people(persons).contacts}


def test_a_trigger_and_a_sync_at_the_same_moment_hand_over_the_same_lead(tmp_path: Path) -> None:
    week_one(tmp_path / "trigger.db")
    shutil.copy(tmp_path / "trigger.db", tmp_path / "sync.db")

    trigger = job_on(tmp_path / "trigger.db", NEXT_WEEK)  # Cyd's record alone
    cyd = trigger.store.person_of("cyd@acme.io")
    assert cyd is not None
    trigger.score([cyd], as_of=NEXT_WEEK, claim=True)
    sync = job_on(tmp_path / "sync.db", NEXT_WEEK)  # everyone
    sync.score(as_of=NEXT_WEEK, claim=True)

    # Bob's 80 was last week's: he is 20 now and no longer eligible; Cyd's 70 goes
    assert handed_next_week(trigger) == handed_next_week(sync) == {"cyd@acme.io"}
    for job in (trigger, sync):
        with job.store.engine.connect() as connection:
            assert connection.execute(sa.select(handover_waiting)).first() is None
        job.store.close()


def status_text(job: Sync, at: datetime, *, rules: bool = True) -> str:
    out = Console(file=io.StringIO(), width=200)
    print_status(out, job.store, [], rules=job.rules if rules else None, at=at.timestamp())
    text = out.file.getvalue()  # type: ignore[attr-defined]
    return str(text)


def test_status_reads_the_hand_over_from_the_store_as_of_now(tmp_path: Path) -> None:
    week_one(tmp_path / "s.db")
    later = MONDAY + timedelta(days=2)
    job = job_on(tmp_path / "s.db", later)
    # a dry run's decision is rolled back: status says what the store holds, not the summary
    job.run(SyncOptions(full=True, dry_run=True))
    assert "hand-over 2026-W49: 1 of 1 handed over, 1 waiting" in status_text(job, later)
    # bob has waited two days as of now, not as of the last run
    assert "oldest waiting 2 d 0 h" in status_text(job, later)
    # a trigger's hand-over, after the last run, is counted the next week
    monday = MONDAY + timedelta(days=7)
    cyd = job.store.person_of("cyd@acme.io")
    job.score([cyd or 0], as_of=monday, claim=True)
    text = status_text(job, monday)
    assert "hand-over 2026-W50: 1 of 1 handed over, 0 waiting" in text, text
    assert "hand-over 2026-W50: 1 handed over" in status_text(job, monday, rules=False)
    job.store.close()


def test_the_capacity_example_validates_and_hands_over_five_a_week_per_owner(
    tmp_path: Path,
) -> None:
    from typer.testing import CliRunner

    from scoring import load_rules, score_records
    from sync.capacity import hand_over
    from sync.cli import app

    path = Path(__file__).parents[2] / "examples" / "capacity.yaml"
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    rules = load_rules(path)
    assert rules.capacity is not None and rules.capacity.timezone == "Europe/Paris"
    people = [
        Contact(str(i), email=f"p{i}@acme.io",
                attributes={"seniority": "VP", "employees": 500, "owner": "ann" if i < 8 else "bob"})
        for i in range(1, 11)
    ]  # fmt: skip
    asked = [Activity(str(i), ActivityType.DEMO_REQUEST, MONDAY - timedelta(days=i), id=f"d{i}")
             for i in range(1, 11)]  # fmt: skip
    batch = score_records(rules, people, asked, MONDAY)
    assert all(batch.stage(r) == "Sales qualified" for r in range(len(batch)))
    store = StateStore(f"sqlite:///{tmp_path / 's.db'}")
    teams = ["ann" if i < 8 else "bob" for i in range(1, 11)]  # `by: owner`, as teams_of reads it
    capped, queue = hand_over(store, batch, teams, [False] * len(batch), MONDAY.timestamp(),
                              claim=True)  # fmt: skip
    store.close()
    assert queue is not None and queue.handed == 8 and queue.waiting == 2  # ann 5 of 7, bob 3
    assert sorted(capped.stage(r) or "" for r in range(len(capped))).count("Sales qualified") == 8
