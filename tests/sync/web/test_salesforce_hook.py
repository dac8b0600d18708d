"""The Salesforce webhooks through `WebhookCore.handle`, against the Salesforce sandbox with
the real simple-salesforce: Outbound Messages acked, redeliveries skipped, retries made
possible, hostile XML refused; a flow's HTTP callout answered with the scores.

The SOAP envelope follows the Outbound Messaging WSDL and the sample of
/tmp/research/triggers.md §3 (namespaces and element order of a captured message,
http://www.mikesimonds.com/95-using-salesforce-outbound-soap-messages-php-post361.html,
adapted to Lead as https://developer.salesforce.com/docs/platform/api/guide/sforce-api-om-outboundmessaging-wsdl.html
types it).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError

from connectors.errors import ApiError, RateLimited
from connectors.salesforce.settings import SalesforceSettings
from sandbox import Sandbox
from scoring import RuleSet
from sync.config import setting_problem
from sync.demo import sandbox_settings
from sync.store import StateStore
from sync.web.core import WebhookCore
from sync.web.messages import Refused, WebhookRequest, WebhookResponse
from sync.web.replay import digest, first_seen, forget
from sync.web.salesforce import OutboundEndpoint, parse_flow
from sync.web.salesforce_soap import ACK, case_safe, parse_outbound, person_id, same_org
from tests.sync.web.cloud import Counting, opened_on

SECRET = "s3cret-Outbound-0123456789abcdef"
SCORE = "Leadscore_Score__c"


TYPES = {"003": "Contact", "001": "Account", "006": "Opportunity"}
"""The sObject type of an id's key prefix, as `envelope` writes it (Lead for any other)."""


def envelope(org: str, notifications: Sequence[tuple[str, str | None]], doctype: str = "") -> bytes:
    """An Outbound Message of (notification id, Lead id); a deleted record's has no data:
    an empty sObject ("") or none (None)."""
    items = "".join(
        f"<Notification><Id>{nid}</Id>"
        + (
            f'<sObject xsi:type="sf:{TYPES.get(record[:3], "Lead")}" '
            'xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
            f"<sf:Id>{record}</sf:Id><sf:Email>x@example.com</sf:Email></sObject>"
            if record
            else '<sObject xsi:type="sf:Lead" xmlns:sf="urn:sobject.enterprise.soap.sforce.com"/>'
            if record == ""
            else ""
        )
        + "</Notification>"
        for nid, record in notifications
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>{doctype}'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
        '<notifications xmlns="http://soap.sforce.com/2005/09/outbound">'
        f"<OrganizationId>{org}</OrganizationId><ActionId>04k000000000001AAA</ActionId>"
        '<SessionId xsi:nil="true"/>'
        "<EnterpriseUrl>https://x.my.salesforce.com/services/Soap/c/60.0/00D</EnterpriseUrl>"
        "<PartnerUrl>https://x.my.salesforce.com/services/Soap/u/60.0/00D</PartnerUrl>"
        f"{items}</notifications></soapenv:Body></soapenv:Envelope>"
    ).encode()


def note_id(n: int) -> str:
    return case_safe(f"04l{n:012d}")


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox(people=40, seed=5) as sandbox:
        yield sandbox


@pytest.fixture
def hook(box: Sandbox, rules: RuleSet, tmp_path: Path) -> Iterator[tuple[WebhookCore, Counting]]:
    settings = sandbox_settings(box, f"sqlite:///{tmp_path / 'state.db'}", systems=("salesforce",))
    section = settings.section("salesforce").model_copy(
        update={
            "webhook_secret": SecretStr(SECRET),
            "webhook_org_id": box.salesforce.login.org_id,
        }
    )
    settings = settings.model_copy(update={"salesforce": section})
    with opened_on(box, rules, tmp_path / "state.db", settings, http=box.sessions()) as app:
        counting = Counting.installed(app)
        core = WebhookCore(settings, open_app=lambda _: app)
        yield core, counting
        core.close()


def open_leads(box: Sandbox, n: int) -> list[str]:
    org = box.salesforce.org
    with box.salesforce.org_lock:
        table = org.table("Lead")
        ids = [table.id(row) for row in range(len(table))]
        return [i for i in ids if not org.is_converted(i)][:n]


def score_of(box: Sandbox, record: str) -> Any:
    with box.salesforce.org_lock:
        return (box.salesforce.org.record(record) or {}).get(SCORE)


def outbound(core: WebhookCore, body: bytes, query: str = f"secret={SECRET}") -> WebhookResponse:
    return core.handle(
        WebhookRequest.of(
            "POST",
            "/salesforce/outbound",
            query=query,
            headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'},
            body=body,
        )
    )


def flow(core: WebhookCore, payload: Any, secret: str | None = SECRET) -> WebhookResponse:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Leadscore-Secret"] = secret
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return core.handle(WebhookRequest.of("POST", "/salesforce/flow", headers=headers, body=body))


def test_an_outbound_message_is_rescored_written_and_acked_once(hook: Any, box: Sandbox) -> None:
    core, counting = hook
    org = box.salesforce.login.org_id
    leads = open_leads(box, 3)
    assert all(score_of(box, lead) is None for lead in leads)
    message = envelope(org, [(note_id(i), lead) for i, lead in enumerate(leads)])

    answer = outbound(core, message)

    assert (answer.status, answer.body) == (200, ACK)
    assert answer.headers["content-type"].startswith("text/xml")
    assert sorted(counting.fetched) == sorted(leads)
    written = {lead: score_of(box, lead) for lead in leads}
    assert all(isinstance(v, int | float) for v in written.values())
    # the flow reads the same scores back (fetching again, writing nothing new)
    results = flow(core, {"ids": leads}).json()["results"]
    assert {r["record"]: r["score"] for r in results} == written
    assert all(r["status"] == "done" and r["written"] == 0 for r in results)

    counting.fetched.clear()
    again = outbound(core, message)  # Salesforce delivers at least once
    assert (again.status, again.body) == (200, ACK)
    assert counting.fetched == []


def test_a_retryable_failure_is_a_fault_and_the_retry_rescores_only_it(
    hook: Any, box: Sandbox
) -> None:
    core, counting = hook
    org = box.salesforce.login.org_id
    leads = open_leads(box, 3)
    message = envelope(org, [(note_id(10 + i), lead) for i, lead in enumerate(leads)])
    counting.fail[leads[1]] = RateLimited(
        "salesforce", "leads.fetch", "slow down", status=503, retry_after=30
    )

    answer = outbound(core, message)

    assert answer.status == 503 and answer.headers["retry-after"] == "30"
    assert b"<soapenv:Fault>" in answer.body and b"soapenv:Server" in answer.body
    assert b"Ack" not in answer.body
    assert score_of(box, leads[1]) is None
    assert score_of(box, leads[0]) is not None and score_of(box, leads[2]) is not None

    counting.fail.clear()
    counting.fetched.clear()
    retry = outbound(core, message)
    assert (retry.status, retry.body) == (200, ACK)
    assert counting.fetched == [leads[1]]
    assert score_of(box, leads[1]) is not None


def test_a_system_down_is_a_fault_too(hook: Any, box: Sandbox) -> None:
    core, counting = hook
    lead = open_leads(box, 1)[0]
    counting.fail[lead] = ApiError("salesforce", "leads.fetch", "down", status=500)
    message = envelope(box.salesforce.login.org_id, [(note_id(20), lead)])
    assert outbound(core, message).status == 503
    counting.fail.clear()
    assert outbound(core, message).body == ACK
    assert counting.fetched == [lead, lead]


def test_a_crash_on_the_way_leaves_the_message_to_be_rescored_on_its_retry(
    hook: Any, box: Sandbox
) -> None:
    core, counting = hook
    lead = open_leads(box, 1)[0]
    counting.fail[lead] = RuntimeError("a bug")
    message = envelope(box.salesforce.login.org_id, [(note_id(25), lead)])
    failed = outbound(core, message)
    assert failed.status == 500 and b"a bug" not in failed.body
    counting.fail.clear()
    assert outbound(core, message).body == ACK
    assert counting.fetched == [lead, lead]
    assert score_of(box, lead) is not None


def test_a_rescore_past_salesforces_timeout_is_queued_and_acked(hook: Any, box: Sandbox) -> None:
    core, counting = hook
    slow = OutboundEndpoint()
    slow.timeout = 1.0
    quick = WebhookCore(core.settings, endpoints=[slow], open_app=lambda _: core.app())
    lead = open_leads(box, 1)[0]
    counting.hold = threading.Event()
    try:
        answer = outbound(quick, envelope(box.salesforce.login.org_id, [(note_id(26), lead)]))
    finally:
        counting.hold.set()
        quick.close()
    assert (answer.status, answer.body) == (200, ACK)


def test_unknown_and_deleted_records_are_acked_without_a_score(
    hook: Any, box: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    core, counting = hook
    unknown = case_safe("00Q5g0000099999")
    message = envelope(
        box.salesforce.login.org_id,
        [(note_id(30), unknown), (note_id(31), None), (note_id(32), "")],
    )
    with caplog.at_level(logging.INFO):
        answer = outbound(core, message)
    assert (answer.status, answer.body) == (200, ACK)
    assert counting.fetched == [unknown]  # the deleted one is not fetched
    assert any(getattr(r, "status", None) == 404 for r in caplog.records)
    counting.fetched.clear()
    assert outbound(core, message).body == ACK
    assert counting.fetched == []  # retrying cannot help: not asked again


def test_notifications_of_other_sobjects_or_malformed_ids_are_skipped_the_rest_handled(
    hook: Any, box: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    # A Person Account org sends Accounts (001) beside Leads; a fault for them would have
    # Salesforce send the whole message for 24 hours and never ack the Lead in it.
    core, counting = hook
    lead = open_leads(box, 1)[0]
    account = case_safe("0015g0000000001")
    org = box.salesforce.login.org_id
    message = envelope(
        org,
        [
            (note_id(60), account),
            (note_id(61), lead),
            (note_id(62), case_safe("0065g0000000001")),
            (note_id(63), lead[:15] + "ZZZ"),  # wrong checksum
            (note_id(64), "00Q5g00000000"),  # too short
            ("04l-not-an-id", lead),
        ],
    )
    with caplog.at_level(logging.INFO):
        answer = outbound(core, message)
    assert (answer.status, answer.body) == (200, ACK)
    assert counting.fetched == [lead]
    assert score_of(box, lead) is not None
    [line] = [r for r in caplog.records if "skipped" in r.getMessage()]
    assert getattr(line, "count", None) == 5
    assert getattr(line, "sobjects", None) == "malformed id x3, Account x1, Opportunity x1"
    assert account in getattr(line, "records", "")
    # nothing left to rescore: acked at once, nothing fetched
    counting.fetched.clear()
    only_others = envelope(org, [(note_id(65), account), (note_id(66), "garbage")])
    assert outbound(core, only_others).body == ACK
    assert counting.fetched == []
    # the Lead's notification was handled: its redelivery is acked without a rescore
    assert outbound(core, message).body == ACK and counting.fetched == []


def test_the_sobject_type_is_read_from_xsi_type_or_the_key_prefix() -> None:
    raw = envelope("00D5g0000000001EAA", [(note_id(1), case_safe("0015g0000000001"))])
    [note] = parse_outbound(raw).notifications
    assert (note.record, note.skipped, note.other) == (None, "Account", "0015g0000000001AAA")
    untyped = raw.replace(b'xsi:type="sf:Account" ', b"")
    assert parse_outbound(untyped).notifications[0].skipped == "001..."
    odd = raw.replace(b'xsi:type="sf:Account"', b'xsi:type="sf:&lt;b&gt; x"')
    assert parse_outbound(odd).notifications[0].skipped == "001..."


XXE = '<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
        for i in range(1, 10)
    )
    + "]>"
)


def hostile(box: Sandbox, lead: str) -> dict[str, tuple[bytes, str, int]]:
    """name -> (body, query, status expected)."""
    org = box.salesforce.login.org_id
    ok = envelope(org, [(note_id(40), lead)])
    other_org = "00D" + ("x" if org[3] != "x" else "y") + org[4:]
    return {
        "wrong org": (envelope(other_org, [(note_id(40), lead)]), f"secret={SECRET}", 403),
        "wrong secret": (ok, f"secret={SECRET[:-1]}X", 403),
        "missing secret": (ok, "", 401),
        "blank secret": (ok, "secret=", 401),
        "xxe": (
            envelope(org, [(note_id(40), lead)], XXE).replace(b"<ActionId>", b"<ActionId>&xxe;", 1),
            f"secret={SECRET}",
            400,
        ),
        "billion laughs": (
            envelope(org, [(note_id(40), lead)], LAUGHS).replace(
                b"<ActionId>", b"<ActionId>&lol9;", 1
            ),
            f"secret={SECRET}",
            400,
        ),
        "101 notifications": (
            envelope(org, [(note_id(100 + i), lead) for i in range(101)]),
            f"secret={SECRET}",
            400,
        ),
        "malformed": (ok[:-20], f"secret={SECRET}", 400),
        "not soap": (b"<hello/>", f"secret={SECRET}", 400),
        "an account of another org": (
            envelope(other_org, [(note_id(40), case_safe("0015g0000000001"))]),
            f"secret={SECRET}",
            403,
        ),
        "an account with a wrong secret": (
            envelope(org, [(note_id(40), case_safe("0015g0000000001"))]),
            f"secret={SECRET[:-1]}X",
            403,
        ),
        "no notification": (envelope(org, []), f"secret={SECRET}", 400),
    }


def test_hostile_or_wrong_messages_are_refused_and_change_nothing(
    hook: Any, box: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    core, counting = hook
    lead = open_leads(box, 1)[0]
    with caplog.at_level(logging.DEBUG):
        for name, (body, query, status) in hostile(box, lead).items():
            answer = outbound(core, body, query)
            assert answer.status == status, name
            assert answer.headers["content-type"].startswith("text/xml"), name
            assert b"<soapenv:Fault>" in answer.body and b"soapenv:Client" in answer.body, name
            assert b"root:" not in answer.body and b"lollol" not in answer.body, name
    assert counting.fetched == []
    assert score_of(box, lead) is None
    assert SECRET not in caplog.text and SECRET[:-1] not in caplog.text
    # none of them was remembered: the right message now is a first delivery
    ok = envelope(box.salesforce.login.org_id, [(note_id(40), lead)])
    assert outbound(core, ok).body == ACK and counting.fetched == [lead]


def test_an_org_id_of_15_characters_matches_its_18_character_form(hook: Any, box: Sandbox) -> None:
    core, counting = hook
    lead = open_leads(box, 1)[0]
    org = box.salesforce.login.org_id
    assert outbound(core, envelope(org[:15], [(note_id(50), lead)])).body == ACK
    assert counting.fetched == [lead]


def test_the_flow_callout_answers_the_scores_written(hook: Any, box: Sandbox) -> None:
    core, _ = hook
    leads = open_leads(box, 2)
    one = flow(core, {"recordId": leads[0][:15]})  # a 15-character id: its 18 form answered
    assert one.status == 200
    payload = one.json()
    assert payload["record"] == leads[0] and payload["status"] == "done"
    assert payload["score"] == score_of(box, leads[0])
    many = flow(core, {"ids": [leads[1], leads[1], leads[0]]}).json()["results"]
    assert [r["record"] for r in many] == [leads[1], leads[0]]
    assert many[0]["score"] == score_of(box, leads[1])
    unknown = case_safe("00Q5g0000099999")
    assert flow(core, {"recordId": unknown}).status == 404
    mixed = flow(core, {"ids": [unknown, leads[0]]}).json()["results"]
    assert mixed[0] == {
        "record": unknown,
        "status": "refused",
        "code": 404,
        "error": "salesforce has no such contact",
    }


def test_the_flow_callout_refuses_wrong_callers_and_bodies(
    hook: Any, box: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    core, counting = hook
    lead = open_leads(box, 1)[0]
    cases = [
        ({"recordId": lead}, None, 401),
        ({"recordId": lead}, "", 401),
        ({"recordId": lead}, SECRET + "x", 403),
        (b"{not json", SECRET, 400),
        ({"recordId": lead, "ids": [lead]}, SECRET, 400),
        ({"ids": []}, SECRET, 400),
        ({"ids": [lead] * 101}, SECRET, 400),
        ({"recordId": case_safe("0015g0000000001")}, SECRET, 400),
        ({"recordId": 12}, SECRET, 400),
        ([lead], SECRET, 400),
    ]
    for payload, secret, status in cases:
        answer = flow(core, payload, secret)
        assert answer.status == status, payload
        assert set(answer.json()) == {"error"}
    assert counting.fetched == [] and score_of(box, lead) is None
    assert SECRET not in caplog.text
    get = core.handle(WebhookRequest.of("GET", "/salesforce/flow"))
    assert get.status == 405


def test_without_a_secret_both_endpoints_are_absent(
    box: Sandbox, rules: RuleSet, tmp_path: Path
) -> None:
    settings = sandbox_settings(box, f"sqlite:///{tmp_path / 'state.db'}", systems=("salesforce",))
    core = WebhookCore(settings, open_app=lambda _: pytest.fail("opened"))
    lead = case_safe("00Q5g0000000001")
    assert outbound(core, envelope("00D000000000001", [(note_id(1), lead)])).status == 404
    assert flow(core, {"recordId": lead}).status == 404


def test_webhook_settings_are_checked() -> None:
    org = "00D5g0000000001EAA"
    good = SalesforceSettings(webhook_secret=SecretStr(SECRET), webhook_org_id=f" {org} ")
    assert good.webhook_org_id == org
    assert SalesforceSettings(webhook_secret=" ", webhook_org_id="").webhook_secret is None
    for bad in ({"webhook_org_id": "0015g0000000001"}, {"webhook_org_id": "00D5g00"}):
        with pytest.raises(ValidationError):
            SalesforceSettings(**bad)
    with pytest.raises(ValidationError) as caught:
        SalesforceSettings(webhook_secret="short-one")
    told = [setting_problem(e) for e in caught.value.errors(include_url=False)]
    assert told and all("short-one" not in line and "16 characters" in line for line in told)


def test_ids_are_normalised_to_their_case_safe_form() -> None:
    # Known pair: 001A0000006Vm9r is 001A0000006Vm9rIAC (the CASESAFEID of it).
    assert case_safe("001A0000006Vm9r") == "001A0000006Vm9rIAC"
    assert person_id("00Q5g0000000001", "x") == "00Q5g0000000001EAA"
    assert person_id("00Q5g0000000001eaa", "x") == "00Q5g0000000001EAA"
    for bad in ("00Q5g0000000001EAB", "0035g00000000", "0015g0000000001AAA", "00Q5g00000000ü1"):
        with pytest.raises(Refused):
            person_id(bad, "x")


def test_org_ids_match_on_15_characters_case_and_all() -> None:
    assert same_org("00D5g0000000001EAA", "00D5g0000000001")
    assert same_org("00D5g0000000001", "00D5g0000000001xyz")
    assert not same_org("00D5g000000000aEAA", "00D5g000000000AEAA")


def test_forgotten_keys_are_new_again(tmp_path: Path) -> None:
    store = StateStore(f"sqlite:///{tmp_path / 's.db'}")
    try:
        a, b = digest("salesforce-notification", "A"), digest("salesforce-notification", "B")
        assert first_seen(store, [a, b], now=10.0) == [True, True]
        forget(store, [a])
        forget(store, [])
        assert first_seen(store, [a, b], now=11.0) == [True, False]
    finally:
        store.close()


# -- bounded fuzzing: whatever comes, a parse or a Refused ------------------------------------

VALID = envelope("00D5g0000000001EAA", [(note_id(1), "00Q5g0000000001EAA")])


def _splice(data: bytes, at: int, cut: int, insert: bytes) -> bytes:
    at = at % (len(data) + 1)
    return data[:at] + insert + data[at + cut :]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.binary(max_size=2000),
        st.builds(
            _splice,
            st.just(VALID),
            st.integers(0, len(VALID)),
            st.integers(0, 40),
            st.sampled_from(
                [
                    b"",
                    b"<",
                    b">",
                    b"&",
                    b"&lol;",
                    b"<!DOCTYPE x>",
                    b"<![CDATA[x]]>",
                    b"\x00",
                    b"\xff\xfe",
                    b"<sObject/>",
                    b"</Notification>",
                    b"<Id>00Q</Id>",
                    b"&#0;",
                    b'<?xml version="1.0" encoding="EBCDIC-XX"?>',
                    b"xmlns:sf='x'",
                ]
            ),
        ),
        st.text(max_size=500).map(lambda t: VALID.replace(b"00Q5g0000000001EAA", t.encode())),
    )
)
def test_the_soap_parser_never_raises_anything_but_refused(body: bytes) -> None:
    try:
        message = parse_outbound(body)
    except Refused as refused:
        assert 400 <= refused.status < 500
    else:
        assert 1 <= len(message.notifications) <= 100


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=500),
        JSON_VALUES.map(lambda v: json.dumps(v).encode()),
        st.dictionaries(st.sampled_from(["recordId", "ids", "x"]), JSON_VALUES).map(
            lambda v: json.dumps(v).encode()
        ),
        st.lists(st.sampled_from(["00Q5g0000000001EAA", "0035g0000000001", "x"]), max_size=120).map(
            lambda ids: json.dumps({"ids": ids}).encode()
        ),
        st.just(b"[" * 100_000),
    )
)
def test_the_flow_parser_never_raises_anything_but_refused(body: bytes) -> None:
    try:
        records, single = parse_flow(body)
    except Refused as refused:
        assert refused.status == 400
    else:
        assert 1 <= len(records) <= 100 and all(len(r) == 18 for r in records)
        assert not single or len(records) == 1
