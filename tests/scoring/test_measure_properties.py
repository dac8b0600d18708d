"""Measuring rules against a plain reference: one contact at a time, one activity at a
time, in Python, written from docs/rules.md rather than from the engine."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import (
    Activity,
    ActivityFrame,
    ActivityType,
    Contact,
    ContactFrame,
    parse_number,
    reasons,
    score,
    score_records,
)
from scoring.rules import Rule
from tests.helpers import NOW, rules
from tests.scoring.test_properties import outcome

RULES = rules(
    """
    filters: {bot_clicks: {enabled: false}}
    rules:
      - {id: tos, value: time_on_site, per: 60, points: 2, cap: 30, unit: s}
      - {id: tos_b, value: time_on_site, buckets: [[null, 0, -3], [0, 0, -10], [1, 300, 5], [300, null, 25]]}
      - {id: views, activity: page_view, window_days: 30, buckets: [[0, 0, -10], [1, 3, 5], [3, null, 25]]}
      - {id: opens, activity: [email_open, email_click], where: {campaign: a}, per: 2, points: 3, cap: 12}
      - {id: three, activity: page_view, min_count: 3, points: 7, window_days: 10}
      - {id: gone, absent: {activity: [page_view, email_open], days: 20}, points: -15}
      - {id: early, activity: page_view, since: created_at, window_days: 7, points: 4, cap: 12}
      - {id: early_b, activity: [page_view, demo_request], since: created_at, window_days: 3, buckets: [[1, 2, 6], [2, null, 9]]}
      - {id: big, value: employees, contact: {industry: SaaS}, buckets: [[50, 5000, 10]]}
      - {id: demo, activity: demo_request, points: 40, once: true, disqualify: false}
      - {id: flood, activity: form_submission, min_count: 2, disqualify: true}
    """
)
DAY = 86_400.0


def number_of(raw: object) -> float | None:
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, int | float):
        return float(raw) if math.isfinite(raw) else None
    return parse_number(str(raw))


def date_of(raw: object) -> float | None:
    try:
        moment = datetime.fromisoformat(str(raw).strip())
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def bucket_of(value: float, buckets: list) -> float | None:
    for low, high, points in buckets:
        if low is not None and low == high:
            if value == low:
                return points
        elif (low is None or value >= low) and (high is None or value < high):
            return points
    return None


def reference(rule: Rule, contact: Contact, acts: list[Activity], as_of: float) -> float:
    """One rule's points for one contact, straight from the documented meaning."""
    attrs = contact.attributes
    if rule.contact is not None and str(attrs.get("industry", "")).casefold() != "saas":
        return 0.0  # the only contact condition the rule set above uses
    if rule.value is not None:
        value = number_of(attrs.get(rule.value))
        if value is None:
            return 0.0
    else:
        types = rule.activity if rule.absent is None else rule.absent.activity
        window = rule.absent.days if rule.absent is not None else rule.window_days
        start = date_of(attrs.get(rule.since)) if rule.since else None
        count = 0
        for a in acts:
            at = a.occurred_at.timestamp()
            if at > as_of or a.type not in types:
                continue
            if rule.where and a.attributes.get("campaign") != "a":
                continue
            if rule.since is not None:
                if start is None or not 0 <= at - start <= window * DAY:
                    continue
            elif window is not None and as_of - at > window * DAY:
                continue
            count += 1
        if rule.absent is not None:
            return rule.points if count == 0 else 0.0
        if rule.min_count is None and rule.per is None and rule.buckets is None:
            return rule.points if count and rule.once else rule.points * count
        value = float(count)
    if rule.min_count is not None:
        return rule.points if value >= rule.min_count else 0.0
    if rule.per is not None:
        units = math.floor(value / rule.per) if value >= 0 else 0
        return max(-rule.cap, min(rule.cap, units * rule.points)) if units >= 1 else 0.0
    return bucket_of(value, rule.buckets) or 0.0


TYPES = [
    ActivityType.PAGE_VIEW,
    ActivityType.EMAIL_OPEN,
    ActivityType.EMAIL_CLICK,
    ActivityType.DEMO_REQUEST,
    ActivityType.FORM_SUBMISSION,
]
NUMBERS = st.one_of(
    st.none(),
    st.integers(-100, 10_000),
    st.floats(-10, 1000, allow_nan=False),
    st.sampled_from(["300", "1,200", "59", "lots", "", 0, 60, 299.5, 300, 50, 5000, "5000"]),
)
DATES = st.sampled_from(
    [
        None,
        "2026-10-20",
        "2026-10-25T10:00:00Z",
        "2026-10-22T12:00:00Z",  # 7 days after it is 3 days before NOW: a boundary
        "2026-10-20T00:00:00+02:00",
        "soon",
        "2026-11-30",
    ]
)


@st.composite
def worlds(draw: st.DrawFn) -> tuple[list[Contact], list[Activity]]:
    contacts = draw(
        st.lists(
            st.builds(
                lambda i, tos, employees, industry, created: Contact(
                    f"c{i}",
                    email=f"p{i}@acme.io",
                    attributes={
                        k: v
                        for k, v in {
                            "time_on_site": tos,
                            "employees": employees,
                            "industry": industry,
                            "created_at": created,
                        }.items()
                        if v is not None
                    },
                ),
                st.integers(0, 10**6),
                NUMBERS,
                NUMBERS,
                st.sampled_from([None, "SaaS", "saas", "Retail"]),
                DATES,
            ),
            min_size=1,
            max_size=6,
            unique_by=lambda c: c.id,
        )
    )
    activities = draw(
        st.lists(
            st.builds(
                lambda who, kind, seconds, campaign: Activity(
                    who.id,
                    kind,
                    NOW - timedelta(seconds=seconds),
                    attributes={"campaign": campaign} if campaign else {},
                ),
                st.sampled_from(contacts),
                st.sampled_from(TYPES),
                # days and their boundaries: windows of 3, 7, 10, 20 and 30 days
                st.one_of(
                    st.integers(-2 * 86_400, 40 * 86_400).map(float),
                    st.sampled_from([3, 7, 10, 20, 30, 12, 13]).map(lambda d: d * DAY),
                ),
                st.sampled_from([None, "a", "b"]),
            ),
            max_size=30,
        )
    )
    return contacts, activities


@given(worlds())
@settings(max_examples=150)
def test_each_rule_gives_what_the_reference_gives(world) -> None:
    contacts, activities = world
    batch = score_records(RULES, contacts, activities, NOW)
    now = NOW.timestamp()
    for row, contact in enumerate(contacts):
        mine = [a for a in activities if a.contact_id == contact.id]
        expected = [reference(rule, contact, mine, now) for rule in RULES.rules]
        assert batch.rule_row(row)[0] == expected
        assert batch.total[row] == sum(expected)
        forms = [a for a in mine if a.type == "form_submission" and a.occurred_at <= NOW]
        assert bool(batch.disqualified[row]) == (len(forms) >= 2)


@given(worlds(), st.integers(1, 3))
def test_reasons_add_up_and_the_packed_column_is_each_contacts_text(world, block) -> None:
    contacts, activities = world
    batch = score_records(RULES, contacts, activities, NOW)
    kept = reasons.BLOCK
    reasons.BLOCK = block  # texts written in one block are reused by the next ones
    try:
        packed = reasons.reasons_column(batch, np.arange(len(batch))).tolist()
    finally:
        reasons.BLOCK = kept
    for row in range(len(batch)):
        assert math.isclose(sum(r.points for r in batch.reasons(row)), batch.total[row])
        assert packed[row] == batch.reasons_text(row)


@given(worlds())
def test_a_batch_of_many_is_each_contact_scored_alone(world) -> None:
    contacts, activities = world
    batch = score_records(RULES, contacts, activities, NOW)
    for row, contact in enumerate(contacts):
        mine = [a for a in activities if a.contact_id == contact.id]
        alone = score_records(RULES, [contact], mine, NOW)
        assert outcome(alone, 0) == outcome(batch, row)
        assert alone.reasons(0) == batch.reasons(row)


SHIFTS = st.sampled_from([0.0, 1.0, 3 * DAY, 7 * DAY, 10 * DAY, 12.5 * DAY, 25 * DAY, -DAY])


@given(worlds(), st.data())
def test_a_moment_per_contact_is_one_call_per_moment(world, data) -> None:
    contacts, activities = world
    shifts = data.draw(st.lists(SHIFTS, min_size=len(contacts), max_size=len(contacts)))
    frame = ContactFrame.from_records(contacts)
    acts = ActivityFrame.from_records(activities, frame.ids)
    moments = [NOW - timedelta(seconds=s) for s in shifts]

    batch = score(RULES, frame, acts, np.array([m.timestamp() for m in moments]))

    for moment in set(moments):
        alone = score(RULES, frame, acts, moment)
        for row in (r for r, m in enumerate(moments) if m == moment):
            assert outcome(batch, row) == outcome(alone, row)
            assert batch.reasons(row) == alone.reasons(row)
            mine = [a for a in activities if a.contact_id == contacts[row].id]
            expected = [
                reference(rule, contacts[row], mine, moment.timestamp()) for rule in RULES.rules
            ]
            assert batch.rule_row(row)[0] == expected
