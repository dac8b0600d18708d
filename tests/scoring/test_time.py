"""Windows and half-life decay, at and around their boundaries."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.helpers import NOW, act, rules, total

WINDOWED = rules(
    """
    rules:
      - {id: visit, activity: page_view, points: 10, window_days: 90}
    """
)
DECAYING = rules(
    """
    rules:
      - {id: guide, activity: content_download, points: 30, half_life_days: 30}
    """
)


@pytest.mark.parametrize(
    ("age", "expected"),
    [(0, 10), (89.999, 10), (90, 10), (90.0001, 0), (365, 0)],
)
def test_window_includes_its_last_day_and_nothing_older(age: float, expected: float) -> None:
    assert total(WINDOWED, [act("page_view", age)]) == expected


def test_activities_after_the_evaluation_time_do_not_count() -> None:
    tomorrow = NOW + timedelta(days=1)
    assert total(WINDOWED, [act("page_view", tomorrow), act("page_view", 1)]) == 10


def test_activity_at_the_evaluation_time_counts_in_full() -> None:
    assert total(DECAYING, [act("content_download", NOW)]) == 30


@pytest.mark.parametrize(("age", "expected"), [(30, 15), (60, 7.5), (90, 3.75)])
def test_points_halve_every_half_life(age: float, expected: float) -> None:
    assert total(DECAYING, [act("content_download", age)]) == pytest.approx(expected)


def test_decay_and_window_combine() -> None:
    ruleset = rules(
        """
        rules:
          - {id: open, activity: email_open, points: 8, half_life_days: 10, window_days: 20}
        """
    )
    activities = [act("email_open", 10), act("email_open", 20), act("email_open", 21)]
    assert total(ruleset, activities) == pytest.approx(4 + 2)


def test_decayed_reason_shows_the_points_before_decay() -> None:
    from tests.helpers import person, score_one

    batch = score_one(DECAYING, person(), [act("content_download", 30)])
    assert batch.reasons_text(0) == "+15 guide (decayed from 30)"
