"""The legacy APIs (email events, form submissions, contact profile) over the SDK's
urllib3 pool: answers served by a local HTTP server, one scripted answer per request."""

from __future__ import annotations

import base64
import http.server
import threading
from collections.abc import Iterator

import pytest

from connectors.errors import RateLimited, ServerError, TransportError, scrub
from connectors.hubspot.client import HubSpotApi, environment_proxy
from connectors.policy import CallPolicy

TOKEN = "pat-na1-99999999-2222-3333-4444-555555555555"
Scripted = tuple[int, dict[str, str], bytes]


class Portal(http.server.ThreadingHTTPServer):
    answers: list[Scripted]
    paths: list[str]
    proxy_logins: list[str | None]


class Handler(http.server.BaseHTTPRequestHandler):
    server: Portal

    def do_GET(self) -> None:  # the stdlib's name
        self.server.paths.append(self.path)
        self.server.proxy_logins.append(self.headers.get("Proxy-Authorization"))
        status, headers, body = self.server.answers.pop(0)
        self.send_response(status)
        for name, value in {"Content-Length": str(len(body)), **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def portal() -> Iterator[Portal]:
    server = Portal(("127.0.0.1", 0), Handler)
    server.answers, server.paths, server.proxy_logins = [], [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def client(portal: Portal, attempts: int = 3) -> HubSpotApi:
    host = f"http://127.0.0.1:{portal.server_address[1]}"
    policy = CallPolicy("hubspot", attempts=attempts, base_wait=0)
    return HubSpotApi(TOKEN, host=host, policy=policy)


def test_the_params_are_sent_as_a_query_and_the_answer_read_as_json(portal: Portal) -> None:
    portal.answers = [(200, {}, b'{"events": [], "hasMore": false}')]
    body = client(portal).email_events({"limit": 5, "offset": None, "startTimestamp": 12})
    assert body == {"events": [], "hasMore": False}
    assert portal.paths == ["/email/public/v1/events?limit=5&startTimestamp=12"]


def test_a_429_waits_its_retry_after_whatever_the_header_case(portal: Portal) -> None:
    limited = (
        429,
        {"retry-after": "7"},
        b'{"message": "slow down", "policyName": "TEN_SECONDLY_ROLLING"}',
    )
    portal.answers = [limited]
    with pytest.raises(RateLimited) as refused:
        client(portal, attempts=1).get("contacts.profile", "/contacts/v1/contact/vid/1/profile", {})
    assert refused.value.retry_after == 7.0


def test_a_cut_off_or_foreign_body_is_a_dropped_answer_tried_again(portal: Portal) -> None:
    portal.answers = [(200, {}, b'{"events": ['), (200, {}, b"\xff\xfe<html>"), (200, {}, b"{}")]
    assert client(portal).email_events({}) == {}
    assert len(portal.paths) == 3
    portal.answers = [(200, {}, b"<html>proxy</html>")] * 2
    with pytest.raises(TransportError):
        client(portal, attempts=2).email_events({})


def test_an_error_body_not_in_utf8_that_echoes_the_token_keeps_it_out(portal: Portal) -> None:
    said = f'{{"message": "bad \xe9 {TOKEN}"}}'.encode("latin-1")
    portal.answers = [(502, {}, said)] * 2
    with pytest.raises(ServerError) as failed:
        client(portal, attempts=2).email_events({})
    assert failed.value.status == 502 and TOKEN not in str(failed.value)


def test_a_moved_legacy_path_is_followed_as_before(portal: Portal) -> None:
    moved = (301, {"Location": "/email/public/v2/events"}, b"")
    portal.answers = [moved, (200, {}, b'{"events": []}')]
    assert client(portal).email_events({}) == {"events": []}


def test_no_answer_at_all_is_a_transport_error_naming_no_token() -> None:
    policy = CallPolicy("hubspot", attempts=2, base_wait=0)
    refused = HubSpotApi(TOKEN, host="http://127.0.0.1:9", policy=policy)
    with pytest.raises(TransportError) as failed:
        refused.email_events({})
    assert "no answer" in str(failed.value) and TOKEN not in str(failed.value)
    assert refused.policy.calls() == {"email.events": 2}


def test_a_portal_without_forms_access_asks_once_and_has_no_submissions(portal: Portal) -> None:
    from connectors.hubspot.forms import contact_submissions

    refused: Scripted = (403, {}, b'{"message": "missing scopes", "category": "MISSING_SCOPES"}')
    portal.answers = [refused]
    api = client(portal)
    assert contact_submissions(api, "7") == [] and contact_submissions(api, "8") == []
    assert [p.split("?")[0] for p in portal.paths] == ["/marketing/v3/forms/"]


def test_a_portal_with_no_forms_reads_the_list_once_then_the_profile(portal: Portal) -> None:
    from connectors.hubspot.forms import contact_submissions

    profile: Scripted = (200, {}, b'{"vid": 7, "form-submissions": []}')
    portal.answers = [(200, {}, b'{"results": []}'), profile, profile]
    api = client(portal)
    assert contact_submissions(api, "7") == [] and contact_submissions(api, "7") == []
    assert [p.split("?")[0] for p in portal.paths] == [
        "/marketing/v3/forms/",
        *["/contacts/v1/contact/vid/7/profile"] * 2,
    ]


def test_a_proxy_named_in_the_environment_carries_the_legacy_calls(
    portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{portal.server_address[1]}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    portal.answers = [(200, {}, b'{"events": []}')]
    policy = CallPolicy("hubspot", attempts=1, base_wait=0)
    behind = HubSpotApi(TOKEN, host="http://portal.invalid", policy=policy)
    assert behind.email_events({}) == {"events": []}
    assert portal.paths == ["http://portal.invalid/email/public/v1/events"]


def test_a_proxy_named_in_the_environment_carries_the_sdk_calls_with_its_login(
    portal: Portal, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = portal.server_address[1]
    monkeypatch.setenv("HTTP_PROXY", f"http://ops:pr%40xy-pass@127.0.0.1:{port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    portal.answers = [(200, {"Content-Type": "application/json"}, b'{"id": "7", "properties": {}}')]
    policy = CallPolicy("hubspot", attempts=1, base_wait=0)
    behind = HubSpotApi(TOKEN, host="http://portal.invalid", policy=policy)
    assert behind.contacts_basic.get_by_id("7").id == "7"
    assert portal.paths[0].startswith("http://portal.invalid/crm/v3/objects/contacts/7")
    login = base64.b64encode(b"ops:pr@xy-pass").decode()
    assert portal.proxy_logins == [f"Basic {login}"]
    assert "pr@xy-pass" not in scrub("proxy refused ops:pr@xy-pass")
    assert login not in scrub(f"sent Proxy-Authorization: Basic {login}")


@pytest.mark.parametrize(
    ("environment", "expected", "url"),
    [
        ({}, None, "https://api.hubapi.com"),
        (
            {"HTTPS_PROXY": "http://proxy.corp:3128"},
            ("http://proxy.corp:3128", {}),
            "https://api.hubapi.com",
        ),
        (
            {"HTTPS_PROXY": "proxy.corp:3128"},
            ("http://proxy.corp:3128", {}),
            "https://api.hubapi.com",
        ),
        ({"HTTP_PROXY": "http://proxy.corp:3128"}, None, "https://api.hubapi.com"),  # https
        (
            {"HTTPS_PROXY": "http://proxy.corp:3128", "NO_PROXY": "api.hubapi.com"},
            None,
            "https://api.hubapi.com",
        ),
        (
            {"HTTPS_PROXY": "http://proxy.corp:3128", "NO_PROXY": ".hubapi.com"},
            None,
            "https://api.hubapi.com",
        ),
        (
            {"HTTPS_PROXY": "http://proxy.corp:3128", "NO_PROXY": "example.com"},
            ("http://proxy.corp:3128", {}),
            "https://api.hubapi.com",
        ),
        (
            {"HTTP_PROXY": "http://p:3128", "NO_PROXY": "localhost:8080"},
            None,
            "http://localhost:8080",
        ),
        ({"HTTP_PROXY": "http://p:3128", "NO_PROXY": "127.0.0.0/8"}, None, "http://127.0.0.1:8080"),
        (
            {"HTTP_PROXY": "http://p:3128", "NO_PROXY": "127.0.0.0/8"},
            ("http://p:3128", {}),
            "http://10.1.2.3",
        ),
        (
            {"HTTP_PROXY": "http://p:3128", "NO_PROXY": "bad/block"},
            ("http://p:3128", {}),
            "http://10.1.2.3",
        ),
    ],
)
def test_the_environment_names_a_proxy_for_the_portal_unless_no_proxy_covers_it(
    monkeypatch: pytest.MonkeyPatch,
    environment: dict[str, str],
    expected: tuple[str, dict[str, str]] | None,
    url: str,
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert environment_proxy(url) == expected


def test_a_form_the_list_never_names_is_not_read_for_on_every_trigger(portal: Portal) -> None:
    from connectors.hubspot.forms import contact_submissions

    forms: Scripted = (200, {}, b'{"results": [{"id": "f1", "name": "Demo"}]}')
    named = b'{"form-submissions": [{"form-id": "gone", "conversion-id": "c", "timestamp": 1}]}'
    portal.answers = [forms, (200, {}, named), forms] + [(200, {}, named), forms] * 3
    api = client(portal)
    for _ in range(4):
        contact_submissions(api, "7")
    lists = [p for p in portal.paths if p.startswith("/marketing/v3/forms")]
    assert len(lists) <= 2  # the probe, and one read for a form made since


def test_a_kept_fact_is_answered_while_a_feature_is_being_probed() -> None:
    api = HubSpotApi(TOKEN, host="http://127.0.0.1:9", policy=CallPolicy("hubspot", base_wait=0))
    api.remembered("stages", lambda: ["lead"])
    probing, done = threading.Event(), threading.Event()

    def probe() -> object:  # the forms list, page after page, as a trigger's probe
        probing.set()
        done.wait(10)
        return []

    prober = threading.Thread(target=api.available, args=("forms", probe))
    prober.start()
    try:
        assert probing.wait(10)
        answered: list[object] = []
        reader = threading.Thread(target=lambda: answered.append(api.remembered("stages", list)))
        reader.start()
        reader.join(2)
        assert answered == [["lead"]]  # not held until the probe ends
    finally:
        done.set()
        prober.join()
