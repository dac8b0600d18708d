"""Score velocity: the past scores given per contact, stage conditions and buckets on them."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring import ActivityFrame, ContactFrame, InputError, RuleSet, ScoreBatch, score
from scoring.velocity_rules import COOLING, HEATING, STEADY, velocity_bucket
from tests.helpers import NOW, act, person, rules
from tests.scoring.test_rule_files import problems

RULES = rules(
    """
    rules:
      - {id: form, activity: form_submission, points: 10}
      - {id: visit, activity: page_view, points: 3, cap: 30}
    stages:
      ladder:
        - {name: subscriber}
        - name: warming
          when: {velocity: {days: 14, min: 20}}
        - name: hot
          when: {all: [{min: {total: 40}}, {velocity: {days: 30, min: 30}}]}
    velocity: {days: 14, heating: 10, cooling: -10}
    """
)


def _frames(clicks: list[int]) -> tuple[ContactFrame, ActivityFrame]:
    """Contacts c0, c1, ... each with that many recent clicks."""
    contacts = [person(f"c{i}", f"p{i}@acme.io") for i in range(len(clicks))]
    acts = [act("form_submission", 1.0, f"c{i}") for i, n in enumerate(clicks) for _ in range(n)]
    frame = ContactFrame.from_records(contacts)
    return frame, ActivityFrame.from_records(acts, frame.ids)


def _score(clicks: list[int], past: dict[float, list[float]]) -> ScoreBatch:
    frame, acts = _frames(clicks)
    return score(RULES, frame, acts, NOW, past={d: np.array(v) for d, v in past.items()})


def test_a_stage_needs_the_total_to_have_risen_over_its_window() -> None:
    # totals 30, 30, 30, 50: rose by 25, by 5, unknown (NaN), and 50 - 10 over 30 days
    batch = _score([3, 3, 3, 5], {14: [5, 25, math.nan, 40], 30: [0, 0, 0, 10]})

    stages = [batch.stage(row) for row in range(4)]
    assert stages == ["warming", "subscriber", "subscriber", "hot"]


def test_without_past_scores_nobody_has_a_velocity() -> None:
    batch = _score([3, 5], {})

    assert [batch.stage(r) for r in range(2)] == ["subscriber", "subscriber"]
    assert batch.velocity is not None and np.isnan(batch.velocity).all()


def test_the_bucket_reads_the_velocity_over_its_own_window() -> None:
    batch = _score([3, 3, 3, 3], {14: [20, 25, 40, math.nan], 30: [0, 0, 0, 0]})

    assert batch.velocity is not None
    assert batch.velocity[:3].tolist() == [10.0, 5.0, -10.0]
    buckets = [velocity_bucket(float(v), RULES.velocity) for v in batch.velocity]  # type: ignore[arg-type]
    assert buckets == [HEATING, STEADY, COOLING, None]


def test_a_rule_set_without_a_velocity_block_buckets_nothing() -> None:
    plain = rules("rules: [{id: form, activity: form_submission, points: 10}]")
    frame, acts = _frames([1])

    assert score(plain, frame, acts, NOW, past={14: np.array([0.0])}).velocity is None


def test_past_scores_must_be_one_per_contact() -> None:
    frame, acts = _frames([1, 2])

    with pytest.raises(InputError, match="14 days: 1 given for 2 contacts"):
        score(RULES, frame, acts, NOW, past={14: np.array([1.0])})


def test_the_windows_the_rules_need_are_those_of_conditions_and_bucket() -> None:
    assert RULES.velocity_windows() == [14, 30]


PAST = st.one_of(st.just(math.nan), st.integers(-60, 60).map(float))


@given(st.lists(st.tuples(st.integers(0, 6), PAST, PAST), min_size=1, max_size=8))
def test_a_batch_of_one_scores_as_a_batch_of_many(people: list) -> None:
    clicks = [n for n, _, _ in people]
    past = {14: [a for _, a, _ in people], 30: [b for _, _, b in people]}
    batch = _score(clicks, past)

    for row, (n, a, b) in enumerate(people):
        alone = _score([n], {14: [a], 30: [b]})
        assert batch.stage(row) == alone.stage(0)
        assert batch.total[row] == alone.total[0]
        assert batch.velocity is not None and alone.velocity is not None
        assert np.array_equal(batch.velocity[row : row + 1], alone.velocity, equal_nan=True)


@given(st.integers(0, 6), PAST)
def test_velocity_is_the_total_minus_the_score_then(clicks: int, then: float) -> None:
    batch = _score([clicks], {14: [then], 30: [math.nan]})

    assert batch.velocity is not None
    moved = float(batch.velocity[0])
    if math.isnan(then):
        assert math.isnan(moved)
        assert batch.stage(0) == "subscriber"
    else:
        assert moved == 10 * clicks - then
        assert (batch.stage(0) == "warming") == (moved >= 20)


@given(st.floats(-1000, 1000, allow_nan=False), st.integers(1, 50), st.integers(-50, -1))
def test_buckets_split_at_their_thresholds(moved: float, heating: int, cooling: int) -> None:
    buckets = rules(
        f"""
        rules: [{{id: form, activity: form_submission, points: 10}}]
        velocity: {{heating: {heating}, cooling: {cooling}}}
        """
    ).velocity
    assert buckets is not None and buckets.days == 14 and not buckets.write

    found = velocity_bucket(moved, buckets)

    assert found == (HEATING if moved >= heating else COOLING if moved <= cooling else STEADY)


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        (
            "stages: {ladder: [{name: a}, {name: b, when: {velocity: {days: 14}}}]}",
            "r.yaml:3: stages.ladder[1].when.velocity: `velocity` needs `min`, `max` or both",
        ),
        (
            "stages: {ladder: [{name: a}, {name: b, when: {velocity: {min: 5}}}]}",
            "r.yaml:3: stages.ladder[1].when.velocity.days: this field is required",
        ),
        (
            "velocity: {heating: 10, cooling: 5}",
            "r.yaml:3: velocity.cooling: Input should be less than 0 (got 5)",
        ),
        (
            "velocity: {heating: 10, cooling: -5, write: sometimes}",
            "r.yaml:3: velocity.write: Input should be a valid boolean, unable to interpret input "
            "(got 'sometimes')",
        ),
    ],
)
def test_velocity_errors_are_located(block: str, expected: str) -> None:
    found = problems(f"\nrules: [{{id: form, activity: form_submission, points: 10}}]\n{block}\n")

    assert found == [expected]


def test_rules_loaded_back_keep_their_velocity() -> None:
    dumped = RULES.model_dump(mode="json", exclude_defaults=True)

    assert RuleSet.model_validate(dumped) == RULES
