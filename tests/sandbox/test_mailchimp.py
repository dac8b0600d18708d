"""The Mailchimp sandbox, driven by the official mailchimp-marketing SDK.

Besides the emulator's answers, these tests pin what the SDK itself does with
Mailchimp's answers, because the connector has to work around it:
- errors are `application/problem+json`, so the SDK raises `ApiClientError`
  with `.text` the raw JSON string (not a dict) and `.status_code`;
- a 204 (tags POST), or a 200 whose JSON is empty, comes back as the raw
  `requests.Response`, not None;
- a `fields` string is joined letter by letter (it must be a list);
- a dropped connection raises `ApiClientError` with `status_code` None;
- `count` above 1000 raises ValueError before any request is made.
"""

from __future__ import annotations

import io
import json
import tarfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from mailchimp_marketing.api_client import ApiClientError

from sandbox.clock import SandboxClock
from sandbox.faults import FaultPlan, Latency
from sandbox.mailchimp import (
    STORE_ID,
    MailchimpSandbox,
    iso,
    sandbox_client,
    subscriber_hash,
)
from sandbox.world.tables import HUBSPOT, MAILCHIMP, SALESFORCE, World, WorldBuilder
from scoring.records import ActivityType as T
from tests.sandbox.mailchimp_helpers import add_activity, finish_batches, reset

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
FILLERS = 19
MAILCHIMP_PEOPLE = 6 + FILLERS


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def build_world() -> World:
    """25 Mailchimp members (and 2 people only in the CRMs), two campaigns, a store."""
    b = WorldBuilder(NOW)
    acme = b.company("Acme", "acme.io")
    ann = b.person("Ann", "Lee", "ann@acme.io", acme, held={MAILCHIMP: " Ann@Acme.io"})
    bob = b.person("Bob", "Ray", "bob@acme.io", acme)
    cat = b.person("Cat", "Ng", "cat@acme.io", acme)
    dan = b.person("Dan", "Fox", "dan@acme.io", acme)
    eve = b.person("Eve", "Kim", "eve@acme.io", acme)
    fay = b.person("Fay", "Orr", "fay@acme.io", acme)
    fillers = [b.person(f"P{n}", "Filler", f"p{n:02}@acme.io", acme) for n in range(FILLERS)]
    b.person("Hal", "Crm", "hal@acme.io", acme, systems=HUBSPOT | SALESFORCE)
    b.person("Ivy", "Crm", "ivy@acme.io", acme, systems=HUBSPOT)
    launch = b.campaign("Launch", "Meet leadscore", ago(10))
    b.campaign("Webinar", "Join our webinar", NOW + timedelta(days=3))
    for who in [ann, bob, cat, dan, *fillers[:5]]:
        b.event(who, T.EMAIL_SENT, ago(10), campaign=launch)
    b.event(ann, T.EMAIL_OPEN, ago(9), campaign=launch)
    b.event(ann, T.EMAIL_CLICK, ago(9), campaign=launch, url="https://acme.io/pricing")
    b.event(fillers[0], T.EMAIL_OPEN, ago(8), campaign=launch)
    b.event(cat, T.EMAIL_BOUNCE, ago(10), campaign=launch)
    b.event(bob, T.EMAIL_UNSUBSCRIBE, ago(8), campaign=launch)
    b.event(dan, T.EMAIL_SPAM_REPORT, ago(7), campaign=launch)
    b.event(eve, T.NEWSLETTER_SIGNUP, NOW - timedelta(hours=1))
    b.event(fay, T.NEWSLETTER_SIGNUP, ago(30))
    b.event(ann, T.PURCHASE, ago(2), campaign=launch, amount=99.0)
    b.event(fay, T.PURCHASE, ago(1), amount=250.0)
    b.event(fay, T.PAGE_VIEW, ago(1), url="https://acme.io/")
    return b.build(seed=7)


class FrozenClock(SandboxClock):
    """Vendor time that moves only when a test moves it; sleeps stay real."""

    def __init__(self) -> None:
        super().__init__()
        self.offset = 0.0

    def now(self) -> float:
        return self.offset


@pytest.fixture(scope="module")
def server() -> Iterator[MailchimpSandbox]:
    """One running sandbox for the module; each test gets it reset to the world."""
    emulator = MailchimpSandbox(
        build_world(),
        clock=FrozenClock(),
        soft_bounce_share=0.0,
        transactional_share=0.0,
        archived_share=0.0,
    )
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def sandbox(server: MailchimpSandbox) -> MailchimpSandbox:
    reset(server)
    frozen(server).offset = 0.0
    return server


def frozen(sandbox: MailchimpSandbox) -> FrozenClock:
    assert isinstance(sandbox.clock, FrozenClock)
    return sandbox.clock


@pytest.fixture
def client(sandbox: MailchimpSandbox) -> Any:
    return sandbox_client(sandbox)


def h(email: str) -> str:
    return subscriber_hash(email)


def problem_of(caught: pytest.ExceptionInfo[ApiClientError]) -> dict[str, Any]:
    """The problem document of an SDK error: the SDK hands over the raw JSON text."""
    assert isinstance(caught.value.text, str)
    details: dict[str, Any] = json.loads(caught.value.text)
    assert details["status"] == caught.value.status_code
    assert {"type", "title", "status", "detail", "instance"} <= details.keys()
    return details


def raw(
    sandbox: MailchimpSandbox, method: str, path: str, key: str | None = "", **kwargs: Any
) -> requests.Response:
    """A plain HTTP call, for what the SDK hides (headers, missing auth)."""
    auth = ("anystring", key or sandbox.api_key) if key is not None else None
    return requests.request(method, f"{sandbox.base_url}{path}", auth=auth, timeout=10, **kwargs)


# -- lists and members ---------------------------------------------------------------------


def test_the_account_has_one_audience_with_member_counts(
    client: Any, sandbox: MailchimpSandbox
) -> None:
    lists = client.lists.get_all_lists()

    assert lists["total_items"] == 1
    audience = client.lists.get_list(sandbox.list_id)
    assert audience == lists["lists"][0]
    assert audience["stats"]["member_count"] == MAILCHIMP_PEOPLE - 4  # bob, cat, dan, eve
    assert audience["stats"]["unsubscribe_count"] == 2
    assert audience["stats"]["cleaned_count"] == 1


def test_a_member_is_found_by_the_md5_of_its_lower_cased_address(
    client: Any, sandbox: MailchimpSandbox
) -> None:
    member = client.lists.get_list_member(sandbox.list_id, h("ann@acme.io"))

    assert member["id"] == h("ann@acme.io")
    assert member["email_address"] == "Ann@Acme.io"  # as Mailchimp holds it, trimmed
    assert member["merge_fields"] == {
        "FNAME": "Ann",
        "LNAME": "Lee",
        "ADDRESS": "",
        "PHONE": "",
        "COMPANY": "Acme",
    }
    assert member["status"] == "subscribed"
    assert member["stats"] == {"avg_open_rate": 1.0, "avg_click_rate": 1.0}
    assert 1 <= member["member_rating"] <= 5
    assert member["timestamp_signup"] == iso(ago(90).timestamp())
    assert member["last_changed"] == iso(ago(2).timestamp())
    assert member["tags"] == [{"id": member["tags"][0]["id"], "name": "customer"}]


def test_a_member_can_also_be_addressed_by_its_email(
    client: Any, sandbox: MailchimpSandbox
) -> None:
    member = client.lists.get_list_member(sandbox.list_id, "ANN@acme.io")

    assert member["id"] == h("ann@acme.io")


def test_statuses_come_from_the_last_unsubscribe_bounce_spam_report_or_signup(
    client: Any, sandbox: MailchimpSandbox
) -> None:
    def status(email: str) -> str:
        return str(client.lists.get_list_member(sandbox.list_id, h(email))["status"])

    assert status("bob@acme.io") == "unsubscribed"
    assert status("cat@acme.io") == "cleaned"
    assert status("dan@acme.io") == "unsubscribed"
    assert status("eve@acme.io") == "pending"  # signed up an hour ago, not confirmed yet
    assert status("fay@acme.io") == "subscribed"


def test_paging_with_count_and_offset_returns_every_member_once(
    client: Any, sandbox: MailchimpSandbox
) -> None:
    seen: list[str] = []
    offset = 0
    while True:
        result = client.lists.get_list_members_info(sandbox.list_id, count=7, offset=offset)
        assert result["total_items"] == MAILCHIMP_PEOPLE
        if not result["members"]:
            break
        seen += [m["email_address"] for m in result["members"]]
        offset += 7

    assert len(seen) == len(set(seen)) == MAILCHIMP_PEOPLE
    assert "hal@acme.io" not in seen and "ivy@acme.io" not in seen


def test_count_defaults_to_10_and_is_clamped_to_1000(
    client: Any, sandbox: MailchimpSandbox
) -> None:
    assert len(client.lists.get_list_members_info(sandbox.list_id)["members"]) == 10
    with pytest.raises(ValueError):  # the SDK refuses before asking
        client.lists.get_list_members_info(sandbox.list_id, count=1001)

    answer = raw(sandbox, "GET", f"/3.0/lists/{sandbox.list_id}/members", params={"count": 5000})

    assert len(answer.json()["members"]) == MAILCHIMP_PEOPLE


def test_members_can_be_filtered_by_status(client: Any, sandbox: MailchimpSandbox) -> None:
    result = client.lists.get_list_members_info(sandbox.list_id, status="unsubscribed")

    assert {m["email_address"] for m in result["members"]} == {"bob@acme.io", "dan@acme.io"}
    assert result["total_items"] == 2


def test_since_last_changed_returns_only_members_changed_since(
    client: Any, sandbox: MailchimpSandbox
) -> None:
    cursor = iso(sandbox.now())
    assert (
        client.lists.get_list_members_info(sandbox.list_id, since_last_changed=cursor)[
            "total_items"
        ]
        == 0
    )

    add_activity(sandbox, "p03@acme.io", T.EMAIL_OPEN, campaign=0)  # activity, not a change
    add_activity(sandbox, "p05@acme.io", T.EMAIL_UNSUBSCRIBE, campaign=0)
    client.lists.update_list_member(
        sandbox.list_id, h("p04@acme.io"), {"merge_fields": {"FNAME": "Pia"}}
    )
    changed = client.lists.get_list_members_info(
        sandbox.list_id, since_last_changed=cursor, count=1000
    )

    assert {m["email_address"] for m in changed["members"]} == {"p04@acme.io", "p05@acme.io"}
    assert changed["total_items"] == 2


def test_since_and_before_last_changed_accept_datetimes_from_the_sdk(
    client: Any, sandbox: MailchimpSandbox
) -> None:
    result = client.lists.get_list_members_info(
        sandbox.list_id, since_last_changed=ago(3), before_last_changed=ago(1.5)
    )

    assert [m["email_address"] for m in result["members"]] == ["Ann@Acme.io"]


def test_fields_and_exclude_fields_use_dot_notation(client: Any, sandbox: MailchimpSandbox) -> None:
    kept = client.lists.get_list_members_info(
        sandbox.list_id, fields=["members.email_address", "total_items"], count=2
    )
    dropped = client.lists.get_list_member(
        sandbox.list_id, h("ann@acme.io"), exclude_fields=["stats", "merge_fields.ADDRESS"]
    )

    assert kept == {
        "members": [{"email_address": "Ann@Acme.io"}, {"email_address": "bob@acme.io"}],
        "total_items": MAILCHIMP_PEOPLE,
    }
    assert "stats" not in dropped and "ADDRESS" not in dropped["merge_fields"]
    assert dropped["merge_fields"]["FNAME"] == "Ann"


def test_the_sdk_joins_a_fields_string_letter_by_letter_and_returns_an_empty_answer_raw(
    client: Any,
) -> None:
    result = client.lists.get_all_lists(fields="lists.id")  # a list is what the SDK wants

    assert isinstance(result, requests.Response)
    assert result.url.endswith("fields=l%2Ci%2Cs%2Ct%2Cs%2C.%2Ci%2Cd")
    assert result.json() == {}


# -- writing members -----------------------------------------------------------------------


def test_put_adds_a_new_member_with_status_if_new(client: Any, sandbox: MailchimpSandbox) -> None:
    body = {
        "email_address": "New.Lead@Beta.io",
        "status_if_new": "subscribed",
        "merge_fields": {"FNAME": "Nia", "UNKNOWN": "ignored"},
    }

    member = client.lists.set_list_member(sandbox.list_id, h("new.lead@beta.io"), body)

    assert member["email_address"] == "New.Lead@Beta.io"
    assert member["status"] == "subscribed"
    assert member["merge_fields"]["FNAME"] == "Nia" and "UNKNOWN" not in member["merge_fields"]
    assert member["last_changed"] == iso(sandbox.now())
    listed = client.lists.get_list_members_info(sandbox.list_id, count=1000)
    assert listed["total_items"] == MAILCHIMP_PEOPLE + 1
    assert listed["members"][-1]["id"] == h("new.lead@beta.io")


def test_put_of_a_new_member_without_a_status_is_refused(
    client: Any, sandbox: MailchimpSandbox
) -> None:
    with pytest.raises(ApiClientError) as caught:
        client.lists.set_list_member(
            sandbox.list_id, h("x@beta.io"), {"email_address": "x@beta.io"}
        )

    details = problem_of(caught)
    assert caught.value.status_code == 400
    assert details["title"] == "Invalid Resource"
    assert details["errors"][0]["field"] == "status_if_new"


def test_put_updates_an_existing_member_and_moves_last_changed_only_on_change(
    client: Any, sandbox: MailchimpSandbox
) -> None:
    hash_ = h("fay@acme.io")
    before = client.lists.get_list_member(sandbox.list_id, hash_)["last_changed"]

    same = client.lists.set_list_member(
        sandbox.list_id, hash_, {"email_address": "fay@acme.io", "merge_fields": {"FNAME": "Fay"}}
    )
    frozen(sandbox).offset += 3600
    changed = client.lists.set_list_member(
        sandbox.list_id,
        hash_,
        {"email_address": "fay@acme.io", "merge_fields": {"LNAME": "Orr-Li"}},
    )

    assert same["last_changed"] == before
    assert (
        changed["merge_fields"]["LNAME"] == "Orr-Li" and changed["merge_fields"]["FNAME"] == "Fay"
    )
    assert changed["last_changed"] == iso(sandbox.now())


def test_patch_changes_status_and_an_unknown_member_is_404(
    client: Any, sandbox: MailchimpSandbox
) -> None:
    member = client.lists.update_list_member(
        sandbox.list_id, h("p05@acme.io"), {"status": "unsubscribed"}
    )
    with pytest.raises(ApiClientError) as caught:
        client.lists.update_list_member(
            sandbox.list_id, h("nobody@acme.io"), {"status": "subscribed"}
        )

    assert member["status"] == "unsubscribed"
    assert caught.value.status_code == 404
    assert problem_of(caught)["title"] == "Resource Not Found"


def test_a_cleaned_member_cannot_be_resubscribed(client: Any, sandbox: MailchimpSandbox) -> None:
    with pytest.raises(ApiClientError) as caught:
        client.lists.update_list_member(sandbox.list_id, h("cat@acme.io"), {"status": "subscribed"})

    assert caught.value.status_code == 400
    assert problem_of(caught)["title"] == "Member In Compliance State"


def test_an_invalid_address_is_refused(client: Any, sandbox: MailchimpSandbox) -> None:
    with pytest.raises(ApiClientError) as caught:
        client.lists.set_list_member(
            sandbox.list_id,
            h("not-an-address"),
            {"email_address": "not-an-address", "status": "subscribed"},
        )

    assert caught.value.status_code == 400
    assert "looks fake or invalid" in problem_of(caught)["detail"]


# -- tags ----------------------------------------------------------------------------------


def test_tags_post_answers_204_which_the_sdk_returns_as_a_raw_response(
    client: Any, sandbox: MailchimpSandbox
) -> None:
    body = {
        "tags": [
            {"name": "hot lead", "status": "active"},
            {"name": "customer", "status": "inactive"},
        ]
    }

    result = client.lists.update_list_member_tags(sandbox.list_id, h("ann@acme.io"), body)

    assert isinstance(result, requests.Response)  # not None, not a dict: the connector checks
    assert result.status_code == 204 and result.content == b""
    assert result.headers["Content-Type"].startswith("application/json")
    tags = client.lists.get_list_member_tags(sandbox.list_id, h("ann@acme.io"))
    assert [t["name"] for t in tags["tags"]] == ["hot lead"]
    assert tags["total_items"] == 1


def test_a_tags_post_with_a_bad_status_is_refused(client: Any, sandbox: MailchimpSandbox) -> None:
    with pytest.raises(ApiClientError) as caught:
        client.lists.update_list_member_tags(
            sandbox.list_id, h("ann@acme.io"), {"tags": [{"name": "x", "status": "on"}]}
        )

    assert caught.value.status_code == 400
    assert problem_of(caught)["errors"][0]["field"] == "tags.item:0.status"


# -- member activity -----------------------------------------------------------------------


def test_the_activity_feed_lists_a_members_events_newest_first(
    client: Any, sandbox: MailchimpSandbox
) -> None:
    feed = client.lists.get_list_member_activity_feed(sandbox.list_id, h("ann@acme.io"))
    clicks = client.lists.get_list_member_activity_feed(
        sandbox.list_id, h("ann@acme.io"), activity_filters=["click"]
    )

    assert [a["activity_type"] for a in feed["activity"]] == ["order", "click", "open", "sent"]
    assert feed["total_items"] == 4
    assert clicks["activity"] == [
        {
            "activity_type": "click",
            "created_at_timestamp": iso(ago(9).timestamp()),
            "campaign_id": sandbox.campaigns[0].id,
            "campaign_title": "Launch",
            "link_clicked": "https://acme.io/pricing",
        }
    ]


def test_the_member_activity_endpoint_lists_email_actions(
    client: Any, sandbox: MailchimpSandbox
) -> None:
    activity = client.lists.get_list_member_activity(sandbox.list_id, h("dan@acme.io"))

    assert [(a["action"], a["campaign_id"]) for a in activity["activity"]] == [
        ("unsub", sandbox.campaigns[0].id),
        ("sent", sandbox.campaigns[0].id),
    ]


# -- campaigns and reports -----------------------------------------------------------------


def test_campaigns_list_sent_ones_with_subject_and_send_time(
    client: Any, sandbox: MailchimpSandbox
) -> None:
    every = client.campaigns.list()
    sent = client.campaigns.list(status="sent", since_send_time=ago(30))
    later = client.campaigns.list(since_send_time=ago(5))

    assert every["total_items"] == 2
    assert [c["settings"]["subject_line"] for c in sent["campaigns"]] == ["Meet leadscore"]
    launch = sent["campaigns"][0]
    assert launch["send_time"] == iso(ago(10).timestamp())
    assert launch["recipients"]["recipient_count"] == 9
    assert launch["report_summary"]["unique_opens"] == 2
    assert [c["status"] for c in later["campaigns"]] == ["schedule"]


def test_email_activity_lists_each_recipient_with_their_actions(
    client: Any, sandbox: MailchimpSandbox
) -> None:
    launch = sandbox.campaigns[0].id

    report = client.reports.get_email_activity_for_campaign(launch, count=100)

    assert report["total_items"] == 9
    by_email = {e["email_address"]: e["activity"] for e in report["emails"]}
    assert [(a["action"], a["url"]) for a in by_email["Ann@Acme.io"]] == [
        ("open", ""),
        ("click", "https://acme.io/pricing"),
    ]
    assert [a["action"] for a in by_email["cat@acme.io"]] == ["bounce"]
    assert by_email["p04@acme.io"] == []


def test_email_activity_since_keeps_only_later_actions_and_pages(
    client: Any, sandbox: MailchimpSandbox
) -> None:
    launch = sandbox.campaigns[0].id
    add_activity(sandbox, "p02@acme.io", T.EMAIL_CLICK, campaign=launch, url="https://acme.io/demo")

    recent = client.reports.get_email_activity_for_campaign(launch, since=iso(ago(8.5).timestamp()))
    first = client.reports.get_email_activity_for_campaign(launch, count=4, offset=0)
    rest = client.reports.get_email_activity_for_campaign(launch, count=4, offset=4)

    assert [
        (e["email_address"], [a["action"] for a in e["activity"]]) for e in recent["emails"]
    ] == [
        ("p00@acme.io", ["open"]),
        ("p02@acme.io", ["click"]),
    ]
    emails = [e["email_id"] for e in first["emails"] + rest["emails"]]
    assert len(emails) == len(set(emails)) == 8


def test_an_unknown_campaign_report_is_404(client: Any) -> None:
    with pytest.raises(ApiClientError) as caught:
        client.reports.get_email_activity_for_campaign("0000000000")

    assert caught.value.status_code == 404


# -- e-commerce ----------------------------------------------------------------------------


def test_the_store_has_customers_and_orders_from_purchases(
    client: Any, sandbox: MailchimpSandbox
) -> None:
    stores = client.ecommerce.stores()
    customers = client.ecommerce.get_all_store_customers(STORE_ID)
    orders = client.ecommerce.get_store_orders(STORE_ID)

    assert [s["id"] for s in stores["stores"]] == [STORE_ID]
    assert stores["stores"][0]["list_id"] == sandbox.list_id
    assert [(c["email_address"], c["total_spent"]) for c in customers["customers"]] == [
        ("Ann@Acme.io", 99.0),
        ("fay@acme.io", 250.0),
    ]
    assert [(o["order_total"], o["campaign_id"]) for o in orders["orders"]] == [
        (99.0, sandbox.campaigns[0].id),
        (250.0, ""),
    ]


def test_orders_can_be_filtered_by_customer(client: Any) -> None:
    fay = client.ecommerce.get_all_store_customers(STORE_ID, email_address="fay@acme.io")
    customer = fay["customers"][0]

    orders = client.ecommerce.get_store_orders(STORE_ID, customer_id=customer["id"])

    assert client.ecommerce.get_store_customer(STORE_ID, customer["id"]) == customer
    assert [o["customer"]["email_address"] for o in orders["orders"]] == ["fay@acme.io"]
    assert client.ecommerce.orders(customer_id=customer["id"])["total_items"] == 1


# -- merge fields --------------------------------------------------------------------------


def test_merge_fields_can_be_listed_and_added(client: Any, sandbox: MailchimpSandbox) -> None:
    added = client.lists.add_list_merge_field(
        sandbox.list_id, {"tag": "LS_SCORE", "name": "Lead score", "type": "number"}
    )
    fields = client.lists.get_list_merge_fields(sandbox.list_id, count=100)

    assert added["tag"] == "LS_SCORE" and added["type"] == "number"
    assert [f["tag"] for f in fields["merge_fields"]] == [
        "FNAME",
        "LNAME",
        "ADDRESS",
        "PHONE",
        "COMPANY",
        "LS_SCORE",
    ]
    member = client.lists.get_list_member(sandbox.list_id, h("ann@acme.io"))
    assert member["merge_fields"]["LS_SCORE"] == ""


def test_adding_a_merge_field_twice_is_a_400(client: Any, sandbox: MailchimpSandbox) -> None:
    body = {"tag": "LS_SCORE", "name": "Lead score", "type": "number"}
    client.lists.add_list_merge_field(sandbox.list_id, body)

    with pytest.raises(ApiClientError) as caught:
        client.lists.add_list_merge_field(sandbox.list_id, body)

    assert caught.value.status_code == 400
    details = problem_of(caught)
    assert details["title"] == "Invalid Resource"
    assert (
        details["detail"] == 'A Merge Field with the tag "LS_SCORE" already exists for this list.'
    )


def test_a_number_merge_field_refuses_text(client: Any, sandbox: MailchimpSandbox) -> None:
    client.lists.add_list_merge_field(
        sandbox.list_id, {"tag": "LS_SCORE", "name": "Score", "type": "number"}
    )

    member = client.lists.update_list_member(
        sandbox.list_id, h("ann@acme.io"), {"merge_fields": {"LS_SCORE": 42}}
    )
    with pytest.raises(ApiClientError) as caught:
        client.lists.update_list_member(
            sandbox.list_id, h("ann@acme.io"), {"merge_fields": {"LS_SCORE": "high"}}
        )

    assert member["merge_fields"]["LS_SCORE"] == 42
    assert problem_of(caught)["errors"] == [
        {"field": "LS_SCORE", "message": "Please enter a number"}
    ]


# -- batch subscribe -----------------------------------------------------------------------


def test_batch_list_members_creates_updates_and_reports_per_member_errors(
    client: Any, sandbox: MailchimpSandbox
) -> None:
    members: list[dict[str, Any]] = [
        {"email_address": "fresh@beta.io", "status": "subscribed", "merge_fields": {"FNAME": "Fr"}},
        {"email_address": "ann@acme.io", "status": "subscribed"},
        {"email_address": "broken@", "status": "subscribed"},
    ]

    first = client.lists.batch_list_members(sandbox.list_id, {"members": members})
    second = client.lists.batch_list_members(
        sandbox.list_id,
        {"members": [{**members[1], "merge_fields": {"FNAME": "Annie"}}], "update_existing": True},
    )

    assert [m["email_address"] for m in first["new_members"]] == ["fresh@beta.io"]
    assert (first["total_created"], first["total_updated"], first["error_count"]) == (1, 0, 2)
    assert [(e["email_address"], e["error_code"]) for e in first["errors"]] == [
        ("ann@acme.io", "ERROR_CONTACT_EXISTS"),
        ("broken@", "ERROR_GENERIC"),
    ]
    assert second["total_updated"] == 1
    assert second["updated_members"][0]["merge_fields"]["FNAME"] == "Annie"


def test_batch_list_members_takes_at_most_500_members(
    client: Any, sandbox: MailchimpSandbox
) -> None:
    members = [{"email_address": f"m{n}@beta.io", "status": "subscribed"} for n in range(501)]

    with pytest.raises(ApiClientError) as caught:
        client.lists.batch_list_members(sandbox.list_id, {"members": members})
    accepted = client.lists.batch_list_members(sandbox.list_id, {"members": members[:500]})

    assert caught.value.status_code == 400
    assert problem_of(caught)["errors"][0]["field"] == "members"
    assert accepted["total_created"] == 500


def test_batch_record_failures_follow_the_seeded_fault_plan() -> None:
    def failed_emails() -> list[str]:
        with MailchimpSandbox(build_world(), faults=FaultPlan(record_failure=0.3, seed=5)) as mc:
            members = [
                {"email_address": f"m{n}@beta.io", "status": "subscribed"} for n in range(40)
            ]
            result = sandbox_client(mc).lists.batch_list_members(mc.list_id, {"members": members})
            assert result["total_created"] + result["error_count"] == 40
            assert {e["error_code"] for e in result["errors"]} == {"ERROR_GENERIC"}
            return [e["email_address"] for e in result["errors"]]

    first = failed_emails()

    assert 0 < len(first) < 40
    assert failed_emails() == first


# -- batch operations ----------------------------------------------------------------------


def test_a_batch_runs_at_its_pace_and_its_results_are_a_tar_gz_of_json(
    client: Any, sandbox: MailchimpSandbox
) -> None:
    path = f"/lists/{sandbox.list_id}/members/{h('ann@acme.io')}"
    operations = [
        {
            "method": "PATCH",
            "path": path,
            "operation_id": "rename",
            "body": json.dumps({"merge_fields": {"FNAME": "Anne"}}),
        },
        {
            "method": "GET",
            "path": path,
            "operation_id": "read",
            "params": {"fields": "merge_fields.FNAME"},
        },
        {"method": "GET", "path": "/campaigns/0000000000", "operation_id": "missing"},
    ]

    started = client.batches.start({"operations": operations})
    name_before = client.lists.get_list_member(sandbox.list_id, h("ann@acme.io"))["merge_fields"][
        "FNAME"
    ]
    waiting = client.batches.status(started["id"])
    frozen(sandbox).offset = sandbox.batch_start_delay + 1 / sandbox.batch_pace
    running = client.batches.status(started["id"])
    frozen(sandbox).offset = sandbox.batch_start_delay + 3 / sandbox.batch_pace
    finished = client.batches.status(started["id"])

    assert (started["status"], started["total_operations"], started["response_body_url"]) == (
        "pending",
        3,
        "",
    )
    assert name_before == "Ann" and waiting["status"] == "pending"
    assert (running["status"], running["finished_operations"]) == ("started", 1)
    assert finished["status"] == "finished"
    assert (finished["finished_operations"], finished["errored_operations"]) == (3, 1)
    results = read_results(finished["response_body_url"])
    assert [(r["operation_id"], r["status_code"]) for r in results] == [
        ("rename", 200),
        ("read", 200),
        ("missing", 404),
    ]
    assert json.loads(results[1]["response"]) == {"merge_fields": {"FNAME": "Anne"}}
    assert json.loads(results[2]["response"])["title"] == "Resource Not Found"


def read_results(url: str) -> list[dict[str, Any]]:
    """Every result in a batch's archive, in file order (no auth: it is a storage URL)."""
    archive = requests.get(url, timeout=10)
    assert archive.status_code == 200
    results: list[dict[str, Any]] = []
    with tarfile.open(fileobj=io.BytesIO(archive.content), mode="r:gz") as tar:
        for member in sorted(tar.getmembers(), key=lambda m: m.name):
            data = tar.extractfile(member)
            assert data is not None
            results += json.load(data)
    return results


def test_a_batch_with_malformed_operations_is_a_400(client: Any) -> None:
    with pytest.raises(ApiClientError) as caught:
        client.batches.start({"operations": [{"method": "FETCH", "path": "/lists"}]})

    assert caught.value.status_code == 400
    assert problem_of(caught)["errors"][0]["field"] == "operations.item:0.method"


def test_finish_batches_runs_waiting_batches(client: Any, sandbox: MailchimpSandbox) -> None:
    started = client.batches.start({"operations": [{"method": "GET", "path": "/ping"}]})

    finish_batches(sandbox)

    assert client.batches.status(started["id"])["status"] == "finished"
    assert client.batches.list()["total_items"] == 1


# -- auth and errors -----------------------------------------------------------------------


def test_a_wrong_key_is_a_401_problem(client: Any, sandbox: MailchimpSandbox) -> None:
    client.set_config({"api_key": "wrong-us1", "server": "us1"})  # keeps the sandbox host

    with pytest.raises(ApiClientError) as caught:
        client.lists.get_all_lists()
    answer = raw(sandbox, "GET", "/3.0/lists", key="wrong-us1")

    assert caught.value.status_code == 401
    assert problem_of(caught)["title"] == "API Key Invalid"
    assert answer.headers["Content-Type"] == "application/problem+json; charset=utf-8"


def test_a_request_without_a_key_is_a_401(sandbox: MailchimpSandbox) -> None:
    answer = raw(sandbox, "GET", "/3.0/lists", key=None)

    assert answer.status_code == 401
    assert answer.json()["title"] == "API Key Missing"


def test_unknown_paths_and_methods_answer_problems(sandbox: MailchimpSandbox) -> None:
    missing = raw(sandbox, "GET", "/3.0/automations")
    wrong_method = raw(sandbox, "DELETE", f"/3.0/lists/{sandbox.list_id}")

    assert (missing.status_code, missing.json()["title"]) == (404, "Resource Not Found")
    assert (wrong_method.status_code, wrong_method.json()["title"]) == (405, "Method Not Allowed")


def test_calls_are_counted_by_sdk_method(client: Any, sandbox: MailchimpSandbox) -> None:
    client.lists.get_list_member(sandbox.list_id, h("ann@acme.io"))
    client.lists.get_list_member(sandbox.list_id, h("bob@acme.io"))

    assert sandbox.calls["lists.get_list_member"] == 2


# -- limits and faults ---------------------------------------------------------------------


def test_the_eleventh_simultaneous_request_is_refused_with_429() -> None:
    latency = Latency(fixed=1.0)
    with MailchimpSandbox(build_world(), latency=latency) as mc:
        client = sandbox_client(mc)
        start = threading.Barrier(15)
        outcomes: list[int] = []

        def call() -> None:
            start.wait()
            try:
                client.lists.get_list(mc.list_id)
                outcomes.append(200)
            except ApiClientError as error:
                assert json.loads(error.text)["detail"] == (
                    "You have exceeded the limit of 10 simultaneous connections."
                )
                outcomes.append(error.status_code)

        threads = [threading.Thread(target=call) for _ in range(15)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        mc.latency = Latency()

        assert sorted(outcomes) == [200] * 10 + [429] * 5
        assert mc.peak_connections > 10  # what a connector test asserts never happens
        assert client.ping.get()["health_status"] == "Everything's Chimpy!"
        assert sum(mc.in_flight.values()) == 0
        reset(mc)
        assert mc.peak_connections == 0
        client.ping.get()
        assert mc.peak_connections == 1


def test_the_fault_plan_gives_the_same_faults_for_the_same_seed() -> None:
    def statuses(seed: int) -> list[int]:
        plan = FaultPlan(rate_limited=0.2, server_error=0.2, seed=seed)
        with MailchimpSandbox(build_world(), faults=plan) as mc:
            client, found = sandbox_client(mc), []
            for _ in range(30):
                try:
                    client.ping.get()
                    found.append(200)
                except ApiClientError as error:
                    assert json.loads(error.text)["status"] == error.status_code
                    found.append(error.status_code)
            return found

    first = statuses(11)

    assert statuses(11) == first
    assert {429, 200} <= set(first) and {500, 503} & set(first)
    assert statuses(12) != first


def test_a_dropped_connection_is_an_api_client_error_without_status() -> None:
    mc = MailchimpSandbox(build_world(), faults=FaultPlan(dropped=1.0))
    with mc, pytest.raises(ApiClientError) as caught:
        sandbox_client(mc).ping.get()

    assert caught.value.status_code is None
    assert isinstance(caught.value.text, requests.exceptions.ConnectionError)


# -- simulating change ---------------------------------------------------------------------


def test_added_activity_changes_status_reports_and_orders(
    client: Any, sandbox: MailchimpSandbox
) -> None:
    launch = sandbox.campaigns[0].id
    add_activity(sandbox, "p01@acme.io", T.EMAIL_OPEN, campaign=launch)
    add_activity(sandbox, "p01@acme.io", T.EMAIL_UNSUBSCRIBE, campaign=launch)
    add_activity(sandbox, "walk.in@beta.io", T.NEWSLETTER_SIGNUP)
    add_activity(sandbox, "walk.in@beta.io", T.PURCHASE, amount=40.0)

    member = client.lists.get_list_member(sandbox.list_id, h("p01@acme.io"))
    report = client.campaigns.get(launch)["report_summary"]
    newcomer = client.lists.get_list_member(sandbox.list_id, h("walk.in@beta.io"))
    orders = client.ecommerce.get_store_orders(STORE_ID, count=100)

    assert member["status"] == "unsubscribed"
    assert member["last_changed"] == iso(sandbox.now())
    assert (report["opens"], report["unique_opens"]) == (3, 3)
    assert newcomer["status"] == "subscribed"
    assert sorted(t["name"] for t in newcomer["tags"]) == ["customer", "newsletter"]
    assert orders["orders"][-1]["order_total"] == 40.0


def test_added_activity_at_a_naive_time_is_taken_as_utc(
    client: Any, sandbox: MailchimpSandbox
) -> None:
    add_activity(sandbox, "p03@acme.io", T.EMAIL_OPEN, datetime(2026, 11, 1, 6, 0), campaign=0)

    feed = client.lists.get_list_member_activity_feed(sandbox.list_id, h("p03@acme.io"))

    assert feed["activity"][0]["created_at_timestamp"] == "2026-11-01T06:00:00+00:00"


def test_activity_mailchimp_cannot_see_is_refused(sandbox: MailchimpSandbox) -> None:
    with pytest.raises(ValueError):
        add_activity(sandbox, "ann@acme.io", T.PAGE_VIEW)
    with pytest.raises(KeyError):
        add_activity(sandbox, "stranger@beta.io", T.EMAIL_OPEN)


def test_an_empty_sandbox_serves_an_empty_audience() -> None:
    with MailchimpSandbox() as mc:
        client = sandbox_client(mc)

        assert client.lists.get_list_members_info(mc.list_id)["total_items"] == 0
        assert client.campaigns.list()["total_items"] == 0
        assert client.ecommerce.get_all_store_customers(STORE_ID)["customers"] == []


def test_batches_run_one_after_another_at_their_pace(
    client: Any, sandbox: MailchimpSandbox
) -> None:
    ping = {"method": "GET", "path": "/ping"}
    first = client.batches.start({"operations": [ping] * 4})
    second = client.batches.start({"operations": [ping] * 2})
    delay, pace = sandbox.batch_start_delay, sandbox.batch_pace

    frozen(sandbox).offset = delay + 4 / pace
    after_first = (client.batches.status(first["id"]), client.batches.status(second["id"]))
    frozen(sandbox).offset = delay + 5 / pace
    running = client.batches.status(second["id"])
    frozen(sandbox).offset = delay + 6 / pace

    assert after_first[0]["status"] == "finished"
    assert (after_first[1]["status"], after_first[1]["finished_operations"]) == ("started", 0)
    assert (running["status"], running["finished_operations"]) == ("started", 1)
    assert client.batches.status(second["id"])["status"] == "finished"


def test_a_deleted_member_is_gone_and_an_archived_one_kept(
    client: Any, sandbox: MailchimpSandbox
) -> None:
    client.lists.delete_list_member(sandbox.list_id, h("ann@acme.io"))
    client.lists.delete_list_member_permanent(sandbox.list_id, h("bob@acme.io"))

    assert client.lists.get_list_member(sandbox.list_id, h("ann@acme.io"))["status"] == "archived"
    with pytest.raises(ApiClientError) as caught:
        client.lists.update_list_member(
            sandbox.list_id, h("bob@acme.io"), {"merge_fields": {"FNAME": "Bo"}}
        )
    assert caught.value.status_code == 404
    listed = client.lists.get_list_members_info(sandbox.list_id, count=1000)["members"]
    assert h("bob@acme.io") not in {m["id"] for m in listed}
