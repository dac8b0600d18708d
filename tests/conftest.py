from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings
from typer.testing import Result

from tests.helpers import Unwrapped

# Deterministic property tests: the same examples on every run and machine.
settings.register_profile(
    "leadscore",
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("leadscore")


def _as_unwrapped(read: property) -> property:
    return property(lambda result: Unwrapped(read.fget(result)))  # type: ignore[misc]


# A command's output is looked for in whatever its lines' width (`tests.helpers.Unwrapped`).
for _name in ("output", "stdout", "stderr"):
    setattr(Result, _name, _as_unwrapped(getattr(Result, _name)))


@pytest.fixture(autouse=True)
def no_leadscore_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests never read a developer's LEADSCORE_* settings (an account, a prefix, a mapping)."""
    for name in list(os.environ):
        if name.startswith("LEADSCORE_"):
            monkeypatch.delenv(name)
    yield


@pytest.fixture(autouse=True)
def collector_back_on() -> Iterator[None]:
    """A test that imported a serverless handler as a platform would (its variables set,
    as functions-framework sets FUNCTION_TARGET) and never answered leaves no worker
    without its garbage collector (`sync.entry.cold_start`)."""
    yield
    entry = sys.modules.get("sync.entry")
    if entry is not None:
        entry.warmed()
