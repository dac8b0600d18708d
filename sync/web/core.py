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
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from sync.app import Leadscore
    from sync.settings import Settings
    from sync.trigger import Rescored

log = logging.getLogger("leadscore.web")

MARGIN = 0.25
"""The share of a caller's timeout kept back: the answer must reach it in time."""
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
    from sync.errors import BadRecord, RecordNotFound, SyncError

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
        from sync.web.routes import all_endpoints

        self.settings = settings
        self.endpoints = {e.path: e for e in (endpoints or all_endpoints())}
        self.metrics = Metrics()
        self.now = now
        self._open = open_app
        self._app: Leadscore | None = None
        self._opening = threading.Lock()
        self._flights: Flights[Rescored] = Flights()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="leadscore-trigger")
        self.context = Context(
            settings,
            now,
            self._first_seen,
            (settings.public_url or "").rstrip("/"),
            forget=self._forget,
        )

    # -- the application, opened once ----------------------------------------------------------

    def app(self) -> Leadscore:
        """The application, opened and checked on first use (503 when it cannot be)."""
        with self._opening:
            if self._app is None:
                from sync.app import Leadscore

                try:
                    app = (self._open or (lambda s: Leadscore.open(s)))(self.settings)
                    app.map_stages()
                    app.check_setup()
                except Exception as exc:
                    raise refusal_for(exc, "leadscore") from None
                self._app = app
            return self._app

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

    def handle(self, request: WebhookRequest) -> WebhookResponse:
        """The answer to `request`; never raises."""
        began = time.perf_counter()
        path = request.path.rstrip("/") or "/"
        endpoint = self.endpoints.get(path)
        name = endpoint.name if endpoint is not None else path.lstrip("/")
        if name not in ("healthz", "metrics") and endpoint is None:
            name = "none"
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
        took = time.perf_counter() - began
        self.metrics.answered(name, response.status, took)
        log.info(
            "webhook answered",
            extra={"endpoint": name, "status": response.status, "ms": round(took * 1000, 1)},
        )
        return response

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
        if endpoint is None or not endpoint.configured(self.settings):
            raise Refused(404, "no such endpoint")
        self._allow(request, endpoint.methods)
        asked = endpoint.ask(request, self.context)
        if isinstance(asked, WebhookResponse):
            return asked
        return endpoint.answer(asked, self.rescore(asked, endpoint.timeout))

    @staticmethod
    def _allow(request: WebhookRequest, methods: frozenset[str]) -> None:
        if request.method not in methods:
            raise Refused(
                405, f"use {' or '.join(sorted(methods))}", allow=", ".join(sorted(methods))
            )

    # -- the rescores ----------------------------------------------------------------------------

    def rescore(self, ask: Ask, timeout: float) -> list[Outcome]:
        """Each record of `ask` rescored, side by side, within `timeout` less a margin;
        a record not done by then is queued for the sync and answered `queued`."""
        if not ask.records:
            return []
        app = self.app()
        within = max(0.5, timeout * (1 - MARGIN))
        futures = [self._pool.submit(self._one, app, ask.system, r, within) for r in ask.records]
        wait_for(futures, timeout=within)
        outcomes = []
        for record, future in zip(ask.records, futures, strict=True):
            if future.done():
                outcomes.append(future.result())
            else:
                outcomes.append(Outcome(record, self._queued(app, ask.system, record)))
        return outcomes

    def _one(self, app: Leadscore, system: str, record: str, within: float) -> Outcome:
        from connectors.policy import patience
        from sync.trigger import rescore_record

        try:
            with patience(within):
                result = self._flights.run(
                    (system, record), lambda: rescore_record(app.job, system, record)
                )
        except Exception as exc:
            refused = refusal_for(exc, system)
            log.warning(
                "trigger not rescored",
                extra={"system": system, "status": refused.status, "reason": refused.reason},
            )
            return Outcome(record, refused=refused)
        if result.status == "busy":  # another process at it: it, or the next sync, takes this ask
            result = self._queued(app, system, record)
        self.metrics.wrote(system, sum(map(len, result.written.values())), len(result.failed))
        return Outcome(record, result)

    @staticmethod
    def _queued(app: Leadscore, system: str, record: str) -> Rescored:
        from sync.trigger import Rescored, enqueue

        enqueue(app.store, system, record)
        return Rescored(system, record, "queued")
