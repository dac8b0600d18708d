"""Google Cloud Functions entry points, run by functions-framework (the `gcp` extra):

    http(request)          an HTTP function: the Flask request -> WebhookRequest -> the
                           webhook core -> (body, status, headers)
    scheduled(cloud_event) a Pub/Sub CloudEvent (Cloud Scheduler -> a topic -> this
                           function): an incremental sync with a deadline

Deploy with `--entry-point http` or `--entry-point scheduled` (docs/deploy/gcp.md). A
Pub/Sub message's data (base64 in the event, `message.data`) may be empty or
`{"mode": "incremental" | "full"}`; anything else is refused without a run.

Cloud Functions does not tell a function how long it has left: the run's time is the
setting `schedule_seconds` (set it to the function's `--timeout`), else 540 s, the
longest an event function may run (HTTP functions: 3600 s;
https://cloud.google.com/functions/docs/configuring/timeout).

Like `sync.web.aws`, the module imports only the request and answer types; Flask and
the framework are never imported by it (the request is read through its attributes).
"""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

from sync.entry import cold_start, warmed
from sync.web.messages import BODY_LIMIT, WebhookRequest, WebhookResponse, json_response

cold_start()  # before any model is built (`sync.entry`)

log = logging.getLogger("leadscore.web")

PUBSUB_MODES = {"incremental": False, "full": True}


def http(request: Any) -> tuple[bytes, int, dict[str, str]]:
    """An HTTP function: the webhook core's answer to a Flask request."""
    from sync.web.serverless import failure_reason, shared_core

    answer = json_response(503, {"error": "leadscore is not configured"})
    try:
        core = shared_core()
    except Exception as exc:  # settings unusable: said without their values
        log.error("webhook core not built", extra={"error": failure_reason(exc)})
    else:
        answer = core.handle(flask_request(request))
    finally:
        warmed()
    return flask_answer(answer)


def flask_request(request: Any) -> WebhookRequest:
    """A Flask (werkzeug) request as the core reads it; a body is read to 1 byte past
    the limit at most, so that an oversized one is refused, not held."""
    body = request.stream.read(BODY_LIMIT + 1)
    return WebhookRequest.of(
        request.method,
        request.path,
        query=request.query_string.decode("latin-1"),
        headers=list(request.headers.items()),
        body=body,
        url=caller_url(request.url, request.headers.get("X-Forwarded-Proto")),
    )


def caller_url(url: str, forwarded_proto: str | None) -> str:
    """The URL the caller used: Google's front end ends TLS and hands the function plain
    HTTP, with the caller's scheme in `X-Forwarded-Proto`
    (https://cloud.google.com/functions/docs/reference/headers), which the framework's
    server does not read; a HubSpot signature covers the https URL."""
    scheme = (forwarded_proto or "").split(",")[0].strip().lower()
    before, sep, rest = url.partition("://")
    if scheme in ("http", "https") and sep and before.lower() != scheme:
        return f"{scheme}://{rest}"
    return url


def flask_answer(response: WebhookResponse) -> tuple[bytes, int, dict[str, str]]:
    return response.body, response.status, dict(response.headers)


def scheduled(cloud_event: Any) -> dict[str, Any]:
    """A Pub/Sub CloudEvent: a sync that returns within the function's time; its summary
    (the framework answers the event itself; the summary is logged)."""
    try:
        return _scheduled(cloud_event)
    finally:
        warmed()


def _scheduled(cloud_event: Any) -> dict[str, Any]:
    from sync.web.serverless import scheduled_sync

    full = pubsub_mode(getattr(cloud_event, "data", None))
    if full is None:
        log.warning("scheduled event not understood", extra={"type": type_of(cloud_event)})
        return {"status": "failed", "error": 'expected no data or {"mode": "incremental|full"}'}
    return scheduled_sync(None, full=full)


def pubsub_mode(data: Any) -> bool | None:
    """Whether a Pub/Sub event's message asks for a full run (None: a message not understood)."""
    message = data.get("message") if isinstance(data, dict) else None
    if not isinstance(message, dict):
        return None
    raw = message.get("data") or ""
    try:
        text = base64.b64decode(raw, validate=True).decode().strip() if raw else ""
        asked = json.loads(text) if text else {}
    except ValueError:
        return None
    if asked == {}:
        return False
    mode = asked.get("mode") if isinstance(asked, dict) and set(asked) == {"mode"} else None
    return PUBSUB_MODES.get(mode) if isinstance(mode, str) else None


def type_of(cloud_event: Any) -> str:
    try:
        return str(cloud_event["type"])[:100]
    except (KeyError, TypeError):
        return "unknown"
