"""The HubSpot client's calls: reading an answer is part of the call."""

from __future__ import annotations

from typing import Any

import urllib3

from connectors.hubspot.client import HubSpotApi
from connectors.policy import CallPolicy

TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"


class Answer:
    """An SDK answer read with `_preload_content=False`; its first reads time out."""

    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.headers = {"X-HubSpot-RateLimit-Daily-Remaining": "99"}

    @property
    def data(self) -> bytes:
        if self.failures:
            raise self.failures.pop(0)
        return b'{"results": [1, 2]}'

    def release_conn(self) -> None:
        """Nothing to give back."""


def api() -> HubSpotApi:
    return HubSpotApi(TOKEN, host="http://127.0.0.1:9", policy=CallPolicy("hubspot", base_wait=0))


def test_a_read_timeout_or_a_reset_while_reading_the_body_is_retried() -> None:
    client = api()
    failures: list[Exception] = [
        urllib3.exceptions.ReadTimeoutError(None, "/crm", "read timed out"),  # type: ignore[arg-type]
        urllib3.exceptions.ProtocolError("Connection broken: IncompleteRead"),
    ]
    sent: list[dict[str, Any]] = []

    def sdk_call(**kwargs: Any) -> Answer:
        sent.append(kwargs)
        return Answer(failures)

    body = client.json("contacts.list", sdk_call, limit=2)

    assert body == {"results": [1, 2]}
    assert len(sent) == 3 and client.policy.calls() == {"contacts.list": 3}
    assert all(k["_preload_content"] is False for k in sent)
