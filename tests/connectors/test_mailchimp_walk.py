"""A collection's pages read side by side (`collections_walk.walk_side_by_side`): the same
pages, in the same order and for the same calls, as the page-by-page walk; a collection
that grows meanwhile read to its new end; no count, page by page."""

from __future__ import annotations

import threading
import time
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.mailchimp.collections_walk import PAGE_COUNT, walk_collection, walk_side_by_side


class Collection:
    """A fake Mailchimp collection of `size` items (growing by `grow` after each answer),
    answering `count`/`offset` pages with `total_items` (left out with `counted` false)."""

    def __init__(
        self,
        size: int,
        grow: int = 0,
        counted: bool = True,
        pause: float = 0,
        most: int = PAGE_COUNT,
        total: Any = None,
    ) -> None:
        self.size, self.grow, self.counted, self.pause = size, grow, counted, pause
        self.page_most, self.total = most, total
        self.calls: list[int] = []
        self.lock = threading.Lock()
        self.busy = self.most = 0

    def call(self, operation: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        assert operation == "reports.get_email_activity_for_campaign" and args == ("c1",)
        with self.lock:
            self.busy += 1
            self.most = max(self.most, self.busy)
        time.sleep(self.pause)
        with self.lock:
            self.busy -= 1
            offset, count = kwargs["offset"], min(kwargs["count"], self.page_most)
            self.calls.append(offset)
            answer: dict[str, Any] = {
                "emails": [{"n": n} for n in range(offset, min(offset + count, self.size))]
            }
            if self.counted:
                answer["total_items"] = self.size if self.total is None else self.total
            self.size += self.grow
            return answer


def walked(walk: Any, collection: Collection) -> list[list[int]]:
    pages = walk(collection, "reports.get_email_activity_for_campaign", "emails", "c1")
    return [[item["n"] for item in page] for page in pages]


@settings(max_examples=60, deadline=None)
@given(size=st.integers(0, 5 * PAGE_COUNT + 1), counted=st.booleans())
def test_side_by_side_reads_the_pages_page_by_page_reads(size: int, counted: bool) -> None:
    one, other = Collection(size, counted=counted), Collection(size, counted=counted)
    assert walked(walk_side_by_side, one) == walked(walk_collection, other)
    assert sorted(one.calls) == other.calls


def test_a_collection_that_grows_during_the_walk_is_read_to_its_new_end() -> None:
    growing = Collection(2 * PAGE_COUNT + 10, grow=300)
    items = [n for page in walked(walk_side_by_side, growing) for n in page]
    assert items == list(range(len(items))) and len(items) >= 2 * PAGE_COUNT + 10 + 300


def test_the_pages_after_the_first_are_read_side_by_side() -> None:
    slow = Collection(6 * PAGE_COUNT, pause=0.05)
    pages = walked(walk_side_by_side, slow)
    assert [len(page) for page in pages] == [PAGE_COUNT] * 6
    assert slow.most > 1  # page by page it is 1
    assert slow.calls[0] == 0 and sorted(slow.calls) == [n * PAGE_COUNT for n in range(6)]


def test_a_server_giving_shorter_pages_than_asked_is_read_whole() -> None:
    short = Collection(5 * PAGE_COUNT, most=PAGE_COUNT // 2)
    items = [n for page in walked(walk_side_by_side, short) for n in page]
    assert items == list(range(5 * PAGE_COUNT))


def test_a_count_that_is_not_whole_ends_the_walk() -> None:
    odd, other = (Collection(2 * PAGE_COUNT + 500, total="2500.5") for _ in "ab")
    items = [n for page in walked(walk_side_by_side, odd) for n in page]
    assert items == list(range(2 * PAGE_COUNT + 500))
    assert walked(walk_collection, other) and sorted(odd.calls) == other.calls
