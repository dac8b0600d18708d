"""Waiting for a Bulk API 2.0 job, ingest or query, each poll one call under the policy.

A job is read ("Get Job Info", "Get Information About a Query Job") until it is
JobComplete, Failed or Aborted (Bulk API 2.0 Developer Guide, "Job States"). The
first read waits `FIRST_POLL` seconds; each wait after a read in which the job did
not move doubles; once the job has moved twice (`numberRecordsProcessed`), a wait is
about as long as its pace says it still needs for the records it holds; never more
than `LONGEST_POLL` seconds. A job still running after `GIVE_UP` seconds is left to the
caller, which aborts it.

An ingest job can be given the org's `Pace`: the records per second the org processed
since a job was closed (its queue time included, so a pace that can only be too low,
and a wait sized by it ends after the job does, never before: each early read is a
call spent). Once a pace is known, a job's first read waits for as long as the pace
says its records take; until then the first job reads after `PACE_READ` seconds, jobs
waiting at once share its reading (they wait for it instead of reading too), and the
connector keeps the pace for its next runs, the state store for the next process
(`SalesforceConnector.learned`). So the first job an org ever gets is read about twice
and every later one once. Salesforce documents no pace to start from: it splits a job
into internal batches of 10,000 records, processed in parallel, each given minutes
before it is retried (Bulk API 2.0 Developer Guide, "How Requests Are Processed"), and
Get Job Info counts the records processed so far; nothing a client can read before a
job runs says how long it takes. A pace kept from earlier jobs can be off both ways:
a job found still running sizes the next read by what it did since its close, and the
pace is lowered to that; a job found ended raises it when it did better (records over
the time since its close is still a lower bound).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from typing import Any

from connectors.salesforce.client import SalesforceApi

FIRST_POLL = 2.0
PACE_READ = 5.0
"""Seconds from an ingest job's close to the read that learns the org's pace: long
enough that the job's queue time is not most of what the reading spans."""
LONGEST_POLL = 60.0
GIVE_UP = 6 * 3600.0
"""Seconds a job may stay queued or in progress before it is given up (and aborted)."""
ENDED = ("JobComplete", "Failed", "Aborted")


class Pace:
    """Records per second the org processed ingest jobs at, from their close to a read
    (a lower bound: the queue time is in it); shared by the jobs of a connector."""

    def __init__(self) -> None:
        self.per_second: float | None = None
        self._lock = threading.Lock()
        self._reading = False
        self._read = threading.Event()

    def note(self, records: int, seconds: float) -> None:
        """A job had processed `records` `seconds` after it was closed."""
        if records > 0 and seconds > 0:
            with self._lock:
                self.per_second = records / seconds
        self._read.set()

    def at_least(self, records: int, seconds: float) -> None:
        """A job had ended within `seconds` of its close, `records` processed: the pace is
        at least that."""
        if records > 0 and seconds > 0:
            with self._lock:
                self.per_second = max(self.per_second or 0.0, records / seconds)

    def recall(self, per_second: Any) -> None:
        """A pace kept from earlier jobs (`SalesforceConnector.recall`), unless one is known
        already or it is no positive number."""
        number = isinstance(per_second, int | float) and not isinstance(per_second, bool)
        if number and math.isfinite(per_second) and per_second > 0:
            with self._lock:
                if self.per_second is None:
                    self.per_second = float(per_second)

    def first_reader(self) -> bool:
        """Whether this job is the one to read first while no pace is known (the others
        wait for its reading: `wait_for_reading`)."""
        with self._lock:
            first = self.per_second is None and not self._reading
            self._reading = self._reading or first
            return first

    def done_reading(self) -> None:
        """The first reader is done, with or without a pace: the others go on."""
        self._read.set()

    def wait_for_reading(self) -> float | None:
        self._read.wait(GIVE_UP)
        return self.per_second


def wait_for_job(
    api: SalesforceApi,
    read: Callable[[], Mapping[str, Any] | None],
    records: int | None,
    pace: Pace | None = None,
) -> Mapping[str, Any]:
    """The job's info once it ended, or as it stood when `GIVE_UP` seconds had passed;
    `read` is one poll, `records` how many the job holds (None: not known), `pace` the
    org's (an ingest job's, called as soon as the job is closed)."""
    clock = api.policy.clock
    closed = clock.now()
    wait, waited = FIRST_POLL, 0.0
    first = pace is not None and pace.first_reader()
    if first and records:
        wait = PACE_READ
    elif pace is not None and records:
        known = pace.per_second or pace.wait_for_reading()
        if known:
            wait = max(records / known - (clock.now() - closed), 0.0) + FIRST_POLL
    seen: tuple[float, int] | None = None
    try:
        while True:
            clock.sleep(wait)
            waited += wait
            info = read() or {}
            state = str(info.get("state") or "")
            done, now = int(info.get("numberRecordsProcessed") or 0), clock.now()
            if pace is not None and (state not in ENDED or pace.per_second is None):
                pace.note(done if state != "JobComplete" else records or done, now - closed)
            elif pace is not None and state == "JobComplete":
                # ended before this read: a lower bound, so only ever a raise
                pace.at_least(records or done, now - closed)
            if state in ENDED or waited >= GIVE_UP:
                return info
            wait = next_wait(wait, seen, done, now, records, closed if pace else None)
            if done > 0 and (seen is None or done > seen[1]):
                seen = (now, done)
    finally:
        if first and pace is not None:
            pace.done_reading()


def next_wait(
    wait: float,
    seen: tuple[float, int] | None,
    done: int,
    now: float,
    records: int | None,
    closed: float | None,
) -> float:
    """The wait before the next read: as long as the job's pace says its records still
    need (between two reads that saw it move, or since `closed` when that is given), or
    twice the last one while its pace is not known."""
    pace = None
    if seen is not None and done > seen[1] and now > seen[0]:
        pace, margin = (done - seen[1]) / (now - seen[0]), 1.1
    elif closed is not None and done > 0 and now > closed:
        pace, margin = done / (now - closed), 1.0  # a lower bound already
    if pace and records is not None:
        wait = (records - done) / pace * margin + FIRST_POLL
    else:
        wait *= 2
    return min(max(wait, FIRST_POLL), LONGEST_POLL)
