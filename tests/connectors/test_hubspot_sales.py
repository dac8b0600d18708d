"""Deals, meetings and calls through the real SDK against the HubSpot sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from hubspot import HubSpot
from hubspot.crm.objects.meetings import ApiException as MeetingsError
from urllib3.util.retry import Retry

from connectors.hubspot import HubSpotConnector
from connectors.paging import dump_cursor, load_cursor
from connectors.protocol import Page
from sandbox.clock import SandboxClock
from sandbox.hubspot import HubSpotSandbox
from scoring.records import Activity, ActivityType
from tests.sandbox.test_hubspot import NOW, TOKEN, crowd


@pytest.fixture
def sandbox() -> Iterator[HubSpotSandbox]:
    with HubSpotSandbox(crowd(6), clock=SandboxClock(scale=10_000)) as box:
        yield box


def pull(hubspot: HubSpotConnector, stream: str, cursor: str | None) -> tuple[list[Activity], str]:
    pages: list[Page] = list(hubspot.pull(stream, cursor))
    found = [a for page in pages for a in page.activities]
    final = pages[-1].cursor
    assert final is not None
    return found, final


def connector(box: HubSpotSandbox) -> HubSpotConnector:
    return HubSpotConnector(TOKEN, host=box.base_url)


def test_a_custom_pipeline_deal_is_a_quote_then_a_purchase_read_incrementally(
    sandbox: HubSpotSandbox,
) -> None:
    hubspot = connector(sandbox)
    sandbox.add_event("3", ActivityType.QUOTE_SENT, NOW - timedelta(days=3), amount=900.0)
    quoted, cursor = pull(hubspot, "deals", None)
    calls = dict(hubspot.calls())

    assert [(a.contact_id, a.type) for a in quoted] == [("3", ActivityType.QUOTE_SENT)]
    # the amount's currency, `deal_currency_code` (the portal's company currency here)
    assert quoted[0].attributes == {"amount": 900.0, "pipeline": "87654321", "currency": "USD"}
    # A full pull: the pipelines once, the archived deals, one list page with each deal's
    # contacts.
    assert calls == {"pipelines.list": 1, "deals.list_archived": 1, "deals.list": 1}

    sandbox.add_event("3", ActivityType.PURCHASE, NOW - timedelta(days=1), amount=900.0)
    won, _ = pull(hubspot, "deals", cursor)
    assert ActivityType.PURCHASE in {a.type for a in won}
    # From a cursor: one search, one batch association read for its page.
    later = {op: n - calls.get(op, 0) for op, n in hubspot.calls().items()}
    assert later == {
        "pipelines.list": 1,
        "deals.list_archived": 1,
        "deals.list": 0,
        "deals.search": 1,
        "deals.associations": 1,
    }


def test_a_deal_read_again_is_found_only_when_it_changed(sandbox: HubSpotSandbox) -> None:
    hubspot = connector(sandbox)
    sandbox.add_event("1", ActivityType.QUOTE_SENT, NOW - timedelta(days=3), amount=50.0)
    _, cursor = pull(hubspot, "deals", None)
    # Past the look-back, nothing changed: an empty search and no association read.
    later = str(load_cursor(cursor)["modified_since"] + 11 * 60 * 1000)
    again, _ = pull(connector(sandbox), "deals", f'{{"modified_since": {later}}}')
    assert again == []


def test_a_won_deal_whose_amount_is_corrected_is_read_again_as_a_revision(
    sandbox: HubSpotSandbox,
) -> None:
    hubspot = connector(sandbox)
    sandbox.add_event("2", ActivityType.PURCHASE, NOW - timedelta(days=2), amount=900.0)
    found, cursor = pull(hubspot, "deals", None)
    sandbox.change_object("deals", "1", amount=9000.0)  # a typo in the amount, put right
    later, _ = pull(hubspot, "deals", cursor)

    won = [a for a in later if a.type == ActivityType.PURCHASE]
    assert [a.attributes["amount"] for a in won] == [9000.0]
    # the same activities, revisable: the store keeps the corrected amount, not the first
    assert {a.id for a in later} == {a.id for a in found}
    assert all(a.revisable for a in later)


def test_a_won_deal_lost_after_all_withdraws_its_purchase(sandbox: HubSpotSandbox) -> None:
    hubspot = connector(sandbox)
    sandbox.add_event("2", ActivityType.PURCHASE, NOW - timedelta(days=2), amount=900.0)
    found, cursor = pull(hubspot, "deals", None)
    bought = [a.id for a in found if a.type == ActivityType.PURCHASE]
    assert len(bought) == 1
    sandbox.change_object("deals", "1", stage="closedlost")

    pages = list(hubspot.pull("deals", cursor))

    assert ActivityType.PURCHASE not in {a.type for p in pages for a in p.activities}
    assert [w.activity_id for p in pages for w in p.withdrawn] == bought


def test_a_deleted_deal_withdraws_its_purchase_once(sandbox: HubSpotSandbox) -> None:
    """A won deal archived (deleted, through the SDK's "Archive") is never answered by the
    search that reads changed deals: the archived listing finds it and the pull withdraws
    every activity it gave; a pull past the look-back names it no more."""
    hubspot = connector(sandbox)
    sandbox.add_event("2", ActivityType.QUOTE_SENT, NOW - timedelta(days=5), amount=900.0)
    sandbox.add_event("2", ActivityType.PURCHASE, NOW - timedelta(days=2), amount=900.0)
    sandbox.add_event("4", ActivityType.PURCHASE, NOW - timedelta(days=2), amount=40.0)
    found, cursor = pull(hubspot, "deals", None)
    assert {a.id for a in found if a.type == ActivityType.PURCHASE} == {
        "deal:1:won:2",
        "deal:2:won:4",
    }
    api: Any = HubSpot(access_token=TOKEN, host=sandbox.base_url, retry=Retry(total=0))
    api.crm.deals.basic_api.archive("1")
    # archived: gone from reads, answered only with `archived=true`
    assert api.crm.deals.basic_api.get_by_id("1", archived=True).archived is True

    pages = list(hubspot.pull("deals", cursor))
    assert [w.prefix for p in pages for w in p.withdrawn] == ["deal:1:"]
    assert not [a for p in pages for a in p.activities if a.id.startswith("deal:1:")]
    following = pages[-1].cursor
    assert following is not None and load_cursor(following)["archived_since"] > 0

    # named again while inside the look-back (withdrawing twice does nothing), not after
    state = load_cursor(following)
    past = {k: int(v) + 11 * 60 * 1000 for k, v in state.items() if v is not None}
    later = list(hubspot.pull("deals", dump_cursor(**past)))
    assert [w for p in later for w in p.withdrawn] == []


def test_a_future_meeting_is_a_booking_and_its_outcome_set_later_is_read(
    sandbox: HubSpotSandbox,
) -> None:
    hubspot = connector(sandbox)
    sandbox.add_event("2", ActivityType.MEETING, NOW + timedelta(days=30))
    found, cursor = pull(hubspot, "meetings", None)

    assert [a.attributes["outcome"] for a in found] == ["scheduled"]
    assert found[0].occurred_at < NOW + timedelta(days=1)  # when it was booked, not held

    sandbox.change_object("meetings", "1", outcome="NO_SHOW")
    later, _ = pull(hubspot, "meetings", cursor)
    assert [a.attributes["outcome"] for a in later] == ["no_show"]
    # the same activity, revised: the store replaces the booking, never adds a meeting
    assert later[0].id == found[0].id and later[0].revisable


def test_calls_carry_their_outcome_label_and_status(sandbox: HubSpotSandbox) -> None:
    for day in range(1, 5):
        sandbox.add_event("4", ActivityType.SALES_TOUCH, NOW - timedelta(days=day))
    found, _ = pull(connector(sandbox), "calls", None)

    outcomes = {a.attributes["outcome"] for a in found}
    assert "connected" in outcomes and len(outcomes) > 1
    assert all(a.attributes["call_status"] in ("completed", "busy", "no_answer") for a in found)


def test_the_list_endpoint_refuses_an_after_token_it_never_issued(
    sandbox: HubSpotSandbox,
) -> None:
    for day in range(1, 4):
        sandbox.add_event("5", ActivityType.MEETING, NOW - timedelta(days=day))
    api: Any = HubSpot(access_token=TOKEN, host=sandbox.base_url, retry=Retry(total=0))
    meetings = api.crm.objects.meetings.basic_api
    first = meetings.get_page(limit=2)
    second = meetings.get_page(limit=2, after=first.paging.next.after)

    assert [m.id for m in second.results] == ["3"]
    with pytest.raises(MeetingsError) as refused:
        meetings.get_page(limit=2, after="3")
    assert refused.value.status == 400


def test_an_object_changed_early_in_a_long_walk_is_in_the_next_pull() -> None:
    from connectors.policy import CallPolicy
    from sandbox import Sandbox

    # 443 calls: three pages; vendor time runs 1,000 times faster than the test
    with Sandbox(people=600, seed=11, scale=1000) as box:
        hubspot = HubSpotConnector(
            box.hubspot.token,
            host=box.hubspot.base_url,
            policy=CallPolicy("hubspot", clock=box.clock),
        )
        pages = hubspot.pull("calls", None)
        first = next(pages)
        passed = first.activities[0].id.split(":")[1]  # a call the walk has read already
        box.hubspot.change_object("calls", passed, outcome="Left voicemail")
        box.clock.sleep(15 * 60)  # the walk goes on for longer than the look-back
        box.hubspot.change_object("calls", "443", outcome="Left voicemail")
        cursor = list(pages)[-1].cursor
        box.clock.sleep(5)
        again = list(hubspot.pull("calls", cursor))

    found = {a.id.split(":")[1] for page in again for a in page.activities}
    assert passed in found and "443" in found
