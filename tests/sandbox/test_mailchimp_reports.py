"""The Mailchimp sandbox's campaign report list (GET /reports), driven by the official SDK:
its counts agree with what each campaign's email activity, unsubscribes and abuse reports
list, in a generated world and after activity recorded at runtime."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from sandbox.mailchimp import MailchimpSandbox, iso, sandbox_client
from sandbox.world.generate import generate_world
from scoring.records import ActivityType as T
from tests.sandbox.mailchimp_helpers import add_activity, reset


@pytest.fixture(scope="module")
def server() -> Iterator[MailchimpSandbox]:
    emulator = MailchimpSandbox(generate_world(1500, seed=5, days=90), soft_bounce_share=0.5)
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


def listed_counts(client: Any, campaign_id: str) -> dict[str, int]:
    """What the campaign's own lists hold, in the report list's terms."""
    emails = client.reports.get_email_activity_for_campaign(campaign_id, count=1000)["emails"]
    actions: Counter[str] = Counter()
    for record in emails:
        for action in record["activity"]:
            actions[action["type"] if action["action"] == "bounce" else action["action"]] += 1
    unsubscribes = client.reports.get_unsubscribed_list_for_campaign(campaign_id, count=1000)
    abuse = client.reports.get_campaign_abuse_reports(campaign_id)
    return {
        "emails_sent": len(emails),
        "opens_total": actions["open"],
        "unique_opens": sum(any(a["action"] == "open" for a in e["activity"]) for e in emails),
        "clicks_total": actions["click"],
        "hard_bounces": actions["hard"],
        "soft_bounces": actions["soft"],
        "unsubscribed": unsubscribes["total_items"],
        "abuse_reports": abuse["total_items"],
    }


def report_counts(report: dict[str, Any]) -> dict[str, int]:
    return {
        "emails_sent": report["emails_sent"],
        "opens_total": report["opens"]["opens_total"],
        "unique_opens": report["opens"]["unique_opens"],
        "clicks_total": report["clicks"]["clicks_total"],
        "hard_bounces": report["bounces"]["hard_bounces"],
        "soft_bounces": report["bounces"]["soft_bounces"],
        "unsubscribed": report["unsubscribed"],
        "abuse_reports": report["abuse_reports"],
    }


def all_reports(client: Any) -> list[dict[str, Any]]:
    return list(client.reports.get_all_campaign_reports(count=1000)["reports"])


def test_the_report_list_counts_what_each_campaigns_reports_list(
    client: Any, sandbox: MailchimpSandbox
) -> None:
    reports = all_reports(client)

    assert len(reports) == len(sandbox.campaigns) > 5
    assert any(r["bounces"]["soft_bounces"] for r in reports)
    assert any(r["unsubscribed"] for r in reports) and any(r["abuse_reports"] for r in reports)
    for report in reports:
        assert report_counts(report) == listed_counts(client, report["id"])


def test_activity_recorded_at_runtime_moves_the_counts(
    client: Any, sandbox: MailchimpSandbox
) -> None:
    campaign = sandbox.campaigns[0]
    member = sandbox.audience.emails[sandbox.recipients(campaign)[0]]
    before = {r["id"]: report_counts(r) for r in all_reports(client)}
    for kind in (T.EMAIL_OPEN, T.EMAIL_CLICK, T.EMAIL_BOUNCE, T.EMAIL_UNSUBSCRIBE):
        add_activity(sandbox, member, kind, campaign=campaign.id)
    add_activity(sandbox, member, T.EMAIL_SPAM_REPORT, campaign=campaign.id)
    add_activity(sandbox, member, T.EMAIL_BOUNCE, campaign=campaign.id, bounce="soft")

    after = {r["id"]: report_counts(r) for r in all_reports(client)}

    moved = {
        name: after[campaign.id][name] - before[campaign.id][name] for name in after[campaign.id]
    }
    assert moved == {
        "emails_sent": 0,
        "opens_total": 1,
        "unique_opens": moved["unique_opens"],  # 1 unless the member had opened already
        "clicks_total": 1,
        "hard_bounces": 1,
        "soft_bounces": 1,
        "unsubscribed": 1,
        "abuse_reports": 1,
    }
    assert report_counts(all_reports(client)[0]) == listed_counts(client, campaign.id)
    assert {c: n for c, n in after.items() if c != campaign.id} == {
        c: n for c, n in before.items() if c != campaign.id
    }


def test_the_report_list_filters_by_send_time_and_keeps_the_fields_asked(
    client: Any, sandbox: MailchimpSandbox
) -> None:
    middle = sandbox.campaigns[len(sandbox.campaigns) // 2]
    since = middle.send_time
    fields = ["reports.id", "reports.unsubscribed", "reports.bounces.hard_bounces", "total_items"]

    answer = client.reports.get_all_campaign_reports(
        count=1000, since_send_time=iso(since), fields=fields
    )

    later = [c.id for c in sandbox.campaigns if c.send_time >= since]
    assert [r["id"] for r in answer["reports"]] == later
    assert answer["total_items"] == len(later)
    assert set(answer) == {"reports", "total_items"}
    assert all(set(r) == {"id", "unsubscribed", "bounces"} for r in answer["reports"])
    assert all(set(r["bounces"]) == {"hard_bounces"} for r in answer["reports"])


def test_a_campaigns_lists_read_before_activity_show_it_when_read_again(
    client: Any, sandbox: MailchimpSandbox
) -> None:
    campaign = sandbox.campaigns[0]
    before = listed_counts(client, campaign.id)
    member = sandbox.audience.emails[sandbox.recipients(campaign)[0]]
    add_activity(sandbox, member, T.EMAIL_UNSUBSCRIBE, campaign=campaign.id)
    add_activity(sandbox, member, T.EMAIL_SPAM_REPORT, campaign=campaign.id)

    after = listed_counts(client, campaign.id)

    assert after["unsubscribed"] == before["unsubscribed"] + 1
    assert after["abuse_reports"] == before["abuse_reports"] + 1


def test_email_activity_keeps_the_fields_asked(client: Any, sandbox: MailchimpSandbox) -> None:
    campaign = sandbox.campaigns[0].id
    whole = client.reports.get_email_activity_for_campaign(campaign, count=50)
    fields = ["emails.email_address", "emails.activity", "total_items"]

    kept = client.reports.get_email_activity_for_campaign(campaign, count=50, fields=fields)

    assert set(kept) == {"emails", "total_items"}
    assert kept["total_items"] == whole["total_items"]
    assert kept["emails"] == [
        {"email_address": e["email_address"], "activity": e["activity"]} for e in whole["emails"]
    ]
    assert all(set(e) >= {"campaign_id", "email_id", "list_id"} for e in whole["emails"])
