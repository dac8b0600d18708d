"""The AWS Lambda entry point: `sync.web.aws.handler`.

One function serves every way Lambda is reached here:

    API Gateway HTTP API (payload 2.0)  rawPath, rawQueryString, headers (lower-case,
    Lambda Function URL (the same form) repeated ones joined by commas), cookies; a
                                        named stage leading rawPath on the API's own
                                        host is left out of the route (`without_stage`)
    API Gateway REST API (payload 1.0)  resource and pathParameters (a custom domain's
                                        base path is in `path`), multiValueHeaders,
                                        multiValueQueryStringParameters
        -> WebhookRequest -> the webhook core -> {statusCode, headers, body, isBase64Encoded}
    EventBridge schedule (rule or Scheduler: "detail-type": "Scheduled Event", source
    aws.events / aws.scheduler), or a schedule's Input {"mode": "incremental" | "full"}
        -> a sync that returns before Lambda's time is up -> the run's summary

Formats: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html,
https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html,
https://docs.aws.amazon.com/lambda/latest/dg/urls-invocation.html and
https://docs.aws.amazon.com/lambda/latest/dg/services-cloudwatchevents.html. Every
answer to an HTTP event carries an explicit statusCode: a dict without one would be
sent as a JSON body with 200.

The module imports only the request and answer types: the core, the settings and the
application come on the first call (`sync.web.serverless`). An event of no known kind
is answered 400 and logged by its keys only; nothing a caller sent reaches a log.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from sync.entry import cold_start, warmed
from sync.web.messages import WebhookRequest, WebhookResponse, json_response

cold_start()  # before any model is built (`sync.entry`)

log = logging.getLogger("leadscore.web")

LAMBDA_LONGEST = 900.0
"""Seconds: Lambda's longest timeout, assumed when a caller passes no context."""
SCHEDULE_SOURCES = frozenset({"aws.events", "aws.scheduler"})
SCHEDULE_MODES = {"incremental": False, "full": True}
"""A schedule's Input may name the run: `{"mode": "full"}` pulls everything."""
TEXT_KINDS = ("text/", "application/json", "application/xml", "application/problem+json")
_PARAMETER = re.compile(r"\{([^{}/+]+)\+?\}")
"""A path parameter of a REST API resource: `{name}`, or `{name+}` (greedy)."""


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Lambda's entry: an HTTP event answered by the webhook core, or a scheduled sync run."""
    try:
        return _answer(event, context)
    finally:
        warmed()


def _answer(event: Any, context: Any) -> dict[str, Any]:
    from sync.web.serverless import shared_core

    if not isinstance(event, Mapping):
        return not_understood(event)
    if "requestContext" in event:
        try:
            request = lambda_request(event)
        except (KeyError, TypeError, ValueError, AttributeError):
            log.warning("lambda event unreadable", extra={"keys": keys_of(event)})
            return lambda_answer(
                json_response(400, {"error": "an HTTP event leadscore cannot read"})
            )
        try:
            core = shared_core()
        except Exception as exc:  # settings unusable: said without their values
            from sync.web.serverless import failure_reason

            log.error("webhook core not built", extra={"error": failure_reason(exc)})
            return lambda_answer(json_response(503, {"error": "leadscore is not configured"}))
        return lambda_answer(core.handle(request, within=time_allowed(event, context)))
    full = schedule_of(event)
    if full is None:
        return not_understood(event)
    from sync.web.serverless import scheduled_sync

    left = getattr(context, "get_remaining_time_in_millis", None)
    remaining = left() / 1000 if callable(left) else LAMBDA_LONGEST
    return scheduled_sync(remaining, full=full)


GATEWAY_TIMEOUTS = {"1.0": 29.0, "2.0": 30.0}
"""Seconds API Gateway waits for an integration: REST APIs (payload 1.0) 29 s, HTTP APIs
30 s (https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html); a
Function URL waits as long as the function runs."""
GATEWAY_SLACK = 3.0


def time_allowed(event: Mapping[str, Any], context: Any) -> float | None:
    """The seconds an HTTP event's caller waits at most: the gateway's timeout in front
    of the function (less some slack), and the function's own time left."""
    caps = []
    domain = str((event.get("requestContext") or {}).get("domainName") or "")
    if ".lambda-url." not in domain:
        version = "2.0" if event.get("version") == "2.0" else "1.0"
        caps.append(GATEWAY_TIMEOUTS[version] - GATEWAY_SLACK)
    left = getattr(context, "get_remaining_time_in_millis", None)
    if callable(left):
        caps.append(max(0.5, left() / 1000 - GATEWAY_SLACK))
    return min(caps) if caps else None


def schedule_of(event: Mapping[str, Any]) -> bool | None:
    """Whether a scheduled event asks for a full run (None: it is no scheduled event)."""
    source = event.get("source")
    if isinstance(source, str) and source in SCHEDULE_SOURCES:
        return False if event.get("detail-type") == "Scheduled Event" else None
    mode = event.get("mode")
    if set(event) == {"mode"} and isinstance(mode, str) and mode in SCHEDULE_MODES:
        return SCHEDULE_MODES[mode]
    return None


def not_understood(event: Any) -> dict[str, Any]:
    log.warning("lambda event not recognised", extra={"keys": keys_of(event)})
    return lambda_answer(
        json_response(400, {"error": "not an HTTP request or a scheduled event leadscore knows"})
    )


def keys_of(event: Any) -> list[str]:
    """The event's top-level keys (at most 20, each cut to 40 characters): what is logged."""
    if not isinstance(event, Mapping):
        return [type(event).__name__]
    return sorted(str(key)[:40] for key in event)[:20]


# -- an HTTP event in --------------------------------------------------------------------------


def lambda_request(event: Mapping[str, Any]) -> WebhookRequest:
    """The request an API Gateway (1.0 or 2.0) or Function URL event carries."""
    context = event["requestContext"]
    body = text_field(event.get("body") or "")
    raw = base64.b64decode(body, validate=True) if event.get("isBase64Encoded") else body.encode()
    if event.get("version") == "2.0":
        method = text_field(context["http"]["method"])
        path = text_field(event.get("rawPath") or context["http"]["path"])
        query = text_field(event.get("rawQueryString") or "")
        headers = [(str(k), str(v)) for k, v in (event.get("headers") or {}).items()]
        if event.get("cookies"):
            headers.append(("cookie", "; ".join(map(str, event["cookies"]))))
        shown = path
        path = without_stage(path, context)
    else:
        method = text_field(event["httpMethod"])
        path = rest_route(event)
        query = query_of(event)
        headers = pairs_of(event, "multiValueHeaders", "headers")
        stage = context.get("stage")
        # A REST API's own host keeps the stage in the URL, outside `path`.
        shown = text_field(context.get("path") or "") or (
            f"/{stage}{path}" if stage and stage != "$default" else path
        )
    request = WebhookRequest.of(method, path, query=query, headers=headers, body=raw)
    host = text_field(context.get("domainName") or request.header("host") or "")
    scheme = (request.header("x-forwarded-proto") or "https").split(",")[0].strip()
    url = f"{scheme}://{host}{shown}" + (f"?{query}" if query else "") if host else ""
    return WebhookRequest.of(method, path, query=query, headers=request.headers, body=raw, url=url)


def rest_route(event: Mapping[str, Any]) -> str:
    """A payload 1.0 event's route: its `resource` with the path parameters filled in
    (`/{proxy+}` and `proxy` = `hubspot`: `/hubspot`). Its `path` also holds the base path
    of a custom domain's mapping (`hooks.example.com/leadscore` -> `/leadscore/hubspot`),
    which is no part of the route; `path` as it came where the resource cannot be filled."""
    path = text_field(event["path"])
    resource = event.get("resource")
    given = event.get("pathParameters") or {}
    if not isinstance(resource, str) or not resource.startswith("/"):
        return path
    if not isinstance(given, Mapping):
        return path
    values = [given.get(name) for name in _PARAMETER.findall(resource)]
    if not all(isinstance(value, str) for value in values):
        return path
    filled = iter(values)
    return _PARAMETER.sub(lambda _: str(next(filled)), resource)


def without_stage(path: str, context: Mapping[str, Any]) -> str:
    """An HTTP API's `rawPath` without the stage that leads it: a stage other than
    `$default` is part of the path on the API's own `execute-api` host (`/prod/hubspot`),
    not on a custom domain, whose API mapping names the stage."""
    stage = context.get("stage")
    domain = str(context.get("domainName") or "")
    if not isinstance(stage, str) or stage in ("", "$default") or ".execute-api." not in domain:
        return path
    prefix = f"/{stage}"
    if path == prefix or path.startswith(f"{prefix}/"):
        return path[len(prefix) :] or "/"
    return path


def text_field(value: Any) -> str:
    """A field an event must give as text (TypeError: the event is not one leadscore reads)."""
    if not isinstance(value, str):
        raise TypeError("expected text")
    return value


def pairs_of(event: Mapping[str, Any], multi: str, single: str) -> list[tuple[str, str]]:
    """Name and value pairs from a 1.0 event's multi-value map (else its single-value one)."""
    many = event.get(multi)
    if many:
        return [(str(k), str(v)) for k, values in many.items() for v in values or ()]
    return [(str(k), str(v)) for k, v in (event.get(single) or {}).items()]


def query_of(event: Mapping[str, Any]) -> str:
    """A 1.0 event's query string, encoded again (API Gateway hands it decoded)."""
    return urlencode(pairs_of(event, "multiValueQueryStringParameters", "queryStringParameters"))


# -- an answer out -----------------------------------------------------------------------------


def lambda_answer(response: WebhookResponse) -> dict[str, Any]:
    """The dict API Gateway or a Function URL turns into the HTTP answer."""
    kind = response.headers.get("content-type", "")
    textual = kind.startswith(TEXT_KINDS)
    try:
        body = response.body.decode() if textual else None
    except UnicodeDecodeError:
        body = None
    return {
        "statusCode": response.status,
        "headers": dict(response.headers),
        "body": body if body is not None else base64.b64encode(response.body).decode(),
        "isBase64Encoded": body is None,
    }
