"""Trends: a numeric column's per-unit rule whose cap is a guard far out, fitted centred,
written in whole points per a round step with a centre that brings its median to 0, and
scored by the engine exactly as the fit adds it up; on values past those fitted on it
keeps going where buckets stay flat."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import Contact, parse_rules, score
from scoring.candidates import _Ids, contact_candidates, features, nice_step, trend_candidate
from scoring.frames import ActivityFrame, ContactFrame
from scoring.metrics import roc_auc
from scoring.trends import _next_step, whole_step
from tests.helpers import rules

NOW = datetime(2026, 11, 1, 12, tzinfo=UTC)
CURRENT = rules(
    """
    dimensions: {fit: {}, activity: {}, engagement: {}}
    rules:
      - {id: anything, contact: {industry: SaaS}, points: 10}
    """
)


def _frame(cells: list[str], name: str = "n") -> ContactFrame:
    return ContactFrame.from_records(
        [Contact(str(i), attributes={name: c}) for i, c in enumerate(cells)]
    )


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.floats(0, 6000, allow_nan=False)), min_size=30))
def test_a_trend_candidate_is_units_from_zero_up_to_a_guard_past_the_highest_value(
    values,
) -> None:
    cells = ["" if v is None else f"{v:.1f}" for v in values]
    frame = _frame(cells)
    found = trend_candidate("n", _numbers(cells), 20, _Ids())
    present = sorted({float(c) for c in cells if c})
    if len([c for c in cells if c]) < 20 or len(present) < 3:
        assert found is None
        return
    assert found is not None and found.trend and found.value == "n" and found.per
    assert nice_step(found.per) == found.per
    assert found.unit_cap is not None
    highest = present[-1] + (present[-1] - present[0])  # the guard: a range past the top
    assert found.unit_cap == math.floor(highest / found.per)
    matrix = features(
        [found], CURRENT.filters, frame, ActivityFrame.from_records([], frame.ids), NOW
    )
    units = np.nan_to_num(np.minimum(np.floor(_numbers(cells) / found.per), found.unit_cap))
    np.testing.assert_array_equal(matrix[:, 0], units)


def test_no_trend_for_a_column_below_zero_or_of_two_values() -> None:
    ids = _Ids()
    assert trend_candidate("n", np.array([-1.0, 2, 3, 4] * 10), 20, ids) is None
    assert trend_candidate("n", np.array([1.0, 2] * 20), 20, ids) is None
    cells = [str(5000 + i % 7) for i in range(200)]
    assert [c.id for c in contact_candidates(_frame(cells), (), ids, True) if c.trend] == [
        "n_trend"
    ]
    # only when asked for, and in place of the column's steps (its buckets stay)
    plain = contact_candidates(_frame(cells), (), _Ids())
    assert not [c for c in plain if c.trend]
    with_trend = contact_candidates(_frame(cells), (), _Ids(), True)
    ranges = {c.bounds for c in with_trend if c.bounds}
    assert ranges < {c.bounds for c in plain if c.bounds}


def _numbers(cells: list[str]) -> np.ndarray:
    return np.array([float(c) if c else np.nan for c in cells])


@settings(max_examples=200, deadline=None)
@given(
    st.floats(1e-3, 1e3),
    st.booleans(),
    st.sampled_from([0.001, 0.1, 1.0, 5.0]),
    st.lists(st.floats(0, 5000, allow_nan=False), min_size=2, max_size=50),
)
def test_whole_points_per_a_round_step_stray_least_from_the_line(size, down, finest, raw) -> None:
    slope = -size if down else size
    values = np.array(raw)
    found = whole_step(slope, values, finest, 1e6)
    steps = _steps(nice_step(finest), 1e6)

    def stray(step: float, points: int) -> float:
        return float(np.std(points * np.floor(values / step) - slope * values))

    rounded = [(s, round(slope * s)) for s in steps if round(slope * s)]
    best = min((stray(s, p) for s, p in rounded), default=np.inf)
    if best >= float(np.std(slope * values)) - 1e-9:  # no better than no rule
        assert found is None or stray(*found) == pytest.approx(best)
        return
    assert found is not None
    step, points = found
    assert step in steps and isinstance(points, int) and points == round(slope * step)
    assert points != 0 and (points < 0) == down
    assert stray(step, points) <= best + 1e-9


def _steps(start: float, stop: float) -> list[float]:
    found, step = [], start
    while step <= stop:
        found.append(step)
        step = _next_step(step)
    return found


def test_whole_step_weighs_the_rounded_slope_against_tied_values() -> None:
    ages = np.arange(18, 78, dtype=float)
    assert whole_step(0.0, ages, 1.0, 100.0) is None
    assert whole_step(0.01, ages, 1.0, 100.0) is None  # a point per 100 years: none here
    # 0.16 points a year: a point per 5 years strays less than 8 per 50 or 3 per 20
    assert whole_step(0.16, ages, 1.0, 120.0) == (5.0, 1)
    assert whole_step(-3.0, ages, 1.0, 120.0) == (1.0, -3)


def leads(n: int = 3000, seed: int = 5):
    """The odds fall along a line in `staff` (thousands, far from zero); `plan` a little.
    The first 80 % of the contacts have staff from 5100 up, the last 20 % below it."""
    rng = np.random.default_rng(seed)
    fitted = n * 4 // 5
    staff = np.concatenate(
        [rng.uniform(5100, 5230, fitted), rng.uniform(4960, 5100, n - fitted)]
    ).round(1)
    plan = rng.choice(["pro", "free"], n)
    logit = -2.0 - 0.03 * (staff - 5150) + 0.5 * (plan == "pro")
    converted = rng.random(n) < 1 / (1 + np.exp(-logit))
    cells = [f"{s:.1f}" if i % 50 else "" for i, s in enumerate(staff)]  # some blanks
    contacts = [
        Contact(str(i), attributes={"staff": cells[i], "plan": str(plan[i])}) for i in range(n)
    ]
    frame = ContactFrame.from_records(contacts)
    return frame, ActivityFrame.from_records([], frame.ids), converted, fitted


@pytest.fixture(scope="module")
def fitted():
    pytest.importorskip("sklearn")
    from scoring.calibrate import calibrate_rules
    from scoring.fitted_file import fitted_text
    from scoring.subsets import take_activities, take_contacts

    frame, acts, converted, cut = leads()
    train = np.arange(cut)
    part = take_contacts(frame, train)
    part_acts = take_activities(acts, train, len(frame))
    fit = calibrate_rules(
        CURRENT, part, part_acts, converted[train], NOW, max_rules=6, seed=0, trends=True
    )
    text = fitted_text(CURRENT, fit, ["fitted in a test"])
    return fit, text, frame, acts, converted, cut, part, part_acts


def test_a_trend_is_written_in_whole_points_per_a_round_step_with_its_centre(fitted) -> None:
    fit, text, *_, part, part_acts = fitted
    ruleset = parse_rules(text, "fitted.yaml")
    np.testing.assert_allclose(score(ruleset, part, part_acts, NOW).total, fit.scores, atol=1e-6)
    trend = next(r for r in ruleset.rules if r.value == "staff" and r.per is not None)
    assert trend.points < 0 and float(trend.points).is_integer()
    assert trend.per is not None and nice_step(trend.per) == trend.per
    seen = _staff(part)
    guard = seen.max() + (seen.max() - seen.min())  # a range past the highest value
    assert trend.cap == pytest.approx(-trend.points * math.floor(guard / trend.per))
    index = [r.id for r in ruleset.rules].index(trend.id)
    centre = ruleset.rules[index + 1]  # right after it
    assert centre.contact is not None and list(centre.contact) == ["staff"]
    assert centre.points == pytest.approx(
        -trend.points * math.floor(float(np.median(_staff(part))) / trend.per)
    )
    # about 0.03 log-odds a unit of staff: 10 points a doubling
    slope = trend.points / trend.per
    assert slope == pytest.approx(-0.03 * 10 / math.log(2), rel=0.35)
    assert "a trend: it goes on past the values fitted on" in text
    # at the median, or blank, a contact gets 0 from the trend and its centre together
    pair = parse_rules(
        "version: 1\nrules:\n"
        + "\n".join(
            f"  - {{id: {r.id}, value: staff, per: {r.per}, points: {r.points}, cap: {r.cap}}}"
            if r.per is not None
            else f"  - {{id: {r.id}, contact: {{staff: {{gte: 0}}}}, points: {r.points}}}"
            for r in (trend, centre)
        ),
        "pair.yaml",
    )
    median = float(np.median(_staff(part)))
    probe = _frame(["", f"{median:.1f}"], "staff")
    totals = score(pair, probe, ActivityFrame.from_records([], probe.ids), NOW).total
    assert totals[0] == 0 and abs(totals[1]) <= abs(trend.points)


def _staff(frame: ContactFrame) -> np.ndarray:
    from scoring.measuring import numeric_values

    values = numeric_values(frame.columns["staff"], len(frame))
    return values[~np.isnan(values)]


def test_a_trend_ranks_values_past_those_fitted_on(fitted) -> None:
    fit, text, frame, acts, converted, cut, *_ = fitted
    assert len(fit.rules) <= 6  # the centre counts towards --max-rules
    ruleset = parse_rules(text, "fitted.yaml")
    from scoring.subsets import take_activities, take_contacts

    held = np.arange(cut, len(frame))
    part = take_contacts(frame, held)
    total = score(ruleset, part, take_activities(acts, held, len(frame)), NOW).total
    # every held-out staff value is below those fitted on: only a trend tells them apart
    assert roc_auc(converted[held], total) > 0.62


@pytest.mark.parametrize(("base", "width"), [(2_000_000.0, 300.0), (5e8, 2.3e7)])
def test_a_column_of_large_values_fits_within_the_rule_language(base: float, width: float) -> None:
    """A trend whose `per`, cap or centre would pass a million (the rule language's
    bound) is left out, not a fit that stops or a file `validate` refuses."""
    from scoring.calibrate import calibrate_rules
    from scoring.fitted_file import fitted_text

    rng = np.random.default_rng(5)
    staff = (base + rng.uniform(0, width, 1200)).round(0)
    odds = -1.0 - (3.0 / width) * (staff - base - width / 2)
    converted = rng.random(staff.size) < 1 / (1 + np.exp(-odds))
    frame = _frame([f"{v:.0f}" for v in staff], "staff")
    activities = ActivityFrame.from_records([], frame.ids)
    fit = calibrate_rules(
        CURRENT, frame, activities, converted, NOW, max_rules=6, seed=0, trends=True
    )
    written = parse_rules(fitted_text(CURRENT, fit, ["t"]), "fitted.yaml")
    assert np.abs(score(written, frame, activities, NOW).total - fit.scores).max() < 1e-9
