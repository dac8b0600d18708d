"""`/report`: the HTML report of the state store, read-only, behind a token.

    no token configured (LEADSCORE_REPORT_TOKEN)   404, as for a path that does not exist
    not GET or HEAD                                405
    no token, or another, in the request           401 (WWW-Authenticate: Bearer)
    else                                           200, the page `leadscore report
                                                   --from-store` writes

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


class ReportPage:
    """The page of the store, built on first ask and kept for `FRESH` seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._page: tuple[float, bytes] | None = None

    def respond(
        self,
        request: WebhookRequest,
        settings: Settings,
        app: Callable[[], Leadscore],
        now: Callable[[], float],
    ) -> WebhookResponse:
        allowed(request, settings)
        with self._lock:  # one build at a time; the others wait for it and take it
            kept = self._page
            if kept is None or self._clock() - kept[0] > FRESH:
                kept = (self._clock(), build_page(app(), now()))
                self._page = kept
        return WebhookResponse(200, dict(HEADERS), kept[1])


def build_page(app: Leadscore, now: float) -> bytes:
    """The report page of the application's store as of `now` (epoch seconds)."""
    try:
        from sync.report_html import report_page
    except ModuleNotFoundError:
        raise Refused(503, "the report needs Plotly: install leadscore[report]") from None
    from sync.report_data import store_report

    data = store_report(app, made_at=datetime.fromtimestamp(now, UTC))
    return report_page(data).encode("utf-8")
