"""The backtest's figures: held to scikit-learn's on small fixtures, and worked by hand."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from scoring import (
    ActivityFrame,
    CategoricalColumn,
    ContactFrame,
    InputError,
    NumericColumn,
    backtest_of,
    leaks,
    roc_of,
    score,
)
from scoring.leakage import single_column_auc
from scoring.metrics import average_precision, bootstrap, roc_auc
from tests.helpers import NOW, person, rules

outcomes_and_scores = st.integers(2, 60).flatmap(
    lambda n: st.tuples(
        st.lists(st.booleans(), min_size=n, max_size=n).filter(lambda y: 0 < sum(y) < n),
        st.lists(
            st.one_of(st.integers(-3, 3).map(float), st.floats(-1e6, 1e6, allow_nan=False)),
            min_size=n,
            max_size=n,
        ),
    )
)


@settings(max_examples=300)
@given(outcomes_and_scores)
def test_auc_and_average_precision_are_scikit_learns(case) -> None:
    y, s = np.array(case[0]), np.array(case[1])
    assert math.isclose(roc_auc(y, s), roc_auc_score(y, s), rel_tol=1e-12, abs_tol=1e-12)
    assert math.isclose(
        average_precision(y, s), average_precision_score(y, s), rel_tol=1e-12, abs_tol=1e-12
    )


@pytest.mark.parametrize(
    ("y", "s"),
    [
        ([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]),
        ([1, 0, 1, 0, 1], [3, 3, 3, 1, 1]),  # ties across outcomes
        ([0, 1], [5, 5]),
        ([1, 1, 0, 0, 0, 1], [9, 8, 7, 6, 5, 4]),
    ],
)
def test_small_fixtures(y: list[int], s: list[float]) -> None:
    yy, ss = np.array(y, dtype=bool), np.array(s, dtype=float)
    assert roc_auc(yy, ss) == pytest.approx(roc_auc_score(yy, ss), abs=1e-15)
    assert average_precision(yy, ss) == pytest.approx(average_precision_score(yy, ss), abs=1e-15)


def test_bootstrap_is_seeded_and_its_interval_holds_the_figure() -> None:
    rng = np.random.default_rng(5)
    y = rng.random(500) < 0.3
    s = rng.integers(0, 20, 500) + 4.0 * y

    auc, ap = bootstrap(y, s, resamples=300, seed=11)

    assert (auc, ap) == bootstrap(y, s, resamples=300, seed=11)
    assert auc != bootstrap(y, s, resamples=300, seed=12)[0]
    assert auc.value == pytest.approx(roc_auc_score(y, s))
    assert auc.low < auc.value < auc.high and ap.low < ap.value < ap.high
    # a resample is weights on the contacts: the same as drawing them again
    draw = np.random.default_rng(11).integers(0, 500, 500)
    weights = np.bincount(draw, minlength=500)
    again = roc_auc_score(y[draw], s[draw])
    from scoring.metrics import Ranked

    assert Ranked.of(s, y).auc_and_ap(weights.astype(float))[0] == pytest.approx(again)


RULES = rules(
    """
    dimensions: {fit: {}, activity: {}}
    rules:
      - {id: vp, contact: {title: VP}, points: 30}
      - {id: fr, contact: {country: FR}, points: 5}
      - {id: visit, activity: page_view, points: 2, window_days: 30}
    stages:
      ladder:
        - name: Lead
        - name: MQL
          when: {min: {total: 30}}
    grades:
      bands: [{grade: A, min: 30}, {grade: B}]
    """
)


def batch_of(titles: list[str | None], countries: list[str | None]):
    people = [
        person(f"c{i}", f"p{i}@acme.io", **{k: v for k, v in (("title", t), ("country", c)) if v})
        for i, (t, c) in enumerate(zip(titles, countries, strict=True))
    ]
    frame = ContactFrame.from_records(people)
    return score(RULES, frame, ActivityFrame.from_records([], frame.ids), NOW)


def test_deciles_stages_grades_ties_hand_over_and_calibration_by_hand() -> None:
    # 20 contacts: 6 VPs (30 or 35), 14 others (0 or 5); VPs convert 5 of 6, others 2 of 14
    titles = ["VP"] * 6 + [None] * 14
    countries = ["FR", None] * 10
    converted = np.array([1, 1, 1, 1, 1, 0] + [1, 1] + [0] * 12, dtype=bool)
    batch = batch_of(titles, countries)

    report = backtest_of(batch, converted, hand_over=4, resamples=50, seed=1)

    assert (report.contacts, report.converted, report.base_rate) == (20, 7, 0.35)
    assert report.auc.value == pytest.approx(roc_auc_score(converted, batch.total))
    assert report.tied_share == 1.0
    assert [(d.contacts, d.converted, d.max_score) for d in report.deciles][:3] == [
        (2, 2, 35),  # rows 0 and 2
        (2, 2, 35),  # rows 4 and 1 (30 points): ties split by input order
        (2, 1, 30),
    ]
    assert report.deciles[0].lift == pytest.approx(1 / 0.35)
    assert [(g.name, g.contacts, g.converted) for g in report.stages] == [
        ("Lead", 14, 2),
        ("MQL", 6, 5),
    ]
    assert [(g.name, g.contacts, g.converted) for g in report.grades] == [("A", 6, 5), ("B", 14, 2)]
    # four leads asked: the top score (35) is held by 3, the next (30) by 3 more
    hand = report.hand_over
    assert hand is not None
    assert (hand.threshold, hand.handed, hand.converted) == (30, 6, 5)
    assert hand.captured == pytest.approx(5 / 7)
    assert [(b.low, b.high, b.contacts, b.converted) for b in report.calibration] == [
        (0, 0, 7, 1),
        (5, 5, 7, 1),
        (30, 30, 3, 2),
        (35, 35, 3, 3),
    ]
    plain = report.as_dict()
    assert plain["auc"]["value"] == report.auc.value and plain["stages"][1]["name"] == "MQL"


def test_a_backtest_needs_one_outcome_per_contact_and_both_outcomes() -> None:
    batch = batch_of(["VP", None], [None, None])
    with pytest.raises(InputError, match="every contact converted"):
        backtest_of(batch, np.array([True, True]))
    with pytest.raises(InputError, match="one per contact"):
        backtest_of(batch, np.array([True]))


def test_leaks_name_columns_filled_for_converters_or_near_perfect_alone() -> None:
    n = 200
    converted = np.arange(n) % 4 == 0
    notes = CategoricalColumn(
        np.where(converted, 0, -1).astype(np.int32), np.array(["Closed by sales"], dtype=object)
    )
    stage = CategoricalColumn(
        converted.astype(np.int32), np.array(["lost", "won"], dtype=object)
    )  # filled for all: near-perfect alone
    spend = NumericColumn(np.where(converted, 900.0, 100.0) + np.arange(n) % 7)
    noise = NumericColumn(np.arange(n, dtype=float) % 13)
    ids = CategoricalColumn(
        np.arange(n, dtype=np.int32), np.array([f"p-{i}" for i in range(n)], dtype=object)
    )

    found = leaks(
        {"notes": notes, "stage": stage, "spend": spend, "noise": noise, "ids": ids}, converted
    )

    assert [leak.column for leak in found] == ["notes", "stage", "spend"]
    assert found[0].reason == "filled for 50 contacts, 100% of whom converted (25% of all)"
    assert found[1].auc == 1.0
    assert single_column_auc(ids, converted) == 0.5  # a value per contact says nothing


def test_a_text_column_whose_values_settle_the_outcome_for_most_contacts_is_named() -> None:
    # sales notes: "closed" (all converted), "ringing" (none), "later" (mixed), blanks
    n = 400
    converted = np.arange(n) % 2 == 0
    codes = np.full(n, 2, dtype=np.int32)
    row = np.arange(n)
    codes[(row % 4 == 0) | (row % 8 == 2)] = 0
    codes[(row % 4 == 1) | (row % 8 == 3)] = 1
    codes[row >= 360] = -1  # settled: 135 + 135 of 400
    tags = CategoricalColumn(codes, np.array(["closed", "ringing", "later"], dtype=object))

    found = leaks({"tags": tags}, converted)

    assert [leak.column for leak in found] == ["tags"]
    assert "held by 68% of contacts" in found[0].reason
    assert found[0].auc is not None and found[0].auc < 0.95  # not near-perfect alone


def test_blank_numbers_rank_last_together() -> None:
    y = np.array([1, 0, 1, 0, 0], dtype=bool)
    s = np.array([3.0, -np.inf, -np.inf, 1.0, -np.inf])
    assert roc_auc(y, s) == pytest.approx(roc_auc_score(y, np.where(np.isinf(s), -99, s)))


def test_a_column_that_only_marks_losers_is_a_signal_not_a_leak() -> None:
    n = 400
    row = np.arange(n)
    converted = (row % 5 == 0) & (row >= 240)  # 32 converted, all among the "other"
    codes = np.where(row < 240, 0, 1).astype(np.int32)  # students: 60 %, none converted
    occupation = CategoricalColumn(codes, np.array(["student", "other"], dtype=object))

    assert leaks({"occupation": occupation}, converted) == []


@settings(max_examples=200, deadline=None)
@given(outcomes_and_scores)
def test_the_roc_curve_is_scikit_learns_on_whole_points(case) -> None:
    y, s = np.array(case[0]), np.array(case[1])
    empty = batch_of([None] * len(y), [None] * len(y))
    batch = replace(empty, total=s)
    curve = roc_of(batch, y)
    whole = np.floor(s + 0.5)
    fpr, tpr, thresholds = roc_curve(y, whole, drop_intermediate=False)
    assert curve.false_positive_rate == pytest.approx(fpr.tolist(), abs=1e-12)
    assert curve.true_positive_rate == pytest.approx(tpr.tolist(), abs=1e-12)
    assert curve.scores == [int(t) for t in thresholds[1:]]
    area = np.trapezoid(curve.true_positive_rate, curve.false_positive_rate)
    assert area == pytest.approx(backtest_of(batch, y, resamples=0).auc.value, abs=1e-12)


def test_a_roc_curve_needs_both_outcomes() -> None:
    batch = batch_of([None, None], [None, None])
    with pytest.raises(InputError, match="both outcomes"):
        roc_of(batch, np.array([True, True]))
