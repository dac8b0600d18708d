"""The emulator base: routing, counting, faults, latency, rate windows and the scaled clock."""

from __future__ import annotations

import time

import pytest
import requests

from sandbox.clock import SandboxClock
from sandbox.faults import FaultPlan, Latency
from sandbox.http import Emulator, ErrorAnswer, Request, Response
from sandbox.limits import ServerDailyLimit, ServerWindow


class Echo(Emulator):
    name = "echo"

    def __init__(self, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.route("GET", "/items/{item}", "items.get", self.get_item)
        self.route("POST", "/items", "items.create", lambda r: Response.json(r.json(), 201))

    def get_item(self, request: Request) -> Response:
        if request.params["item"] == "missing":
            raise ErrorAnswer(Response.json({"message": "no such item"}, 404))
        return Response.json({"item": request.params["item"], "q": request.arg("q")})


def statuses(emulator: Emulator, count: int) -> list[int | str]:
    session = requests.Session()
    found: list[int | str] = []
    for i in range(count):
        try:
            found.append(session.get(f"{emulator.base_url}/items/{i}", timeout=5).status_code)
        except requests.ConnectionError:
            found.append("dropped")
            session = requests.Session()
    return found


def test_routes_capture_path_segments_and_count_each_operation() -> None:
    with Echo() as echo:
        got = requests.get(f"{echo.base_url}/items/42?q=x", timeout=5).json()
        created = requests.post(f"{echo.base_url}/items", json={"a": 1}, timeout=5)
        missing = requests.get(f"{echo.base_url}/items/missing", timeout=5)
        wrong_method = requests.delete(f"{echo.base_url}/items", timeout=5)
        unknown = requests.get(f"{echo.base_url}/nothing", timeout=5)

    assert got == {"item": "42", "q": "x"}
    assert (created.status_code, created.json()) == (201, {"a": 1})
    assert missing.status_code == 404 and missing.json() == {"message": "no such item"}
    assert (wrong_method.status_code, unknown.status_code) == (405, 404)
    assert echo.calls == {"items.get": 2, "items.create": 1}
    assert [c.status for c in echo.log] == [200, 201, 404, 405, 404]


def test_a_stopped_emulator_answers_no_connection_kept_open() -> None:
    """A client's pool holds the connection open between requests; once the emulator
    stops (and another listens on its port) that connection must not be answered."""
    session = requests.Session()
    first = Echo().start()
    port = int(first.base_url.rsplit(":", 1)[1])
    assert session.get(f"{first.base_url}/items/1", timeout=5).json()["item"] == "1"
    first.stop()
    second = Echo().start(port)  # the same port, as a later test's emulator may get
    try:
        assert session.get(f"{second.base_url}/items/2", timeout=5).json()["item"] == "2"
        assert first.calls == {"items.get": 1} and second.calls == {"items.get": 1}
    finally:
        second.stop()


def test_fault_plan_with_a_seed_gives_the_same_faults_in_the_same_order() -> None:
    plan = dict(rate_limited=0.2, server_error=0.1, dropped=0.1, seed=11)
    with Echo(faults=FaultPlan(**plan)) as first:
        one = statuses(first, 40)
    with Echo(faults=FaultPlan(**plan)) as second:
        two = statuses(second, 40)
    with Echo(faults=FaultPlan(**{**plan, "seed": 12})) as other:
        three = statuses(other, 40)

    assert one == two != three
    assert {429, 200, "dropped"} <= set(one) and ({500, 503} & set(one))


def test_injected_429_carries_retry_after() -> None:
    with Echo(faults=FaultPlan(rate_limited=1.0, retry_after=7)) as echo:
        answer = requests.get(f"{echo.base_url}/items/1", timeout=5)
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "7"


def test_faults_can_target_some_operations_only() -> None:
    plan = FaultPlan(server_error=1.0, operations=frozenset({"items.create"}))
    with Echo(faults=plan) as echo:
        assert requests.get(f"{echo.base_url}/items/1", timeout=5).status_code == 200
        assert requests.post(f"{echo.base_url}/items", json={}, timeout=5).status_code >= 500


def test_latency_is_added_and_scaled_by_the_clock() -> None:
    with Echo(latency=Latency(fixed=0.2)) as slow:
        started = time.perf_counter()
        requests.get(f"{slow.base_url}/items/1", timeout=5)
        plain = time.perf_counter() - started
    with Echo(latency=Latency(fixed=0.2), clock=SandboxClock(scale=20)) as fast:
        started = time.perf_counter()
        requests.get(f"{fast.base_url}/items/1", timeout=5)
        scaled = time.perf_counter() - started

    assert plain >= 0.2
    assert scaled < 0.15


class StepClock(SandboxClock):
    """Vendor time that moves only when slept on or told to; what was slept, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.at = 0.0
        self.slept: list[tuple[str, float]] = []

    def now(self) -> float:
        return self.at

    def sleep(self, vendor_seconds: float) -> None:
        self.slept.append(("sleep", round(vendor_seconds, 6)))
        self.at += vendor_seconds


class Working(Echo):
    """An echo whose handler takes `work` vendor seconds."""

    def __init__(self, work: float, **options: object) -> None:
        super().__init__(**options)
        self.work = work

    def get_item(self, request: Request) -> Response:
        clock = self.clock
        assert isinstance(clock, StepClock)
        clock.slept.append(("work", self.work))
        clock.at += self.work
        return super().get_item(request)


@pytest.mark.parametrize(
    ("work", "slow", "expected"),
    [
        (0.03, 0.0, [("work", 0.03), ("sleep", 0.02)]),  # the rest of the latency
        (0.08, 0.0, [("work", 0.08)]),  # work past the latency: answered at once
        (0.03, 1.5, [("sleep", 1.5), ("work", 0.03), ("sleep", 0.02)]),  # slowed first
    ],
)
def test_the_latency_is_the_whole_time_to_answer_the_handlers_work_included(
    work: float, slow: float, expected: list[tuple[str, float]]
) -> None:
    clock = StepClock()
    faults = FaultPlan(slow=1.0, slow_seconds=slow) if slow else FaultPlan()
    with Working(work, latency=Latency(fixed=0.05), clock=clock, faults=faults) as echo:
        answer = requests.get(f"{echo.base_url}/items/1", timeout=5)

    assert answer.status_code == 200
    assert clock.slept == expected


def test_rolling_window_counts_requests_in_vendor_time() -> None:
    clock = SandboxClock(scale=100)  # ten vendor seconds last a tenth of a real second
    window = ServerWindow(limit=3, seconds=10, clock=clock)

    assert [window.try_acquire() for _ in range(4)] == [True, True, True, False]
    assert window.remaining() == 0 and 0 < window.retry_after() <= 10
    time.sleep(0.11)
    assert window.try_acquire()


def test_daily_budget_runs_out() -> None:
    budget = ServerDailyLimit(limit=2, used=1)
    assert [budget.try_spend(), budget.try_spend()] == [True, False]
    assert budget.remaining == 0


def test_bad_fault_shares_are_refused() -> None:
    with pytest.raises(ValueError):
        FaultPlan(rate_limited=0.7, server_error=0.5)
