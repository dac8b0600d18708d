"""`/report`: the HTML report of the state store, read-only, behind a token.

    no token configured (LEADSCORE_REPORT_TOKEN)   404, as for a path that does not exist
    not GET or HEAD                                405
    no token, or another, in the request           401 (WWW-Authenticate: Bearer)
    a bad `outcome` or `within_days`               400, with the reason
    nobody in the store yet                        503, as `leadscore report` refuses
    HEAD                                           200 and the headers, no page built
    else                                           200, the page `leadscore report
                                                   --from-store` writes

`?outcome=won|customer|stage:NAME` (and `within_days=N`, 1 to 3650, default 90) adds the
backtest's charts against what the store recorded, as `--outcome` and `--within-days` of
the command do. A refusal asked for by a browser (`Accept: text/html`) is a short HTML
page; else JSON, as every other endpoint answers.

The token comes as `Authorization: Bearer TOKEN` or `?token=TOKEN` (for a link a person
opens in a browser) and is compared in constant time. The page is built by
`sync.report_data.store_report` and `sync.report_html.report_page`, the same as the
command's, and kept for `FRESH` seconds: a page reloaded in a meeting scores the store
once. It reads the store and writes nothing. Without Plotly (the `report` extra, left
out of the Lambda zip for its size) the answer is 503 with that reason.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sync.web.messages import Refused, WebhookRequest, WebhookResponse

if TYPE_CHECKING:
    from sync.app import Leadscore
    from sync.settings import Settings

PATH = "/report"
FRESH = 60.0
"""Seconds a page built is answered again before the store is scored anew."""
HEADERS = {
    "content-type": "text/html; charset=utf-8",
    "cache-control": "no-store",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "content-security-policy": "frame-ancestors 'none'",
}
"""A token in the URL is sent to no other site (no referrer) and kept in no cache."""


def token_given(request: WebhookRequest) -> str | None:
    """The token of the request: its bearer credentials, else its `token` parameter."""
    header = request.header("authorization") or ""
    scheme, _, credentials = header.strip().partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.params().get("token") or None


def allowed(request: WebhookRequest, settings: Settings) -> None:
    """Refuse the request unless a token is configured and the request carries it."""
    configured = settings.report_token
    if configured is None or not configured.get_secret_value():
        raise Refused(404, "no such endpoint")
    if request.method not in ("GET", "HEAD"):
        raise Refused(405, "use GET or HEAD", allow="GET, HEAD")
    given = token_given(request)
    expected = configured.get_secret_value().encode("utf-8")
    if given is None or not hmac.compare_digest(given.encode("utf-8"), expected):
        raise Refused(401, "a report token is needed", challenge='Bearer realm="leadscore"')


Asked = tuple[str | None, int | None]
"""The outcome and the days after the score date a request asks for (None: not given)."""


def asked_for(request: WebhookRequest) -> Asked:
    """The request's `outcome` and `within_days`; 400 for values the command refuses too
    (the outcome's name is checked against the rules when the page is built)."""
    params = request.params()
    outcome = params.get("outcome", "").strip() or None
    days_text = params.get("within_days", "").strip()
    if not days_text:
        return outcome, None
    if outcome is None:
        raise Refused(400, "within_days needs outcome (won, customer or stage:NAME)")
    if not days_text.isdigit() or not 1 <= int(days_text) <= 3650:
        raise Refused(400, f"within_days {days_text[:20]!r}: expected a whole number, 1 to 3650")
    return outcome, int(days_text)


def browser_page(refused: Refused) -> WebhookResponse:
    """A refusal as a short HTML page, headers kept, for a person at a browser."""
    from html import escape  # here: a webhook's answer has no page (html.entities is big)

    answer = refused.response()
    reason = escape(refused.reason)
    body = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{refused.status}</title></head><body><h1>{refused.status}</h1>"
        f"<p>{reason}</p></body></html>\n"
    )
    headers = {**answer.headers, **HEADERS}
    return WebhookResponse(refused.status, headers, body.encode("utf-8"))


class ReportPage:
    """The pages of the store, each (outcome, days) built on first ask and kept for
    `FRESH` seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._pages: dict[Asked, tuple[float, bytes]] = {}

    def respond(
        self,
        request: WebhookRequest,
        settings: Settings,
        app: Callable[[], Leadscore],
        now: Callable[[], float],
    ) -> WebhookResponse:
        try:
            return self._answer(request, settings, app, now)
        except Refused as refused:
            if "text/html" not in (request.header("accept") or ""):
                raise
            return browser_page(refused)

    def _answer(
        self,
        request: WebhookRequest,
        settings: Settings,
        app: Callable[[], Leadscore],
        now: Callable[[], float],
    ) -> WebhookResponse:
        allowed(request, settings)
        asked = asked_for(request)
        if request.method == "HEAD":  # the headers a GET would have, and no store read
            return WebhookResponse(200, dict(HEADERS))
        with self._lock:  # one build at a time; the others wait for it and take it
            kept = self._pages.get(asked)
            if kept is None or self._clock() - kept[0] > FRESH:
                self._pages = {
                    k: v for k, v in self._pages.items() if self._clock() - v[0] <= FRESH
                }
                kept = (self._clock(), build_page(app(), now(), asked))
                self._pages[asked] = kept
        return WebhookResponse(200, dict(HEADERS), kept[1])


def build_page(app: Leadscore, now: float, asked: Asked = (None, None)) -> bytes:
    """The report page of the application's store as of `now` (epoch seconds), against
    the outcome `asked` when one is."""
    try:
        from sync.report_html import report_page
    except ModuleNotFoundError:
        raise Refused(503, "the report needs Plotly: install leadscore[report]") from None
    from sync.from_store import EMPTY
    from sync.report_data import store_report
    from sync.report_store import store_outcome_report

    if app.store.counts()["persons"] == 0:
        raise Refused(503, EMPTY)
    moment = datetime.fromtimestamp(now, UTC)
    outcome, days = asked
    if outcome is None:
        return report_page(store_report(app, made_at=moment), web=True).encode("utf-8")
    try:
        data = store_outcome_report(app, outcome, days, moment)
    except ValueError as exc:
        raise Refused(400, str(exc).replace("--outcome ", "outcome ")) from None
    return report_page(data, web=True).encode("utf-8")
