from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

# Deterministic property tests: the same examples on every run and machine.
settings.register_profile(
    "leadscore",
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("leadscore")


@pytest.fixture(autouse=True)
def no_leadscore_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Tests never read a developer's LEADSCORE_* settings (an account, a prefix, a mapping)."""
    for name in list(os.environ):
        if name.startswith("LEADSCORE_"):
            monkeypatch.delenv(name)
    yield
