"""Sales capacity in a replay (`explain --as-of`: the hand-over decision as it stood then,
from the `handovers` table) and in a shadow run (how many the shadow rules would hand
over against the same week's places, the live counts untouched)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from sandbox import Sandbox
from scoring import RuleSet, load_rules
from scoring.capacity_rules import Capacity
from sync import StateStore, SyncOptions
from sync.handover_schema import handover_counts, handovers
from sync.replay import replay
from sync.shadow import shadow_lines, with_capacity
from tests.sync.test_sync_hubspot import RULES, make_sync

PER_WEEK = 2
HANDOVER = ("Sales qualified", "Opportunity")


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules(RULES).model_copy(update={"capacity": Capacity(per_week=PER_WEEK)})


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox(people=200, seed=3) as sandbox:
        yield sandbox


def _rows(store: StateStore) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    with store.engine.connect() as connection:
        taken = connection.execute(sa.select(handover_counts).order_by("period", "team")).all()
        handed = connection.execute(
            sa.select(handovers.c.period, handovers.c.team, handovers.c.at, handovers.c.score)
        ).all()  # person ids differ between stores: the order of the pulls
    return [tuple(r) for r in taken], sorted(tuple(r) for r in handed)


def test_a_replay_says_the_hand_over_then(box: Sandbox, rules: RuleSet, store: StateStore) -> None:
    at = box.now() + timedelta(hours=1)
    job = make_sync(box, rules, store, at=at)
    job.run(SyncOptions(full=True))
    batch, _ = job.score(as_of=at)
    handed = [r for r in range(len(batch)) if batch.stage(r) in HANDOVER]
    waiting = [r for r, place in batch.waiting.items() if place == 1]
    assert len(handed) == PER_WEEK and waiting
    later = at + timedelta(minutes=5)

    for row in handed:
        found = replay(store, str(batch.emails.value(row)), later)
        assert found.batch.stage(0) in HANDOVER
        assert found.handover is not None and "handed over" in found.handover
    found = replay(store, str(batch.emails.value(waiting[0])), later)
    assert found.batch.stage(0) not in HANDOVER  # the engine alone would put it there
    assert found.handover is not None and found.handover.startswith("waiting")
    # before the run handed anyone over, those handed over were not yet: they waited
    before = replay(store, str(batch.emails.value(handed[0])), at - timedelta(minutes=1), (
        rules, "rules", "rules.yaml"))  # fmt: skip
    assert before.handover is not None and before.handover.startswith("waiting")


def test_a_shadow_run_says_how_many_it_would_hand_over_and_takes_no_place(
    box: Sandbox, rules: RuleSet, store: StateStore, tmp_path
) -> None:
    at = box.now() + timedelta(hours=1)
    other = StateStore(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        with Sandbox(people=200, seed=3) as twin:  # the same world, synced without shadow
            plain = make_sync(twin, rules, other, at=at).run(SyncOptions(full=True))
        shadowed = make_sync(box, rules, store, at=at).run(SyncOptions(full=True, shadow=rules))
        assert _rows(store) == _rows(other)  # the live counts and hand-overs alone
    finally:
        other.close()
    found = shadowed.shadow
    assert found is not None and found.handover is not None
    assert found.handover["handed_over"] == PER_WEEK  # the same week's places
    assert plain.handover is not None
    assert found.handover["waiting"] == plain.handover.waiting  # the same rules: the same queue
    assert found.handover["same_as_live"] == PER_WEEK
    assert found.as_dict()["handover"] == found.handover
    said = " ".join(shadow_lines(found))
    assert f"would hand over {PER_WEEK} now ({PER_WEEK} as the live rules)" in said


def test_shadow_rules_without_capacity_take_the_live_places(rules: RuleSet) -> None:
    plain = load_rules(RULES)
    assert with_capacity(plain, rules).capacity == rules.capacity
    assert with_capacity(rules, plain) is rules  # the shadow file's own block stands
    unladdered = plain.model_copy(update={"stages": None})
    assert with_capacity(unladdered, rules).capacity is None  # no stage to hand over on
