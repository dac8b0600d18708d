"""A run's deadline: the moment by which a sync must have returned (a serverless platform
stops the function then), and the run's steps that stop starting work as it comes.

`SyncOptions.deadline` is a moment on the run's monotonic clock (`Sync.monotonic`,
`time.monotonic` unless a test injects one), so that waiting for the lock counts
against it: a handler passes `time.monotonic() + remaining - margin`, the CLI's
`--max-seconds N` passes `time.monotonic() + N`.

    pull   stops starting pages and streams at `pull_until` = deadline - reserve,
           at page boundaries: a page fetched is stored whole, the rest not asked for
    score  skipped when the deadline has passed once the pull is over
    write  stops submitting batches at the deadline; those in flight land and are recorded
    then   cursors of the streams pulled whole only (`Sync._commit_stored`), the trigger
           queue left for the next run; persons whose writes did not land stay due

The reserve is what scoring, planning and writing get: the larger of a share of the
time (`RESERVE_SHARE`) and an estimate from the store, `ESTIMATE_FACTOR` times the
longest score and plan phases of its last runs (their time grows with the people who
are due, so the runs of this very store measure it best), yet never more than
`RESERVE_MOST` of the time, so that a run always pulls something and a store that
once scored slowly cannot keep every later run from pulling. A reserve that proves
short costs only writes: they stop at the deadline and the next run makes them.

The platform's own limit stays the last word: a step already running when the
deadline comes (a page being fetched, scoring) is not interrupted, so the margin a
handler subtracts must cover one such step; a run killed anyway is as safe as any
killed run (`sync/pipeline.py`), only slower to resume.
"""

from __future__ import annotations

import concurrent.futures as futures
import math
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor
from typing import TYPE_CHECKING, TypeVar, cast

from connectors.protocol import Page

if TYPE_CHECKING:
    from sync.store import StateStore

RESERVE_SHARE = 0.2
"""Of the time from the run's start to its deadline, kept for scoring and writing."""
RESERVE_MOST = 0.5
"""The reserve never takes more than this share of the time: the pull gets the rest."""
ESTIMATE_FACTOR = 1.5
"""The store's last score and plan phases, times this, make the estimate of the reserve."""
ESTIMATE_RUNS = 5
"""How many of the store's last runs the estimate reads."""

_Item = TypeVar("_Item")
_Done = TypeVar("_Done")


class RunDeadline:
    """When a run must have returned (None: never), read on `clock`; what it cut short."""

    def __init__(self, at: float | None, clock: Callable[[], float], reserve: float = 0.0):
        self.at = at
        self.clock = clock
        self.reserve = reserve
        self.pull_until = None if at is None else at - reserve
        self.cut: list[str] = []
        """What the deadline cut short, a phrase each ("hubspot contacts not pulled whole")."""
        self._noting = threading.Lock()

    @classmethod
    def of_run(cls, at: float | None, clock: Callable[[], float], store: StateStore) -> RunDeadline:
        """The deadline of a run starting now, its reserve worked out (see the module)."""
        if at is None:
            return cls(None, clock)
        span = max(0.0, at - clock())
        return cls(at, clock, reserve_for(span, past_seconds(store)))

    def remaining(self) -> float:
        """Seconds left until the deadline (infinite without one, never below 0)."""
        return math.inf if self.at is None else max(0.0, self.at - self.clock())

    def passed(self) -> bool:
        return self.at is not None and self.clock() >= self.at

    def pull_over(self) -> bool:
        """Time to start no more pages: what is left is the reserve."""
        return self.pull_until is not None and self.clock() >= self.pull_until

    def note(self, what: str) -> None:
        with self._noting:
            if what not in self.cut:
                self.cut.append(what)

    @property
    def reached(self) -> bool:
        """Whether the deadline cut anything short."""
        return bool(self.cut)

    def warning(self) -> str:
        return (
            f"stopped before its deadline: {'; '.join(self.cut)}; "
            "the next run takes up what was left"
        )


def reserve_for(span: float, past: Sequence[float]) -> float:
    """Seconds of `span` kept for scoring and writing, given the score and plan seconds
    of the store's last runs (see the module)."""
    estimate = ESTIMATE_FACTOR * max(past, default=0.0)
    return min(RESERVE_MOST * span, max(RESERVE_SHARE * span, estimate))


def past_seconds(store: StateStore) -> list[float]:
    """The seconds each of the store's last finished runs spent scoring and planning."""
    found = []
    for run in store.runs(ESTIMATE_RUNS):
        phases = run.summary.get("phase_seconds") if isinstance(run.summary, dict) else None
        if isinstance(phases, dict):
            spent = [phases.get(p, 0.0) for p in ("score", "plan")]
            found.append(sum(s for s in spent if isinstance(s, int | float)))
    return found


def pages_until(
    pages: Callable[[], Iterable[Page]], deadline: RunDeadline, what: str
) -> Iterator[Page | None]:
    """A stream's pages while the pull has time, then None if it was pulled whole.

    The deadline is looked at before each page is asked for, never during one: every
    page handed on is whole, and a stream stopped early is noted (`RunDeadline.cut`)."""
    if deadline.pull_over():
        deadline.note(f"{what} not pulled")
        return
    source = iter(pages())
    try:
        for page in source:
            yield page
            if deadline.pull_over():
                deadline.note(f"{what} not pulled whole")
                return
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()  # the connector's generator lets go of what it holds
    yield None


def submitted_in_time(
    pool: Executor,
    work: Callable[[_Item], _Done],
    items: Sequence[_Item],
    deadline: RunDeadline,
    *,
    most: int,
    what: str,
    size: Callable[[_Item], int] = lambda _item: 1,
) -> Iterator[_Done]:
    """`work` done for each item, as each finishes, by `most` workers of the pool that each
    take the next item as soon as their last is done (no round trip through this thread, so
    `most` items are in flight all the time); none taken once the deadline has passed
    (those in flight land). The first failure is raised, after what was in flight has
    finished; no item is taken after it."""
    left = deque(items)
    taking = threading.Lock()
    answers: queue.SimpleQueue[tuple[bool, object]] = queue.SimpleQueue()
    stopped = threading.Event()

    def take() -> list[_Item]:
        """The next item (in a list of one), or none once there is nothing more to take."""
        with taking:
            if stopped.is_set() or not left:
                return []
            if deadline.passed():
                deadline.note(f"{what}: {sum(size(i) for i in left):,} writes not sent")
                left.clear()
                return []
            return [left.popleft()]

    def worker() -> None:
        try:
            while taken := take():
                try:
                    answers.put((True, work(taken[0])))
                except BaseException as failure:
                    stopped.set()
                    answers.put((False, failure))
                    return
        finally:
            answers.put((False, _WORKER_DONE))

    workers = [pool.submit(worker) for _ in range(max(1, min(most, len(left))))] if left else []
    running, failure = len(workers), None
    try:
        while running:
            ok, answer = answers.get()
            if answer is _WORKER_DONE:
                running -= 1
            elif not ok:
                failure = failure or answer
            elif failure is None:
                yield cast(_Done, answer)
    finally:
        stopped.set()  # a consumer that stops early takes no more items
        futures.wait(workers)
    if isinstance(failure, BaseException):
        raise failure


_WORKER_DONE = object()
"""What a worker of `submitted_in_time` says when it has taken its last item."""
