"""The SDK's requests sent over one pool of kept-alive connections.

mailchimp-marketing 3.0.80 sends each call with module-level `requests.get` (`.post`,
...): a fresh `Session` per call, so a fresh TCP connection and, with Mailchimp, a fresh
TLS handshake before every request. In its place goes a function that sends the same
request (the same URL, query, headers, Basic or Bearer credential, JSON body and
timeout, as `ApiClient.request` builds them) through one `requests.Session` whose pool
keeps up to `connections` connections open (`pooled_session`, `sdk_request`); the batch
results' downloads go through it too (their pre-signed URLs carry no credential, and the
session holds none). Mailchimp limits an API key to 10 simultaneous connections (its
Fundamentals page: it limits by concurrency, with no request quota). The connection
gate holds at most that many requests under way, and a pool of that size never has more
connections open to one host, in use or kept open, so whether Mailchimp counts requests
or open connections, the process stays within the limit.

A connection the server closed while it sat in the pool is found by urllib3 before reuse
and replaced. One the server closes while a request is on its way fails that request
with no answer, which a fresh connection would not have met: a repeatable call is tried
again by the policy, and a call that is not (`batches.start`) is sent on a fresh
connection of its own (`fresh_connection`), as the SDK sent every call. After a refusal
for connections the gate closes the connections kept open (`ConnectionGate.refused`), so
that another integration of the account gets them if Mailchimp counts open sockets. The
session keeps no cookies: the SDK never sent any back.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.cookiejar import DefaultCookiePolicy
from typing import Any

from connectors.bodies import read_whole

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
"""The methods whose body the SDK sends as JSON text (`json.dumps(body)`)."""
METHODS = BODY_METHODS | {"GET", "HEAD", "OPTIONS", "DELETE"}
_FRESH = threading.local()
_ANSWERED = threading.local()


@contextmanager
def fresh_connection() -> Iterator[None]:
    """The SDK's requests of this thread, within, each on a connection of its own."""
    before = getattr(_FRESH, "on", False)
    _FRESH.on = True
    try:
        yield
    finally:
        _FRESH.on = before


@contextmanager
def on_send_and_answer(send: Callable[[], None], answer: Callable[[], None]) -> Iterator[None]:
    """Within, this thread's SDK request calls `send` once it is built and about to go
    (the SDK's and `requests`' own preparation done: the connection is needed from here),
    and `answer` once its answer has been read whole, before the SDK parses it (the
    connection is then free for another request)."""
    before = getattr(_ANSWERED, "send", None), getattr(_ANSWERED, "hook", None)
    _ANSWERED.send, _ANSWERED.hook = send, answer
    try:
        yield
    finally:
        _ANSWERED.send, _ANSWERED.hook = before


def pooled_session(connections: int) -> Any:
    """A `requests.Session` keeping up to `connections` connections open per host."""
    import requests
    from requests.adapters import HTTPAdapter

    session = requests.Session()
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    for scheme in ("https://", "http://"):
        session.mount(scheme, HTTPAdapter(pool_connections=4, pool_maxsize=connections))
    return session


def sdk_request(api_client: Any, session: Any) -> Callable[..., Any]:
    """A replacement for `api_client.request(method, url, query_params, headers, body)`
    that sends the same request through `session` (or, within `fresh_connection`, on a
    connection of its own, as the SDK does)."""
    import requests

    def request(
        method: str,
        url: str,
        query_params: Any = None,
        headers: dict[str, str] | None = None,
        body: Any = None,
    ) -> Any:
        if method not in METHODS:
            raise ValueError(
                "http method must be `GET`, `HEAD`, `OPTIONS`, `POST`, `PATCH`, `PUT` or `DELETE`."
            )
        sent = dict(headers or {})
        auth = ("user", api_client.api_key) if api_client.is_basic_auth else None
        if api_client.is_oauth:
            sent["Authorization"] = "Bearer " + api_client.access_token
        data = json.dumps(body) if method in BODY_METHODS else None
        request = requests.Request(
            method, url, params=query_params, data=data, headers=sent, auth=auth
        )
        # as `Session.request` sends it (proxies and certificates from the environment)
        fresh = getattr(_FRESH, "on", False)
        with requests.Session() if fresh else contextlib.nullcontext(session) as through:
            ready = through.prepare_request(request)
            settings = through.merge_environment_settings(ready.url or url, {}, None, None, None)
            going = getattr(_ANSWERED, "send", None)
            if going is not None:
                _ANSWERED.send = None
                going()
            settings["stream"] = True  # the body read whole below, not in 10 KB turns
            answer = read_whole(through.send(ready, timeout=api_client.timeout, **settings))
        hook = getattr(_ANSWERED, "hook", None)
        if hook is not None:
            _ANSWERED.hook = None
            hook()
        return answer

    return request
