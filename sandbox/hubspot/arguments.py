"""Reading a request: its JSON body, batch inputs, query parameters and list paging."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sandbox.http import Request
from sandbox.hubspot.errors import HubSpotError, Invalid
from sandbox.hubspot.values import Json

LIST_PAGE_MAX, BATCH_MAX = 100, 100


def request_body(request: Request) -> Json:
    """The request's JSON object ({} when there is no body), or HubSpot's 400."""
    try:
        body = request.json()
    except ValueError as bad:
        raise HubSpotError(400, f"Invalid input JSON: {bad}") from None
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise HubSpotError(400, "Invalid input JSON: the body must be an object")
    return body


def batch_inputs(body: Json, maximum: int = BATCH_MAX) -> list[Json]:
    """The `inputs` of a batch request: a list of at most `maximum` objects."""
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not all(isinstance(item, dict) for item in inputs):
        raise HubSpotError(400, "Invalid input JSON: inputs must be a list of objects")
    if len(inputs) > maximum:
        raise HubSpotError(
            400,
            f"The maximum number of inputs supported in a batch request is {maximum}. "
            f"Found {len(inputs)}. Please reduce the number of items and try again",
        )
    return inputs


def batch_ids(inputs: list[Json]) -> list[str]:
    """The ids of a batch update's inputs; an id given twice refuses the batch (400)."""
    keys = [str(item.get("id")) for item in inputs]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        message = f"Duplicate IDs found in batch input: {repeated}. IDs must be unique"
        raise HubSpotError(400, message)
    return keys


def list_arg(request: Request, key: str) -> list[str]:
    """A repeated or comma-separated query parameter."""
    return [name for value in request.query.get(key, []) for name in value.split(",") if name]


def int_value(raw: Any, name: str, default: int) -> int:
    """An integer query parameter or body field (`default` when absent), or HubSpot's 400."""
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise Invalid("INVALID_INTEGER", f"{name} must be an integer, not {raw!r}") from None


def flag(raw: str | None) -> bool:
    return str(raw).lower() == "true"


def unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


def list_page(request: Request, size: int, start: int, maximum: int = LIST_PAGE_MAX) -> range:
    """The rows of one page of a list starting at the row `start` (read from its `after`)."""
    limit = min(max(int_value(request.arg("limit"), "limit", 10), 1), maximum)
    stop = 0 if flag(request.arg("archived")) else min(start + limit, size)
    return range(start, max(stop, start))
