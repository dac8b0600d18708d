"""Walking a vendor's pages, and cursors as JSON text: one way for every connector.

for page in follow(lambda token: fetch_page(after=token)):   # until no next token
    ...
for page in interleave([walk_a, walk_b], workers=4):         # several walks side by side
    ...
for n, page in interleave_tagged([walk_a, walk_b]):          # the same, each page's walk
    ...                                                      # named, and each walk's end
cursor = dump_cursor(after="123")   ->  '{"after": "123"}'
load_cursor(cursor)                 ->  {"after": "123"}   ({} for None)
"""

from __future__ import annotations

import contextvars
import json
import queue
import threading
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

Item = TypeVar("Item")
Token = TypeVar("Token")


def follow(
    fetch: Callable[[Token | None], tuple[Item, Token | None]], start: Token | None = None
) -> Iterator[Item]:
    """Each page `fetch(token)` answers, from `start`, until it gives no next token."""
    token = start
    while True:
        item, token = fetch(token)
        yield item
        if token is None:
            return


def load_cursor(text: str | None) -> dict[str, Any]:
    """A stored cursor's values; an empty dict when there is none (pull everything)."""
    if not text:
        return {}
    values = json.loads(text)
    if not isinstance(values, dict):
        raise ValueError(f"a cursor is a JSON object, not {type(values).__name__}")
    return values


def dump_cursor(**values: Any) -> str | None:
    """The cursor text of `values`; None when every value is None (nothing to resume from)."""
    kept = {k: v for k, v in values.items() if v is not None}
    return json.dumps(kept, sort_keys=True) if kept else None


SOURCE_ENDED = object()
"""What `interleave_tagged` gives, with a source's index, once that source has ended."""


def interleave(sources: Sequence[Callable[[], Iterable[Item]]], workers: int = 4) -> Iterator[Item]:
    """The items of several sources, each read in a thread of its own (at most `workers`
    at once), as they come: walks that each wait on the network one page at a time
    then share the rate limit instead of queueing behind each other. A source's
    failure is raised here; when the consumer stops, the sources stop at their next
    item, and those still queued never start. Few items wait at once (two per worker),
    so memory stays bounded.
    """
    tagged = interleave_tagged(sources, workers)
    try:
        for _, item in tagged:
            if item is not SOURCE_ENDED:
                yield item  # type: ignore[misc]
    finally:
        tagged.close()  # its sources stopped now, not when it is collected


def interleave_tagged(
    sources: Sequence[Callable[[], Iterable[Item]]], workers: int = 4
) -> Generator[tuple[int, Item | object], None, None]:
    """As `interleave`, each item with the index of its source, and `(index,
    SOURCE_ENDED)` once that source has given its last: a consumer that must know when
    a source is read whole (to move its cursor) learns it in the order of the items."""
    if not sources:
        return
    waiting: queue.Queue[tuple[int, BaseException | None, object]] = queue.Queue(2 * workers)
    stop = threading.Event()

    def put(entry: tuple[int, BaseException | None, object]) -> bool:
        while not stop.is_set():
            try:
                waiting.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run(index: int, source: Callable[[], Iterable[Item]]) -> None:
        if stop.is_set():
            return  # queued when the consumer stopped: never call the vendor for it
        try:
            for item in source():
                if not put((index, None, item)):
                    return
        except BaseException as exc:  # raised again in the consumer's thread
            put((index, exc, SOURCE_ENDED))
            stop.set()  # the whole walk fails: no other source starts or goes on
            return
        put((index, None, SOURCE_ENDED))

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(sources)))) as pool:
        for index, source in enumerate(sources):
            pool.submit(run, index, source)
        left = len(sources)
        try:
            while left:
                index, error, item = waiting.get()
                if error is not None:
                    raise error
                if item is SOURCE_ENDED:
                    left -= 1
                yield index, item
        finally:
            stop.set()
            pool.shutdown(cancel_futures=True)


def side_by_side(calls: Sequence[Callable[[], Item]], workers: int = 4) -> list[Item]:
    """Each of `calls` run at once in threads of their own (at most `workers`), their
    answers in the order given: a step of calls that need nothing of each other costs
    one round trip, not one each. Each runs in a copy of the caller's context, so its
    `connectors.policy.patience` holds there too. The first failure (in that order) is
    raised once every call is over; a single call runs in the caller's thread."""
    if len(calls) <= 1:
        return [call() for call in calls]
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="side") as pool:
        futures = [pool.submit(contextvars.copy_context().run, call) for call in calls]
    return [future.result() for future in futures]
