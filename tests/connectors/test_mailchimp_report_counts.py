"""The email-activity pull reads a campaign's reports only when the report list's counts
moved: through the real SDK against the sandbox, and the counts' parser on any JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.mailchimp.activity import pull_email_activity
from connectors.mailchimp.client import MailchimpApi
from connectors.mailchimp.report_counts import (
    COUNTS,
    EVERY_PART,
    PARTS,
    counts_of,
    kept_counts,
    parts_to_read,
)
from connectors.protocol import Page
from sandbox.mailchimp import MailchimpSandbox
from sandbox.world.tables import World, WorldBuilder
from scoring.records import ActivityType as T
from tests.connectors.mailchimp_api import FrozenClock, sandbox_api
from tests.sandbox.mailchimp_helpers import add_activity, reset

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
CAMPAIGNS = 6
ACTIVITY = "reports.get_email_activity_for_campaign"
UNSUBSCRIBES = "reports.get_unsubscribed_list_for_campaign"
ABUSE = "reports.get_campaign_abuse_reports"
LISTS = {"campaigns.list": 1, "reports.get_all_campaign_reports": 1}


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def build_world() -> World:
    """Six campaigns a day apart, each sent to the same ten people, with a few opens."""
    b = WorldBuilder(NOW)
    acme = b.company("Acme", "acme.io")
    people = [b.person(f"P{n}", "Lee", f"p{n}@acme.io", acme) for n in range(10)]
    for c in range(CAMPAIGNS):
        campaign = b.campaign(f"News {c}", f"Issue {c}", ago(20 - c))
        for n, who in enumerate(people):
            b.event(who, T.EMAIL_SENT, ago(20 - c), campaign=campaign)
            if n < 3:
                b.event(who, T.EMAIL_OPEN, ago(19.5 - c), campaign=campaign)
    return b.build(seed=3)


@pytest.fixture(scope="module")
def server() -> Iterator[MailchimpSandbox]:
    emulator = MailchimpSandbox(build_world(), clock=FrozenClock(), archived_share=0)
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def sandbox(server: MailchimpSandbox) -> MailchimpSandbox:
    reset(server)
    return server


def pull(api: Any, sandbox: MailchimpSandbox, cursor: str | None = None) -> list[Page]:
    return list(pull_email_activity(api, [sandbox.list_id], cursor, ago(90)))


def final_cursor(pages: list[Page]) -> str:
    return [p.cursor for p in pages if p.cursor is not None][-1] or ""


def calls(sandbox: MailchimpSandbox) -> dict[str, int]:
    return {name: n for name, n in sandbox.calls.items() if n}


def first_pull(sandbox: MailchimpSandbox) -> str:
    cursor = final_cursor(pull(sandbox_api(sandbox), sandbox))
    sandbox.calls.clear()
    sandbox.log.clear()
    return cursor


def test_a_second_pull_with_nothing_new_makes_only_the_list_calls(
    sandbox: MailchimpSandbox,
) -> None:
    cursor = first_pull(sandbox)

    again = pull(sandbox_api(sandbox), sandbox, cursor)

    assert calls(sandbox) == LISTS
    assert [a for p in again for a in p.activities] == []
    assert final_cursor(again) == cursor


def test_a_first_pull_reads_every_report_of_every_campaign(sandbox: MailchimpSandbox) -> None:
    pull(sandbox_api(sandbox), sandbox)

    assert calls(sandbox) == {
        **LISTS,
        ACTIVITY: CAMPAIGNS,
        UNSUBSCRIBES: CAMPAIGNS,
        ABUSE: CAMPAIGNS,
    }


def test_a_new_click_reads_that_campaigns_activity_only(sandbox: MailchimpSandbox) -> None:
    cursor = first_pull(sandbox)
    campaign = sandbox.campaigns[2].id
    add_activity(sandbox, "p7@acme.io", T.EMAIL_CLICK, ago(1), campaign=2, url="https://acme.io")

    again = pull(sandbox_api(sandbox), sandbox, cursor)

    assert calls(sandbox) == {**LISTS, ACTIVITY: 1}
    assert [r.path.split("/")[3] for r in sandbox.log if r.operation == ACTIVITY] == [campaign]
    assert [(a.type, a.contact_email) for p in again for a in p.activities] == [
        (T.EMAIL_CLICK, "p7@acme.io")
    ]


def test_a_new_unsubscribe_reads_that_campaigns_unsubscribes_only(
    sandbox: MailchimpSandbox,
) -> None:
    cursor = first_pull(sandbox)
    add_activity(sandbox, "p8@acme.io", T.EMAIL_UNSUBSCRIBE, ago(1), campaign=4)

    again = pull(sandbox_api(sandbox), sandbox, cursor)

    assert calls(sandbox) == {**LISTS, UNSUBSCRIBES: 1}
    assert [(a.type, a.attributes["campaign"]) for p in again for a in p.activities] == [
        (T.EMAIL_UNSUBSCRIBE, sandbox.campaigns[4].id)
    ]
    third = pull(sandbox_api(sandbox), sandbox, final_cursor(again))
    assert [a for p in third for a in p.activities] == []


def test_a_new_abuse_report_reads_that_campaigns_abuse_reports_only(
    sandbox: MailchimpSandbox,
) -> None:
    cursor = first_pull(sandbox)
    add_activity(sandbox, "p9@acme.io", T.EMAIL_SPAM_REPORT, ago(1), campaign=5)

    again = pull(sandbox_api(sandbox), sandbox, cursor)

    assert calls(sandbox) == {**LISTS, ABUSE: 1}
    assert [a.type for p in again for a in p.activities] == [T.EMAIL_SPAM_REPORT]


def test_counts_missing_from_the_cursor_fall_back_to_reading(sandbox: MailchimpSandbox) -> None:
    cursor = json.loads(first_pull(sandbox))
    first = sandbox.campaigns[0].id
    del cursor["campaigns"][first]["counts"]["unsubscribed"]  # e.g. kept by an older version

    pull(sandbox_api(sandbox), sandbox, json.dumps(cursor))

    assert calls(sandbox) == {**LISTS, UNSUBSCRIBES: 1}


class ReportsWithout:
    """The product's client, with the report list's entries as `drop` makes them (the
    page keeps its length, as paging needs)."""

    def __init__(self, api: MailchimpApi, drop: Any) -> None:
        self.api, self.drop = api, drop

    def call(self, operation: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        answer = self.api.call(operation, *args, **kwargs)
        if operation == "reports.get_all_campaign_reports":
            answer["reports"] = [self.drop(r) for r in answer["reports"]]
        return answer


def test_a_campaign_the_report_list_misses_is_read_whole(sandbox: MailchimpSandbox) -> None:
    cursor = first_pull(sandbox)
    missing = sandbox.campaigns[1].id
    api = ReportsWithout(sandbox_api(sandbox), lambda r: {} if r["id"] == missing else r)

    pull(api, sandbox, cursor)

    assert calls(sandbox) == {**LISTS, ACTIVITY: 1, UNSUBSCRIBES: 1, ABUSE: 1}


def test_a_count_the_report_list_misses_reads_its_part(sandbox: MailchimpSandbox) -> None:
    cursor = first_pull(sandbox)

    def no_bounces(report: dict[str, Any]) -> dict[str, Any]:
        return {**report, "bounces": {}} if report["id"] == sandbox.campaigns[3].id else report

    pull(ReportsWithout(sandbox_api(sandbox), no_bounces), sandbox, cursor)

    assert calls(sandbox) == {**LISTS, ACTIVITY: 1}


# -- the counts' parser and the choice of parts, on anything -------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=15,
)
COUNT = st.integers(min_value=-2, max_value=10**6) | JSON
REPORT = st.fixed_dictionaries(
    {},
    optional={
        "id": st.text(max_size=10),
        "emails_sent": COUNT,
        "unsubscribed": COUNT,
        "abuse_reports": COUNT,
        "opens": st.fixed_dictionaries({}, optional={"opens_total": COUNT, "unique_opens": COUNT})
        | JSON,
        "clicks": st.fixed_dictionaries({}, optional={"clicks_total": COUNT}) | JSON,
        "bounces": st.fixed_dictionaries(
            {}, optional={"hard_bounces": COUNT, "soft_bounces": COUNT, "syntax_errors": COUNT}
        )
        | JSON,
    },
)


def is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


@settings(max_examples=300, deadline=None)
@given(REPORT | JSON)
def test_any_report_gives_counts_that_are_whole_numbers_under_known_names(raw: Any) -> None:
    found = counts_of(raw)

    assert set(found) <= set(COUNTS) and all(is_count(v) for v in found.values())
    assert kept_counts(json.loads(json.dumps(found))) == found
    assert parts_to_read(found, found) == {
        part for part, names in PARTS.items() if any(n not in found for n in names)
    }


@settings(max_examples=300, deadline=None)
@given(JSON, JSON)
def test_any_kept_counts_read_every_part_they_cannot_compare(kept: Any, now: Any) -> None:
    before, after = kept_counts(kept), kept_counts(now)

    chosen = parts_to_read(before, after)

    for part, names in PARTS.items():
        same = all(n in before and n in after and before[n] == after[n] for n in names)
        assert (part in chosen) == (not same)
    assert parts_to_read(None, after) == parts_to_read(before, None) == EVERY_PART
