"""Rate limits as the vendors' servers count them: a rolling window and a daily limit.

These are the server side of a limit, the counters that make an emulator answer
429 (or 403); the client side, which paces and retries calls, is
`connectors.policy`.
"""

from __future__ import annotations

import threading
from collections import deque

from sandbox.clock import SandboxClock


class ServerWindow:
    """A server's rolling window: at most `limit` requests in any `seconds` of vendor time."""

    def __init__(self, limit: int, seconds: float, clock: SandboxClock) -> None:
        self.limit = limit
        self.seconds = seconds
        self.clock = clock
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def _expire(self, now: float) -> None:
        while self._times and self._times[0] <= now - self.seconds:
            self._times.popleft()

    def try_acquire(self) -> bool:
        """Count a request if the window has room; False means answer 429."""
        with self._lock:
            now = self.clock.now()
            self._expire(now)
            if len(self._times) >= self.limit:
                return False
            self._times.append(now)
            return True

    def remaining(self) -> int:
        with self._lock:
            self._expire(self.clock.now())
            return max(0, self.limit - len(self._times))

    def retry_after(self) -> float:
        """Vendor seconds until the oldest counted request leaves the window."""
        with self._lock:
            if not self._times:
                return 0.0
            return max(0.0, self._times[0] + self.seconds - self.clock.now())


class ServerDailyLimit:
    """A server's count of requests per (vendor) day; `used` may be preset to test exhaustion.
    A limit of None counts without ever refusing."""

    def __init__(self, limit: int | None, used: int = 0) -> None:
        self.limit = limit
        self.used = used
        self._lock = threading.Lock()

    def try_spend(self) -> bool:
        with self._lock:
            if self.limit is not None and self.used >= self.limit:
                return False
            self.used += 1
            return True

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.used)
