"""The webhook server's counters, in Prometheus' text exposition format (`GET /metrics`).

    leadscore_requests_total{endpoint,status}        requests answered
    leadscore_scores_written_total{system}           records written by triggers
    leadscore_failures_total{system}                 writes that did not land
    leadscore_request_seconds{endpoint}              a histogram of answer times

Kept in the process (a serverless instance has its own, short-lived). The format
is the one Prometheus documents for text exposition 0.0.4: `# HELP` and `# TYPE`
lines, counters named `_total`, a histogram as cumulative `_bucket{le=...}` lines
with `+Inf`, then `_sum` and `_count`
(https://prometheus.io/docs/instrumenting/exposition_formats/).
"""

from __future__ import annotations

import threading
from collections import defaultdict

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    """Counters and a latency histogram, safe to update from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, int], int] = defaultdict(int)
        self.written: dict[str, int] = defaultdict(int)
        self.failures: dict[str, int] = defaultdict(int)
        self._buckets: dict[str, list[int]] = {}
        self._sums: dict[str, float] = defaultdict(float)

    def answered(self, endpoint: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(endpoint, status)] += 1
            counts = self._buckets.setdefault(endpoint, [0] * (len(BUCKETS) + 1))
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    counts[i] += 1
            counts[-1] += 1
            self._sums[endpoint] += seconds

    def wrote(self, system: str, written: int, failed: int) -> None:
        with self._lock:
            self.written[system] += written
            self.failures[system] += failed

    def text(self) -> str:
        with self._lock:
            lines = [
                "# HELP leadscore_requests_total Webhook requests answered, by endpoint, status.",
                "# TYPE leadscore_requests_total counter",
            ]
            for (endpoint, status), n in sorted(self.requests.items()):
                labels = f'endpoint="{_label(endpoint)}",status="{status}"'
                lines.append(f"leadscore_requests_total{{{labels}}} {n}")
            for name, what, per_system in (
                ("scores_written", "Records written by triggers, by system.", self.written),
                ("failures", "Trigger writes that did not land, by system.", self.failures),
            ):
                lines += [
                    f"# HELP leadscore_{name}_total {what}",
                    f"# TYPE leadscore_{name}_total counter",
                ]
                for system, n in sorted(per_system.items()):
                    lines.append(f'leadscore_{name}_total{{system="{_label(system)}"}} {n}')
            lines += [
                "# HELP leadscore_request_seconds Time to answer a webhook request.",
                "# TYPE leadscore_request_seconds histogram",
            ]
            for endpoint, counts in sorted(self._buckets.items()):
                label = _label(endpoint)
                for bound, n in zip((*BUCKETS, "+Inf"), counts, strict=True):
                    lines.append(
                        f'leadscore_request_seconds_bucket{{endpoint="{label}",le="{bound}"}} {n}'
                    )
                lines.append(
                    f'leadscore_request_seconds_sum{{endpoint="{label}"}} {self._sums[endpoint]}'
                )
                lines.append(f'leadscore_request_seconds_count{{endpoint="{label}"}} {counts[-1]}')
        return "\n".join(lines) + "\n"
