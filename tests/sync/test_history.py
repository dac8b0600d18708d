"""Score history: a row per change of a person's written score, the rule file's text kept
under its hash, and a person replayed on a past date under the rules then in force or
under another file."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
import sqlalchemy as sa

from sandbox import Sandbox
from scoring import RuleSet, load_rules
from sync import StateStore, SyncOptions
from sync.errors import NotInStore
from sync.fields import written_score
from sync.history import HistoryEntry, history_of, moved, rules_text
from sync.replay import replay
from sync.schema import history, persons
from tests.sync.test_sync_hubspot import RULES, fields, make_sync

PEOPLE, SEED = 80, 21
OTHER = "version: 1\nrules:\n  - id: known\n    contact: {email: {exists: true}}\n    points: 7\n"


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules(RULES)


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox(people=PEOPLE, seed=SEED) as sandbox:
        yield sandbox


def rows(store: StateStore) -> list[tuple[int, float, int]]:
    with store.engine.connect() as connection:
        query = sa.select(history.c.person_id, history.c.at, history.c.score)
        return [tuple(r) for r in connection.execute(query.order_by(history.c.id))]  # type: ignore[misc]


def entries(store: StateStore) -> dict[int, list[HistoryEntry]]:
    with store.engine.connect() as connection:
        ids = connection.execute(sa.select(persons.c.id)).scalars().all()
        return {p: found for p in ids if (found := history_of(connection, p))}


def emails(store: StateStore) -> dict[int, str]:
    with store.engine.connect() as connection:
        found = connection.execute(sa.select(persons.c.id, persons.c.email))
        return {int(p): e for p, e in found if e}


def test_each_change_is_recorded_once_not_once_per_run(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    start = box.now() + timedelta(hours=1)
    first = make_sync(box, rules, store, at=start).run(SyncOptions(full=True))
    after_first = rows(store)
    make_sync(box, rules, store, at=start + timedelta(minutes=5)).run()
    make_sync(box, rules, store, at=start + timedelta(minutes=5)).run(SyncOptions(full=True))
    after_quiet = rows(store)
    later = make_sync(box, rules, store, at=start + timedelta(days=30)).run()
    after_later = rows(store)

    written = first.systems["hubspot"].written
    assert 0 < len(after_first) == len({p for p, _, _ in after_first}) <= written
    assert after_quiet == after_first  # nothing moved: nothing recorded
    added = after_later[len(after_first) :]
    assert 0 < len(added) <= later.systems["hubspot"].written
    assert {at for _, at, _ in added} == {(start + timedelta(days=30)).timestamp()}
    for found in entries(store).values():  # no two rows of a person in a row hold the same
        assert all(not a.same(b) for a, b in pairwise(found))


def test_the_last_row_holds_what_was_written_and_the_rule_text_is_kept_once(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    start = box.now() + timedelta(hours=1)
    make_sync(box, rules, store, at=start).run(SyncOptions(full=True))
    make_sync(box, rules, store, at=start + timedelta(days=30)).run()
    names = fields(rules).names
    written = store.written_values("hubspot")
    records = store.records_by_person()

    found = entries(store)
    assert found
    for person, history_rows in found.items():
        last = history_rows[-1]
        (_, record), *_ = records[person]
        assert str(last.score) == written[record][names["score"]]
        assert (last.stage or "") == written[record][names["stage"]]
        assert all(str(p) == written[record][names[d]] for d, p in last.dimensions.items())
    versions = {e.rules for rows_ in found.values() for e in rows_}
    with store.engine.connect() as connection:
        kept = connection.execute(sa.text("SELECT version, text FROM rulesets")).all()
        (version,) = versions
        text = rules_text(connection, version)
    assert len(kept) == 1 and text is not None
    assert hashlib.sha256(text.encode()).hexdigest() == version


def test_a_replay_on_a_past_date_equals_the_score_written_then(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    start = box.now() + timedelta(hours=1)
    later = start + timedelta(days=30)
    make_sync(box, rules, store, at=start).run(SyncOptions(full=True))
    make_sync(box, rules, store, at=later).run()
    address = emails(store)

    moved_people = {p: e for p, e in entries(store).items() if len(e) > 1 and p in address}
    assert moved_people
    for person, (then, now) in list(moved_people.items())[:15]:
        for entry in (then, now):
            found = replay(store, address[person], entry.at + timedelta(hours=1))
            assert found.version == entry.rules and found.recorded == entry
            assert found.source == "in force then"
        at_then = replay(store, address[person], then.at)
        batch = at_then.batch
        assert written_score(batch, 0) == then.score
        shown = dict(zip(batch.dimension_names, batch.whole_dimensions(0), strict=True))
        assert shown == then.dimensions and list(shown) == list(then.dimensions)
        assert batch.stage(0) == then.stage and batch.grade(0) == then.grade


def test_a_replay_under_another_file_says_which_version_it_used(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    start = box.now() + timedelta(hours=1)
    make_sync(box, rules, store, at=start).run(SyncOptions(full=True))
    other = load_rules_text(OTHER)
    person, address = next(iter(emails(store).items()))

    found = replay(store, address, start, (other, OTHER, "other.yaml"))
    before = replay(store, address, start - timedelta(days=1), (other, OTHER, "other.yaml"))

    assert found.version == hashlib.sha256(OTHER.encode()).hexdigest()
    assert found.source == "other.yaml" and float(found.batch.total[0]) == 7.0
    assert found.recorded is not None and found.person == person
    assert before.recorded is None  # nothing was recorded a day before the first sync
    with pytest.raises(NotInStore, match="no score of this person was recorded by"):
        replay(store, address, start - timedelta(days=1))
    with pytest.raises(NotInStore, match="is not in the state store"):
        replay(store, "nobody@example.com", start)


def load_rules_text(text: str) -> RuleSet:
    from scoring import parse_rules

    return parse_rules(text, "other.yaml")


def test_a_person_dropped_from_the_store_takes_their_history_along(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    from sync.identity import drop_leftover_persons
    from sync.schema import activities, identities

    start = box.now() + timedelta(hours=1)
    make_sync(box, rules, store, at=start).run(SyncOptions(full=True))
    person = next(iter(entries(store)))
    with store.engine.begin() as connection:
        connection.execute(sa.delete(identities).where(identities.c.person_id == person))
        connection.execute(sa.delete(activities).where(activities.c.record_id.is_(None)))
        assert drop_leftover_persons(connection, [person]) == 1
        left = history_of(connection, person)
    assert left == [] and entries(store)


# -- what moved, as text ------------------------------------------------------------------


def entry(
    score: int, stage: str | None, dims: dict[str, int], rules: str = "a" * 64
) -> HistoryEntry:
    return HistoryEntry(datetime(2026, 11, 2, 14, 5, tzinfo=UTC), score, dims, stage, "B", rules)


def test_moved_names_every_change_by_its_points_or_values() -> None:
    before = entry(40, "lead", {"fit": 20, "activity": 20})
    after = entry(45, "mql", {"fit": 20, "activity": 25}, "b" * 64)

    assert moved(None, before) == {"first": True}
    assert moved(before, after) == {
        "score": 5,
        "activity": 5,
        "stage": ["lead", "mql"],
        "rules": ["a" * 64, "b" * 64],
    }
    assert moved(after, after) == {}


def test_moved_counts_a_dimension_the_new_rules_dropped_as_its_points_lost() -> None:
    before = entry(40, "lead", {"fit": 15, "activity": 20, "engagement": 5})
    after = entry(40, "lead", {"fit": 20, "activity": 20}, "b" * 64)

    # the score is the same, yet 5 points moved from engagement (gone) to fit
    assert moved(before, after) == {"fit": 5, "engagement": -5, "rules": ["a" * 64, "b" * 64]}


def test_a_rule_set_given_without_a_file_is_kept_as_text_that_loads_back(rules: RuleSet) -> None:
    from scoring import parse_rules
    from sync.history import canonical_text

    changed = rules.model_copy(update={"name": "changed"})

    assert parse_rules(canonical_text(rules)) == rules
    assert parse_rules(canonical_text(changed)) == changed != rules
    assert canonical_text(changed) != canonical_text(rules)


def test_a_rescore_on_request_records_its_person_once(
    box: Sandbox, rules: RuleSet, tmp_path: Path
) -> None:
    from tests.sync.test_trigger import demo_request, open_app

    url = f"sqlite:///{tmp_path / 'trigger.db'}"
    now = [box.now()]
    with open_app(box, rules, url, clock=lambda: now[0]) as app:
        app.setup()
        for record in map(str, range(1, 40)):  # one whose score a demo request moves
            first = app.rescore(f"hubspot:{record}")
            if 0 < (first.score or 0) < 40:
                break
        app.rescore(f"hubspot:{record}")  # nothing moved: nothing written, nothing recorded
        demo_request(box, record)
        now[0] = box.now() + timedelta(seconds=1)
        moved_on = app.rescore(f"hubspot:{record}")
        assert first.person is not None
        with app.store.engine.connect() as connection:
            found = history_of(connection, first.person)

    assert first.written == moved_on.written == {"hubspot": [record]}
    assert [e.score for e in found] == [first.score, moved_on.score]
    assert found[1].score > found[0].score and found[0].stage == first.stage


def test_a_trial_run_records_the_scores_it_wrote_and_a_dry_run_none(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    start = box.now() + timedelta(hours=1)
    dry = make_sync(box, rules, store, at=start).run(SyncOptions(dry_run=True))
    after_dry = rows(store)
    trial = make_sync(box, rules, store, at=start).run(SyncOptions(limit=5))

    assert dry.changed > 0 and after_dry == []
    written = trial.systems["hubspot"].written
    assert 0 < written <= 5 and 0 < len(rows(store)) <= written
