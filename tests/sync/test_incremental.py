"""A run scores only who is due: persons with new data, and those whose written values
time may have moved (`persons.due`); everyone when the rules change or on --full."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from sandbox import Sandbox
from scoring import ActivityType, RuleSet, load_rules
from sync import StateStore, SyncOptions
from sync.dues import NEVER
from sync.schema import identities, persons
from tests.sync.test_sync_hubspot import RULES, fields, held, make_sync, writes

PEOPLE, SEED = 300, 13


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules(RULES)


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox(people=PEOPLE, seed=SEED) as sandbox:
        yield sandbox


def dues(store: StateStore) -> dict[int, float | None]:
    with store.engine.connect() as connection:
        return dict(connection.execute(sa.select(persons.c.id, persons.c.due)).all())  # type: ignore[arg-type]


def due_by(store: StateStore, moment: datetime) -> int:
    at = moment.timestamp()
    return sum(1 for d in dues(store).values() if d is None or d <= at)


def without(values: dict[str, str | None], *names: str) -> dict[str, str | None]:
    """The values but `names`, an empty one as HubSpot reads back a cleared property."""
    return {k: v or None for k, v in values.items() if k not in names}


def test_a_run_with_nothing_new_scores_only_the_due_and_writes_nothing(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    start = box.now() + timedelta(hours=1)
    first = make_sync(box, rules, store, at=start).run(SyncOptions(full=True))
    # five minutes on, or just before the first value that time may move (a decaying
    # score can cross a whole point within minutes; that rescore is the next test's)
    soonest = min(d for d in dues(store).values() if d and d > start.timestamp() + 2)
    after = min(start + timedelta(minutes=5), datetime.fromtimestamp(soonest - 1, start.tzinfo))
    expected = due_by(store, after)

    again = make_sync(box, rules, store, at=after).run()

    assert first.rescored == first.persons > 0
    assert all(d is not None for d in dues(store).values())  # everyone scored has a due
    assert any(d == NEVER for d in dues(store).values())  # profile points alone: never
    assert again.rescored == expected < again.persons // 10
    assert again.changed == 0 and writes(again) == 0


def test_a_score_decaying_across_a_whole_point_is_rescored_once_due(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    start = box.now() + timedelta(hours=1)
    make_sync(box, rules, store, at=start).run(SyncOptions(full=True))
    before = held(box, rules)
    soonest = min(d for d in dues(store).values() if d and start.timestamp() + 2 < d < NEVER)
    due = datetime.fromtimestamp(soonest, start.tzinfo)
    now_due = due_by(store, due - timedelta(seconds=1))  # due at once: rescored every run

    ahead = make_sync(box, rules, store, at=due - timedelta(seconds=1)).run()
    later = due + timedelta(days=20)  # far enough that whole points move
    moved = make_sync(box, rules, store, at=later).run()
    after = held(box, rules)

    assert ahead.rescored == now_due < ahead.persons // 10 and writes(ahead) == 0
    assert 0 < moved.rescored < moved.persons
    changed = [r for r in after if after[r] != before[r]]
    assert changed and moved.systems["hubspot"].written == len(changed)
    # and a full rescore at that moment finds nothing more to write
    full = make_sync(box, rules, store, at=later).run(SyncOptions(full=True))
    assert full.rescored == full.persons and full.changed == 0


def test_a_changed_rule_file_rescores_everyone(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    start = box.now() + timedelta(hours=1)
    make_sync(box, rules, store, at=start).run(SyncOptions(full=True))
    quiet = make_sync(box, rules, store, at=start).run()
    first = rules.rules[0]
    changed = rules.model_copy(
        update={"rules": [first.model_copy(update={"points": first.points + 1}), *rules.rules[1:]]}
    )

    rescored = make_sync(box, changed, store, at=start).run()
    settled = make_sync(box, changed, store, at=start).run()

    assert quiet.rescored < quiet.persons
    assert rescored.rescored == rescored.persons
    assert settled.rescored < settled.persons and settled.changed == 0


def test_new_data_makes_its_person_due_and_incremental_runs_end_as_a_full_rescore(
    box: Sandbox, rules: RuleSet, store: StateStore, tmp_path: Path
) -> None:
    start = box.now() + timedelta(hours=1)
    make_sync(box, rules, store, at=start).run(SyncOptions(full=True))
    moment = start
    for step, contact in enumerate(("3", "17", "42", "5", "3")):
        box.hubspot.add_event(contact, ActivityType.DEMO_REQUEST, url="https://x.example/demo")
        box.hubspot.add_event(contact, ActivityType.EMAIL_CLICK, url="https://x.example/p")
        moment = moment + timedelta(days=3 * step + 1)
        summary = make_sync(box, rules, store, at=moment).run()
        with store.engine.connect() as connection:
            person = connection.execute(
                sa.select(identities.c.person_id).where(identities.c.record_id == contact)
            ).scalar()
        assert person is not None and dues(store)[person] is not None
        assert summary.rescored < summary.persons
    incremental = held(box, rules)

    # the same moment, everyone rescored: nothing to write on this store ...
    full = make_sync(box, rules, store, at=moment).run(SyncOptions(full=True))
    # ... and what an empty store's full run would write, field for field
    other = StateStore(f"sqlite:///{tmp_path / 'other.db'}")
    fresh = (
        make_sync(box, rules, other, at=moment)
        .run(SyncOptions(full=True, dry_run=True))
        .plan["hubspot"]
    )

    assert full.changed == 0 and writes(full) == 0
    names = fields(rules).names
    reasons = names["reasons"]
    for write in fresh:
        # the reasons text is rewritten with a change; on its own only when its
        # substance changes (`sync.fields`), so its apportioned points may lag
        assert without(dict(write.values), reasons, names["scored_at"]) == without(
            incremental[write.record_id], reasons
        ), write.record_id


def test_a_person_marked_while_the_run_scores_stays_due(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    from sync.dues import mark_due, marks_of, save_dues

    start = box.now() + timedelta(hours=1)
    make_sync(box, rules, store, at=start).run(SyncOptions(full=True))
    with store.engine.begin() as connection:
        seen = marks_of(connection, None)
        first, second = sorted(seen)[:2]
        # news of `first` arrives (a merge a write reported, a trigger's activity) after
        # the run read it and before it saves the dues it computed without the news
        mark_due(connection, [first])
        save_dues(connection, [first, second], [NEVER, NEVER], seen)

    assert dues(store)[first] is None
    assert dues(store)[second] == NEVER


def test_a_clock_behind_the_last_run_rescores_everyone(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    start = box.now() + timedelta(hours=1)
    make_sync(box, rules, store, at=start).run(SyncOptions(full=True))
    ahead = make_sync(box, rules, store, at=start + timedelta(days=30)).run()
    assert ahead.changed  # a month of decay and closed windows

    back = make_sync(box, rules, store, at=start + timedelta(hours=2)).run()

    assert back.rescored == back.persons
    assert any("clock is behind" in w for w in back.warnings)
    again = make_sync(box, rules, store, at=start + timedelta(hours=2)).run(
        SyncOptions(full=True, dry_run=True)
    )
    assert again.changed == 0  # what a full rescore would write is written


def test_rules_reading_a_new_contact_field_read_every_contact_again(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    start = box.now() + timedelta(hours=1)
    make_sync(box, rules, store, at=start).run(SyncOptions(full=True))
    body = rules.model_dump(exclude_unset=True)
    new = {"id": "optout_known", "contact": {"hs_email_optout": {"exists": True}}, "points": 5}
    body["rules"].append({**new, "dimension": "fit"})
    changed = RuleSet.model_validate(body)

    run = make_sync(box, changed, store, at=start + timedelta(minutes=15)).run()

    assert any("every contact is read again" in w for w in run.warnings)
    batch, _ = make_sync(box, changed, store, at=start).score()
    position = [r.id for r in changed.rules].index("optout_known")
    assert batch.rule_hits[position].rows.size > 0
    quiet = make_sync(box, changed, store, at=start + timedelta(minutes=30)).run()
    assert not any("read again" in w for w in quiet.warnings)


def test_the_click_filter_keeps_to_its_work_on_a_crms_times_and_campaigns(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    start = box.now() + timedelta(hours=1)
    summary = make_sync(box, rules, store, at=start).run(SyncOptions(full=True, dry_run=True))

    # HubSpot's email events carry a time of day and their campaign: nothing stands down
    assert summary.rescored > 0
    assert not any("machine-click filter" in w for w in summary.warnings)


def test_a_click_filter_that_stood_down_is_said_once_in_the_runs_warnings(
    box: Sandbox, rules: RuleSet, store: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    import scoring.filters
    from scoring.filters import DATES_ONLY, ClickChecks

    monkeypatch.setattr(
        scoring.filters, "click_checks", lambda *_: ClickChecks(False, False, (DATES_ONLY,))
    )
    start = box.now() + timedelta(hours=1)
    summary = make_sync(box, rules, store, at=start).run(SyncOptions(full=True, dry_run=True))

    assert summary.warnings.count(DATES_ONLY) == 1
