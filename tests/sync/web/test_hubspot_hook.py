"""The HubSpot workflow webhook through the webhook core, against the HubSpot sandbox.

Real SDK, real store, real HTTP to the emulator; requests signed with the HubSpot
SDK's own `Signature.get_signature`, so the verifier is checked against HubSpot's
reading of v3 and v2, not against itself.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hubspot.utils.signature import Signature
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError

from connectors.errors import RateLimited
from connectors.hubspot.settings import HubSpotSettings
from connectors.protocol import Connector, Page
from sandbox import Sandbox
from scoring import RuleSet
from sync import Leadscore
from sync.locks import RunLock
from sync.settings import Settings
from sync.trigger import queued_entries
from sync.web.core import WebhookCore
from sync.web.endpoint import Context
from sync.web.hubspot import HubSpotEndpoint, hubspot_body, record_asked, record_named
from sync.web.hubspot_auth import authenticate_hubspot, decoded_uri, v3_signature
from sync.web.messages import BODY_LIMIT, Refused, WebhookRequest, WebhookResponse
from tests.sync.lock_clock import paused_after
from tests.sync.web.cloud import opened_on

SECRET = "9b1f-client-secret-do-not-log"
API_KEY = "key-7c2e-do-not-log"
KEY_NAME = "X-Leadscore-Key"
NOW = 1_800_000_000.0
HOST = "https://leadscore.example.com"
URL = f"{HOST}/hubspot"


def v1_contact(vid: int) -> dict[str, Any]:
    """The legacy v1 contact a contact-based workflow sends with "Include all contact
    properties" (shape of the v1 contact API as third-party connectors model it, e.g.
    https://legacydocs.hubspot.com/docs/methods/contacts/get_contact ; not a capture)."""
    return {
        "vid": vid + 1000,
        "canonical-vid": vid,
        "merged-vids": [vid + 1000],
        "portal-id": 62515,
        "is-contact": True,
        "properties": {
            "email": {
                "value": "someone@example.com",
                "versions": [{"value": "someone@example.com", "source-type": "API"}],
            },
            "hs_object_id": {"value": str(vid), "versions": []},
        },
    }


# -- signing as HubSpot does, with its SDK ------------------------------------------------------


def signed_v3(
    body: bytes,
    *,
    method: str = "POST",
    url: str = URL,
    at_ms: int | None = None,
    secret: str = SECRET,
    signed_url: str | None = None,
) -> dict[str, str]:
    stamp = str(int(NOW * 1000) if at_ms is None else at_ms)
    signature = Signature.get_signature(
        secret, body.decode(), "v3", signed_url or url, method, stamp
    )
    return {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": stamp}


def signed_v2(body: bytes, *, method: str = "POST", url: str = URL) -> dict[str, str]:
    signature = Signature.get_signature(SECRET, body.decode(), "v2", url, method)
    return {"X-HubSpot-Signature": signature, "X-HubSpot-Signature-Version": "v2"}


def request(
    body: bytes | Mapping[str, Any],
    headers: Mapping[str, str] | None = None,
    *,
    method: str = "POST",
    query: str = "",
    sign: bool = True,
) -> WebhookRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    url = URL + (f"?{query}" if query else "")
    signature = signed_v3(raw, method=method, url=url) if sign else {}
    return WebhookRequest.of(
        method,
        "/hubspot",
        query=query,
        headers={**signature, **(headers or {})},
        body=raw,
        url=url,
    )


# -- the application on the sandbox -------------------------------------------------------------


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox(people=20, seed=11) as sandbox:
        yield sandbox


@pytest.fixture
def app(box: Sandbox, rules: RuleSet, tmp_path: Path) -> Iterator[Leadscore]:
    with opened_on(box, rules, tmp_path / "state.db") as opened:
        yield opened


def with_webhook(settings: Settings, public_url: str | None = None, **values: Any) -> Settings:
    section = settings.hubspot  # type: ignore[attr-defined]
    fields = {
        "webhook_client_secret": SecretStr(SECRET),
        "webhook_api_key": SecretStr(API_KEY),
        "webhook_api_key_name": KEY_NAME,
        **values,
    }
    return settings.model_copy(
        update={"hubspot": section.model_copy(update=fields), "public_url": public_url}
    )


def core_for(app: Leadscore, **values: Any) -> WebhookCore:
    settings = with_webhook(app.settings, **values)
    return WebhookCore(
        settings, endpoints=[HubSpotEndpoint()], open_app=lambda s: app, now=lambda: NOW
    )


@pytest.fixture
def core(app: Leadscore) -> Iterator[WebhookCore]:
    made = core_for(app)
    yield made
    made._pool.shutdown(wait=True)


def held_score(box: Sandbox, record: str) -> str | None:
    return box.hubspot.contacts.value("leadscore_score", int(record) - 1)


def updates(box: Sandbox) -> int:
    return int(box.hubspot.calls["contacts.batch_update"])


def assert_scored(answer: WebhookResponse, box: Sandbox, record: str) -> None:
    assert answer.status == 200, answer.body
    payload = answer.json()
    assert payload["status"] == "done" and payload["record"] == record
    assert isinstance(payload["score"], int) and payload["grade"] and "stage" in payload
    assert payload["disqualified"] in (True, False) and isinstance(payload["reasons"], str)
    assert held_score(box, record) == str(payload["score"])


# -- asks that rescore ------------------------------------------------------------------------


def test_a_signed_customised_body_rescores_and_writes_the_contact(
    core: WebhookCore, box: Sandbox
) -> None:
    before = updates(box)
    answer = core.handle(request({"hs_object_id": "3", "email": "x@example.com"}))
    assert_scored(answer, box, "3")
    assert updates(box) == before + 1
    again = core.handle(request({"objectId": 3, "firstname": "A"}, {"X-Other": "1"}))
    assert again.status == 200 and again.json()["score"] == answer.json()["score"]


def test_the_whole_contact_payload_is_read_by_its_canonical_id(
    core: WebhookCore, box: Sandbox
) -> None:
    assert_scored(core.handle(request(v1_contact(4))), box, "4")
    only_object = {"objectId": 5, "properties": {"email": {"value": "x@example.com"}}}
    assert_scored(core.handle(request(only_object)), box, "5")


def test_the_api_key_in_a_header_or_in_the_query(core: WebhookCore, box: Sandbox) -> None:
    header = request({"hs_object_id": 6}, {KEY_NAME.lower(): API_KEY}, sign=False)
    assert_scored(core.handle(header), box, "6")
    query = f"hs_object_id=7&{quote(KEY_NAME)}={quote(API_KEY)}"
    assert_scored(core.handle(request(b"", method="GET", query=query, sign=False)), box, "7")


def test_a_signed_get_and_a_v2_signature_which_is_not_remembered(
    app: Leadscore, box: Sandbox
) -> None:
    core = core_for(app, webhook_accept_v2=True)
    assert_scored(core.handle(request(b"", method="GET", query="hs_object_id=8")), box, "8")
    body = json.dumps({"hs_object_id": "9"}).encode()
    v2 = WebhookRequest.of("POST", "/hubspot", headers=signed_v2(body), body=body, url=URL)
    assert_scored(core.handle(v2), box, "9")
    assert core.handle(v2).status == 200  # HubSpot's retry of a v2 request is the same request


def test_v2_is_refused_unless_turned_on_so_a_stripped_v3_request_cannot_be_replayed(
    core: WebhookCore, box: Sandbox
) -> None:
    # HubSpot sends v3 and v2 headers together; one captured, its v3 headers stripped,
    # must not pass as v2 long after v3's 5 minutes (nor after v3's replay check).
    body = json.dumps({"hs_object_id": "12"}).encode()
    both = {**signed_v3(body), **signed_v2(body)}
    sent = WebhookRequest.of("POST", "/hubspot", headers=both, body=body, url=URL)
    assert_scored(core.handle(sent), box, "12")
    assert core.handle(sent).status == 409
    before = updates(box)
    stripped = WebhookRequest.of("POST", "/hubspot", headers=signed_v2(body), body=body, url=URL)
    answer = core.handle(stripped)
    assert answer.status == 401
    assert answer.json() == {
        "error": "v2 signatures are not accepted (LEADSCORE_HUBSPOT__WEBHOOK_ACCEPT_V2)"
    }
    assert updates(box) == before
    # the API key still lets a caller in that sends it with a v2 header
    keyed = WebhookRequest.of(
        "POST", "/hubspot", headers={**signed_v2(body), KEY_NAME: API_KEY}, body=body, url=URL
    )
    assert keyed.header(KEY_NAME) == API_KEY and core.handle(keyed).status == 200
    assert HubSpotSettings().webhook_accept_v2 is False


def test_a_trailing_slash_is_signed_alike_with_and_without_the_public_urls_path(
    app: Leadscore, box: Sandbox
) -> None:
    """A workflow's URL ending in a slash: the signature covers it, whether the gateway
    hands the path over with the public URL's own path in front or without it."""
    body = b'{"hs_object_id": 10}'
    called = f"{HOST}/leadscore/hubspot/"
    core = core_for(app, public_url=f"{HOST}/leadscore")
    for late, path in enumerate(("/hubspot/", "/leadscore/hubspot/")):
        signed = signed_v3(body, url=called, at_ms=int(NOW * 1000) + late)  # not a replay
        sent = WebhookRequest.of("POST", path, headers=signed, body=body, url=called)
        assert core.handle(sent).status == 200, path


def test_signatures_over_the_public_url_and_over_the_decoded_uri(
    app: Leadscore, box: Sandbox
) -> None:
    behind = core_for(app, public_url=HOST)
    body = b'{"hs_object_id": 10}'
    inside = WebhookRequest.of(
        "POST", "/hubspot", headers=signed_v3(body), body=body, url="http://10.0.0.5:8080/hubspot"
    )
    assert_scored(behind.handle(inside), box, "10")
    assert core_for(app).handle(inside).status == 401  # signed for the public URL, not this one
    # a custom domain's base path handed over whole: routed without it, signed with it
    mapped = f"{HOST}/leadscore/hubspot"
    based = WebhookRequest.of(
        "POST", "/leadscore/hubspot", headers=signed_v3(body, url=mapped, at_ms=int(NOW * 1000) + 3),
        body=body, url=mapped,
    )  # fmt: skip
    assert core_for(app, public_url=f"{HOST}/leadscore").handle(based).status == 200
    assert core_for(app, public_url=HOST).handle(based).status == 404
    query = "from=a%3Ab%2Fc&x=%2541"
    url = f"{URL}?{query}"
    assert decoded_uri(url) == f"{URL}?from=a:b/c&x=%2541"
    for made, at in ((behind, 1), (core_for(app), 2)):
        decoded = signed_v3(body, url=url, signed_url=decoded_uri(url), at_ms=int(NOW * 1000) + at)
        internal = WebhookRequest.of(
            "POST", "/hubspot", query=query, headers=decoded, body=body, url=url
        )
        assert made.handle(internal).status == 200


def test_a_rescore_paused_past_its_record_lock_is_answered_and_logged_as_queued(
    core: WebhookCore,
    app: Leadscore,
    box: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A server paused a minute inside a rescore (its host asleep): nothing is written, the
    record is queued for the next sync, and the caller and the log say so, not that
    leadscore is not ready."""
    paused_after(monkeypatch, "roll_up_again")
    before = updates(box)
    with caplog.at_level(logging.WARNING, "leadscore.web"):
        answer = core.handle(request({"hs_object_id": 12}))
    assert (answer.status, answer.json()) == (202, {"record": "12", "status": "queued"})
    assert [e.record_id for e in queued_entries(app.store, ["hubspot"])] == ["12"]
    assert updates(box) == before
    said = [r for r in caplog.records if r.getMessage() == "trigger left to the next sync"]
    assert len(said) == 1 and "paused 60 s" in said[0].__dict__["reason"]


def test_a_contact_a_running_sync_will_write_is_answered_202(
    core: WebhookCore, app: Leadscore, box: Sandbox
) -> None:
    running = RunLock(app.store, ["sync:hubspot"])
    running.acquire()
    try:
        before = updates(box)
        answer = core.handle(request({"hs_object_id": 12}))
    finally:
        running.release()
    assert (answer.status, answer.json()) == (202, {"record": "12", "status": "queued"})
    assert [e.record_id for e in queued_entries(app.store, ["hubspot"])] == ["12"]
    assert updates(box) == before


def test_a_rate_limit_answers_retry_after_in_milliseconds(app: Leadscore, box: Sandbox) -> None:
    class Limited:
        def __init__(self, inner: Connector) -> None:
            self.inner = inner

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        def fetch(self, record_id: str | None = None, *, email: str | None = None) -> Page:
            raise RateLimited("hubspot", "contacts.get", "slow down", status=429, retry_after=7)

    inner = app.job.connectors[0]
    app.job.connectors[0] = Limited(inner)
    core = core_for(app)
    signed = request({"hs_object_id": 2})
    answer = core.handle(signed)
    assert (answer.status, answer.headers["retry-after"]) == (429, "7000")
    assert "rate limiting" in answer.json()["error"]
    # HubSpot's retry of the very same signed request is rescored, not refused as a replay;
    # answered for good, it is remembered.
    app.job.connectors[0] = inner
    assert core.handle(signed).status == 200
    assert core.handle(signed).status == 409
    endpoint = HubSpotEndpoint()
    assert endpoint.refused(Refused(429, "x", retry_after=0.0001)).headers["retry-after"] == "1000"
    assert endpoint.refused(Refused(503, "x", retry_after=2.5)).headers["retry-after"] == "2500"
    assert "retry-after" not in endpoint.refused(Refused(401, "x")).headers


# -- refusals: nothing written, nothing secret logged ----------------------------------------


def bad_requests() -> list[tuple[str, int, WebhookRequest | None]]:
    body = json.dumps({"hs_object_id": "2"}).encode()
    at = int(NOW * 1000)

    def with_(headers: Mapping[str, str], raw: bytes = body) -> WebhookRequest:
        return WebhookRequest.of("POST", "/hubspot", headers=headers, body=raw, url=URL)

    wrong = signed_v3(body, secret="not-the-secret")
    return [
        ("wrong signature", 401, with_(wrong)),
        ("signature of another body", 401, with_(signed_v3(b'{"hs_object_id": "3"}'))),
        ("no signature", 401, with_({})),
        ("stale", 401, with_(signed_v3(body, at_ms=at - 300_001))),
        ("future", 401, with_(signed_v3(body, at_ms=at + 300_001))),
        ("malformed timestamp", 400, with_({**signed_v3(body), "X-HubSpot-Request-Timestamp": "1e12"})),
        ("no timestamp", 401, with_({"X-HubSpot-Signature-v3": signed_v3(body)["X-HubSpot-Signature-v3"]})),
        ("wrong key", 401, with_({KEY_NAME: API_KEY + "x"})),
        ("malformed json", 400, request(b'{"hs_object_id": 2')),
        ("not an object", 400, request(b"[2]")),
        ("email only", 422, request({"email": "a@example.com"})),
        ("not an id", 422, request({"hs_object_id": "-2"})),
        ("unknown contact", 404, request({"hs_object_id": "987654"})),
        ("over 1 MB", 413, request(b" " * BODY_LIMIT + b'{"hs_object_id": 2}')),
        ("replay", 409, None),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("label", "status", "bad"), [pytest.param(*case, id=case[0]) for case in bad_requests()]
)
def test_every_bad_request_writes_nothing_and_logs_no_secret(
    core: WebhookCore,
    box: Sandbox,
    caplog: pytest.LogCaptureFixture,
    label: str,
    status: int,
    bad: WebhookRequest | None,
) -> None:
    caplog.set_level(logging.DEBUG)
    if bad is None:  # a replay: the same signed request again
        bad = request({"hs_object_id": "2"})
        assert core.handle(bad).status == 200
    before = updates(box)
    answer = core.handle(bad)
    assert answer.status == status, (label, answer.body)
    assert answer.json()["error"] and updates(box) == before
    if label == "stale":
        assert "stale" in answer.json()["error"]
    logged = caplog.text + " ".join(str(r.__dict__) for r in caplog.records)
    for secret in (SECRET, API_KEY, *bad.headers.values()):
        assert secret not in logged and secret not in answer.body.decode()


def test_not_configured_without_a_secret_and_a_key_needs_its_name(app: Leadscore) -> None:
    bare = WebhookCore(app.settings, endpoints=[HubSpotEndpoint()], open_app=lambda s: app)
    assert bare.handle(request({"hs_object_id": 2})).status == 404
    with pytest.raises(ValidationError, match="webhook_api_key_name"):
        HubSpotSettings(webhook_api_key=SecretStr(API_KEY))
    assert HubSpotSettings(webhook_client_secret="  ").webhook_client_secret is None


def test_our_v3_verifier_agrees_with_the_hubspot_sdk(app: Leadscore) -> None:
    # At the real clock: the SDK's `is_valid` reads it.
    body = '{"hs_object_id": "2", "note": "é ünïcode"}'
    stamp = str(int(time.time() * 1000))
    ours = v3_signature(SECRET, "POST", URL, body.encode(), stamp)
    assert Signature.is_valid(ours, SECRET, body, URL, "POST", "v3", stamp)
    theirs = Signature.get_signature(SECRET, body, "v3", URL, "POST", stamp)
    assert ours == theirs
    seen: set[str] = set()
    context = fake_context(app.settings, time.time, seen)
    headers = {"X-HubSpot-Signature-v3": theirs, "X-HubSpot-Request-Timestamp": stamp}
    signed = WebhookRequest.of("POST", "/hubspot", headers=headers, body=body.encode(), url=URL)
    assert authenticate_hubspot(signed, context, with_webhook(app.settings).hubspot) == "v3"  # type: ignore[attr-defined]
    assert seen == set()  # taken back until the request is answered for good


# -- the parser and the verifier under any input ----------------------------------------------


def fake_context(base: Settings, now: Any, seen: set[str]) -> Context:
    def first_seen(keys: Sequence[str]) -> list[bool]:
        fresh = [k not in seen for k in keys]
        seen.update(keys)
        return fresh

    def forget(keys: Sequence[str]) -> None:
        seen.difference_update(keys)

    return Context(with_webhook(base), now, first_seen, forget=forget)


def test_record_ids_in_every_shape() -> None:
    assert record_named({"hs_object_id": " 051 "}) == "51"
    assert record_named({"vid": 12, "canonical-vid": 13, "properties": {}}) == "13"
    assert record_named({"record_id": {"value": "14"}}) == "14"
    assert record_named({"objectId": 15, "properties": {"hs_object_id": {"value": "16"}}}) == "15"
    assert record_named({"properties": {"hs_object_id": {"value": "17"}}}) == "17"
    for bad in (True, 0, -1, 1.5, "1e3", "", "12a", 2**63, [1], None, {"value": None}):
        with pytest.raises(Refused) as refused:
            record_named({"hs_object_id": bad, "email": "a@example.com"})
        assert refused.value.status == 422
    with pytest.raises(Refused, match="not its email"):
        record_named({"properties": {"email": {"value": "a@example.com"}}})
    with pytest.raises(Refused) as deep:
        hubspot_body(b"[" * 100_000 + b"]" * 100_000)
    assert deep.value.status == 400


JSONS = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=20,
)
ID_OR_NOT = JSONS | st.sampled_from(["hs_object_id", "vid", "canonical-vid", "objectId", "email"])


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(ID_OR_NOT.filter(lambda k: isinstance(k, str)), JSONS, max_size=6)
    | JSONS
    | st.binary(max_size=200)
)
def test_the_parser_answers_an_id_or_a_refusal(value: Any) -> None:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    for method in ("POST", "GET"):
        try:
            record = record_asked(WebhookRequest.of(method, "/hubspot", query="vid=1", body=raw))
        except Refused as refused:
            assert refused.status in (400, 422)
        else:
            assert record.isdigit() and 0 < int(record) < 2**63


HEADER = st.sampled_from(
    [
        "X-HubSpot-Signature-v3",
        "X-HubSpot-Request-Timestamp",
        "X-HubSpot-Signature",
        "X-HubSpot-Signature-Version",
        KEY_NAME,
        "Other",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    headers=st.dictionaries(
        HEADER, st.text(max_size=60) | st.sampled_from(["v2", "1800000000000"])
    ),
    body=st.binary(max_size=100),
    query=st.text(max_size=40),
    url=st.text(max_size=40),
    method=st.sampled_from(["GET", "POST"]),
)
def test_the_verifier_answers_who_or_a_refusal(
    headers: dict[str, str], body: bytes, query: str, url: str, method: str
) -> None:
    context = fake_context(BASE, lambda: NOW, set())
    try:
        how = authenticate_hubspot(
            WebhookRequest.of(method, "/hubspot", query=query, headers=headers, body=body, url=url),
            context,
            context.settings.hubspot,  # type: ignore[attr-defined]
        )
    except Refused as refused:
        assert refused.status in (400, 401, 409)
    else:
        assert how == "key"  # nothing random signs with the secret


BASE = Settings(hubspot={"access_token": "t"})


def test_bounded_fuzz_of_signed_bodies() -> None:
    # Mutations of real bodies, each signed: whatever the bytes, an id or a refusal.
    rng = random.Random(20261202)
    seeds = [json.dumps(v1_contact(4)).encode(), b'{"hs_object_id": "51", "email": "a@b.c"}']
    context = fake_context(BASE, lambda: NOW, set())
    endpoint = HubSpotEndpoint()
    for round_ in range(1500):
        raw = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(len(raw))
            raw[at : at + rng.randint(0, 3)] = bytes(
                rng.randrange(256) for _ in range(rng.randint(0, 3))
            )
        body = bytes(raw)
        stamp = str(int(NOW * 1000) - round_)
        signature = v3_signature(SECRET, "POST", URL, body, stamp)
        headers = {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": stamp}
        try:
            ask = endpoint.ask(
                WebhookRequest.of("POST", "/hubspot", headers=headers, body=body, url=URL), context
            )
        except Refused as refused:
            assert refused.status in (400, 422)
        else:
            assert not isinstance(ask, WebhookResponse) and ask.records[0].isdigit()
