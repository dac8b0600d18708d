"""Reasons: every rule that fired, largest first, adding up to the score."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring import whole_points
from scoring.explain import apportion
from tests.helpers import act, person, rules, score_one

RULES = rules(
    """
    dimensions:
      fit: {}
      engagement: {cap: 20}
      activity: {}
    rules:
      - {id: open, label: opened an email, activity: email_open, points: 10}
      - {id: question, label: asked a question, activity: question, points: 50}
      - {id: guide, activity: content_download, points: 30, half_life_days: 30}
      - {id: free_email, label: free email, contact: {email_free: true}, points: -10}
    """
)


def test_reasons_are_sorted_by_weight_and_read_like_the_crm_field() -> None:
    activities = [act("question", 1), act("content_download", 30), act("email_open", 2)]

    batch = score_one(RULES, person(email="kim@gmail.com"), activities)

    assert batch.reasons_text(0) == (
        "+50 asked a question · +15 guide (decayed from 30) · +10 opened an email · -10 free email"
    )


def test_dimension_cap_appears_as_its_own_reason_so_reasons_sum_to_the_score() -> None:
    activities = [act("email_open", d) for d in (1, 2, 3, 4)]

    batch = score_one(RULES, person(), activities)
    reasons = batch.reasons(0)

    texts = [reason.describe(points) for reason, points in batch.explained(0)]
    assert texts == ["+40 opened an email ×4", "-20 engagement capped at 20"]
    assert sum(r.points for r in reasons) == pytest.approx(batch.total[0]) == 20


def test_row_has_every_output_column() -> None:
    batch = score_one(RULES, person(), [act("question", 1)])

    assert batch.row(0) == {
        "id": "c1",
        "email": "ann@acme.io",
        "score": 50.0,
        "fit": 0.0,
        "engagement": 0.0,
        "activity": 50.0,
        "grade": None,
        "stage": None,
        "disqualified": False,
        "lead": True,
        "reasons": "+50 asked a question",
    }


def test_once_rule_reason_does_not_multiply() -> None:
    ruleset = rules("rules:\n  - {id: pricing, activity: page_view, points: 25, once: true}\n")
    batch = score_one(ruleset, person(), [act("page_view", 1), act("page_view", 2)])
    assert batch.reasons_text(0) == "+25 pricing"


def test_reasons_beyond_the_limit_are_summed_so_the_text_adds_up_to_the_score() -> None:
    activities = [act("question", 1), act("content_download", 30), act("email_open", 2)]

    batch = score_one(RULES, person(email="kim@gmail.com"), activities)

    assert batch.reasons_text(0, limit=2) == (
        "+50 asked a question · +15 guide (decayed from 30) · +0 from 2 more"
    )


def test_a_text_too_long_shows_fewer_reasons_never_a_cut_one() -> None:
    activities = [act("question", 1), act("content_download", 30), act("email_open", 2)]
    batch = score_one(RULES, person(email="kim@gmail.com"), activities)

    text = batch.reasons_text(0, max_chars=45)

    assert text == "+50 asked a question · +15 from 3 more"


@given(st.lists(st.floats(-500, 500, allow_nan=False), max_size=12))
def test_apportioned_whole_points_always_add_up_to_the_whole_sum(points: list[float]) -> None:
    total = whole_points(sum(points))

    parts = apportion(points, total)

    assert sum(parts) == total
    assert all(abs(part - value) < 1 for part, value in zip(parts, points, strict=True))
