"""HubSpot's API as the connector calls it: the SDK's clients under one call policy.

Talks to HubSpot through `hubspot-api-client` (imported here only, lazily) for
the CRM and events APIs, and through one urllib3 pool (the SDK's own HTTP library, so
a trigger's cold start imports no other) for plain GETs read as JSON: the legacy
marketing email events, form submissions and contact profile APIs, which the SDK has
no typed client for, and the forms and deal pipelines lists, whose SDK packages (their
models and their own API clients) a trigger's cold start would otherwise import for
one GET each. urllib3's own retries
inside the SDK are switched off: `connectors.policy.CallPolicy` owns every
retry, paces calls to the portal's 10-second window and search's per-second
limit, and counts them. Failures become `ApiError`s without secrets.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from connectors.errors import (
    ApiError,
    BudgetExhausted,
    TransportError,
    error_for_status,
    register_secret,
)
from connectors.hubspot.limits import hubspot_daily_budget, hubspot_limits
from connectors.hubspot.records import SYSTEM
from connectors.policy import CallPolicy, Clock, DailyBudget

DEFAULT_HOST = "https://api.hubapi.com"
TIMEOUT = 30.0
OBJECT_KINDS = ("meetings", "calls", "emails", "deals")
CONTACT_KIND = "contacts"
LEGACY_CONNECTIONS = 10
"""Connections kept to the legacy APIs (a trigger's profile and email events side by side)."""
FACTS_KEPT = 600.0
"""Seconds a portal's forms and deal stages are kept for triggers (`HubSpotApi.remembered`):
a form or stage made since is read again when an answer names it."""
Fact = TypeVar("Fact")


def translate(operation: str) -> Callable[[Exception], ApiError | None]:
    """Turn the SDK's and urllib3's failures into `ApiError`s, without secrets."""

    def to_error(exc: Exception) -> ApiError | None:
        import urllib3

        if isinstance(exc, ApiError):
            return exc
        if isinstance(exc, urllib3.exceptions.HTTPError):
            # urllib3 wraps the cause (refused, reset, timed out) in MaxRetryError.
            cause = getattr(exc, "reason", None) or exc
            return TransportError(SYSTEM, operation, f"no answer ({type(cause).__name__})")
        status = getattr(exc, "status", None)
        if type(exc).__name__.endswith("Exception") and type(exc).__module__.startswith("hubspot"):
            body = getattr(exc, "body", None)
            headers = getattr(exc, "headers", None) or {}
            return http_error(operation, status or None, body, headers)
        return None

    return to_error


def http_error(
    operation: str, status: int | None, body: Any, headers: Mapping[str, str]
) -> ApiError:
    """An `ApiError` from a HubSpot error answer: its message and category, its Retry-After."""
    message, policy = "no answer", None
    try:
        data = json.loads(body) if body else {}
        message = str(data.get("message") or data.get("category") or message)
        message = named_problems(message, data.get("errors")) or message
        policy = data.get("policyName")
        if policy:
            message = f"{message} ({policy})"
    except (ValueError, AttributeError, TypeError):
        message = f"HTTP {status}"
    retry_after = None
    raw = {k.lower(): v for k, v in dict(headers).items()}.get("retry-after")
    if raw is not None:
        try:
            retry_after = float(raw)
        except ValueError:
            retry_after = None
    # The daily limit resets at midnight: waiting for it is not a retry.
    cls = BudgetExhausted if policy == "DAILY" else error_for_status(status)
    return cls(SYSTEM, operation, message, status=status, retry_after=retry_after)


INVALID_VALUES = "Property values were not valid: "
PROBLEM_TEXT = 120


def named_problems(message: str, errors: Any) -> str | None:
    """A refusal of property values said property by property, names first, so that the
    names survive when a long message is cut to fit a log line or the store.

    HubSpot puts the problems in the message as JSON after "Property values were not
    valid: " (each with `name`, `error` and `message`), and in the v3 error model's
    `errors[]` with `context.propertyName`. None when neither names a property.
    """
    found: dict[str, tuple[str, str]] = {}

    def said(detail: Mapping[str, Any], code: str) -> tuple[str, str]:
        return str(detail.get(code) or ""), str(detail.get("message") or "")

    if message.startswith(INVALID_VALUES):
        try:
            listed = json.loads(message[len(INVALID_VALUES) :])
        except ValueError:
            listed = None
        for item in listed if isinstance(listed, list) else []:
            if isinstance(item, dict) and item.get("name"):
                found[str(item["name"])] = (
                    str(item.get("error") or ""),
                    str(item.get("message") or ""),
                )
    for error in errors if isinstance(errors, list) else []:
        detail = error if isinstance(error, dict) else getattr(error, "to_dict", dict)()
        context = detail.get("context") or {}
        for name in context.get("propertyName") or []:
            found.setdefault(
                str(name), (str(detail.get("code") or ""), str(detail.get("message") or ""))
            )
    if not found:
        return None
    named = [
        f"{name} ({code}): {text[:PROBLEM_TEXT]}" if code else f"{name}: {text[:PROBLEM_TEXT]}"
        for name, (code, text) in found.items()
    ]
    return "invalid property values: " + "; ".join(named)


def raw_json(operation: str, answer: Any, budget: DailyBudget | None = None) -> dict[str, Any]:
    """The JSON of an SDK call made with `_preload_content=False` (skipping its model classes,
    which cost more time than the network on large pages); HubSpot's count of the day's
    remaining requests goes to `budget`, since other apps of the portal spend it too.

    Reading the body is part of the call: it must run inside the policy's attempt, so that
    a reply cut off mid-body (or a read timeout) is retried like one that never came."""
    try:
        data: dict[str, Any] = json.loads(answer.data)
        remaining = answer.headers.get("X-HubSpot-RateLimit-Daily-Remaining")
    except ValueError as unreadable:  # a body cut short where its length was not announced
        raise TransportError(SYSTEM, operation, "answer cut off (unreadable JSON)") from unreadable
    finally:
        answer.release_conn()
    if budget is not None and remaining is not None and str(remaining).isdigit():
        budget.observe(int(remaining))
    return data


class ObjectApis(Mapping[str, Any]):
    """One SDK API (`basic_api`, `search_api`, `batch_api`) for each kind of CRM object in
    `OBJECT_KINDS`, made on first use and kept (see `HubSpotApi`). Each is the SDK's
    generic objects API bound to its kind (`OfKind`): it calls the same endpoints as the
    SDK's package of that kind (`/crm/v3/objects/{objectType}/...`), and a fetch that
    reads four kinds imports one package of models, not four."""

    def __init__(self, client: Any, api: str) -> None:
        self._client, self._api = client, api
        self._made: dict[str, OfKind] = {}
        self._lock = threading.Lock()

    def __getitem__(self, kind: str) -> OfKind:
        if kind not in OBJECT_KINDS:
            raise KeyError(kind)
        return self.of(kind)

    def of(self, kind: str) -> OfKind:
        """The API bound to `kind`: one of `OBJECT_KINDS`, or `contacts` or `companies`,
        which the generic package serves at the same endpoints as the SDK's package of
        that kind (a Lambda package leaves those packages out: `sync.package`)."""
        with self._lock:
            if kind not in self._made:
                self._made[kind] = OfKind(getattr(self._client.crm.objects, self._api), kind)
            return self._made[kind]

    def __iter__(self) -> Iterator[str]:
        return iter(OBJECT_KINDS)

    def __len__(self) -> int:
        return len(OBJECT_KINDS)


class OfKind:
    """An API of the SDK's generic objects package with its `object_type` given: `read`,
    `get_page`, `do_search`... take the arguments of the same method of the kind's own
    package."""

    def __init__(self, api: Any, kind: str) -> None:
        self.api, self.kind = api, kind

    def __getattr__(self, name: str) -> Callable[..., Any]:
        return functools.partial(getattr(self.api, name), self.kind)


def environment_proxy(url: str) -> tuple[str, dict[str, str]] | None:
    """The proxy the environment names for `url` (`HTTPS_PROXY`/`HTTP_PROXY`, unless
    `NO_PROXY` covers its host), as `requests` reads them, and the `Proxy-Authorization`
    header its credentials make; None: go direct. urllib3, under the SDK and the legacy
    calls, reads no environment of its own."""
    from urllib.parse import unquote, urlsplit
    from urllib.request import getproxies, proxy_bypass

    parts = urlsplit(url)
    proxy = getproxies().get(parts.scheme) or getproxies().get("all")
    # host:port, so that an entry with a port matches as requests matches it
    if not proxy or proxy_bypass(parts.netloc.rpartition("@")[2]):
        return None
    import ipaddress
    import os

    try:
        address = ipaddress.ip_address(parts.hostname or "")
    except ValueError:
        address = None
    listed = os.environ.get("no_proxy") or os.environ.get("NO_PROXY") or ""
    for entry in (e.strip() for e in listed.split(",")):
        if address is not None and "/" in entry:  # a CIDR block, which urllib ignores
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return None
            except ValueError:
                continue
    named = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    if named.password is not None:  # as written, and as sent
        register_secret(named.password)
        register_secret(unquote(named.password))
    if named.username is None:
        return named.geturl(), {}
    from urllib3.util import make_headers

    bare = named._replace(netloc=named.netloc.rpartition("@")[2]).geturl()
    login = f"{unquote(named.username)}:{unquote(named.password or '')}"
    headers = make_headers(proxy_basic_auth=login)
    for value in headers.values():  # the login as sent is as secret as the password
        register_secret(value)
        register_secret(value.removeprefix("Basic "))
    return bare, headers


class HubSpotApi:
    """The SDK's API clients of one portal, each call paced, counted and retried."""

    def __init__(
        self,
        access_token: str,
        *,
        host: str | None = None,
        tier: str = "professional",
        policy: CallPolicy | None = None,
        clock: Clock | None = None,
        seed: int | None = None,
        budget_shares: tuple[float, float] | None = None,
    ) -> None:
        """`budget_shares`: the shares of the daily limit a run may spend and all apps may
        spend before runs stop calling (see `DailyBudget`); None: the whole limit."""
        import urllib3
        from hubspot import HubSpot
        from urllib3.util.retry import Retry

        self.host = (host or DEFAULT_HOST).rstrip("/")
        register_secret(access_token)  # a vendor error that echoes it never carries it on
        proxy = environment_proxy(self.host)
        # One layer owns retries: the SDK's urllib3 would otherwise retry 429s on its own.
        client = HubSpot(
            access_token=access_token,
            host=self.host,
            retry=Retry(total=0, raise_on_status=False),
            # None leaves the SDK's own default: direct
            proxy=proxy[0] if proxy else None,
            proxy_headers=proxy[1] if proxy and proxy[1] else None,
        )
        # The SDK builds a new API client (and connection pool) on every attribute access,
        # and the first access of each imports its whole package with all its models: each
        # client is made on first use and kept, so a trigger loads only the APIs it calls.
        self._client = client
        self.objects = ObjectApis(client, "basic_api")
        self.search = ObjectApis(client, "search_api")
        self.batches = ObjectApis(client, "batch_api")
        self._features: dict[str, bool] = {}
        self._features_lock = threading.Lock()
        self._feature_found: Callable[[str, bool], None] | None = None
        self._facts: dict[str, tuple[float, Any]] = {}
        self._facts_lock = threading.Lock()  # not the probes': one reads a whole forms list
        pool: Callable[..., Any] = urllib3.PoolManager
        if proxy:
            pool = functools.partial(urllib3.ProxyManager, proxy[0], proxy_headers=proxy[1])
        self._events = pool(
            maxsize=LEGACY_CONNECTIONS,
            headers={"Authorization": f"Bearer {access_token}"},
            # the call policy retries; a moved path is followed, as `requests` did (without
            # the token when it leads to another host: urllib3 drops Authorization then)
            retries=Retry(total=None, connect=0, read=0, status=0, other=0, redirect=5),
            timeout=TIMEOUT,
        )
        self.policy = policy or CallPolicy(
            SYSTEM,
            limits=hubspot_limits(tier, clock),
            budget=hubspot_daily_budget(
                tier,
                per_run=budget_shares[0] if budget_shares else None,
                in_all=budget_shares[1] if budget_shares else None,
            ),
            clock=clock,
            seed=seed,
        )

    # The contacts through the generic objects package too (`ObjectApis.of`): a trigger
    # that reads a contact's deals or engagements then imports one package of models.
    @functools.cached_property
    def contacts_basic(self) -> OfKind:
        return self.objects.of(CONTACT_KIND)

    @functools.cached_property
    def contacts_search(self) -> OfKind:
        return self.search.of(CONTACT_KIND)

    @functools.cached_property
    def contacts_batch(self) -> OfKind:
        return self.batches.of(CONTACT_KIND)

    @functools.cached_property
    def companies_batch(self) -> OfKind:
        return self.batches.of("companies")

    @functools.cached_property
    def companies_search(self) -> OfKind:
        return self.search.of("companies")

    @functools.cached_property
    def properties(self) -> Any:
        return self._client.crm.properties.core_api

    @functools.cached_property
    def groups(self) -> Any:
        return self._client.crm.properties.groups_api

    @functools.cached_property
    def associations(self) -> Any:
        return self._client.crm.associations.v4.batch_api

    @functools.cached_property
    def web_events(self) -> Any:
        return self._client.events.events_api

    def call(self, operation: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """`fn(*args, **kwargs)` under the call policy: paced, counted, retried."""
        return self.policy.call(
            operation, functools.partial(fn, *args, **kwargs), translate(operation)
        )

    def json(self, operation: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """A call whose answer is read as JSON rather than as the SDK's model classes."""

        def read() -> Any:
            answer = fn(*args, _request_timeout=TIMEOUT, _preload_content=False, **kwargs)
            return raw_json(operation, answer, self.policy.budget)

        return self.policy.call(operation, read, translate(operation))

    def email_events(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """One page of the legacy email events API."""
        return self.get("email.events", "/email/public/v1/events", params)

    def get(self, operation: str, path: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """One GET through the plain pool, under the policy, as JSON (parameters of None
        are left out)."""
        data: dict[str, Any] = self.call(operation, self._get_plain, operation, path, dict(params))
        return data

    def available(self, feature: str, probe: Callable[[], object]) -> bool:
        """Whether the portal gives `feature`: `probe()` once per connector (none for one
        `known_features` gave), False when it answers 403 (no such subscription or scope)
        or 404; any other failure is raised. What a probe finds is told (`known_features`)."""
        with self._features_lock:
            if feature not in self._features:
                try:
                    probe()
                    found = True
                except ApiError as refused:
                    if refused.status not in (403, 404):
                        raise
                    found = False
                self._found(feature, found)
            return self._features[feature]

    def known_features(
        self, known: Mapping[str, bool], found: Callable[[str, bool], None] | None = None
    ) -> None:
        """Take what earlier probes found (another process's, kept in the store), so that
        `available` makes no call for them; `found(feature, available)` is told each probe's
        answer and each change `refused` sees, to keep them."""
        with self._features_lock:
            self._features.update(known)
            self._feature_found = found

    def refused(self, feature: str, error: ApiError) -> bool:
        """Whether `error`, from a call of `feature`, says the portal no longer gives it
        (403, 404): if so the feature is taken as unavailable from now on, and told."""
        if error.status not in (403, 404):
            return False
        with self._features_lock:
            if self._features.get(feature, True):
                self._found(feature, False)
        return True

    def _found(self, feature: str, available: bool) -> None:
        self._features[feature] = available
        tell = self._feature_found
        if tell is not None:
            tell(feature, available)

    def remembered(self, fact: str, read: Callable[[], Fact], *, fresh: bool = False) -> Fact:
        """A fact of the portal (its forms, its deal stages) read once and kept for
        `FACTS_KEPT` seconds of the policy's clock, so a trigger's fetch does not ask again;
        `fresh` reads it again now (one the kept copy cannot answer). Two threads that
        both find it missing may both read it; either answer is kept."""
        now = self.policy.clock.now()
        with self._facts_lock:
            kept = self._facts.get(fact)
        if kept is not None and not fresh and now - kept[0] < FACTS_KEPT:
            value: Fact = kept[1]
            return value
        value = read()
        with self._facts_lock:
            self._facts[fact] = (now, value)
        return value

    def _get_plain(self, operation: str, path: str, params: Mapping[str, Any]) -> Any:
        given = {k: str(v) for k, v in params.items() if v is not None}  # as requests sent them
        answer = self._events.request("GET", f"{self.host}{path}", fields=given)
        if answer.status != 200:
            text = answer.data.decode("utf-8", "replace")
            raise http_error(operation, answer.status, text, dict(answer.headers))
        remaining = answer.headers.get("X-HubSpot-RateLimit-Daily-Remaining", "")
        if self.policy.budget is not None and remaining.isdigit():
            self.policy.budget.observe(int(remaining))
        try:
            return json.loads(answer.data)
        except ValueError:  # a body cut off: no answer, tried again as a dropped one is
            raise TransportError(SYSTEM, operation, "no answer (an unreadable body)") from None
