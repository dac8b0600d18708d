"""Reading a request: its JSON body, query arguments and path parameters."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from sandbox.http import Request
from sandbox.mailchimp.problems import invalid, json_kind, refusal, schema_error

DEFAULT_COUNT = 10
MAX_COUNT = 1000


def epoch_seconds(value: str, name: str) -> float:
    """Epoch seconds of an ISO 8601 query value; a '+' decoded as a space is put back."""
    text = value.strip()
    if "T" in text:
        text = text.replace(" ", "+")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise invalid(f"The value of '{name}' is not a valid ISO 8601 date: {value!r}.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object, or Mailchimp's 400 for anything else."""
    try:
        payload = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise refusal(
            400, "JSON Parse Error", "We encountered an unspecified JSON parsing error."
        ) from None
    if not isinstance(payload, dict):
        raise schema_error("", f"Schema describes object, {json_kind(payload)} found instead")
    return payload


def int_arg(request: Request, name: str, default: int) -> int:
    value = request.arg(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise invalid(f"The value of '{name}' must be an integer.") from None


def paging(request: Request) -> tuple[int, int]:
    """(offset, count): count defaults to 10 and is clamped to 1000."""
    count = min(max(int_arg(request, "count", DEFAULT_COUNT), 0), MAX_COUNT)
    return max(int_arg(request, "offset", 0), 0), count


def csv_arg(request: Request, name: str) -> list[str]:
    value = request.arg(name) or ""
    return [part.strip() for part in value.split(",") if part.strip()]


def time_arg(request: Request, name: str) -> float | None:
    value = request.arg(name)
    return epoch_seconds(value, name) if value else None


def path_param(request: Request, name: str) -> str:
    return unquote(request.params[name])
