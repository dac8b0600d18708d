"""The pull's fan-in: every producer's items reach the consumer, and a failure stops them all."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator, Sequence

import pytest

from sync.fanin import CONSUMER_CPU, HELD, TURN_SECONDS, fan_in, fan_in_groups, short_turns


def test_every_item_of_every_producer_is_consumed_none_included() -> None:
    got: list[tuple[str, int | None]] = []
    seconds: dict[str, float] = {}

    fan_in(
        {"a": lambda: [1, None, 2], "b": lambda: [3]},
        lambda key, item: got.append((key, item)),
        seconds=seconds,
    )

    assert sorted(got, key=str) == sorted([("a", 1), ("a", None), ("a", 2), ("b", 3)], key=str)
    assert set(seconds) == {"a", "b", HELD, CONSUMER_CPU}


def test_a_failing_producer_stops_the_others_and_its_error_is_raised_here() -> None:
    stopped = threading.Event()

    def endless() -> Iterator[int]:
        try:
            n = 0
            while True:
                n += 1
                yield n
        finally:
            stopped.set()

    def failing() -> Iterator[int]:
        yield 1
        raise RuntimeError("the vendor went away")

    with pytest.raises(RuntimeError, match="went away"):
        fan_in({"endless": endless, "failing": failing}, lambda _key, _item: None, buffered=4)

    assert stopped.wait(5)  # the endless producer was told to stop, and did


def test_a_failure_while_consuming_stops_the_producers() -> None:
    def consume(_key: str, item: int) -> None:
        if item == 3:
            raise ValueError("the store refused it")

    with pytest.raises(ValueError, match="refused"):
        fan_in({"a": lambda: range(100)}, consume, buffered=2)


def test_what_piled_up_while_consuming_is_handed_over_in_order_at_most_so_many_at_once() -> None:
    groups: list[list[int]] = []
    first = threading.Event()

    def consume(group: Sequence[tuple[str, int]]) -> None:
        if not groups:
            first.wait(5)  # the producer fills the queue meanwhile
        groups.append([item for _, item in group])

    def produce() -> Iterator[int]:
        yield 0
        yield from range(1, 11)
        first.set()

    fan_in_groups({"a": produce}, consume, buffered=20, most=4)

    assert [n for group in groups for n in group] == list(range(11))
    assert max(len(group) for group in groups) == 4 and len(groups) < 11


def test_a_group_ends_once_its_items_weigh_the_bound_whatever_their_count() -> None:
    groups: list[list[int]] = []
    taken, first = threading.Event(), threading.Event()

    def consume(group: Sequence[tuple[str, int]]) -> None:
        if not groups:
            taken.set()
            first.wait(5)  # the producer fills the queue meanwhile
        groups.append([item for _, item in group])

    def produce() -> Iterator[int]:  # items weighing themselves: 0, then 1 to 20
        yield 0
        taken.wait(5)  # the first group is [0] alone
        yield from range(1, 21)
        first.set()

    fan_in_groups({"a": produce}, consume, buffered=30, most=64, weight=int, heaviest=10)

    assert [n for group in groups for n in group] == list(range(21))
    # A group takes items until they weigh 10 or more, however few: 64 would be allowed.
    heavy = [[1, 2, 3, 4], [5, 6], [7, 8], [9, 10], *([n] for n in range(11, 21))]
    assert groups == [[0], *heavy]


def test_items_brought_before_a_failure_are_consumed_before_it_is_raised() -> None:
    got: list[int] = []

    def failing() -> Iterator[int]:
        yield from (1, 2)
        raise RuntimeError("the vendor went away")

    with pytest.raises(RuntimeError, match="went away"):
        fan_in_groups({"a": failing}, lambda group: got.extend(n for _, n in group))

    assert got == [1, 2]


def test_the_first_producers_items_come_ahead_and_never_wait_behind_the_others() -> None:
    groups: list[list[tuple[str, int]]] = []
    taken, filled = threading.Event(), threading.Event()

    def consume(group: Sequence[tuple[str, int]]) -> None:
        if not groups:
            taken.set()
            assert filled.wait(5)  # both producers bring what they have meanwhile
        groups.append(list(group))

    def activities() -> Iterator[int]:
        yield 0
        assert taken.wait(5)
        yield from range(1, 5)  # the queue holds 4: the rest waits for the consumer

    def contacts() -> Iterator[int]:
        assert taken.wait(5)
        yield from (10, 11, 12)  # room of its own: not held by the activities' full queue
        filled.set()

    fan_in_groups({"activities": activities, "contacts": contacts}, consume, buffered=3,
                  most=64, first=["contacts"])  # fmt: skip

    assert groups[0] == [("activities", 0)]
    assert groups[1][:3] == [("contacts", 10), ("contacts", 11), ("contacts", 12)]
    rest = [item for group in groups[1:] for key, item in group if key == "activities"]
    assert rest == [1, 2, 3, 4]


def test_threads_take_short_turns_while_a_fan_in_runs_and_as_before_after() -> None:
    before = sys.getswitchinterval()
    seen: list[float] = []

    fan_in({"a": lambda: [sys.getswitchinterval()]}, lambda key, item: seen.append(item))

    assert seen == [pytest.approx(min(before, TURN_SECONDS))]
    assert sys.getswitchinterval() == before


def test_overlapping_short_turns_restore_the_interval_after_the_last_ends() -> None:
    before = sys.getswitchinterval()
    first, second = short_turns(), short_turns()
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)  # the first to start ends first
    during = sys.getswitchinterval()
    second.__exit__(None, None, None)

    assert during == pytest.approx(min(before, TURN_SECONDS))
    assert sys.getswitchinterval() == before


def test_a_shorter_interval_already_set_is_kept() -> None:
    before = sys.getswitchinterval()
    sys.setswitchinterval(TURN_SECONDS / 2)
    try:
        with short_turns():
            assert sys.getswitchinterval() == pytest.approx(TURN_SECONDS / 2)
    finally:
        sys.setswitchinterval(before)
