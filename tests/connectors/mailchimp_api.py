"""A test-only stand-in for the Mailchimp client: the real SDK, one operation by its dotted
name, over the sandbox. The product's `MailchimpApi` adds retries and the error tree."""

from __future__ import annotations

from collections import Counter
from typing import Any

import requests

from sandbox.clock import SandboxClock
from sandbox.mailchimp import MailchimpSandbox, sandbox_client


class SdkApi:
    """`call("reports.get_email_activity_for_campaign", ...)` on the SDK, counted."""

    def __init__(self, sandbox: MailchimpSandbox) -> None:
        self.client = sandbox_client(sandbox)
        self.calls: Counter[str] = Counter()

    def call(self, operation: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        group, method = operation.split(".")
        self.calls[operation] += 1
        answer = getattr(getattr(self.client, group), method)(*args, **kwargs)
        if isinstance(answer, requests.Response):
            answer.raise_for_status()
            return {}
        assert isinstance(answer, dict)
        return answer


class FrozenClock(SandboxClock):
    """Vendor time that moves only when a test moves it; sleeps stay real."""

    def __init__(self) -> None:
        super().__init__()
        self.offset = 0.0

    def now(self) -> float:
        return self.offset
