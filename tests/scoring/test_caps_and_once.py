"""Per-rule caps, once-only rules, per-dimension caps and floors, negative points."""

from __future__ import annotations

import pytest

from tests.helpers import act, person, rules, score_one, total


def test_rule_cap_limits_what_one_rule_gives() -> None:
    ruleset = rules("rules:\n  - {id: open, activity: email_open, points: 10, cap: 25}\n")
    assert total(ruleset, [act("email_open", d) for d in range(1, 6)]) == 25


def test_rule_cap_limits_negative_points_too() -> None:
    ruleset = rules("rules:\n  - {id: bounce, activity: email_bounce, points: -20, cap: 30}\n")
    assert total(ruleset, [act("email_bounce", d) for d in range(1, 4)]) == -30


def test_once_counts_only_the_most_recent_activity() -> None:
    ruleset = rules(
        "rules:\n  - {id: demo, activity: demo_request, points: 40, once: true, half_life_days: 10}\n"
    )
    assert total(ruleset, [act("demo_request", 20), act("demo_request", 10)]) == pytest.approx(20)


def test_once_without_decay_gives_the_points_once() -> None:
    ruleset = rules(
        "rules:\n  - {id: signup, activity: newsletter_signup, points: 20, once: true}\n"
    )
    assert total(ruleset, [act("newsletter_signup", d) for d in (1, 2, 3)]) == 20


def test_dimension_cap_and_floor_bound_the_sub_score_and_the_total() -> None:
    ruleset = rules(
        """
        dimensions:
          engagement: {cap: 30}
          fit: {floor: -10}
        rules:
          - {id: open, activity: email_open, points: 10}
          - {id: free_mail, contact: {email_free: true}, points: -25}
        """
    )
    batch = score_one(
        ruleset, person(email="x@gmail.com"), [act("email_open", d) for d in range(1, 6)]
    )

    assert batch.dimension("engagement")[0] == 30
    assert batch.dimension("fit")[0] == -10
    assert batch.total[0] == 20


def test_where_conditions_select_activities_by_attribute() -> None:
    ruleset = rules(
        """
        rules:
          - id: pricing
            activity: page_view
            where: {url: {contains: /pricing}}
            points: 25
        """
    )
    visits = [
        act("page_view", 1, url="/pricing/teams"),
        act("page_view", 1, url="/blog"),
        act("page_view", 1),
    ]
    assert total(ruleset, visits) == 25


def test_behaviour_rule_can_require_a_contact_condition() -> None:
    ruleset = rules(
        """
        rules:
          - {id: exec_visit, activity: page_view, contact: {seniority: [VP, C-level]}, points: 5}
        """
    )
    assert total(ruleset, [act("page_view", 1)], person(seniority="VP")) == 5
    assert total(ruleset, [act("page_view", 1)], person(seniority="Intern")) == 0


def test_one_rule_may_count_several_activity_types() -> None:
    ruleset = rules("rules:\n  - {id: talked, activity: [meeting, sales_touch], points: 7}\n")
    assert total(ruleset, [act("meeting", 1), act("sales_touch", 2), act("email_open", 1)]) == 14


def test_disqualification_flags_the_contact_and_keeps_the_points() -> None:
    ruleset = rules(
        """
        rules:
          - {id: visit, activity: page_view, points: 10}
          - {id: competitor, label: competitor, contact: {email_domain: [rival.io]}, disqualify: true}
          - {id: spam, activity: email_spam_report, points: -50, disqualify: true}
        """
    )
    rival = score_one(ruleset, person(email="spy@rival.io"), [act("page_view", 1)])
    spammer = score_one(ruleset, person(), [act("page_view", 1), act("email_spam_report", 1)])
    clean = score_one(ruleset, person(), [act("page_view", 1)])

    assert rival.disqualified[0] and rival.total[0] == 10
    assert rival.reasons_text(0, limit=1).startswith("DISQUALIFIED · +0 competitor (disqualifies)")
    assert spammer.disqualified[0] and spammer.total[0] == -40
    assert not clean.disqualified[0]
