"""The fields written back: their names and types, their text, and when a write is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.hubspot import CAPABILITIES
from scoring import Activity, score_records
from sync.fields import FieldMap
from tests.helpers import NOW, act, person, rules

FULL = rules(
    """
    dimensions:
      fit: {label: Profile fit}
      engagement: {}
    rules:
      - {id: vp, contact: {title: VP}, points: 30.4}
      - {id: open, activity: email_open, points: 5, half_life_days: 10}
      - {id: click, activity: email_click, points: 2}
      - {id: spam, activity: email_spam_report, points: -50, disqualify: true}
    grades:
      dimension: fit
      bands: [{grade: A, min: 30}, {grade: B, min: 10}]
    stages:
      ladder: [{name: Lead}, {name: MQL, when: {min: {total: 60}}}]
    """
)
PLAIN = rules("rules: [{id: visit, activity: page_view, points: 10}]")


def field_values(
    activities: list[Activity], scored_at: datetime = NOW, **attributes: Any
) -> dict[str, str]:
    batch = score_records(FULL, [person(**attributes)], activities, scored_at)
    return FieldMap.for_rules(FULL, CAPABILITIES).values(batch, 0, scored_at)


# -- the fields -----------------------------------------------------------------------------------


def test_a_rule_set_gives_score_dimensions_grade_stage_reasons_and_time_fields() -> None:
    fields = FieldMap.for_rules(FULL, CAPABILITIES)

    assert [(s.key, s.name, s.kind, s.options) for s in fields.specs] == [
        ("score", "leadscore_score", "number", ()),
        ("fit", "leadscore_fit", "number", ()),
        ("engagement", "leadscore_engagement", "number", ()),
        ("grade", "leadscore_grade", "enumeration", ("A", "B")),
        ("stage", "leadscore_stage", "enumeration", ("Lead", "MQL")),
        ("disqualified", "leadscore_disqualified", "boolean", ()),
        ("reasons", "leadscore_reasons", "text", ()),
        ("scored_at", "leadscore_scored_at", "datetime", ()),
    ]
    assert fields.specs[1].label == "Lead score: Profile fit"


def test_grade_and_stage_fields_exist_only_when_the_rule_set_has_them() -> None:
    fields = FieldMap.for_rules(PLAIN, CAPABILITIES)

    assert list(fields.names) == [
        "score",
        "fit",
        "activity",
        "engagement",
        "disqualified",
        "reasons",
        "scored_at",
    ]


def test_field_names_follow_the_prefix_unless_overridden() -> None:
    fields = FieldMap.for_rules(
        PLAIN, CAPABILITIES, prefix="ls_", names={"score": "hubspotscore_custom"}
    )

    assert fields.names == {
        "score": "hubspotscore_custom",
        "fit": "ls_fit",
        "activity": "ls_activity",
        "engagement": "ls_engagement",
        "disqualified": "ls_disqualified",
        "reasons": "ls_reasons",
        "scored_at": "ls_scored_at",
    }


# -- their values ---------------------------------------------------------------------------------


def test_values_are_whole_numbers_and_names_as_text() -> None:
    values = field_values([act("email_open", 1), act("email_click", 1)], title="VP")

    assert values == {
        "leadscore_score": "37",
        "leadscore_fit": "30",
        "leadscore_engagement": "7",
        "leadscore_grade": "A",
        "leadscore_stage": "Lead",
        "leadscore_disqualified": "false",
        "leadscore_reasons": "+30 vp · +5 open · +2 click",
        "leadscore_scored_at": "2026-11-01T12:00:00Z",
        "~reasons": "click:1=2,open:1=5,vp:1=30|",  # kept in the store, never sent
    }


def test_no_grade_is_written_as_empty_text() -> None:
    assert field_values([])["leadscore_grade"] == ""


def test_reasons_show_whole_points_that_add_up_to_the_written_score() -> None:
    activities = [act("email_open", 10), act("email_open", 1), act("email_click", 1)]

    values = field_values([*activities, act("email_click", 2)], title="VP")
    reasons = values["leadscore_reasons"]

    # 30.4 + 7.17 + 4 = 41.57, written as 42: the largest remainder (vp's .4) takes the point
    assert values["leadscore_score"] == "42"
    assert reasons == "+31 vp · +7 open ×2 (decayed from 10) · +4 click ×2"


def test_a_disqualified_contact_is_written_below_every_qualified_one_and_says_why() -> None:
    activities = [act("email_click", 2), act("email_spam_report", 1), act("email_open", 1)]

    values = field_values(activities, title="VP")

    # 30 + 5 + 2 - 50 = -13 points; the written score is the disqualified one
    assert values["leadscore_score"] == "-1000"
    assert values["leadscore_disqualified"] == "true"
    assert values["leadscore_reasons"] == (
        "DISQUALIFIED: spam (score -1000; -13 points before)"
        " · -50 spam (disqualifies) · +30 vp · +5 open · +2 from 1 more"
    )


def test_a_qualified_contact_is_never_written_at_or_below_the_disqualified_score() -> None:
    activities = [act("email_open", 1)] * 3
    deep = rules("rules: [{id: bounce, activity: email_open, points: -400}]")
    batch = score_records(deep, [person()], activities, NOW)

    values = FieldMap.for_rules(deep, CAPABILITIES).values(batch, 0, NOW)

    assert values["leadscore_score"] == "-999"
    assert values["leadscore_disqualified"] == "false"
    assert values["leadscore_reasons"] == (
        "LOWEST SCORE -999 (score -999; -1200 points before) · -1200 bounce ×3"
    )


def test_every_field_tells_a_rep_what_it_holds() -> None:
    about = {s.key: s.description for s in FieldMap.for_rules(FULL, CAPABILITIES).specs}

    assert "sum of the dimension scores (Profile fit, engagement)" in about["score"]
    assert "-1000" in about["score"] and "-1000" in about["disqualified"]
    assert "add up to Lead score" in about["reasons"] and "decayed from" in about["reasons"]
    assert about["grade"] == "A letter for fit alone: A 30+, B 10+."
    assert "Lead > MQL" in about["stage"]
    assert all(text and not text.startswith("leadscore:") for text in about.values())


def test_scoring_time_is_written_to_the_second_in_utc_with_z() -> None:
    moment = datetime(2026, 11, 1, 12, 0, 30, 750000, tzinfo=UTC)

    assert field_values([], scored_at=moment)["leadscore_scored_at"] == "2026-11-01T12:00:30Z"


# -- when a write is due --------------------------------------------------------------------------


def test_a_first_write_is_always_due() -> None:
    assert FieldMap.for_rules(FULL, CAPABILITIES).differs(field_values([]), None)


def test_a_new_scoring_time_alone_is_no_change() -> None:
    activities = [act("email_open", 1)]
    before = field_values(activities)

    after = field_values(activities, scored_at=NOW + timedelta(hours=1))

    assert after["leadscore_scored_at"] != before["leadscore_scored_at"]
    assert not FieldMap.for_rules(FULL, CAPABILITIES).differs(after, before)


def test_any_other_changed_value_is_a_change() -> None:
    before = field_values([act("email_open", 1)])

    after = field_values([act("email_open", 1), act("email_click", 1)], NOW + timedelta(hours=1))

    assert FieldMap.for_rules(FULL, CAPABILITIES).differs(after, before)
    assert FieldMap.for_rules(FULL, CAPABILITIES).differs(
        {**before, "leadscore_grade": "A"}, before
    )


def test_same_compares_every_field_but_the_scoring_time() -> None:
    fields = FieldMap.for_rules(
        rules("rules:\n  - {id: v, activity: page_view, points: 1}\n"), CAPABILITIES
    )
    base = {"leadscore_score": "1", "leadscore_scored_at": "2026-01-01T00:00:00Z"}

    assert fields.same(base, {**base, "leadscore_scored_at": "2027-01-01T00:00:00Z"})
    assert not fields.same(base, {**base, "lifecyclestage": "lead"})  # a field more
    assert not fields.same({**base, "lifecyclestage": "lead"}, base)  # a field less
    assert not fields.same(base, {**base, "leadscore_score": "2"})


def test_written_dimensions_add_up_to_the_written_score() -> None:
    activities = [act("email_open", 10), act("email_open", 1), act("email_click", 1)]

    values = field_values(activities, title="VP")

    # fit 30.4 and engagement 9.17 are 39.57, written as 40: fit takes the point (31 and 9)
    dimensions = int(values["leadscore_fit"]) + int(values["leadscore_engagement"])
    assert dimensions == int(values["leadscore_score"]) == 40
    assert (values["leadscore_fit"], values["leadscore_engagement"]) == ("31", "9")
