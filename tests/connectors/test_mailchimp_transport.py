"""The SDK's requests over one pool of kept-open connections (`transport.py`): the same
requests as the SDK's own `ApiClient.request`, fewer connections."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import responses

from connectors.errors import RejectedError
from connectors.mailchimp import gate
from connectors.mailchimp.client import MailchimpApi
from connectors.mailchimp.transport import pooled_session, sdk_request
from sandbox.faults import Latency
from tests.connectors.test_mailchimp_client import Watched, h, server, small_world  # noqa: F401

BASE = "http://mailchimp.invalid/3.0"


def sdk_client(**config: Any) -> Any:
    import mailchimp_marketing

    client = mailchimp_marketing.Client({"server": "us9", "timeout": 7, **config})
    return client.api_client


def sent_by(request: Any, method: str) -> tuple[str, dict[str, str], bytes | None]:
    """What `request(method, ...)` put on the wire: URL, the headers the SDK sets, body."""
    with responses.RequestsMock() as mock:
        mock.add(method, f"{BASE}/lists/x", json={"ok": True})
        request(method, f"{BASE}/lists/x", [("count", 5), ("fields", "a,b")],
                headers={"Content-Type": "application/json", "User-Agent": "sdk"},
                body={"merge_fields": {"ENT_SCORE": 42}})  # fmt: skip
        call = mock.calls[0].request
    body = call.body.encode() if isinstance(call.body, str) else call.body
    keep = ("Authorization", "Content-Type", "User-Agent")
    return call.url, {k: call.headers[k] for k in keep if k in call.headers}, body


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("credential", [{"api_key": "abc-us9"}, {"access_token": "tok"}])
def test_the_request_on_the_wire_is_the_sdks_own(method: str, credential: dict[str, str]) -> None:
    own = sdk_client(**credential)
    ours = sdk_client(**credential)
    ours.request = sdk_request(ours, pooled_session(10))
    assert sent_by(ours.request, method) == sent_by(own.request, method)
    url, headers, body = sent_by(ours.request, method)
    assert url == f"{BASE}/lists/x?count=5&fields=a%2Cb"
    assert headers["Authorization"].startswith("Basic " if "api_key" in credential else "Bearer ")
    if method in ("POST", "PUT", "PATCH"):
        assert json.loads(body or b"") == {"merge_fields": {"ENT_SCORE": 42}}
    else:
        assert not body


def test_an_unknown_method_is_refused_as_the_sdk_does() -> None:
    client = sdk_client(api_key="abc-us9")
    with pytest.raises(ValueError, match="http method must be"):
        sdk_request(client, pooled_session(10))("TRACE", f"{BASE}/ping")


def pool_of(api: MailchimpApi) -> Any:
    """The connection pool of the sandbox's host in the API's session."""
    pools = api.cap.session().adapters["http://"].poolmanager.pools
    (key,) = pools.keys()  # (a urllib3 container: no iteration)
    return pools[key]


def test_calls_one_after_another_share_one_connection(server: Watched) -> None:  # noqa: F811
    gate._gates.clear()
    api = MailchimpApi(api_key=server.api_key, base_url=server.base_url)
    for _ in range(6):
        api.call("lists.get_list", server.list_id)
    with pytest.raises(RejectedError):  # a download goes through the same pool
        api.download(f"{server.base_url}/batch-results/nothing.tar.gz")
    assert pool_of(api).num_connections == 1


def test_side_by_side_never_more_connections_than_the_gate_allows(server: Watched) -> None:  # noqa: F811
    gate._gates.clear()
    server.latency = Latency(fixed=0.02)
    first, second = (MailchimpApi(api_key=server.api_key, base_url=server.base_url) for _ in "ab")
    start = threading.Barrier(24)

    def call(n: int) -> dict[str, Any]:
        start.wait()
        api = first if n % 2 else second
        return api.call("lists.get_list_member", server.list_id, h(f"p{n % 5}@acme.io"))

    try:
        with ThreadPoolExecutor(24) as pool:
            assert len(list(pool.map(call, range(48)))) == 48
    finally:
        server.latency = Latency()
    assert first.cap is second.cap  # one key, one gate, one pool
    assert 1 < pool_of(first).num_connections <= 10


def test_a_call_that_must_not_be_sent_twice_goes_on_a_connection_of_its_own(
    server: Watched,  # noqa: F811
) -> None:
    gate._gates.clear()
    api = MailchimpApi(api_key=server.api_key, base_url=server.base_url)
    api.call("lists.get_list", server.list_id)
    operation = {"method": "GET", "path": f"/lists/{server.list_id}", "operation_id": "o1"}
    started = api.call("batches.start", {"operations": [operation]}, repeatable=False)
    assert started["status"] in {"pending", "started", "finished"}
    api.call("lists.get_list", server.list_id)
    # the start did not take the kept-open connection, nor leave one in the pool
    assert pool_of(api).num_connections == 1


def test_a_refusal_for_connections_closes_those_kept_open(server: Watched) -> None:  # noqa: F811
    gate._gates.clear()
    api = MailchimpApi(api_key=server.api_key, base_url=server.base_url)
    api.call("lists.get_list", server.list_id)
    assert len(api.cap.session().adapters["http://"].poolmanager.pools) == 1
    api.cap.refused(3)
    assert len(api.cap.session().adapters["http://"].poolmanager.pools) == 0
    assert api.call("lists.get_list", server.list_id)["id"] == server.list_id  # and goes on


@responses.activate
def test_a_cookie_the_server_sets_is_never_sent_back() -> None:
    responses.add(responses.GET, f"{BASE}/ping", json={}, headers={"Set-Cookie": "edge=1; Path=/"})
    responses.add(responses.GET, f"{BASE}/ping", json={"health_status": "ok"})
    client = sdk_client(api_key="abc-us9")
    client.request = sdk_request(client, pooled_session(10))
    client.request("GET", f"{BASE}/ping")
    client.request("GET", f"{BASE}/ping")
    assert "Cookie" not in responses.calls[1].request.headers


def test_a_connection_is_free_once_its_answer_is_read(
    server: Watched,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import requests

    gate._gates.clear()
    api = MailchimpApi(api_key=server.api_key, base_url=server.base_url)
    held: list[int] = []
    parse = requests.Response.json

    def parsed(answer: requests.Response, **options: Any) -> Any:
        held.append(api.cap.in_flight)  # while the SDK parses the answer
        return parse(answer, **options)

    monkeypatch.setattr(requests.Response, "json", parsed)
    assert api.call("lists.get_list", server.list_id)["id"] == server.list_id
    with pytest.raises(RejectedError):
        api.call("lists.get_list", "no-such-list")
    assert held == [0] and api.cap.in_flight == 0  # a refusal frees its connection too


@pytest.mark.parametrize("repeatable", [True, False])  # False: on a connection of its own
def test_a_connection_is_taken_only_once_the_request_is_built(
    server: Watched,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    repeatable: bool,
) -> None:
    import requests

    gate._gates.clear()
    api = MailchimpApi(api_key=server.api_key, base_url=server.base_url)
    during: list[tuple[str, int]] = []
    prepare, send = requests.Session.prepare_request, requests.Session.send

    def prepared(session: requests.Session, request: requests.Request) -> Any:
        during.append(("built", api.cap.in_flight))  # the SDK's and requests' own work
        return prepare(session, request)

    def sent(session: requests.Session, request: Any, **options: Any) -> Any:
        during.append(("sent", api.cap.in_flight))
        return send(session, request, **options)

    monkeypatch.setattr(requests.Session, "prepare_request", prepared)
    monkeypatch.setattr(requests.Session, "send", sent)
    answer = api.call("lists.get_list", server.list_id, repeatable=repeatable)
    assert answer["id"] == server.list_id
    with pytest.raises(RejectedError):
        api.call("lists.get_list", "no-such-list", repeatable=repeatable)
    assert during == [("built", 0), ("sent", 1)] * 2 and api.cap.in_flight == 0
