"""Measuring rules: points per unit, buckets, count thresholds, absence, windows since a
contact's date; their scores, their reasons and how their shape is checked."""

from __future__ import annotations

from pathlib import Path

import pytest

from scoring import RuleFileError, load_rules
from tests.helpers import NOW, act, person, rules, score_one, total, unwrapped


def _reasons(ruleset_text: str, contact=None, activities=()) -> str:
    batch = score_one(rules(ruleset_text), contact or person(), list(activities))
    return batch.reasons_text(0)


TIME_ON_SITE = (
    "rules:\n  - {id: tos, label: time on site, value: time_on_site, per: 60, points: 2, "
    "cap: 30, unit: s}\n"
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (59, 0),  # not one whole minute
        (60, 2),
        (300, 10),
        (359.9, 10),  # whole units only
        ("300", 10),  # text from a CSV reads as a number
        ("1,200", 30),  # 20 minutes would be 40: capped at 30
        (10**7, 30),
        (-120, 0),  # no negative units
        ("lots", 0),  # not a number: missing
        (None, 0),
    ],
)
def test_points_per_unit_of_a_contact_value_floor_and_cap(value, expected) -> None:
    contact = person(time_on_site=value) if value is not None else person()
    assert total(rules(TIME_ON_SITE), [], contact) == expected


def test_per_unit_reason_shows_the_value_with_its_unit_and_the_cap() -> None:
    assert _reasons(TIME_ON_SITE, person(time_on_site=300)) == "+10 time on site (300 s)"
    assert (
        _reasons(TIME_ON_SITE, person(time_on_site=5000))
        == "+30 time on site (5000 s, capped at 30)"
    )


def test_points_per_unit_of_a_count_of_activities() -> None:
    ruleset = rules(
        "rules:\n  - {id: views, label: page views, activity: page_view, per: 3, points: 2, "
        "cap: 6, window_days: 30}\n"
    )
    views = [act("page_view", d) for d in (1, 2, 3, 4, 5, 40)]  # 5 in the window
    assert total(ruleset, views[:2]) == 0
    assert total(ruleset, views) == 2  # one whole unit of 3
    assert total(ruleset, [act("page_view", 1)] * 12) == 6  # 4 units, capped
    assert score_one(ruleset, person(), views).reasons_text(0) == "+2 page views (5)"


BUCKETS = (
    "rules:\n  - {id: tos, label: time on site, value: time_on_site, "
    "buckets: [[0, 0, -10], [1, 300, 5], [300, null, 25]]}\n"
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, -10), (0.5, 0), (1, 5), (299.99, 5), (300, 25), (10**9, 25), (-1, 0), ("x", 0)],
)
def test_buckets_own_their_low_end_not_their_high_end(value, expected) -> None:
    assert total(rules(BUCKETS), [], person(time_on_site=value)) == expected


@pytest.mark.parametrize(("value", "expected"), [(49, 0), (50, 10), (4999, 10), (5000, 0)])
def test_a_value_at_the_high_end_of_the_last_bucket_is_in_no_bucket(value, expected) -> None:
    text = "rules:\n  - {id: size, value: employees, buckets: [[50, 5000, 10]]}\n"
    assert total(rules(text), [], person(employees=value)) == expected


def test_buckets_on_a_count_include_contacts_with_none() -> None:
    text = (
        "rules:\n  - {id: views, label: page views, activity: page_view, window_days: 7, "
        "buckets: [[0, 0, -10], [1, 3, 5], [3, null, 25]]}\n"
    )
    assert total(rules(text), []) == -10
    assert total(rules(text), [act("page_view", 30)]) == -10  # outside the window
    assert total(rules(text), [act("page_view", 1), act("page_view", 2)]) == 5
    assert _reasons(text, activities=[act("page_view", d) for d in (1, 2, 3)]) == (
        "+25 page views (3)"
    )
    assert _reasons(text) == "-10 page views (0)"


def test_min_count_fires_once_at_the_threshold_within_the_window() -> None:
    text = (
        "rules:\n  - {id: keen, label: keen reader, activity: page_view, min_count: 3, "
        "points: 8, window_days: 10}\n"
    )
    assert total(rules(text), [act("page_view", d) for d in (1, 2)]) == 0
    assert total(rules(text), [act("page_view", d) for d in (1, 2, 12)]) == 0
    assert total(rules(text), [act("page_view", d) for d in (1, 2, 3, 4, 5)]) == 8
    shown = _reasons(text, activities=[act("page_view", d) for d in (1, 2, 3, 4)])
    assert shown == "+8 keen reader (4)"


def test_absence_gives_points_when_nothing_of_those_types_is_recent() -> None:
    text = (
        "rules:\n  - {id: quiet, label: gone quiet, absent: {activity: [page_view, email_open],"
        " days: 90}, points: -15}\n"
    )
    assert total(rules(text), []) == -15
    assert total(rules(text), [act("page_view", 100), act("email_click", 1)]) == -15
    assert total(rules(text), [act("email_open", 90)]) == 0  # the boundary day counts
    assert total(rules(text), [act("page_view", -1)]) == -15  # after the moment: unseen
    assert _reasons(text) == "-15 gone quiet (none in 90 days)"
    assert rules(text).rules[0].default_dimension() == "activity"


def test_absence_respects_where_and_contact_conditions() -> None:
    text = """
    rules:
      - id: no_pricing
        absent: {activity: page_view, days: 30}
        where: {url: {contains: pricing}}
        contact: {industry: SaaS}
        points: -5
    """
    saas = person(industry="SaaS")
    assert total(rules(text), [act("page_view", 1, url="/blog")], saas) == -5
    assert total(rules(text), [act("page_view", 1, url="/pricing")], saas) == 0
    assert total(rules(text), [], person(industry="Retail")) == 0


def test_a_window_since_a_contact_date_counts_days_after_it() -> None:
    text = (
        "rules:\n  - {id: early, label: early visit, activity: page_view, since: created_at, "
        "window_days: 7, points: 3}\n"
    )
    created = person(created_at="2026-10-20")  # NOW is 2026-11-01 12:00 UTC
    # Oct 31, Oct 27 12:00 (7.5 days after), Oct 27 00:00 (7 days after: the boundary day
    # counts), Oct 24 12:00, Oct 20 00:00 exactly, Oct 19 (before)
    views = [act("page_view", d) for d in (1, 5, 5.5, 8, 12.5, 13.5)]
    assert total(rules(text), views, created) == 9
    assert total(rules(text), views, person(created_at="not a date")) == 0
    assert total(rules(text), views, person()) == 0
    assert total(rules(text), views, person(created_at="2026-10-20T00:00:00+02:00")) == 6
    # as of Oct 24 11:00 the view of Oct 24 12:00 has not happened yet
    early = NOW.replace(day=24, month=10, hour=11)
    assert float(score_one(rules(text), created, views, early).total[0]) == 3


def test_contact_conditions_limit_who_a_value_rule_scores() -> None:
    text = (
        "rules:\n  - {id: big, value: employees, contact: {industry: SaaS}, "
        "buckets: [[50, 5000, 10]]}\n"
    )
    assert total(rules(text), [], person(industry="SaaS", employees=120)) == 10
    assert total(rules(text), [], person(industry="Retail", employees=120)) == 0


def test_a_disqualifying_measure_disqualifies_where_it_fires() -> None:
    text = "rules:\n  - {id: flood, activity: form_submission, min_count: 3, disqualify: true}\n"
    batch = score_one(rules(text), person(), [act("form_submission", d) for d in (1, 2, 3)])
    assert bool(batch.disqualified[0])
    assert not bool(score_one(rules(text), person(), []).disqualified[0])


def test_the_fields_the_new_rules_read_are_pulled_and_their_horizons_known() -> None:
    ruleset = rules(
        """
        rules:
          - {id: tos, value: time_on_site, per: 60, points: 1, cap: 5}
          - {id: early, activity: page_view, since: created_at, window_days: 7, points: 3}
          - {id: quiet, absent: {activity: email_open, days: 90}, points: -5}
        """
    )
    assert ruleset.contact_fields() == ["time_on_site", "created_at"]
    assert ruleset.horizon_days(["email_open"]) == 90
    assert ruleset.horizon_days(["page_view"]) is None  # since a date: any age


BAD = [
    (
        "{id: a, value: '', per: 1, points: 1, cap: 3}",
        "rules[0].value: String should have at least 1",
    ),
    (
        "{id: a, activity: page_view, min_count: true, points: 3}",
        "rules[0].min_count: Input should be a valid integer",
    ),
    (
        "{id: a, activity: page_view, since: '', window_days: 3, points: 1}",
        "rules[0].since: String should have at least 1",
    ),
    ("{id: a, value: x, per: 0, points: 1, cap: 3}", "rules[0].per: Input should be greater"),
    ("{id: a, value: x, per: 5, points: 1}", "rules[0].per: `per` needs a `cap`"),
    ("{id: a, value: x, points: 1}", "rules[0].value: `value` needs either `per`"),
    ("{id: a, value: x, per: 5, buckets: [[0, 1, 1]], points: 1, cap: 3}", "rules[0].value"),
    (
        "{id: a, activity: page_view, buckets: [[0, 5, 1], [3, null, 2]]}",
        "rules[0].buckets[1]: bucket starting at 3 overlaps the one before (up to 5)",
    ),
    (
        "{id: a, activity: page_view, buckets: [[0, 0, 1], [0, 3, 2]]}",
        "rules[0].buckets[1]: bucket starting at 0 overlaps the one before (up to 0, included)",
    ),
    ("{id: a, value: x, buckets: [[5, 1, 1]]}", "rules[0].buckets[0]: high 1 is below low 5"),
    ("{id: a, value: x, buckets: [[0, null, 1], [5, 9, 1]]}", "rules[0].buckets[0]: only the"),
    ("{id: a, value: x, buckets: [[0, 1, 0]]}", "rules[0].buckets: every bucket gives 0"),
    ("{id: a, value: x, buckets: [[0, 1]]}", "rules[0].buckets[0]"),
    ("{id: a, value: x, buckets: [[0, 1, 2]], points: 3}", "rules[0].points: buckets give"),
    (
        "{id: a, activity: page_view, min_count: 2, once: true, points: 3}",
        "rules[0].once: `once` and `min_count` exclude each other",
    ),
    ("{id: a, activity: page_view, min_count: 0, points: 3}", "rules[0].min_count"),
    (
        "{id: a, activity: page_view, min_count: 2, per: 2, points: 3, cap: 9}",
        "rules[0].min_count: `per` and `min_count` exclude each other",
    ),
    (
        "{id: a, activity: page_view, min_count: 2, half_life_days: 9, points: 3}",
        "rules[0].half_life_days",
    ),
    (
        "{id: a, activity: page_view, since: created_at, points: 3}",
        "rules[0].since: `since` needs `window_days`",
    ),
    ("{id: a, contact: {x: 1}, since: created_at, points: 3}", "rules[0].since: `since` measures"),
    (
        "{id: a, absent: {activity: page_view, days: 9}, activity: email_open, points: 3}",
        "rules[0].absent: `absent` names its own activity types",
    ),
    ("{id: a, absent: {activity: page_view, days: 0}, points: 3}", "rules[0].absent.days"),
    (
        "{id: a, absent: {activity: page_view, days: 9}, window_days: 3, points: 3}",
        "rules[0].window_days: `window_days` does not apply to `absent`",
    ),
    ("{id: a, absent: {activity: page_view}, points: 3}", "rules[0].absent.days: this field"),
    ("{id: a, contact: {x: 1}, unit: s, points: 3}", "rules[0].unit: `unit` is shown"),
    ("{id: a, value: x, per: 1, points: 1, cap: 3, once: true}", "rules[0].once: `once` applies"),
    ("{id: a, absent: {activity: page_view, days: 9}, once: true, points: 3}", "rules[0].once"),
    ("{id: a, min_count: 2, points: 3}", "rules[0]: a rule needs `activity` (behaviour)"),
]


@pytest.mark.parametrize(("rule", "expected"), BAD)
def test_bad_shapes_are_located_at_their_field(rule: str, expected: str) -> None:
    with pytest.raises(RuleFileError) as caught:
        rules(f"rules:\n  - {rule}\n")
    assert f"test.yaml:2: {expected}" in str(caught.value)


def test_validate_exits_2_with_the_line_of_the_overlapping_bucket(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from sync.cli import app

    path = tmp_path / "r.yaml"
    path.write_text(
        "rules:\n  - id: tos\n    value: time_on_site\n    buckets:\n"
        "      - [0, 300, 5]\n      - [200, null, 25]\n",
        "utf-8",
    )
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert f"{path}:6: rules[0].buckets[1]: bucket starting at 200 overlaps" in unwrapped(
        result.output
    )
    assert "Traceback" not in result.output


def test_a_cached_rule_file_with_measures_loads_as_the_file_does(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(BUCKETS + TIME_ON_SITE.removeprefix("rules:\n").replace("tos", "t2"), "utf-8")
    first = load_rules(path)
    assert list((tmp_path / "__pycache__").glob("r.yaml.*.json"))
    assert load_rules(path) == first  # the cached plain data, validated by today's models


def test_the_example_of_the_rule_reference_validates_and_scores_as_it_says() -> None:
    text = (Path(__file__).parents[2] / "docs" / "rules.md").read_text("utf-8")
    block = next(
        part.split("```")[0]
        for part in text.split("```yaml\n")
        if "id: time_on_site" in part.split("```")[0]
    )
    ruleset = rules(block)
    contact = person(time_on_site=300, created_at="2026-10-30")
    batch = score_one(ruleset, contact, [act("page_view", d, url="/pricing") for d in (1, 2, 3)])
    # sign-up on Oct 30: two of the three pricing views fall in its first week
    assert batch.reasons_text(0) == (
        "+20 early interest ×2 · +10 time on site (300 s) · +5 site visits (3) · +5 keen reader (3)"
    )


def test_a_disqualifying_unit_rule_without_points_scores_0_however_many_units() -> None:
    # 1e308 / 1e-300 overflows to infinitely many units; times 0 points that was NaN
    text = (
        "rules:\n  - {id: huge, value: tos, per: 1.0e-300, points: 0, cap: 5, disqualify: true}\n"
        "  - {id: known, contact: {tos: {exists: true}}, points: 3}\n"
    )
    batch = score_one(rules(text), person(tos="1e308"), [])
    assert float(batch.total[0]) == 3
    assert bool(batch.disqualified[0])
    assert batch.reasons_text(0).startswith("DISQUALIFIED")


def test_a_huge_value_is_shown_in_a_few_characters() -> None:
    shown = _reasons(TIME_ON_SITE, person(time_on_site="1e308"))
    assert shown == "+30 time on site (1e+308 s, capped at 30)"
    assert _reasons(TIME_ON_SITE, person(time_on_site="123456789012")) == (
        "+30 time on site (1.23457e+11 s, capped at 30)"
    )
