"""One rescore at a time per record in this process, shared by every ask it can answer.

A burst (a workflow firing for several property changes, a retry racing the
first try) asks for the same record many times within seconds. An ask may take
the result of a rescore that *began after it arrived*: that rescore fetched the
record after whatever made the caller ask. An ask that finds a rescore already
under way, begun before it arrived, waits for it to end and then joins (or
starts) the next one: a burst costs at most two rescores, and the second finds
nothing new to write. Across processes the record lock of `sync.trigger` does
the same job (`busy`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

R = TypeVar("R")


@dataclass
class _Flight(Generic[R]):
    began: float
    done: bool = False
    result: R | None = None
    error: BaseException | None = None


class Flights(Generic[R]):
    """`run(key, work)`: `work()`'s result, shared with the asks it can answer."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._changed = threading.Condition()
        self._flights: dict[Hashable, _Flight[R]] = {}
        self._waiting: dict[Hashable, int] = {}
        self._landed: dict[Hashable, _Flight[R]] = {}
        """The last rescore of a key that ended, while asks for the key wait: one that
        asked before it began takes its result even if it ended before the ask woke."""

    def waiting(self, key: Hashable) -> int:
        """Asks for `key` waiting on a rescore (riding it, or for the next)."""
        with self._changed:
            return self._waiting.get(key, 0)

    def run(self, key: Hashable, work: Callable[[], R]) -> R:
        arrived = self._clock()
        with self._changed:
            self._waiting[key] = self._waiting.get(key, 0) + 1
            while True:
                landed = self._landed.get(key)
                if landed is not None and landed.began >= arrived:
                    flight, leads = landed, False
                    break
                under_way = self._flights.get(key)
                if under_way is None:
                    flight = _Flight(began=self._clock())
                    self._flights[key] = flight
                    leads = True
                    self._done_waiting(key)
                    self._changed.notify_all()  # those who asked before may ride it
                    break
                if under_way.began >= arrived:
                    flight, leads = under_way, False
                    break
                self._changed.wait()
        if leads:
            try:
                flight.result = work()
            except BaseException as exc:
                flight.error = exc
            finally:
                with self._changed:
                    del self._flights[key]
                    flight.done = True
                    if key in self._waiting:
                        self._landed[key] = flight
                    self._changed.notify_all()
        else:
            with self._changed:
                while not flight.done:
                    self._changed.wait()
                self._done_waiting(key)
        if flight.error is not None:
            raise flight.error
        return flight.result  # type: ignore[return-value]

    def _done_waiting(self, key: Hashable) -> None:
        left = self._waiting[key] - 1
        if left:
            self._waiting[key] = left
        else:
            del self._waiting[key]
            self._landed.pop(key, None)
