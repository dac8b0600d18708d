"""Errors of the connectors.

    ConnectorError
    ├── InputFileError     a contacts or activities file is malformed; carries every `FileProblem`
    └── ApiError           a vendor API call failed: system, operation, status, records, retryable
        ├── RateLimited        429 (or Salesforce's concurrent-request limit); carries retry_after
        ├── ServerError        5xx: the vendor's fault, retried
        ├── TransportError     no answer: refused, reset or timed out; retried
        ├── AuthError          401/403: the credentials are wrong or lack a scope; not retried
        ├── RejectedError      any other 4xx: the request itself is wrong; not retried
        └── BudgetExhausted    the daily request budget is spent (ours, or Salesforce's
                               REQUEST_LIMIT_EXCEEDED TotalRequests); stop until it resets

Messages say which system or file, which record and which field, and never
carry a credential: `ApiError` keeps at most a short excerpt of a vendor's
error body, and callers build it from the status and the vendor's message only.
A vendor's text may still echo what it was sent (headers, a URL with a token), so
every connector registers the credentials it uses with `register_secret`, and
`ApiError` scrubs them from its message.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

MAX_DETAIL = 300
REDACTED = "[redacted]"

_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def register_secret(value: str) -> None:
    """A credential in use (a token, a key, a password), to scrub from every error message."""
    if value:
        with _secrets_lock:
            _secrets.update({value, quote(value, safe="")})


def scrub(text: str) -> str:
    """`text` with every registered credential (with or without `Bearer `) redacted."""
    with _secrets_lock:
        # longest first, so a secret that contains another is redacted whole
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(f"Bearer {secret}", REDACTED).replace(secret, REDACTED)
    return text


def vendor_text(text: str) -> str:
    """A vendor's message as an error keeps it: credentials scrubbed, then cut short (so
    no credential's head survives at the cut)."""
    return scrub(text)[:MAX_DETAIL]


@dataclass(frozen=True)
class FileProblem:
    """One thing wrong in an input file: where (row, column) and what was expected."""

    file: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.row is None else f"{self.file}:{self.row}"
        column = f" column {self.column!r}:" if self.column else ""
        return f"{where}:{column} {self.message}"


class ConnectorError(Exception):
    """Base of the connectors' errors."""


class InputFileError(ConnectorError):
    """A contacts or activities file that cannot be used; `problems` lists what was found."""

    def __init__(self, problems: list[FileProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class RecordIdError(ConnectorError, ValueError):
    """A record id that cannot be one of the system's (a rescore's argument, say); the
    message says what one looks like."""


class ApiError(ConnectorError):
    """A call to a vendor API that failed, with what an operator needs to act on it."""

    retryable = False

    def __init__(
        self,
        system: str,
        operation: str,
        message: str,
        *,
        status: int | None = None,
        records: Sequence[str] = (),
        retry_after: float | None = None,
    ) -> None:
        self.system = system
        self.operation = operation
        self.status = status
        self.detail = vendor_text(message)
        self.records = tuple(records)
        self.retry_after = retry_after
        super().__init__(str(self))

    def __str__(self) -> str:
        status = f" {self.status}" if self.status is not None else ""
        records = ""
        if self.records:
            shown = ", ".join(self.records[:5])
            more = f" and {len(self.records) - 5} more" if len(self.records) > 5 else ""
            records = f" (records {shown}{more})"
        hint = "; retrying may help" if self.retryable else ""
        return f"{self.system} {self.operation}{status}: {self.detail}{records}{hint}"


class RateLimited(ApiError):
    """429 (or Salesforce's concurrent long-request limit): wait `retry_after`, then try again."""

    retryable = True


class ServerError(ApiError):
    """5xx: the vendor's fault; another attempt may get through."""

    retryable = True


class TransportError(ApiError):
    """No answer at all: refused, reset or timed out."""

    retryable = True


class AuthError(ApiError):
    """401/403: the credentials are wrong or lack a scope; a person must fix them."""


class RejectedError(ApiError):
    """Any other 4xx: the request itself is wrong, and sending it again changes nothing."""


class BudgetExhausted(ApiError):
    """The day's request budget is spent; calls resume when the vendor resets it."""


def error_for_status(status: int | None) -> type[ApiError]:
    """The `ApiError` class for an HTTP status (None: no answer at all)."""
    if status is None:
        return TransportError
    if status == 429:
        return RateLimited
    if status in (401, 403):
        return AuthError
    if status >= 500:
        return ServerError
    return RejectedError
