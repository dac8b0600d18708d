"""The store's outcomes derived from events: who converted in the window, who is left out."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring import ActivityFrame, parse_rules
from sync.store_outcomes import not_yet_leads, outcome_within, store_outcome

RULES = parse_rules(
    "rules:\n  - {id: a, activity: page_view, points: 1}\n"
    "stages:\n  ladder:\n    - name: Lead\n    - name: MQL\n      when: {min: {total: 5}}\n"
    "    - name: Customer\n      when: {min: {total: 50}}\n",
    "r.yaml",
)

events = st.lists(st.tuples(st.integers(0, 5), st.integers(0, 20)), max_size=30)


@given(events, st.integers(0, 20), st.integers(0, 20), st.booleans())
def test_outcome_within_is_each_contacts_events_in_the_window(
    found: list[tuple[int, int]], start: int, length: int, leave: bool
) -> None:
    rows = np.array([r for r, _ in found], dtype=np.int64)
    moments = np.array([float(t) for _, t in found])
    end = start + length

    converted, kept = outcome_within(rows, moments, 6, start, end, leave_earlier=leave)

    for contact in range(6):
        times = [t for r, t in found if r == contact]
        earlier = any(t <= start for t in times)
        assert kept[contact] == (not (leave and earlier))
        inside = any(start < t <= end for t in times)
        assert converted[contact] == (inside and kept[contact])


def test_the_window_is_open_at_the_score_date_and_closed_at_its_end() -> None:
    rows = np.array([0, 1, 2])
    moments = np.array([10.0, 20.0, 20.5])

    converted, kept = outcome_within(rows, moments, 4, 10.0, 20.0, leave_earlier=True)

    assert converted.tolist() == [False, True, False, False]
    assert kept.tolist() == [False, True, True, True]


@given(events, st.integers(0, 20))
def test_not_yet_leads_are_those_whose_first_activity_is_after_the_date(
    found: list[tuple[int, int]], start: int
) -> None:
    frame = ActivityFrame.from_arrays(
        np.array([r for r, _ in found], dtype=np.int32),
        np.zeros(len(found), dtype=np.int8),
        np.array([float(t) for _, t in found]),
    )

    later = not_yet_leads(frame, 6, start)

    for contact in range(6):
        times = [t for r, t in found if r == contact]
        assert later[contact] == (bool(times) and min(times) > start)


def test_outcomes_are_named_case_aside_and_stages_ranked_on_the_ladder() -> None:
    assert store_outcome("Won", RULES).kind == "won"
    assert store_outcome("customer", RULES).name == "customer"
    stage = store_outcome("stage:mql", RULES)
    assert (stage.kind, stage.stage, stage.rank, stage.name) == ("stage", "MQL", 1, "stage:MQL")


@pytest.mark.parametrize(
    ("given_text", "message"),
    [
        ("converted", "with --from-store, give one of won, customer, stage:NAME"),
        ("stage:SQL", "no such stage in the rules (stages: 'Lead', 'MQL', 'Customer')"),
    ],
)
def test_an_outcome_the_store_cannot_tell_is_refused(given_text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        store_outcome(given_text, RULES)
