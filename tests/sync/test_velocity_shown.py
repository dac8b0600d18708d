"""Velocity as `leadscore explain` and `leadscore history` show it: the change over the
rules' windows and the bucket of their `velocity` block."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from sandbox import Sandbox
from scoring import RuleSet, load_rules, parse_rules
from scoring.velocity_rules import VelocityBuckets
from sync import StateStore
from sync.cli import app
from sync.history import HistoryEntry
from sync.history_report import (
    history_json,
    history_lines,
    velocity_lines,
    velocity_marks,
    velocity_text,
)
from sync.schema import history, persons
from tests.sync.cli_env import hubspot_env
from tests.sync.test_history import entry

RULES = Path(__file__).parents[2] / "scoring" / "rulesets" / "default.yaml"
BLOCK = "velocity:\n  days: 14\n  heating: 10\n  cooling: -10\n"
DAY0 = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
runner = CliRunner()


def with_velocity() -> RuleSet:
    return load_rules(RULES).model_copy(
        update={"velocity": VelocityBuckets(days=14, heating=10, cooling=-10)}
    )


def on(day: float, score: int) -> HistoryEntry:
    return replace(entry(score, "Lead", {"activity": score}), at=DAY0 + timedelta(days=day))


# -- the text ---------------------------------------------------------------------------------------


def test_each_score_is_marked_against_the_last_one_recorded_a_window_before() -> None:
    entries = [on(0, 10), on(10, 20), on(14, 25), on(20, 45), on(21, -1000), on(40, 30)]

    marks = velocity_marks(entries, [14.0, 30.0])

    assert [m[14.0] for m in marks] == [None, None, 15, 35, None, None]
    # day 40 against day 21 (disqualified: no amount of points) has none; over 30 days,
    # against day 10
    assert [m[30.0] for m in marks] == [None, None, None, None, None, 10]


def test_the_bucket_is_shown_for_the_velocity_blocks_window_only() -> None:
    buckets = VelocityBuckets(days=14, heating=10, cooling=-10)

    assert velocity_text(23.4, 14, buckets) == "velocity +23 over 14 days (heating up)"
    assert velocity_text(-12, 14, buckets) == "velocity -12 over 14 days (cooling)"
    assert velocity_text(3, 14, buckets) == "velocity +3 over 14 days (steady)"
    assert velocity_text(23, 30, buckets) == "velocity +23 over 30 days"
    assert velocity_text(float("nan"), 1, None) == (
        "velocity over 1 day: none yet (no score recorded 1 day before)"
    )
    rules = parse_rules(
        "rules:\n  - id: seen\n    activity: page_view\n    points: 5\n"
        "stages:\n  ladder:\n    - name: Cold\n    - name: Warming\n"
        "      when: {velocity: {days: 7, min: 20}}\n",
        "warming.yaml",
    )
    assert velocity_lines(rules, 50.0, {7.0: 20.0}) == ["velocity +30 over 7 days"]
    assert velocity_lines(load_rules(RULES), 50.0, {}) == []


def test_history_marks_velocity_in_its_lines_and_its_json() -> None:
    rules = with_velocity()
    entries = [on(0, 10), on(20, 45)]

    lines = " ".join(x.strip() for x in history_lines("ann@example.com", entries, rules=rules))
    found = history_json("ann@example.com", 1, entries, rules)["history"]
    plain = history_json("ann@example.com", 1, entries)["history"]

    assert "velocity over 14 days: none yet" in lines
    assert "velocity +35 over 14 days (heating up); moved: score +35" in lines
    assert [h["velocity"] for h in found] == [
        {"14": {"change": None, "bucket": None}},
        {"14": {"change": 35, "bucket": "heating up"}},
    ]
    assert all("velocity" not in h for h in plain)
    assert "velocity" not in " ".join(history_lines("ann@example.com", entries))


# -- the commands -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    with Sandbox(people=40, seed=8) as sandbox:
        yield sandbox


@pytest.fixture
def env(box: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)  # no developer's .env
    ruled = tmp_path / "rules.yaml"
    ruled.write_text(RULES.read_text("utf-8") + BLOCK, "utf-8")
    return {**hubspot_env(box, tmp_path), "LEADSCORE_RULES": str(ruled)}


def test_explain_and_history_show_the_velocity_from_the_recorded_scores(
    env: dict[str, str], box: Sandbox
) -> None:
    assert runner.invoke(app, ["setup"], env=env).exit_code == 0
    assert runner.invoke(app, ["sync", "--full"], env=env).exit_code == 0
    store = StateStore(env["LEADSCORE_STATE_URL"])
    try:
        with store.engine.begin() as connection:
            row = connection.execute(
                sa.select(history).where(history.c.score > 40).order_by(history.c.id).limit(1)
            ).one()
            # the same person scored 30 points lower 20 days before
            older = {**row._asdict(), "at": row.at - 20 * 86_400.0, "score": row.score - 30}
            connection.execute(sa.insert(history).values({**older, "id": None}))
            who = connection.execute(
                sa.select(persons.c.email).where(persons.c.id == row.person_id)
            ).scalar_one()
    finally:
        store.close()
    shown = runner.invoke(app, ["explain", who], env=env)
    stamp = datetime.now(UTC).isoformat()
    replayed = runner.invoke(app, ["explain", who, "--as-of", stamp], env=env)
    listed = runner.invoke(app, ["history", who], env=env)
    as_json = runner.invoke(app, ["history", who, "--json"], env=env)

    # now, the total (unrounded) less the recorded score 30 below the written one
    heated = re.compile(r"velocity \+(29|30|31) over 14 days \(heating up\)")
    for result in (shown, replayed):
        assert result.exit_code == 0, result.output
        assert heated.search(result.stdout), result.stdout
    assert listed.exit_code == 0, listed.output
    text = " ".join(x.strip() for x in listed.stdout.splitlines())
    assert all(len(x) <= 80 for x in listed.stdout.splitlines())
    assert "velocity over 14 days: none yet" in text
    assert "velocity +30 over 14 days (heating up)" in text
    marks = [h["velocity"]["14"] for h in json.loads(as_json.stdout)["history"]]
    assert marks == [{"change": None, "bucket": None}, {"change": 30, "bucket": "heating up"}]
