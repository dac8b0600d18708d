"""When a contact's written values may next change with no new data (`scoring.due_in`):
a bound the written values keep, whatever the rules and activities."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.hubspot import CAPABILITIES
from scoring import (
    Activity,
    ActivityFrame,
    ActivityType,
    ContactFrame,
    RuleSet,
    ScoreBatch,
    due_in,
    score,
)
from sync.fields import FieldMap
from tests.helpers import NOW, act, person, rules

TYPES = ["email_open", "email_click", "page_view", "form_submission", "meeting"]
DAY = 86_400.0


def scored(
    ruleset: RuleSet, contacts: list[Any], activities: list[Activity], moment: Any, reached: Any
) -> tuple[ScoreBatch, ActivityFrame]:
    frame = ContactFrame.from_records(contacts)
    acts = ActivityFrame.from_records(activities, frame.ids)
    return score(ruleset, frame, acts, moment, reached=reached), acts


@st.composite
def rule_sets(draw: st.DrawFn) -> RuleSet:
    amount = st.integers(-40, 60).map(lambda n: n / 2)
    dims: dict[str, Any] = {}
    for name in ("fit", "activity", "engagement"):
        dim: dict[str, Any] = {}
        if draw(st.booleans()):
            dim["cap"] = draw(st.integers(1, 80))
        if draw(st.booleans()):
            dim["floor"] = draw(st.integers(-40, 0))
        dims[name] = dim
    found = [{"id": "title", "contact": {"title": "VP"}, "points": draw(amount) or 3}]
    for index in range(draw(st.integers(1, 6))):
        rule: dict[str, Any] = {
            "id": f"r{index}",
            "activity": draw(st.sampled_from(TYPES)),
            "points": draw(amount) or 1.5,
            "dimension": draw(st.sampled_from(list(dims))),
        }
        kind = draw(st.sampled_from(["plain", "plain", "per", "buckets", "min", "absent"]))
        if kind == "plain" and draw(st.booleans()):
            rule["half_life_days"] = draw(st.floats(0.5, 60))
        if kind != "absent" and draw(st.booleans()):
            rule["window_days"] = draw(st.floats(0.5, 90))
            if draw(st.integers(0, 3)) == 0:
                rule["since"] = "created_at"
        if kind == "plain" and draw(st.booleans()):
            rule["once"] = True
        if kind == "per" or (kind == "plain" and draw(st.booleans())):
            rule["cap"] = draw(st.integers(1, 50))
        if kind == "per":
            rule["per"] = draw(st.integers(1, 3))
        elif kind == "buckets":
            del rule["points"]
            rule["buckets"] = [[0, 0, draw(amount)], [1, 3, draw(amount) or 2], [3, None, 7]]
        elif kind == "min":
            rule["min_count"] = draw(st.integers(1, 4))
        elif kind == "absent":
            rule["absent"] = {"activity": rule.pop("activity"), "days": draw(st.floats(0.5, 90))}
        if draw(st.integers(0, 5)) == 0:
            rule["disqualify"] = True
        found.append(rule)
    body: dict[str, Any] = {"dimensions": dims, "rules": found}
    grade_dim = draw(st.sampled_from(list(dims)))
    body["grades"] = {
        "dimension": grade_dim,
        "bands": [{"grade": "A", "min": 20}, {"grade": "B", "min": 5}, {"grade": "C"}],
    }
    body["stages"] = {
        "ladder": [
            {"name": "Lead"},
            {"name": "MQL", "when": {"min": {"total": draw(st.integers(0, 60))}}},
            {
                "name": "SQL",
                "when": {
                    "has_activity": draw(st.sampled_from(TYPES)),
                    "within_days": draw(st.floats(1, 60)),
                },
            },
        ]
    }
    if draw(st.booleans()):
        topics = []
        for index, url in enumerate(
            draw(st.lists(st.sampled_from(URLS), min_size=1, max_size=3, unique=True))
        ):
            topic: dict[str, Any] = {
                "id": f"t{index}",
                "urls": [url],
                "points": draw(st.integers(1, 40)) / 2,
            }
            if draw(st.booleans()):
                topic["half_life_days"] = draw(st.floats(0.5, 60))
            if draw(st.booleans()):
                topic["cap"] = draw(st.integers(1, 50))
            if draw(st.booleans()):
                topic["window_days"] = draw(st.floats(0.5, 90))
            topics.append(topic)
        body["interests"] = {"write": draw(st.sampled_from(["top", "each"])), "topics": topics}
    return RuleSet.model_validate(body)


URLS = ["/a", "/b", "/c"]


@settings(max_examples=150, deadline=None)
@given(
    ruleset=rule_sets(),
    ages=st.lists(
        st.lists(
            st.tuples(st.sampled_from(TYPES), st.floats(-30, 200), st.sampled_from(URLS)),
            max_size=8,
        ),
        min_size=1,
        max_size=4,
    ),
    titles=st.lists(st.sampled_from(["VP", "Intern"]), min_size=4, max_size=4),
    fractions=st.lists(st.floats(0, 1, exclude_max=True), min_size=1, max_size=4),
)
def test_no_written_value_changes_before_the_contact_is_due(
    ruleset: RuleSet,
    ages: list[list[tuple[str, float, str]]],
    titles: list[str],
    fractions: list[float],
) -> None:
    contacts = [
        person(f"c{i}", title=titles[i], created_at=f"2026-10-{10 + 5 * i:02d}T06:00:00Z")
        for i in range(len(ages))
    ]
    activities = [
        act(kind, age, contact=f"c{i}", url=url)
        for i, found in enumerate(ages)
        for kind, age, url in found
    ]
    fields = FieldMap.for_rules(ruleset, CAPABILITIES)
    first, frame = scored(ruleset, contacts, activities, NOW, None)
    due = due_in(first, frame, NOW)
    reached = [first.stage(row) for row in range(len(first))]
    for fraction in fractions:
        for row, seconds in enumerate(due.tolist()):
            later = min(seconds, 400 * DAY) * fraction
            moment = NOW + timedelta(microseconds=math.floor(later * 1e6))
            again, _ = scored(ruleset, contacts, activities, moment, reached)
            before = fields.values(first, row, NOW)
            after = fields.values(again, row, moment)
            assert not fields.differs(after, before), (row, seconds, later, before, after)


def test_a_decaying_score_is_due_when_it_may_cross_a_whole_point() -> None:
    ruleset = rules("rules: [{id: open, activity: email_open, points: 10, half_life_days: 10}]")
    batch, frame = scored(ruleset, [person()], [act("email_open", 1)], NOW, None)
    points = 10 * 2 ** (-1 / 10)  # 9.33, whole 9

    due = float(due_in(batch, frame, NOW)[0])

    # apportioning reads the whole part: 9.33 -> 9 at a rate of at most 9.33·ln2/10 a day
    assert math.isclose(due / DAY, (points - 9) / (points * math.log(2) / 10), rel_tol=1e-6)
    # a bound: not later than the moment the points actually reach 9
    assert due <= 10 * math.log2(points / 9) * DAY


def test_profile_points_alone_are_never_due() -> None:
    ruleset = rules("rules: [{id: vp, contact: {title: VP}, points: 30}]")
    batch, frame = scored(ruleset, [person(title="VP")], [], NOW, None)

    assert due_in(batch, frame, NOW).tolist() == [math.inf]


def test_windows_and_future_activities_set_the_moment() -> None:
    ruleset = rules("rules: [{id: open, activity: email_open, points: 5, window_days: 30}]")
    activities = [act("email_open", 20), act("email_click", -3)]
    batch, frame = scored(ruleset, [person()], activities, NOW, None)

    # the click, dated 3 days ahead, starts counting before the open leaves its window
    assert np.isclose(due_in(batch, frame, NOW)[0], 3 * DAY)

    batch, frame = scored(ruleset, [person()], activities[:1], NOW, None)
    assert np.isclose(due_in(batch, frame, NOW)[0], 10 * DAY)


def test_a_dimension_held_at_its_cap_is_due_when_its_raw_sum_comes_back() -> None:
    ruleset = rules(
        """
        dimensions: {engagement: {cap: 10}}
        rules: [{id: open, activity: email_open, points: 40, half_life_days: 10}]
        """
    )
    batch, frame = scored(ruleset, [person()], [act("email_open", 0.01)], NOW, None)

    due = float(due_in(batch, frame, NOW)[0])

    # the score is held at 10 for two half-lives, but the rule's own whole points (its
    # reason, and the cap's) move from 40 to 39 within hours
    assert 0.1 * DAY < due < 0.2 * DAY


def test_activity_types_are_all_known() -> None:
    assert {ActivityType(t) for t in TYPES}


def test_a_rule_held_at_its_cap_is_still_until_its_raw_points_come_down_to_it() -> None:
    # the default rules' engagement: two capped rules whose caps add up to the dimension's
    ruleset = rules(
        """
        dimensions: {engagement: {cap: 50}}
        rules:
          - {id: open, activity: email_open, points: 10, half_life_days: 30, cap: 20}
          - {id: click, activity: email_click, points: 15, half_life_days: 45, cap: 30}
        """
    )
    opened = [act("email_open", 1) for _ in range(4)]
    activities = opened + [act("email_click", d) for d in (2, 2.5, 3)]
    batch, frame = scored(ruleset, [person()], activities, NOW, None)
    opens = 40 * 2 ** (-1 / 30)
    clicks = sum(15 * 2 ** (-d / 45) for d in (2, 2.5, 3))

    due = float(due_in(batch, frame, NOW)[0])

    # nothing moves until the first rule's raw points reach its cap
    held = min(30 * math.log2(opens / 20), 45 * math.log2(clicks / 30)) * DAY
    assert math.isclose(due, held, rel_tol=1e-6)
    later, _ = scored(ruleset, [person()], activities, NOW + timedelta(seconds=due * 0.999), None)
    assert later.total.tolist() == batch.total.tolist() == [50.0]


def test_topics_tied_in_step_are_not_due_until_the_whole_points_may_move() -> None:
    """A page both topics match gives them the same points, decaying alike: the first
    listed stays on top, so the contact is not due at every run."""
    ruleset = rules(
        "rules: [{id: vp, contact: {title: VP}, points: 30}]\n"
        "interests: {topics: ["
        "{id: analytics, urls: ['*/analytics*'], points: 10, half_life_days: 10},"
        "{id: pricing, urls: ['*pricing*'], points: 10, half_life_days: 10}]}"
    )
    page = act("page_view", 1, url="https://x.io/analytics/pricing")
    batch, frame = scored(ruleset, [person()], [page], NOW, None)
    points = 10 * 2 ** (-1 / 10)  # 9.33, written 9

    due = float(due_in(batch, frame, NOW)[0])

    assert batch.interests is not None and batch.interests.topic(0) is not None
    assert batch.interests.topic(0).id == "analytics"  # type: ignore[union-attr]
    # due when the written 9 may fall to 8 (below 8.5), less the rounding's margin
    assert math.isclose(
        due / DAY, (points - 8.5 - 0.01) / (points * math.log(2) / 10), rel_tol=1e-6
    )
