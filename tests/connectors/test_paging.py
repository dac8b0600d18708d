"""Walking pages and keeping cursors, and HubSpot's email event offsets walked with them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connectors.errors import RejectedError
from connectors.hubspot.pull import event_pages
from connectors.paging import (
    SOURCE_ENDED,
    dump_cursor,
    follow,
    interleave,
    interleave_tagged,
    load_cursor,
)


def test_follow_walks_until_no_next_token() -> None:
    pages = {None: ("a", 1), 1: ("b", 2), 2: ("c", None)}

    assert list(follow(lambda token: pages[token])) == ["a", "b", "c"]


def test_a_cursor_is_json_text_and_none_when_there_is_nothing_to_resume_from() -> None:
    assert dump_cursor(after="123") == '{"after": "123"}'
    assert dump_cursor(after=None) is None
    assert load_cursor(None) == {} and load_cursor('{"after": "123"}') == {"after": "123"}
    with pytest.raises(ValueError, match="JSON object"):
        load_cursor("[1]")


class Events:
    """A fake email events API answering pages from a script of offsets."""

    def __init__(self, offsets: list[str | None]) -> None:
        self.offsets = offsets
        self.asked: list[dict[str, Any]] = []

    def email_events(self, params: dict[str, Any]) -> dict[str, Any]:
        self.asked.append(params)
        following = self.offsets[len(self.asked) - 1]
        return {"events": [], "hasMore": following is not None, "offset": following}


def test_email_event_pages_follow_offsets_to_the_end() -> None:
    api = Events(["a", "b", None])

    pages = list(event_pages(api, {"limit": 1000}))  # type: ignore[arg-type]

    assert len(pages) == 3
    assert [p.get("offset") for p in api.asked] == [None, "a", "b"]


def test_an_offset_that_comes_back_stops_the_walk_instead_of_looping() -> None:
    api = Events(["a", "b", "a", "b", None])

    with pytest.raises(RejectedError, match="came back"):
        list(event_pages(api, {"limit": 1000}))  # type: ignore[arg-type]

    assert len(api.asked) == 3


def test_interleave_yields_every_item_of_every_source_once() -> None:
    sources = [lambda n=n: iter(range(n * 100, n * 100 + n)) for n in range(1, 7)]

    found = list(interleave(sources, workers=3))

    assert sorted(found) == sorted(i for n in range(1, 7) for i in range(n * 100, n * 100 + n))


def test_interleave_tagged_names_each_items_source_and_its_end_after_its_last() -> None:
    sources = [lambda n=n: iter(range(n * 100, n * 100 + n)) for n in range(5)]

    found = list(interleave_tagged(sources, workers=2))

    for n in range(5):
        mine = [item for index, item in found if index == n]
        assert mine == [*range(n * 100, n * 100 + n), SOURCE_ENDED]  # in order, the end last
    assert len(found) == sum(range(5)) + 5


def test_interleave_raises_a_sources_failure_in_the_consumer() -> None:
    def failing() -> Iterator[int]:
        yield 1
        raise RuntimeError("page 2 refused")

    with pytest.raises(RuntimeError, match="page 2 refused"):
        list(interleave([failing, lambda: iter(range(3))]))


def test_a_consumer_that_stops_early_stops_the_sources() -> None:
    produced: list[int] = []

    def endless() -> Iterator[int]:
        n = 0
        while True:
            produced.append(n)
            yield n
            n += 1

    items = interleave([endless], workers=1)
    first = [next(items) for _ in range(3)]
    items.close()  # the consumer is done: closing waits for the worker thread to end

    # three taken, two waiting in the queue, one that found the consumer gone
    assert first == [0, 1, 2] and len(produced) <= 3 + 2 + 1


def test_sources_still_queued_when_the_consumer_stops_never_start() -> None:
    started: list[int] = []

    def walk(n: int) -> Iterator[int]:
        started.append(n)  # a walk's first page is a call to the vendor
        yield n

    sources = [lambda n=n: walk(n) for n in range(20)]
    items = interleave(sources, workers=2)
    next(items)
    items.close()

    # at most those whose entries fit the queue (two per worker) and those waiting to put
    assert len(started) <= 8


def test_sources_still_queued_when_one_fails_never_start() -> None:
    started: list[int] = []

    def walk(n: int) -> Iterator[int]:
        started.append(n)
        if n == 0:
            raise RuntimeError("budget spent")
        yield n

    sources = [lambda n=n: walk(n) for n in range(20)]
    with pytest.raises(RuntimeError, match="budget spent"):
        list(interleave(sources, workers=1))

    assert started == [0]
