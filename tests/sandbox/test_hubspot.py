"""The HubSpot sandbox, driven through the real `hubspot-api-client` SDK (requests for email events)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
import requests
from hubspot import HubSpot
from hubspot.crm.associations.v4 import (
    BatchInputPublicFetchAssociationsBatchRequest,
    PublicFetchAssociationsBatchRequest,
)
from hubspot.crm.contacts import ApiException as ContactsError
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInput,
    BatchReadInputSimplePublicObjectId,
    BatchResponseSimplePublicObject,
    BatchResponseSimplePublicObjectWithErrors,
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
    SimplePublicObjectBatchInput,
    SimplePublicObjectId,
    SimplePublicObjectInput,
)
from hubspot.crm.properties import ApiException as PropertiesError
from hubspot.crm.properties import (
    OptionInput,
    PropertyCreate,
    PropertyGroupCreate,
    PropertyUpdate,
)
from urllib3.util.retry import Retry

from sandbox.clock import SandboxClock
from sandbox.faults import FaultPlan, Latency
from sandbox.hubspot import DEFAULT_CONTACT_PROPERTIES, LIFECYCLE_STAGES, HubSpotSandbox
from sandbox.world.tables import (
    HUBSPOT,
    MAILCHIMP,
    Campaigns,
    Companies,
    Events,
    Persons,
    World,
    WorldBuilder,
)
from scoring.records import ActivityType as A
from tests.sandbox.hubspot_helpers import contact_id_of, touch

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
TOKEN = "sandbox-token"
ANN, BOB, DEE, EVE = "1", "2", "3", "4"


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def ms(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


def small_world() -> World:
    """Four HubSpot contacts (Ann, Bob, Dee, Eve) and one person only in Mailchimp."""
    b = WorldBuilder(NOW)
    acme = b.company("Acme", "acme.io", "Software", 120, "US")
    globex = b.company("Globex", "globex.com", "Manufacturing", 3000, "DE")
    ann = b.person(
        "Ann",
        "Lee",
        "ann@acme.io",
        acme,
        job_title="CMO",
        created_at=ago(100),
        held={HUBSPOT: "Ann@Acme.io"},
    )
    bob = b.person("Bob", "Ray", "bob@acme.io", acme, created_at=ago(50))
    b.person("Cy", "Mo", "cy@globex.com", globex, systems=MAILCHIMP)
    dee = b.person("Dee", "Fox", "dee@globex.com", globex, country="DE", created_at=ago(20))
    b.person(
        "Eve",
        "Ng",
        "eve@globex.com",
        globex,
        job_title="Engineer",
        country="DE",
        created_at=ago(5),
    )
    news = b.campaign("November news", "What's new", ago(10))
    for person in (ann, bob, dee):
        b.event(person, A.EMAIL_SENT, ago(10), campaign=news)
    b.event(ann, A.EMAIL_OPEN, ago(9), campaign=news)
    b.event(ann, A.EMAIL_CLICK, ago(9), campaign=news, url="https://acme.io/pricing")
    b.event(bob, A.EMAIL_BOUNCE, ago(10), campaign=news)
    b.event(dee, A.EMAIL_UNSUBSCRIBE, ago(8), campaign=news)
    for days in (7.0, 6.9, 3.0):
        b.event(ann, A.PAGE_VIEW, ago(days), url="https://acme.io/pricing")
    b.event(ann, A.DEMO_REQUEST, ago(3), url="https://acme.io/demo")
    b.event(ann, A.MEETING, ago(2))
    b.event(ann, A.EMAIL_OPEN, NOW + timedelta(days=1), campaign=news)  # after `now`: unseen
    b.event(bob, A.QUOTE_SENT, ago(4), amount=9000.0)
    b.event(bob, A.PURCHASE, ago(1), amount=9500.0)
    b.event(dee, A.NEWSLETTER_SIGNUP, ago(12))
    b.event(dee, A.SALES_TOUCH, ago(1))
    return b.build()


def crowd(size: int) -> World:
    """`size` HubSpot contacts without activity, built straight from arrays."""

    def texts(values: list[str]) -> Any:
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return out

    names = texts([f"p{i}" for i in range(size)])
    people = Persons(
        first_name=names,
        last_name=names,
        email=texts([f"p{i}@corp.com" for i in range(size)]),
        job_title=texts(["Manager"] * size),
        job_function=texts(["Marketing"] * size),
        seniority=texts(["Manager"] * size),
        country=texts(["US"] * size),
        company=np.zeros(size, dtype=np.int32),
        created_at=NOW.timestamp() - np.arange(size, dtype=np.float64),
        systems=np.full(size, HUBSPOT, dtype=np.uint8),
    )
    companies = Companies(
        texts(["Corp"]),
        texts(["corp.com"]),
        texts(["Software"]),
        np.array([100], dtype=np.int32),
        texts(["US"]),
    )
    none = np.zeros(0, dtype=np.int32)
    events = Events(none, np.zeros(0, np.int8), np.zeros(0), none, none, np.zeros(0))
    campaigns = Campaigns(texts([]), texts([]), np.zeros(0), np.zeros(0, np.uint8))
    return World(NOW.timestamp(), companies, people, campaigns, events, texts([]))


def fast(world: World | None = None, **options: Any) -> HubSpotSandbox:
    """A sandbox whose rate windows pass in a blink, for tests not about rate limits."""
    return HubSpotSandbox(world, clock=SandboxClock(scale=10_000), **options)


def client(sandbox: HubSpotSandbox, token: str = TOKEN) -> Any:
    return HubSpot(access_token=token, host=sandbox.base_url, retry=Retry(total=0))


def body(error: Any) -> Any:
    return json.loads(error.body)


def search(api: Any, *filters: dict[str, Any], **request: Any) -> Any:
    groups = [{"filters": [f]} for f in filters]
    return api.crm.contacts.search_api.do_search(
        PublicObjectSearchRequest(filter_groups=groups, **request)
    )


def ids(results: list[Any]) -> list[str]:
    return [r.id for r in results]


def updates(*rows: tuple[str, dict[str, str]]) -> BatchInputSimplePublicObjectBatchInput:
    return BatchInputSimplePublicObjectBatchInput(
        inputs=[SimplePublicObjectBatchInput(id=i, properties=p) for i, p in rows]
    )


@pytest.fixture(scope="module")
def portal() -> Iterator[HubSpotSandbox]:
    """A read-only sandbox over the small world, shared by the tests that only read."""
    with fast(small_world()) as sandbox:
        yield sandbox


@pytest.fixture
def sandbox() -> Iterator[HubSpotSandbox]:
    with fast(small_world()) as sandbox:
        yield sandbox


# -- contacts -------------------------------------------------------------------------------


def test_list_pages_through_every_contact_once() -> None:
    with fast(crowd(25)) as sandbox:
        api = client(sandbox)
        seen, after, pages = [], None, 0
        while True:
            page = api.crm.contacts.basic_api.get_page(limit=10, after=after)
            seen += ids(page.results)
            pages += 1
            if page.paging is None:
                break
            after = page.paging.next.after

    assert seen == [str(i) for i in range(1, 26)] and pages == 3
    assert set(page.results[0].properties) == set(DEFAULT_CONTACT_PROPERTIES)


def test_contact_is_read_by_id_or_email_with_the_worlds_attributes(portal: HubSpotSandbox) -> None:
    api = client(portal)
    wanted = ["email", "jobtitle", "company", "industry", "numemployees", "country"]
    by_id = api.crm.contacts.basic_api.get_by_id(ANN, properties=wanted)
    by_email = api.crm.contacts.basic_api.get_by_id("ann@ACME.io", id_property="email")

    assert by_email.id == ANN
    assert by_id.properties | {"createdate": None, "lastmodifieddate": None} == {
        "email": "Ann@Acme.io",  # as HubSpot holds it
        "jobtitle": "CMO",
        "company": "Acme",
        "industry": "Software",
        "numemployees": "100-500",
        "country": "US",
        "hs_object_id": "1",
        "createdate": None,
        "lastmodifieddate": None,
    }
    assert by_id.created_at == ago(100)


def test_unknown_contact_is_404_object_not_found(portal: HubSpotSandbox) -> None:
    with pytest.raises(ContactsError) as error:
        client(portal).crm.contacts.basic_api.get_by_id("999")
    assert error.value.status == 404 and body(error.value)["category"] == "OBJECT_NOT_FOUND"


def test_engagement_counters_come_from_the_worlds_events_up_to_now(portal: HubSpotSandbox) -> None:
    names = [
        "hs_email_delivered", "hs_email_open", "hs_email_click", "hs_email_bounce",
        "hs_email_optout", "hs_email_last_open_date", "hs_email_last_click_date",
        "hs_analytics_num_page_views", "hs_analytics_num_visits", "num_conversion_events",
        "recent_conversion_date", "recent_conversion_event_name", "lifecyclestage",
    ]  # fmt: skip
    api = client(portal)
    read = api.crm.contacts.batch_api.read(
        BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=i) for i in (ANN, BOB, DEE, EVE)],
            properties=names,
            properties_with_history=[],
        )
    )
    props = {r.id: r.properties for r in read.results}

    assert {k: props[ANN][k] for k in names} == {
        "hs_email_delivered": "1",
        "hs_email_open": "1",  # the open after `now` is not there yet
        "hs_email_click": "1",
        "hs_email_bounce": "0",
        "hs_email_optout": "false",
        "hs_email_last_open_date": "2026-10-23T12:00:00.000Z",
        "hs_email_last_click_date": "2026-10-23T12:00:00.000Z",
        "hs_analytics_num_page_views": "3",
        "hs_analytics_num_visits": "2",  # two distinct days
        # the demo request, then the meeting booked through a meetings link
        "num_conversion_events": "2",
        "recent_conversion_date": "2026-10-30T12:00:00.000Z",
        "recent_conversion_event_name": "Meetings Link: sales-team",
        "lifecyclestage": "salesqualifiedlead",
    }
    assert (props[BOB]["hs_email_bounce"], props[BOB]["lifecyclestage"]) == ("1", "customer")
    assert (props[DEE]["hs_email_optout"], props[DEE]["lifecyclestage"]) == (
        "true",
        "salesqualifiedlead",
    )
    assert (props[EVE]["hs_email_open"], props[EVE]["lifecyclestage"]) == ("0", "subscriber")
    assert props[EVE]["recent_conversion_event_name"] is None


# -- search ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"propertyName": "email", "operator": "EQ", "value": "ANN@acme.io"}, [ANN]),
        ({"propertyName": "country", "operator": "NEQ", "value": "us"}, [DEE, EVE]),
        ({"propertyName": "hs_email_open", "operator": "GT", "value": "0"}, [ANN]),
        ({"propertyName": "hs_analytics_num_page_views", "operator": "GTE", "value": "3"}, [ANN]),
        ({"propertyName": "createdate", "operator": "LT", "value": ms(ago(60))}, [ANN]),
        ({"propertyName": "hs_email_open", "operator": "LTE", "value": "0"}, [BOB, DEE, EVE]),
        (
            {
                "propertyName": "createdate",
                "operator": "BETWEEN",
                "value": ago(60).isoformat(),
                "highValue": ms(ago(10)),
            },
            [BOB, DEE],
        ),
        ({"propertyName": "recent_conversion_event_name", "operator": "HAS_PROPERTY"}, [ANN, DEE]),
        (
            {"propertyName": "recent_conversion_event_name", "operator": "NOT_HAS_PROPERTY"},
            [BOB, EVE],
        ),
        (
            {
                "propertyName": "lifecyclestage",
                "operator": "IN",
                "values": ["customer", "subscriber"],
            },
            [BOB, EVE],
        ),
        (
            {"propertyName": "email", "operator": "CONTAINS_TOKEN", "value": "*@globex.com"},
            [DEE, EVE],
        ),
    ],
)
def test_search_filter_operators(
    portal: HubSpotSandbox, spec: dict[str, Any], expected: list[str]
) -> None:
    found = search(client(portal), spec)
    assert ids(found.results) == expected and found.total == len(expected)


def test_search_ors_groups_sorts_and_pages_with_a_total(portal: HubSpotSandbox) -> None:
    api = client(portal)
    groups = [
        FilterGroup(filters=[Filter(property_name="country", operator="EQ", value="DE")]),
        FilterGroup(
            filters=[Filter(property_name="lifecyclestage", operator="EQ", value="customer")]
        ),
    ]
    sort = [{"propertyName": "createdate", "direction": "DESCENDING"}]
    first = api.crm.contacts.search_api.do_search(
        PublicObjectSearchRequest(filter_groups=groups, sorts=sort, limit=2, properties=["email"])
    )
    second = api.crm.contacts.search_api.do_search(
        PublicObjectSearchRequest(
            filter_groups=groups, sorts=sort, limit=2, after=first.paging.next.after
        )
    )

    assert (first.total, ids(first.results), ids(second.results)) == (3, [EVE, DEE], [BOB])
    assert second.paging is None
    assert set(first.results[0].properties) == {
        "email",
        "createdate",
        "hs_object_id",
        "lastmodifieddate",
    }


def test_search_pages_through_every_match_once() -> None:
    with fast(crowd(25)) as sandbox:
        api = client(sandbox)
        seen: list[str] = []
        after: str | None = "0"
        while after is not None:
            page = search(api, limit=10, after=after)
            seen += ids(page.results)
            after = page.paging.next.after if page.paging else None

    assert sorted(seen, key=int) == [str(i) for i in range(1, 26)] and len(seen) == 25


def test_search_refuses_to_page_beyond_its_result_cap() -> None:
    with fast(crowd(25), search_result_cap=20) as sandbox:
        api = client(sandbox)
        last_page = search(api, limit=10, after="10")
        with pytest.raises(ContactsError) as beyond:
            search(api, limit=10, after=last_page.paging.next.after)
        with pytest.raises(ContactsError) as straddling:
            search(api, limit=10, after="15")

    assert last_page.total == 25 and last_page.paging.next.after == "20"
    for error in (beyond.value, straddling.value):
        assert error.status == 400 and body(error)["category"] == "VALIDATION_ERROR"


def test_search_cap_is_10000_results_while_list_reaches_everyone() -> None:
    with fast(crowd(10_050)) as sandbox:
        api = client(sandbox)
        edge = search(api, limit=100, after="9900")
        with pytest.raises(ContactsError) as beyond:
            search(api, limit=100, after=edge.paging.next.after)
        listed, after = 0, None
        while True:
            page = api.crm.contacts.basic_api.get_page(limit=500, after=after)  # clamped to 100
            listed += len(page.results)
            if page.paging is None:
                break
            after = page.paging.next.after

    assert (edge.total, len(edge.results), edge.paging.next.after) == (10_050, 100, "10000")
    assert beyond.value.status == 400
    assert listed == 10_050 and len(page.results) == 50


@pytest.mark.parametrize(
    "request_body",
    [
        {"limit": 201},
        {"filterGroups": [{"filters": []}] * 6},
        {
            "filterGroups": [
                {"filters": [{"propertyName": "email", "operator": "HAS_PROPERTY"}] * 7}
            ]
        },
        {"sorts": ["createdate", "-email"]},
        {"filterGroups": [{"filters": [{"propertyName": "nope", "operator": "HAS_PROPERTY"}]}]},
    ],
)
def test_search_refuses_what_hubspot_refuses(
    portal: HubSpotSandbox, request_body: dict[str, Any]
) -> None:
    answer = requests.post(
        f"{portal.base_url}/crm/v3/objects/contacts/search",
        json=request_body,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    )
    assert answer.status_code == 400 and answer.json()["category"] == "VALIDATION_ERROR"


# -- batch read and update ------------------------------------------------------------------


def test_batch_read_reports_unknown_ids_in_a_multi_status(portal: HubSpotSandbox) -> None:
    api = client(portal)
    request = BatchReadInputSimplePublicObjectId(
        inputs=[SimplePublicObjectId(id=i) for i in (ANN, "999", BOB)],
        properties=["email"],
        properties_with_history=[],
    )
    answer, status, _ = api.crm.contacts.batch_api.read_with_http_info(request)

    assert status == 207 and isinstance(answer, BatchResponseSimplePublicObjectWithErrors)
    assert sorted(ids(answer.results)) == [ANN, BOB] and answer.num_errors == 1
    assert (answer.errors[0].category, answer.errors[0].context) == (
        "OBJECT_NOT_FOUND",
        {"ids": ["999"]},
    )


@pytest.mark.parametrize("operation", ["read", "update"])
def test_batches_over_100_inputs_are_400(portal: HubSpotSandbox, operation: str) -> None:
    inputs: list[Any] = [{"id": str(i), "properties": {"jobtitle": "x"}} for i in range(101)]
    answer = requests.post(
        f"{portal.base_url}/crm/v3/objects/contacts/batch/{operation}",
        json={"inputs": inputs, "properties": []},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    )
    assert answer.status_code == 400 and answer.json()["category"] == "VALIDATION_ERROR"


def test_batch_update_writes_and_moves_contacts_past_the_sync_cursor(
    sandbox: HubSpotSandbox,
) -> None:
    api = client(sandbox)
    newest = search(api, limit=1, sorts=["-lastmodifieddate"]).results[0]
    cursor = newest.properties["lastmodifieddate"]
    answer, status, _ = api.crm.contacts.batch_api.update_with_http_info(
        updates(
            (ANN, {"jobtitle": "CEO"}), (EVE, {"firstname": "Evelyn", "lifecyclestage": "lead"})
        )
    )
    changed = search(api, {"propertyName": "lastmodifieddate", "operator": "GT", "value": cursor})
    eve = api.crm.contacts.basic_api.get_by_id(EVE, properties=["firstname", "lifecyclestage"])

    assert status == 200 and isinstance(answer, BatchResponseSimplePublicObject)
    assert ids(changed.results) == [ANN, EVE]
    assert (eve.properties["firstname"], eve.properties["lifecyclestage"]) == ("Evelyn", "lead")
    assert eve.updated_at > newest.updated_at


def test_a_backwards_lifecycle_stage_is_ignored_and_the_rest_of_the_write_lands(
    sandbox: HubSpotSandbox,
) -> None:
    api = client(sandbox)
    _, status, _ = api.crm.contacts.batch_api.update_with_http_info(
        updates((BOB, {"firstname": "Robert", "lifecyclestage": "lead"}))  # BOB is a customer
    )
    bob = api.crm.contacts.basic_api.get_by_id(BOB, properties=["firstname", "lifecyclestage"])
    api.crm.contacts.basic_api.update(
        BOB, SimplePublicObjectInput(properties={"lifecyclestage": ""})
    )
    api.crm.contacts.basic_api.update(
        BOB, SimplePublicObjectInput(properties={"lifecyclestage": "lead"})
    )
    moved = api.crm.contacts.basic_api.get_by_id(BOB, properties=["lifecyclestage"])

    assert status == 200  # HubSpot answers success and keeps the stage
    assert (bob.properties["firstname"], bob.properties["lifecyclestage"]) == ("Robert", "customer")
    assert moved.properties["lifecyclestage"] == "lead"  # cleared first, then set: it moves


def test_unknown_property_fails_the_whole_batch(sandbox: HubSpotSandbox) -> None:
    api = client(sandbox)
    with pytest.raises(ContactsError) as error:
        api.crm.contacts.batch_api.update(updates((ANN, {"jobtitle": "CEO"}), (BOB, {"nope": "1"})))
    ann = api.crm.contacts.basic_api.get_by_id(ANN, properties=["jobtitle"])

    assert error.value.status == 400 and body(error.value)["category"] == "VALIDATION_ERROR"
    assert "PROPERTY_DOESNT_EXIST" in body(error.value)["message"]
    [named] = body(error.value)["errors"]
    assert (named["code"], named["context"]) == (
        "PROPERTY_DOESNT_EXIST",
        {"propertyName": ["nope"]},
    )
    assert ann.properties["jobtitle"] == "CMO"


def run_faulty_batch(seed: int) -> tuple[list[list[str]], dict[str, str | None]]:
    faults = FaultPlan(record_failure=0.5, seed=seed)
    with fast(small_world(), faults=faults) as sandbox:
        api = client(sandbox)
        answer = api.crm.contacts.batch_api.update(
            updates(*[(i, {"jobtitle": "Buyer"}) for i in (ANN, BOB, "999", DEE, EVE)])
        )
        titles = {
            i: api.crm.contacts.basic_api.get_by_id(i, properties=["jobtitle"]).properties[
                "jobtitle"
            ]
            for i in (ANN, BOB, DEE, EVE)
        }
    assert answer.num_errors == len(answer.errors)
    assert {r.properties["jobtitle"] for r in answer.results} == {"Buyer"}
    return [e.context["ids"] for e in answer.errors], titles


def test_batch_update_with_failing_records_is_a_reproducible_multi_status() -> None:
    failed, titles = run_faulty_batch(seed=3)

    assert failed == run_faulty_batch(seed=3)[0]
    assert failed[0] == ["999"] and 1 < len(failed) < 5  # the unknown id, then injected ones
    refused = {i for ids_ in failed for i in ids_}
    assert {i for i, title in titles.items() if title == "Buyer"} == {ANN, BOB, DEE, EVE} - refused


# -- properties ---------------------------------------------------------------------------------


def test_properties_include_lifecyclestage_with_its_default_options(portal: HubSpotSandbox) -> None:
    api = client(portal)
    listed = api.crm.properties.core_api.get_all("contacts")
    stage = api.crm.properties.core_api.get_by_name("contacts", "lifecyclestage")

    assert {"email", "hs_email_open", "recent_conversion_event_name"} <= {
        p.name for p in listed.results
    }
    assert [o.value for o in stage.options] == list(LIFECYCLE_STAGES)
    assert (stage.type, stage.group_name) == ("enumeration", "contactinformation")
    with pytest.raises(PropertiesError) as missing:
        api.crm.properties.core_api.get_by_name("contacts", "nope")
    assert missing.value.status == 404


def test_created_property_is_writable_and_duplicates_are_409(sandbox: HubSpotSandbox) -> None:
    api = client(sandbox)
    group = PropertyGroupCreate(name="leadscore", label="Lead scoring")
    score = PropertyCreate(
        name="leadscore_score",
        label="Lead score",
        type="number",
        field_type="number",
        group_name="leadscore",
    )
    api.crm.properties.groups_api.create("contacts", group)
    created = api.crm.properties.core_api.create("contacts", score)
    with pytest.raises(PropertiesError) as duplicate:
        api.crm.properties.core_api.create("contacts", score)
    with pytest.raises(PropertiesError) as duplicate_group:
        api.crm.properties.groups_api.create("contacts", group)
    api.crm.contacts.batch_api.update(updates((ANN, {"leadscore_score": "42.50"})))
    ann = api.crm.contacts.basic_api.get_by_id(ANN, properties=["leadscore_score"])
    groups = api.crm.properties.groups_api.get_all("contacts")

    assert (created.name, created.hubspot_defined, created.group_name) == (
        "leadscore_score",
        False,
        "leadscore",
    )
    for error in (duplicate.value, duplicate_group.value):
        assert error.status == 409 and body(error)["category"] == "OBJECT_ALREADY_EXISTS"
    assert ann.properties["leadscore_score"] == "42.5"
    assert "leadscore" in {g.name for g in groups.results}


def stage_options(*values: str) -> list[OptionInput]:
    return [
        OptionInput(label=v, value=v, display_order=i, hidden=False) for i, v in enumerate(values)
    ]


def create_stage_property(api: Any, *values: str) -> None:
    api.crm.properties.groups_api.create(
        "contacts", PropertyGroupCreate(name="leadscore", label="Lead scoring")
    )
    stage = PropertyCreate(
        name="leadscore_stage",
        label="Lead stage",
        type="enumeration",
        field_type="select",
        group_name="leadscore",
        description="leadscore: lead stage",
        options=stage_options(*values),
    )
    api.crm.properties.core_api.create("contacts", stage)


def test_property_update_replaces_the_options_and_changes_only_what_is_given(
    sandbox: HubSpotSandbox,
) -> None:
    api = client(sandbox)
    properties = api.crm.properties.core_api
    create_stage_property(api, "Prospect", "Lead")
    api.crm.contacts.batch_api.update(updates((ANN, {"leadscore_stage": "Lead"})))
    grown = PropertyUpdate(label="Stage", options=stage_options("Prospect", "Lead", "Engaged"))
    answer, status, _ = properties.update_with_http_info("contacts", "leadscore_stage", grown)
    api.crm.contacts.batch_api.update(updates((BOB, {"leadscore_stage": "Engaged"})))
    properties.update(
        "contacts", "leadscore_stage", PropertyUpdate(options=stage_options("Lead", "Engaged"))
    )
    with pytest.raises(ContactsError) as removed:
        api.crm.contacts.batch_api.update(updates((DEE, {"leadscore_stage": "Prospect"})))
    read = properties.get_by_name("contacts", "leadscore_stage")
    held = {
        i: api.crm.contacts.basic_api.get_by_id(i, properties=["leadscore_stage"]).properties[
            "leadscore_stage"
        ]
        for i in (ANN, BOB, DEE)
    }

    assert status == 200
    assert [o.value for o in answer.options] == ["Prospect", "Lead", "Engaged"]
    assert (answer.label, answer.description, answer.group_name, answer.type) == (
        "Stage",
        "leadscore: lead stage",
        "leadscore",
        "enumeration",
    )
    assert [o.value for o in read.options] == ["Lead", "Engaged"] and read.label == "Stage"
    assert removed.value.status == 400 and "INVALID_OPTION" in body(removed.value)["message"]
    assert held == {ANN: "Lead", BOB: "Engaged", DEE: None}


def test_property_update_of_an_unknown_property_is_404(portal: HubSpotSandbox) -> None:
    with pytest.raises(PropertiesError) as missing:
        client(portal).crm.properties.core_api.update(
            "contacts", "nope", PropertyUpdate(label="Nope")
        )
    assert missing.value.status == 404 and body(missing.value)["category"] == "OBJECT_NOT_FOUND"


@pytest.mark.parametrize(
    ("name", "update"),
    [
        ("createdate", PropertyUpdate(label="Born")),
        ("lifecyclestage", PropertyUpdate(options=stage_options("subscriber", "fan"))),
    ],
)
def test_built_in_properties_cannot_be_updated(
    portal: HubSpotSandbox, name: str, update: PropertyUpdate
) -> None:
    properties = client(portal).crm.properties.core_api
    before = properties.get_by_name("contacts", name)
    with pytest.raises(PropertiesError) as refused:
        properties.update("contacts", name, update)
    after = properties.get_by_name("contacts", name)

    assert refused.value.status == 400 and body(refused.value)["category"] == "VALIDATION_ERROR"
    assert after.modification_metadata.read_only_definition
    assert (after.label, after.options) == (before.label, before.options)


@pytest.mark.parametrize(
    ("name", "update"),
    [
        ("leadscore_score", PropertyUpdate(type="string", field_type="text")),
        ("leadscore_score", PropertyUpdate(options=stage_options("1", "2"))),
        ("leadscore_score", PropertyUpdate(group_name="nowhere")),
        ("leadscore_stage", PropertyUpdate(options=stage_options("Lead", "Lead"))),
    ],
)
def test_property_update_refuses_what_the_property_cannot_take(
    sandbox: HubSpotSandbox, name: str, update: PropertyUpdate
) -> None:
    api = client(sandbox)
    properties = api.crm.properties.core_api
    create_stage_property(api, "Prospect")
    score = PropertyCreate(
        name="leadscore_score",
        label="Lead score",
        type="number",
        field_type="number",
        group_name="leadscore",
    )
    properties.create("contacts", score)
    before = properties.get_by_name("contacts", name)
    with pytest.raises(PropertiesError) as refused:
        properties.update("contacts", name, update)
    after = properties.get_by_name("contacts", name)

    assert refused.value.status == 400 and body(refused.value)["category"] == "VALIDATION_ERROR"
    assert after.to_dict() == before.to_dict()


def test_wrong_token_is_401(portal: HubSpotSandbox) -> None:
    with pytest.raises(ContactsError) as error:
        client(portal, token="stolen").crm.contacts.basic_api.get_page()
    assert error.value.status == 401 and body(error.value)["category"] == "INVALID_AUTHENTICATION"


# -- email events -------------------------------------------------------------------------------


def events(sandbox: HubSpotSandbox, **params: str) -> Any:
    answer = requests.get(
        f"{sandbox.base_url}/email/public/v1/events",
        params=params,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    )
    assert answer.status_code == 200
    return answer.json()


def test_email_events_are_filtered_and_carry_their_send(portal: HubSpotSandbox) -> None:
    ann = events(portal, recipient="ann@ACME.io")["events"]
    bob = events(portal, recipient="bob@acme.io")["events"]
    dee = events(portal, recipient="dee@globex.com", eventType="STATUSCHANGE")["events"]
    clicks = events(portal, eventType="CLICK", campaignId="1")["events"]
    window = events(portal, startTimestamp=ms(ago(9.5)), endTimestamp=ms(ago(8)))["events"]

    # HubSpot processes a send before sending it, may defer it, and logs a change of one
    # subscription type (here after Ann's open) as a status change too.
    assert [e["type"] for e in ann] == [
        "PROCESSED", "SENT", "DEFERRED", "DELIVERED", "OPEN", "CLICK", "STATUSCHANGE"
    ]  # fmt: skip
    assert {e["sentBy"]["created"] for e in ann[1:]} == {int(ms(ago(10)))}
    # a bounced send is not delivered, and the address's next campaign is dropped
    assert [e["type"] for e in bob] == ["SENT", "BOUNCE", "DROPPED"]
    assert bob[2]["dropReason"] == "PREVIOUSLY_BOUNCED"
    assert dee[0]["portalSubscriptionStatus"] == "UNSUBSCRIBED"
    assert [(e["recipient"], e["url"]) for e in clicks] == [
        ("Ann@Acme.io", "https://acme.io/pricing")
    ]
    assert [e["type"] for e in window] == ["OPEN", "CLICK", "STATUSCHANGE", "STATUSCHANGE"]


def test_email_events_page_with_offset_until_has_more_is_false(portal: HubSpotSandbox) -> None:
    everything = events(portal)
    seen, params = [], {"limit": "3"}
    while True:
        page = events(portal, **params)
        seen += [e["id"] for e in page["events"]]
        if not page["hasMore"]:
            break
        params["offset"] = page["offset"]

    assert everything["hasMore"] is False
    assert seen == [e["id"] for e in everything["events"]] and len(seen) == 13


# -- engagements, deals, associations ---------------------------------------------------------


def test_engagements_and_deals_are_associated_with_their_contacts(portal: HubSpotSandbox) -> None:
    api = client(portal)
    meetings = api.crm.objects.meetings.basic_api.get_page(associations=["contacts"])
    calls = api.crm.objects.calls.basic_api.get_page(
        associations=["contacts"], properties=["hs_call_title"]
    )
    emails = api.crm.objects.emails.basic_api.get_page(associations=["contacts"])
    deals = api.crm.deals.basic_api.get_page(
        associations=["contacts"], properties=["dealstage", "amount"]
    )

    def linked(page: Any) -> list[list[str]]:
        return [ids(r.associations["contacts"].results) for r in page.results]

    assert (linked(meetings), linked(calls), linked(emails), linked(deals)) == (
        [[ANN]],
        [[DEE]],
        [[BOB]],
        [[BOB]],
    )
    assert (
        meetings.results[0].associations["contacts"].results[0].type == "meeting_event_to_contact"
    )
    assert calls.results[0].properties["hs_call_title"] == "Call with Dee Fox"
    assert (deals.results[0].properties["dealstage"], deals.results[0].properties["amount"]) == (
        "closedwon",
        "9500",
    )


def test_v4_associations_from_contacts(portal: HubSpotSandbox) -> None:
    api = client(portal)
    page = api.crm.associations.v4.basic_api.get_page("contacts", BOB, "deals")
    batch = api.crm.associations.v4.batch_api.get_page(
        "contacts",
        "meetings",
        BatchInputPublicFetchAssociationsBatchRequest(
            inputs=[PublicFetchAssociationsBatchRequest(id=i) for i in (ANN, EVE)]
        ),
    )
    contact = api.crm.contacts.basic_api.get_by_id(BOB, associations=["deals"])

    assert [(r.to_object_id, r.association_types[0].type_id) for r in page.results] == [("1", 4)]
    assert [(r._from.id, r.to[0].to_object_id) for r in batch.results] == [(ANN, "1")]
    assert batch.num_errors == 1 and batch.errors[0].context == {"ids": [EVE]}
    assert contact.associations["deals"].results[0].type == "contact_to_deal"


# -- new activity ---------------------------------------------------------------------------------


def test_new_activity_moves_contacts_into_the_next_incremental_search(
    sandbox: HubSpotSandbox,
) -> None:
    api = client(sandbox)
    cursor = (
        search(api, limit=1, sorts=["-lastmodifieddate"]).results[0].properties["lastmodifieddate"]
    )
    sandbox.add_event(EVE, A.EMAIL_SENT, campaign=0)
    sandbox.add_event(EVE, A.EMAIL_OPEN, campaign=0)
    sandbox.add_event(EVE, A.FORM_SUBMISSION, url="https://acme.io/contact")
    sandbox.add_event(BOB, A.MEETING)
    touch(sandbox, DEE, jobtitle="VP Marketing")
    changed = search(
        api,
        {"propertyName": "lastmodifieddate", "operator": "GT", "value": cursor},
        properties=["hs_email_open", "recent_conversion_event_name", "jobtitle"],
    )
    props = {r.id: r.properties for r in changed.results}

    assert sorted(props) == [BOB, DEE, EVE]
    assert (props[EVE]["hs_email_open"], props[EVE]["recent_conversion_event_name"]) == (
        "1",
        "Contact | LeadFlow: lead scoring for B2B teams: Contact us",  # page title: form
    )
    assert props[DEE]["jobtitle"] == "VP Marketing"
    sent, delivered, opened = events(sandbox, recipient="eve@globex.com")["events"]
    assert [e["type"] for e in (sent, delivered, opened)] == ["SENT", "DELIVERED", "OPEN"]
    assert opened["sentBy"] == {"id": sent["id"], "created": sent["created"]}
    assert len(api.crm.objects.meetings.basic_api.get_page().results) == 2
    assert contact_id_of(sandbox, "EVE@globex.com") == EVE


# -- rate limits, faults, latency ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tier", "burst"),
    [
        ("starter", 100),
        ("professional", 190),
        ("enterprise", 190),
        ("professional+api_addon", 250),
        ("oauth", 110),
    ],
)
def test_the_request_after_the_tiers_burst_in_10_seconds_gets_429(tier: str, burst: int) -> None:
    with HubSpotSandbox(small_world(), tier=tier) as sandbox:
        api = client(sandbox)
        _, _, first = api.crm.contacts.basic_api.get_by_id_with_http_info(ANN)
        for _ in range(burst - 1):
            api.crm.contacts.basic_api.get_by_id(ANN)
        with pytest.raises(ContactsError) as refused:
            api.crm.contacts.basic_api.get_by_id(ANN)

    assert (first["X-HubSpot-RateLimit-Max"], first["X-HubSpot-RateLimit-Remaining"]) == (
        str(burst),
        str(burst - 1),
    )
    assert first["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    # An OAuth app has no daily limit, and its answers say none.
    assert ("X-HubSpot-RateLimit-Daily" in first) == (tier != "oauth")
    assert refused.value.status == 429 and int(refused.value.headers["Retry-After"]) >= 1
    answer = body(refused.value)
    assert (answer["policyName"], answer["errorType"], answer["status"]) == (
        "TEN_SECONDLY_ROLLING",
        "RATE_LIMIT",
        "error",
    )
    assert (
        answer["message"] == "You have reached your ten_secondly_rolling limit."
        and answer["correlationId"]
    )


def test_search_allows_5_requests_a_second_and_carries_no_rate_limit_headers() -> None:
    with HubSpotSandbox(small_world()) as sandbox:
        api = client(sandbox)
        request = PublicObjectSearchRequest(limit=1)
        headers = [
            api.crm.contacts.search_api.do_search_with_http_info(request)[2] for _ in range(5)
        ]
        with pytest.raises(ContactsError) as refused:
            api.crm.contacts.search_api.do_search(request)

    assert all("X-HubSpot-RateLimit-Remaining" not in h for h in headers)
    assert all("X-HubSpot-Correlation-Id" in h for h in headers)
    assert refused.value.status == 429 and body(refused.value)["policyName"] == "SECONDLY"
    assert "Retry-After" not in (refused.value.headers or {})  # search's 429 never says when


def test_search_is_exempt_from_the_10_second_window_and_spends_none_of_it() -> None:
    with HubSpotSandbox(small_world(), tier="starter") as sandbox:
        api = client(sandbox)
        for _ in range(100):  # the starter tier's whole 10-second window
            api.crm.contacts.basic_api.get_by_id(ANN)
        found = api.crm.contacts.search_api.do_search(PublicObjectSearchRequest(limit=1))
        with pytest.raises(ContactsError) as refused:
            api.crm.contacts.basic_api.get_by_id(ANN)

    assert found.total >= 1
    assert body(refused.value)["policyName"] == "TEN_SECONDLY_ROLLING"
    assert sandbox.limits.window.remaining() == 0  # the search took no slot of the window


def test_daily_budget_runs_out_with_policy_daily() -> None:
    with HubSpotSandbox(small_world(), daily_limit=3) as sandbox:
        api = client(sandbox)
        last = [api.crm.contacts.basic_api.get_page_with_http_info()[2] for _ in range(3)][-1]
        with pytest.raises(ContactsError) as refused:
            api.crm.contacts.basic_api.get_page()

    assert (last["X-HubSpot-RateLimit-Daily"], last["X-HubSpot-RateLimit-Daily-Remaining"]) == (
        "3",
        "0",
    )
    assert refused.value.status == 429 and body(refused.value)["policyName"] == "DAILY"


def statuses(sandbox: HubSpotSandbox, count: int) -> list[int | str]:
    session = requests.Session()
    found: list[int | str] = []
    for _ in range(count):
        try:
            answer = session.get(
                f"{sandbox.base_url}/crm/v3/objects/contacts",
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=5,
            )
            found.append(answer.status_code)
        except requests.ConnectionError:
            found.append("dropped")
            session = requests.Session()
    return found


def test_a_seeded_fault_plan_gives_the_same_statuses_in_the_same_order() -> None:
    runs = []
    for seed in (7, 7, 8):
        plan = FaultPlan(rate_limited=0.2, server_error=0.15, dropped=0.1, seed=seed)
        with fast(small_world(), faults=plan) as sandbox:
            runs.append(statuses(sandbox, 40))

    assert runs[0] == runs[1] != runs[2]
    assert {200, 429, "dropped"} <= set(runs[0]) and {500, 503} & set(runs[0])


def test_injected_429_is_hubspots_and_the_sdk_retries_get_on_retry_after() -> None:
    with fast(small_world(), faults=FaultPlan(rate_limited=1.0, retry_after=0)) as sandbox:
        default_retries = HubSpot(access_token=TOKEN, host=sandbox.base_url)
        with pytest.raises(ContactsError) as get:
            default_retries.crm.contacts.basic_api.get_by_id(ANN)
        with pytest.raises(ContactsError):
            default_retries.crm.contacts.search_api.do_search(PublicObjectSearchRequest())
        calls = dict(sandbox.calls)

    assert get.value.status == 429 and body(get.value)["policyName"] == "TEN_SECONDLY_ROLLING"
    assert calls == {"contacts.get": 4, "contacts.search": 1}  # urllib3 retried the GET three times


def test_latency_is_added_to_each_answer() -> None:
    with fast(small_world(), latency=Latency(fixed=2_000)) as slow:  # 2,000 vendor s = 0.2 s real
        api = client(slow)
        started = time.perf_counter()
        api.crm.contacts.basic_api.get_by_id(ANN)
        elapsed = time.perf_counter() - started

    assert 0.2 <= elapsed < 1.0
