"""What HubSpot's answers become: contacts, counter activities, email events, engagements, deals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.hubspot.email_events import email_event_activity
from connectors.hubspot.records import (
    contact_of,
    conversion_parts,
    counter_activities,
)
from connectors.hubspot.sales_records import (
    deal_activities,
    deal_withdrawn,
    engagement_activities,
)
from connectors.protocol import Withdrawn
from connectors.values import parse_time
from scoring import ActivityType
from sync.store import StateStore

A = ActivityType
VISIT = datetime(2026, 10, 30, 9, 15, tzinfo=UTC)
CONVERTED = datetime(2026, 10, 29, 17, 0, tzinfo=UTC)


def counters(**properties: Any) -> dict[str, Any]:
    return {
        "hs_analytics_last_visit_timestamp": "2026-10-30T09:15:00Z",
        "recent_conversion_date": "2026-10-29T17:00:00.000Z",
        **properties,
    }


def event(kind: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": "e1",
        "type": kind,
        "created": 1793350800000,
        "recipient": "Ann@Acme.io",
        "emailCampaignId": 4242,
        **fields,
    }


# -- contacts -------------------------------------------------------------------------------------


def test_a_contact_keeps_its_properties_without_empty_or_volatile_ones() -> None:
    found = contact_of(
        "101",
        {
            "email": "ann@acme.io",
            "company": "Acme",
            "industry": "",
            "country": None,
            "lastmodifieddate": "2026-10-30T09:15:00Z",
        },
    )

    assert (found.id, found.email, found.source) == ("101", "ann@acme.io", "hubspot")
    assert found.attributes == {"email": "ann@acme.io", "company": "Acme"}


def test_a_contact_gets_canonical_attributes_beside_hubspot_names() -> None:
    found = contact_of("101", {"jobtitle": "VP Sales", "firstname": "Ann", "lastname": "Lee"})

    assert found.attributes == {
        "jobtitle": "VP Sales",
        "firstname": "Ann",
        "lastname": "Lee",
        "job_title": "VP Sales",
        "first_name": "Ann",
        "last_name": "Lee",
        "job_function": "Sales",
        "seniority": "VP",
    }


def test_a_portal_field_for_seniority_wins_over_the_one_read_from_the_title() -> None:
    found = contact_of("101", {"jobtitle": "VP Sales", "hs_seniority": "Director"})

    assert found.attributes["seniority"] == "Director"


@pytest.mark.parametrize(
    ("numemployees", "employees"), [("100-500", 100.0), ("1000+", 1000.0), ("25", 25.0)]
)
def test_employees_is_the_lower_end_of_hubspot_range(numemployees: str, employees: float) -> None:
    assert contact_of("101", {"numemployees": numemployees}).attributes["employees"] == employees


def test_a_contact_without_an_address_has_no_email() -> None:
    assert contact_of("101", {"email": ""}).email is None


# -- counters -------------------------------------------------------------------------------------


def test_page_views_become_numbered_activities_dated_by_the_last_visit() -> None:
    found = list(counter_activities("101", counters(hs_analytics_num_page_views="3")))

    assert [(a.id, a.type, a.occurred_at, a.contact_id) for a in found] == [
        ("pv:101:1", A.PAGE_VIEW, VISIT, "101"),
        ("pv:101:2", A.PAGE_VIEW, VISIT, "101"),
        ("pv:101:3", A.PAGE_VIEW, VISIT, "101"),
    ]


def test_page_views_without_a_last_visit_give_nothing() -> None:
    properties = {"hs_analytics_num_page_views": "3"}

    assert list(counter_activities("101", properties)) == []


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("Newsletter signup", A.NEWSLETTER_SIGNUP),
        ("Content download", A.CONTENT_DOWNLOAD),
        ("Question", A.QUESTION),
        ("Contact us", A.FORM_SUBMISSION),
    ],
)
def test_the_latest_conversion_is_typed_by_its_name(name: str, kind: ActivityType) -> None:
    properties = counters(num_conversion_events="1", recent_conversion_event_name=name)

    (found,) = counter_activities("101", properties)

    assert (found.id, found.type, found.occurred_at) == ("cv:101:1", kind, CONVERTED)
    assert found.attributes["form"] == name


def test_a_demo_request_keeps_its_form_and_page_title_and_earlier_conversions_are_forms() -> None:
    # HubSpot names a conversion "page title: form name"; the title holds colons itself.
    name = "Pricing | LeadFlow: lead scoring: Demo request"
    properties = counters(num_conversion_events=3, recent_conversion_event_name=name)

    found = list(counter_activities("101", properties))

    assert [(a.id, a.type) for a in found] == [
        ("cv:101:1", A.FORM_SUBMISSION),
        ("cv:101:2", A.FORM_SUBMISSION),
        ("cv:101:3", A.DEMO_REQUEST),
    ]
    assert found[-1].attributes == {
        "form": "Demo request",
        "page_title": "Pricing | LeadFlow: lead scoring",
        "recorded_by": "counter",
    }
    assert found[0].attributes == {"recorded_by": "counter"}


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("Home: Demo request", ("Home", "Demo request")),
        ("A: B: C: Ask a question", ("A: B: C", "Ask a question")),
        ("Newsletter signup", ("", "Newsletter signup")),
        ("Meetings Link: jane-doe", ("Meetings Link", "jane-doe")),
    ],
)
def test_a_conversion_name_is_the_page_title_then_the_form_after_the_last_colon(
    name: str, parts: tuple[str, str]
) -> None:
    assert conversion_parts(name) == parts


def test_a_meeting_booked_through_a_meetings_link_is_not_counted_again() -> None:
    properties = counters(
        num_conversion_events=2, recent_conversion_event_name="Meetings Link: sales-team"
    )

    found = list(counter_activities("101", properties))

    # the meetings stream gives the meeting; the earlier conversion stays a form
    assert [(a.id, a.type) for a in found] == [("cv:101:1", A.FORM_SUBMISSION)]


def test_reading_the_same_counters_twice_gives_the_same_activities() -> None:
    properties = counters(
        hs_analytics_num_page_views="2",
        num_conversion_events="2",
        recent_conversion_event_name="Newsletter signup",
    )

    assert list(counter_activities("101", properties)) == list(
        counter_activities("101", properties)
    )


# -- marketing email events -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "activity"),
    [
        ("DELIVERED", A.EMAIL_SENT),
        ("OPEN", A.EMAIL_OPEN),
        ("CLICK", A.EMAIL_CLICK),
        ("BOUNCE", A.EMAIL_BOUNCE),
        ("SPAMREPORT", A.EMAIL_SPAM_REPORT),
    ],
)
def test_an_email_event_is_an_activity_of_its_recipient(kind: str, activity: ActivityType) -> None:
    found = email_event_activity(event(kind))

    assert found is not None
    assert (found.type, found.contact_id, found.contact_email) == (activity, "", "Ann@Acme.io")
    assert (found.id, found.source) == ("ev:e1", "hubspot")
    assert found.occurred_at == datetime.fromtimestamp(1793350800, UTC)
    assert found.attributes["campaign"] == "4242"


def test_a_sent_event_is_skipped_because_delivery_says_it_arrived() -> None:
    assert email_event_activity(event("SENT")) is None


def test_a_click_keeps_its_url() -> None:
    found = email_event_activity(event("CLICK", url="https://acme.io/pricing"))

    assert found is not None
    assert found.attributes == {"campaign": "4242", "url": "https://acme.io/pricing"}


@pytest.mark.parametrize(
    ("category", "bounce"),
    [
        ("UNKNOWN_USER", "hard"),
        ("POLICY", "hard"),
        ("SPAM", "hard"),
        ("CONTENT", "hard"),
        ("MAILBOX_FULL", "soft"),
        ("THROTTLED", "soft"),
        ("TIMEOUT", "soft"),
        ("SOMETHING_NEW", "soft"),
        ("HARD_BOUNCE", "soft"),  # not a HubSpot category
    ],
)
def test_a_bounce_says_whether_it_was_hard_and_keeps_its_category(
    category: str, bounce: str
) -> None:
    found = email_event_activity(event("BOUNCE", category=category))

    assert found is not None
    assert found.attributes["bounce_type"] == bounce
    assert found.attributes["bounce_category"] == category


@pytest.mark.parametrize("kind", ["OPEN", "CLICK"])
def test_an_open_or_click_hubspot_filtered_as_a_machine_is_dropped(kind: str) -> None:
    assert email_event_activity(event(kind, filteredEvent=True)) is None
    assert email_event_activity(event(kind, filteredEvent=False)) is not None


@pytest.mark.parametrize("kind", ["SENT", "PROCESSED", "DEFERRED", "DROPPED", "FORWARD"])
def test_events_that_say_nothing_new_about_the_person_are_skipped(kind: str) -> None:
    assert email_event_activity(event(kind, dropReason="PREVIOUSLY_BOUNCED")) is None


def test_unsubscribing_from_one_subscription_type_is_not_leaving() -> None:
    one = event(
        "STATUSCHANGE",
        portalSubscriptionStatus="SUBSCRIBED",
        subscriptions=[{"id": 2, "status": "UNSUBSCRIBED"}],
    )
    bounced = event("STATUSCHANGE", portalSubscriptionStatus="UNSUBSCRIBED", bounced=True)
    spam = event(
        "STATUSCHANGE", portalSubscriptionStatus="UNSUBSCRIBED", source="SOURCE_SPAM_REPORT"
    )

    assert [email_event_activity(e) for e in (one, bounced, spam)] == [None, None, None]


def test_an_unsubscribing_status_change_is_an_unsubscribe() -> None:
    found = email_event_activity(event("STATUSCHANGE", portalSubscriptionStatus="UNSUBSCRIBED"))

    assert found is not None
    assert found.type is A.EMAIL_UNSUBSCRIBE


def test_other_status_changes_are_skipped() -> None:
    assert (
        email_event_activity(event("STATUSCHANGE", portalSubscriptionStatus="SUBSCRIBED")) is None
    )
    assert email_event_activity(event("STATUSCHANGE")) is None


def test_an_event_without_a_recipient_or_a_time_is_skipped() -> None:
    assert email_event_activity(event("OPEN", recipient="")) is None
    assert email_event_activity(event("OPEN", created="not a time")) is None


def test_different_events_without_an_id_are_both_kept() -> None:
    opened = email_event_activity(event("OPEN", id=None))
    clicked = email_event_activity(event("CLICK", id=None, created=1793354400000))
    assert opened is not None and clicked is not None
    store = StateStore("sqlite://")

    assert store.save_activities("hubspot", [opened, clicked]) == 2


# -- engagements and deals ------------------------------------------------------------------------


def test_an_engagement_is_one_activity_per_associated_contact() -> None:
    properties = {"hs_timestamp": "2026-10-28T14:00:00Z", "hs_meeting_title": "Discovery"}

    found = list(engagement_activities("meetings", "m7", properties, ["101", "102"]))

    assert [(a.contact_id, a.type, a.id) for a in found] == [
        ("101", A.MEETING, "meetings:m7:101"),
        ("102", A.MEETING, "meetings:m7:102"),
    ]
    assert found[0].attributes == {"subject": "Discovery"}
    assert found[0].occurred_at == datetime(2026, 10, 28, 14, tzinfo=UTC)


def test_calls_and_sales_emails_are_sales_touches_dated_by_creation_without_a_timestamp() -> None:
    call = list(engagement_activities("calls", "c1", {"hs_createdate": "1793350800000"}, ["101"]))
    mail = list(engagement_activities("emails", "s1", {"hs_timestamp": 1793350800000}, ["101"]))

    assert [a.type for a in call + mail] == [A.SALES_TOUCH, A.SALES_TOUCH]
    assert call[0].occurred_at == datetime.fromtimestamp(1793350800, UTC)


def test_a_deal_with_a_contract_sent_is_a_quote_dated_by_its_creation() -> None:
    properties = {
        "dealstage": "contractsent",
        "createdate": "2026-10-01T10:00:00Z",
        "amount": "5000",
    }

    found = list(deal_activities("d1", properties, ["101", "102"]))

    assert [(a.contact_id, a.type, a.id) for a in found] == [
        ("101", A.QUOTE_SENT, "deal:d1:quote:101"),
        ("102", A.QUOTE_SENT, "deal:d1:quote:102"),
    ]
    assert found[0].occurred_at == datetime(2026, 10, 1, 10, tzinfo=UTC)
    assert found[0].attributes == {"amount": 5000.0}


def test_a_deal_won_after_being_open_is_a_quote_then_a_purchase() -> None:
    created, closed = datetime(2026, 9, 1, tzinfo=UTC), datetime(2026, 10, 15, tzinfo=UTC)
    properties = {
        "dealstage": "closedwon",
        "createdate": created.isoformat(),
        "closedate": closed.isoformat(),
        "amount": "12000.50",
    }

    found = list(deal_activities("d1", properties, ["101"]))

    assert [(a.type, a.occurred_at) for a in found] == [
        (A.QUOTE_SENT, created),
        (A.PURCHASE, closed),
    ]
    assert found[1].attributes == {"amount": 12000.5}


def test_a_deal_won_the_moment_it_was_created_is_a_purchase_only() -> None:
    properties = {
        "dealstage": "closedwon",
        "createdate": "2026-10-15T00:00:00Z",
        "closedate": "2026-10-15T00:00:00Z",
    }

    found = list(deal_activities("d1", properties, ["101"]))

    assert [(a.type, a.id, a.attributes) for a in found] == [(A.PURCHASE, "deal:d1:won:101", {})]


def test_an_open_deal_early_in_the_pipeline_gives_nothing() -> None:
    properties = {"dealstage": "appointmentscheduled", "createdate": "2026-10-15T00:00:00Z"}

    assert list(deal_activities("d1", properties, ["101"])) == []


@pytest.mark.parametrize("stage", ["closedlost", "contractsent"])
def test_a_deal_no_longer_won_withdraws_its_purchases(stage: str) -> None:
    won = {"dealstage": "closedwon", "closedate": "2026-10-15T00:00:00Z"}
    ids = [a.id for a in deal_activities("d1", won, ["101", "102"])]
    assert deal_withdrawn("d1", won, ["101", "102"], None) == []

    lost = {**won, "dealstage": stage}  # lost after all, or reopened

    assert [a.type for a in deal_activities("d1", lost, ["101"])] != [A.PURCHASE]
    assert deal_withdrawn("d1", lost, ["101", "102"], None) == [Withdrawn(i) for i in ids]


# -- times ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "2026-10-30T09:15:00Z",
        "2026-10-30T09:15:00.000Z",
        "2026-10-30T11:15:00+02:00",
        1793351700000,
        "1793351700000",
    ],
)
def test_hubspot_times_are_read_as_utc(raw: Any) -> None:
    assert parse_time(raw) == VISIT


@pytest.mark.parametrize("raw", [None, "", "yesterday", "2026-13-45", "²", "9" * 25, float("nan")])
def test_a_time_that_is_not_one_is_none(raw: Any) -> None:
    assert parse_time(raw) is None


def test_a_time_without_a_zone_is_taken_as_utc() -> None:
    assert parse_time("2026-10-30T09:15:00") == VISIT


# -- properties -----------------------------------------------------------------------------------


@given(st.text())
def test_parse_time_never_raises_and_gives_utc_or_none(raw: str) -> None:
    moment = parse_time(raw)

    assert moment is None or moment.utcoffset() == timedelta(0)


@given(st.dictionaries(st.text(max_size=20), st.none() | st.text(max_size=20)))
def test_contact_of_never_raises_and_never_keeps_an_empty_value(
    properties: dict[str, str | None],
) -> None:
    found = contact_of("101", properties)

    assert all(value not in (None, "") for value in found.attributes.values())


EVENT_KEYS = (
    "id",
    "type",
    "created",
    "recipient",
    "emailCampaignId",
    "url",
    "category",
    "portalSubscriptionStatus",
)
JSON_VALUES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(["DELIVERED", "OPEN", "CLICK", "BOUNCE", "STATUSCHANGE", "UNSUBSCRIBED"])
    | st.lists(st.integers(), max_size=2)
)


@given(st.dictionaries(st.sampled_from(EVENT_KEYS), JSON_VALUES))
def test_email_event_activity_never_raises_on_any_event(event: dict[str, Any]) -> None:
    found = email_event_activity(event)

    assert found is None or found.occurred_at.utcoffset() == timedelta(0)
