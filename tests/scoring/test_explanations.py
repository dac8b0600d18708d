"""Reasons: every rule that fired, largest first, adding up to the score."""

from __future__ import annotations

import pytest

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

    assert [r.text for r in reasons] == ["+40 opened an email ×4", "-20 engagement capped at 20"]
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
        "reasons": "+50 asked a question",
    }


def test_once_rule_reason_does_not_multiply() -> None:
    ruleset = rules("rules:\n  - {id: pricing, activity: page_view, points: 25, once: true}\n")
    batch = score_one(ruleset, person(), [act("page_view", 1), act("page_view", 2)])
    assert batch.reasons_text(0) == "+25 pricing"
