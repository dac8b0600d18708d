"""The one retry and rate-limit policy every connector calls its vendor through.

A `CallPolicy` is configured once per system and wraps each SDK call:

    policy.call("contacts.search", lambda: api.search(...), translate)

Each attempt first takes a slot in every `Limit` that applies to the operation
(a `RollingWindow` of at most `limit` calls per `seconds`), then spends one unit
of the `DailyBudget`, then calls the vendor. A failure is turned into an
`ApiError` by the connector's `translate`; only retryable ones are retried, by
tenacity, waiting what the vendor's Retry-After asks for or else an exponential
backoff with full jitter. A 429 also pauses the windows it hit, so every thread
sharing them backs off, not just the one that was told.

Time comes from a `Clock`, so tests run on a fake one and never really sleep.

A caller that must answer someone within a time (a webhook's caller waits 10 to 60
seconds) sets its `patience`: within it, a call that would wait past it gives up at
once with its last error (a `RateLimited` carries the vendor's Retry-After), instead
of sleeping on. It is a context variable, so each request thread has its own.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol, TypeVar

from tenacity import RetryCallState, Retrying
from tenacity.retry import retry_if_exception
from tenacity.stop import stop_after_attempt, stop_base
from tenacity.wait import WaitBaseT, wait_base, wait_exponential

from connectors.errors import ApiError, BudgetExhausted, RateLimited

T = TypeVar("T")

_patience: ContextVar[float | None] = ContextVar("leadscore_call_patience", default=None)
"""The moment (on `time.monotonic`) past which no call of this context waits."""


@contextlib.contextmanager
def patience(seconds: float) -> Iterator[None]:
    """Within this block, calls give up rather than wait past `seconds` from now: a
    retry whose wait would end later raises the last error instead of sleeping."""
    token = _patience.set(time.monotonic() + max(0.0, seconds))
    try:
        yield
    finally:
        _patience.reset(token)


def patience_left() -> float | None:
    """Seconds left of the current `patience`, None outside one."""
    until = _patience.get()
    return None if until is None else max(0.0, until - time.monotonic())


class Clock(Protocol):
    """Where the policy reads the time and waits: monotonic seconds."""

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock: `time.monotonic` and `time.sleep`."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class WindowFull(Exception):
    """No slot frees within the caller's patience; `wait` is how long one would take."""

    def __init__(self, wait: float) -> None:
        self.wait = wait
        super().__init__(f"no call slot for {wait:.1f} s")


class RollingWindow:
    """At most `limit` calls in any `seconds`-long window; acquire() blocks until a slot frees.

    A call admitted at `t` holds its slot until `t + seconds`, so a call at exactly
    that moment is admitted again: the window is half-open, like the vendors'.
    """

    def __init__(self, limit: int, seconds: float, clock: Clock | None = None) -> None:
        if limit < 1:
            raise ValueError(f"a window admits at least one call, not {limit}")
        if seconds <= 0:
            raise ValueError(f"a window lasts a positive number of seconds, not {seconds}")
        self.limit = limit
        self.seconds = seconds
        self._clock = clock or SystemClock()
        self._lock = threading.Lock()
        # When each admitted call's slot frees, oldest first. Storing the expiry rather
        # than the start keeps admission and the computed wait on the same float.
        self._frees_at: deque[float] = deque()
        self._paused_until = float("-inf")

    def acquire(self) -> None:
        """Take a slot, waiting for one to free (or a pause to end) as long as it takes,
        or `WindowFull` at once where the wait would outlast the context's `patience`."""
        while True:
            with self._lock:
                wait = self._admit(self._clock.now())
            if wait is None:
                return
            left = patience_left()
            if left is not None and wait >= left:
                raise WindowFull(wait)
            # Sleep without the lock so other threads can still admit, pause or give up;
            # another thread may take the slot first, so look again after waking.
            self._clock.sleep(wait)

    def try_acquire(self) -> bool:
        """Take a slot if one is free right now; never waits."""
        with self._lock:
            return self._admit(self._clock.now()) is None

    def pause(self, seconds: float) -> None:
        """Hand out no slot for `seconds` from now, to any thread: the vendor said 429."""
        with self._lock:
            until = self._clock.now() + seconds
            # A shorter pause reported later must not cut short one already in force.
            self._paused_until = max(self._paused_until, until)

    def _admit(self, now: float) -> float | None:
        """Admit a call at `now` (None), or say how long until it could be; holds the lock."""
        while self._frees_at and self._frees_at[0] <= now:
            self._frees_at.popleft()
        if now < self._paused_until:
            return self._paused_until - now
        if len(self._frees_at) >= self.limit:
            return self._frees_at[0] - now
        self._frees_at.append(now + self.seconds)
        return None


class DailyBudget:
    """The requests left today; spent one per attempt, so a runaway retry cannot drain it unseen.

    Shares keep room for the account's other apps: a run spends at most `per_run`
    of the daily limit, and no request is made once the account has used `in_all`
    of it (its own count, from the vendor's headers, when lower than ours).
    """

    def __init__(
        self, limit: int | None, *, per_run: float | None = None, in_all: float | None = None
    ) -> None:
        if limit is not None and limit < 0:
            raise ValueError(f"a daily budget cannot be negative, not {limit}")
        for name, share in (("per run", per_run), ("in all", in_all)):
            if share is not None and not 0 < share <= 1:
                raise ValueError(f"a share of the daily budget {name} is above 0 and at most 1")
        self.limit = limit
        self.per_run = per_run
        self.in_all = in_all
        self._remaining = limit
        self._spent = 0
        self._heard = False
        """Whether the vendor's count was taken this run: only the first of a run may raise ours."""
        self._lock = threading.Lock()

    @property
    def remaining(self) -> int | None:
        """Requests left today; None when unlimited and the vendor has not said otherwise."""
        with self._lock:
            return self._remaining

    @property
    def run_allowance(self) -> int | None:
        """Requests one run may make; None when unlimited."""
        if self.limit is None or self.per_run is None:
            return None
        return int(self.limit * self.per_run)

    @property
    def reserve(self) -> int:
        """Requests of the day left to the account's other apps."""
        if self.limit is None or self.in_all is None:
            return 0
        return self.limit - int(self.limit * self.in_all)

    def start_run(self) -> None:
        """A run begins: its share starts afresh, and the vendor's next count is taken as it
        is (its daily limit may have reset since the last run)."""
        with self._lock:
            self._spent = 0
            self._heard = False

    def spend(self, system: str, operation: str) -> None:
        """Count one request, or raise `BudgetExhausted` when none is left for it."""
        allowance = self.run_allowance
        with self._lock:
            if allowance is not None and self._spent >= allowance:
                raise BudgetExhausted(
                    system,
                    operation,
                    f"this run spent its share of the daily request budget"
                    f" ({(self.per_run or 1) * 100:g}%, {allowance} requests);"
                    " the next run goes on from here",
                )
            if self._remaining is not None and self._remaining <= self.reserve:
                left = (
                    f"; the last {(1 - (self.in_all or 1)) * 100:g}% is left to the account's"
                    " other apps"
                    if self.reserve
                    else ""
                )
                raise BudgetExhausted(
                    system,
                    operation,
                    f"the daily request budget is spent{left}; wait until it resets",
                )
            if self._remaining is not None:
                self._remaining -= 1
            self._spent += 1

    def affordable(self) -> int | None:
        """Requests this run may still make (its share and the day's room for us, whichever
        is smaller); None when unlimited."""
        allowance = self.run_allowance
        with self._lock:
            room = [] if allowance is None else [allowance - self._spent]
            if self._remaining is not None:
                room.append(self._remaining - self.reserve)
        return max(0, min(room)) if room else None

    def report(self) -> dict[str, int | float | None]:
        """What a run summary says of the budget."""
        with self._lock:
            return {
                "daily_limit": self.limit,
                "share_per_run": self.per_run,
                "run_allowance": self.run_allowance,
                "spent_this_run": self._spent,
                "remaining_today": self._remaining,
                "kept_for_other_apps": self.reserve,
            }

    def observe(self, remaining: int | None) -> None:
        """Take the vendor's own count (from a response header) when it is lower than ours.

        Other clients of the same account spend the vendor's budget too, so within a run
        its count can only make ours stricter (answers arrive out of order, so a higher one
        is an older one). The first count of a run is taken as it is: the vendor's day may
        have begun afresh since the last run of a process that stays up.
        """
        if remaining is None:
            return
        with self._lock:
            ours = self._remaining if self._heard else self.limit
            self._heard = True
            self._remaining = max(0, remaining if ours is None else min(ours, remaining))


@dataclass(frozen=True)
class Limit:
    """A rate limit of one system, and the operations it counts."""

    window: RollingWindow
    operations: frozenset[str] | None = None
    """None: every operation takes a slot; else only the operations named."""
    exempt: frozenset[str] = frozenset()
    """Operations the limit does not count, though `operations` would include them."""

    def applies_to(self, operation: str) -> bool:
        named = self.operations is None or operation in self.operations
        return named and operation not in self.exempt


class wait_retry_after(wait_base):
    """Wait what the failed call's Retry-After asked for, capped; else ask `fallback`.

    The vendor knows when its window reopens: guessing with a backoff instead
    would either retry too early (another 429) or idle for nothing.
    """

    def __init__(self, fallback: WaitBaseT, max_wait: float) -> None:
        self.fallback = fallback
        self.max_wait = max_wait

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None and outcome.failed else None
        if isinstance(error, ApiError) and error.retry_after is not None:
            return min(max(0.0, error.retry_after), self.max_wait)
        return float(self.fallback(retry_state))


class _wait_full_jitter(wait_exponential):
    """Exponential backoff with full jitter, drawn from a `random.Random` of our own.

    tenacity's `wait_random_exponential` draws from the module-level `random`,
    which a seed given to one policy cannot make repeatable.
    """

    def __init__(self, base: float, cap: float, rng: random.Random) -> None:
        super().__init__(multiplier=base, max=cap)
        self._rng = rng
        self._lock = threading.Lock()

    def __call__(self, retry_state: RetryCallState) -> float:
        ceiling = super().__call__(retry_state)
        with self._lock:
            return self._rng.uniform(0.0, ceiling)


class _stop_at_deadline(stop_base):
    """Stop once the policy's clock reaches `deadline`.

    tenacity's `stop_after_delay` times itself with `time.monotonic`, not the clock
    the policy sleeps on, so under a fake clock it would never stop.
    """

    def __init__(self, clock: Clock, deadline: float) -> None:
        self._clock = clock
        self._deadline = deadline

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self._clock.now() >= self._deadline


class _stop_past_patience(stop_base):
    """Stop when the wait before the next attempt would end past the context's
    `patience` (tenacity computes that wait before it asks whether to stop)."""

    def __call__(self, retry_state: RetryCallState) -> bool:
        left = patience_left()
        return left is not None and (retry_state.upcoming_sleep or 0.0) >= left


def _is_retryable(error: BaseException) -> bool:
    return isinstance(error, ApiError) and error.retryable


def _is_refused_for_rate(error: BaseException) -> bool:
    """Refused before it was carried out: the only failure a request that must not be
    carried out twice is tried again after."""
    return isinstance(error, RateLimited)


class CallPolicy:
    """How one system's calls are paced, counted and retried.

    A call stops after `attempts` attempts, or once `attempts * max_wait` seconds
    have passed since it started, whichever comes first: the second bounds a call
    whose attempts are slow themselves (timeouts) or wait long for a window.
    """

    def __init__(
        self,
        system: str,
        *,
        limits: Sequence[Limit] = (),
        budget: DailyBudget | None = None,
        attempts: int = 6,
        max_wait: float = 60.0,
        base_wait: float = 0.5,
        clock: Clock | None = None,
        seed: int | None = None,
    ) -> None:
        if attempts < 1:
            raise ValueError(f"a call makes at least one attempt, not {attempts}")
        if max_wait < 0 or base_wait < 0:
            raise ValueError("waits cannot be negative")
        self.system = system
        self.limits = tuple(limits)
        self.budget = budget
        self.attempts = attempts
        self.max_wait = max_wait
        self._clock = clock or SystemClock()
        self._wait = wait_retry_after(
            _wait_full_jitter(base_wait, max_wait, random.Random(seed)), max_wait
        )
        self._lock = threading.Lock()
        self._calls: dict[str, int] = {}
        self._gate: threading.BoundedSemaphore | None = None

    def hold_in_flight(self, most: int | None) -> None:
        """From now on at most `most` of these calls have a request out at once, each
        holding its place only while its request is out (not while it waits for a rate
        window or before a retry); None: no bound, as by default (`GatesCalls`)."""
        self._gate = None if most is None else threading.BoundedSemaphore(max(1, most))

    @property
    def clock(self) -> Clock:
        """The clock calls wait on (vendor time in the sandbox, the real one otherwise)."""
        return self._clock

    def call(
        self,
        operation: str,
        fn: Callable[[], T],
        translate: Callable[[Exception], ApiError | None],
        *,
        repeatable: bool = True,
    ) -> T:
        """Run `fn` under the limits, the budget and the retries; raise the last `ApiError`.

        `translate` turns what the SDK raised into an `ApiError`; None means it is
        not an API failure (a bug, say), which is re-raised as is and never retried.
        `repeatable=False` is for a request that must not be carried out twice (one the
        vendor takes once and refuses again after an answer was lost): it is tried again
        only when the vendor refused it unprocessed for rate (`RateLimited`), never after
        a failure that may have carried it out (a 5xx, a dropped or lost answer); the
        caller decides what to do then.
        """
        windows = [limit.window for limit in self.limits if limit.applies_to(operation)]

        def attempt() -> T:
            for window in windows:
                try:
                    window.acquire()
                except WindowFull as full:
                    message = "the rate limit's window is full for longer than the caller waits"
                    raise RateLimited(
                        self.system, operation, message, retry_after=full.wait
                    ) from None
            gate = self._gate
            if gate is None:
                return sent()
            # The budget is looked at once a place is free: an answer heard meanwhile that
            # spent the day (Salesforce's 403) stops this call before it is sent.
            with gate:
                return sent()

        def sent() -> T:
            if self.budget is not None:
                self.budget.spend(self.system, operation)
            self._count(operation)
            try:
                return fn()
            except Exception as exc:
                error = translate(exc)
                if error is None or error is exc:
                    raise
                # Not chained: the SDK's exception quotes the answer whole (headers and
                # body, which a server may fill with the credentials it was sent);
                # `error` carries its scrubbed detail.
                raise error from None

        def pause_windows(retry_state: RetryCallState) -> None:
            outcome = retry_state.outcome
            if outcome is not None and isinstance(outcome.exception(), RateLimited):
                for window in windows:
                    window.pause(retry_state.upcoming_sleep)

        retrying = Retrying(
            sleep=self._clock.sleep,
            stop=stop_after_attempt(self.attempts)
            | _stop_at_deadline(self._clock, self._clock.now() + self.attempts * self.max_wait)
            | _stop_past_patience(),
            wait=self._wait,
            retry=retry_if_exception(_is_retryable if repeatable else _is_refused_for_rate),
            before_sleep=pause_windows,
            reraise=True,
        )
        return retrying(attempt)

    def calls(self) -> dict[str, int]:
        """Calls made so far by operation, every attempt counted; a copy."""
        with self._lock:
            return dict(self._calls)

    def _count(self, operation: str) -> None:
        with self._lock:
            self._calls[operation] = self._calls.get(operation, 0) + 1
