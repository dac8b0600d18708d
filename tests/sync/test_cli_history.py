"""`leadscore history` and `leadscore explain --as-of` as a user runs them after a sync."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from sandbox import Sandbox
from sync.cli import app
from sync.history_report import history_lines
from tests.helpers import unwrapped
from tests.sync.cli_env import hubspot_env
from tests.sync.test_history import entry

RULES = Path(__file__).parents[2] / "scoring" / "rulesets" / "default.yaml"
OTHER = "version: 1\nrules:\n  - id: known\n    contact: {email: {exists: true}}\n    points: 7\n"
runner = CliRunner()


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    with Sandbox(people=40, seed=8) as sandbox:
        yield sandbox


@pytest.fixture
def env(box: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)  # no developer's .env
    return hubspot_env(box, tmp_path)


def run(env: dict[str, str], *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), env=env)


@pytest.fixture
def synced(env: dict[str, str], box: Sandbox) -> str:
    """An address the store knows, after setup and a full sync."""
    assert run(env, "setup").exit_code == 0
    result = run(env, "sync", "--full")
    assert result.exit_code == 0, result.output
    return box.hubspot.contacts.value("email", 0) or ""


def test_history_shows_the_recorded_score_within_80_columns_and_as_json(
    env: dict[str, str], synced: str
) -> None:
    shown = run(env, "history", synced)
    as_json = run(env, "history", synced.upper(), "--json")

    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert "1 score recorded under 1 rule version" in lines[0]
    assert "moved: first recorded score" in " ".join(line.strip() for line in lines)
    version = hashlib.sha256(RULES.read_text("utf-8").encode()).hexdigest()
    assert f"rules {version[:12]}" in shown.stdout
    found = json.loads(as_json.stdout)
    (item,) = found["history"]
    assert item["rules"] == version and item["moved"] == {"first": True}
    assert f"score {item['score']:>5}" in shown.stdout


def test_an_unknown_person_is_one_line_and_exit_1(env: dict[str, str], synced: str) -> None:
    shown = run(env, "history", "nobody@example.com")
    replayed = run(env, "explain", "nobody@example.com", "--as-of", "2026-11-01")

    for result in (shown, replayed):
        assert result.exit_code == 1
        assert result.output.count("error:") == 1  # one message, wrapped at 80 columns
        assert "is not in the state store; run `leadscore sync` first" in unwrapped(result.output)


@pytest.mark.parametrize("moment", ["yesterday", "2026-13-01", "2026-11-01T25:00"])
def test_a_bad_as_of_exits_2_before_anything_is_read(env: dict[str, str], moment: str) -> None:
    result = run(env, "explain", "ann@example.com", "--as-of", moment)

    assert result.exit_code == 2
    assert "--as-of" in result.output and "Traceback" not in result.output


def test_explain_as_of_replays_under_the_rules_then_or_another_file(
    env: dict[str, str], synced: str, tmp_path: Path
) -> None:
    other = tmp_path / "other.yaml"
    other.write_text(OTHER, "utf-8")
    now = datetime.now(UTC) + timedelta(minutes=1)
    stamp = now.isoformat()
    then = run(env, "explain", synced, "--as-of", stamp)
    under_other = run(env, "explain", synced, "--as-of", stamp, "--rules", str(other))
    before = run(env, "explain", synced, "--as-of", "2000-01-01")
    recorded = json.loads(run(env, "history", synced, "--json").stdout)["history"][0]

    version = hashlib.sha256(RULES.read_text("utf-8").encode()).hexdigest()
    assert then.exit_code == 0, then.output
    assert f"rules in force then, version {version[:12]}" in then.stdout
    assert f"recorded by then: score {recorded['score']}" in then.stdout
    assert under_other.exit_code == 0, under_other.output
    other_version = hashlib.sha256(OTHER.encode()).hexdigest()
    assert f"rules {other}, version {other_version[:12]}" in under_other.stdout
    assert "score 7" in under_other.stdout
    assert before.exit_code == 1
    assert "no score of this person was recorded by" in unwrapped(before.output)


names = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FF), min_size=1, max_size=40)


@given(
    st.lists(
        st.tuples(
            st.integers(-1000, 10**6),
            st.none() | names,
            st.dictionaries(names, st.integers(-(10**6), 10**6), max_size=6),
        ),
        max_size=6,
    )
)
def test_history_lines_fit_80_columns_whatever_the_names(
    scores: list[tuple[int, str | None, dict[str, int]]],
) -> None:
    made = [entry(score, stage, dims) for score, stage, dims in scores]

    lines = history_lines("ann@example.com", made)

    assert all(len(line) <= 80 for line in lines)
    assert len(lines) >= 1 + 2 * len(made)
    for score, _, _ in scores:
        assert any(f"score {score:>5}" in line for line in lines)
