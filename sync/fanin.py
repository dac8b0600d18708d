"""Several producers side by side, one consumer: the pull's fan-in.

Each stream of a system is pulled in a thread of its own (the call policy
paces them together) while the calling thread consumes what they bring, so no
stream waits between its calls for the store, which wants a single writer.
What has piled up while the consumer was busy is handed over in one go
(`fan_in_groups`), so a consumer that falls behind catches up by doing more at
a time. A failure in any producer stops the others at their next item and is
raised in the calling thread.

Producers named `first` (a system's contact stream) have a lane of their own: their
items are handed over ahead of the others', and they never wait behind a queue full of
the others' (a Mailchimp pull's member pages had waited behind 64 pages of email activity
each, the member walk taking nine times its share of the calls' time).
"""

from __future__ import annotations

import collections
import contextlib
import queue
import sys
import threading
import time
from collections.abc import (
    Callable,
    Collection,
    Iterable,
    Iterator,
    Mapping,
    MutableMapping,
    Sequence,
)
from typing import Generic, TypeVar

Produced = TypeVar("Produced")


class _Done:
    """Handed over by a producer when it has nothing more (an item may be None)."""


DONE = _Done()
Entry = tuple[str, Produced | BaseException | _Done]
"""(producer key, an item; or the failure that ended it; or DONE)."""
JOIN_SECONDS = 60.0
HELD = "(held by a full queue)"
"""The key of `seconds` under which the producers' waits for the consumer add up."""
CONSUMER_CPU = "(consumer CPU)"
"""The key of `seconds` under which the CPU time of the consumer's thread adds up (the
store's work on a shared machine, where its wall time also counts the other threads')."""


class Lanes(Generic[Produced]):
    """Two bounded queues read as one: what `first` keys bring is taken before the rest,
    and each lane holds at most `size` entries, so a full lane never holds up the other's
    producers. Entries of one key keep their order."""

    def __init__(self, size: int, first: Collection[str]) -> None:
        self.size, self.first = size, frozenset(first)
        self.lanes: tuple[collections.deque[Produced], collections.deque[Produced]] = (
            collections.deque(),
            collections.deque(),
        )
        self.changed = threading.Condition()

    def put(self, key: str, entry: Produced, timeout: float | None = None) -> bool:
        """Queue `entry` of `key` in its lane, waiting up to `timeout` (None: forever) for
        room; whether it was queued."""
        lane = self.lanes[0 if key in self.first else 1]
        with self.changed:
            if not self.changed.wait_for(lambda: len(lane) < self.size, timeout):
                return False
            lane.append(entry)
            self.changed.notify_all()
            return True

    def get(self, block: bool = True) -> Produced:
        """The next entry, the `first` lane's before the other's; raises `queue.Empty` when
        there is none and `block` is false."""
        with self.changed:
            if block:
                self.changed.wait_for(lambda: self.lanes[0] or self.lanes[1])
            lane = self.lanes[0] or self.lanes[1]
            if not lane:
                raise queue.Empty
            entry = lane.popleft()
            self.changed.notify_all()
            return entry


def fan_in(
    producers: Mapping[str, Callable[[], Iterable[Produced]]],
    consume: Callable[[str, Produced], None],
    *,
    name: str = "fan-in",
    seconds: MutableMapping[str, float] | None = None,
    buffered: int = 64,
) -> None:
    """Run every producer in its own thread and hand each item to `consume(key, item)` here.

    `seconds` receives how long each producer ran. Returns once every producer is done;
    the first failure of any producer (or of `consume`) stops them all and is raised.
    """

    def each(group: Sequence[tuple[str, Produced]]) -> None:
        for key, item in group:
            consume(key, item)

    fan_in_groups(producers, each, name=name, seconds=seconds, buffered=buffered, most=1)


TURN_SECONDS = 0.001
"""The interpreter's switch interval while a fan-in runs (`short_turns`). A producer's
thread that has its answer waits for the GIL while the consumer (or another producer)
maps and stores what came before; in the default 5 ms turns, each of a Mailchimp pull's
884 calls of 250 ms held its connection about 28 ms more, waiting for its turn to send and
to read (p90 24 ms and 27 ms). In 1 ms turns that wait shrank by 7 ms a call and the
pull's wall by 3 to 4 per cent of its bound, in 4 runs of 4, each beside a run in 5 ms
turns on the same machine."""


class _Turns:
    """The switch interval, shortened while any fan-in runs and restored after the last
    (fan-ins may overlap, in threads of one process)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running = 0
        self.before = 0.0

    @contextlib.contextmanager
    def short(self, seconds: float) -> Iterator[None]:
        with self.lock:
            now = sys.getswitchinterval()
            if not self.running:
                self.before = now
            sys.setswitchinterval(min(now, seconds))
            self.running += 1
        try:
            yield
        finally:
            with self.lock:
                self.running -= 1
                if not self.running:
                    sys.setswitchinterval(self.before)


_TURNS = _Turns()


def short_turns(seconds: float = TURN_SECONDS) -> contextlib.AbstractContextManager[None]:
    """Threads take turns at the GIL every `seconds` at most until the block ends, or the
    shortest such turns of the blocks under way; the interval from before the first block
    comes back when the last one ends."""
    return _TURNS.short(seconds)


def fan_in_groups(
    producers: Mapping[str, Callable[[], Iterable[Produced]]],
    consume: Callable[[Sequence[tuple[str, Produced]]], None],
    *,
    name: str = "fan-in",
    seconds: MutableMapping[str, float] | None = None,
    buffered: int = 64,
    most: int = 16,
    weight: Callable[[Produced], int] | None = None,
    heaviest: int = 0,
    first: Collection[str] = (),
) -> None:
    """As `fan_in`, but `consume` is handed [(key, item), ...]: what the producers brought
    since it was last called (at most `most`, at least one), in the order it came. With
    `weight`, a group also ends once its items weigh `heaviest` or more: no group weighs
    more than `heaviest` plus its last item, however large the items. What the producers
    named in `first` bring comes ahead of the others' (`Lanes`), each lane `buffered` long.
    `seconds` also receives, under `HELD`, how long producers waited on a full queue, and
    under `CONSUMER_CPU` the CPU time `consume` took. Threads take turns in `TURN_SECONDS`
    meanwhile (`short_turns`)."""
    with short_turns():
        _fan_in_groups(producers, consume, name, seconds, buffered, most, weight, heaviest, first)


def _fan_in_groups(
    producers: Mapping[str, Callable[[], Iterable[Produced]]],
    consume: Callable[[Sequence[tuple[str, Produced]]], None],
    name: str,
    seconds: MutableMapping[str, float] | None,
    buffered: int,
    most: int,
    weight: Callable[[Produced], int] | None,
    heaviest: int,
    first: Collection[str],
) -> None:
    items: Lanes[Entry[Produced]] = Lanes(buffered, first)
    stop = threading.Event()
    timings = seconds if seconds is not None else {}
    held = threading.Lock()
    timings[HELD] = timings[CONSUMER_CPU] = 0.0

    def hand_over(entry: Entry[Produced]) -> bool:
        if items.put(entry[0], entry, timeout=0):  # room in the queue: no wait to time
            return True
        began = time.perf_counter()
        try:
            while not stop.is_set():
                if items.put(entry[0], entry, timeout=0.1):
                    return True
            return False
        finally:
            with held:
                timings[HELD] += time.perf_counter() - began

    def produce(key: str, make: Callable[[], Iterable[Produced]]) -> None:
        began = time.perf_counter()
        try:
            for item in make():
                if not hand_over((key, item)):
                    return  # the consumer is gone: stop calling the vendor
        except BaseException as exc:  # handed to the consuming thread, which raises it
            hand_over((key, exc))
        finally:
            timings[key] = time.perf_counter() - began
            hand_over((key, DONE))

    threads = [
        threading.Thread(target=produce, args=(key, make), name=f"{name}-{key}", daemon=True)
        for key, make in producers.items()
    ]
    for thread in threads:
        thread.start()
    running = len(threads)
    try:
        while running:
            group: list[tuple[str, Produced]] = []
            failure: BaseException | None = None
            weighed, heavy = 0, False
            entry = items.get()  # wait for the first; then take what is there already
            while True:
                key, item = entry
                if item is DONE:
                    running -= 1
                elif isinstance(item, BaseException):
                    failure = item
                    break
                else:
                    group.append((key, item))  # type: ignore[arg-type]
                    if weight is not None:
                        weighed += weight(item)  # type: ignore[arg-type]
                        heavy = weighed >= heaviest
                if len(group) >= most or not running or heavy:
                    break
                try:
                    entry = items.get(block=False)
                except queue.Empty:
                    break
            if group:
                began = time.thread_time()
                try:
                    consume(group)
                finally:
                    timings[CONSUMER_CPU] += time.thread_time() - began
            if failure is not None:
                raise failure
    finally:
        # On any failure the other producers stop at their next item instead of going on
        # for nothing (or blocking on a full queue forever).
        stop.set()
        deadline = time.monotonic() + JOIN_SECONDS
        for thread in threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
