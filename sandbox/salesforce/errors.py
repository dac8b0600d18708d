"""Salesforce's refusals: of a whole request, or of one record of a write.

Exception
 +-- SalesforceError   the HTTP status and the error list Salesforce answers with
 +-- RecordError       a SaveResult error of one record (collections, Bulk API 2.0)
"""

from __future__ import annotations

from typing import Any


class SalesforceError(Exception):
    """A refused request: the HTTP status and Salesforce's error list."""

    def __init__(
        self, status: int, code: str, message: str, fields: list[str] | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        error: dict[str, Any] = {"message": message, "errorCode": code}
        if fields is not None:
            error["fields"] = fields
        self.body: Any = [error]


class RecordError(Exception):
    """Why one record of a batch write was rejected (a SaveResult error)."""

    def __init__(self, status_code: str, message: str, fields: tuple[str, ...] = ()) -> None:
        super().__init__(f"{status_code}: {message}")
        self.status_code = status_code
        self.message = message
        self.fields = fields

    def as_json(self) -> dict[str, Any]:
        return {"statusCode": self.status_code, "message": self.message, "fields": [*self.fields]}

    def as_bulk(self) -> str:
        """The `sf__Error` text of Bulk API 2.0 failed results."""
        return f"{self.status_code}:{self.message}:{' '.join(self.fields)} --"
