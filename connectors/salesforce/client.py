"""Salesforce's REST API as the connector calls it: simple-salesforce under the call policy.

Every call goes through `connectors.policy.CallPolicy`: counted, paced by the
daily request budget, retried on 5xx, dropped connections and 429s (waiting their
Retry-After). simple-salesforce retries nothing itself (its client is built on a
session id, so it never logs in again on its own either). Salesforce has no
per-second limit, only a rolling 24-hour allocation per org (REST API Developer
Guide, "API Request Limits and Allocations"), so the budget is what paces a run:

- `/limits` is read when a run starts (`DailyApiRequests`: Max and Remaining), and
  the `Sforce-Limit-Info: api-usage=used/max` header of every answer, errors
  included (a response hook reads it, since simple-salesforce's exceptions keep no
  headers), keeps the count current;
- a run stops cleanly (`BudgetExhausted`) once it spent its share
  (`budget_per_run`) or the org is down to what is left to other apps
  (`budget_in_all`);
- Salesforce's own 403 REQUEST_LIMIT_EXCEEDED "TotalRequests Limit exceeded." is
  `BudgetExhausted` too, never retried; the concurrent long-request limit ("...
  ConcurrentRequests ...") is `RateLimited`, retried a few times like a 429.

A 401 INVALID_SESSION_ID (a session that timed out or was revoked) logs in again
once and repeats the call; with an access token from the settings there is
nothing to log in with, and the run stops with an `AuthError` saying so.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from connectors.bodies import read_whole
from connectors.errors import (
    ApiError,
    AuthError,
    BudgetExhausted,
    RateLimited,
    ServerError,
    TransportError,
    error_for_status,
)
from connectors.policy import CallPolicy, Clock, DailyBudget
from connectors.salesforce.auth import Session, client_for, first_session, login_for
from connectors.salesforce.settings import SalesforceSettings

if TYPE_CHECKING:
    import requests

SF = "salesforce"
_T = TypeVar("_T")
SF_TIMEOUT = 60.0
"""Seconds every request of the connector waits to connect, and then between bytes of
the answer (`timed`)."""


def first_error(content: Any) -> tuple[str, str]:
    """(errorCode, message) of Salesforce's error body `[{"errorCode", "message"}]`."""
    if isinstance(content, list) and content and isinstance(content[0], dict):
        first = content[0]
        return str(first.get("errorCode") or ""), str(first.get("message") or "")
    if isinstance(content, dict):
        return str(content.get("error") or ""), str(content.get("error_description") or "")
    return "", ""


def sf_error(
    operation: str, status: int | None, content: Any, retry_after: float | None
) -> ApiError:
    """The `ApiError` of a Salesforce error answer."""
    code, message = first_error(content)
    text = f"{code}: {message}" if code else (message or f"HTTP {status}")
    if code == "REQUEST_LIMIT_EXCEEDED" and status != 429:
        if "concurrent" in message.lower():
            return RateLimited(SF, operation, text, status=status, retry_after=retry_after)
        return BudgetExhausted(SF, operation, text, status=status)
    cls = error_for_status(status)
    return cls(SF, operation, text, status=status, retry_after=retry_after)


def timed(http: requests.Session, seconds: float = SF_TIMEOUT) -> requests.Session:
    """`http`, every request it sends given `seconds` to connect and to answer unless it
    names a timeout of its own. simple-salesforce's login (`SalesforceLogin`) and its
    Bulk API 2.0 client pass none to requests, which then waits for ever on a host that
    takes the connection and never answers; so the session's `send` (which every request
    of a session goes through, redirects included) sets one, and the adapters mounted on
    it (the sandbox's) stay as they are. Timing a session twice changes nothing. An answer
    not asked for as a stream is read whole at once (`connectors.bodies.read_whole`)."""
    if getattr(http, "leadscore_timeout", None) is not None:
        return http
    send = http.send

    def send_timed(request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = seconds
        if kwargs.get("stream"):
            return send(request, **kwargs)
        kwargs["stream"] = True  # and the body read whole (`connectors.bodies`)
        answered: requests.Response = read_whole(send(request, **kwargs))
        return answered

    http.send = send_timed  # type: ignore[method-assign]
    http.leadscore_timeout = seconds  # type: ignore[attr-defined]
    return http


def as_sent(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """A session's `auth` that leaves a request as simple-salesforce made it. Without one,
    requests looks up ~/.netrc for every request of a session that trusts its environment,
    a file read per call (a tenth of a collection update's time in the client), and would
    put a Basic header found there over the session's Bearer token."""
    return request


class SalesforceApi:
    """One org's client, each call paced, counted, retried, and logged in again once."""

    def __init__(
        self,
        settings: SalesforceSettings,
        *,
        http: requests.Session | None = None,
        policy: CallPolicy | None = None,
        clock: Clock | None = None,
        seed: int | None = None,
    ) -> None:
        import requests

        self.settings = settings
        self.http = timed(http or requests.Session())
        if self.http.auth is None:
            self.http.auth = as_sent
        self.http.hooks["response"].append(self._heard)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._budget_lock = threading.Lock()
        self._login = login_for(settings, self.http)
        self.policy = policy or CallPolicy(SF, clock=clock, seed=seed)
        self.shares = (settings.budget_per_run, settings.budget_in_all)
        self._sf: Any = None
        self._session = first_session(settings)
        self.logins = 0

    # -- the client and its session ------------------------------------------------------

    @property
    def sf(self) -> Any:
        """The simple-salesforce client, logging in first when there is no session yet."""
        with self._lock:
            if self._sf is None:
                if self._session is None:
                    self._session = self._log_in()
                self._sf = client_for(self._session, self.http, self.settings.api_version)
            return self._sf

    def _log_in(self) -> Session:
        """A new session, under the policy: a login refused is not retried, a login the
        network or Salesforce's servers failed is."""
        login = self._login
        assert login is not None
        self.logins += 1
        return self.policy.call("login", login, self.translate("login"))

    def _renew(self, stale: Any) -> bool:
        """A new session after a 401, unless another thread renewed it already; False
        when the settings give no way to log in."""
        if self._login is None:
            return False
        with self._lock:
            if self._sf is stale:
                self._session = self._log_in()
                self._sf = client_for(self._session, self.http, self.settings.api_version)
        return True

    @property
    def instance(self) -> str:
        return str(self.sf.sf_instance)

    # -- calls -----------------------------------------------------------------------------

    def call(self, operation: str, fn: Callable[[Any], _T], *, repeatable: bool = True) -> _T:
        """`fn(client)` under the call policy; a 401 logs in again once and repeats it.
        `repeatable=False`: not tried again after a failure that may have carried it out
        (`CallPolicy.call`); the repeat after a 401 stays (the request was refused)."""
        client = self.sf
        try:
            return self.policy.call(
                operation, lambda: fn(client), self.translate(operation), repeatable=repeatable
            )
        except AuthError as refused:
            if refused.status != 401:
                raise
            if not self._renew(client):
                raise AuthError(
                    SF,
                    operation,
                    "the access token expired or was revoked; set a new "
                    "LEADSCORE_SALESFORCE__ACCESS_TOKEN, or a login flow that can renew it",
                    status=401,
                ) from None
        renewed = self.sf
        return self.policy.call(
            operation, lambda: fn(renewed), self.translate(operation), repeatable=repeatable
        )

    def rest(self, operation: str, path: str, method: str = "GET", **kwargs: Any) -> Any:
        """One REST call below /services/data/vXX.X/, its JSON answer."""
        return self.call(operation, lambda sf: sf.restful(path, method=method, **kwargs))

    def send(
        self,
        operation: str,
        path: str,
        method: str = "GET",
        *,
        repeatable: bool = True,
        **kwargs: Any,
    ) -> Any:
        """One call below /services/data/vXX.X/ whose answer is not JSON (a CSV upload or
        result set): the `requests.Response`, raised as simple-salesforce raises on errors."""
        return self.call(
            operation,
            lambda sf: sf._call_salesforce(method, sf.base_url + path, name=path, **kwargs),
            repeatable=repeatable,
        )

    def query_page(
        self, operation: str, soql: str | None, next_url: str | None, deleted: bool = False
    ) -> Any:
        """One page of a query (`soql`), or the next page of one (`next_url`); `deleted`
        asks queryAll, which answers deleted and merged-away records too (its
        `nextRecordsUrl` goes on with the queryAll)."""
        if next_url is not None:
            return self.call(
                operation,
                lambda sf: sf.query_more(next_url, identifier_is_url=True),
            )
        return self.call(operation, lambda sf: sf.query(soql, include_deleted=deleted))

    def tooling(self, operation: str, path: str, body: dict[str, Any]) -> Any:
        """One POST to the Tooling API."""
        return self.call(
            operation,
            lambda sf: sf.toolingexecute(path, method="POST", data=body),
        )

    # -- the daily budget ------------------------------------------------------------------

    def start_run(self) -> None:
        """A run begins: the org's allocation is read from /limits and this run's share of
        it starts afresh (before that read, which the last run's spent share would refuse)."""
        if self.policy.budget is not None:
            self.policy.budget.start_run()
        limits = self.call("limits", lambda sf: sf.limits(timeout=SF_TIMEOUT))
        daily = (limits or {}).get("DailyApiRequests") or {}
        most, left = daily.get("Max"), daily.get("Remaining")
        budget = self.policy.budget
        if isinstance(most, int) and budget is not None and budget.limit != most:
            self.policy.budget = None  # the org's allocation changed (licences bought)
        if isinstance(most, int):
            budget = self._budget(most)
        if budget is not None:
            budget.start_run()
            if isinstance(left, int):
                budget.observe(left)

    def _heard(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        """Every answer: Salesforce's count of the day's requests, and a Retry-After."""
        self._local.retry_after = response.headers.get("Retry-After")
        usage = response.headers.get("Sforce-Limit-Info", "")
        for part in usage.split(";"):
            name, _, value = part.strip().partition("=")
            used, _, most = value.partition("/")
            if name == "api-usage" and used.isdigit() and most.isdigit():
                self._budget(int(most)).observe(int(most) - int(used))

    def _budget(self, limit: int) -> DailyBudget:
        """The daily budget, made on the first word of the org's allocation."""
        with self._budget_lock:
            if self.policy.budget is None:
                shares = {"per_run": self.shares[0], "in_all": self.shares[1]}
                self.policy.budget = DailyBudget(limit, **shares)
            return self.policy.budget

    def retry_after(self) -> float | None:
        raw = getattr(self._local, "retry_after", None)
        try:
            return float(raw) if raw is not None else None
        except ValueError:
            return None

    def translate(self, operation: str) -> Callable[[Exception], ApiError | None]:
        return sf_translate(operation, self.retry_after)


def sf_translate(
    operation: str, retry_after: Callable[[], float | None] = lambda: None
) -> Callable[[Exception], ApiError | None]:
    """simple-salesforce's and requests' failures as `ApiError`s, without secrets."""

    def to_error(exc: Exception) -> ApiError | None:
        import requests
        from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceError

        if isinstance(exc, ApiError):
            return exc
        if isinstance(exc, SalesforceAuthenticationFailed):
            code = getattr(exc, "code", None) or "login refused"
            if isinstance(code, int) and not 400 <= code < 500:
                # Not an OAuth refusal: simple-salesforce puts the HTTP status here when the
                # answer was no JSON, a server's error page or a reply cut off mid-body.
                if code >= 500:
                    return ServerError(SF, operation, f"HTTP {code} at login", status=code)
                return TransportError(SF, operation, "login answer cut off (unreadable JSON)")
            content = (
                exc.content.decode("utf-8", "replace") if isinstance(exc.content, bytes) else ""
            )
            return AuthError(SF, operation, f"{code}: {content}".rstrip(": "), status=None)
        if isinstance(exc, SalesforceError):
            return sf_error(operation, exc.status, exc.content, retry_after())
        if isinstance(exc, requests.RequestException):
            host = unreachable(exc)
            if host:
                return TransportError(SF, operation, f"cannot reach {host}")
            return TransportError(SF, operation, f"no answer ({type(exc).__name__})")
        if isinstance(exc, ValueError) and "JSON" in type(exc).__name__:
            return TransportError(SF, operation, "answer cut off (unreadable JSON)")
        return None

    return to_error


def unreachable(exc: Exception) -> str | None:
    """The host a request could not connect to at all (its name unknown, the connection
    refused or never made); None for other failures, an answer cut off among them."""
    from urllib.parse import urlsplit

    import requests
    from urllib3.exceptions import NewConnectionError

    if not isinstance(exc, requests.ConnectionError) or exc.request is None:
        return None
    reason = getattr(exc.args[0] if exc.args else None, "reason", None)
    if not isinstance(reason, NewConnectionError):
        return None
    return urlsplit(str(exc.request.url)).hostname
