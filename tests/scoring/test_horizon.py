"""How far back the rules read each kind of activity: what a connector may leave unread."""

from __future__ import annotations

from pathlib import Path

from scoring import load_rules
from scoring.records import ActivityType as T
from scoring.rules import RuleSet

DEFAULT = Path(__file__).parents[2] / "scoring" / "rulesets" / "default.yaml"


def rules(*items: dict[str, object], stages: object = None) -> RuleSet:
    body: dict[str, object] = {"rules": list(items)}
    if stages is not None:
        body["stages"] = stages
    return RuleSet.model_validate(body)


def test_the_longest_window_of_the_rules_counting_a_type() -> None:
    ruleset = rules(
        {"id": "opened", "activity": "email_open", "points": 2, "window_days": 90},
        {"id": "clicked", "activity": "email_click", "points": 5, "window_days": 120},
        {"id": "visited", "activity": "page_view", "points": 1, "window_days": 400},
    )
    assert ruleset.horizon_days([T.EMAIL_OPEN]) == 90
    assert ruleset.horizon_days([T.EMAIL_OPEN, T.EMAIL_CLICK]) == 120
    assert ruleset.horizon_days([T.PURCHASE]) == 0


def test_a_rule_without_a_window_reads_everything_even_with_a_half_life() -> None:
    ruleset = rules(
        {"id": "opened", "activity": "email_open", "points": 2, "window_days": 90},
        {"id": "faded", "activity": "email_open", "points": 2, "half_life_days": 30},
    )
    assert ruleset.horizon_days([T.EMAIL_OPEN]) is None


def test_a_stage_condition_on_activity_widens_the_horizon() -> None:
    ladder = {
        "ladder": [
            {"name": "lead"},
            {"name": "buyer", "when": {"any": [{"has_activity": "purchase", "within_days": 700}]}},
        ]
    }
    ruleset = rules(
        {"id": "bought", "activity": "purchase", "points": 9, "window_days": 30}, stages=ladder
    )
    assert ruleset.horizon_days([T.PURCHASE]) == 700


def test_the_default_rules_read_every_email_departure_ever() -> None:
    """Unsubscribes, bounces and spam reports count whenever they happened."""
    ruleset = load_rules(DEFAULT)
    assert ruleset.horizon_days([T.EMAIL_UNSUBSCRIBE]) is None
    assert ruleset.horizon_days([T.EMAIL_OPEN]) == 90
