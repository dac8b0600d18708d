"""The Salesforce sandbox, driven through the real simple-salesforce client.

Every test runs the SDK (or plain `requests` where the SDK hides the status)
against a real sandbox on 127.0.0.1, reached through `sandbox_session`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
import requests
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
)

from sandbox.faults import FaultPlan
from sandbox.salesforce import (
    SalesforceSandbox,
    SandboxAdapter,
    connect,
    sandbox_session,
)
from sandbox.salesforce.ids import make_id
from sandbox.world.tables import HUBSPOT, SALESFORCE, World, WorldBuilder
from scoring.records import ActivityType as A
from tests.sandbox.salesforce_helpers import (
    expire_sessions,
    grant_fields,
    quick_jobs,
    record_id,
    stored_record,
    update_record,
)

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
ANN, BEN, BOB, DEE, EVE, FINN, CY = range(7)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def small_world() -> World:
    """Acme is a customer (Ann bought, Ben has a quote); Globex and Initech people are Leads."""
    world = WorldBuilder(NOW)
    acme = world.company("Acme", "acme.io", employees=250)
    globex = world.company("Globex", "globex.com", industry="Manufacturing", employees=40)
    initech = world.company("Initech", "initech.com", industry="Finance", employees=900)
    people = [
        ("Ann", "Lee", "ann@acme.io", acme, "VP Marketing", "US", 200),
        ("Ben", "Ode", "ben@acme.io", acme, "Analyst", "US", 100),
        ("Bob", "Ray", "bob@globex.com", globex, "CTO", "US", 60),
        ("Dee", "O'Hara", "dee@initech.com", initech, "Manager", "US", 30),
        ("Eve", "Stone", "eve@initech.com", initech, "Head of Growth", "FR", 20),
        ("Finn", "Moe", "finn@globex.com", globex, "Manager", "DE", 90),
    ]
    for first, last, email, company, title, country, age in people:
        held = {SALESFORCE: " Ann@Acme.io"} if first == "Ann" else None
        world.person(first, last, email, company, job_title=title, country=country,
                     created_at=days_ago(age), held=held)  # fmt: skip
    world.person("Cy", "Po", "cy@globex.com", globex, systems=HUBSPOT)
    news = world.campaign("November newsletter", "What's new", days_ago(10))
    world.event(ANN, A.EMAIL_SENT, days_ago(10), campaign=news)
    world.event(ANN, A.EMAIL_CLICK, days_ago(9), campaign=news)
    world.event(BOB, A.EMAIL_SENT, days_ago(10), campaign=news)
    world.event(BOB, A.EMAIL_OPEN, days_ago(8), campaign=news)
    world.event(ANN, A.MEETING, days_ago(5))
    world.event(BOB, A.SALES_TOUCH, days_ago(4))
    world.event(CY, A.MEETING, days_ago(2))
    world.event(ANN, A.QUOTE_SENT, days_ago(3), amount=5000.0)
    world.event(ANN, A.PURCHASE, days_ago(1), amount=4800.0)
    world.event(BEN, A.QUOTE_SENT, days_ago(2), amount=1200.0)
    return world.build(seed=7)


@pytest.fixture
def sandbox() -> Iterator[SalesforceSandbox]:
    with SalesforceSandbox(small_world()) as running:
        yield running


@pytest.fixture
def sf(sandbox: SalesforceSandbox) -> Any:
    return connect(sandbox)


def answer(error: Exception) -> Any:
    """The parsed error body an SDK exception carries (typed as bytes by the SDK)."""
    return cast(Any, error).content


def names(result: dict[str, Any]) -> list[str]:
    return sorted(record["Name"] for record in result["records"])


def bearer(sandbox: SalesforceSandbox) -> requests.Session:
    """A plain session with a valid token, for checks the SDK would turn into exceptions."""
    session = sandbox_session(sandbox)
    token = connect(sandbox).session_id
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def data_url(path: str) -> str:
    return f"https://leadscore-sandbox.my.salesforce.com/services/data/v59.0/{path}"


def collection(sf: Any, records: list[dict[str, Any]], all_or_none: bool = False) -> Any:
    body = {"allOrNone": all_or_none, "records": records}
    return sf.restful("composite/sobjects", method="PATCH", json=body)


# -- logging in --------------------------------------------------------------------------------


def test_oauth_password_flow_answers_the_documented_token_and_logs_the_sdk_in(
    sandbox: SalesforceSandbox,
) -> None:
    form = {"grant_type": "password", "client_id": "sandbox-consumer-key",
            "client_secret": "sandbox-consumer-secret", "username": "sandbox@example.com",
            "password": "sandbox-password"}  # fmt: skip
    token = sandbox_session(sandbox).post(
        "https://login.salesforce.com/services/oauth2/token", data=form, timeout=5
    )
    sf = connect(sandbox, "oauth")

    assert token.status_code == 200
    assert set(token.json()) == {"access_token", "instance_url", "id", "token_type",
                                 "issued_at", "signature"}  # fmt: skip
    assert token.json()["id"].split("/")[-2:] == [sandbox.login.org_id, sandbox.login.user_id]
    assert sf.sf_instance == "leadscore-sandbox.my.salesforce.com"
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 4


def test_soap_login_with_a_security_token_logs_the_sdk_in(sandbox: SalesforceSandbox) -> None:
    sf = connect(sandbox, "soap")

    assert sf.sf_instance == "leadscore-sandbox.my.salesforce.com"
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 2
    assert sandbox.calls["soap.login"] == 1


@pytest.mark.parametrize(
    ("flow", "code", "message"),
    [("oauth", "invalid_grant", "authentication failure"),
     ("soap", "INVALID_LOGIN", "Invalid username, password, security token")],
)  # fmt: skip
def test_a_wrong_password_is_refused_as_salesforce_refuses_it(
    sandbox: SalesforceSandbox, flow: Any, code: str, message: str
) -> None:
    with pytest.raises(SalesforceAuthenticationFailed) as refused:
        connect(sandbox, flow, password="wrong")

    assert refused.value.code == code
    assert message in refused.value.auth_message


def test_calls_without_a_valid_session_get_invalid_session_id(sandbox: SalesforceSandbox) -> None:
    session = sandbox_session(sandbox)
    missing = session.get(data_url("query?q=SELECT+Id+FROM+Lead"), timeout=5)
    session.headers["Authorization"] = "Bearer not-a-session"
    forged = session.get(data_url("sobjects/Lead/describe"), timeout=5)

    expected = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    assert (missing.status_code, missing.json()) == (401, expected)
    assert (forged.status_code, forged.json()) == (401, expected)


def test_the_sdk_renews_an_expired_session_by_logging_in_again(
    sandbox: SalesforceSandbox, sf: Any
) -> None:
    expire_sessions(sandbox)

    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 4
    assert sandbox.calls["oauth.token"] == 2


# -- the world as Salesforce records -----------------------------------------------------------


def test_salesforce_people_become_leads_or_contacts_of_customer_accounts(sf: Any) -> None:
    leads = sf.query("SELECT Name, Email, Company, Title, Industry, NumberOfEmployees, Country, "
                     "Status, LeadSource, IsConverted, CreatedDate FROM Lead ORDER BY Name")  # fmt: skip
    contacts = sf.query("SELECT Name, Email, Account.Name, Account.Type FROM Contact ORDER BY Name")

    assert names(leads) == ["Bob Ray", "Dee O'Hara", "Eve Stone", "Finn Moe"]
    bob = leads["records"][0]
    assert (bob["Company"], bob["Industry"], bob["NumberOfEmployees"]) == (
        "Globex",
        "Manufacturing",
        40,
    )
    assert (bob["Status"], bob["IsConverted"], bob["Title"]) == (
        "Working - Contacted",
        False,
        "CTO",
    )
    assert leads["records"][1]["Status"] == "Open - Not Contacted"
    assert bob["CreatedDate"] == "2026-09-02T12:00:00.000+0000"
    assert [c["Email"] for c in contacts["records"]] == [" Ann@Acme.io", "ben@acme.io"]
    account = contacts["records"][0]["Account"]
    assert (account["attributes"]["type"], account["Name"], account["Type"]) == (
        "Account",
        "Acme",
        "Customer",
    )


def test_campaign_members_tasks_and_deals_come_from_the_world_events(sf: Any) -> None:
    members = sf.query("SELECT Campaign.Name, Status, HasResponded, FirstRespondedDate, LeadId, "
                       "ContactId FROM CampaignMember ORDER BY Status")  # fmt: skip
    tasks = sf.query("SELECT Subject, TaskSubtype, Status, ActivityDate, Who.Email, Who.Type "
                     "FROM Task ORDER BY ActivityDate")  # fmt: skip
    meetings = sf.query(
        "SELECT Subject, StartDateTime, EndDateTime, Who.Email, Who.Type FROM Event"
    )
    deals = sf.query("SELECT Name, StageName, Amount, CloseDate, IsWon, IsClosed, Account.Name "
                     "FROM Opportunity ORDER BY Amount DESC")  # fmt: skip
    roles = sf.query(
        "SELECT Contact.Email, Opportunity.StageName, IsPrimary FROM OpportunityContactRole"
    )

    responded, sent = members["records"]
    assert (responded["Status"], responded["HasResponded"], responded["FirstRespondedDate"]) == (
        "Responded", True, "2026-10-23")  # fmt: skip
    assert responded["LeadId"] is None and responded["ContactId"].startswith("003")
    assert (sent["Status"], sent["HasResponded"], sent["LeadId"][:3]) == ("Sent", False, "00Q")
    assert responded["Campaign"]["Name"] == "November newsletter"
    [meeting], [touch] = meetings["records"], tasks["records"]
    assert (meeting["Subject"], meeting["StartDateTime"], meeting["EndDateTime"]) == (
        "Meeting", "2026-10-27T12:00:00.000+0000", "2026-10-27T13:00:00.000+0000")  # fmt: skip
    assert (meeting["Who"]["Email"], meeting["Who"]["Type"]) == (" Ann@Acme.io", "Contact")
    assert meeting["Who"]["attributes"]["type"] == "Name"
    assert (touch["TaskSubtype"], touch["Status"]) == ("Email", "Completed")
    assert (touch["ActivityDate"], touch["Who"]["Type"]) == ("2026-10-28", "Lead")
    won, quoted = deals["records"]
    assert (won["StageName"], won["Amount"], won["IsWon"], won["IsClosed"]) == (
        "Closed Won",
        4800.0,
        True,
        True,
    )
    assert (quoted["StageName"], quoted["IsClosed"], quoted["CloseDate"]) == (
        "Proposal/Price Quote", False, "2026-11-29")  # fmt: skip
    assert won["Account"]["Name"] == "Acme"
    assert sorted(r["Opportunity"]["StageName"] for r in roles["records"]) == [
        "Closed Won", "Proposal/Price Quote"]  # fmt: skip


def test_new_activity_and_edits_show_up_in_an_incremental_pull(
    sandbox: SalesforceSandbox, sf: Any
) -> None:
    def changed(sobject: str, since: str) -> list[str]:
        query = f"SELECT Id FROM {sobject} WHERE SystemModstamp > {since} ORDER BY SystemModstamp"
        return [r["Id"] for r in sf.query(query)["records"]]

    # a second before the world's now: every record made from it is older, and the writes
    # below fall in the second after it (SOQL compares datetimes to the second)
    since = "2026-11-01T11:59:59Z"
    assert changed("Lead", since) == changed("Task", since) == changed("Opportunity", since) == []

    meeting = sandbox.add_activity(DEE, A.MEETING, days_ago(0.5))
    member = sandbox.add_activity(BOB, "email_click", campaign=0)
    deal = sandbox.add_activity(BEN, A.PURCHASE, amount=1300.0)
    update_record(sandbox, str(record_id(sandbox, EVE)), Status="Closed - Not Converted")

    assert changed("Event", since) == [meeting]
    assert changed("CampaignMember", since) == [member]
    assert changed("Lead", since) == [record_id(sandbox, EVE)]
    assert changed("Opportunity", since) == [deal]
    who = sf.query(f"SELECT Who.Email FROM Event WHERE Id = '{meeting}'")["records"][0]["Who"]
    assert who["Email"] == "dee@initech.com"
    assert sf.CampaignMember.get(member)["Status"] == "Responded"
    closed = sf.Opportunity.get(deal)
    assert (closed["StageName"], closed["Amount"], closed["IsWon"]) == ("Closed Won", 1300.0, True)
    stamp = closed["SystemModstamp"].replace("+0000", "Z")
    assert changed("Opportunity", stamp) == []
    at_least = sf.query(f"SELECT Id FROM Opportunity WHERE SystemModstamp >= {stamp}")
    assert [r["Id"] for r in at_least["records"]] == [deal]
    with pytest.raises(ValueError, match="is a Lead"):
        sandbox.add_activity(BOB, A.QUOTE_SENT, amount=10.0)


def test_a_sandbox_without_a_world_is_an_empty_org() -> None:
    with SalesforceSandbox() as sandbox:
        sf = connect(sandbox)

        assert sf.query("SELECT Id FROM Lead") == {"totalSize": 0, "done": True, "records": []}
        assert sf.query_all("SELECT Id FROM CampaignMember")["records"] == []
        with pytest.raises(ValueError, match="not in Salesforce"):
            sandbox.add_activity(0, A.MEETING)


# -- SOQL --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("Company = 'globex'", ["Bob Ray", "Finn Moe"]),
        ("Company != 'Globex'", ["Dee O'Hara", "Eve Stone"]),
        ("NumberOfEmployees >= 100", ["Dee O'Hara", "Eve Stone"]),
        ("NumberOfEmployees < 100.5", ["Bob Ray", "Finn Moe"]),
        ("Country IN ('FR', 'de')", ["Eve Stone", "Finn Moe"]),
        ("Country NOT IN ('US')", ["Eve Stone", "Finn Moe"]),
        ("Email LIKE '%@INITECH.com'", ["Dee O'Hara", "Eve Stone"]),
        ("LastName LIKE 'O\\'H_r%'", ["Dee O'Hara"]),
        ("NOT Company = 'Globex'", ["Dee O'Hara", "Eve Stone"]),
        ("(Company = 'Globex' AND Title = 'CTO') OR Country = 'FR'", ["Bob Ray", "Eve Stone"]),
        ("CreatedDate > 2026-09-15T00:00:00Z", ["Dee O'Hara", "Eve Stone"]),
        ("CreatedDate < 2026-09-02T14:00:00+02:00", ["Finn Moe"]),
        ("Status = 'Working - Contacted' AND IsConverted = false", ["Bob Ray"]),
        (
            "LeadSource != null AND Title != null",
            ["Bob Ray", "Dee O'Hara", "Eve Stone", "Finn Moe"],
        ),
        ("Id = '" + make_id("00Q", 0)[:15] + "'", ["Bob Ray"]),
    ],
)
def test_where_clauses_filter_as_soql_does(sf: Any, where: str, expected: list[str]) -> None:
    assert names(sf.query(f"select Name from lead where {where}")) == expected


def test_null_dates_relationships_ordering_limit_offset_and_count(sf: Any) -> None:
    unanswered = sf.query("SELECT Id FROM CampaignMember WHERE FirstRespondedDate = NULL")
    by_who = sf.query(
        "SELECT Subject FROM Task WHERE Who.Type = 'Lead' AND ActivityDate >= 2026-10-28"
    )
    ordered = sf.query("SELECT Name FROM Lead ORDER BY Country DESC NULLS LAST, Name ASC")
    window = sf.query("SELECT Name FROM Lead ORDER BY Name LIMIT 2 OFFSET 1")
    counted = sf.query("SELECT COUNT() FROM Lead WHERE Company LIKE 'glob%'")

    assert unanswered["totalSize"] == 1
    assert [r["Subject"] for r in by_who["records"]] == ["Email: follow-up"]
    assert [r["Name"] for r in ordered["records"]] == [
        "Bob Ray",
        "Dee O'Hara",
        "Eve Stone",
        "Finn Moe",
    ]
    assert [r["Name"] for r in window["records"]] == ["Dee O'Hara", "Eve Stone"]
    assert (counted["totalSize"], counted["records"], counted["done"]) == (2, [], True)


@pytest.mark.parametrize(
    ("query", "code", "fragment"),
    [
        ("SELECT Id FRM Lead", "MALFORMED_QUERY", "unexpected token: 'FRM'"),
        ("SELECT Id FROM Lead WHERE Company = 'a' AND Country = 'b' OR Title = 'c'",
         "MALFORMED_QUERY", "unexpected token: 'OR'"),
        ("SELECT Id FROM Lead WHERE Company = 'open", "MALFORMED_QUERY", "mismatched character"),
        ("SELECT Id FROM Leads", "INVALID_TYPE", "sObject type 'Leads' is not supported."),
        ("SELECT Id, Score__c FROM Lead", "INVALID_FIELD", "No such column 'Score__c' on entity 'Lead'"),
        ("SELECT Foo.Name FROM Contact", "INVALID_FIELD", "Didn't understand relationship 'Foo'"),
        ("SELECT Id FROM Lead WHERE NumberOfEmployees = '5'", "INVALID_FIELD", "must be of type int"),
        ("SELECT Id FROM Lead WHERE CreatedDate > 2026-01-01", "INVALID_FIELD", "must be of type dateTime"),
        ("SELECT Id FROM Lead WHERE Company = 5", "INVALID_FIELD", "should be enclosed in quotes"),
        ("SELECT Id FROM Task ORDER BY Description", "INVALID_FIELD", "can not be sorted"),
    ],
)  # fmt: skip
def test_bad_queries_get_salesforce_error_codes(
    sf: Any, query: str, code: str, fragment: str
) -> None:
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.query(query)

    assert refused.value.status == 400
    [error] = answer(refused.value)
    assert error["errorCode"] == code and fragment in error["message"]


def test_query_errors_point_at_the_offending_column(sf: Any) -> None:
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.query("SELECT Idd FROM Lead")

    assert answer(refused.value)[0]["message"].startswith(
        "\nSELECT Idd FROM Lead\n       ^\nERROR at Row:1:Column:8\nNo such column 'Idd'"
    )


@pytest.fixture(scope="module")
def crowd() -> Iterator[SalesforceSandbox]:
    """4,100 Leads at 41 companies, for paging."""
    world = WorldBuilder(NOW)
    companies = [world.company(f"Company {c}", f"c{c}.example") for c in range(41)]
    for i in range(4100):
        world.person(f"P{i}", "Crowd", f"p{i}@c{i % 41}.example", companies[i % 41],
                     systems=SALESFORCE, created_at=NOW - timedelta(minutes=i))  # fmt: skip
    with SalesforceSandbox(world.build()) as running:
        yield running


def test_queries_page_by_2000_and_query_all_follows_next_records_url(
    crowd: SalesforceSandbox,
) -> None:
    sf = connect(crowd)
    first = sf.query("SELECT Id, Email FROM Lead ORDER BY CreatedDate DESC")
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    locator = second["nextRecordsUrl"].rsplit("/", 1)[1]
    third = sf.query_more(locator)
    everyone = sf.query_all("SELECT Email FROM Lead")

    assert (first["totalSize"], first["done"], len(first["records"])) == (4100, False, 2000)
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/01g")
    assert first["nextRecordsUrl"].endswith("-2000") and locator.endswith("-4000")
    assert first["records"][0]["Email"] == "p0@c0.example"
    assert (len(second["records"]), second["done"]) == (2000, False)
    assert (len(third["records"]), third["done"], "nextRecordsUrl" in third) == (100, True, False)
    assert len({r["Email"] for r in everyone["records"]}) == 4100


def test_batch_size_option_and_locators_that_last_two_days(crowd: SalesforceSandbox) -> None:
    sf = connect(crowd)
    small = sf.query("SELECT Id FROM Lead", headers={"Sforce-Query-Options": "batchSize=500"})
    opened = [sf.query("SELECT Id FROM Lead")["nextRecordsUrl"] for _ in range(12)]
    last = opened[0].rpartition("-")[0] + "-4000"
    again = [sf.query_more(last, identifier_is_url=True) for _ in range(2)]  # a reply lost
    # any number open (API version 56.0 on), the last page as often as asked
    second = sf.query_more(small["nextRecordsUrl"], identifier_is_url=True)
    newest = sf.query_more(opened[-1], identifier_is_url=True)
    with crowd.org_lock:  # two days on
        for cursor in crowd.queries.cursors.values():
            cursor.opened = crowd.org.now() - timedelta(days=2)
    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.query_more(small["nextRecordsUrl"], identifier_is_url=True)

    assert len(small["records"]) == 500 and small["nextRecordsUrl"].endswith("-500")
    assert len(second["records"]) == 500
    assert [(len(a["records"]), a["done"]) for a in again] == [(100, True)] * 2
    assert answer(refused.value) == [
        {"message": "invalid query locator", "errorCode": "INVALID_QUERY_LOCATOR"}
    ]
    assert len(newest["records"]) == 2000


# -- describe and custom fields ----------------------------------------------------------------


def test_describe_lists_every_field_with_its_properties(sf: Any) -> None:
    lead = sf.Lead.describe()
    fields = {f["name"]: f for f in lead["fields"]}

    assert (lead["name"], lead["keyPrefix"], lead["labelPlural"]) == ("Lead", "00Q", "Leads")
    assert {"Id", "Email", "Company", "Status", "SystemModstamp", "NumberOfEmployees"} <= set(
        fields
    )
    assert fields["Email"]["type"] == "email" and fields["Email"]["updateable"] is True
    assert fields["SystemModstamp"]["updateable"] is False
    assert fields["Status"]["picklistValues"][0]["value"] == "Open - Not Contacted"
    who = next(f for f in sf.Task.describe()["fields"] if f["name"] == "WhoId")
    assert (who["referenceTo"], who["relationshipName"]) == (["Contact", "Lead"], "Who")
    assert "Lead" in [s["name"] for s in sf.describe()["sobjects"]]


def test_a_custom_field_made_through_the_tooling_api_is_described_and_written(
    sandbox: SalesforceSandbox, sf: Any
) -> None:
    created = sf.toolingexecute("sobjects/CustomField", method="POST", data={
        "FullName": "Lead.Lead_Score__c",
        "Metadata": {"label": "Lead Score", "type": "Number", "precision": 18, "scale": 0}})  # fmt: skip
    grant_fields(sf, sandbox.user_id, "Lead.Lead_Score__c")  # field-level security
    bob = sf.query("SELECT Id FROM Lead WHERE Name = 'Bob Ray'")["records"][0]["Id"]
    collection(sf, [{"attributes": {"type": "Lead"}, "id": bob, "Lead_Score__c": 87}])
    fields = {f["name"]: f for f in sf.Lead.describe()["fields"]}

    assert (created["success"], created["id"][:3], created["errors"]) == (True, "00N", [])
    assert (fields["Lead_Score__c"]["custom"], fields["Lead_Score__c"]["type"]) == (True, "double")
    scored = sf.query("SELECT Name FROM Lead WHERE Lead_Score__c > 50")
    assert names(scored) == ["Bob Ray"]
    assert sf.query("SELECT COUNT() FROM Lead WHERE Lead_Score__c = null")["totalSize"] == 3


def test_creating_a_custom_field_twice_is_a_duplicate_developer_name(sf: Any) -> None:
    field = {
        "FullName": "Contact.Stage__c",
        "Metadata": {"label": "Stage", "type": "Text", "length": 40},
    }
    sf.toolingexecute("sobjects/CustomField", method="POST", data=field)

    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.toolingexecute("sobjects/CustomField", method="POST", data=field)
    assert answer(refused.value) == [{"message": "There is already a field named Stage on Contact.",
                                      "errorCode": "DUPLICATE_DEVELOPER_NAME", "fields": []}]  # fmt: skip


# -- writes ------------------------------------------------------------------------------------


def test_a_collection_update_writes_and_bumps_the_system_modstamp(
    sandbox: SalesforceSandbox, sf: Any
) -> None:
    before = sf.query("SELECT Id, SystemModstamp FROM Lead ORDER BY Name")["records"]
    results = collection(sf, [{"attributes": {"type": "Lead"}, "id": r["Id"], "Title": "Buyer"}
                              for r in before[:2]])  # fmt: skip
    sf.Lead.update(before[2]["Id"], {"Title": "Owner"})
    after = sf.query("SELECT Title, SystemModstamp FROM Lead ORDER BY Name")["records"]

    assert results == [{"id": r["Id"], "success": True, "errors": []} for r in before[:2]]
    assert [r["Title"] for r in after] == ["Buyer", "Buyer", "Owner", "Manager"]
    assert [a["SystemModstamp"] > b["SystemModstamp"] for a, b in zip(after, before, strict=True)] == [
        True, True, True, False]  # fmt: skip
    assert stored_record(sandbox, before[0]["Id"])["Title"] == "Buyer"  # type: ignore[index]


def test_a_collection_update_reports_each_bad_record(sf: Any) -> None:
    bob = make_id("00Q", 0)
    lead = {"type": "Lead"}
    results = collection(sf, [
        {"attributes": lead, "id": bob, "Title": "Chief Technology Officer"},
        {"attributes": lead, "id": "001xx000003DGb2999", "Title": "x"},
        {"attributes": lead, "id": make_id("00Q", 999), "Title": "x"},
        {"attributes": lead, "id": bob, "Score__c": 5},
        {"attributes": lead, "id": bob, "IsConverted": True},
        {"attributes": lead, "id": bob, "Title": "x" * 129},
        {"attributes": lead, "id": bob, "NumberOfEmployees": "many"},
        {"attributes": lead, "id": bob, "Email": "not an address"},
        {"attributes": lead, "Title": "no id"},
    ])  # fmt: skip

    assert results[0] == {"id": bob, "success": True, "errors": []}
    errors = [(r["errors"][0]["statusCode"], r["errors"][0]["fields"]) for r in results[1:]]
    assert errors == [
        ("MALFORMED_ID", ["Id"]),
        ("INVALID_CROSS_REFERENCE_KEY", []),
        ("INVALID_FIELD", []),
        ("INVALID_FIELD_FOR_INSERT_UPDATE", ["IsConverted"]),
        ("STRING_TOO_LONG", ["Title"]),
        ("INVALID_TYPE_ON_FIELD_IN_RECORD", ["NumberOfEmployees"]),
        ("INVALID_EMAIL_ADDRESS", ["Email"]),
        ("MISSING_ARGUMENT", []),
    ]
    assert all(r["success"] is False and "id" not in r for r in results[1:])
    assert (
        results[1]["errors"][0]["message"]
        == "Lead ID: id value of incorrect type: 001xx000003DGb2999"
    )


def test_all_or_none_rolls_back_every_record_when_one_fails(sf: Any) -> None:
    records = [{"attributes": {"type": "Lead"}, "id": make_id("00Q", 0), "Title": "Changed"},
               {"attributes": {"type": "Lead"}, "id": make_id("00Q", 1), "Title": "y" * 300}]  # fmt: skip

    results = collection(sf, records, all_or_none=True)

    assert [r["success"] for r in results] == [False, False]
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[1]["errors"][0]["statusCode"] == "STRING_TOO_LONG"
    assert sf.Lead.get(make_id("00Q", 0))["Title"] == "CTO"


def test_more_than_200_records_are_refused_with_exceeded_id_limit(sf: Any) -> None:
    records = [{"attributes": {"type": "Lead"}, "id": make_id("00Q", 0), "Title": "t"}] * 201

    with pytest.raises(SalesforceMalformedRequest) as refused:
        collection(sf, records)
    assert answer(refused.value)[0]["errorCode"] == "EXCEEDED_ID_LIMIT"


def test_injected_record_failures_repeat_with_the_same_seed() -> None:
    def outcomes(seed: int) -> list[bool]:
        with SalesforceSandbox(
            small_world(), faults=FaultPlan(record_failure=0.4, seed=seed)
        ) as sandbox:
            records = [{"attributes": {"type": "Lead"}, "id": make_id("00Q", i % 4), "Title": str(i)}
                       for i in range(20)]  # fmt: skip
            results = collection(connect(sandbox), records)
        assert {e["statusCode"] for r in results for e in r["errors"]} <= {"UNABLE_TO_LOCK_ROW"}
        return [r["success"] for r in results]

    assert outcomes(3) == outcomes(3) != outcomes(4)
    assert {True, False} == set(outcomes(3))


# -- Bulk API 2.0 ------------------------------------------------------------------------------


def test_bulk2_update_through_the_sdk_reports_successes_and_failures(
    sandbox: SalesforceSandbox, sf: Any
) -> None:
    quick_jobs(sandbox)
    bob, dee = make_id("00Q", 0), make_id("00Q", 1)
    records = [{"Id": bob, "Title": "Bulk CTO", "Country": ""},
               {"Id": dee, "Title": "#N/A", "Country": "IE"},
               {"Id": make_id("00Q", 99), "Title": "nobody", "Country": ""}]  # fmt: skip

    [job] = sf.bulk2.Lead.update(records=records, wait=0)
    succeeded = list(
        csv.DictReader(io.StringIO(sf.bulk2.Lead.get_successful_records(job["job_id"])))
    )
    failed = list(csv.DictReader(io.StringIO(sf.bulk2.Lead.get_failed_records(job["job_id"]))))

    assert (
        job["numberRecordsProcessed"],
        job["numberRecordsFailed"],
        job["numberRecordsTotal"],
    ) == (3, 1, 3)
    assert [(r["sf__Id"], r["sf__Created"], r["Title"]) for r in succeeded] == [
        (bob, "false", "Bulk CTO"), (dee, "false", "#N/A")]  # fmt: skip
    assert failed[0]["sf__Error"] == "INVALID_CROSS_REFERENCE_KEY:invalid cross reference id: --"
    assert (sf.Lead.get(bob)["Title"], sf.Lead.get(bob)["Country"]) == ("Bulk CTO", "US")
    assert (sf.Lead.get(dee)["Title"], sf.Lead.get(dee)["Country"]) == (None, "IE")


def test_bulk2_job_lifecycle_over_rest(sandbox: SalesforceSandbox) -> None:
    quick_jobs(sandbox)
    session = bearer(sandbox)
    jobs = data_url("jobs/ingest")

    def new_job(**extra: str) -> str:
        body = {
            "object": "Lead",
            "operation": "update",
            "contentType": "CSV",
            "lineEnding": "LF",
            **extra,
        }
        return str(session.post(jobs, json=body, timeout=5).json()["id"])

    job = new_job()
    upload = session.put(f"{jobs}/{job}/batches", data=f"Id,Title\n{make_id('00Q', 0)},Lead\n",
                         headers={"Content-Type": "text/csv"}, timeout=5)  # fmt: skip
    closed = session.patch(f"{jobs}/{job}", json={"state": "UploadComplete"}, timeout=5).json()
    info = session.get(f"{jobs}/{job}", timeout=5).json()
    aborted = new_job()
    session.put(f"{jobs}/{aborted}/batches", data="Id,Title\nx,y\n", timeout=5)
    session.patch(f"{jobs}/{aborted}", json={"state": "Aborted"}, timeout=5)
    unprocessed = session.get(f"{jobs}/{aborted}/unprocessedrecords", timeout=5)
    open_job = new_job()
    refused = session.delete(f"{jobs}/{open_job}", timeout=5)
    deleted = session.delete(f"{jobs}/{job}", timeout=5)

    assert upload.status_code == 201 and closed["state"] == "UploadComplete"
    assert (info["state"], info["numberRecordsProcessed"], info["jobType"]) == (
        "JobComplete",
        1,
        "V2Ingest",
    )
    assert unprocessed.text == '"Id","Title"\n"x","y"\n'
    assert (refused.status_code, deleted.status_code) == (400, 204)
    assert session.get(f"{jobs}/{job}", timeout=5).status_code == 404


@pytest.mark.parametrize(
    ("data", "error"),
    [("Id,Nickname\nx,y\n", "InvalidBatch : Field name not found : Nickname"),
     ("Id,Title\r\nx,y\r\n", "LineEnding is invalid on user data. Current LineEnding setting is LF")],
)  # fmt: skip
def test_a_bulk2_job_with_bad_data_fails_as_a_whole(
    sandbox: SalesforceSandbox, data: str, error: str
) -> None:
    quick_jobs(sandbox)
    session = bearer(sandbox)
    job = session.post(data_url("jobs/ingest"), json={"object": "Lead", "operation": "update"},
                       timeout=5).json()["id"]  # fmt: skip
    session.put(data_url(f"jobs/ingest/{job}/batches"), data=data.encode(), timeout=5)
    session.patch(data_url(f"jobs/ingest/{job}"), json={"state": "UploadComplete"}, timeout=5)
    info = session.get(data_url(f"jobs/ingest/{job}"), timeout=5).json()

    assert (info["state"], info["errorMessage"], info["numberRecordsProcessed"]) == (
        "Failed",
        error,
        0,
    )


# -- limits, faults and errors -----------------------------------------------------------------


def test_sforce_limit_info_counts_every_api_call() -> None:
    with SalesforceSandbox(small_world(), daily_limit=1000, used=10) as sandbox:
        sf = connect(sandbox)
        sf.query("SELECT Id FROM Lead")
        first = sf.api_usage["api-usage"]
        sf.Lead.describe()
        sf.query("SELECT Id FROM Contact")
        limits = sf.limits()

    assert (first.used, first.total) == (11, 1000)
    assert sf.api_usage["api-usage"].used == 14
    assert limits["DailyApiRequests"] == {"Max": 1000, "Remaining": 986}


def test_a_spent_daily_budget_answers_request_limit_exceeded() -> None:
    with SalesforceSandbox(small_world(), daily_limit=500, used=500) as sandbox:
        sf = connect(sandbox)
        with pytest.raises(SalesforceRefusedRequest) as refused:
            sf.query("SELECT Id FROM Lead")
        header = sandbox_session(sandbox).get(data_url("limits"), timeout=5).headers

    assert refused.value.status == 403
    assert answer(refused.value) == [{"message": "TotalRequests Limit exceeded.",
                                      "errorCode": "REQUEST_LIMIT_EXCEEDED"}]  # fmt: skip
    assert header["Sforce-Limit-Info"] == "api-usage=500/500"


def test_injected_faults_use_salesforce_bodies_and_repeat_with_the_same_seed() -> None:
    def replay(seed: int) -> list[tuple[int, str, str]]:
        plan = FaultPlan(rate_limited=0.2, server_error=0.3, daily_limit=0.1, seed=seed,
                         operations=frozenset({"query"}))  # fmt: skip
        with SalesforceSandbox(small_world(), faults=plan) as sandbox:
            session = bearer(sandbox)
            answers = [
                session.get(data_url("query?q=SELECT+Id+FROM+Lead"), timeout=5) for _ in range(40)
            ]
        assert not any("Retry-After" in a.headers for a in answers)
        return [
            (a.status_code, *((a.json()[0]["errorCode"], a.json()[0]["message"])
                              if a.status_code != 200 else ("", "")))
            for a in answers
        ]  # fmt: skip

    first = replay(5)
    assert first == replay(5) != replay(6)
    # Salesforce answers no 429: its limits on rate and on the day are 403s
    assert {(status, code) for status, code, _ in first} == {
        (403, "REQUEST_LIMIT_EXCEEDED"), (503, "SERVER_UNAVAILABLE"),
        (500, "UNKNOWN_EXCEPTION"), (200, ""),
    }  # fmt: skip
    assert {m for _, code, m in first if code == "REQUEST_LIMIT_EXCEEDED"} == {
        "ConcurrentRequests (Concurrent API Requests) Limit exceeded.",
        "TotalRequests Limit exceeded.",
    }


def test_an_injected_expired_session_ends_the_session_it_was_sent_on() -> None:
    plan = FaultPlan(expired_session=1.0, operations=frozenset({"query"}))
    with SalesforceSandbox(small_world(), faults=plan) as sandbox:
        session = bearer(sandbox)
        refused = session.get(data_url("query?q=SELECT+Id+FROM+Lead"), timeout=5)
        after = session.get(data_url("limits"), timeout=5)

    assert refused.status_code == after.status_code == 401
    assert refused.json() == [{"message": "Session expired or invalid",
                               "errorCode": "INVALID_SESSION_ID"}]  # fmt: skip


def test_unknown_resources_methods_and_versions_get_salesforce_error_bodies(
    sandbox: SalesforceSandbox,
) -> None:
    session = bearer(sandbox)
    missing = session.get(data_url("nothing/here"), timeout=5)
    wrong_method = session.delete(data_url("query?q=SELECT+Id+FROM+Lead"), timeout=5)
    future = session.get(data_url("limits").replace("v59.0", "v99.0"), timeout=5)
    unknown_type = session.get(data_url("sobjects/Invoice/describe"), timeout=5)

    assert (missing.status_code, missing.json()[0]["errorCode"]) == (404, "NOT_FOUND")
    assert (wrong_method.status_code, wrong_method.json()[0]["errorCode"]) == (
        405,
        "METHOD_NOT_ALLOWED",
    )
    assert (future.status_code, unknown_type.status_code) == (404, 404)


def test_the_adapter_rewrites_salesforce_urls_and_nothing_else() -> None:
    adapter = SandboxAdapter("http://127.0.0.1:5000")

    assert adapter.rewrite("https://login.salesforce.com/services/oauth2/token?x=1") == (
        "http://127.0.0.1:5000/services/oauth2/token?x=1")  # fmt: skip
    assert adapter.rewrite("https://acme.my.salesforce.com/a") == "http://127.0.0.1:5000/a"
    assert adapter.rewrite("https://127.0.0.1:5000/a") == "http://127.0.0.1:5000/a"
    for other in (
        "https://example.com/a",
        "https://evilsalesforce.com/a",
        "http://login.salesforce.com/a",
    ):
        assert adapter.rewrite(other) == other
