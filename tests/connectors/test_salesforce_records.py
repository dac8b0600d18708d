"""Salesforce records without a network: SOQL literals, query records as Contacts and
Activities, converted Leads in a pull, and the collection write's SaveResults."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.paging import load_cursor
from connectors.protocol import FieldSpec, Write
from connectors.salesforce.attributes import SALESFORCE_ATTRIBUTES
from connectors.salesforce.pull import EVENT_FIELDS, events, pull_activities, pull_people
from connectors.salesforce.records import (
    event_activity,
    flatten,
    member_activities,
    person_of,
    purchase_activity,
    task_activity,
)
from connectors.salesforce.settings import SalesforceSettings
from connectors.salesforce.setup import field_metadata
from connectors.salesforce.soql import select, soql_datetime, soql_id, soql_ids, soql_quote
from connectors.salesforce.system import SF_CAPABILITIES, custom_field_name
from connectors.salesforce.write import collection_body, result_error, typed
from sandbox.salesforce.soql import Compare, Like, parse_condition
from scoring.records import ActivityType as A

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


# -- SOQL literals ----------------------------------------------------------------------------


@given(st.text())
def test_a_quoted_value_reads_back_as_exactly_that_value(value: str) -> None:
    condition = parse_condition(f"Email = {soql_quote(value)}")

    assert isinstance(condition, Compare)
    assert condition.field == "Email" and condition.op == "="
    assert condition.value.value == value


@given(st.text(alphabet=st.sampled_from("a'%_\\\" OR=()\n")))
def test_no_value_can_end_its_literal_or_add_a_condition(value: str) -> None:
    condition = parse_condition(f"Email = {soql_quote(value)} AND IsConverted = false")

    assert type(condition).__name__ == "And"


def test_an_injection_attempt_is_one_literal() -> None:
    attack = "x' OR Name LIKE '%"

    condition = parse_condition(f"Email = {soql_quote(attack)}")

    assert isinstance(condition, Compare) and condition.value.value == attack
    assert not isinstance(condition, Like)
    assert soql_quote(attack) == "'x\\' OR Name LIKE \\'%'"


def test_ids_and_times_are_checked_before_they_reach_soql() -> None:
    assert soql_id("00Q5g0000000001EAA") == "'00Q5g0000000001EAA'"
    with pytest.raises(ValueError, match="record id") as refused:
        soql_id("00Q' OR Id != '")
    assert "OR" not in str(refused.value)
    assert soql_ids(["0035g0000000001AAA", "nope'", "003000000000001"]) == (
        "('0035g0000000001AAA', '003000000000001')"
    )
    assert soql_datetime(datetime(2026, 11, 1, 12, 0, 5, 999_000, tzinfo=UTC)) == (
        "2026-11-01T12:00:05Z"
    )
    assert select("Lead", ["Id", "Id", "Email"], ["A = 1", "B = 2 OR C = 3"], "Id") == (
        "SELECT Id, Email FROM Lead WHERE A = 1 AND (B = 2 OR C = 3) ORDER BY Id"
    )


@pytest.mark.parametrize(
    ("prefix", "key", "name"),
    [
        ("leadscore_", "score", "Leadscore_Score__c"),
        ("leadscore_", "scored_at", "Leadscore_Scored_At__c"),
        ("ls_", "fit", "Ls_Fit__c"),
        ("leadscore_", "top interest", "Leadscore_Top_Interest__c"),
    ],
)
def test_our_fields_are_named_as_custom_fields(prefix: str, key: str, name: str) -> None:
    assert custom_field_name(prefix, key) == name


# -- people -----------------------------------------------------------------------------------


def test_a_contact_reads_its_account_through_the_relationship() -> None:
    record = {
        "attributes": {"type": "Contact", "url": "/services/data/v59.0/sobjects/Contact/003"},
        "Id": "0035g0000000001AAA",
        "Email": "ann@acme.io",
        "Title": "VP Marketing",
        "Account": {"attributes": {"type": "Account"}, "Industry": "Software",
                    "NumberOfEmployees": 250, "AnnualRevenue": 1.5e7},
        "MailingCountry": "US",
        "HasOptedOutOfEmail": False,
        "SystemModstamp": "2026-10-30T09:15:00.000+0000",
    }  # fmt: skip

    person = person_of(record)

    assert person.id == "0035g0000000001AAA" and person.email == "ann@acme.io"
    assert person.source == "salesforce"
    attributes = person.attributes
    assert attributes["industry"] == "Software" and attributes["employees"] == 250.0
    assert attributes["annual_revenue"] == 1.5e7 and attributes["country"] == "US"
    assert attributes["job_title"] == "VP Marketing" and attributes["job_function"] == "Marketing"
    assert attributes["email_opted_out"] is False
    assert "SystemModstamp" not in attributes and "attributes" not in attributes


def test_a_record_read_through_query_all_has_the_attributes_of_one_read_through_query() -> None:
    """An incremental pull selects IsDeleted and MasterRecordId besides the fields a full
    pull reads: a live record must come out the same, or every record would look changed."""
    live = {"Id": "00Q5g0000000001EAA", "Email": "bo@acme.io", "Title": "CTO"}

    full, incremental = (
        person_of(live),
        person_of({**live, "IsDeleted": False, "MasterRecordId": None}),
    )

    assert incremental.attributes == full.attributes
    assert "IsDeleted" not in incremental.attributes


@given(
    st.dictionaries(
        st.sampled_from(["Title", "Industry", "NumberOfEmployees", "AnnualRevenue", "Country",
                         "LeadSource", "Status", "HasOptedOutOfEmail", "Budget__c", "Email"]),
        st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20)),
    )
)  # fmt: skip
def test_any_field_values_make_a_contact(values: dict[str, Any]) -> None:
    person = person_of({"Id": "00Q5g0000000001EAA", **values})

    assert person.id == "00Q5g0000000001EAA"


_ANY = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=30),
                 st.sampled_from(["2026-10-30", "2026-10-30T09:15:00.000+0000", "Email", "Call"]))  # fmt: skip


@given(
    st.fixed_dictionaries(
        {"Id": st.just("00v5g0000000001AAA")},
        optional={
            k: _ANY
            for k in ("LeadId", "ContactId", "WhoId", "Status", "HasResponded", "TaskSubtype",
                      "Type", "FirstRespondedDate", "CreatedDate", "CompletedDateTime",
                      "StartDateTime", "CallDisposition", "IsClosed", "OpportunityId")
        },
    )
)  # fmt: skip
def test_activity_records_of_any_shape_parse_or_are_passed_over(record: dict[str, Any]) -> None:
    found = [*member_activities(record), task_activity(record), event_activity(record),
             purchase_activity(record)]  # fmt: skip

    for activity in found:
        assert activity is None or activity.occurred_at.tzinfo is not None


# -- activities -------------------------------------------------------------------------------


def member(**values: Any) -> dict[str, Any]:
    return {"Id": "00v5g0000000001AAA", "CampaignId": "7015g0000000001AAA",
            "CreatedDate": "2026-10-20T10:00:00.000+0000", **values}  # fmt: skip


def test_an_email_campaign_member_was_sent_it_and_a_responder_clicked() -> None:
    sent, clicked = member_activities(
        member(ContactId="0035g0000000001AAA", LeadId="00Q5g0000000001EAA", Status="Responded",
               HasResponded=True, FirstRespondedDate="2026-10-22", Campaign={"Type": "Email"})
    )  # fmt: skip

    assert (sent.type, clicked.type) == (A.EMAIL_SENT, A.EMAIL_CLICK)
    assert sent.contact_id == clicked.contact_id == "0035g0000000001AAA"
    assert sent.occurred_at == datetime(2026, 10, 20, 10, tzinfo=UTC)
    assert clicked.occurred_at == datetime(2026, 10, 22, tzinfo=UTC)
    assert clicked.attributes == {"campaign": "7015g0000000001AAA", "campaign_type": "email",
                                  "member_status": "responded"}  # fmt: skip
    assert sent.id != clicked.id


def test_a_webinar_responder_answered_a_form_and_a_silent_member_did_nothing() -> None:
    webinar = {"Type": "Webinar"}
    answered = list(member_activities(member(LeadId="00Q5g0000000001EAA", HasResponded=True,
                                             FirstRespondedDate="2026-10-22", Campaign=webinar)))  # fmt: skip
    silent = list(member_activities(member(LeadId="00Q5g0000000001EAA", HasResponded=False,
                                           Campaign=webinar)))  # fmt: skip

    assert [a.type for a in answered] == [A.FORM_SUBMISSION]
    assert answered[0].attributes["campaign_type"] == "webinar"
    assert silent == []


@pytest.mark.parametrize(
    ("values", "kind", "attributes"),
    [
        ({"TaskSubtype": "Call", "CallDisposition": "Left Voicemail"}, A.SALES_TOUCH,
         {"channel": "call", "outcome": "left_voicemail"}),
        ({"TaskSubtype": "Email"}, A.SALES_TOUCH, {"channel": "email"}),
        ({"TaskSubtype": "Task", "Type": "Meeting"}, A.MEETING, {}),
        ({"TaskSubtype": "ListEmail"}, A.EMAIL_SENT, {"channel": "list_email"}),
        ({"TaskSubtype": "Task", "Type": "Other"}, None, None),
        ({"TaskSubtype": "Call", "IsClosed": False, "Status": "Completed"}, None, None),
        ({"TaskSubtype": "Call", "Status": "Not Started"}, None, None),
    ],
)  # fmt: skip
def test_completed_calls_emails_and_meetings_are_activities(
    values: dict[str, Any], kind: A | None, attributes: dict[str, Any] | None
) -> None:
    record = {"Id": "00T5g0000000001EAA", "WhoId": "00Q5g0000000001EAA", "Status": "Completed",
              "CreatedDate": "2026-10-28T12:00:00.000+0000", **values}  # fmt: skip

    activity = task_activity(record)

    if kind is None:
        assert activity is None
        return
    assert activity is not None and activity.type == kind
    assert activity.attributes == attributes and activity.revisable


def test_a_task_about_an_account_is_no_persons_activity() -> None:
    record = {"Id": "00T5g0000000001EAA", "WhoId": None, "WhatId": "0015g0000000001AAA",
              "Status": "Completed", "TaskSubtype": "Call",
              "CreatedDate": "2026-10-28T12:00:00.000+0000"}  # fmt: skip

    assert task_activity(record) is None


def test_an_event_is_a_meeting_and_a_won_opportunity_a_purchase() -> None:
    meeting = event_activity({"Id": "00U5g0000000001EAA", "WhoId": "0035g0000000001AAA",
                              "StartDateTime": "2026-10-29T15:00:00.000+0000",
                              "EndDateTime": "2026-10-29T15:45:00.000+0000", "Type": "Meeting"})  # fmt: skip
    undated = event_activity({"Id": "00U5g0000000002EAA", "WhoId": "0035g0000000001AAA",
                              "StartDateTime": "2026-10-29T15:00:00.000+0000"})  # fmt: skip
    role = {"Id": "00K5g0000000001AAA", "OpportunityId": "0065g0000000001AAA",
            "ContactId": "0035g0000000001AAA",
            "Opportunity": {"IsWon": True, "Amount": 4800.0, "CloseDate": "2026-10-31"}}  # fmt: skip
    lost = {**role, "Opportunity": {"IsWon": False, "Amount": 10.0, "CloseDate": "2026-10-31"}}

    bought = purchase_activity(role)

    assert meeting is not None and meeting.type == A.MEETING
    assert meeting.occurred_at == datetime(2026, 10, 29, 15, 45, tzinfo=UTC)  # held: ended
    assert undated is not None and undated.occurred_at == datetime(2026, 10, 29, 15, tzinfo=UTC)
    assert bought is not None and bought.type == A.PURCHASE
    assert bought.occurred_at == datetime(2026, 10, 31, tzinfo=UTC)
    assert bought.attributes == {"opportunity": "0065g0000000001AAA", "amount": 4800.0}
    assert purchase_activity(lost) is None
    assert flatten(role)["Opportunity.Amount"] == 4800.0


# -- converted leads in a pull, on canned answers ----------------------------------------------


class CannedApi:
    """Answers queries by the object they read (`changed`), and by Id (`by_id`); records the
    SOQL it was sent."""

    def __init__(
        self, changed: Mapping[str, list[dict[str, Any]]], by_id: Sequence[dict[str, Any]] = ()
    ) -> None:
        self.answers = changed
        self.by_id = by_id
        self.sent: list[str] = []
        self.all_rows: list[bool] = []
        """Per query sent, whether it was a queryAll."""
        self.settings = SalesforceSettings()

    def query_page(
        self, operation: str, soql: str | None, next_url: str | None, deleted: bool = False
    ) -> Any:
        assert soql is not None and next_url is None
        self.sent.append(soql)
        self.all_rows.append(deleted)
        sobject = soql.split(" FROM ")[1].split()[0]
        records = self.answers.get(sobject, [])
        if " Id IN " in soql:
            records = [r for r in self.by_id if f"'{r['Id']}'" in soql]
        return {"done": True, "totalSize": len(records), "records": records}


class AllFields:
    def present(self, sobject: str, wanted: Sequence[str]) -> list[str]:
        return list(dict.fromkeys(wanted))


class NoEvents(AllFields):
    """An org that has no Event object (or hides it from the API user)."""

    def fields(self, sobject: str) -> None:
        return None


def test_an_org_without_events_gives_an_empty_stream_and_asks_nothing() -> None:
    api = CannedApi({})

    found = list(pull_activities(api, NoEvents(), "events", "Event", EVENT_FIELDS, events,  # type: ignore[arg-type]
                                 {}, 0, revised=True))  # fmt: skip

    assert [(p.stream, list(p.activities), p.cursor) for p in found] == [("events", [], None)]
    assert api.sent == []


def test_a_converted_lead_is_passed_over_and_its_contact_read_once() -> None:
    stamp = "2026-10-30T09:15:00.000+0000"
    converted = {"Id": "00Q5g0000000001EAA", "Email": "bob@globex.com", "IsConverted": True,
                 "ConvertedContactId": "0035g0000000009AAA", "SystemModstamp": stamp}  # fmt: skip
    open_lead = {"Id": "00Q5g0000000002EAA", "Email": "dee@initech.com", "IsConverted": False,
                 "SystemModstamp": stamp}  # fmt: skip
    contact = {"Id": "0035g0000000009AAA", "Email": "bob@globex.com",
               "SystemModstamp": "2026-10-01T00:00:00.000+0000"}  # fmt: skip
    api = CannedApi({"Lead": [converted, open_lead]}, [contact])
    learned: dict[str, str] = {}

    pages = list(pull_people(api, AllFields(), ["Title"], {"Contact": "2026-10-29T00:00:00Z"},  # type: ignore[arg-type]
                             0, SALESFORCE_ATTRIBUTES, learned))  # fmt: skip

    people = [p.id for page in pages for p in page.contacts]
    assert people == ["00Q5g0000000002EAA", "0035g0000000009AAA"]
    assert learned == {"00Q5g0000000001EAA": "0035g0000000009AAA"}
    assert load_cursor(pages[-1].cursor)["Lead"] == stamp
    assert any("Id IN ('0035g0000000009AAA')" in soql for soql in api.sent)
    gone = [(g.record_id, g.merged_into) for page in pages for g in page.gone]
    assert gone == [("00Q5g0000000001EAA", "0035g0000000009AAA")]
    # Leads had no cursor (a full read: live rows); Contacts had one (a queryAll)
    assert api.all_rows[:2] == [False, True] and "IsDeleted" in api.sent[1]


# -- setup ------------------------------------------------------------------------------------


def test_each_kind_of_field_is_made_as_its_salesforce_type() -> None:
    def made(kind: Any, key: str = "x", options: tuple[str, ...] = ()) -> dict[str, Any]:
        return field_metadata(FieldSpec(key, "X__c", "A label " * 10, kind, options, "About"))

    assert made("number") | {"label": ""} == {"label": "", "description": "About",
                                              "type": "Number", "precision": 18, "scale": 0}  # fmt: skip
    picklist = made("enumeration", options=("Lead", "MQL"))
    assert picklist["type"] == "Picklist" and picklist["valueSet"]["restricted"] is False
    assert [v["fullName"] for v in picklist["valueSet"]["valueSetDefinition"]["value"]] == [
        "Lead", "MQL"
    ]  # fmt: skip
    assert made("text", "reasons")["type"] == "LongTextArea"
    assert made("text", "reasons")["length"] == SF_CAPABILITIES.max_text_length
    assert made("datetime")["type"] == "DateTime"
    assert made("boolean") | {"label": ""} == {"label": "", "description": "About",
                                               "type": "Checkbox", "defaultValue": "false"}  # fmt: skip
    assert len(made("number")["label"]) == 40


# -- writes -----------------------------------------------------------------------------------


def test_values_go_in_their_fields_json_types() -> None:
    assert typed("42", "double") == 42 and isinstance(typed("42", "double"), int)
    assert typed("4.5", "double") == 4.5
    assert typed("true", "boolean") is True and typed("false", "boolean") is False
    assert typed("", "string") is None and typed("", "double") is None
    assert typed("2026-11-01T12:00:00Z", "datetime") == "2026-11-01T12:00:00Z"
    assert typed("MQL", None) == "MQL"


LEAD, CONTACT = "00Q5g00000000MTEAY", "0035g00000000qmAAA"
KINDS = {"Score__c": "double", "Ok__c": "boolean", "At__c": "datetime", "Status": "picklist"}


def expected_record(write: Write, kinds: Mapping[str, str]) -> dict[str, Any]:
    """A collection record as the REST API Developer Guide shows it, built the plain way."""
    sobject = "Lead" if write.record_id.startswith("00Q") else "Contact"
    body: dict[str, Any] = {"attributes": {"type": sobject}, "id": write.record_id}
    for name, value in write.values.items():
        if sobject == "Contact" and name == "Status":
            continue
        try:
            converted = typed(value, kinds.get(name))
        except ValueError:
            converted = value
        if isinstance(converted, float) and not math.isfinite(converted):
            converted = value
        body[name] = converted
    return body


@given(
    st.lists(
        st.tuples(
            st.sampled_from([LEAD, CONTACT]),
            st.dictionaries(
                st.sampled_from([*KINDS, "Reasons__c"]),
                st.one_of(
                    st.text(),
                    st.sampled_from(["", "3", "-30", "4.5", "nan", "1e400", "true", "no", "x"]),
                ),
            ),
        ),
        max_size=12,
    )
)
def test_a_collection_body_is_the_documented_json_of_its_records(
    drawn: list[tuple[str, dict[str, str]]],
) -> None:
    writes = [Write(record, values) for record, values in drawn]
    body = collection_body(writes, {"Lead": KINDS, "Contact": KINDS})
    assert json.loads(body) == {
        "allOrNone": False,
        "records": [expected_record(w, KINDS) for w in writes],
    }


def test_a_failed_save_result_says_its_code_fields_and_message() -> None:
    result = {"success": False, "errors": [{"statusCode": "STRING_TOO_LONG", "fields": ["A__c"],
                                            "message": "data value too large"}]}  # fmt: skip

    assert result_error(result) == ("STRING_TOO_LONG", "A__c: data value too large")
    assert result_error({"id": "x", "success": True, "errors": []}) == (None, "")
    assert result_error({"success": False})[0] == "UNKNOWN_EXCEPTION"
