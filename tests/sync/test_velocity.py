"""Score velocity in a sync: read from the store's history, written back as a bucket only
where the rules say so and only when the bucket changes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from sandbox import Sandbox
from scoring import RuleSet, load_rules
from scoring.velocity_rules import HEATING, VelocityBuckets, velocity_bucket
from sync import StateStore, SyncOptions
from sync.fields import VELOCITY
from sync.replay import replay
from sync.schema import history, persons
from sync.velocity import DAY_SECONDS, next_change, past_scores
from tests.sync.test_sync_hubspot import RULES, fields, make_sync, writes

PEOPLE, SEED = 60, 5


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    buckets = VelocityBuckets(days=14, heating=10, cooling=-10, write=True)
    return load_rules(RULES).model_copy(update={"velocity": buckets})


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox(people=PEOPLE, seed=SEED) as sandbox:
        yield sandbox


def buckets(box: Sandbox, rules: RuleSet) -> dict[str, str | None]:
    name = fields(rules).names[VELOCITY]
    table = box.hubspot.contacts
    return {str(row + 1): table.value(name, row) for row in range(table.size)}


def test_history_makes_a_person_heat_up_and_the_bucket_is_written_when_it_changes(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    start = box.now() + timedelta(hours=1)
    make_sync(box, rules, store, at=start).run(SyncOptions(full=True))
    before = buckets(box, rules)
    assert set(before.values()) <= {None, ""}  # nobody has a score 14 days old yet
    with store.engine.begin() as connection:
        person, score = connection.execute(
            sa.select(history.c.person_id, history.c.score)
            .where(history.c.score > 40)
            .order_by(history.c.person_id)
            .limit(1)
        ).one()
        # the person's score 20 days ago was 30 points lower than it is now
        connection.execute(
            history.update()
            .where(history.c.person_id == person)
            .values(at=(start - timedelta(days=20)).timestamp(), score=score - 30)
        )

    heated = make_sync(box, rules, store, at=start + timedelta(hours=1)).run(SyncOptions(full=True))

    after = buckets(box, rules)
    changed = {k: v for k, v in after.items() if v != before[k]}
    assert list(changed.values()) == [HEATING]
    assert writes(heated) == 1
    quiet = make_sync(box, rules, store, at=start + timedelta(hours=2)).run(SyncOptions(full=True))
    assert writes(quiet) == 0  # the bucket holds: nothing to write
    assert buckets(box, rules) == after

    # 14 days after the last row, it is the score in force then: the person is due again
    # with no new data, and the bucket follows the score against that row (the rules'
    # decay alone may move it)
    later = start + timedelta(hours=1, days=14, minutes=1)
    cooled = make_sync(box, rules, store, at=later).run()
    assert cooled.rescored >= 1
    with store.engine.connect() as connection:
        scores = (
            connection.execute(
                sa.select(history.c.score)
                .where(history.c.person_id == person)
                .order_by(history.c.at)
            )
            .scalars()
            .all()
        )
    then = scores[1]  # the heated run's row: in force 14 days before `later`
    [key] = changed
    assert buckets(box, rules)[key] == velocity_bucket(scores[-1] - then, rules.velocity)
    assert buckets(box, rules)[key] != HEATING


def test_the_store_gives_the_score_in_force_then_and_when_velocity_next_moves(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    start = box.now() + timedelta(hours=1)
    make_sync(box, rules, store, at=start).run(SyncOptions(full=True))
    with store.engine.connect() as connection:
        ids = [int(p) for p in connection.execute(sa.select(history.c.person_id)).scalars()]
        moment = start.timestamp()
        now = past_scores(connection, rules, [*ids, 10_000], moment + 14 * DAY_SECONDS)
        early = past_scores(connection, rules, ids, moment + 14 * DAY_SECONDS - 1)
        # a day later, a row made at `start` enters the window before a row made now would
        due = next_change(connection, rules, [*ids, 10_000], moment + DAY_SECONDS)

    assert now is not None and early is not None
    assert not np.isnan(now[14][: len(ids)]).any() and np.isnan(now[14][-1])
    assert np.isnan(early[14]).all()
    assert due.tolist() == [moment + 14 * DAY_SECONDS] * len(ids) + [moment + 15 * DAY_SECONDS]


def test_a_rescore_on_request_reads_the_same_velocity_from_the_store(
    box: Sandbox, rules: RuleSet, tmp_path: Path
) -> None:
    from tests.sync.test_trigger import open_app

    now = [box.now()]
    with open_app(box, rules, f"sqlite:///{tmp_path / 't.db'}", clock=lambda: now[0]) as app:
        app.setup()
        first = app.rescore("hubspot:1")
        assert first.person is not None and first.score is not None
        with app.store.engine.begin() as connection:
            connection.execute(
                history.update()
                .where(history.c.person_id == first.person)
                .values(at=(now[0] - timedelta(days=20)).timestamp(), score=first.score - 12)
            )
        now[0] += timedelta(seconds=1)
        heated = app.rescore("hubspot:1")
        again = app.rescore("hubspot:1")
        with app.store.engine.connect() as connection:
            query = sa.select(persons.c.email).where(persons.c.id == first.person)
            email = connection.execute(query).scalar_one()
        replayed = replay(app.store, email, now[0]).batch  # explain --as-of: the same velocity

    assert replayed.velocity is not None
    assert replayed.velocity.tolist() == [replayed.total[0] - (first.score - 12)]

    assert first.written == heated.written == {"hubspot": ["1"]}
    assert again.written == {}  # the bucket holds: nothing to write
    assert buckets(box, rules)["1"] == HEATING
