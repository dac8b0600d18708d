"""Calibration on synthetic leads whose signal is known: the fit finds it, stays within
`max_rules`, is the same for the same seed, and the written file validates and scores
exactly the fitted integer predictor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import Activity, ActivityType, Contact, parse_rules, score
from scoring.candidates import contact_candidates, features
from scoring.frames import ActivityFrame, ContactFrame
from tests.helpers import rules

pytest.importorskip("sklearn")

from scoring.calibrate import Calibration, calibrate_rules, significant
from scoring.fitted_file import fitted_text

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)
CURRENT = rules(
    """
    dimensions: {fit: {cap: 100}, activity: {cap: 50}, engagement: {}}
    rules:
      - {id: anything, contact: {industry: SaaS}, points: 10}
    stages:
      ladder:
        - name: Lead
        - name: MQL
          when: {min: {fit: 20, activity: 10}}
    grades:
      dimension: fit
      bands: [{grade: A, min: 50}, {grade: B, min: 20}, {grade: C}]
    """
)


def leads(n: int = 800, seed: int = 1) -> tuple[ContactFrame, ActivityFrame, np.ndarray]:
    """Industry SaaS and demo requests raise the odds, a big company a little, a page
    view not at all; `noise` is unrelated to the outcome."""
    rng = np.random.default_rng(seed)
    industry = rng.choice(["SaaS", "Retail", "Other"], n)
    employees = rng.integers(1, 1000, n)
    noise = rng.choice(["x", "y", "z"], n)
    demo = rng.random(n) < 0.2
    logit = -1.5 + 2.0 * (industry == "SaaS") + 2.5 * demo + 0.8 * (employees > 500)
    converted = rng.random(n) < 1 / (1 + np.exp(-logit))
    contacts = [
        Contact(
            str(i),
            email=f"p{i}@acme.io",
            attributes={
                "industry": str(industry[i]),
                "employees": str(employees[i]) if i % 10 else "",
                "noise": str(noise[i]),
            },
        )
        for i in range(n)
    ]
    activities = [
        Activity(str(i), ActivityType.DEMO_REQUEST, NOW - timedelta(days=int(rng.integers(1, 60))))
        for i in np.flatnonzero(demo).tolist()
    ]
    activities += [
        Activity(str(i), ActivityType.PAGE_VIEW, NOW - timedelta(days=int(rng.integers(1, 90))))
        for i in rng.integers(0, n, 3 * n).tolist()
    ]
    frame = ContactFrame.from_records(contacts)
    return frame, ActivityFrame.from_records(activities, frame.ids), converted


@pytest.fixture(scope="module")
def fitted() -> tuple[Calibration, ContactFrame, ActivityFrame]:
    frame, acts, converted = leads()
    return calibrate_rules(CURRENT, frame, acts, converted, NOW, max_rules=8, seed=3), frame, acts


def test_the_fit_finds_the_signal_and_leaves_the_noise(fitted) -> None:
    fit, _, _ = fitted
    by_id = {r.candidate.id: r for r in fit.rules}
    assert by_id["industry_saas"].points > 0
    demo = [r for r in fit.rules if r.candidate.activity == "demo_request"]
    assert demo and all(r.points > 0 for r in demo)
    assert not [r for r in fit.rules if r.candidate.contact and "noise" in r.candidate.contact]
    assert fit.cv_auc > 0.7
    assert fit.auc_points >= fit.auc_exact - 0.01


def test_at_most_max_rules(fitted) -> None:
    frame, acts, converted = leads()
    for most in (1, 3):
        fit = calibrate_rules(CURRENT, frame, acts, converted, NOW, max_rules=most, seed=3)
        assert 1 <= len(fit.rules) <= most
    assert len(fitted[0].rules) <= 8


def test_the_same_seed_gives_the_same_file() -> None:
    frame, acts, converted = leads(400)
    texts = [
        fitted_text(CURRENT, calibrate_rules(CURRENT, frame, acts, converted, NOW, seed=5), ["t"])
        for _ in range(2)
    ]
    assert texts[0] == texts[1]


def test_the_file_validates_and_the_engine_scores_the_fitted_predictor(fitted) -> None:
    fit, frame, acts = fitted
    text = fitted_text(CURRENT, fit, ["fitted in a test"], hand_over=80)
    ruleset = parse_rules(text, "fitted.yaml")
    assert [r.id for r in ruleset.rules] == [r.candidate.id for r in fit.rules]
    assert all(significant(r.points) == r.points for r in ruleset.rules)
    batch = score(ruleset, frame, acts, NOW)
    np.testing.assert_allclose(batch.total, fit.scores, atol=1e-6)
    # the dimensions' caps are gone: a cap would bend the sum
    assert all(d.cap is None and d.floor is None for d in ruleset.dimensions.values())
    # the stage of the hand-over starts at the score of the 80th best contact
    assert ruleset.stages is not None
    when = ruleset.stages.ladder[1].when
    assert when is not None and list(when.min) == ["total"]
    threshold = when.min["total"]
    assert int((fit.scores >= threshold + 1).sum()) < 80 <= int((fit.scores >= threshold).sum())
    assert ruleset.grades is not None
    assert [b.grade for b in ruleset.grades.bands] == ["A", "B", "C"]
    for rule in fit.rules:
        assert f"converts {rule.lift:.1f}x the base rate, {rule.support:,} leads" in text


def test_a_single_outcome_is_refused() -> None:
    frame, acts, _converted = leads(100)
    from scoring.errors import InputError

    with pytest.raises(InputError, match="both outcomes"):
        calibrate_rules(CURRENT, frame, acts, np.zeros(100, bool), NOW)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(-50, 500)), min_size=60, max_size=200))
def test_numeric_candidates_match_what_they_say_and_buckets_never_overlap(values) -> None:
    """The engine matches a numeric candidate exactly where its bounds hold (never on a
    blank), and the contacts of the column's reference match none."""
    cells = ["" if v is None else str(v) for v in values]
    frame = ContactFrame.from_records(
        [Contact(str(i), attributes={"n": c}) for i, c in enumerate(cells)]
    )
    acts = ActivityFrame.from_records([], frame.ids)
    found = [
        c
        for c in contact_candidates(frame, (), _ids())
        if c.contact is not None and "exists" not in c.contact["n"]
    ]
    if not found:
        return
    matrix = features(found, CURRENT.filters, frame, acts, NOW)
    numbers = np.array([np.nan if v is None else v for v in values], dtype=float)
    for index, candidate in enumerate(found):
        ops = candidate.contact["n"]
        expected = ~np.isnan(numbers)
        if "gte" in ops:
            expected &= numbers >= ops["gte"]
        if "lt" in ops:
            expected &= numbers < ops["lt"]
        assert (matrix[:, index] > 0).tolist() == expected.tolist()
    # some contacts (the column's reference) match none: no sum of candidates, blank too,
    # is the same for everyone, so the fit cannot shift a constant between them
    every = [c for c in contact_candidates(frame, (), _ids()) if c.per is None]
    whole = features(every, CURRENT.filters, frame, acts, NOW)
    assert not _spans_a_constant(whole)


def _spans_a_constant(matrix: np.ndarray) -> bool:
    ones = np.ones(len(matrix))
    if matrix.shape[1] == 0:
        return False
    weights = np.linalg.lstsq(matrix, ones, rcond=None)[0]
    return bool(np.allclose(matrix @ weights, ones, atol=1e-6))


def _ids():
    from scoring.candidates import _Ids

    return _Ids()


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.sampled_from(["Yes", "No", "yes", "", "Maybe"]), min_size=60, max_size=200),
    st.lists(st.one_of(st.none(), st.integers(0, 9)), min_size=60, max_size=60),
)
def test_a_column_never_offers_all_its_sides(texts, numbers) -> None:
    """Of a yes/no column one side only; and with blanks and numbers beside, no sum of the
    candidates is the same for every contact."""
    rows = [
        Contact(
            str(i),
            attributes={
                "flag": text,
                "n": "" if numbers[i % 60] is None else str(numbers[i % 60]),
            },
        )
        for i, text in enumerate(texts)
    ]
    frame = ContactFrame.from_records(rows)
    acts = ActivityFrame.from_records([], frame.ids)
    found = [c for c in contact_candidates(frame, (), _ids()) if c.per is None]
    flags = [c for c in found if c.contact and "flag" in c.contact]
    sides = {str(c.contact["flag"]).casefold() for c in flags if isinstance(c.contact["flag"], str)}
    assert not {"yes", "no"} <= sides
    if found:
        assert not _spans_a_constant(features(found, CURRENT.filters, frame, acts, NOW))


def noise_leads(n: int = 1500, seed: int = 4) -> tuple[ContactFrame, ActivityFrame, np.ndarray]:
    """A strong signal (`plan`), a yes/no column of noise and a numeric column of noise."""
    rng = np.random.default_rng(seed)
    plan = rng.choice(["pro", "free"], n, p=[0.3, 0.7])
    converted = rng.random(n) < np.where(plan == "pro", 0.6, 0.15)
    contacts = [
        Contact(
            str(i),
            attributes={
                "plan": str(plan[i]),
                "newsletter": str(rng.choice(["Yes", "No"])),
                "shoe_size": str(int(rng.integers(35, 48))),
            },
        )
        for i in range(n)
    ]
    frame = ContactFrame.from_records(contacts)
    return frame, ActivityFrame.from_records([], frame.ids), converted


def test_noise_gets_no_points_and_the_typical_contact_scores_zero() -> None:
    frame, acts, converted = noise_leads()
    fit = calibrate_rules(CURRENT, frame, acts, converted, NOW, seed=0)
    noisy = [
        r
        for r in fit.rules
        if r.candidate.value == "shoe_size"
        or (r.candidate.contact and {"newsletter", "shoe_size"} & set(r.candidate.contact))
    ]
    matrix = features([r.candidate for r in noisy], CURRENT.filters, frame, acts, NOW)
    points = [1.0 if r.candidate.buckets else r.points for r in noisy]  # buckets: their own
    assert np.abs(matrix * np.array(points)).max(initial=0.0) <= 2  # a fifth of a doubling
    plan = next(r for r in fit.rules if r.candidate.contact == {"plan": "pro"})
    assert plan.points > 10  # odds about eight times higher: about three doublings
    # the commonest plan (free) is the reference: its contacts score about 0
    free = frame.columns["plan"]
    assert abs(float(np.median(fit.scores[np.asarray(_is(free, "free"))]))) < 3


def test_pure_noise_is_refused_not_blown_up_to_points() -> None:
    frame, acts, _ = noise_leads()
    converted = np.random.default_rng(9).random(len(frame)) < 0.3
    from scoring.errors import InputError

    with pytest.raises(InputError, match="better than chance"):
        calibrate_rules(CURRENT, frame, acts, converted, NOW, seed=0)


def _is(column, text: str) -> np.ndarray:
    return column.codes == list(column.categories).index(text)
