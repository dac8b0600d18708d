"""The three worked examples of the specification, with the shipped example rule sets."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from scoring import load_rules, score_records
from tests.helpers import act, days_ago, person

NOW = datetime(2026, 11, 1, tzinfo=UTC)
EXAMPLES = Path(__file__).parents[2] / "examples"


def test_thibault_scores_110_points_over_two_weeks() -> None:
    rules = load_rules(EXAMPLES / "thibault.yaml")
    tuesday = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
    wednesday = datetime(2026, 11, 4, 14, 0, tzinfo=UTC)
    friday = datetime(2026, 11, 6, 11, 0, tzinfo=UTC)
    next_week = datetime(2026, 11, 10, 16, 0, tzinfo=UTC)
    activities = [
        act("social_click", tuesday, network="linkedin"),
        act("page_view", wednesday, url="/"),
        act("content_download", friday, asset="buyers-guide.pdf"),
        act("question", next_week, channel="linkedin"),
    ]

    batch = score_records(rules, [person(first_name="Thibault")], activities, next_week)

    assert batch.total[0] == 110
    assert batch.reasons_text(0) == (
        "+50 asked a question · +30 guide · +15 site visit · +15 social post click"
    )


def _prospect_who_filled_a_form(page_views: int) -> list:
    return [
        act("form_submission", 3, form="contact-us"),
        act("email_open", 2.9, campaign="autoresponder"),
        act("email_click", 2.8, campaign="autoresponder"),
    ] + [act("page_view", 2 - i * 0.1, url=f"/page/{i}") for i in range(page_views)]


def test_three_dimensions_gate_the_lead_stage() -> None:
    rules = load_rules(EXAMPLES / "three_dimensions.yaml")
    contact = person(job_function="Marketing")

    batch = score_records(rules, [contact], _prospect_who_filled_a_form(4), NOW)

    assert batch.dimension("fit")[0] == 25
    assert batch.dimension("activity")[0] == 30
    assert batch.dimension("engagement")[0] == 10
    assert batch.total[0] == 65
    assert batch.stage(0) == "Lead"


def test_three_dimensions_one_page_short_stays_a_prospect() -> None:
    rules = load_rules(EXAMPLES / "three_dimensions.yaml")
    contact = person(job_function="Marketing")

    batch = score_records(rules, [contact], _prospect_who_filled_a_form(3), NOW)

    assert batch.dimension("activity")[0] == 25
    assert batch.stage(0) == "Prospect"


@pytest.mark.parametrize(
    ("contact", "activities", "stage"),
    [
        (person(email=None), [act("page_view", 1)] * 5, "Prospect"),
        (person(), [act("page_view", i) for i in range(1, 5)], "Lead"),
        (person(), [act("meeting", 1)], "Qualified lead"),
        (person(), [act("demo_request", 1)], "Qualified lead"),
        (person(demo_done="yes"), [act("meeting", 1)], "Imminent opportunity"),
        (
            person(
                budget=50000, seniority="VP", pain_point="manual reports", timeframe="this quarter"
            ),
            [],
            "Imminent opportunity",
        ),
        (person(follow_up_done=True), [act("meeting", 2)], "Opportunity"),
        (person(), [act("quote_sent", 1)], "Quote"),
        (person(), [act("purchase", 1)], "Won"),
        (person(customer=True), [], "Won"),
    ],
)
def test_seven_stage_ladder_places_each_contact(contact, activities, stage) -> None:
    rules = load_rules(EXAMPLES / "seven_stages.yaml")

    batch = score_records(rules, [contact], activities, NOW)

    assert batch.stage(0) == stage


def test_seven_stage_ladder_never_moves_back_down() -> None:
    rules = load_rules(EXAMPLES / "seven_stages.yaml")
    already_quoted = person(stage="Quote")

    batch = score_records(rules, [already_quoted], [act("page_view", 1)], NOW)

    assert batch.stage(0) == "Quote"


def test_interests_make_analytics_the_top_interest_with_27_5_points() -> None:
    rules = load_rules(EXAMPLES / "interests.yaml")
    activities = [
        act("page_view", days_ago(0, NOW), url="https://www.example.com/product/analytics"),
        act(
            "page_view", days_ago(14, NOW), url="https://www.example.com/product/analytics?ref=mail"
        ),
        act("page_view", days_ago(28, NOW), url="https://www.example.com/blog/analytics-for-sales"),
        act("page_view", days_ago(7, NOW), url="https://www.example.com/pricing"),
        act("email_click", days_ago(0, NOW), campaign="c-81", campaign_title="Analytics launch"),
    ]

    batch = score_records(rules, [person(first_name="Ines")], activities, NOW)

    assert batch.interests is not None
    assert batch.interests.row(0) == {
        "top_interest": "analytics",
        "interest_score": 27.5,
        "interest_analytics": 27.5,
        "interest_pricing": 15.0,
    }
    assert batch.interests.reasons(0) == ["Analytics 28 (×4, decayed from 40)", "pricing 15"]
