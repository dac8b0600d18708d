"""Requests and answers as the webhook core sees them, whatever served them.

    WebhookRequest(method, path, query, headers, body, url)   built by an adapter (ASGI,
                                                        Lambda, Cloud Functions)
    WebhookResponse(status, headers, body)                     given back to it
    Refused(status, reason)                             raised anywhere: a 4xx (or
                                                        429/503) with a short reason

Header names are lower-cased once, here, so nobody compares them twice. A
`Refused` reason is written for the caller and the log alike: it never quotes
the body or a header's value (either may hold a secret or an address).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

BODY_LIMIT = 1024 * 1024
"""The largest body read (1 MB); larger ones are refused with 413, unread."""

JSON = "application/json"
TEXT = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class WebhookRequest:
    """One HTTP request: the raw body, and the URL the caller used (signatures cover it)."""

    method: str
    path: str
    query: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    url: str = ""
    """The full URL as the caller sent it (scheme, host, path and query); the core
    rebuilds it from the configured public URL where one is set."""

    @classmethod
    def of(
        cls,
        method: str,
        path: str,
        *,
        query: str = "",
        headers: Iterable[tuple[str, str]] | Mapping[str, str] = (),
        body: bytes = b"",
        url: str = "",
    ) -> WebhookRequest:
        """A request with its header names lower-cased (repeated headers joined by a
        comma, as HTTP allows) and its method upper-cased."""
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        joined: dict[str, str] = {}
        for name, value in pairs:
            key = name.lower()
            joined[key] = f"{joined[key]},{value}" if key in joined else value
        return cls(method.upper(), path or "/", query, joined, body, url)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def params(self) -> dict[str, str]:
        """The query's parameters (a repeated one: its last value)."""
        return dict(parse_qsl(self.query, keep_blank_values=True))


@dataclass(frozen=True)
class WebhookResponse:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body)


def json_response(
    status: int, payload: Any, headers: Mapping[str, str] | None = None
) -> WebhookResponse:
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return WebhookResponse(status, {"content-type": JSON, **(headers or {})}, body)


def text_response(status: int, text: str, content_type: str = TEXT) -> WebhookResponse:
    return WebhookResponse(status, {"content-type": content_type}, text.encode())


class Refused(Exception):
    """A request answered with `status` and a short reason, and nothing written."""

    def __init__(
        self,
        status: int,
        reason: str,
        *,
        retry_after: float | None = None,
        allow: str = "",
        challenge: str = "",
    ) -> None:
        self.status = status
        self.reason = reason
        self.retry_after = retry_after
        self.allow = allow
        self.challenge = challenge
        """A 401's WWW-Authenticate header: how to authenticate."""
        super().__init__(f"{status} {reason}")

    def response(self) -> WebhookResponse:
        headers = {}
        if self.retry_after is not None:
            headers["retry-after"] = str(max(1, math.ceil(self.retry_after)))
        if self.allow:
            headers["allow"] = self.allow
        if self.challenge:
            headers["www-authenticate"] = self.challenge
        return json_response(self.status, {"error": self.reason}, headers)
