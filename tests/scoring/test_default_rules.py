"""The default rule set on sales signals: only meetings held and calls that connected count."""

from __future__ import annotations

import pytest

from scoring import Activity, parse_rules
from scoring.loader import default_rules_text
from tests.helpers import act, person, score_one, total

DEFAULT = parse_rules(default_rules_text(), "default.yaml")


def rule_points(activities: list[Activity], rule_id: str) -> float:
    batch = score_one(DEFAULT, person(), activities)
    return batch.rule_row(0)[0][[r.id for r in DEFAULT.rules].index(rule_id)]


@pytest.mark.parametrize(
    ("outcome", "earns"),
    [
        ("completed", True),
        (None, True),
        ("no_show", False),
        ("canceled", False),
        ("rescheduled", False),
        ("scheduled", False),
    ],
)
def test_only_a_meeting_held_earns_meeting_points(outcome: str | None, earns: bool) -> None:
    attributes = {} if outcome is None else {"outcome": outcome}
    assert (rule_points([act("meeting", 2, **attributes)], "meeting_held") > 0) is earns


def test_a_meeting_still_to_come_earns_nothing() -> None:
    assert rule_points([act("meeting", -2)], "meeting_held") == 0


@pytest.mark.parametrize(
    ("outcome", "earns"),
    [("connected", True), (None, True), ("no_answer", False), ("left_voicemail", False)],
)
def test_only_a_call_that_connected_earns_conversation_points(
    outcome: str | None, earns: bool
) -> None:
    attributes = {} if outcome is None else {"outcome": outcome}
    assert (rule_points([act("sales_touch", 2, **attributes)], "sales_conversation") > 0) is earns


@pytest.mark.parametrize(
    ("outcome", "stage"),
    [("completed", "Sales qualified"), ("no_show", "Marketing qualified")],
)
def test_sales_qualified_needs_a_meeting_held(outcome: str, stage: str) -> None:
    fitting = person(industry="Software", employees=200, job_title="VP Marketing")
    activities = [act("demo_request", 5), act("meeting", 3, outcome=outcome)]
    assert score_one(DEFAULT, fitting, activities).stage(0) == stage


@pytest.mark.parametrize("function", ["Student", "Job seeker"])
def test_a_student_or_job_seeker_is_penalised_not_disqualified(function: str) -> None:
    profile = {"industry": "Software", "employees": 200}
    them = score_one(DEFAULT, person(job_function=function, **profile), [act("demo_request", 2)])
    other = score_one(DEFAULT, person(job_function="Finance", **profile), [act("demo_request", 2)])
    assert not them.disqualified[0]
    assert them.total[0] < other.total[0]
    assert them.stage(0) == other.stage(0) == "Marketing qualified"  # the hand-raise still counts


def test_points_follow_intent_from_a_page_view_to_a_demo_request() -> None:
    signals = ["page_view", "email_open", "email_click", "question", "meeting", "demo_request"]
    points = {kind: total(DEFAULT, [act(kind, 1)]) for kind in signals}
    assert points["email_open"] < points["email_click"]
    assert points["page_view"] < points["question"] < points["meeting"] < points["demo_request"]


def test_one_page_view_is_not_a_lead_but_coming_back_is() -> None:
    def stage(visits: int) -> str | None:
        views = [act("page_view", 1 + day) for day in range(visits)]
        return score_one(DEFAULT, person(), views).stage(0)

    assert stage(1) == "Prospect"
    assert stage(4) == "Lead"
