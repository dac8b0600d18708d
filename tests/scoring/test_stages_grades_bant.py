"""Stage ladders (forward only, sales-owned stages kept), grades and BANT."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring import score_records
from tests.helpers import NOW, act, person, rules, score_one

LADDER = rules(
    """
    rules:
      - {id: visit, activity: page_view, points: 10}
      - {id: spam, activity: email_spam_report, points: -5, disqualify: true}
    bant:
      budget: {budget: {gte: 10000}}
      authority: {seniority: [VP, Director]}
      need: {pain_point: {exists: true}}
      timeframe: {timeframe: [this quarter]}
    stages:
      current_field: stage
      ladder:
        - name: Prospect
        - name: MQL
          when: {min: {total: 30}, has_email: true}
        - name: SAL
          when: {bant_min: 3}
        - name: SQL
          owner: sales
          when: {has_activity: meeting, within_days: 30}
        - name: Won
          owner: sales
          when: {has_activity: purchase}
    """
)


def stage_of(activities: list, **attributes: object) -> str | None:
    return score_one(LADDER, person(**attributes), activities).stage(0)


def test_contact_sits_on_the_highest_stage_whose_conditions_hold() -> None:
    assert stage_of([]) == "Prospect"
    assert stage_of([act("page_view", d) for d in (1, 2, 3)]) == "MQL"
    assert stage_of([act("meeting", 3)]) == "SQL"
    assert stage_of([act("meeting", 31)]) == "Prospect"


def test_stage_never_moves_back_on_its_own() -> None:
    assert stage_of([], stage="MQL") == "MQL"
    assert stage_of([], stage="mql") == "MQL"


def test_stage_moves_forward_from_a_marketing_stage() -> None:
    assert stage_of([act("meeting", 1)], stage="MQL") == "SQL"


def test_sales_owned_stage_is_never_overwritten() -> None:
    assert stage_of([act("purchase", 1)], stage="SQL") == "SQL"


def test_unknown_current_stage_is_ignored() -> None:
    assert stage_of([act("page_view", d) for d in (1, 2, 3)], stage="customer-ish") == "MQL"


def test_disqualified_contact_is_not_advanced() -> None:
    engaged = [act("page_view", d) for d in (1, 2, 3, 4)]
    assert stage_of([*engaged, act("email_spam_report", 1)]) == "Prospect"
    assert stage_of([*engaged, act("email_spam_report", 1)], stage="MQL") == "MQL"


def test_bant_counts_the_criteria_met_and_gates_a_stage() -> None:
    batch = score_one(LADDER, person(budget="25000", seniority="VP", pain_point="churn"), [])

    assert batch.bant_names == ["budget", "authority", "need", "timeframe"]
    assert batch.bant_met[0].tolist() == [True, True, True, False]
    assert batch.stage(0) == "SAL"
    assert batch.row(0)["bant"] == 3


def test_stage_with_any_needs_one_branch() -> None:
    ruleset = rules(
        """
        rules: [{id: visit, activity: page_view, points: 1}]
        stages:
          ladder:
            - name: New
            - name: Qualified
              when:
                any:
                  - has_activity: [sales_touch, meeting]
                  - {has_activity: demo_request, contact: {country: FR}}
        """
    )
    assert score_one(ruleset, person(), [act("sales_touch", 1)]).stage(0) == "Qualified"
    assert (
        score_one(ruleset, person(country="FR"), [act("demo_request", 1)]).stage(0) == "Qualified"
    )
    assert score_one(ruleset, person(country="US"), [act("demo_request", 1)]).stage(0) == "New"


GRADED = rules(
    """
    rules:
      - {id: size, contact: {employees: {gte: 0}}, points: 1}
      - {id: big, contact: {employees: {gte: 200}}, points: 59}
      - {id: mid, contact: {employees: {between: [50, 199]}}, points: 39}
    grades:
      dimension: fit
      bands:
        - {grade: A, min: 60}
        - {grade: B, min: 40}
        - {grade: C, min: 1}
        - {grade: D}
    """
)


@pytest.mark.parametrize(("employees", "grade"), [(500, "A"), (100, "B"), (3, "C"), (None, "D")])
def test_grades_follow_the_fit_dimension(employees: int | None, grade: str) -> None:
    assert score_one(GRADED, person(employees=employees), []).grade(0) == grade


def test_grade_is_empty_below_the_last_band_with_a_minimum() -> None:
    ruleset = rules(
        """
        rules: [{id: size, contact: {employees: {gte: 100}}, points: 50}]
        grades: {bands: [{grade: A, min: 50}]}
        """
    )
    assert score_one(ruleset, person(employees=5), []).grade(0) is None


def test_contacts_on_a_stage_that_is_not_a_lead_rank_after_every_lead() -> None:
    ladder = rules(
        """
        rules: [{id: visit, activity: page_view, points: 10}]
        stages:
          ladder:
            - {name: Prospect}
            - {name: Customer, lead: false, when: {contact: {lifecycle_stage: customer}}}
        """
    )
    people = [person("a"), person("b", lifecycle_stage="customer"), person("c")]
    activities = [act("page_view", 1, "b"), act("page_view", 2, "b"), act("page_view", 1, "c")]

    batch = score_records(ladder, people, activities, NOW)

    assert batch.leads.tolist() == [True, False, True]
    assert [batch.contact_ids[r] for r in batch.ranking()] == ["c", "a", "b"]


HELD = rules(
    """
    rules:
      - {id: visit, activity: page_view, points: 10}
    stages:
      ladder:
        - name: Prospect
        - name: Met
          when:
            has_activity: [meeting, sales_touch]
            within_days: 30
            where: {outcome: {one_of: [completed, connected], or_missing: true}}
    """
)


@pytest.mark.parametrize(
    ("activity", "expected"),
    [
        (act("meeting", 3, outcome="completed"), "Met"),
        (act("meeting", 3), "Met"),
        (act("meeting", 3, outcome="no_show"), "Prospect"),
        (act("meeting", 3, outcome="canceled"), "Prospect"),
        (act("meeting", 3, outcome="scheduled"), "Prospect"),
        (act("meeting", -3), "Prospect"),  # in the future: not held yet
        (act("meeting", 40, outcome="completed"), "Prospect"),  # outside within_days
        (act("sales_touch", 3, outcome="connected"), "Met"),
        (act("sales_touch", 3, outcome="no_answer"), "Prospect"),
    ],
)
def test_stage_has_activity_where_reads_the_activities_fields(
    activity: object, expected: str
) -> None:
    assert score_one(HELD, person(), [activity]).stage(0) == expected  # type: ignore[list-item]


def test_stage_where_needs_has_activity() -> None:
    from scoring import RuleFileError

    with pytest.raises(RuleFileError, match="`where` needs `has_activity`"):
        rules(
            """
            rules: [{id: v, activity: page_view, points: 1}]
            stages:
              ladder:
                - name: P
                - name: Q
                  when: {min: {total: 1}, where: {outcome: completed}}
            """
        )


def test_stage_where_fields_are_activity_fields_the_rules_read() -> None:
    assert "outcome" in HELD.activity_fields()
    assert "outcome" not in HELD.contact_fields()


OUTCOMES = [None, "completed", "connected", "no_show", "canceled", "rescheduled", "scheduled"]


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["meeting", "sales_touch", "page_view"]),
            st.sampled_from(OUTCOMES),
            st.integers(min_value=-10, max_value=60),
        ),
        max_size=6,
    )
)
def test_stage_where_holds_exactly_when_one_activity_matches_every_part(
    drawn: list[tuple[str, str | None, int]],
) -> None:
    activities = [
        act(kind, days, **({} if outcome is None else {"outcome": outcome}))
        for kind, outcome, days in drawn
    ]
    expected = any(
        kind in ("meeting", "sales_touch")
        and outcome in (None, "completed", "connected")
        and 0 <= days <= 30
        for kind, outcome, days in drawn
    )
    assert (score_one(HELD, person(), activities).stage(0) == "Met") is expected
