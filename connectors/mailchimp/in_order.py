"""Calls side by side, their results in order: how a pull uses Mailchimp's 10 connections.

    for answer in in_order(lambda o=o: api.call(op, count=1000, offset=o) for o in offsets):
        ...  # answers in the order of the offsets

Each task runs in a thread of a pool of `workers`; at most `ahead` are started past the
oldest whose result is not yet handed over. Results come out in the tasks' order, so
whatever the caller hands on keeps the order a one-by-one walk would (a page's cursor
covers only what was handed over before it). The connection gate (`gate.py`) still caps
the calls in flight for the whole process. A task's failure is raised when its turn
comes; an iterator closed early cancels the tasks not started and waits for the others.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from connectors.mailchimp.gate import CONNECTIONS

Result = TypeVar("Result")


def in_order(
    tasks: Iterable[Callable[[], Result]], workers: int = CONNECTIONS, ahead: int | None = None
) -> Generator[Result, None, None]:
    """The result of each task, in the tasks' order, the tasks run `workers` at a time."""
    most = max(ahead or workers, 1)
    pending: deque[Future[Result]] = deque()
    with ThreadPoolExecutor(workers, thread_name_prefix="mailchimp-pull") as pool:
        try:
            for task in tasks:
                pending.append(pool.submit(task))
                if len(pending) >= most:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
