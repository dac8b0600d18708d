"""Retention: each run purges activities and score history older than the store keeps."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from scoring import Activity, ActivityType, RuleSet
from scoring.rfm_rules import Rfm
from scoring.velocity_rules import VelocityBuckets
from sync.retention import Retention, purge, retention_lines
from sync.schema import activities, history, persons
from sync.store import StateStore
from tests.helpers import NOW, act, person

WINDOWED = RuleSet.model_validate(
    {"rules": [{"id": "visited", "activity": "page_view", "points": 1, "window_days": 30}]}
)
ENDLESS = RuleSet.model_validate(
    {"rules": [{"id": "faded", "activity": "page_view", "points": 1, "half_life_days": 30}]}
)


@pytest.fixture(params=["sqlite", "postgresql"])
def held(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    """A store on SQLite and on PostgreSQL (skipped where no server runs)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/s.db"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    state = StateStore(url)
    yield state
    state.close()


def visits(store: StateStore, *days: float, contact: str = "c1") -> None:
    views = [act("page_view", d, contact, url=f"/p{n}") for n, d in enumerate(days)]
    store.save_activities("hubspot", views)


def ages(store: StateStore) -> list[float]:
    """The age in days of every activity held, oldest first."""
    with store.engine.connect() as connection:
        found = connection.execute(sa.select(activities.c.occurred_at)).scalars()
        return sorted((round((NOW.timestamp() - at) / 86_400) for at in found), reverse=True)


def test_activities_older_than_the_longer_of_the_windows_and_the_setting_go(
    held: StateStore,
) -> None:
    held.save_contacts("hubspot", [person("c1")], NOW)
    visits(held, 100, 50, 20, 1)

    kept_by_rules = purge(held, WINDOWED, Retention(activity_days=10), NOW)
    assert kept_by_rules.activities == 2 and ages(held) == [20, 1]
    visits(held, 100, 50)
    kept_by_setting = purge(held, WINDOWED, Retention(activity_days=60), NOW)
    assert kept_by_setting.activities == 1 and ages(held) == [50, 20, 1]


def test_without_a_setting_nothing_is_purged(held: StateStore) -> None:
    visits(held, 900, 400, 1)

    assert purge(held, WINDOWED, Retention(), NOW).activities == 0
    assert ages(held) == [900, 400, 1]


def test_rules_without_an_end_leave_the_setting_alone_and_rescore_who_lost_activity(
    held: StateStore,
) -> None:
    held.save_contacts("hubspot", [person("c1"), person("c2", "bo@acme.io")], NOW)
    visits(held, 100, 5)
    visits(held, 3, contact="c2")
    with held.engine.begin() as connection:
        connection.execute(sa.update(persons).values(due=NOW.timestamp() + 1e6))

    assert purge(held, ENDLESS, Retention(activity_days=50), NOW).activities == 1
    with held.engine.connect() as connection:
        dues = dict(connection.execute(sa.select(persons.c.email, persons.c.due)).all())
    assert dues["ann@acme.io"] is None and dues["bo@acme.io"] is not None
    assert ages(held) == [5, 3]


def test_a_purge_is_bounded_per_run_oldest_first(held: StateStore) -> None:
    visits(held, *range(40, 60))
    retention = Retention(activity_days=1, batch=3, per_run=7)

    first = purge(held, WINDOWED, retention, NOW)
    assert first.activities == 7 and ages(held)[0] == 52
    second = purge(held, WINDOWED, retention, NOW)
    assert second.activities == 7 and ages(held) == [45, 44, 43, 42, 41, 40]


def test_a_person_known_only_by_purged_activity_goes_with_it(held: StateStore) -> None:
    when = NOW - timedelta(days=90)
    opened = Activity("", ActivityType.EMAIL_OPEN, when, id="o1", contact_email="x@y.io")
    held.save_activities("mailchimp", [opened])
    assert held.person_of("x@y.io") is not None

    purge(held, WINDOWED, Retention(activity_days=30), NOW)

    assert held.person_of("x@y.io") is None and held.counts()["persons"] == 0


def scores(store: StateStore, person_id: int, *days: float) -> None:
    rows = [
        {
            "person_id": person_id,
            "at": (NOW - timedelta(days=d)).timestamp(),
            "rules": "r",
            "score": int(d),
            "dimensions": "{}",
        }
        for d in days
    ]
    with store.engine.begin() as connection:
        connection.execute(sa.insert(history), rows)


def history_ages(store: StateStore) -> dict[int, list[int]]:
    found: dict[int, list[int]] = {}
    with store.engine.connect() as connection:
        for pid, score in connection.execute(sa.select(history.c.person_id, history.c.score)):
            found.setdefault(pid, []).append(score)
    return {p: sorted(s, reverse=True) for p, s in found.items()}


def test_history_keeps_its_period_and_each_persons_score_in_force_then(held: StateStore) -> None:
    scores(held, 1, 300, 200, 100, 5)
    scores(held, 2, 250)

    found = purge(held, WINDOWED, Retention(history_days=30), NOW)

    assert found.history == 2
    assert history_ages(held) == {1: [100, 5], 2: [250]}


def test_history_is_kept_for_the_longest_velocity_window(held: StateStore) -> None:
    scores(held, 1, 300, 200, 100, 5)
    rules = WINDOWED.model_copy(
        update={"velocity": VelocityBuckets(days=150, heating=5, cooling=-5)}
    )

    purge(held, rules, Retention(history_days=30), NOW)

    assert history_ages(held) == {1: [200, 100, 5]}


def test_status_lines_say_the_oldest_data_held_and_how_long_it_is_kept(
    held: StateStore,
) -> None:
    visits(held, 45)
    scores(held, 1, 12)

    kept = retention_lines(held, WINDOWED, Retention(activity_days=10, history_days=90), NOW)
    unset = retention_lines(held, WINDOWED, Retention(), NOW)

    assert kept[0].startswith("activities: oldest 2026-09-17 (45 days ago); kept 30 days")
    assert kept[1].startswith("score history: oldest 2026-10-20 (12 days ago); kept 90 days")
    assert "kept until erased (LEADSCORE_RETENTION_DAYS unset)" in unset[0]


def test_a_sync_purges_what_is_older_and_counts_it_in_its_summary(store: StateStore) -> None:
    from sandbox import Sandbox
    from scoring import load_rules
    from sync import SyncOptions
    from tests.sync.test_sync_hubspot import RULES, make_sync

    rules = load_rules(RULES)
    with Sandbox(people=60, seed=2) as box:
        at = box.now() + timedelta(hours=1)
        job = make_sync(box, rules, store, at=at)
        kept = Retention(activity_days=30, history_days=30)
        trial = job.run(SyncOptions(full=True, dry_run=True, retention=kept))
        oldest = max(ages_at(store, at))
        run = job.run(SyncOptions(full=True, retention=kept))

    assert trial.purged == {} and oldest > 30
    assert run.purged["activities"] > 0 and run.as_dict()["purged"] == run.purged
    assert max(ages_at(store, at)) <= 30
    assert store.runs(1)[0].summary["purged"] == run.purged


def ages_at(store: StateStore, at: datetime) -> list[float]:
    with store.engine.connect() as connection:
        found = connection.execute(sa.select(activities.c.occurred_at)).scalars()
        return [(at.timestamp() - t) / 86_400 for t in found]


def test_a_shadow_runs_windows_keep_what_its_rules_read(held: StateStore) -> None:
    """The shadow rules score from the same store: a purge under the live rules' window
    alone would take what the shadow's longer window reads, and change its scores."""
    longer = RuleSet.model_validate(
        {"rules": [{"id": "seen", "activity": "page_view", "points": 1, "window_days": 120}]}
    )
    held.save_contacts("hubspot", [person("c1")], NOW)
    visits(held, 200, 100, 50, 1)

    found = purge(held, WINDOWED, Retention(activity_days=10), NOW, shadow=longer)
    assert found.activities == 1 and ages(held) == [100, 50, 1]
    assert purge(held, WINDOWED, Retention(activity_days=10), NOW, shadow=ENDLESS).activities == 2
    assert ages(held) == [1]


def test_purchases_stay_while_the_rules_score_rfm(held: StateStore) -> None:
    """RFM reads every purchase however old (recency and frequency over all time): a purge
    of old purchases would move digits and quintile bounds, so they are kept while an
    `rfm` block (live or shadow) reads them; other activities go as before."""
    scoring_rfm = WINDOWED.model_copy(update={"rfm": Rfm()})
    held.save_contacts("hubspot", [person("c1")], NOW)
    visits(held, 200, 1)
    held.save_activities("hubspot", [act("purchase", 400, "c1", amount=50.0)])

    found = purge(held, scoring_rfm, Retention(activity_days=30), NOW)
    assert found.activities == 1 and ages(held) == [400, 1]
    assert (
        purge(held, WINDOWED, Retention(activity_days=30), NOW, shadow=scoring_rfm).activities == 0
    )
    assert purge(held, WINDOWED, Retention(activity_days=30), NOW).activities == 1
    assert ages(held) == [1]


def test_account_windows_count_in_the_horizon() -> None:
    """The roll-ups read engagement in its window: the store keeps that long."""
    from scoring.account_rules import Accounts

    rolled = WINDOWED.model_copy(update={"accounts": Accounts()})
    assert rolled.horizon_days([ActivityType.PAGE_VIEW]) == 90
    assert Retention(activity_days=10).activity_days_for(rolled) == 90


def test_what_an_account_count_without_a_window_reads_is_kept_however_old(
    held: StateStore,
) -> None:
    """`accounts.counts` with no window counts a domain's demos over all time: they are
    kept while the block reads them, and the other types keep the rules' windows (the
    engagement's 90 days here) rather than the setting alone."""
    from scoring.account_rules import Accounts

    counting = WINDOWED.model_copy(
        update={
            "accounts": Accounts.model_validate(
                {"counts": {"demos": {"activity": ["demo_request"]}}}
            )
        }
    )
    assert Retention.kept_types(counting) == ["demo_request"]
    assert Retention(activity_days=30).activity_days_for(counting) == 90
    held.save_contacts("hubspot", [person("c1", "ann@acme.io")], NOW)
    visits(held, 200, 60, 1)
    held.save_activities("hubspot", [act("demo_request", 400, "c1")])

    assert purge(held, counting, Retention(activity_days=30), NOW).activities == 1
    assert ages(held) == [400, 60, 1]
    assert purge(held, WINDOWED, Retention(activity_days=30), NOW).activities == 2
    assert ages(held) == [1]


def test_rfm_keeps_purchases_and_leaves_the_other_rules_windows_in_force(
    held: StateStore,
) -> None:
    """A rule reading page views a year back still keeps them a year beside an `rfm` block."""
    yearly = RuleSet.model_validate(
        {
            "rules": [{"id": "visited", "activity": "page_view", "points": 1, "window_days": 365}],
            "rfm": {},
        }
    )
    assert Retention(activity_days=30).activity_days_for(yearly) == 365
    held.save_contacts("hubspot", [person("c1")], NOW)
    visits(held, 400, 200, 1)
    assert purge(held, yearly, Retention(activity_days=30), NOW).activities == 1
    assert ages(held) == [200, 1]
