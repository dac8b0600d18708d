"""Each contact scored as of its own moment, in one pass."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring import ActivityFrame, ContactFrame, InputError, score
from tests.helpers import NOW, act, person, rules
from tests.scoring.test_properties import RULES, outcome, worlds

# some moments between the activities, some on them, one after every one of them
SHIFTS = st.sampled_from([0.0, 1.0, 2.5, 3.0, 1000.0, 1002.0, 86_400.0, 40 * 86_400.0, -86_400.0])


@given(worlds(), st.data())
def test_one_pass_with_a_moment_per_contact_is_one_call_per_moment(world, data) -> None:
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


def test_nothing_after_a_contacts_moment_counts_and_decay_runs_back_from_it() -> None:
    ruleset = rules(
        """
        rules:
          - {id: open, activity: email_open, points: 8, half_life_days: 10, window_days: 30}
        """
    )
    frame = ContactFrame.from_records([person("a"), person("b", "b@acme.io")])
    acts = ActivityFrame.from_records(
        [act("email_open", 40, "a"), act("email_open", 40, "b"), act("email_open", 0, "b")],
        frame.ids,
    )
    # a as of 30 days ago: its open is 10 days old, one half-life; b as of 45 days ago
    # has nothing yet (both of its opens are later)
    moments = np.array(
        [(NOW - timedelta(days=30)).timestamp(), (NOW - timedelta(days=45)).timestamp()]
    )

    batch = score(ruleset, frame, acts, moments)

    assert batch.total.tolist() == [4.0, 0.0]


def test_a_moment_per_contact_must_be_one_per_contact_and_finite() -> None:
    frame = ContactFrame.from_records([person("a")])
    acts = ActivityFrame.from_records([], frame.ids)
    with pytest.raises(InputError, match="2 moments given for 1 contacts"):
        score(RULES, frame, acts, np.array([1.0, 2.0]))
    with pytest.raises(InputError, match="finite"):
        score(RULES, frame, acts, np.array([np.nan]))
