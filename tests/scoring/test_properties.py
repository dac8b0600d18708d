"""Properties of the engine over generated contacts and activities."""

from __future__ import annotations

import math
import random
from datetime import timedelta

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from scoring import Activity, ActivityType, Contact, ScoreBatch, score_records
from scoring.explain import _ByContact
from scoring.frames import (
    CategoricalColumn,
    NumericColumn,
    column_from_values,
    factorize,
    is_missing,
)
from scoring.records import emails_normalized, normalize_email
from tests.helpers import NOW, rules

RULES = rules(
    """
    dimensions:
      fit: {cap: 60, floor: -20}
      activity: {cap: 100}
      engagement: {cap: 40}
    rules:
      - {id: open, activity: email_open, points: 5, cap: 25, half_life_days: 20, window_days: 90}
      - {id: click, activity: email_click, points: 10, half_life_days: 30}
      - {id: pricing, activity: page_view, where: {url: {contains: pricing}}, points: 20, once: true, half_life_days: 7}
      - {id: visit, activity: page_view, points: 3, cap: 30, window_days: 30}
      - {id: demo, activity: demo_request, points: 40, once: true}
      - {id: unsub, activity: email_unsubscribe, points: -15}
      - {id: spam, activity: email_spam_report, points: -30, disqualify: true}
      - {id: saas, contact: {industry: [SaaS, Fintech]}, points: 20}
      - {id: size, contact: {employees: {between: [50, 5000]}}, points: 15}
      - {id: free, contact: {email_free: true}, points: -10}
    stages:
      current_field: stage
      ladder:
        - name: Prospect
        - name: MQL
          when: {min: {total: 40, fit: 10}}
        - name: SQL
          owner: sales
          when: {has_activity: [demo_request, meeting]}
    grades:
      bands: [{grade: A, min: 30}, {grade: B, min: 10}, {grade: C}]
    """
)
TYPES = [
    ActivityType.EMAIL_SENT,
    ActivityType.EMAIL_OPEN,
    ActivityType.EMAIL_CLICK,
    ActivityType.PAGE_VIEW,
    ActivityType.DEMO_REQUEST,
    ActivityType.MEETING,
    ActivityType.EMAIL_UNSUBSCRIBE,
    ActivityType.EMAIL_SPAM_REPORT,
]

contacts_st = st.lists(
    st.builds(
        lambda i, industry, employees, domain, stage: Contact(
            f"c{i}",
            email=None if domain is None else f"p{i}@{domain}",
            attributes={
                k: v
                for k, v in {"industry": industry, "employees": employees, "stage": stage}.items()
                if v is not None
            },
        ),
        st.integers(0, 10**6),
        st.sampled_from([None, "SaaS", "fintech", "Retail"]),
        st.one_of(st.none(), st.integers(0, 10_000), st.sampled_from(["12", "lots"])),
        st.sampled_from([None, "gmail.com", "acme.io"]),
        st.sampled_from([None, "Prospect", "MQL", "SQL", "Gone"]),
    ),
    min_size=1,
    max_size=6,
    unique_by=lambda c: c.id,
)


@st.composite
def worlds(draw: st.DrawFn) -> tuple[list[Contact], list[Activity]]:
    contacts = draw(contacts_st)
    activities = draw(
        st.lists(
            st.builds(
                lambda who, kind, seconds, campaign, url: Activity(
                    who.id,
                    kind,
                    NOW - timedelta(seconds=seconds),
                    attributes={k: v for k, v in {"campaign": campaign, "url": url}.items() if v},
                ),
                st.sampled_from(contacts),
                st.sampled_from(TYPES),
                # mostly the past, some in the future, with clustered seconds for bursts
                st.one_of(st.integers(-86_400, 200 * 86_400), st.integers(1000, 1003)).map(float)
                | st.floats(0, 5, allow_nan=False),
                st.sampled_from([None, "a", "b"]),
                st.sampled_from([None, "/pricing", "/blog"]),
            ),
            max_size=40,
        )
    )
    return contacts, activities


def outcome(batch: ScoreBatch, row: int) -> tuple:
    return (
        batch.total[row],
        tuple(batch.dimensions[row]),
        batch.stage(row),
        batch.grade(row),
        bool(batch.disqualified[row]),
        tuple(batch.rule_row(row)[1]),
    )


@given(worlds())
def test_scores_are_finite_and_reasons_add_up_to_them(world) -> None:
    contacts, activities = world
    batch = score_records(RULES, contacts, activities, NOW)
    assert np.isfinite(batch.total).all()
    assert np.isfinite(batch.dimensions).all()
    for row in range(len(batch)):
        assert math.isclose(
            sum(r.points for r in batch.reasons(row)), batch.total[row], abs_tol=1e-9
        )


@given(worlds(), st.integers(1, 4))
def test_the_hits_laid_out_by_contact_are_each_rules_hits_whatever_the_block(
    world, block: int
) -> None:
    contacts, activities = world
    batch = score_records(RULES, contacts, activities, NOW)
    laid = _ByContact.of(batch.rule_hits, len(batch), block)
    for row in range(len(batch)):
        begin, end = laid.start[row], laid.start[row + 1]
        found = zip(
            laid.rule[begin:end].tolist(),
            laid.counts[begin:end].tolist(),
            laid.points[begin:end].tolist(),
            strict=True,
        )
        expected = [
            (index, int(hits.counts[k]), float(hits.points[k]))
            for index, hits in enumerate(batch.rule_hits)
            for k in np.flatnonzero(hits.rows == row)
        ]
        assert list(found) == expected
        assert all(count > 0 for _, count, _ in expected)


@given(worlds(), st.randoms(use_true_random=False))
def test_order_of_activities_does_not_matter(world, rnd: random.Random) -> None:
    contacts, activities = world
    shuffled = list(activities)
    rnd.shuffle(shuffled)
    a = score_records(RULES, contacts, activities, NOW)
    b = score_records(RULES, contacts, shuffled, NOW)
    np.testing.assert_allclose(a.total, b.total, rtol=1e-12, atol=1e-9)
    for row in range(len(a)):
        assert outcome(a, row)[2:] == outcome(b, row)[2:]


@given(worlds())
def test_a_batch_gives_each_contact_what_scoring_it_alone_gives(world) -> None:
    contacts, activities = world
    batch = score_records(RULES, contacts, activities, NOW)
    for row, contact in enumerate(contacts):
        alone = score_records(
            RULES, [contact], [a for a in activities if a.contact_id == contact.id], NOW
        )
        assert outcome(alone, 0) == outcome(batch, row)


@given(worlds())
def test_stage_is_never_below_the_one_already_reached(world) -> None:
    contacts, activities = world
    batch = score_records(RULES, contacts, activities, NOW)
    ladder = [s.name for s in RULES.stages.ladder]
    for row, contact in enumerate(contacts):
        before = contact.attributes.get("stage")
        if before in ladder:
            assert ladder.index(batch.stage(row)) >= ladder.index(before)
            if before == "SQL":
                assert batch.stage(row) == "SQL"


@given(
    st.lists(
        st.one_of(
            st.none(),
            st.sampled_from(["a", " a", "a ", "b", "", "  ", "/pricing", "Ünïcode"]),
            st.text(max_size=4),
        ),
        max_size=60,
    )
)
def test_a_text_column_is_the_same_by_distinct_cells_as_cell_by_cell(
    cells: list[str | None],
) -> None:
    fast = column_from_values(cells)
    # cell by cell, as for any mixed column: missing cells -1, text stripped, first seen first
    slow = factorize(None if is_missing(c) else str(c).strip() for c in cells)

    assert isinstance(fast, CategoricalColumn)
    assert fast.codes.tolist() == slow.codes.tolist()
    assert fast.categories.tolist() == slow.categories.tolist()


@given(
    st.lists(
        st.one_of(
            st.sampled_from(["a@b.io", "A@b.io", " a@b.io", "a@b.io\n", "", "\x00", "Σ@x", "ß@x"]),
            st.text(max_size=5),
        ),
        max_size=8,
    )
)
def test_addresses_are_found_normalized_exactly_when_each_one_is(addresses: list[str]) -> None:
    expected = all(normalize_email(a) == a for a in addresses)
    assert emails_normalized(addresses) == expected
    assert emails_normalized(addresses, chunk=3) == expected


def test_mixed_and_unhashable_cells_still_make_a_column() -> None:
    numbers = column_from_values([1, None, 2.5, float("nan")])
    mixed = column_from_values([True, 1, "1", ["x"], None])

    assert (
        isinstance(numbers, NumericColumn) and numbers.value(2) == 2.5 and numbers.value(3) is None
    )
    assert isinstance(mixed, CategoricalColumn)
    assert [mixed.value(i) for i in range(5)] == ["true", "1", "1", "['x']", None]
