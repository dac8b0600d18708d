"""Waiting for a Bulk API 2.0 job, ingest or query, each poll one call under the policy.

A job is read ("Get Job Info", "Get Information About a Query Job") until it is
JobComplete, Failed or Aborted (Bulk API 2.0 Developer Guide, "Job States"). The
first read waits `FIRST_POLL` seconds; each wait after a read in which the job did
not move doubles; once the job has moved twice (`numberRecordsProcessed`), a wait is
about as long as its pace says it still needs for the records it holds; never more
than `LONGEST_POLL` seconds. A job of 50,000 records is read a handful of times. A
job still running after `GIVE_UP` seconds is left to the caller, which aborts it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from connectors.salesforce.client import SalesforceApi

FIRST_POLL = 2.0
LONGEST_POLL = 60.0
GIVE_UP = 6 * 3600.0
"""Seconds a job may stay queued or in progress before it is given up (and aborted)."""
ENDED = ("JobComplete", "Failed", "Aborted")


def wait_for_job(
    api: SalesforceApi, read: Callable[[], Mapping[str, Any] | None], records: int | None
) -> Mapping[str, Any]:
    """The job's info once it ended, or as it stood when `GIVE_UP` seconds had passed;
    `read` is one poll, `records` how many the job holds (None: not known)."""
    clock = api.policy.clock
    wait, waited = FIRST_POLL, 0.0
    seen: tuple[float, int] | None = None
    while True:
        clock.sleep(wait)
        waited += wait
        info = read() or {}
        if str(info.get("state") or "") in ENDED or waited >= GIVE_UP:
            return info
        done, now = int(info.get("numberRecordsProcessed") or 0), clock.now()
        moved = seen is not None and done > seen[1] and now > seen[0]
        pace = (done - seen[1]) / (now - seen[0]) if seen is not None and moved else None
        if done > 0 and (seen is None or done > seen[1]):
            seen = (now, done)
        if pace and records is not None:
            wait = (records - done) / pace * 1.1 + FIRST_POLL
        else:
            wait *= 2
        wait = min(max(wait, FIRST_POLL), LONGEST_POLL)
