"""The shared call policy: rolling windows, the daily budget, retries and HubSpot's limits."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tenacity import RetryError

from connectors.errors import (
    ApiError,
    AuthError,
    BudgetExhausted,
    RateLimited,
    RejectedError,
    ServerError,
    TransportError,
    error_for_status,
)
from connectors.hubspot.limits import SEARCH_OPERATIONS, hubspot_daily_budget, hubspot_limits
from connectors.policy import (
    CallPolicy,
    DailyBudget,
    Limit,
    RollingWindow,
    SystemClock,
)


class FakeClock:
    """A clock whose sleep() moves time on at once and records how long it was asked to wait.

    It also remembers, per thread, the last time it told: a window reads the clock
    when it admits a call, so that is the moment the call was admitted.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self._told = threading.local()
        self.sleeps: list[float] = []
        self.on_sleep: Callable[[float], None] | None = None

    def now(self) -> float:
        with self._lock:
            self._told.value = self._now
            return self._now

    def sleep(self, seconds: float) -> None:
        if self.on_sleep is not None:
            self.on_sleep(seconds)
        with self._lock:
            self.sleeps.append(seconds)
            self._now += seconds
        time.sleep(0)  # let other threads run, as a real sleep would

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def last_told(self) -> float:
        told: float = self._told.value
        return told


class Vendor:
    """A stand-in for an SDK call: raises or returns the scripted outcomes in turn, then "ok"."""

    def __init__(self, *outcomes: BaseException | str) -> None:
        self.outcomes = list(outcomes)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        outcome = self.outcomes.pop(0) if self.outcomes else "ok"
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


class SdkError(Exception):
    """What a vendor SDK raises: a status and a Retry-After header, no ApiError of ours."""

    def __init__(self, status: int | None, retry_after: float | None = None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after


def translate(exc: Exception) -> ApiError | None:
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, SdkError):
        kind = error_for_status(exc.status)
        return kind(
            "hubspot", "contacts.get", str(exc), status=exc.status, retry_after=exc.retry_after
        )
    return None


def error(kind: type[ApiError], status: int | None = None, **fields: object) -> ApiError:
    return kind("hubspot", "contacts.get", "vendor says no", status=status, **fields)  # type: ignore[arg-type]


def policy(clock: FakeClock, **options: object) -> CallPolicy:
    return CallPolicy("hubspot", clock=clock, **options)  # type: ignore[arg-type]


def assert_within_limit(admitted: Iterable[float], limit: int, seconds: float) -> None:
    """No `limit + 1` admissions fit in one `seconds`-long span."""
    times = sorted(admitted)
    for first, later in zip(times, times[limit:], strict=False):
        assert later >= first + seconds, f"{limit + 1} calls within {seconds}s: {first}..{later}"


# The rolling window


def test_window_admits_limit_calls_then_waits_for_the_oldest_to_leave() -> None:
    clock = FakeClock()
    window = RollingWindow(3, 10.0, clock)

    window.acquire()  # at 0
    clock.advance(2.0)
    window.acquire()  # at 2
    window.acquire()  # at 2
    window.acquire()  # full: waits for the call at 0 to leave

    assert clock.sleeps == [8.0]
    assert clock.now() == 10.0


def test_try_acquire_refuses_a_full_window_without_waiting() -> None:
    clock = FakeClock()
    window = RollingWindow(2, 1.0, clock)

    admitted = [window.try_acquire() for _ in range(3)]
    clock.advance(1.0)

    assert admitted == [True, True, False]
    assert window.try_acquire()
    assert clock.sleeps == []


def test_a_pause_holds_back_every_slot_until_it_ends() -> None:
    clock = FakeClock()
    window = RollingWindow(100, 10.0, clock)

    window.pause(5.0)
    window.pause(1.0)  # a shorter pause does not cut the first one short
    refused = window.try_acquire()
    window.acquire()

    assert not refused
    assert clock.sleeps == [5.0]


@pytest.mark.parametrize(("limit", "seconds"), [(0, 1.0), (1, 0.0), (1, -1.0)])
def test_a_window_needs_a_slot_and_a_duration(limit: int, seconds: float) -> None:
    with pytest.raises(ValueError):
        RollingWindow(limit, seconds, FakeClock())


@given(
    limit=st.integers(1, 5),
    seconds=st.floats(0.01, 10.0),
    steps=st.lists(st.tuples(st.floats(0.0, 3.0), st.booleans()), max_size=60),
)
def test_window_admits_exactly_while_fewer_than_limit_calls_are_in_the_last_span(
    limit: int, seconds: float, steps: list[tuple[float, bool]]
) -> None:
    clock = FakeClock()
    window = RollingWindow(limit, seconds, clock)
    admitted: list[float] = []

    for gap, blocking in steps:
        clock.advance(gap)
        now = clock.now()
        in_window = sum(1 for t in admitted if t + seconds > now)
        if blocking:
            window.acquire()
            admitted.append(clock.now())
        else:
            assert window.try_acquire() == (in_window < limit)
            if in_window < limit:
                admitted.append(now)

    assert_within_limit(admitted, limit, seconds)


def test_threads_sharing_a_window_never_exceed_it() -> None:
    clock = FakeClock()
    window = RollingWindow(5, 1.0, clock)
    calls = CallPolicy("hubspot", limits=[Limit(window)], clock=clock)
    admitted: list[float] = []

    def work() -> None:
        for _ in range(50):
            calls.call("contacts.get", lambda: admitted.append(clock.last_told()), translate)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5.0)

    assert calls.calls() == {"contacts.get": 200}
    assert len(admitted) == 200
    assert_within_limit(admitted, 5, 1.0)


def test_calls_held_in_flight_never_have_more_requests_out_than_allowed() -> None:
    calls = CallPolicy("salesforce", clock=FakeClock())
    calls.hold_in_flight(2)
    lock, out, most, errors = threading.Lock(), [0], [0], []

    def request() -> None:
        with lock:
            out[0] += 1
            most[0] = max(most[0], out[0])
        time.sleep(0.002)  # a request out, the others' threads free to start theirs
        with lock:
            out[0] -= 1

    def run(threads: int, fn: Callable[[], None], times: int) -> None:
        def work() -> None:
            try:
                for _ in range(times):
                    calls.call("collections.update", fn, translate)
            except Exception as error:
                errors.append(error)

        started = [threading.Thread(target=work) for _ in range(threads)]
        for thread in started:
            thread.start()
        for thread in started:
            thread.join(timeout=10.0)

    run(5, request, 10)
    calls.hold_in_flight(None)
    together = threading.Barrier(5)
    run(5, lambda: together.wait(timeout=5.0), 1)  # all five out at once, or broken

    assert errors == [] and calls.calls() == {"collections.update": 55}
    assert 0 < most[0] <= 2


# Limits by operation, and HubSpot's


def test_limits_apply_only_to_the_operations_they_name() -> None:
    clock = FakeClock()
    search = RollingWindow(1, 1.0, clock)
    calls = policy(
        clock, limits=[Limit(RollingWindow(100, 10.0, clock)), Limit(search, SEARCH_OPERATIONS)]
    )

    calls.call("contacts.search", Vendor(), translate)
    calls.call("contacts.get", Vendor(), translate)  # search's window is full, this one is not
    calls.call("contacts.search", Vendor(), translate)

    assert clock.sleeps == [1.0]


def test_hubspot_searches_run_beside_a_full_10_second_window() -> None:
    clock = FakeClock()
    calls = policy(clock, limits=hubspot_limits("starter", clock))

    for _ in range(100):
        calls.call("contacts.get", Vendor(), translate)
    calls.call("contacts.search", Vendor(), translate)  # no wait: the window does not count it
    waited_for_search = list(clock.sleeps)
    calls.call("contacts.get", Vendor(), translate)  # the 101st call waits for the window

    assert waited_for_search == []
    assert clock.sleeps and clock.sleeps[-1] > 9.0


def test_a_429_without_retry_after_is_retried_after_the_policys_own_backoff() -> None:
    clock = FakeClock()
    limited = RateLimited("hubspot", "contacts.search", "secondly limit", status=429)
    calls = policy(clock, seed=1)

    calls.call("contacts.search", Vendor(limited), translate)

    assert len(clock.sleeps) == 1 and 0.0 <= clock.sleeps[0] <= 0.5  # full jitter, first step


@pytest.mark.parametrize(
    ("tier", "per_10s"),
    [
        ("free", 100),
        ("starter", 100),
        ("professional", 190),
        ("enterprise", 190),
        ("professional+api_addon", 250),
        ("starter+api_addon", 250),
        ("oauth", 110),
    ],
)
def test_hubspot_limits_follow_the_tier(tier: str, per_10s: int) -> None:
    general, search = hubspot_limits(tier, FakeClock())

    assert (general.window.limit, general.operations) == (per_10s, None)
    assert not general.applies_to("contacts.search")  # search has its own limit only
    # The vendor's counts over slightly longer windows, for the network's jitter.
    assert 10.0 < general.window.seconds <= 10.25
    assert search.window.limit == 5 and 1.0 < search.window.seconds <= 1.05
    assert "contacts.search" in search.operations and "meetings.search" in search.operations


def test_hubspot_limits_name_the_tiers_when_the_tier_is_unknown() -> None:
    with pytest.raises(ValueError, match=r"'gold'.*professional\+api_addon.*oauth"):
        hubspot_limits("gold")
    with pytest.raises(ValueError, match=r"'oauth\+api_addon'"):
        hubspot_limits("oauth+api_addon")  # the increase is for private apps


def test_an_oauth_app_has_no_daily_budget_and_a_private_app_its_tiers() -> None:
    assert hubspot_daily_budget("oauth").remaining is None
    assert hubspot_daily_budget("starter").remaining == 250_000
    assert hubspot_daily_budget("professional+api_addon").remaining == 1_625_000


# Retries


def test_a_429_with_retry_after_waits_exactly_that_then_succeeds() -> None:
    clock = FakeClock()
    vendor = Vendor(error(RateLimited, 429, retry_after=3.0))

    result = policy(clock).call("contacts.get", vendor, translate)

    assert result == "ok"
    assert clock.sleeps == [3.0]
    assert vendor.calls == 2


def test_retry_after_is_capped_at_max_wait() -> None:
    clock = FakeClock()

    policy(clock, max_wait=60.0).call(
        "contacts.get", Vendor(SdkError(429, retry_after=3600.0)), translate
    )

    assert clock.sleeps == [60.0]


def test_a_429_pauses_the_windows_it_hit_for_every_thread() -> None:
    clock = FakeClock()
    window = RollingWindow(100, 10.0, clock)
    others_admitted: list[bool] = []
    clock.on_sleep = lambda _seconds: others_admitted.append(window.try_acquire())

    policy(clock, limits=[Limit(window)]).call(
        "contacts.get", Vendor(SdkError(429, retry_after=3.0)), translate
    )

    assert others_admitted == [False]
    assert clock.sleeps == [3.0]  # the retry itself does not wait twice
    assert window.try_acquire()


def test_server_errors_back_off_with_full_jitter_repeatably_under_a_seed() -> None:
    def sleeps(seed: int) -> list[float]:
        clock = FakeClock()
        vendor = Vendor(*(SdkError(503) for _ in range(4)))
        policy(clock, seed=seed, base_wait=0.5).call("contacts.get", vendor, translate)
        return clock.sleeps

    rng = random.Random(7)
    expected = [rng.uniform(0.0, 0.5 * 2**n) for n in range(4)]

    assert sleeps(7) == expected
    assert sleeps(7) == sleeps(7)
    assert sleeps(8) != sleeps(7)


def test_backoff_never_waits_longer_than_max_wait() -> None:
    clock = FakeClock()
    vendor = Vendor(*(error(ServerError, 500) for _ in range(9)))

    policy(clock, attempts=10, base_wait=1.0, max_wait=4.0, seed=1).call(
        "contacts.get", vendor, translate
    )

    assert len(clock.sleeps) == 9
    assert all(0.0 <= s <= 4.0 for s in clock.sleeps)


def test_transport_errors_are_retried() -> None:
    clock = FakeClock()
    vendor = Vendor(SdkError(None), error(TransportError))

    result = policy(clock, seed=0).call("contacts.get", vendor, translate)

    assert result == "ok"
    assert vendor.calls == 3


@pytest.mark.parametrize(("kind", "status"), [(RejectedError, 400), (AuthError, 401)])
def test_errors_a_retry_cannot_fix_are_raised_at_once(kind: type[ApiError], status: int) -> None:
    clock = FakeClock()
    vendor = Vendor(error(kind, status))
    calls = policy(clock)

    with pytest.raises(kind):
        calls.call("contacts.get", vendor, translate)

    assert vendor.calls == 1
    assert clock.sleeps == []
    assert calls.calls() == {"contacts.get": 1}  # no retry


def test_when_attempts_run_out_the_last_api_error_is_raised_with_its_fields() -> None:
    clock = FakeClock()
    failures = [error(ServerError, 503, records=[f"c{n}"]) for n in range(3)]
    calls = policy(clock, attempts=3, seed=0)

    with pytest.raises(ServerError) as raised:
        calls.call("contacts.get", Vendor(*failures), translate)

    assert raised.value is failures[-1]
    assert not isinstance(raised.value, RetryError)
    assert (raised.value.system, raised.value.operation) == ("hubspot", "contacts.get")
    assert (raised.value.status, raised.value.records) == (503, ("c2",))
    assert raised.value.retryable
    assert calls.calls() == {"contacts.get": 3}  # the first attempt and two retries


@pytest.mark.parametrize("kind", [ServerError, TransportError])
def test_a_request_not_to_be_repeated_raises_a_failure_that_may_have_carried_it_out(
    kind: type[ApiError],
) -> None:
    # for a request the vendor takes once (a Bulk API 2.0 job's upload): its caller decides
    clock = FakeClock()
    calls = policy(clock, seed=0)

    with pytest.raises(kind):
        calls.call("bulk2.upload", Vendor(error(kind, 503)), translate, repeatable=False)

    assert calls.calls() == {"bulk2.upload": 1} and clock.sleeps == []


def test_a_request_not_to_be_repeated_is_tried_again_when_refused_for_rate() -> None:
    clock = FakeClock()
    calls = policy(clock, seed=0)
    vendor = Vendor(error(RateLimited, 429, retry_after=2.0))

    assert calls.call("bulk2.upload", vendor, translate, repeatable=False) == "ok"
    assert vendor.calls == 2 and clock.sleeps == [2.0]


def test_a_translated_sdk_error_is_not_chained_to_the_original() -> None:
    # The SDK's exception quotes the answer whole; the translated one carries it scrubbed.
    original = SdkError(403)

    with pytest.raises(AuthError) as raised:
        policy(FakeClock()).call("contacts.get", Vendor(original), translate)

    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_what_translate_does_not_claim_is_re_raised_as_is_without_retry() -> None:
    clock = FakeClock()
    bug = KeyError("email")
    vendor = Vendor(bug)

    with pytest.raises(KeyError) as raised:
        policy(clock).call("contacts.get", vendor, translate)

    assert raised.value is bug
    assert vendor.calls == 1
    assert clock.sleeps == []


def test_a_call_stops_retrying_once_its_time_is_up() -> None:
    clock = FakeClock()
    vendor = Vendor(*(error(TransportError, retry_after=0.0) for _ in range(9)))

    def slow() -> str:
        clock.advance(4.0)  # each attempt times out after 4 s
        return vendor()

    calls = policy(clock, attempts=10, max_wait=1.0)  # at most 10 s in all

    with pytest.raises(TransportError):
        calls.call("contacts.get", slow, translate)

    assert vendor.calls == 3  # attempts ending at 4, 8 and 12 s


def test_calls_counts_every_attempt_by_operation() -> None:
    clock = FakeClock()
    calls = policy(clock, seed=0)

    calls.call("contacts.get", Vendor(SdkError(503), SdkError(502)), translate)
    calls.call("contacts.search", Vendor(), translate)
    counted = calls.calls()
    counted["contacts.get"] = 0  # a copy: the policy's own count is untouched

    assert calls.calls() == {"contacts.get": 3, "contacts.search": 1}


def test_a_policy_needs_at_least_one_attempt() -> None:
    with pytest.raises(ValueError):
        CallPolicy("hubspot", attempts=0)


# The daily budget


def test_a_spent_budget_raises_budget_exhausted_without_calling_the_vendor() -> None:
    clock = FakeClock()
    calls = policy(clock, budget=DailyBudget(1))
    vendor = Vendor()

    calls.call("contacts.get", vendor, translate)
    with pytest.raises(BudgetExhausted) as raised:
        calls.call("contacts.get", vendor, translate)

    assert vendor.calls == 1
    assert not raised.value.retryable
    assert clock.sleeps == []
    assert calls.calls() == {"contacts.get": 1}


def test_retries_spend_the_budget_too() -> None:
    budget = DailyBudget(2)
    vendor = Vendor(*(SdkError(503) for _ in range(5)))

    with pytest.raises(BudgetExhausted):
        policy(FakeClock(), budget=budget, seed=0).call("contacts.get", vendor, translate)

    assert vendor.calls == 2
    assert budget.remaining == 0


def test_a_run_spends_its_share_and_the_next_run_starts_afresh() -> None:
    budget = DailyBudget(100, per_run=0.25, in_all=0.8)
    for _ in range(25):
        budget.spend("hubspot", "contacts.get")
    with pytest.raises(BudgetExhausted, match=r"share of the daily request budget \(25%, 25"):
        budget.spend("hubspot", "contacts.get")
    budget.start_run()
    budget.spend("hubspot", "contacts.get")

    assert budget.report() == {
        "daily_limit": 100,
        "share_per_run": 0.25,
        "run_allowance": 25,
        "spent_this_run": 1,
        "remaining_today": 74,
        "kept_for_other_apps": 20,
    }


def test_the_last_share_of_the_day_is_left_to_other_apps() -> None:
    budget = DailyBudget(100, per_run=1.0, in_all=0.8)
    budget.observe(21)  # other apps spent most of the day
    budget.spend("hubspot", "contacts.get")
    with pytest.raises(BudgetExhausted, match="last 20% is left to the account's other apps"):
        budget.spend("hubspot", "contacts.get")

    assert budget.remaining == 20


@pytest.mark.parametrize("share", [0.0, -0.1, 1.5])
def test_a_share_is_above_0_and_at_most_1(share: float) -> None:
    with pytest.raises(ValueError, match="above 0 and at most 1"):
        DailyBudget(100, per_run=share)


def test_the_vendors_count_wins_only_when_lower() -> None:
    budget = DailyBudget(100)

    budget.observe(40)
    budget.observe(90)
    budget.observe(None)

    assert budget.remaining == 40


def test_an_unlimited_budget_takes_the_vendors_count() -> None:
    budget = DailyBudget(None)
    unlimited = budget.remaining

    budget.observe(1)
    budget.spend("hubspot", "contacts.get")

    assert unlimited is None
    assert budget.remaining == 0
    with pytest.raises(BudgetExhausted, match=r"hubspot contacts\.get"):
        budget.spend("hubspot", "contacts.get")


def test_the_system_clock_is_monotonic() -> None:
    clock = SystemClock()
    before = clock.now()

    clock.sleep(0.0)

    assert clock.now() >= before


def test_a_new_run_takes_the_vendors_count_after_its_day_reset() -> None:
    # A process that stays up (a server, a scheduler's worker) runs again the next day.
    budget = DailyBudget(100, per_run=1.0, in_all=0.8)
    budget.observe(21)
    budget.spend("hubspot", "contacts.get")
    with pytest.raises(BudgetExhausted, match="left to the account's other apps"):
        budget.spend("hubspot", "contacts.get")

    budget.start_run()
    budget.observe(100)  # the first answer of the run: the vendor's day began afresh
    budget.observe(99)
    budget.observe(100)  # an older answer arriving late does not raise it again
    budget.spend("hubspot", "contacts.get")

    assert budget.remaining == 98
