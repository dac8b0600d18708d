"""Clicks made by mail scanners are set aside before scoring."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from scoring import Contact, score_records
from scoring.filters import DATES_ONLY, NO_CAMPAIGN
from tests.helpers import NOW, act, rules, total

CLICKS = """
rules:
  - {id: click, activity: email_click, points: 10}
  - {id: talked, activity: [meeting], points: 1}
"""
SENT = NOW - timedelta(days=2)


def at(seconds: float):
    return SENT + timedelta(seconds=seconds)


def test_click_seconds_after_delivery_is_a_scanner() -> None:
    activities = [
        act("email_sent", SENT, campaign="nov"),
        act("email_click", at(3), campaign="nov"),
    ]
    assert total(rules(CLICKS), activities) == 0


def test_click_a_while_after_delivery_counts() -> None:
    activities = [
        act("email_sent", SENT, campaign="nov"),
        act("email_click", at(600), campaign="nov"),
    ]
    assert total(rules(CLICKS), activities) == 10


def test_quick_click_on_another_campaign_is_not_tied_to_this_send() -> None:
    activities = [
        act("email_sent", SENT, campaign="oct"),
        act("email_click", at(3), campaign="nov"),
    ]
    assert total(rules(CLICKS), activities) == 10


def test_delivery_of_another_contact_does_not_count() -> None:
    activities = [
        act("email_sent", SENT, contact="someone-else", campaign="nov"),
        act("email_click", at(3), campaign="nov"),
    ]
    from scoring import Contact, score_records

    batch = score_records(rules(CLICKS), [Contact("c1"), Contact("someone-else")], activities, NOW)
    assert batch.total.tolist() == [10, 0]


def test_burst_of_clicks_in_one_second_is_a_scanner() -> None:
    burst = [act("email_click", at(900 + i * 0.2), campaign="nov", url=f"/l{i}") for i in range(3)]
    human = act("email_click", at(5000), campaign="nov")
    assert total(rules(CLICKS), [*burst, human]) == 10


def test_two_clicks_in_one_second_are_still_a_person() -> None:
    double = [
        act("email_click", at(900), campaign="nov"),
        act("email_click", at(900.5), campaign="nov"),
    ]
    assert total(rules(CLICKS), double) == 20


def test_filter_can_be_turned_off_and_tuned() -> None:
    off = rules(CLICKS + "filters: {bot_clicks: {enabled: false}}\n")
    strict = rules(CLICKS + "filters: {bot_clicks: {seconds_after_delivery: 120}}\n")
    activities = [
        act("email_sent", SENT, campaign="nov"),
        act("email_click", at(60), campaign="nov"),
    ]

    assert total(off, activities) == 10
    assert total(strict, activities) == 0
    assert total(rules(CLICKS), activities) == 10


def test_filter_can_cover_opens() -> None:
    ruleset = rules(
        "rules: [{id: open, activity: email_open, points: 5}]\n"
        "filters: {bot_clicks: {types: [email_click, email_open]}}\n"
    )
    activities = [act("email_sent", SENT, campaign="nov"), act("email_open", at(1), campaign="nov")]
    assert total(ruleset, activities) == 0


MIDNIGHT = datetime(2026, 10, 20, tzinfo=UTC)


def test_dates_without_a_time_of_day_make_the_filter_stand_down_and_say_so_once() -> None:
    # an export of dates: a send and three clicks of the same day, all at midnight
    activities = [
        act("email_sent", MIDNIGHT, campaign="nov"),
        *[act("email_click", MIDNIGHT, campaign="nov", url=f"/l{i}") for i in range(3)],
        act("email_sent", MIDNIGHT, contact="c2", campaign="nov"),
        act("email_click", MIDNIGHT, contact="c2", campaign="nov"),
    ]
    batch = score_records(rules(CLICKS), [Contact("c1"), Contact("c2")], activities, NOW)

    assert batch.total.tolist() == [30, 10]
    assert batch.notes == (DATES_ONLY,)


def test_one_click_with_a_time_of_day_keeps_the_filter_on() -> None:
    activities = [
        act("email_sent", MIDNIGHT, campaign="nov"),
        act("email_click", MIDNIGHT, campaign="nov"),
        act("email_click", MIDNIGHT + timedelta(hours=9), contact="c2", campaign="nov"),
    ]
    batch = score_records(rules(CLICKS), [Contact("c1"), Contact("c2")], activities, NOW)

    assert batch.total.tolist() == [0, 10]
    assert batch.notes == ()


def test_a_click_with_no_campaign_is_tied_to_no_send() -> None:
    activities = [
        act("email_sent", SENT),
        act("email_click", at(3)),
        act("email_sent", SENT, campaign="nov"),
    ]
    batch = score_records(rules(CLICKS), [Contact("c1")], activities, NOW)

    assert batch.total.tolist() == [10]
    assert batch.notes == (NO_CAMPAIGN,)


def test_some_clicks_without_a_campaign_are_counted_in_the_note() -> None:
    activities = [
        act("email_sent", SENT, campaign="nov"),
        act("email_click", at(3), campaign="nov"),
        act("email_click", at(4)),
    ]
    batch = score_records(rules(CLICKS), [Contact("c1")], activities, NOW)

    assert batch.total.tolist() == [10]
    assert batch.notes == (
        "1 of 2 filtered activities carry no campaign: the machine-click filter does not "
        "tie them to a send",
    )


def test_bursts_are_still_found_without_a_campaign() -> None:
    burst = [act("email_click", at(900 + i * 0.2), url=f"/l{i}") for i in range(3)]
    batch = score_records(rules(CLICKS), [Contact("c1")], burst, NOW)
    assert batch.total.tolist() == [0]
