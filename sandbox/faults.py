"""Seeded latency and fault plans: the same seed gives the same faults in the same order."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Latency:
    """Added delay per request, in vendor seconds: `fixed` plus up to `jitter` more."""

    fixed: float = 0.0
    jitter: float = 0.0

    def draw(self, rnd: random.Random) -> float:
        return self.fixed + (rnd.random() * self.jitter if self.jitter else 0.0)


DAILY_LIMIT = 403
"""A `Fault.status` of the day's requests spent."""
EXPIRED_SESSION = 401
"""A `Fault.status` of a session that ended."""


@dataclass(frozen=True)
class Fault:
    """One injected fault: an error status, a dropped connection, a slow answer, or an
    answer cut off mid-body (`truncate`) or lost after the request was carried out (`lost`).
    """

    status: int = 0
    retry_after: int = 1
    drop: bool = False
    delay: float = 0.0
    truncate: bool = False
    lost: bool = False


@dataclass
class FaultPlan:
    """Shares of requests that fail, drawn from one seeded generator.

    `record_failure` is the share of records inside a batch write that the
    emulators reject one by one (the batch itself succeeds with a multi-status);
    `job_failure` the share of asynchronous jobs that fail on the vendor's side
    (Salesforce's Bulk API 2.0 query jobs, Failed when they would start).
    `truncated` requests are carried out, then answered with the headers and part of the
    body before the connection closes; `lost` ones are carried out, then the connection
    closes without an answer (the client cannot tell whether they landed).
    `operations`, when given, limits the faults to those operation names.

    `rate_limited` is each vendor's refusal for rate (HubSpot's and Mailchimp's 429,
    Salesforce's 403 for its concurrent-request limit); `daily_limit` its refusal once
    the day's requests are spent (Salesforce's 403 "TotalRequests"), and
    `expired_session` a refusal of a session that ended (Salesforce's 401
    INVALID_SESSION_ID, the session ended with it). An emulator answers each in its
    vendor's own format; those whose vendor has no such answer treat the last two as
    server errors.
    """

    rate_limited: float = 0.0
    server_error: float = 0.0
    dropped: float = 0.0
    slow: float = 0.0
    slow_seconds: float = 5.0
    truncated: float = 0.0
    lost: float = 0.0
    record_failure: float = 0.0
    job_failure: float = 0.0
    daily_limit: float = 0.0
    expired_session: float = 0.0
    retry_after: int = 1
    seed: int = 0
    operations: frozenset[str] | None = None
    random: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.random = random.Random(self.seed)
        shares = (
            self.rate_limited,
            self.server_error,
            self.dropped,
            self.slow,
            self.truncated,
            self.lost,
            self.daily_limit,
            self.expired_session,
            self.record_failure,
        )
        if not 0 <= self.job_failure <= 1:
            raise ValueError("fault shares must lie in [0, 1] and add up to at most 1")
        if any(s < 0 or s > 1 for s in shares) or sum(shares[:-1]) > 1:
            raise ValueError("fault shares must lie in [0, 1] and add up to at most 1")

    def draw(self, operation: str) -> Fault | None:
        """The fault for this request, if any."""
        if self.operations is not None and operation not in self.operations:
            return None
        if not (
            self.rate_limited
            or self.server_error
            or self.dropped
            or self.slow
            or self.truncated
            or self.lost
            or self.daily_limit
            or self.expired_session
        ):
            return None
        with self._lock:
            roll = self.random.random()
        edge = self.rate_limited
        if roll < edge:
            return Fault(status=429, retry_after=self.retry_after)
        edge += self.server_error
        if roll < edge:
            return Fault(status=503 if roll * 1000 % 2 < 1 else 500)
        edge += self.dropped
        if roll < edge:
            return Fault(drop=True)
        edge += self.slow
        if roll < edge:
            return Fault(delay=self.slow_seconds)
        edge += self.truncated
        if roll < edge:
            return Fault(truncate=True)
        edge += self.lost
        if roll < edge:
            return Fault(lost=True)
        edge += self.daily_limit
        if roll < edge:
            return Fault(status=DAILY_LIMIT)
        edge += self.expired_session
        if roll < edge:
            return Fault(status=EXPIRED_SESSION)
        return None

    def record_fails(self) -> bool:
        """Whether one record inside a batch write is to be rejected."""
        if not self.record_failure:
            return False
        with self._lock:
            return self.random.random() < self.record_failure

    def job_fails(self) -> bool:
        """Whether one asynchronous job is to fail."""
        if not self.job_failure:
            return False
        with self._lock:
            return self.random.random() < self.job_failure
