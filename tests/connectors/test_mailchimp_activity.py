"""Mailchimp campaign email activity, pulled through the real SDK from the sandbox."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.mailchimp.activity import (
    EMAIL_ACTIVITY_STREAM,
    OVERLAP,
    SentCampaign,
    pull_email_activity,
    report_activities,
)
from connectors.mailchimp.client import MailchimpApi
from connectors.mailchimp.connector import MailchimpConnector
from connectors.mailchimp.departures import departure_activity
from connectors.policy import CallPolicy
from connectors.protocol import Page
from sandbox.mailchimp import MailchimpSandbox
from sandbox.world.tables import MAILCHIMP, World, WorldBuilder
from scoring.records import ActivityType as T
from tests.connectors.mailchimp_api import FrozenClock, hand_built, sandbox_api
from tests.helpers import person, rules, score_one
from tests.sandbox.mailchimp_helpers import add_activity, reset

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
CROWD = 1_050


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def build_world() -> World:
    """An old campaign (120 days), a recent one to 1,050 recipients, a small one, a future one."""
    b = WorldBuilder(NOW)
    acme = b.company("Acme", "acme.io")
    ann = b.person("Ann", "Lee", "ann@acme.io", acme, held={MAILCHIMP: "Ann@Acme.io"})
    cat = b.person("Cat", "Ng", "cat@acme.io", acme)
    crowd = [b.person(f"C{n}", "Crowd", f"c{n:04}@acme.io", acme) for n in range(CROWD)]
    old = b.campaign("Old news", "Last spring", ago(120))
    big = b.campaign("Launch", "Meet leadscore", ago(10))
    small = b.campaign("Webinar", "Join our webinar", ago(5))
    b.campaign("Later", "Not yet", NOW + timedelta(days=3))
    b.event(ann, T.EMAIL_SENT, ago(120), campaign=old)
    b.event(ann, T.EMAIL_OPEN, ago(119), campaign=old)
    for who in [ann, cat, *crowd]:
        b.event(who, T.EMAIL_SENT, ago(10), campaign=big)
    for n, who in enumerate(crowd):  # one open every 30 s, the last ones 10 days ago
        b.event(who, T.EMAIL_OPEN, ago(10) + timedelta(seconds=30 * n), campaign=big)
    b.event(ann, T.EMAIL_CLICK, ago(9), campaign=big, url="https://acme.io/pricing")
    b.event(cat, T.EMAIL_BOUNCE, ago(10), campaign=big)
    b.event(crowd[0], T.EMAIL_UNSUBSCRIBE, ago(8), campaign=big)
    b.event(crowd[1], T.EMAIL_SPAM_REPORT, ago(7), campaign=big)
    b.event(ann, T.EMAIL_SENT, ago(5), campaign=small)
    return b.build(seed=11)


@pytest.fixture(scope="module")
def server() -> Iterator[MailchimpSandbox]:
    with hand_built(build_world()) as emulator:
        yield emulator


@pytest.fixture
def sandbox(server: MailchimpSandbox) -> MailchimpSandbox:
    reset(server)
    return server


@pytest.fixture
def api(sandbox: MailchimpSandbox) -> MailchimpApi:
    return sandbox_api(sandbox)


def pull(api: MailchimpApi, list_id: str, cursor: str | None = None) -> list[Page]:
    return list(pull_email_activity(api, [list_id], cursor, ago(90)))


def final_cursor(pages: list[Page]) -> str | None:
    return [p.cursor for p in pages if p.cursor is not None][-1]


def of(pages: list[Page], email: str) -> list[tuple[T, str]]:
    return sorted(
        (a.type, str(a.attributes.get("url", a.attributes.get("bounce_type", ""))))
        for p in pages
        for a in p.activities
        if a.contact_email and a.contact_email.lower() == email
    )


def test_a_first_pull_gives_sends_opens_clicks_and_bounces_keyed_by_member(
    api: MailchimpApi, sandbox: MailchimpSandbox
) -> None:
    pages = pull(api, sandbox.list_id)

    assert {p.stream for p in pages} == {EMAIL_ACTIVITY_STREAM}
    assert of(pages, "ann@acme.io") == [
        (T.EMAIL_CLICK, "https://acme.io/pricing"),
        (T.EMAIL_SENT, ""),
        (T.EMAIL_SENT, ""),
    ]
    assert of(pages, "cat@acme.io") == [(T.EMAIL_BOUNCE, "hard"), (T.EMAIL_SENT, "")]
    click = next(a for p in pages for a in p.activities if a.type is T.EMAIL_CLICK)
    # a report names the member by address: keyed by it alone (`keys`), as Mailchimp holds it
    assert (click.contact_id, click.contact_email) == ("", "Ann@Acme.io")
    assert click.attributes["campaign"] == sandbox.campaigns[1].id
    assert click.occurred_at == ago(9)


def test_unsubscribes_and_abuse_reports_come_from_the_campaigns_own_lists(
    api: MailchimpApi, sandbox: MailchimpSandbox
) -> None:
    pages = pull(api, sandbox.list_id)

    assert (T.EMAIL_UNSUBSCRIBE, "") in of(pages, "c0000@acme.io")
    assert (T.EMAIL_SPAM_REPORT, "") in of(pages, "c0001@acme.io")
    unsub = next(a for p in pages for a in p.activities if a.type is T.EMAIL_UNSUBSCRIBE)
    assert (unsub.occurred_at, unsub.attributes["campaign"]) == (ago(8), sandbox.campaigns[1].id)
    assert (unsub.contact_id, unsub.contact_email) == ("", "c0000@acme.io")
    # the campaign's attributes as its report's activities carry them
    opened = next(a for p in pages for a in p.activities
                  if a.attributes["campaign"] == sandbox.campaigns[1].id and a is not unsub)  # fmt: skip
    assert {k: unsub.attributes[k] for k in opened.attributes if k != "url"} == {
        k: v for k, v in opened.attributes.items() if k != "url"
    }
    assert unsub.attributes["campaign_title"] == sandbox.campaigns[1].name


def test_bounces_keep_the_type_mailchimp_gives(
    api: MailchimpApi, sandbox: MailchimpSandbox
) -> None:
    add_activity(sandbox, "c0003@acme.io", T.EMAIL_BOUNCE, ago(4), campaign=2, bounce="soft")

    pages = pull(api, sandbox.list_id)

    assert (T.EMAIL_BOUNCE, "soft") in of(pages, "c0003@acme.io")
    assert (T.EMAIL_BOUNCE, "hard") in of(pages, "cat@acme.io")


def test_a_click_seconds_after_the_send_is_set_aside_as_a_machines(
    api: MailchimpApi, sandbox: MailchimpSandbox
) -> None:
    sent = ago(5)  # the small campaign's send time
    add_activity(sandbox, "c0004@acme.io", T.EMAIL_CLICK, sent + timedelta(seconds=3), campaign=2)
    add_activity(sandbox, "c0005@acme.io", T.EMAIL_CLICK, sent + timedelta(hours=2), campaign=2)
    pages = pull(api, sandbox.list_id)
    clicks = rules("rules:\n  - {id: click, activity: email_click, points: 10}\n")

    def points(email: str) -> float:
        # keyed by address (the sync joins it to the person of the address)
        mine = [replace(a, contact_id="p") for p in pages for a in p.activities
                if a.contact_email == email]  # fmt: skip
        return float(score_one(clicks, person("p", email), mine, now=NOW).total[0])

    assert (points("c0004@acme.io"), points("c0005@acme.io")) == (0.0, 10.0)


def test_a_report_past_1000_records_is_paged_and_each_activity_given_once(
    api: MailchimpApi, sandbox: MailchimpSandbox
) -> None:
    pages = pull(api, sandbox.list_id)

    activities = [a for p in pages for a in p.activities]
    opens = [a for a in activities if a.type is T.EMAIL_OPEN]
    assert len(opens) == CROWD
    assert len({a.id for a in activities}) == len(activities)
    assert api.calls()["reports.get_email_activity_for_campaign"] == 3  # 2 pages + 1 campaign


def test_campaigns_sent_before_the_window_and_not_yet_sent_are_never_read(
    api: MailchimpApi, sandbox: MailchimpSandbox
) -> None:
    pages = pull(api, sandbox.list_id)

    read = {a.attributes["campaign"] for p in pages for a in p.activities}
    assert read == {sandbox.campaigns[1].id, sandbox.campaigns[2].id}
    assert set(json.loads(final_cursor(pages) or "")["campaigns"]) == read


def test_a_second_pull_from_the_cursor_gives_only_new_activity(
    api: MailchimpApi, sandbox: MailchimpSandbox
) -> None:
    cursor = final_cursor(pull(api, sandbox.list_id))
    big = sandbox.campaigns[1].id
    add_activity(sandbox, "cat@acme.io", T.EMAIL_OPEN, ago(1), campaign=1)
    add_activity(
        sandbox, "ann@acme.io", T.EMAIL_CLICK, ago(1), campaign=1, url="https://acme.io/demo"
    )
    add_activity(sandbox, "c0002@acme.io", T.EMAIL_UNSUBSCRIBE, ago(0.5), campaign=1)

    again = pull(api, sandbox.list_id, cursor)

    fresh = [(a.contact_email, a.type) for p in again for a in p.activities]
    assert sorted(fresh) == [
        ("Ann@Acme.io", T.EMAIL_CLICK),
        ("c0002@acme.io", T.EMAIL_UNSUBSCRIBE),
        ("cat@acme.io", T.EMAIL_OPEN),
    ]
    marks = json.loads(final_cursor(again) or "")["campaigns"]
    assert marks[big]["since"] == ago(0.5).isoformat()
    third = pull(api, sandbox.list_id, final_cursor(again))
    assert [a for p in third for a in p.activities] == []


def test_a_campaigns_entry_moves_only_with_the_page_that_ends_its_reading(
    api: MailchimpApi, sandbox: MailchimpSandbox
) -> None:
    # its reports are read by walks side by side, their pages handed over as they come
    pages = pull(api, sandbox.list_id)

    total = Counter(str(a.attributes["campaign"]) for p in pages for a in p.activities)
    given: Counter[str] = Counter()
    moved: set[str] = set()
    for page in pages:
        given.update(str(a.attributes["campaign"]) for a in page.activities)
        if page.cursor is not None:
            named = set(json.loads(page.cursor)["campaigns"])
            assert all(given[c] == total[c] for c in named)  # each entry: all of it given
            assert len(named - moved) <= 1  # one campaign's end per page
            moved |= named
    # its sends and opens, a click, a bounce, an unsubscribe and an abuse report
    assert total[sandbox.campaigns[1].id] == (CROWD + 2) + CROWD + 4
    assert moved == {c.id for c in sandbox.campaigns[1:3]}


def test_the_cursor_drops_campaigns_that_left_the_window(
    api: MailchimpApi, sandbox: MailchimpSandbox
) -> None:
    stale = json.dumps({"campaigns": {"gone000000": ago(200).isoformat()}})

    pages = pull(api, sandbox.list_id, stale)

    assert "gone000000" not in json.loads(final_cursor(pages) or "")["campaigns"]


def test_no_campaign_in_the_window_still_gives_a_cursor(
    api: MailchimpApi, sandbox: MailchimpSandbox
) -> None:
    pages = list(pull_email_activity(api, [sandbox.list_id], None, NOW))

    assert [(list(p.activities), p.cursor) for p in pages] == [([], '{"campaigns": {}}')]


CAMPAIGN = SentCampaign("c1", "L1", ago(3), "Launch")


@pytest.mark.parametrize(
    ("given_type", "expected"), [("hard", "hard"), ("soft", "soft"), ("", "soft"), (None, "soft")]
)
def test_a_bounce_is_hard_only_when_mailchimp_says_hard(
    given_type: str | None, expected: str
) -> None:
    record = {
        "email_address": "a@b.io",
        "activity": [{"action": "bounce", "type": given_type, "timestamp": ago(2).isoformat()}],
    }

    [bounce] = report_activities(CAMPAIGN, record, Counter(), sends=False)

    assert bounce.type is T.EMAIL_BOUNCE
    assert bounce.attributes["bounce_type"] == expected


def test_bad_records_and_actions_are_skipped_and_counted() -> None:
    skipped: Counter[str] = Counter()
    records: list[Any] = [
        None,
        {"activity": []},
        {"email_address": "a@b.io", "activity": [{"action": "forward"}, 3]},
        {"email_address": "a@b.io", "activity": [{"action": "open", "timestamp": "soon"}]},
    ]

    found = [a for r in records for a in report_activities(CAMPAIGN, r, skipped, sends=False)]

    assert found == []
    assert skipped == Counter(record=2, action=2, time=1)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=20,
)
ACTION = st.fixed_dictionaries(
    {},
    optional={
        "action": st.sampled_from(["open", "click", "bounce", "unsub"]) | JSON,
        "type": st.sampled_from(["hard", "soft"]) | JSON,
        "timestamp": st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat) | JSON,
        "url": st.text(max_size=20) | JSON,
    },
)
RECORD = st.fixed_dictionaries(
    {},
    optional={
        "email_address": st.emails() | JSON,
        "activity": st.lists(ACTION | JSON, max_size=4) | JSON,
    },
)


@settings(max_examples=300, deadline=None)
@given(RECORD | JSON, st.booleans())
def test_any_report_record_gives_activities_or_counts_what_it_skipped(
    record: Any, sends: bool
) -> None:
    skipped: Counter[str] = Counter()

    found = report_activities(CAMPAIGN, record, skipped, sends=sends)

    assert all(not a.contact_id and a.contact_email and a.occurred_at.tzinfo for a in found)
    assert found or skipped or not sends


def test_the_overlap_is_a_few_minutes() -> None:
    assert timedelta(0) < OVERLAP <= timedelta(hours=1)


DEPARTURE = st.fixed_dictionaries(
    {},
    optional={
        "email_address": st.emails() | JSON,
        "timestamp": st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat) | JSON,
        "date": st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat) | JSON,
        "reason": JSON,
    },
)


@settings(max_examples=200, deadline=None)
@given(DEPARTURE | JSON, st.sampled_from([T.EMAIL_UNSUBSCRIBE, T.EMAIL_SPAM_REPORT]))
def test_any_unsubscribe_or_abuse_record_is_an_activity_or_counted(record: Any, kind: T) -> None:
    skipped: Counter[str] = Counter()

    found = departure_activity(CAMPAIGN, kind, record, skipped)

    assert (found is None) == (skipped["departure"] == 1)
    assert found is None or found.type is kind


def test_the_connector_reads_campaigns_back_as_far_as_the_rules_look(
    sandbox: MailchimpSandbox,
) -> None:
    """`history` (the app's: the rules' longest window for email activity at the run's
    clock) sets the oldest campaign read; with no window every campaign is read."""
    asked: list[frozenset[T]] = []

    def connector(days: float | None) -> MailchimpConnector:
        def history(types: Collection[T]) -> datetime | None:
            asked.append(frozenset(types))
            return None if days is None else ago(days)

        return MailchimpConnector(
            api_key=sandbox.api_key,
            base_url=sandbox.base_url,
            audiences=[sandbox.list_id],
            history=history,
            policy=CallPolicy("mailchimp", clock=FrozenClock(), seed=0),
        )

    def campaigns(pages: list[Page]) -> set[str]:
        return {str(a.attributes["campaign"]) for p in pages for a in p.activities}

    recent = campaigns(list(connector(90).pull("email_activity", None)))
    every = campaigns(list(connector(None).pull("email_activity", None)))
    assert recent and recent < every
    assert all(T.EMAIL_UNSUBSCRIBE in types and T.PURCHASE not in types for types in asked)
