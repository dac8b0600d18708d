"""Calls side by side, results in order: the helper both Mailchimp pulls read through."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

from connectors.mailchimp.in_order import in_order


def test_results_come_in_the_tasks_order_whatever_order_they_finish_in() -> None:
    def task(n: int) -> Callable[[], int]:
        def run() -> int:
            time.sleep(0.02 * (5 - n))  # the first task finishes last
            return n

        return run

    assert list(in_order(task(n) for n in range(6))) == list(range(6))


def test_no_more_than_the_workers_run_at_once_and_they_do_run_together() -> None:
    lock, running, peak = threading.Lock(), [0], [0]

    def run() -> None:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.02)
        with lock:
            running[0] -= 1

    list(in_order((run for _ in range(20)), workers=4))
    assert peak[0] == 4


def test_a_failure_is_raised_at_its_turn_after_the_results_before_it() -> None:
    def fail() -> int:
        raise ValueError("refused")

    got: list[int] = []
    with pytest.raises(ValueError, match="refused"):
        for result in in_order([lambda: 1, lambda: 2, fail, lambda: 4]):
            got.append(result)
    assert got == [1, 2]
