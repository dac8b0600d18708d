"""The Salesforce connector against the Salesforce sandbox, through the real simple-salesforce.

Each test runs a `SalesforceSandbox` on 127.0.0.1, reached with `sandbox_session`,
and a connector logged in as the settings say. Behaviours the sandbox does not
serve yet are tests marked skip, naming what they need.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from connectors.errors import AuthError, BudgetExhausted
from connectors.paging import load_cursor
from connectors.policy import CallPolicy
from connectors.protocol import FieldSpec, Page, Write
from connectors.salesforce.connector import SalesforceConnector
from connectors.salesforce.settings import SalesforceSettings
from connectors.values import parse_time
from sandbox.faults import FaultPlan
from sandbox.salesforce import SalesforceSandbox, connect, sandbox_session
from sandbox.world.tables import SALESFORCE, WorldBuilder
from scoring.records import ActivityType as A
from tests.connectors.test_policy import FakeClock
from tests.sandbox.salesforce_helpers import (
    HandClock,
    expire_sessions,
    grant_fields,
    record_id,
    stored_record,
    update_record,
)
from tests.sandbox.test_salesforce import ANN, BEN, BOB, DEE, EVE, FINN, NOW, small_world

FIELDS = [
    FieldSpec("score", "Leadscore_Score__c", "Lead score", "number", description="Points"),
    FieldSpec("stage", "Leadscore_Stage__c", "Lead stage", "enumeration", ("Lead", "MQL")),
    FieldSpec("reasons", "Leadscore_Reasons__c", "Why", "text"),
    FieldSpec("scored_at", "Leadscore_Scored_At__c", "Scored at", "datetime"),
    FieldSpec("disqualified", "Leadscore_Disqualified__c", "Disqualified", "boolean"),
]


def password_settings(sandbox: SalesforceSandbox, **more: Any) -> SalesforceSettings:
    given = sandbox.credentials("oauth")
    values: dict[str, Any] = {
        "username": given["username"],
        "password": given["password"],
        "client_id": given["consumer_key"],
        "client_secret": given["consumer_secret"],
        "permission_set": "",
        **more,
    }
    return SalesforceSettings(**values)


def connector_of(
    sandbox: SalesforceSandbox, settings: SalesforceSettings | None = None, **options: Any
) -> SalesforceConnector:
    clock = FakeClock()
    return SalesforceConnector(
        settings or password_settings(sandbox),
        http=sandbox_session(sandbox),
        policy=options.pop("policy", None) or CallPolicy("salesforce", clock=clock, seed=1),
        **options,
    )


def set_up(sandbox: SalesforceSandbox, sf: SalesforceConnector) -> None:
    """Our fields made, then shown to the API user as an admin would (a permission set with
    read and edit, assigned to the user): the sandbox hides a new custom field until then.
    (`setup` grants them itself when the settings name a permission set: tested below.)"""
    sf.setup(FIELDS)
    names = [f"{o}.{f.name}" for o in ("Lead", "Contact") for f in FIELDS]
    grant_fields(connect(sandbox), sandbox.user_id, *names)
    sf.schema.forget()


@pytest.fixture
def sandbox() -> Iterator[SalesforceSandbox]:
    with SalesforceSandbox(small_world()) as running:
        yield running


@pytest.fixture
def sf(sandbox: SalesforceSandbox) -> SalesforceConnector:
    return connector_of(sandbox)


def pages(connector: SalesforceConnector, stream: str, cursor: str | None = None) -> list[Page]:
    return list(connector.pull(stream, cursor))


def people(found: list[Page]) -> dict[str, Any]:
    return {c.id: c for page in found for c in page.contacts}


def activities(found: list[Page]) -> list[Any]:
    return [a for page in found for a in page.activities]


# -- pull -------------------------------------------------------------------------------------


def test_a_full_pull_reads_every_lead_and_contact_with_the_rules_attributes(
    sandbox: SalesforceSandbox, sf: SalesforceConnector
) -> None:
    found = people(pages(sf, "contacts"))

    ann, bob = record_id(sandbox, ANN), record_id(sandbox, BOB)
    assert len(found) == 6 and ann in found and bob in found
    assert ann is not None and ann.startswith("003") and bob is not None and bob.startswith("00Q")
    assert found[ann].attributes["industry"] == "Software"  # through Account.Industry
    assert found[ann].attributes["employees"] == 250.0
    assert found[ann].attributes["job_title"] == "VP Marketing"
    assert found[bob].attributes["industry"] == "Manufacturing"  # the Lead's own field
    assert found[bob].attributes["lead_status"] == "Working - Contacted"
    assert all(c.source == "salesforce" for c in found.values())


def test_only_the_fields_wanted_and_present_are_selected(sandbox: SalesforceSandbox) -> None:
    connector = connector_of(sandbox, properties=["Title", "Budget__c", "Account.Rating"])

    found = people(pages(connector, "contacts"))

    bob = found[record_id(sandbox, BOB) or ""]
    assert bob.attributes["job_title"] == "CTO"
    assert "industry" not in bob.attributes and "Budget__c" not in bob.attributes


def test_a_mapped_field_named_in_another_case_than_the_orgs_gives_its_attribute(
    sandbox: SalesforceSandbox,
) -> None:
    from connectors.attributes import AttributeMap

    connector = connector_of(sandbox, properties=["title"],
                             attributes=AttributeMap({"title": "role"}))  # fmt: skip

    found = people(pages(connector, "contacts"))

    assert found[record_id(sandbox, BOB) or ""].attributes.get("role") == "CTO"


def test_an_incremental_pull_reads_what_changed_since_its_cursor(
    sandbox: SalesforceSandbox,
) -> None:
    sf = connector_of(sandbox, password_settings(sandbox, lookback_seconds=0))
    first = pages(sf, "contacts")
    cursor = first[-1].cursor
    dee = record_id(sandbox, DEE)
    assert dee is not None
    update_record(sandbox, dee, Title="Chief Executive Officer")

    again = people(pages(sf, "contacts", cursor))

    # `>=` the cursor: the newest Lead and Contact of the first pull are read again (another
    # record committed later may share their stamp), and the changed one; nothing else.
    assert dee in again and len(again) == 3
    assert again[dee].attributes["seniority"] == "C-level"
    assert (
        load_cursor(pages(sf, "contacts", cursor)[-1].cursor)["Lead"] > load_cursor(cursor)["Lead"]
    )


def test_the_look_back_rereads_recent_changes_and_takes_each_record_once(
    sandbox: SalesforceSandbox,
) -> None:
    sf = connector_of(sandbox, password_settings(sandbox, lookback_seconds=3600))
    cursor = pages(sf, "contacts")[-1].cursor
    dee = record_id(sandbox, DEE)
    assert dee is not None
    update_record(sandbox, dee, Title="CFO")
    update_record(sandbox, dee, Title="CEO")

    again = [c.id for page in pages(sf, "contacts", cursor) for c in page.contacts]

    assert again.count(dee) == 1


@pytest.mark.parametrize(("lookback", "found"), [(300, True), (0, False)])
def test_a_change_committed_late_with_an_older_stamp_is_found_by_the_look_back(
    sandbox: SalesforceSandbox, lookback: int, found: bool
) -> None:
    sf = connector_of(sandbox, password_settings(sandbox, lookback_seconds=lookback))
    cursor = pages(sf, "contacts")[-1].cursor
    newest = parse_time(load_cursor(cursor)["Lead"])
    dee = record_id(sandbox, DEE)
    assert dee is not None and newest is not None
    # Stamped when its transaction began, a minute before the newest the pull saw, and
    # committed only now (Salesforce stamps SystemModstamp at the start of a transaction).
    with sandbox.org_lock:
        table, row = sandbox.org.locate(dee) or (None, 0)
        assert table is not None
        table.write(row, {"Title": "CMO", "SystemModstamp": newest - timedelta(seconds=60)})

    again = people(pages(sf, "contacts", cursor))

    assert (dee in again) is found


@pytest.mark.parametrize("lookback", [0, 300])
def test_a_change_later_in_the_second_of_the_cursor_is_found(lookback: int) -> None:
    """SOQL compares datetimes to the second: a record stamped 10.700 is not `> 10.500`, so a
    pull from the last stamp it saw, exclusive, misses a change made later in that second.
    The connector reads `>=` its cursor (minus the look-back) and drops what it has seen."""
    clock = HandClock()
    with SalesforceSandbox(small_world(), clock=clock) as box:
        sf = connector_of(box, password_settings(box, lookback_seconds=lookback))
        bob, finn = record_id(box, BOB), record_id(box, FINN)
        assert bob and finn and bob[:3] == finn[:3] == "00Q"
        clock.advance(10.5)
        update_record(box, bob, Title="Chief Technology Officer")
        cursor = pages(sf, "contacts")[-1].cursor
        clock.advance(0.2)
        update_record(box, finn, Title="Head of Sales")
        seen = parse_time(load_cursor(cursor)["Lead"])
        assert seen is not None
        since = seen.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        exclusive = connect(box).query(f"SELECT Id FROM Lead WHERE SystemModstamp > {since}")
        again = people(pages(sf, "contacts", cursor))

    assert since.endswith(":10.500Z") and exclusive["records"] == []  # the miss
    assert finn in again and again[finn].attributes["job_title"] == "Head of Sales"


def test_a_meeting_or_call_deleted_since_it_was_pulled_comes_back_deleted(
    sandbox: SalesforceSandbox, sf: SalesforceConnector
) -> None:
    cursors = {s: pages(sf, s)[-1].cursor for s in ("tasks", "events")}
    with sandbox.org_lock:
        now = sandbox.org.stamp()
    meeting = sandbox.add_activity(BOB, A.MEETING, now + timedelta(days=1))
    call = sandbox.add_activity(BOB, A.SALES_TOUCH)
    booked = {s: pages(sf, s, cursors[s])[-1].cursor for s in ("tasks", "events")}
    sandbox.delete(meeting)
    sandbox.delete(call)

    again = {a.id: a for s in ("tasks", "events") for a in activities(pages(sf, s, booked[s]))}

    assert again[f"event:{meeting}"].attributes["outcome"] == "deleted"
    assert again[f"task:{call}"].attributes["outcome"] == "deleted"
    assert again[f"event:{meeting}"].revisable and again[f"task:{call}"].revisable


@pytest.mark.parametrize(("lookback", "found"), [(60, True), (0, False)])
def test_a_write_and_a_delete_that_commit_late_are_found_by_the_look_back(
    lookback: int, found: bool
) -> None:
    """Dee's change is stamped at +10 s and commits at +40 s, Eve's delete likewise; Bob's
    change, stamped at +20 s, is seen at +25 s, and moves the cursor past them both."""
    clock = HandClock()
    with SalesforceSandbox(small_world(), clock=clock) as box:
        sf = connector_of(box, password_settings(box, lookback_seconds=lookback))
        bob, dee, eve = (record_id(box, p) for p in (BOB, DEE, EVE))
        assert bob and dee and eve
        cursor = pages(sf, "contacts")[-1].cursor
        clock.advance(10)
        box.org.commit_lag = 30
        update_record(box, dee, Title="Head of Ops")
        box.delete(eve)
        box.org.commit_lag = 0
        clock.advance(10)
        update_record(box, bob, Title="Chief Technology Officer")
        clock.advance(5)
        first = pages(sf, "contacts", cursor)
        clock.advance(25)
        second = pages(sf, "contacts", first[-1].cursor)

    assert bob in people(first) and dee not in people(first)
    assert [g for page in first for g in page.gone] == []
    assert (dee in people(second)) is found
    assert (
        [(g.record_id, g.merged_into) for page in second for g in page.gone] == [(eve, None)]
    ) is found


def test_campaign_members_tasks_and_won_deals_become_activities(
    sandbox: SalesforceSandbox, sf: SalesforceConnector
) -> None:
    ann, bob = record_id(sandbox, ANN), record_id(sandbox, BOB)

    members = activities(pages(sf, "campaign_members"))
    tasks = activities(pages(sf, "tasks"))
    deals = activities(pages(sf, "opportunities"))

    assert {(a.contact_id, a.type) for a in members} == {
        (ann, A.EMAIL_SENT), (ann, A.EMAIL_CLICK), (bob, A.EMAIL_SENT),
    }  # fmt: skip
    assert {(a.contact_id, a.type) for a in tasks} == {(bob, A.SALES_TOUCH)}  # meetings: Events
    assert [(a.contact_id, a.type, a.attributes["amount"]) for a in deals] == [
        (ann, A.PURCHASE, 4800.0)
    ]
    # a multi-currency org: the amount's currency, `Opportunity.CurrencyIsoCode`
    assert [a.attributes.get("currency") for a in deals] == ["USD"]


def test_new_activity_shows_up_in_the_next_pull_of_its_stream(
    sandbox: SalesforceSandbox, sf: SalesforceConnector
) -> None:
    cursors = {s: pages(sf, s)[-1].cursor for s in ("campaign_members", "tasks", "opportunities")}
    bob, ben = record_id(sandbox, BOB), record_id(sandbox, BEN)
    sandbox.add_activity(BOB, A.EMAIL_CLICK, campaign=0)
    sandbox.add_activity(BOB, A.SALES_TOUCH)
    sandbox.add_activity(BEN, A.PURCHASE, amount=1300.0)

    members = activities(pages(sf, "campaign_members", cursors["campaign_members"]))
    tasks = activities(pages(sf, "tasks", cursors["tasks"]))
    deals = activities(pages(sf, "opportunities", cursors["opportunities"]))

    assert (bob, A.EMAIL_CLICK) in {(a.contact_id, a.type) for a in members}
    assert (bob, A.SALES_TOUCH) in {(a.contact_id, a.type) for a in tasks}
    bought = [(a.contact_id, a.attributes["amount"]) for a in deals]
    assert bought.count((ben, 1300.0)) == 1  # its role and its Opportunity both changed


def test_a_pull_pages_through_next_records_url_and_reads_each_record_once() -> None:
    world = WorldBuilder(NOW)
    company = world.company("Crowd", "crowd.example")
    for i in range(2300):
        world.person(f"P{i}", "Crowd", f"p{i}@crowd.example", company, systems=SALESFORCE,
                     created_at=NOW - timedelta(minutes=i))  # fmt: skip
    with SalesforceSandbox(world.build()) as crowd:
        sf = connector_of(crowd)
        found = pages(sf, "contacts")

    ids = [c.id for page in found for c in page.contacts]
    assert len(ids) == len(set(ids)) == 2300
    assert [len(page.contacts) for page in found] == [2000, 300, 0]
    assert sf.calls()["leads.query"] == 2


def test_events_with_a_person_are_meetings(sandbox: SalesforceSandbox) -> None:
    sf = connector_of(sandbox)

    found = activities(pages(sf, "events"))

    assert [(a.contact_id, a.type) for a in found] == [(record_id(sandbox, ANN), A.MEETING)]


def test_a_meeting_in_the_calendar_counts_from_its_end(
    sandbox: SalesforceSandbox, sf: SalesforceConnector
) -> None:
    cursor = pages(sf, "events")[-1].cursor
    with sandbox.org_lock:
        now = sandbox.org.stamp()
    sandbox.add_activity(BOB, A.MEETING, now + timedelta(days=2))  # 30 minutes, booked now

    bob = record_id(sandbox, BOB)
    found = [a for a in activities(pages(sf, "events", cursor)) if a.contact_id == bob]

    assert [(a.type, a.occurred_at) for a in found] == [
        (A.MEETING, now + timedelta(days=2, minutes=30))
    ]


def test_a_lead_converted_since_it_was_stored_is_gone_not_written_again(
    sandbox: SalesforceSandbox, sf: SalesforceConnector
) -> None:
    set_up(sandbox, sf)
    bob = record_id(sandbox, BOB)
    assert bob is not None
    with sandbox.org_lock:  # converted, as Salesforce's lead conversion leaves a Lead
        table, row = sandbox.org.locate(bob) or (None, 0)
        assert table is not None
        table.write(row, {"IsConverted": True})

    outcome = sf.write([Write(bob, {"Leadscore_Score__c": "3"})])
    pulled = people(pages(sf, "contacts"))

    # Converted by hand, with no ConvertedContactId: where the Lead went is not known.
    assert [(g.record_id, g.merged_into) for g in outcome.gone] == [(bob, None)]
    assert outcome.written == [] and outcome.failed == []
    assert bob not in pulled


def test_a_converted_lead_is_scored_through_its_contact_and_never_written() -> None:
    world = WorldBuilder(NOW)
    acme = world.company("Acme", "acme.io", employees=250)
    world.person("Cat", "Vo", "cat@acme.io", acme, systems=SALESFORCE,
                 converted_at=NOW - timedelta(days=3))  # fmt: skip
    world.person("Dan", "Wu", "dan@acme.io", acme, systems=SALESFORCE)
    with SalesforceSandbox(world.build(seed=7)) as box:
        sf = connector_of(box)
        set_up(box, sf)
        found = people(pages(sf, "contacts"))
        cat = record_id(box, 0)

        assert sf.converted, "the world holds a converted lead"
        [(lead, contact)] = sf.converted.items()
        outcome = sf.write([Write(lead, {"Leadscore_Score__c": "1"})])
        calls = dict(sf.calls())

    assert contact == cat and contact in found and lead not in found
    assert found[contact].email == "cat@acme.io"
    assert [(g.record_id, g.merged_into) for g in outcome.gone] == [(lead, contact)]
    assert "collections.update" not in calls  # known converted: never sent


def test_an_incremental_pull_reports_deleted_and_merged_records_gone(
    sandbox: SalesforceSandbox, sf: SalesforceConnector
) -> None:
    cursor = pages(sf, "contacts")[-1].cursor
    bob, dee, finn = (record_id(sandbox, p) for p in (BOB, DEE, FINN))
    assert bob and dee and finn and finn.startswith("00Q")
    sandbox.delete(dee)
    sandbox.merge(bob, finn)

    again = pages(sf, "contacts", cursor)
    full = pages(sf, "contacts")

    gone = {(g.record_id, g.merged_into) for page in again for g in page.gone}
    assert gone == {(dee, None), (finn, bob)}
    assert bob in people(again) and dee not in people(again) and finn not in people(again)
    assert [g for page in full for g in page.gone] == []  # a full pull: live records only
    assert dee not in people(full) and finn not in people(full)


def test_a_write_to_a_merged_away_record_is_gone_into_its_master(
    sandbox: SalesforceSandbox, sf: SalesforceConnector
) -> None:
    set_up(sandbox, sf)
    bob, finn = record_id(sandbox, BOB), record_id(sandbox, FINN)
    assert bob is not None and finn is not None
    sandbox.merge(bob, finn)

    outcome = sf.write([Write(finn, {"Leadscore_Score__c": "1"}),
                        Write(bob, {"Leadscore_Score__c": "2"})])  # fmt: skip

    assert [(g.record_id, g.merged_into) for g in outcome.gone] == [(finn, bob)]
    assert outcome.written == [bob] and outcome.failed == []


# -- fetch ------------------------------------------------------------------------------------


def test_fetch_finds_one_person_with_their_activity(
    sandbox: SalesforceSandbox, sf: SalesforceConnector
) -> None:
    ann = record_id(sandbox, ANN)
    assert ann is not None

    by_id = sf.fetch(ann)
    by_email = sf.fetch(email="BOB@globex.com ")

    assert [c.id for c in by_id.contacts] == [ann]
    assert {a.type for a in by_id.activities} == {
        A.EMAIL_SENT, A.EMAIL_CLICK, A.MEETING, A.PURCHASE
    }  # fmt: skip
    assert [c.id for c in by_email.contacts] == [record_id(sandbox, BOB)]


@pytest.mark.parametrize("value", ["x' OR Name LIKE '%", "%", "' OR Email != '", "\\' OR Id != '"])
def test_a_value_that_reaches_soql_matches_nothing_but_itself(
    sf: SalesforceConnector, value: str
) -> None:
    assert sf.fetch(email=value).contacts == ()
    assert sf.fetch(value).contacts == ()


# -- setup and write --------------------------------------------------------------------------


def test_setup_makes_the_fields_on_leads_and_contacts_once(
    sandbox: SalesforceSandbox, sf: SalesforceConnector
) -> None:
    planned = sf.setup(FIELDS, dry_run=True)
    made = sf.setup(FIELDS)
    hidden = sf.setup(FIELDS)  # made, and not granted to us yet: there all the same
    set_up(sandbox, sf)
    again = sf.setup(FIELDS)

    expected = [f"{o}.{f.name}" for o in ("Lead", "Contact") for f in FIELDS]
    assert planned.created == made.created == expected
    assert hidden.created == [] and hidden.existing == expected
    assert again.created == [] and again.existing == expected and again.missing == []
    assert "Account.Industry" in again.available and "Leadscore_Score__c" in again.available
    # made once, tried again by the two setups that could not see them, not by the last
    assert sf.calls()["tooling.customfield.create"] == 3 * len(expected)


def test_a_write_to_a_deleted_record_reports_it_gone(sandbox: SalesforceSandbox) -> None:
    sf = connector_of(sandbox)
    set_up(sandbox, sf)
    bob = record_id(sandbox, BOB)
    assert bob is not None
    sandbox.delete(bob)

    outcome = sf.write([Write(bob, {"Leadscore_Score__c": "1"})])

    assert [g.record_id for g in outcome.gone] == [bob] and outcome.failed == []


def test_setup_grants_the_permission_set_read_and_edit_on_every_field(
    sandbox: SalesforceSandbox,
) -> None:
    sf = connector_of(sandbox, password_settings(sandbox, permission_set="Leadscore"))

    made = sf.setup(FIELDS)
    again = sf.setup(FIELDS)

    bob = record_id(sandbox, BOB)
    assert bob is not None
    written = sf.write([Write(bob, {"Leadscore_Score__c": "5"})])

    grants = [n for n in made.created if n.endswith("(field permission)")]
    assert len(grants) == 2 * len(FIELDS)
    assert again.missing == [] and again.created == []
    assert "Leadscore_Score__c" in again.available  # assigned to us: we see the fields
    assert written.written == [bob] and written.failed == []
    assert sf.calls()["permissionset.create"] == 1 and sf.calls()["assignment.create"] == 2


@pytest.mark.parametrize(
    ("lacking", "operation", "named"),
    [
        ("CustomizeApplication", "tooling.customfield.create", "Customize Application"),
        ("ManageProfilesPermissionsets", "permissionset.create",
         "Manage Profiles and Permission Sets"),
        ("AssignPermissionSets", "assignment.create", "Assign Permission Sets"),
    ],
)  # fmt: skip
def test_setup_without_a_permission_it_takes_names_that_permission(
    lacking: str, operation: str, named: str
) -> None:
    from sandbox.salesforce.emulator import USER_PERMISSIONS

    with SalesforceSandbox(small_world(), permissions=USER_PERMISSIONS - {lacking}) as sandbox:
        sf = connector_of(sandbox, password_settings(sandbox, permission_set="Leadscore"))
        with pytest.raises(AuthError) as refused:
            sf.setup(FIELDS)

    message = str(refused.value)
    assert refused.value.operation == operation
    assert f'lacks the permission "{named}"' in message
    assert "INSUFFICIENT_ACCESS" not in message and "sandbox-password" not in message
    assert sf.calls()[operation] == 1  # refused once, not retried


def test_a_field_permission_granted_by_a_create_whose_answer_was_lost_counts_as_granted(
    sandbox: SalesforceSandbox,
) -> None:
    sf = connector_of(sandbox, password_settings(sandbox, permission_set="Leadscore"))
    sf.setup(FIELDS, dry_run=True)  # describes read before the faults
    sandbox.faults = FaultPlan(lost=1.0, operations=frozenset({"sobject.create"}))
    original = sandbox.faults.draw

    def lose_first_grant(operation: str) -> Any:
        """The first field permission lands, its answer is lost; the rest pass."""
        lost = sum(1 for c in sandbox.log if c.operation == "sobject.create" and c.status == 0)
        grants = sum(1 for c in sandbox.log if c.path.endswith("/FieldPermissions"))
        return original(operation) if lost == 0 and grants == 1 else None

    sandbox.faults.draw = lose_first_grant  # type: ignore[method-assign]
    made = sf.setup(FIELDS)
    sandbox.faults = FaultPlan()
    again = sf.setup(FIELDS, dry_run=True)

    refused_again = [
        c for c in sandbox.log if c.path.endswith("/FieldPermissions") and c.status == 400
    ]
    assert len(refused_again) == 1  # sent again after its answer was lost: DUPLICATE_VALUE
    assert len([n for n in made.created if n.endswith("(field permission)")]) == 2 * len(FIELDS)
    assert again.missing == []


def test_a_setup_run_again_after_one_that_failed_sees_the_fields_it_granted(
    sandbox: SalesforceSandbox,
) -> None:
    sf = connector_of(sandbox, password_settings(sandbox, permission_set="Leadscore"))
    sandbox.faults = FaultPlan(daily_limit=1.0, operations=frozenset({"sobject.create"}))
    with pytest.raises(BudgetExhausted):
        sf.setup(FIELDS)  # the fields made, hidden from us: no grant went through
    sandbox.faults = FaultPlan()

    sf.setup(FIELDS)
    checked = sf.setup(FIELDS, dry_run=True)  # what a sync checks first, in the same process

    assert checked.missing == [] and checked.created == []


def test_a_setup_that_finds_everything_granted_by_one_cut_short_sees_the_fields(
    sandbox: SalesforceSandbox,
) -> None:
    settings = password_settings(sandbox, permission_set="Leadscore")
    sf = connector_of(sandbox, settings)
    sf.setup(FIELDS, dry_run=True)  # describes read before any field was made
    connector_of(sandbox, settings).setup(FIELDS)  # a setup in a process killed after it

    again = sf.setup(FIELDS)
    checked = sf.setup(FIELDS, dry_run=True)

    assert [n for n in again.created if n.endswith("(field permission)")] == []
    assert checked.missing == [] and "Leadscore_Score__c" in checked.available


def test_writes_land_in_their_fields_types_and_leave_a_contacts_status_alone(
    sandbox: SalesforceSandbox, sf: SalesforceConnector
) -> None:
    set_up(sandbox, sf)
    bob, ann = record_id(sandbox, BOB), record_id(sandbox, ANN)
    assert bob is not None and ann is not None
    values = {"Leadscore_Score__c": "42", "Leadscore_Stage__c": "MQL",
              "Leadscore_Disqualified__c": "false", "Leadscore_Reasons__c": "+42 demo",
              "Leadscore_Scored_At__c": "2026-11-01T12:00:00Z", "Status": "Working - Contacted"}  # fmt: skip

    outcome = sf.write([Write(bob, values), Write(ann, values)])

    assert outcome.written == [bob, ann] and outcome.failed == []
    lead, contact = stored_record(sandbox, bob), stored_record(sandbox, ann)
    assert lead is not None and contact is not None
    assert lead["Leadscore_Score__c"] == 42 and lead["Leadscore_Disqualified__c"] is False
    assert contact["Leadscore_Stage__c"] == "MQL" and "Status" not in contact
    assert sf.calls()["collections.update"] == 1


def test_records_refused_inside_a_collection_are_failures_and_the_rest_land(
    sandbox: SalesforceSandbox, sf: SalesforceConnector
) -> None:
    set_up(sandbox, sf)
    bob, dee = record_id(sandbox, BOB), record_id(sandbox, DEE)
    assert bob is not None and dee is not None

    outcome = sf.write([
        Write(bob, {"Leadscore_Score__c": "7"}),
        Write(dee, {"Leadscore_Reasons__c": "x" * 40_000}),
        Write(dee[:-3] + "ZZZ", {"Nope__c": "1"}),
        Write("001000000000001AAA", {"Leadscore_Score__c": "1"}),
    ])  # fmt: skip

    assert outcome.written == [bob]
    failed = {f.record_id: f for f in outcome.failed}
    assert set(failed) == {dee, dee[:-3] + "ZZZ", "001000000000001AAA"}
    assert failed[dee].reason.startswith("STRING_TOO_LONG") and not failed[dee].retryable
    assert not failed["001000000000001AAA"].retryable


def test_locked_rows_are_tried_again_then_left_to_the_next_run(
    sandbox: SalesforceSandbox,
) -> None:
    plan = FaultPlan(record_failure=1.0, operations=frozenset({"collections.update"}))
    with SalesforceSandbox(small_world(), faults=plan) as locked:
        sf = connector_of(locked)
        set_up(locked, sf)
        bob = record_id(locked, BOB)
        assert bob is not None

        outcome = sf.write([Write(bob, {"Leadscore_Score__c": "7"})])

    assert outcome.written == []
    assert outcome.failed[0].reason.startswith("UNABLE_TO_LOCK_ROW")
    assert outcome.failed[0].retryable
    assert sf.calls()["collections.update"] == 3
    assert sf.policy.clock.sleeps == [2.0, 4.0]  # a lock is held for seconds: waited out


# -- sessions ---------------------------------------------------------------------------------


def test_an_expired_session_logs_in_again_once(
    sandbox: SalesforceSandbox, sf: SalesforceConnector
) -> None:
    pages(sf, "contacts")
    expire_sessions(sandbox)

    found = people(pages(sf, "contacts"))

    assert len(found) == 6 and sf.api.logins == 2


def test_an_expired_access_token_stops_the_run_without_showing_it(
    sandbox: SalesforceSandbox,
) -> None:
    client = connect(sandbox)
    token = client.session_id
    settings = SalesforceSettings(
        access_token=token,
        instance_url=f"https://{client.sf_instance}",
        permission_set="",
    )
    sf = connector_of(sandbox, settings)
    assert len(people(pages(sf, "contacts"))) == 6
    expire_sessions(sandbox)

    with pytest.raises(AuthError) as refused:
        pages(sf, "contacts")

    assert "ACCESS_TOKEN" in str(refused.value) and token not in str(refused.value)
    assert sf.api.logins == 0


@pytest.mark.parametrize(
    "plan",
    [FaultPlan(server_error=1.0), FaultPlan(truncated=1.0)],
    ids=["server error", "answer cut off"],
)
def test_a_login_that_failed_on_salesforces_side_is_tried_again(
    sandbox: SalesforceSandbox, plan: FaultPlan
) -> None:
    sandbox.faults = FaultPlan(
        server_error=plan.server_error, truncated=plan.truncated,
        operations=frozenset({"oauth.token"}),
    )  # fmt: skip
    first = sandbox.faults.draw
    sandbox.faults.draw = lambda op: first(op) if sandbox.calls["oauth.token"] < 3 else None  # type: ignore[method-assign]
    sf = connector_of(sandbox)

    found = people(pages(sf, "contacts"))

    assert len(found) == 6
    assert sandbox.calls["oauth.token"] == 3 and sf.calls()["login"] == 3


def test_a_refused_login_names_no_credential(sandbox: SalesforceSandbox) -> None:
    settings = password_settings(sandbox, password="wrong-password-123")
    sf = connector_of(sandbox, settings)

    with pytest.raises(AuthError) as refused:
        pages(sf, "contacts")

    text = str(refused.value)
    assert "invalid_grant" in text
    assert "wrong-password-123" not in text and "sandbox-consumer-secret" not in text


# -- the daily budget -------------------------------------------------------------------------


def test_a_run_reads_the_orgs_allocation_and_counts_down_by_its_header() -> None:
    with SalesforceSandbox(small_world(), daily_limit=10_000, used=1_000) as box:
        sf = connector_of(box)
        sf.start_run()
        started = dict(sf.budget() or {})
        pages(sf, "contacts")
        after = dict(sf.budget() or {})
        server_left = box.budget.remaining

    assert started["daily_limit"] == 10_000 and started["run_allowance"] == 2_500
    assert started["remaining_today"] == 10_000 - 1_001
    assert after["remaining_today"] == server_left
    assert after["spent_this_run"] > 0


def test_a_run_stops_cleanly_at_its_share_of_the_allocation() -> None:
    with SalesforceSandbox(small_world(), daily_limit=1_000, used=795) as box:
        sf = connector_of(box)
        sf.start_run()

        with pytest.raises(BudgetExhausted) as spent:
            for stream in sf.streams:
                pages(sf, stream)
        used = box.budget.used

    assert "other apps" in str(spent.value)
    assert used <= 800


def test_the_orgs_request_limit_is_not_retried() -> None:
    with SalesforceSandbox(small_world(), daily_limit=1_000) as box:
        sf = connector_of(box, password_settings(box, budget_in_all=1.0, budget_per_run=1.0))
        sf.start_run()
        box.budget.used = box.budget.limit  # other apps spent the rest of the day

        with pytest.raises(BudgetExhausted) as refused:
            pages(sf, "contacts")

    assert "REQUEST_LIMIT_EXCEEDED" in str(refused.value)
    assert refused.value.status == 403
    assert sum(n for op, n in sf.calls().items() if op not in ("login", "limits")) == 1


def test_server_errors_and_concurrent_limit_refusals_are_retried_under_the_policy() -> None:
    plan = FaultPlan(server_error=0.5, rate_limited=0.3, seed=3,
                     operations=frozenset({"query", "query.more"}))  # fmt: skip
    with SalesforceSandbox(small_world(), faults=plan) as box:
        clock = FakeClock()
        sf = connector_of(box, policy=CallPolicy("salesforce", clock=clock, seed=1, attempts=12))

        found = people(pages(sf, "contacts"))

    assert len(found) == 6
    assert sum(sf.calls().values()) > 4
    assert clock.sleeps  # backed off on its own: the 403 for rate carries no Retry-After


def test_activity_times_fall_inside_the_world() -> None:
    with SalesforceSandbox(small_world()) as box:
        sf = connector_of(box)
        found = [
            a
            for s in ("campaign_members", "tasks", "opportunities")
            for a in activities(pages(sf, s))
        ]

    assert found and all(NOW - timedelta(days=30) <= a.occurred_at <= NOW for a in found)


def test_a_run_after_one_its_share_stopped_starts_afresh_in_the_same_process() -> None:
    """A long-lived process (a webhook server, a warm serverless container): the next run's
    first call, the read of /limits, is not refused for the last run's spending."""
    with SalesforceSandbox(small_world(), daily_limit=1_000) as box:
        sf = connector_of(box, password_settings(box, budget_per_run=0.005))  # 5 a run
        sf.start_run()
        with pytest.raises(BudgetExhausted):
            for _ in range(10):
                pages(sf, "contacts")
        sf.start_run()
        found = pages(sf, "campaign_members")

    assert found and sf.calls()["limits"] == 2


def test_a_write_to_a_record_the_org_no_longer_holds_is_not_tried_again_and_again(
    sandbox: SalesforceSandbox, sf: SalesforceConnector
) -> None:
    """Purged from the Recycle Bin or hard-deleted: queryAll no longer shows it, and the
    update answers INVALID_CROSS_REFERENCE_KEY; kept as a failure not retried each run."""
    from sandbox.salesforce.ids import make_id

    set_up(sandbox, sf)
    purged = make_id("00Q", 9_999)

    outcome = sf.write([Write(purged, {"Leadscore_Score__c": "5"})])

    [failure] = outcome.failed
    assert failure.record_id == purged and not failure.retryable
    assert "INVALID_CROSS_REFERENCE_KEY" in failure.reason and outcome.written == []
