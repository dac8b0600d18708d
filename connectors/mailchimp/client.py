"""Mailchimp's API as the connector calls it: the official SDK under one call policy.

`MailchimpApi.call("lists.get_list_members_info", list_id, count=1000, offset=0)`
resolves the SDK's dotted operation (`client.lists.get_list_members_info`), calls
it under `connectors.policy.CallPolicy` and returns its JSON checked, as a dict.
`download(url)` fetches a batch's results archive (`response_body_url`).

What Mailchimp and its SDK (mailchimp-marketing 3.0.80, imported here only, lazily)
do that this works around, pinned by tests/sandbox/test_mailchimp.py:
- Mailchimp allows 10 simultaneous connections per API key and answers 429 past
  them ("You have exceeded the limit of 10 simultaneous connections", Errors page
  https://mailchimp.com/developer/marketing/docs/errors/; the batch guide
  https://mailchimp.com/developer/marketing/guides/run-async-requests-batch-endpoint/
  says the same). It has no volume limit and no daily budget. The SDK opens a
  connection per call (module-level `requests`, no session); its requests go instead
  through one pool of kept-open connections per credential (`transport.py`), and one
  bounded semaphore of 10 per credential, shared by every `MailchimpApi` of the
  process, is held from the moment a call's request is built and goes (a download's at
  once) until its answer is read; a 429 (no Retry-After is documented) is
  retried with the policy's backoff. A call given up on (a read timeout) keeps its slot
  for Mailchimp's own 120 s limit on a request (`gate.REQUEST_LIMIT`): Mailchimp may still
  be serving it, and its retry must not make an eleventh connection.
- Errors are `application/problem+json` (type, title, status, detail, instance;
  Errors page). The SDK looks for "application/json" only, so it raises
  `ApiClientError` with the problem as raw JSON text; it is decoded here and its
  title and detail make the message.
- A 204, an answer whose JSON is empty, and an error answer with an empty body
  come back as the raw `requests.Response` instead of a value or an exception;
  they are told apart by status code (204 and empty 2xx give `{}`). A 2xx whose
  body is not JSON (cut off mid-body) is a `TransportError`, retried.
- The SDK replaces "server" anywhere in the URL with the data centre. With a
  `base_url` (the sandbox) the host is set on `client.api_client.host` and the
  replacement is switched off (an empty server), so a host name holding "server"
  is not rewritten.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from connectors.errors import (
    ApiError,
    TransportError,
    error_for_status,
    register_secret,
)
from connectors.mailchimp.gate import CONNECTIONS, REQUEST_LIMIT, connection_gate
from connectors.mailchimp.keys import MC
from connectors.mailchimp.transport import fresh_connection, on_send_and_answer, sdk_request
from connectors.policy import CallPolicy, Clock

MAILCHIMP_ROOT = "/3.0"
MAILCHIMP_HOST = "https://server.api.mailchimp.com/3.0"
MAILCHIMP_TIMEOUT = 30.0


def problem_message(status: int | None, body: Any) -> str:
    """The words of a Mailchimp error answer: its problem's title and detail, and the
    fields its `errors` name; the status alone when the body says nothing readable."""
    data = body
    if isinstance(body, bytes | str):
        try:
            data = json.loads(body) if body else None
        except ValueError:
            data = None
    if not isinstance(data, dict):
        return f"HTTP {status}" if status is not None else "no answer"
    title, detail = str(data.get("title") or ""), str(data.get("detail") or "")
    message = f"{title}: {detail}" if title and detail else title or detail or f"HTTP {status}"
    fields = [
        f"{e.get('field')}: {e.get('message')}"
        for e in data.get("errors") or []
        if isinstance(e, dict) and e.get("field")
    ]
    return message + (" (" + "; ".join(fields) + ")" if fields else "")


def error_of(operation: str, status: int | None, body: Any) -> ApiError:
    """The `ApiError` of a failed answer (status None: none came)."""
    cls = error_for_status(status)
    return cls(MC, operation, problem_message(status, body), status=status)


def checked(operation: str, result: Any) -> dict[str, Any]:
    """What an SDK call returned, as the JSON object of a successful answer."""
    import requests

    if isinstance(result, dict):
        return result
    if isinstance(result, requests.Response):
        if not result.ok:
            raise error_of(operation, result.status_code, result.content)
        if result.status_code == 204 or not result.content.strip():
            return {}
        try:
            data = json.loads(result.content)
        except ValueError:
            raise TransportError(
                MC, operation, "answer cut off (unreadable JSON)", status=result.status_code
            ) from None
        if isinstance(data, dict):
            return data
    if isinstance(result, str):  # a 2xx that is not JSON: a proxy's page, a cut-off body
        raise TransportError(MC, operation, "answer is not JSON")
    raise TransportError(MC, operation, f"unexpected answer ({type(result).__name__})")


def mailchimp_failure(operation: str) -> Callable[[Exception], ApiError | None]:
    """The SDK's and requests' failures as `ApiError`s, without secrets."""

    def to_error(exc: Exception) -> ApiError | None:
        import requests
        from mailchimp_marketing.api_client import ApiClientError

        if isinstance(exc, ApiError):
            return exc
        if isinstance(exc, ApiClientError):
            if exc.status_code is None:  # the SDK wraps requests' failure in `text`
                cause = type(exc.text).__name__ if isinstance(exc.text, Exception) else "error"
                return TransportError(MC, operation, f"no answer ({cause})")
            return error_of(operation, exc.status_code, exc.text)
        if isinstance(exc, requests.RequestException):
            return TransportError(MC, operation, f"no answer ({type(exc).__name__})")
        return None

    return to_error


def unanswered(exc: BaseException) -> bool:
    """Whether a failed call may still be at work at Mailchimp: we stopped waiting for its
    answer (a read timeout; the SDK wraps requests' exception in `ApiClientError.text`).
    A connection refused, reset or closed by Mailchimp, or an answer cut off, is over there."""
    import requests

    cause = getattr(exc, "text", None) if getattr(exc, "status_code", 0) is None else exc
    cause = cause if isinstance(cause, BaseException) else exc
    return isinstance(cause, requests.Timeout) and not isinstance(cause, requests.ConnectTimeout)


ATTEMPTS = 10
"""Tries of one call: a 429 for connections or a 5xx is Mailchimp's to pass, and with no
request quota to spend, trying again costs only the wait (at most a minute each)."""


class MailchimpApi:
    """The official client, its calls checked and run under the policy and the connection cap."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        access_token: str | None = None,
        server: str | None = None,
        base_url: str | None = None,
        timeout: float = MAILCHIMP_TIMEOUT,
        policy: CallPolicy | None = None,
        clock: Clock | None = None,
        seed: int | None = None,
        connections: int = CONNECTIONS,
    ) -> None:
        import mailchimp_marketing

        if (api_key is None) == (access_token is None):
            raise ValueError("give an API key or an access token, one of them")
        credential = api_key if api_key is not None else access_token
        assert credential is not None
        register_secret(credential)
        if api_key is not None:
            server = api_key.rsplit("-", 1)[-1]
        if not server:
            raise ValueError("an access token needs its server prefix (e.g. us21)")
        config: dict[str, Any] = {"server": server, "timeout": timeout}
        config["api_key" if api_key is not None else "access_token"] = credential
        self.client = mailchimp_marketing.Client(config)
        if base_url is not None:
            self.client.api_client.host = base_url.rstrip("/") + MAILCHIMP_ROOT
            self.client.api_client.server = ""  # no "server" -> data centre rewrite
        self.host: str = self.client.api_client.host.replace("server", server)
        self.timeout = timeout
        self.cap = connection_gate(credential, self.host, connections)
        # the SDK's requests over the gate's pool of kept-open connections (`transport`)
        self.client.api_client.request = sdk_request(self.client.api_client, self.cap.session())
        # Mailchimp counts connections, not requests: no window, no daily budget; a
        # refused or failed call costs nothing but time, so it is tried more often.
        self.policy = policy or CallPolicy(MC, attempts=ATTEMPTS, clock=clock, seed=seed)

    def __repr__(self) -> str:
        return f"MailchimpApi(host={self.host!r})"

    def method(self, operation: str) -> Callable[..., Any]:
        """The SDK method of a dotted operation, e.g. "lists.get_list_members_info"."""
        group, dot, name = operation.partition(".")
        api = getattr(self.client, group, None) if dot and not group.startswith("_") else None
        # only the generated API groups (lists, reports, ...), not the transport beneath
        is_group = type(api).__module__.startswith("mailchimp_marketing.api.")
        method = getattr(api, name, None) if is_group and not name.startswith("_") else None
        if not callable(method):
            raise ValueError(f"the Mailchimp SDK has no operation {operation!r}")
        return method  # type: ignore[no-any-return]

    def call(
        self, operation: str, *args: Any, repeatable: bool = True, **kwargs: Any
    ) -> dict[str, Any]:
        """Call the SDK's `operation` with `args`, `kwargs`; its answer's JSON ({} for a 204).

        `repeatable=False`: not tried again after a failure that may have carried it out
        (a 5xx, a dropped or lost answer), only after a 429 (refused unprocessed); for
        a request Mailchimp would carry out twice, such as `batches.start`.
        """
        method = self.method(operation)

        def send() -> Any:
            if repeatable:
                return method(*args, **kwargs)
            with fresh_connection():  # not a kept-open one the server may close meanwhile
                return method(*args, **kwargs)

        def attempt() -> dict[str, Any]:
            result, in_flight = self._through_gate(send)
            if in_flight and getattr(result, "status_code", None) == 429:  # raw, not raised
                self.cap.refused(in_flight)
            else:
                self.cap.answered()
            return checked(operation, result)

        return self.policy.call(
            operation, attempt, mailchimp_failure(operation), repeatable=repeatable
        )

    def download(self, url: str) -> bytes:
        """The bytes at `url` (a batch's pre-signed `response_body_url`; no credential is
        sent), under the same cap and retries."""
        operation = "batches.download"
        session = self.cap.session()

        def attempt() -> bytes:
            answer, _ = self._through_gate(
                lambda: session.get(url, timeout=self.timeout), built=True
            )
            if not answer.ok:
                raise error_of(operation, answer.status_code, answer.content)
            content: bytes = answer.content
            return content

        return self.policy.call(operation, attempt, mailchimp_failure(operation))

    def _through_gate(self, send: Callable[[], Any], *, built: bool = False) -> tuple[Any, int]:
        """`send()` holding a slot of the gate, and how many were in flight with it. The slot
        is taken once the SDK's request is built and about to go (`on_send_and_answer`;
        at once when `send` is a request `built` already), and freed once the answer has
        been read (before the SDK parses it), or when `send` fails, but only after
        Mailchimp's own limit when it failed with no answer (`unanswered`)."""
        in_flight = 0
        entered = left = False

        def enter() -> None:  # once: when the request goes
            nonlocal in_flight, entered
            if not entered:
                entered = True
                in_flight = self.cap.enter()

        def leave() -> None:  # once: when the answer is read, or after
            nonlocal left
            if entered and not left:
                left = True
                self.cap.leave()

        if built:
            enter()
        try:
            with on_send_and_answer(enter, leave):
                result = send()
        except Exception as exc:
            if entered and not left and unanswered(exc):  # Mailchimp may still be at it
                left = True
                self.cap.leave_later(REQUEST_LIMIT, self.policy.clock)
            leave()  # (a no-op once left)
            if entered and getattr(exc, "status_code", None) == 429:
                self.cap.refused(in_flight)
            raise
        leave()
        return result, in_flight

    def calls(self) -> dict[str, int]:
        return self.policy.calls()
