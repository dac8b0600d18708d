"""The Mailchimp sandbox's member lifecycle, through the real SDK.

`last_changed` moves with a member's own data (status, merge fields, tags),
never with sends, opens or clicks, which only campaign reports show; bounces
are hard or soft, and soft ones clean a member only when repeated (7 times, or
15 for a member who opened or clicked before); members can also be
transactional or archived.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from mailchimp_marketing.api_client import ApiClientError

from sandbox.mailchimp import MailchimpSandbox, iso, sandbox_client, subscriber_hash
from sandbox.world.tables import World, WorldBuilder
from scoring.records import ActivityType as T
from tests.sandbox.mailchimp_helpers import add_activity, reset
from tests.sandbox.test_mailchimp import NOW, ago, build_world


def bounce_world(extra: int = 0) -> World:
    """Members bouncing 1, 6 and 7 times, one who opened then bounced 7 times, fillers."""
    b = WorldBuilder(NOW)
    beta = b.company("Beta", "beta.io")
    people = {
        name: b.person(name.title(), "Bounce", f"{name}@beta.io", beta)
        for name in ("once", "six", "seven", "opener")
    }
    for n in range(extra):
        b.person(f"F{n}", "Filler", f"f{n:03}@beta.io", beta)
    campaigns = [b.campaign(f"C{n}", f"Subject {n}", ago(40 - n)) for n in range(15)]
    b.event(people["opener"], T.EMAIL_OPEN, ago(39), campaign=campaigns[0])
    bounces = {"once": 1, "six": 6, "seven": 7, "opener": 7}
    for name, times in bounces.items():
        for n in range(times):
            b.event(people[name], T.EMAIL_BOUNCE, ago(40 - n - 0.5), campaign=campaigns[n])
    return b.build(seed=11)


@pytest.fixture(scope="module")
def server() -> Iterator[MailchimpSandbox]:
    emulator = MailchimpSandbox(
        build_world(), soft_bounce_share=0.0, transactional_share=0.0, archived_share=0.0
    )
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def sandbox(server: MailchimpSandbox) -> MailchimpSandbox:
    reset(server)
    return server


@pytest.fixture
def client(sandbox: MailchimpSandbox) -> Any:
    return sandbox_client(sandbox)


def member(client: Any, sandbox: MailchimpSandbox, email: str) -> dict[str, Any]:
    found: dict[str, Any] = client.lists.get_list_member(sandbox.list_id, subscriber_hash(email))
    return found


def test_a_member_who_clicked_keeps_its_last_changed_and_the_click_is_in_the_report(
    client: Any, sandbox: MailchimpSandbox
) -> None:
    before = member(client, sandbox, "p02@acme.io")
    launch = sandbox.campaigns[0].id
    add_activity(sandbox, "p02@acme.io", T.EMAIL_OPEN, campaign=launch)
    add_activity(sandbox, "p02@acme.io", T.EMAIL_CLICK, campaign=launch, url="https://acme.io/x")

    after = member(client, sandbox, "p02@acme.io")
    report = client.reports.get_email_activity_for_campaign(launch, count=1000)
    changed = client.lists.get_list_members_info(
        sandbox.list_id, since_last_changed=iso(sandbox.now())
    )

    assert after["last_changed"] == before["last_changed"]
    assert after["stats"]["avg_click_rate"] == 1.0
    activity = next(e["activity"] for e in report["emails"] if e["email_address"] == "p02@acme.io")
    assert [a["action"] for a in activity] == ["open", "click"]
    assert activity[1]["url"] == "https://acme.io/x"
    assert changed["total_items"] == 0


def test_projected_sends_opens_and_clicks_do_not_move_last_changed(
    client: Any, sandbox: MailchimpSandbox
) -> None:
    opener = member(client, sandbox, "p00@acme.io")  # sent and opened, nothing else

    assert opener["last_changed"] == opener["timestamp_signup"]
    assert member(client, sandbox, "bob@acme.io")["last_changed"] == iso(ago(8).timestamp())


def test_an_unsubscribe_or_a_tag_moves_last_changed(client: Any, sandbox: MailchimpSandbox) -> None:
    add_activity(sandbox, "p03@acme.io", T.EMAIL_UNSUBSCRIBE, campaign=0)
    client.lists.update_list_member_tags(
        sandbox.list_id,
        subscriber_hash("p04@acme.io"),
        {"tags": [{"name": "vip", "status": "active"}]},
    )

    for email in ("p03@acme.io", "p04@acme.io"):
        assert member(client, sandbox, email)["last_changed"] == iso(sandbox.now())


def test_projected_bounces_clean_when_hard_or_repeated_seven_times_when_soft() -> None:
    with MailchimpSandbox(bounce_world(), soft_bounce_share=1.0) as mc:
        client = sandbox_client(mc)
        statuses = {
            name: member(client, mc, f"{name}@beta.io")["status"]
            for name in ("once", "six", "seven", "opener")
        }
        report = client.reports.get_email_activity_for_campaign(mc.campaigns[0].id, count=100)

        assert statuses == {
            "once": "subscribed",
            "six": "subscribed",
            "seven": "cleaned",
            "opener": "subscribed",  # opened before: 15 soft bounces clean it
        }
        bounces = [a for e in report["emails"] for a in e["activity"] if a["action"] == "bounce"]
        assert {a["type"] for a in bounces} == {"soft"}
        seven = member(client, mc, "seven@beta.io")
        assert seven["last_changed"] == iso(ago(40 - 6 - 0.5).timestamp())  # the 7th bounce
        assert member(client, mc, "six@beta.io")["last_changed"] != iso(ago(34.5).timestamp())

    with MailchimpSandbox(bounce_world(), soft_bounce_share=0.0) as mc:
        client = sandbox_client(mc)
        assert member(client, mc, "once@beta.io")["status"] == "cleaned"
        feed = client.lists.get_list_member_activity_feed(
            mc.list_id, subscriber_hash("once@beta.io")
        )
        assert feed["activity"][0]["bounce_type"] == "hard"


def test_the_soft_share_of_bounces_is_seeded() -> None:
    def types(share: float) -> list[str]:
        with MailchimpSandbox(bounce_world(), soft_bounce_share=share) as mc:
            client = sandbox_client(mc)
            return [
                a["type"]
                for c in mc.campaigns
                for e in client.reports.get_email_activity_for_campaign(c.id, count=100)["emails"]
                for a in e["activity"]
                if a["action"] == "bounce"
            ]

    found = types(0.5)
    assert found == types(0.5)
    assert set(found) == {"hard", "soft"}
    assert len(found) == 21


def test_added_soft_bounces_clean_on_the_seventh_and_a_hard_one_at_once(
    client: Any, sandbox: MailchimpSandbox
) -> None:
    for n in range(6):
        add_activity(sandbox, "p06@acme.io", T.EMAIL_BOUNCE, ago(6 - n), campaign=0, bounce="soft")
    six = member(client, sandbox, "p06@acme.io")
    add_activity(sandbox, "p06@acme.io", T.EMAIL_BOUNCE, campaign=0, bounce="soft")
    add_activity(sandbox, "p07@acme.io", T.EMAIL_BOUNCE, campaign=0, bounce="hard")

    assert six["status"] == "subscribed"
    assert six["last_changed"] == member(client, sandbox, "p08@acme.io")["last_changed"]
    assert member(client, sandbox, "p06@acme.io")["status"] == "cleaned"
    assert member(client, sandbox, "p07@acme.io")["status"] == "cleaned"
    with pytest.raises(ValueError):
        add_activity(sandbox, "p07@acme.io", T.EMAIL_BOUNCE, campaign=0, bounce="medium")


def test_the_projection_has_a_few_transactional_and_archived_members() -> None:
    with MailchimpSandbox(
        bounce_world(extra=200), transactional_share=0.05, archived_share=0.05
    ) as mc:
        client = sandbox_client(mc)
        everyone = client.lists.get_list_members_info(mc.list_id, count=1000)
        by_status: dict[str, int] = {}
        for m in everyone["members"]:
            by_status[m["status"]] = by_status.get(m["status"], 0) + 1
        archived = client.lists.get_list_members_info(mc.list_id, status="archived", count=1000)
        transactional = client.lists.get_list_members_info(
            mc.list_id, status="transactional", count=1000
        )

        assert everyone["total_items"] == 204  # archived members are listed too
        assert 2 <= by_status["archived"] <= 25
        assert 2 <= by_status["transactional"] <= 25
        assert archived["total_items"] == by_status["archived"]
        assert {m["status"] for m in archived["members"]} == {"archived"}
        assert transactional["total_items"] == by_status["transactional"]


def test_a_patch_keeps_an_archived_member_archived_unless_it_sets_a_status() -> None:
    with MailchimpSandbox(bounce_world(extra=200), archived_share=0.05) as mc:
        client = sandbox_client(mc)
        first = client.lists.get_list_members_info(mc.list_id, status="archived")["members"][0]
        patched = client.lists.update_list_member(
            mc.list_id, first["id"], {"merge_fields": {"FNAME": "Zed"}}
        )
        with pytest.raises(ApiClientError) as caught:
            client.lists.update_list_member(mc.list_id, first["id"], {"status": "archived"})
        unarchived = client.lists.update_list_member(
            mc.list_id, first["id"], {"status": "subscribed"}
        )

        assert (patched["status"], patched["merge_fields"]["FNAME"]) == ("archived", "Zed")
        assert caught.value.status_code == 400
        assert unarchived["status"] == "subscribed"


def test_an_address_change_gives_a_new_id_and_keeps_the_contact_id(
    client: Any, sandbox: MailchimpSandbox
) -> None:
    before = member(client, sandbox, "p03@acme.io")

    changed = client.lists.update_list_member(
        sandbox.list_id, before["id"], {"email_address": "p03.new@acme.io"}
    )
    by_contact = client.lists.get_list_member(sandbox.list_id, before["contact_id"])
    page = client.lists.get_list_members_info(
        sandbox.list_id, count=1000, fields=["members.id", "members.contact_id"]
    )

    assert changed["id"] == subscriber_hash("p03.new@acme.io") != before["id"]
    assert changed["contact_id"] == before["contact_id"]
    assert by_contact["email_address"] == "p03.new@acme.io"
    assert {"id": changed["id"], "contact_id": before["contact_id"]} in page["members"]
    assert all(m.keys() == {"id", "contact_id"} for m in page["members"])
    with pytest.raises(ApiClientError) as gone:
        client.lists.get_list_member(sandbox.list_id, before["id"])
    assert gone.value.status_code == 404
    # a new member with the old address is another member, with a contact id of its own
    again = client.lists.set_list_member(
        sandbox.list_id, before["id"], {"email_address": "p03@acme.io", "status_if_new": "pending"}
    )
    assert again["contact_id"] not in (before["contact_id"], "")
