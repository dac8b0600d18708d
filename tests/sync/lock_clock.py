"""A rescore's record locks on a test's clock, and a pause inside a rescore: a Lambda or
Cloud Functions instance frozen once its answer was sent, thawed later."""

from __future__ import annotations

from typing import Any

import pytest

from sync.locks import RECORD_STALE_AFTER, RunLock
from sync.store import StateStore


def on_a_clock(
    monkeypatch: pytest.MonkeyPatch, now: list[float], every: float = 60.0
) -> list[RunLock]:
    """Record locks on the clock `now` whose own thread beats every `every` seconds."""
    import sync.locks
    import sync.trigger

    made, guards = sync.trigger.record_lock, []

    def on_the_clock(store: StateStore, system: str, record_id: str) -> RunLock:
        lock = made(store, system, record_id)
        lock.clock = lambda: now[0]
        guards.append(lock)
        return lock

    monkeypatch.setattr(sync.trigger, "record_lock", on_the_clock)
    monkeypatch.setattr(sync.locks, "RECORD_BEAT_EVERY", every)
    return guards


def paused_after(
    monkeypatch: pytest.MonkeyPatch, step: str, seconds: float = RECORD_STALE_AFTER
) -> list[float]:
    """Record locks on a clock of their own that moves on `seconds` once the rescore's
    `sync.trigger.<step>` has returned; the clock, to move it further."""
    import time

    import sync.trigger

    now = [time.time()]
    on_a_clock(monkeypatch, now)
    done = getattr(sync.trigger, step)

    def then_paused(*args: Any) -> Any:
        result = done(*args)
        now[0] += seconds
        return result

    monkeypatch.setattr(sync.trigger, step, then_paused)
    return now
