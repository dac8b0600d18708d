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
and replaced; a request that fails on one is the same failure as before (no answer).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
"""The methods whose body the SDK sends as JSON text (`json.dumps(body)`)."""
METHODS = BODY_METHODS | {"GET", "HEAD", "OPTIONS", "DELETE"}


def pooled_session(connections: int) -> Any:
    """A `requests.Session` keeping up to `connections` connections open per host."""
    import requests
    from requests.adapters import HTTPAdapter

    session = requests.Session()
    for scheme in ("https://", "http://"):
        session.mount(scheme, HTTPAdapter(pool_connections=4, pool_maxsize=connections))
    return session


def sdk_request(api_client: Any, session: Any) -> Callable[..., Any]:
    """A replacement for `api_client.request(method, url, query_params, headers, body)`
    that sends the same request through `session`."""

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
        return session.request(
            method,
            url,
            params=query_params,
            data=data,
            headers=sent,
            auth=auth,
            timeout=api_client.timeout,
        )

    return request
