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


def _command_then_teardown(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`leadscore ARGS` in a process of its own that says `teardown` if the interpreter
    runs its exit handlers (an ordinary end), with what it printed."""
    code = (
        "import atexit, sys; atexit.register(lambda: print('teardown', flush=True)); "
        f"sys.argv = ['leadscore', *{list(args)!r}]; "
        "from sync.entry import leadscore; leadscore()"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADSCORE_")}
    env.update(PYTHONPATH=str(ROOT), COLUMNS="80")
    return subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True
    )


def test_a_score_written_ends_the_process_at_once_with_all_it_printed(tmp_path: Path) -> None:
    data = ROOT / "examples" / "data"
    out = tmp_path / "scores.csv"
    done = _command_then_teardown(
        tmp_path, "score", "--rules", str(ROOT / "scoring" / "rulesets" / "default.yaml"),
        "--contacts", str(data / "contacts.csv"),
        "--activities", str(data / "activities.csv"), "--out", str(out),
        "--as-of", "2026-11-01T00:00:00Z",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "".join(done.stdout.split()) == f"wrote400scoredcontactsto{out}"  # no teardown
    assert len(out.read_text().splitlines()) == 401
    # a command that fails, or any other command, ends as usual
    failed = _command_then_teardown(tmp_path, "score", "--contacts", str(tmp_path / "none.csv"))
    assert failed.returncode == 2 and failed.stdout.strip().endswith("teardown")
    rules = _command_then_teardown(tmp_path, "validate", str(ROOT / "examples" / "rfm.yaml"))
    assert rules.returncode == 0 and rules.stdout.strip().endswith("teardown")


def test_elsewhere_a_score_changes_nothing_at_its_end() -> None:
    import sync.entry as entry

    entry.leave_at_once()  # not the command: a test, a library caller
    assert not entry._done
