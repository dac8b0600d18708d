"""The Salesforce sandbox's records as Salesforce keeps them: converted Leads, deleted and
merged records, SystemModstamp pulls, and activities; through the real simple-salesforce
client over HTTP on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sandbox.salesforce import SalesforceSandbox, connect
from sandbox.world.tables import HUBSPOT, World, WorldBuilder
from scoring.records import ActivityType as A
from tests.sandbox.salesforce_helpers import HandClock, record_id, update_record

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
SITE = "https://www.leadflow.example"
ANN, BEN, BOB, DEE, EVE = range(5)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def history() -> World:
    """Ann was a Lead converted into a Contact at Acme, where she bought; Bob and Dee are
    Leads who answered a webinar, an event and a guide; Eve is only in HubSpot."""
    world = WorldBuilder(NOW)
    acme = world.company("Acme", "acme.io", employees=250)
    globex = world.company("Globex", "globex.com", industry="Manufacturing", employees=40)
    world.person("Ann", "Lee", "ann@acme.io", acme, created_at=ago(90), converted_at=ago(20))
    world.person("Ben", "Ode", "ben@acme.io", acme, created_at=ago(60))
    world.person("Bob", "Ray", "bob@globex.com", globex, created_at=ago(50))
    world.person("Dee", "Oh", "dee@globex.com", globex, created_at=ago(40))
    world.person("Eve", "Po", "eve@globex.com", globex, systems=HUBSPOT)
    world.event(BOB, A.FORM_SUBMISSION, ago(6), url=f"{SITE}/webinars/scoring-101")
    world.event(DEE, A.FORM_SUBMISSION, ago(5), url=f"{SITE}/webinars/scoring-101")
    world.event(BOB, A.FORM_SUBMISSION, ago(4), url=f"{SITE}/events/revops-summit")
    world.event(DEE, A.CONTENT_DOWNLOAD, ago(3), url=f"{SITE}/resources/intent-data-primer")
    world.event(BOB, A.FORM_SUBMISSION, ago(3), url=f"{SITE}/contact")
    world.event(EVE, A.FORM_SUBMISSION, ago(2), url=f"{SITE}/webinars/scoring-101")
    world.event(ANN, A.MEETING, ago(8))
    world.event(BEN, A.MEETING, NOW)
    world.event(BOB, A.SALES_TOUCH, ago(7))
    world.event(BOB, A.SALES_TOUCH, ago(2))
    world.event(ANN, A.QUOTE_SENT, ago(21), amount=900.0)
    world.event(ANN, A.PURCHASE, ago(20), amount=1000.0)
    return world.build(seed=3)


@pytest.fixture
def clock() -> HandClock:
    return HandClock()


@pytest.fixture
def sandbox(clock: HandClock) -> Iterator[SalesforceSandbox]:
    with SalesforceSandbox(history(), clock=clock) as running:
        yield running


@pytest.fixture
def sf(sandbox: SalesforceSandbox) -> Any:
    return connect(sandbox)


def ids(result: dict[str, Any]) -> list[str]:
    return [r["Id"] for r in result["records"]]


# -- converted Leads ---------------------------------------------------------------------------


def test_a_converted_lead_stays_beside_the_contact_it_became(
    sandbox: SalesforceSandbox, sf: Any
) -> None:
    converted = sf.query("SELECT Id, Email, Status, IsConverted, ConvertedContactId, "
                         "ConvertedAccountId, ConvertedDate FROM Lead WHERE IsConverted = true")  # fmt: skip
    open_leads = sf.query("SELECT Email FROM Lead WHERE IsConverted = false ORDER BY Email")
    contact = sf.query("SELECT Id, AccountId FROM Contact WHERE Email = 'ann@acme.io'")

    [lead], [ann] = converted["records"], contact["records"]
    assert (lead["Email"], lead["Status"], lead["IsConverted"]) == (
        "ann@acme.io", "Closed - Converted", True)  # fmt: skip
    assert (lead["ConvertedContactId"], lead["ConvertedAccountId"]) == (ann["Id"], ann["AccountId"])
    assert lead["ConvertedDate"] == "2026-10-12"
    assert [r["Email"] for r in open_leads["records"]] == ["bob@globex.com", "dee@globex.com"]
    assert sandbox.org.is_converted(lead["Id"])
    assert not sandbox.org.is_converted(str(record_id(sandbox, BOB)))
    assert record_id(sandbox, ANN) == ann["Id"]


# -- deleted and merged records ----------------------------------------------------------------


def test_query_all_returns_deleted_records_and_query_does_not(
    sandbox: SalesforceSandbox, sf: Any
) -> None:
    dee = str(record_id(sandbox, DEE))
    sandbox.delete(dee)

    soql = "SELECT Id, IsDeleted FROM Lead WHERE IsConverted = false ORDER BY Email"
    live = sf.query_all(soql)
    everything = sf.query_all(soql, include_deleted=True)
    deleted = sf.query(f"SELECT Id FROM Lead WHERE IsDeleted = true AND Id = '{dee}'")

    assert dee not in ids(live)
    assert [(r["Id"], r["IsDeleted"]) for r in everything["records"]] == [
        (str(record_id(sandbox, BOB)), False), (dee, True)]  # fmt: skip
    assert deleted["totalSize"] == 0
    with pytest.raises(Exception, match="ENTITY_IS_DELETED"):
        sf.Lead.get(dee)
    with pytest.raises(Exception, match="ENTITY_IS_DELETED"):
        sf.Lead.update(dee, {"Title": "CEO"})
    [refused] = sf.restful(
        "composite/sobjects",
        method="PATCH",
        json={"allOrNone": False, "records": [{"attributes": {"type": "Lead"}, "Id": dee}]},
    )
    assert refused["errors"][0]["statusCode"] == "ENTITY_IS_DELETED"


def test_a_merged_away_record_is_deleted_names_its_master_and_hands_it_its_children(
    sandbox: SalesforceSandbox, sf: Any, clock: HandClock
) -> None:
    bob, dee = str(record_id(sandbox, BOB)), str(record_id(sandbox, DEE))
    clock.advance(5)
    sandbox.merge(bob, dee)

    merged = sf.query_all(
        f"SELECT Id, IsDeleted, MasterRecordId, SystemModstamp FROM Lead WHERE Id = '{dee}'",
        include_deleted=True,
    )
    master = sf.Lead.get(bob)
    members = sf.query("SELECT LeadId, SystemModstamp FROM CampaignMember")["records"]

    [gone] = merged["records"]
    assert (gone["IsDeleted"], gone["MasterRecordId"]) == (True, bob)
    assert gone["SystemModstamp"].startswith("2026-11-01T12:00:05.")
    assert master["SystemModstamp"].startswith("2026-11-01T12:00:05.")
    assert master["IsDeleted"] is False
    assert [m["LeadId"] for m in members] == [bob] * 4  # Dee's webinar and guide moved to Bob
    assert sum(m["SystemModstamp"].startswith("2026-11-01T12:00:05.") for m in members) == 2


def test_deleted_records_leave_the_recycle_bin_after_15_days(
    sandbox: SalesforceSandbox, sf: Any, clock: HandClock
) -> None:
    dee = str(record_id(sandbox, DEE))
    sandbox.delete(dee)
    soql = f"SELECT Id FROM Lead WHERE Id = '{dee}'"

    clock.advance(14 * 86_400)
    kept = sf.query_all(soql, include_deleted=True)
    clock.advance(2 * 86_400)
    purged = sf.query_all(soql, include_deleted=True)

    assert (kept["totalSize"], purged["totalSize"]) == (1, 0)


# -- SystemModstamp pulls ----------------------------------------------------------------------


def test_datetime_comparisons_ignore_milliseconds(
    sandbox: SalesforceSandbox, sf: Any, clock: HandClock
) -> None:
    bob = str(record_id(sandbox, BOB))
    clock.advance(10.7)
    update_record(sandbox, bob, Title="CTO")
    stamp = sf.Lead.get(bob)["SystemModstamp"]

    def found(condition: str) -> bool:
        return bob in ids(sf.query(f"SELECT Id FROM Lead WHERE SystemModstamp {condition}"))

    assert stamp == "2026-11-01T12:00:10.700+0000"
    assert not found("> 2026-11-01T12:00:10.500Z")  # 10.700 is not after 10.500: same second
    assert found(">= 2026-11-01T12:00:10.900Z")
    assert found("= 2026-11-01T12:00:10Z")
    assert found("> 2026-11-01T12:00:09.999Z")


@pytest.mark.parametrize(("overlap", "lost"), [(0, True), (60, False)])
def test_a_cursor_without_an_overlap_loses_a_write_that_commits_late(
    sandbox: SalesforceSandbox, sf: Any, clock: HandClock, overlap: int, lost: bool
) -> None:
    """Dee's write is stamped at +10 s but commits at +40 s; Bob's, stamped at +20 s, is seen
    at +25 s. A pull from the last seen stamp then never finds Dee's; one that re-reads from
    the cursor minus an overlap window (and drops what it saw by Id and stamp) does."""
    seen: dict[str, str] = {}

    def pull(cursor: datetime) -> tuple[list[str], datetime]:
        since = (cursor - timedelta(seconds=overlap)).strftime("%Y-%m-%dT%H:%M:%SZ")
        rows = sf.query_all(f"SELECT Id, SystemModstamp FROM Lead WHERE SystemModstamp > "
                            f"{since} ORDER BY SystemModstamp, Id")["records"]  # fmt: skip
        fresh = [r["Id"] for r in rows if seen.get(r["Id"]) != r["SystemModstamp"]]
        seen.update({r["Id"]: r["SystemModstamp"] for r in rows})
        stamps = [datetime.strptime(r["SystemModstamp"], "%Y-%m-%dT%H:%M:%S.%f%z") for r in rows]
        return fresh, max([cursor, *stamps])

    bob, dee = str(record_id(sandbox, BOB)), str(record_id(sandbox, DEE))
    cursor = NOW
    clock.advance(10)
    sandbox.org.commit_lag = 30
    update_record(sandbox, dee, Title="Head of Ops")
    sandbox.org.commit_lag = 0
    clock.advance(10)
    update_record(sandbox, bob, Title="CTO")
    clock.advance(5)
    first, cursor = pull(cursor)
    clock.advance(25)
    second, cursor = pull(cursor)

    assert first == [bob]
    assert (dee not in second) == lost
    assert sf.Lead.get(dee)["SystemModstamp"] == "2026-11-01T12:00:10.000+0000"


# -- activities --------------------------------------------------------------------------------


def test_calls_and_emails_are_tasks_with_their_subtype_and_result(sf: Any) -> None:
    tasks = sf.query("SELECT TaskSubtype, Type, Status, ActivityDate, CallType, CallDisposition, "
                     "CallDurationInSeconds, Who.Email FROM Task ORDER BY ActivityDate")  # fmt: skip

    first, second = tasks["records"]
    assert {first["TaskSubtype"], second["TaskSubtype"]} == {"Call", "Email"}
    call = first if first["TaskSubtype"] == "Call" else second
    email = second if call is first else first
    assert (call["CallType"], call["Status"], call["Who"]["Email"]) == (
        "Outbound", "Completed", "bob@globex.com")  # fmt: skip
    assert call["CallDisposition"] in ("Connected", "Left voicemail", "No answer")
    assert isinstance(call["CallDurationInSeconds"], int)
    assert (email["Type"], email["CallDisposition"]) == ("Email", None)


def test_meetings_are_events_held_once_they_have_ended(sf: Any) -> None:
    held = sf.query("SELECT Who.Email, StartDateTime, EndDateTime, ActivityDateTime, "
                    "DurationInMinutes, EventSubtype, IsAllDayEvent FROM Event "
                    "WHERE EndDateTime < 2026-11-01T12:00:00Z")  # fmt: skip
    planned = sf.query("SELECT Who.Email FROM Event WHERE EndDateTime >= 2026-11-01T12:00:00Z")

    [ann] = held["records"]
    assert ann["Who"]["Email"] == "ann@acme.io"
    assert ann["StartDateTime"] == ann["ActivityDateTime"] == "2026-10-24T12:00:00.000+0000"
    start = datetime.strptime(ann["StartDateTime"], "%Y-%m-%dT%H:%M:%S.%f%z")
    end = datetime.strptime(ann["EndDateTime"], "%Y-%m-%dT%H:%M:%S.%f%z")
    assert end - start == timedelta(minutes=ann["DurationInMinutes"])
    assert (ann["EventSubtype"], ann["IsAllDayEvent"]) == ("Event", False)
    assert [r["Who"]["Email"] for r in planned["records"]] == ["ben@acme.io"]


def test_webinars_events_and_content_are_campaigns_their_members_answered(sf: Any) -> None:
    campaigns = sf.query("SELECT Name, Type, StartDate FROM Campaign ORDER BY Name")
    members = sf.query("SELECT Campaign.Type, LeadId, Status, HasResponded, FirstRespondedDate "
                       "FROM CampaignMember ORDER BY FirstRespondedDate")  # fmt: skip

    assert [(c["Name"], c["Type"], c["StartDate"]) for c in campaigns["records"]] == [
        ("Content: intent-data-primer", "Other", "2026-10-29"),
        ("Event: revops-summit", "Conference", "2026-10-28"),
        ("Webinar: scoring-101", "Webinar", "2026-10-26"),
    ]
    answers = [(m["Campaign"]["Type"], m["HasResponded"], m["FirstRespondedDate"])
               for m in members["records"]]  # fmt: skip
    assert answers == [("Webinar", True, "2026-10-26"), ("Webinar", True, "2026-10-27"),
                       ("Conference", True, "2026-10-28"), ("Other", True, "2026-10-29")]  # fmt: skip
    assert {m["Status"] for m in members["records"]} == {"Responded"}
    assert all(m["LeadId"].startswith("00Q") for m in members["records"])


def test_a_won_deal_reaches_its_contact_through_the_contact_role(sf: Any) -> None:
    roles = sf.query("SELECT Contact.Email, Opportunity.IsWon, Opportunity.IsClosed, "
                     "Opportunity.Amount, Opportunity.CloseDate, Opportunity.StageName "
                     "FROM OpportunityContactRole WHERE IsPrimary = true")  # fmt: skip

    [role] = roles["records"]
    deal = role["Opportunity"]
    assert role["Contact"]["Email"] == "ann@acme.io"
    assert (deal["IsWon"], deal["IsClosed"], deal["Amount"], deal["StageName"]) == (
        True, True, 1000.0, "Closed Won")  # fmt: skip
    assert deal["CloseDate"] == "2026-10-12"


def test_a_deleted_campaign_member_or_opportunity_is_answered_by_query_all_only(
    sandbox: SalesforceSandbox, sf: Any
) -> None:
    member, *_ = sf.query("SELECT Id FROM CampaignMember WHERE Lead.Email = 'bob@globex.com'")[
        "records"
    ]
    [deal] = sf.query("SELECT Id FROM Opportunity WHERE IsWon = true")["records"]
    sandbox.delete(member["Id"])
    sandbox.delete(deal["Id"])  # and its contact role with it

    def answered(soql: str, deleted: bool) -> list[tuple[str, bool]]:
        found = sf.query_all(soql, include_deleted=deleted)["records"]
        return [(r["Id"], r["IsDeleted"]) for r in found]

    members = f"SELECT Id, IsDeleted FROM CampaignMember WHERE Id = '{member['Id']}'"
    deals = "SELECT Id, IsDeleted FROM Opportunity WHERE IsWon = true"
    roles = "SELECT Id, IsDeleted, OpportunityId FROM OpportunityContactRole"
    assert answered(members, False) == [] and answered(deals, False) == []
    assert answered(members, True) == [(member["Id"], True)]
    assert answered(deals, True) == [(deal["Id"], True)]
    assert answered(roles, False) == []
    assert [deleted for _, deleted in answered(roles, True)] == [True]


def test_describe_declares_the_activity_and_lifecycle_fields(sf: Any) -> None:
    def fields(sobject: str) -> dict[str, dict[str, Any]]:
        return {f["name"]: f for f in getattr(sf, sobject).describe()["fields"]}

    event, task, lead = fields("Event"), fields("Task"), fields("Lead")
    campaign = fields("Campaign")

    assert {"StartDateTime", "EndDateTime", "ActivityDateTime", "EventSubtype"} <= set(event)
    assert event["EndDateTime"]["type"] == "datetime"
    assert [v["value"] for v in task["TaskSubtype"]["picklistValues"]] == [
        "Task", "Email", "ListEmail", "Cadence", "Call", "LinkedIn"]  # fmt: skip
    assert task["CallDisposition"]["label"] == "Call Result"
    assert lead["ConvertedContactId"]["referenceTo"] == ["Contact"]
    assert lead["IsDeleted"]["updateable"] is False
    assert lead["MasterRecordId"]["referenceTo"] == ["Lead"]
    assert {"Webinar", "Conference", "Email"} <= {
        v["value"] for v in campaign["Type"]["picklistValues"]
    }
