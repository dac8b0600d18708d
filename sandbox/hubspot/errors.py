"""HubSpot's errors: what a handler raises, and the JSON bodies they answer with.

    HubSpotError(status, message, category, **extra)  an error answer; `extra` adds
    |                                                 fields such as `context`
    +-- Invalid(code, message)                        400 VALIDATION_ERROR: a value or part
                                                      of a request HubSpot refuses; `code`
                                                      names the problem (INVALID_OPTION, ...)

The emulator turns either into `{"status": "error", "message", "correlationId",
"category", ...}` with a fresh correlation id. Failures of single records in a
batch are not raised: `record_error` is one entry of a 207 answer's `errors`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

V = TypeVar("V")

AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
    "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
MISSING_CONTACTS = (
    "Could not get some CONTACT objects, they may be deleted or not exist. "
    "Check that ids are valid."
)


class HubSpotError(Exception):
    """An error answer: HTTP status, message, HubSpot's category and any further fields."""

    def __init__(
        self, status: int, message: str, category: str = "VALIDATION_ERROR", **extra: Any
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.category = category
        self.extra = extra


class Invalid(HubSpotError):
    """A value or request part that HubSpot refuses with 400 VALIDATION_ERROR."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(400, message)
        self.code = code


def error_body(error: HubSpotError, correlation: str) -> dict[str, Any]:
    return {
        "status": "error",
        "message": error.message,
        "correlationId": correlation,
        "category": error.category,
        **error.extra,
    }


def object_not_found(key: str) -> HubSpotError:
    return HubSpotError(
        404,
        "Object not found.  objectId are usually numeric.",
        "OBJECT_NOT_FOUND",
        context={"id": [key]},
    )


def record_error(category: str, message: str, ids: list[str], **extra: Any) -> dict[str, Any]:
    """One entry of a multi-status answer's `errors`."""
    return {
        "status": "error",
        "category": category,
        "message": message,
        "context": {"ids": ids},
        "errors": [],
        "links": {},
        **extra,
    }


def missing_contacts(ids: list[str]) -> dict[str, Any]:
    """The multi-status entry for the ids of a batch that name no contact."""
    return record_error("OBJECT_NOT_FOUND", MISSING_CONTACTS, ids)


def property_problem(name: str, bad: Invalid) -> dict[str, Any]:
    """One entry of "Property values were not valid: [...]"."""
    return {
        "isValid": False,
        "message": bad.message,
        "error": bad.code,
        "name": name,
        "localizedErrorMessage": bad.message,
    }


def invalid_properties(problems: list[dict[str, Any]]) -> str:
    return "Property values were not valid: " + json.dumps(problems, separators=(",", ":"))


def property_errors(problems: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same problems as the v3 error model's `errors[]` (the SDK's `ErrorDetail`:
    message, code, in, context), each naming its property in `context.propertyName`."""
    return [
        {
            "message": problem["message"],
            "code": problem["error"],
            "in": problem["name"],
            "context": {"propertyName": [problem["name"]]},
        }
        for problem in problems
    ]


def validated_values(coerce: Callable[[str, Any], V], properties: Any) -> dict[str, V]:
    """A write's `properties` as stored by `coerce` (a table's); any unknown, read-only or
    bad one fails the whole request, every problem named, as HubSpot answers."""
    if not isinstance(properties, dict):
        raise HubSpotError(400, "Invalid input JSON: properties must be an object")
    values: dict[str, V] = {}
    problems: list[dict[str, Any]] = []
    for name, raw in properties.items():
        try:
            values[name] = coerce(name, raw)
        except Invalid as bad:
            problems.append(property_problem(name, bad))
    if problems:
        raise HubSpotError(400, invalid_properties(problems), errors=property_errors(problems))
    return values
