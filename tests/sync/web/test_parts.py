"""The core's small parts: shared rescores, remembered keys, patience with rate limits."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from connectors.errors import RateLimited
from connectors.policy import CallPolicy, Limit, RollingWindow, patience
from sync.store import StateStore
from sync.web.flights import Flights
from sync.web.metrics import Metrics
from sync.web.replay import digest, first_seen


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds


def test_an_ask_takes_only_a_rescore_begun_after_it_arrived() -> None:
    clock = iter(range(100)).__next__
    flights: Flights[int] = Flights(clock=lambda: float(clock()))
    began, release = threading.Event(), threading.Event()
    runs: list[int] = []

    def slow() -> int:
        runs.append(1)
        began.set()
        assert release.wait(10)
        return len(runs)

    results: list[int] = []
    first = threading.Thread(target=lambda: results.append(flights.run("k", slow)))
    first.start()
    assert began.wait(10)
    late = [
        threading.Thread(target=lambda: results.append(flights.run("k", slow))) for _ in range(5)
    ]
    for thread in late:
        thread.start()
    while flights.waiting("k") < 5:
        first.join(0.01)
    release.set()
    for thread in [first, *late]:
        thread.join(10)
    assert len(runs) == 2 and sorted(results) == [1, 2, 2, 2, 2, 2]
    assert flights.waiting("k") == 0


def test_an_error_reaches_every_ask_of_the_rescore() -> None:
    flights: Flights[int] = Flights()

    def broken() -> int:
        raise ValueError("no")

    with pytest.raises(ValueError):
        flights.run("k", broken)
    assert flights.run("k", lambda: 3) == 3


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_keys_are_new_once_within_the_window_across_stores(
    tmp_path: Path, database: str, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 's.db'}"
        if database == "sqlite"
        else str(request.getfixturevalue("postgres_url"))
    )
    one, two = StateStore(url), StateStore(url)
    try:
        a, b = digest("sig", "A"), digest("sig", "B")
        assert first_seen(one, [a, b, a], now=1000.0) == [True, True, False]
        assert first_seen(two, [a], now=1001.0) == [False]
        assert first_seen(two, [a], now=1000.0 + 100, keep=50) == [True]
    finally:
        one.close()
        two.close()


def test_a_call_gives_up_at_once_rather_than_wait_past_its_patience() -> None:
    clock = FakeClock()
    policy = CallPolicy("hubspot", clock=clock, seed=1)
    tries: list[int] = []

    def limited() -> None:
        tries.append(1)
        raise RateLimited("hubspot", "contacts.get", "slow down", status=429, retry_after=30)

    with patience(5), pytest.raises(RateLimited) as raised:
        policy.call("contacts.get", limited, lambda e: None)
    assert raised.value.retry_after == 30 and tries == [1] and clock.slept == []
    tries.clear()
    with pytest.raises(RateLimited):
        policy.call("contacts.get", limited, lambda e: None)
    assert len(tries) == policy.attempts  # outside a patience, it waits and tries again


def test_a_full_window_is_a_rate_limit_within_a_patience() -> None:
    clock = FakeClock()
    window = RollingWindow(1, 10.0, clock)
    policy = CallPolicy("hubspot", limits=[Limit(window)], clock=clock, seed=1)
    assert policy.call("contacts.get", lambda: 1, lambda e: None) == 1
    with patience(2), pytest.raises(RateLimited) as raised:
        policy.call("contacts.get", lambda: 2, lambda e: None)
    assert raised.value.retry_after == pytest.approx(10.0) and clock.slept == []
    assert policy.call("contacts.get", lambda: 3, lambda e: None) == 3
    assert clock.slept == [pytest.approx(10.0)]


def test_metrics_histogram_buckets_are_cumulative() -> None:
    metrics = Metrics()
    for seconds in (0.001, 0.2, 3.0, 100.0):
        metrics.answered("hubspot", 200, seconds)
    text = metrics.text()
    assert 'leadscore_request_seconds_bucket{endpoint="hubspot",le="0.005"} 1' in text
    assert 'leadscore_request_seconds_bucket{endpoint="hubspot",le="0.25"} 2' in text
    assert 'leadscore_request_seconds_bucket{endpoint="hubspot",le="30.0"} 3' in text
    assert 'leadscore_request_seconds_bucket{endpoint="hubspot",le="+Inf"} 4' in text
    assert 'leadscore_request_seconds_count{endpoint="hubspot"} 4' in text
