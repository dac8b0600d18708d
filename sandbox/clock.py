"""Sandbox time: a clock whose seconds can run faster than real ones.

With `scale=10`, a vendor's 10-second rate window lasts one real second and a
100 ms latency lasts 10 ms, so a benchmark finishes sooner and still reports
the same ratios of wall time to calls per allowed rate.
"""

from __future__ import annotations

import threading
import time


class SandboxClock:
    """Vendor time for rate windows and latency; `scale` vendor seconds per real second."""

    def __init__(self, scale: float = 1.0) -> None:
        if scale <= 0:
            raise ValueError("scale must be positive")
        self.scale = scale
        self._origin = time.monotonic()
        self._lock = threading.Lock()

    def now(self) -> float:
        """Vendor seconds since the clock started."""
        return (time.monotonic() - self._origin) * self.scale

    def sleep(self, vendor_seconds: float) -> None:
        if vendor_seconds > 0:
            time.sleep(vendor_seconds / self.scale)
