"""The webhook core: a request in, an answer out, with no web framework in between.

    WebhookRequest --size--> route --endpoint.ask--> Ask --rescore each record--> endpoint.answer
       |                |           |                  |
      413              404/405    401/400/409...     404 unknown contact, 429 Retry-After,
                                                     202 queued, 503 a system not answering

Every adapter (`sync.web.asgi` under uvicorn, `sync.web.aws` for Lambda,
`sync.web.gcp` for Cloud Functions) builds a `WebhookRequest` and hands it to one
`WebhookCore.handle`, so they cannot disagree. A record is rescored through
the sync's own pipeline (`sync.trigger.rescore_record`: fetch, store, score,
diff, write), one at a time per record in a process (`Flights`) and per record
across processes (the record lock). Each request is answered within its
caller's timeout: what is not done by then is queued in the store for the
running or next sync, and answered `queued`. Calls that would wait for a rate
limit past that time give up (`connectors.policy.patience`), and the caller is
told to come back (429 with Retry-After): HubSpot's workflows retry then.

The application (settings, rule file, connectors, store) is opened on the first
request that needs it and kept for the life of the process, so a warm serverless
instance or a server pays for it once; `/healthz` and refusals never open it.
Nothing a caller sent is logged but the endpoint, the status and the reason.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from contextvars import ContextVar
from dataclasses import replace
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sync.web.endpoint import Ask, Context, Endpoint, Outcome
from sync.web.flights import Flights
from sync.web.messages import (
    BODY_LIMIT,
    Refused,
    WebhookRequest,
    WebhookResponse,
    json_response,
    text_response,
)
from sync.web.metrics import CONTENT_TYPE, Metrics
from sync.web.report import PATH as REPORT_PATH
from sync.web.report import ReportPage

if TYPE_CHECKING:
    from sync.app import Leadscore
    from sync.settings import Settings
    from sync.trigger import Rescored

log = logging.getLogger("leadscore.web")

_until: ContextVar[float | None] = ContextVar("leadscore_request_until", default=None)
"""When (on `time.monotonic`) the request being handled must have its answer."""

MARGIN = 0.25
"""The share of a caller's timeout kept back: the answer must reach it in time."""
OPEN_FAILED_FOR = 30.0
"""Seconds a failed opening of the application is answered from memory, not tried again."""
WORKERS = 32
"""Rescores at work (or waiting on another of their record) at once in a process; the
call policies pace what reaches each system."""


def refusal_for(error: BaseException, system: str) -> Refused:
    """The status a caller gets for a rescore that failed so, and a reason it can read."""
    from connectors.errors import (
        ApiError,
        AuthError,
        BudgetExhausted,
        RateLimited,
        RejectedError,
    )
    from sync.errors import BadRecord, RecordGone, RecordNotFound, SyncError

    if isinstance(error, RecordGone):
        return Refused(410, f"{system} deleted that contact; it was retired")
    if isinstance(error, RecordNotFound):
        return Refused(404, f"{system} has no such contact")
    if isinstance(error, BadRecord):
        return Refused(400, str(error))
    if isinstance(error, BudgetExhausted):
        return Refused(
            429,
            f"the {system} API budget for today is spent",
            retry_after=error.retry_after or 3600,
        )
    if isinstance(error, RateLimited):
        return Refused(
            429, f"{system} is rate limiting leadscore", retry_after=error.retry_after or 10
        )
    if isinstance(error, AuthError):
        return Refused(502, f"{system} refused leadscore's credentials")
    if isinstance(error, RejectedError):
        return Refused(502, f"{system} refused leadscore's call {error.operation}")
    if isinstance(error, ApiError):
        return Refused(503, f"{system} did not answer", retry_after=60)
    if isinstance(error, SyncError):
        return Refused(503, f"leadscore is not ready: {error}", retry_after=300)
    raise error


class WebhookCore:
    """Answers webhook requests for the endpoints given (every one by default)."""

    def __init__(
        self,
        settings: Settings,
        *,
        endpoints: Sequence[Endpoint] | None = None,
        open_app: Callable[[Settings], Leadscore] | None = None,
        now: Callable[[], float] = time.time,
        workers: int = WORKERS,
    ) -> None:
        from sync.web.routes import Routes

        self.settings = settings
        self.endpoints: Mapping[str, Endpoint] = (
            {e.path: e for e in endpoints} if endpoints else Routes()
        )
        self.metrics = Metrics()
        self.now = now
        self._open = open_app
        self._app: Leadscore | None = None
        self._opening = threading.Lock()
        self._open_failed: tuple[float, Refused] | None = None
        self._checked: tuple[Future[None], float] | None = None
        self._checking = threading.Lock()
        self._flights: Flights[Rescored] = Flights()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="leadscore-trigger")
        self._report = ReportPage()
        self.context = Context(
            settings,
            now,
            self._first_seen,
            (settings.public_url or "").rstrip("/"),
            forget=self._forget,
        )

    # -- the application, opened once ----------------------------------------------------------

    def app(self) -> Leadscore:
        """The application, opened on first use within the request's time (503 when it
        cannot be; a failure is remembered for `OPEN_FAILED_FOR` seconds), its setup check
        begun beside (`_setup_checked`)."""
        opened = self._app
        if opened is not None:
            return opened
        left = time_left()
        if not self._opening.acquire(timeout=-1 if left is None else max(0.0, left)):
            raise Refused(503, "leadscore is still starting", retry_after=5)
        try:
            opened = self._app  # opened by another request while this one waited
            if opened is not None:
                return opened
            failed = self._open_failed
            if failed is not None and time.monotonic() - failed[0] < OPEN_FAILED_FOR:
                raise failed[1]
            from connectors.policy import patience
            from sync.app import Leadscore
            from sync.setup_memo import recall_features

            try:
                with patience(time_left() or OPEN_FAILED_FOR):
                    app = (self._open or (lambda s: Leadscore.open(s)))(self.settings)
                    recall_features(app, self.now)  # no probe its memo answers
                    self._begin_check(app)  # beside the request's own work from here on
            except Exception as exc:
                refused = refusal_for(exc, "leadscore")
                self._open_failed = (time.monotonic(), refused)
                raise refused from None
            self._app, self._open_failed = app, None
            return app
        finally:
            self._opening.release()

    def _begin_check(self, app: Leadscore) -> None:
        from sync.beside import beside
        from sync.setup_memo import check_ready_remembered

        def check() -> None:  # no calls when another process's check is remembered
            check_ready_remembered(app, self.now)

        self._checked = beside(check, "leadscore-setup-check"), time.monotonic()

    def _setup_checked(self, app: Leadscore) -> None:
        """Return once the process's setup check (begun as the application opened, two
        calls per system, none while a passed one is remembered: `sync.setup_memo`) has
        passed, or raise its error: each rescore waits for it beside its fetch, before it
        stores or writes anything. A check that failed is
        answered from memory for `OPEN_FAILED_FOR` seconds, then run again."""
        with self._checking:
            if self._checked is None:
                self._begin_check(app)
            assert self._checked is not None
            check, began = self._checked
            if (
                check.done()
                and check.exception() is not None
                and time.monotonic() - began >= OPEN_FAILED_FOR
            ):
                self._begin_check(app)
                check = self._checked[0]
        check.result()

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        with self._opening:
            if self._app is not None:
                self._app.close()
                self._app = None

    def _first_seen(self, keys: Sequence[str]) -> list[bool]:
        from sync.web.replay import first_seen

        return first_seen(self.app().store, keys, self.now())

    def _forget(self, keys: Sequence[str]) -> None:
        from sync.web.replay import forget

        forget(self.app().store, keys)

    # -- one request ---------------------------------------------------------------------------

    def handle(self, request: WebhookRequest, *, within: float | None = None) -> WebhookResponse:
        """The answer to `request`; never raises. `within` caps the seconds the caller
        waits (a gateway in front of the function, the function's own time left)."""
        began = time.perf_counter()
        request = self._under_public_root(request)
        path = request.path.rstrip("/") or "/"
        endpoint = self.endpoints.get(path)
        name = endpoint.name if endpoint is not None else path.lstrip("/")
        if name not in ("healthz", "metrics", "report") and endpoint is None:
            name = "none"
        wait = endpoint.timeout if endpoint is not None else 10.0
        if within is not None:
            wait = min(wait, within)
        token = _until.set(time.monotonic() + max(0.5, wait * (1 - MARGIN)))
        try:
            response = self._handle(request, path, endpoint)
        except Refused as refused:
            response = refused.response() if endpoint is None else endpoint.refused(refused)
            log.warning(
                "webhook refused",
                extra={"endpoint": name, "status": refused.status, "reason": refused.reason},
            )
        except Exception as exc:  # never a traceback to the caller, never its text in a log
            log.error("webhook failed", extra={"endpoint": name, "error": type(exc).__name__})
            response = json_response(500, {"error": "leadscore failed; see its log"})
        finally:
            _until.reset(token)
        took = time.perf_counter() - began
        self.metrics.answered(name, response.status, took)
        log.info(
            "webhook answered",
            extra={"endpoint": name, "status": response.status, "ms": round(took * 1000, 1)},
        )
        return response

    def _under_public_root(self, request: WebhookRequest) -> WebhookRequest:
        """`request` with the path of the configured public URL taken off the front of its
        own where what follows is a route: a gateway's custom domain that maps a base path
        (`https://hooks.example.com/leadscore` -> `/leadscore/hubspot`) may hand it over
        whole, and a signature covers the public URL followed by the route."""
        root = urlsplit(self.context.public_url).path.rstrip("/")
        path = request.path.rstrip("/")
        if not root or not path.startswith(root + "/") or path in self.endpoints:
            return request
        route = path[len(root) :]
        if route in self.endpoints or route in ("/healthz", "/metrics", REPORT_PATH):
            return replace(request, path=request.path[len(root) :])  # a trailing / is signed
        return request

    def _handle(
        self, request: WebhookRequest, path: str, endpoint: Endpoint | None
    ) -> WebhookResponse:
        if len(request.body) > BODY_LIMIT:
            raise Refused(413, "the body is over 1 MB")
        if path == "/healthz":
            self._allow(request, frozenset({"GET", "HEAD"}))
            return json_response(200, {"status": "ok"})
        if path == "/metrics":
            self._allow(request, frozenset({"GET"}))
            return text_response(200, self.metrics.text(), CONTENT_TYPE)
        if path == REPORT_PATH:
            return self._report.respond(request, self.settings, self.app, self.now)
        if endpoint is None or not endpoint.configured(self.settings):
            raise Refused(404, "no such endpoint")
        self._allow(request, endpoint.methods)
        asked = endpoint.ask(request, self.context)
        if isinstance(asked, WebhookResponse):
            return asked
        if asked.gone:
            self.retire(asked)
        outcomes = self.rescore(asked)
        if asked.if_missing:
            self.retire_missing(asked, outcomes)
        return endpoint.answer(asked, outcomes)

    @staticmethod
    def _allow(request: WebhookRequest, methods: frozenset[str]) -> None:
        if request.method not in methods:
            raise Refused(
                405, f"use {' or '.join(sorted(methods))}", allow=", ".join(sorted(methods))
            )

    # -- the rescores ----------------------------------------------------------------------------

    def retire(self, ask: Ask) -> None:
        """The records `ask` reports deleted, retired through the sync's own store function."""
        from datetime import UTC, datetime

        from sync.vanished import record_gone

        reported = [(g.record_id, g.merged_into) for g in ask.gone]
        erased = {g.record_id for g in ask.gone if g.for_good}
        at = datetime.fromtimestamp(self.now(), UTC)
        record_gone(self.app().store, ask.system, reported, at, for_good=erased)
        log.info(
            "webhook retired records",
            extra={"system": ask.system, "retired": len(reported), "erased": len(erased)},
        )

    def retire_missing(self, ask: Ask, outcomes: Sequence[Outcome]) -> None:
        """The records whose rescore found the system has none (404), retired as a write
        that found them gone would, with what `ask.if_missing` says goes with them."""
        from datetime import UTC, datetime

        from sync.vanished import retire_address

        at = datetime.fromtimestamp(self.now(), UTC)
        for outcome in outcomes:
            missing = ask.if_missing.get(outcome.record_id)
            if missing is None or outcome.refused is None or outcome.refused.status != 404:
                continue
            store = self.app().store
            retired = retire_address(store, ask.system, missing.email, missing.prefix,
                                     missing.where, at)  # fmt: skip
            log.info("webhook retired records", extra={"system": ask.system,
                                                       "retired": len(retired)})  # fmt: skip

    def rescore(self, ask: Ask) -> list[Outcome]:
        """Each record of `ask` rescored, side by side, before the request's time is up
        (three quarters of its caller's timeout from its arrival); a record not done by
        then is queued for the sync and answered `queued`. A rescore not yet begun is
        called off; one at work goes on and writes (the queue entry, dated the request's
        arrival, does not make it fetch again)."""
        if not ask.records:
            return []
        asked_at = self.now()
        app = self.app()
        within = time_left() or 0.0
        futures = [
            self._pool.submit(self._one, app, ask.system, r, within, asked_at) for r in ask.records
        ]
        wait_for(futures, timeout=within)
        outcomes = []
        for record, future in zip(ask.records, futures, strict=True):
            if future.done() and not future.cancelled():
                outcomes.append(future.result())
            else:
                future.cancel()
                outcomes.append(Outcome(record, self._queued(app, ask.system, record, asked_at)))
        return outcomes

    def _one(
        self, app: Leadscore, system: str, record: str, within: float, asked_at: float
    ) -> Outcome:
        from connectors.policy import patience
        from sync.locks import LockLost
        from sync.trigger import Rescored, rescore_record

        def checked() -> None:
            self._setup_checked(app)

        try:
            with patience(within):
                result = self._flights.run(
                    (system, record),
                    lambda: rescore_record(app.job, system, record, prepare=checked),
                )
                if result.status == "busy":
                    # Another process is at it. Queued (dated this ask), then tried once
                    # more: a holder that let go before it saw the entry did not take it.
                    self._queued(app, system, record, asked_at)
                    result = rescore_record(app.job, system, record, prepare=checked)
        except LockLost as lost:  # paused as long as its lock lasts: queued, nothing written
            log.warning("trigger left to the next sync", extra={"system": system,
                                                                "reason": str(lost)})  # fmt: skip
            return Outcome(record, Rescored(system, record, "queued"))
        except Exception as exc:
            refused = refusal_for(exc, system)
            log.warning(
                "trigger not rescored",
                extra={"system": system, "status": refused.status, "reason": refused.reason},
            )
            return Outcome(record, refused=refused)
        if result.status == "busy":  # the holder takes the entry after its rescore
            result = replace(result, status="queued")
        if result.failed:  # a field deleted since the check, perhaps: the next start checks
            from sync.setup_memo import forget_check

            try:
                forget_check(app)
            except Exception as exc:  # the answer stands; the kept check ends within the hour
                log.warning("setup check not forgotten", extra={"error": type(exc).__name__})
        self.metrics.wrote(system, sum(map(len, result.written.values())), len(result.failed))
        return Outcome(record, result)

    @staticmethod
    def _queued(app: Leadscore, system: str, record: str, asked_at: float) -> Rescored:
        from sync.trigger import Rescored, enqueue

        enqueue(app.store, system, record, at=asked_at)
        return Rescored(system, record, "queued")


def time_left() -> float | None:
    """Seconds left before the request being handled must be answered (None: no request)."""
    until = _until.get()
    return None if until is None else max(0.0, until - time.monotonic())
