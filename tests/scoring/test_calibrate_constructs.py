"""The compact constructs of a fitted file: one `buckets` rule per numeric column (its
points the sum of the fitted buckets and steps, each counted towards --max-rules), points per unit
(`value`/`per`/`cap`, slopes down as well as up) and activity count steps
(`min_count`), each scored by the engine exactly as the fit saw it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import Activity, ActivityType, Contact, parse_rules, score
from scoring.candidates import (
    Candidate,
    activity_candidates,
    bucket_rule,
    candidate_rules,
    contact_candidates,
    features,
    nice_step,
)
from scoring.frames import ActivityFrame, ContactFrame
from scoring.measuring import bucket_points
from tests.helpers import rules

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)
CURRENT = rules(
    """
    dimensions: {fit: {}, activity: {}, engagement: {}}
    rules:
      - {id: anything, contact: {industry: SaaS}, points: 10}
    """
)

INTERESTS = """
    rules: [{id: r, activity: page_view, points: 1}]
    interests:
      write: each
      topics:
        - {id: api, label: API, urls: ["*/api*"], points: 4, half_life_days: 20, cap: 30}
        - {id: pricing, forms: ["pricing*"], campaigns: ["*offer*"]}
    """

edge = st.integers(-20, 60)
part = st.tuples(st.one_of(st.none(), edge), st.one_of(st.none(), edge), st.integers(-9, 9))


def _ids():
    from scoring.candidates import _Ids

    return _Ids()


@settings(max_examples=200, deadline=None)
@given(st.lists(part, min_size=1, max_size=8), st.lists(st.integers(-30, 70), max_size=40))
def test_a_bucket_rule_gives_each_value_the_sum_of_its_parts(raw, values) -> None:
    parts = []
    for index, (low, high, points) in enumerate(raw):
        if low is not None and high is not None and high <= low:
            low, high = high, max(low, high + 1)
        bounds = (low, high)
        parts.append((Candidate(f"p{index}", "p", column="n", bounds=bounds), points))
    numbers = np.array([*values, np.nan], dtype=float)
    expected = np.zeros(len(numbers))
    for candidate, points in parts:
        low, high = candidate.bounds or (None, None)
        with np.errstate(invalid="ignore"):
            inside = ~np.isnan(numbers)
            inside &= numbers >= (-np.inf if low is None else low)
            inside &= numbers < (np.inf if high is None else high)
        expected += np.where(inside, points, 0)
    joined = bucket_rule(parts, ["n_buckets"])
    assert joined.id == "n_buckets_2" and joined.value == "n" and joined.buckets is not None
    if not joined.buckets:  # the parts cancel out everywhere
        assert not expected.any()
        return
    got, _ = bucket_points(numbers, list(joined.buckets))
    np.testing.assert_array_equal(got, expected)
    # no bucket of 0 points, and no two neighbours of the same points
    assert all(p != 0 for _, _, p in joined.buckets)
    for (_, high, p), (low, _, q) in zip(joined.buckets, joined.buckets[1:], strict=False):
        assert high != low or p != q
    text = "version: 1\nrules:\n  - " + str(
        {"id": joined.id, "value": "n", "buckets": [list(b) for b in joined.buckets]}
    ).replace("None", "null").replace("'", "")
    parse_rules(text, "buckets.yaml")  # the language accepts it


@settings(max_examples=30, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(-50, 5000)), min_size=40, max_size=120))
def test_a_per_unit_candidate_is_units_up_to_its_cap(values) -> None:
    cells = ["" if v is None else str(v) for v in values]
    frame = ContactFrame.from_records(
        [Contact(str(i), attributes={"n": c}) for i, c in enumerate(cells)]
    )
    linear = [c for c in contact_candidates(frame, (), _ids()) if c.per is not None]
    if not linear:
        return
    (candidate,) = linear
    assert candidate.value == "n" and candidate.unit_cap and candidate.unit_cap >= 1
    matrix = features(
        linear, CURRENT.filters, frame, ActivityFrame.from_records([], frame.ids), NOW
    )
    numbers = np.array([np.nan if v is None else max(v, 0) for v in values], dtype=float)
    units = np.nan_to_num(np.minimum(np.floor(numbers / candidate.per), candidate.unit_cap))
    np.testing.assert_array_equal(matrix[:, 0], units)


@pytest.mark.parametrize(("size", "step"), [(0.37, 0.2), (1.0, 1.0), (13.25, 10.0), (4.9, 2.0)])
def test_steps_are_one_two_or_five_times_a_power_of_ten(size: float, step: float) -> None:
    assert nice_step(size) == step


def test_count_steps_match_at_least_so_many_activities() -> None:
    frame = ContactFrame.from_records([Contact(str(i)) for i in range(12)])
    acts = ActivityFrame.from_records(
        [
            Activity(str(i), ActivityType.PAGE_VIEW, NOW - timedelta(days=k + 1))
            for i in range(12)
            for k in range(i)
        ],
        frame.ids,
    )
    steps = [c for c in activity_candidates(acts, _ids()) if c.min_count is not None]
    assert [c.min_count for c in steps] == [1, 3, 10]
    matrix = features(steps, CURRENT.filters, frame, acts, NOW)
    for index, candidate in enumerate(steps):
        assert matrix[:, index].tolist() == [
            float(i >= (candidate.min_count or 0)) for i in range(12)
        ]
    ruleset = candidate_rules(steps, CURRENT.filters)
    assert [r.min_count for r in ruleset.rules] == [1, 3, 10]


def leads(n: int = 1200, seed: int = 2) -> tuple[ContactFrame, ActivityFrame, np.ndarray]:
    """Age lowers the odds along a line; a middling score (neither end) raises them."""
    rng = np.random.default_rng(seed)
    age = rng.integers(0, 61, n)
    grade = rng.integers(0, 100, n)
    middle = (grade >= 40) & (grade < 70)
    logit = 1.5 - 0.08 * age + 1.5 * middle
    converted = rng.random(n) < 1 / (1 + np.exp(-logit))
    contacts = [
        Contact(str(i), attributes={"age": str(age[i]), "grade": str(grade[i])}) for i in range(n)
    ]
    frame = ContactFrame.from_records(contacts)
    return frame, ActivityFrame.from_records([], frame.ids), converted


@pytest.fixture(scope="module")
def fitted():
    pytest.importorskip("sklearn")
    from scoring.calibrate import calibrate_rules

    frame, acts, converted = leads()
    return calibrate_rules(CURRENT, frame, acts, converted, NOW, max_rules=12, seed=1), frame, acts


def test_a_fitted_file_says_a_trend_per_unit_and_a_column_in_one_bucket_rule(fitted) -> None:
    from scoring.fitted_file import fitted_text

    fit, frame, acts = fitted
    text = fitted_text(CURRENT, fit, ["fitted in a test"])
    ruleset = parse_rules(text, "fitted.yaml")
    np.testing.assert_allclose(score(ruleset, frame, acts, NOW).total, fit.scores, atol=1e-6)
    slope = next(r for r in ruleset.rules if r.value == "age" and r.per is not None)
    unit_cap = next(r.candidate.unit_cap for r in fit.rules if r.candidate.id == slope.id)
    assert slope.per is not None and slope.points < 0 and unit_cap is not None
    assert slope.cap == pytest.approx(-slope.points * unit_cap)  # a slope down, capped like one up
    bucketed = [r.value for r in ruleset.rules if r.buckets is not None]
    assert "grade" in bucketed and len(bucketed) == len(set(bucketed))  # one per column
    assert len(next(r for r in ruleset.rules if r.value == "grade").buckets or []) >= 2
    # a buckets rule counts its fitted buckets and steps towards --max-rules
    assert len(ruleset.rules) == len(fit.rules) < sum(r.terms for r in fit.rules) <= 12
    assert f"{len(fit.rules)} rules ({sum(r.terms for r in fit.rules)} fitted terms" in text
    assert "in its buckets; by bucket" in text


def test_a_fitted_file_keeps_the_interests(fitted) -> None:
    from scoring.fitted_file import fitted_text

    fit, _, _ = fitted
    current = CURRENT.model_copy(update={"interests": rules(INTERESTS).interests})
    ruleset = parse_rules(fitted_text(current, fit, ["fitted in a test"]), "fitted.yaml")
    assert ruleset.interests == current.interests


RFM_AND_VELOCITY = """
    rules: [{id: r, activity: page_view, points: 1}]
    rfm:
      bounds:
        recency: [30, 90, 180, 365]
        frequency: [1, 2, 4, 8]
        monetary: [100, 500, 1000, 5000]
      segments: [{name: champions, r: [4, 5], f: [4, 5]}]
      write: true
    velocity: {days: 7, heating: 10, cooling: -10, write: true}
    stages:
      ladder:
        - name: Lead
        - name: Key account
          lead: false
          when: {contact: {rfm_segment: champions}}
    """


def test_a_fitted_file_keeps_the_rfm_and_velocity_blocks_its_stages_and_fields_read(
    fitted,
) -> None:
    """A stage reading an RFM field needs the `rfm` block, else the fitted file is refused;
    the RFM and velocity fields written back stay written."""
    from scoring.fitted_file import fitted_text

    fit, _, _ = fitted
    given = rules(RFM_AND_VELOCITY)
    current = CURRENT.model_copy(
        update={"rfm": given.rfm, "velocity": given.velocity, "stages": given.stages}
    )
    ruleset = parse_rules(fitted_text(current, fit, ["fitted in a test"]), "fitted.yaml")
    assert ruleset.rfm == current.rfm and ruleset.velocity == current.velocity
