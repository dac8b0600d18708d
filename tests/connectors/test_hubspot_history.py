"""Email events, form submissions and page views as a real portal gives them: the real SDK
against the HubSpot sandbox, then the connector's streams over the same answers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hubspot import HubSpot
from hubspot.events import ApiException as EventsError

from connectors.hubspot import HubSpotConnector
from sandbox.hubspot import HubSpotSandbox
from sandbox.hubspot.email_log import CLICK_EVENT, OPEN_EVENT
from scoring.records import Activity
from scoring.records import ActivityType as A
from tests.sandbox.test_hubspot import NOW, TOKEN, ago, client, fast, small_world

ANN, DEE = "1", "3"


def generic(sandbox: HubSpotSandbox) -> Any:
    """The SDK for endpoints it has no typed client for: `api_request` reads `base_url`."""
    return HubSpot(access_token=TOKEN, host=sandbox.base_url, base_url=sandbox.base_url)


def connect(sandbox: HubSpotSandbox) -> HubSpotConnector:
    return HubSpotConnector(TOKEN, host=sandbox.base_url, seed=1)


def pulled(hubspot: HubSpotConnector, stream: str, cursor: str | None = None) -> list[Activity]:
    return [a for page in hubspot.pull(stream, cursor) for a in page.activities]


def last_cursor(hubspot: HubSpotConnector, stream: str) -> str | None:
    cursors = [page.cursor for page in hubspot.pull(stream, None) if page.cursor]
    return cursors[-1] if cursors else None


@pytest.fixture
def plain() -> Iterator[HubSpotSandbox]:
    """A Professional portal: no web analytics events."""
    with fast(small_world()) as sandbox:
        yield sandbox


@pytest.fixture
def enterprise() -> Iterator[HubSpotSandbox]:
    with fast(small_world(), tier="enterprise") as sandbox:
        yield sandbox


# -- email events -------------------------------------------------------------------------------


def test_a_bounce_carries_hubspots_category_and_becomes_a_hard_or_soft_bounce(
    plain: HubSpotSandbox,
) -> None:
    answer = generic(plain).api_request(
        {"method": "GET", "path": "/email/public/v1/events", "qs": {"eventType": "BOUNCE"}}
    )
    (bounce,) = answer.json()["events"]
    (activity,) = [a for a in pulled(connect(plain), "email_events") if a.type is A.EMAIL_BOUNCE]

    assert (bounce["category"], bounce["status"]) == ("UNKNOWN_USER", "5.1.1")
    assert activity.attributes["bounce_type"] == "hard"
    assert activity.attributes["bounce_category"] == "UNKNOWN_USER"


def test_opens_and_clicks_hubspot_filtered_are_not_the_persons(plain: HubSpotSandbox) -> None:
    with plain.lock:
        send = float(plain.email_log.at[1])  # Ann's SENT, after its PROCESSED
        for kind in (OPEN_EVENT, CLICK_EVENT):  # a scanner, three seconds after the send
            plain.email_log.append(1, kind, send + 3_000, 1, -1)
    answer = generic(plain).api_request({"method": "GET", "path": "/email/public/v1/events"})
    flags = [
        (e["type"], e["filteredEvent"]) for e in answer.json()["events"] if "filteredEvent" in e
    ]

    opens = [
        a for a in pulled(connect(plain), "email_events") if a.type in (A.EMAIL_OPEN, A.EMAIL_CLICK)
    ]

    assert flags == [("OPEN", False), ("CLICK", False), ("OPEN", True), ("CLICK", True)]
    assert [a.occurred_at for a in opens] == [ago(9), ago(9)]  # the person's own, not the scanner's


def test_processed_deferred_dropped_and_one_subscription_changes_are_not_activity(
    plain: HubSpotSandbox,
) -> None:
    answer = generic(plain).api_request({"method": "GET", "path": "/email/public/v1/events"})
    types = {e["type"] for e in answer.json()["events"]}
    changes = [e for e in answer.json()["events"] if e["type"] == "STATUSCHANGE"]

    found = pulled(connect(plain), "email_events")

    assert {"PROCESSED", "DEFERRED", "DROPPED"} <= types
    assert sorted(e["portalSubscriptionStatus"] for e in changes) == ["SUBSCRIBED", "UNSUBSCRIBED"]
    assert sorted(a.type.value for a in found) == sorted(
        [
            "email_sent",
            "email_sent",
            "email_open",
            "email_click",
            "email_bounce",
            "email_unsubscribe",
        ]
    )
    (unsubscribe,) = [a for a in found if a.type is A.EMAIL_UNSUBSCRIBE]
    assert unsubscribe.contact_email == "dee@globex.com"


# -- form submissions ---------------------------------------------------------------------------


def test_each_form_submission_is_an_activity_with_its_form_page_and_time(
    plain: HubSpotSandbox,
) -> None:
    api = generic(plain)
    forms = api.marketing.forms.forms_api.get_page().results
    demo = next(f for f in forms if f.name == "Demo request")
    answer = api.api_request(
        {"method": "GET", "path": f"/form-integrations/v1/submissions/forms/{demo.id}"}
    )
    hubspot = connect(plain)

    found = pulled(hubspot, "form_submissions")
    contacts = pulled(hubspot, "contacts")

    assert [r["pageUrl"] for r in answer.json()["results"]] == ["https://acme.io/demo"]
    assert sorted((a.contact_email, a.type, a.occurred_at) for a in found) == [
        ("Ann@Acme.io", A.DEMO_REQUEST, ago(3)),
        ("dee@globex.com", A.NEWSLETTER_SIGNUP, ago(12)),
    ]
    assert {a.attributes["recorded_by"] for a in found} == {"form_submissions"}
    # the conversion counters stand for the same submissions: none of theirs is kept,
    # nor Ann's meeting booking, which the meetings stream gives
    assert not [a for a in contacts if (a.id or "").startswith("cv:")]


def test_form_submissions_are_read_again_only_from_the_cursor(plain: HubSpotSandbox) -> None:
    hubspot = connect(plain)
    cursor = last_cursor(hubspot, "form_submissions")
    plain.add_event(DEE, A.QUESTION, NOW, url="https://globex.com/ask")

    again = pulled(hubspot, "form_submissions", cursor)

    # the new question, and the newest one before it again (inside the look-back);
    # Dee's older signup is not read again
    # (forms are read side by side, so in no set order)
    assert sorted((a.type, a.attributes["url"]) for a in again) == sorted(
        [(A.QUESTION, "https://globex.com/ask"), (A.DEMO_REQUEST, "https://acme.io/demo")]
    )


def test_a_trigger_fetch_gives_the_submissions_the_stream_gives(plain: HubSpotSandbox) -> None:
    hubspot = connect(plain)

    fetched = [a for a in hubspot.fetch(ANN).activities if a.type is A.DEMO_REQUEST]
    streamed = [a for a in pulled(hubspot, "form_submissions") if a.type is A.DEMO_REQUEST]

    assert [a.id for a in fetched] == [a.id for a in streamed]
    assert fetched[0].contact_id == ANN


# -- page views ---------------------------------------------------------------------------------


def test_page_views_come_with_their_own_dates_where_the_portal_has_web_analytics(
    enterprise: HubSpotSandbox,
) -> None:
    events: Any = client(enterprise).events.events_api.get_page(
        object_type="contact", event_type="e_visited_page", object_id=1
    )
    hubspot = connect(enterprise)

    views = pulled(hubspot, "page_views")
    contacts = pulled(hubspot, "contacts")

    assert [e.occurred_at for e in events.results] == [ago(7), ago(6.9), ago(3)]
    assert [(a.contact_id, a.occurred_at) for a in views] == [
        (ANN, ago(7)),
        (ANN, ago(6.9)),
        (ANN, ago(3)),
    ]
    assert {a.attributes["recorded_by"] for a in views} == {"web_analytics"}
    assert not [a for a in contacts if a.type is A.PAGE_VIEW]


def test_without_web_analytics_the_page_view_counter_stands_in(plain: HubSpotSandbox) -> None:
    with pytest.raises(EventsError) as refused:
        client(plain).events.events_api.get_page(object_type="contact")
    hubspot = connect(plain)

    views = pulled(hubspot, "page_views")
    counted = [a for a in pulled(hubspot, "contacts") if a.type is A.PAGE_VIEW]

    assert refused.value.status == 403
    assert views == []
    # three views, all dated by the last visit, and said to be counted
    assert [(a.contact_id, a.occurred_at) for a in counted] == [(ANN, ago(3))] * 3
    assert {a.attributes["recorded_by"] for a in counted} == {"counter"}


def test_the_web_analytics_switch_overrides_the_tier() -> None:
    with fast(small_world(), tier="enterprise", web_analytics=False) as sandbox:
        assert pulled(connect(sandbox), "page_views") == []


def test_page_views_are_read_again_only_from_the_cursor(enterprise: HubSpotSandbox) -> None:
    hubspot = connect(enterprise)
    cursor = last_cursor(hubspot, "page_views")
    enterprise.add_event(DEE, A.PAGE_VIEW, NOW, url="https://globex.com/pricing")

    again = pulled(hubspot, "page_views", cursor)
    fetched = [a for a in hubspot.fetch(DEE).activities if a.type is A.PAGE_VIEW]

    # the newest view before the cursor is inside the look-back and read again
    assert [(a.contact_id, a.attributes["url"]) for a in again] == [
        (ANN, "https://acme.io/pricing"),
        (DEE, "https://globex.com/pricing"),
    ]
    assert [a.id for a in fetched] == [again[-1].id]
