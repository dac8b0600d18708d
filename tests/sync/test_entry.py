"""The processes leadscore owns start without pydantic's plugin search, unless the
environment asks for plugins; a library caller's setting is never touched."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from sync.entry import own_process

ROOT = Path(__file__).parents[2]


def test_the_plugin_search_is_off_unless_the_environment_names_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PYDANTIC_DISABLE_PLUGINS", raising=False)
    own_process()
    assert os.environ["PYDANTIC_DISABLE_PLUGINS"] == "__all__"
    monkeypatch.setenv("PYDANTIC_DISABLE_PLUGINS", "")  # plugins on, as asked
    own_process()
    assert os.environ["PYDANTIC_DISABLE_PLUGINS"] == ""


@pytest.mark.parametrize(
    ("imported", "expected"),
    [("sync.web.aws", "__all__"), ("sync.web.gcp", "__all__"), ("sync", None), ("sync.cli", None)],
)
def test_only_the_entry_points_set_it(imported: str, expected: str | None) -> None:
    code = f"import os, {imported}; print(os.environ.get('PYDANTIC_DISABLE_PLUGINS'))"
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    shown = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert shown == str(expected)


def test_the_command_starts_at_the_entry() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["leadscore"] == "sync.entry:leadscore"
    assert "sync.entry" in (ROOT / "sync" / "__main__.py").read_text()
