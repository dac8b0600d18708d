"""Mailchimp's errors: `application/problem+json` answers and the `ErrorAnswer`s that carry them."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sandbox.http import ErrorAnswer, Response

PROBLEM_TYPE = "https://mailchimp.com/developer/marketing/docs/errors/"
PROBLEM_JSON = "application/problem+json; charset=utf-8"
SCHEMA_DETAIL = (
    "The resource submitted could not be validated. "
    "For field-specific details, see the 'errors' array."
)
INTERNAL_ERROR = (
    "An unexpected internal error has occurred. Please contact Support for more information."
)


def problem(
    status: int, title: str, detail: str, errors: list[dict[str, str]] | None = None
) -> Response:
    payload: dict[str, Any] = {
        "type": PROBLEM_TYPE,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": str(uuid.uuid4()),
    }
    if errors is not None:
        payload["errors"] = errors
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Response(status, body, {"Content-Type": PROBLEM_JSON})


def refusal(
    status: int, title: str, detail: str, errors: list[dict[str, str]] | None = None
) -> ErrorAnswer:
    return ErrorAnswer(problem(status, title, detail, errors))


def invalid(detail: str, errors: list[dict[str, str]] | None = None) -> ErrorAnswer:
    return refusal(400, "Invalid Resource", detail, errors)


def schema_error(field_name: str, message: str) -> ErrorAnswer:
    return invalid(SCHEMA_DETAIL, [{"field": field_name, "message": message}])


def not_found() -> ErrorAnswer:
    return refusal(404, "Resource Not Found", "The requested resource could not be found.")


def json_kind(value: object) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def method_not_allowed() -> Response:
    detail = (
        "The requested method and resource are not compatible. "
        "See the Allow header for this resource's available methods."
    )
    return problem(405, "Method Not Allowed", detail)
