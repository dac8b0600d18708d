"""`leadscore setup`, `sync`, `status` and `explain` as a user runs them against the sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sandbox import Sandbox
from sync.cli import app
from tests.helpers import unwrapped
from tests.sync.cli_env import hubspot_env

RULES = Path(__file__).parents[2] / "scoring" / "rulesets" / "default.yaml"
runner = CliRunner()


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    with Sandbox(people=150, seed=4) as sandbox:
        yield sandbox


@pytest.fixture
def env(box: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)  # no developer's .env
    return hubspot_env(box, tmp_path, columns=200)


def run(env: dict[str, str], *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), env=env)


def test_setup_sync_status_and_explain_work_together(box: Sandbox, env: dict[str, str]) -> None:
    setup = run(env, "setup")
    again = run(env, "setup")
    synced = run(env, "sync", "--full")
    status = run(env, "status")
    email = box.hubspot.contacts.value("email", 0) or ""
    explained = run(env, "explain", email.upper())

    assert setup.exit_code == 0 and again.exit_code == 0, setup.output
    assert "created 0" in again.stdout and "already there" in again.stdout
    assert synced.exit_code == 0, synced.output
    assert f"{box.hubspot.contacts.size:,}" in synced.stdout
    assert "hubspot daily budget: " in synced.stdout  # this run's share, and what is left
    assert "of this run's 156,250 requests (25% of 625,000 a day)" in synced.stdout
    assert status.exit_code == 0 and "full" in status.stdout and "ok" in status.stdout
    assert "cursor hubspot.contacts" in status.stdout
    assert explained.exit_code == 0 and "score" in explained.stdout
    assert "hubspot 1" in explained.stdout
    assert box.hubspot.token not in synced.output + status.output + explained.output


def test_explain_says_where_page_views_came_from_and_how_they_are_dated(
    box: Sandbox, env: dict[str, str]
) -> None:
    table = box.hubspot.contacts
    viewed = next(
        row
        for row in range(table.size)
        if float(table.value("hs_analytics_num_page_views", row) or 0)
    )
    run(env, "setup")
    run(env, "sync", "--full")
    explained = run(env, "explain", table.value("email", viewed) or "")

    # a Professional portal has no per-view analytics: the counter stands in, and says so
    assert explained.exit_code == 0, explained.output
    assert "page view from the contact's counter, all dated by the latest one" in explained.stdout


def test_dry_run_prints_the_plan_and_writes_nothing(box: Sandbox, env: dict[str, str]) -> None:
    run(env, "setup")
    before = box.hubspot.calls["contacts.batch_update"]
    result = run(env, "sync", "--full", "--dry-run")

    assert result.exit_code == 0, result.output
    assert "records would be written" in result.stdout
    assert box.hubspot.calls["contacts.batch_update"] == before


def test_a_bad_rule_file_stops_before_any_call(
    box: Sandbox, env: dict[str, str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - id: x\n    activity: page_view\n    points: ten\n", "utf-8")
    box.hubspot.calls.clear()
    result = run({**env, "LEADSCORE_RULES": str(bad)}, "sync")

    assert result.exit_code == 2
    assert "bad.yaml:4" in unwrapped(result.stderr) and "points" in result.stderr
    assert sum(box.hubspot.calls.values()) == 0


def test_a_bad_setting_names_the_variable_and_exits_2(box: Sandbox, env: dict[str, str]) -> None:
    box.hubspot.calls.clear()
    result = run({**env, "LEADSCORE_HUBSPOT__TIER": "gold"}, "sync")

    assert result.exit_code == 2
    assert "LEADSCORE_HUBSPOT__TIER" in result.stderr
    assert box.hubspot.token not in result.stderr
    assert sum(box.hubspot.calls.values()) == 0


def test_no_configured_system_says_what_to_set(env: dict[str, str]) -> None:
    result = run({**env, "LEADSCORE_HUBSPOT__ACCESS_TOKEN": ""}, "sync")

    assert result.exit_code == 2
    assert "LEADSCORE_HUBSPOT__ACCESS_TOKEN" in result.stderr


def test_a_wrong_token_fails_with_the_vendor_message_and_no_secret(env: dict[str, str]) -> None:
    result = run({**env, "LEADSCORE_HUBSPOT__ACCESS_TOKEN": "pat-na1-not-the-token"}, "setup")

    assert result.exit_code == 1
    assert "hubspot" in result.stderr and "401" in result.stderr
    assert "pat-na1-not-the-token" not in result.output


def test_off_a_terminal_the_run_summary_is_one_json_log_line(
    box: Sandbox, env: dict[str, str]
) -> None:
    import json

    run(env, "setup")
    result = run(env, "sync", "--full")
    records = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    finished = [r for r in records if r["message"] == "sync finished"]

    assert result.exit_code == 0, result.output
    assert len(finished) == 1 and finished[0]["level"] == "info"
    hubspot = finished[0]["summary"]["systems"]["hubspot"]
    assert hubspot["contacts_pulled"] == box.hubspot.contacts.size
    assert hubspot["calls"] == sum(hubspot["calls_by_operation"].values())
    assert box.hubspot.token not in result.stderr


def test_a_sync_before_setup_says_so_and_writes_nothing(tmp_path: Path) -> None:
    with Sandbox(people=40, seed=9) as fresh:
        env = {
            "COLUMNS": "200",
            "LEADSCORE_RULES": str(RULES),
            "LEADSCORE_STATE_URL": f"sqlite:///{tmp_path / 'fresh.db'}",
            "LEADSCORE_HUBSPOT__ACCESS_TOKEN": fresh.hubspot.token,
            "LEADSCORE_HUBSPOT__HOST": fresh.hubspot.base_url,
        }
        result = run(env, "sync")
        writes = fresh.hubspot.calls["contacts.batch_update"]

    assert result.exit_code == 2
    assert "leadscore_score" in result.stderr and "leadscore setup" in unwrapped(result.stderr)
    assert writes == 0


def test_a_full_disk_mid_run_is_said_plainly_with_no_traceback_nor_data(
    box: Sandbox, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    import sqlalchemy.exc

    from sync.store import StateStore

    run(env, "setup")

    def full(*_args: object, **_kwargs: object) -> int:
        cause = sqlite3.OperationalError("database or disk is full")
        raise sqlalchemy.exc.OperationalError("INSERT ... 'ann@acme.io'", {}, cause)

    monkeypatch.setattr(StateStore, "save_pages", full)
    result = run(env, "sync", "--full")

    assert result.exit_code == 1
    assert "the disk holding the state store is full" in result.stderr
    assert "Traceback" not in result.output and "ann@acme.io" not in result.output


@pytest.mark.parametrize(
    ("driver_text", "said"),
    [
        ("attempt to write a readonly database", "the state store is read-only"),
        ("unable to open database file", "cannot open the SQLite file"),
        ('could not translate host name "db" to address', "host name does not resolve"),
        ('invalid dsn: missing "=" after "x"', "LEADSCORE_STATE_URL is malformed"),
        ("something new", "cannot use the state store (OperationalError)"),
    ],
)
def test_store_failures_are_said_in_words_a_user_can_act_on(driver_text: str, said: str) -> None:
    import sqlalchemy.exc

    from sync.app import store_problem

    error = sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception(driver_text))
    assert said in store_problem(error)


def test_a_sync_its_time_cuts_short_says_so_and_exits_3_and_the_next_finishes(
    box: Sandbox, env: dict[str, str]
) -> None:
    run(env, "setup")
    before = box.hubspot.calls["contacts.batch_update"]
    # gone before the run starts: reading the settings alone takes longer
    cut = run(env, "sync", "--full", "--max-seconds", "0.000000001")
    after_cut = box.hubspot.calls["contacts.batch_update"]
    whole = run(env, "sync", "--full", "--max-seconds", "3600")
    status = run(env, "status")

    assert cut.exit_code == 3, cut.output
    assert "sync (full): partial" in cut.stdout
    assert "stopped before its deadline: hubspot not pulled" in unwrapped(cut.stdout)
    assert after_cut == before
    assert whole.exit_code == 0, whole.output
    assert "sync (full): ok" in whole.stdout
    assert "partial" in status.stdout


@pytest.mark.parametrize("seconds", ["0", "-5", "nan", "inf"])
def test_max_seconds_must_be_a_positive_number(env: dict[str, str], seconds: str) -> None:
    result = run(env, "sync", "--max-seconds", seconds)

    assert result.exit_code == 2
    assert "--max-seconds: expected a positive number of seconds" in result.stderr


def test_status_shows_the_oldest_data_held_and_what_a_sync_with_retention_purged(
    box: Sandbox, env: dict[str, str]
) -> None:
    # the command's clock is the machine's; the sandbox's world may lie days before it
    days = (datetime.now(UTC) - box.now()).days + 20
    kept = {**env, "LEADSCORE_RETENTION_DAYS": str(days), "LEADSCORE_HISTORY_RETENTION_DAYS": "400"}
    run(kept, "setup")
    synced = run(kept, "sync", "--full")
    status = run(kept, "status")
    unset = run(env, "status")

    assert synced.exit_code == status.exit_code == 0
    assert "purged past their retention: " in unwrapped(synced.stdout)
    shown = unwrapped(status.stdout)
    assert "activities: oldest " in shown and f"kept {days} days" in shown
    assert "score history: oldest " in shown and "kept 400 days" in shown
    oldest = int(shown.split("activities: oldest ")[1].split("(")[1].split(" days")[0])
    assert days - 20 < oldest <= days
    assert "kept until erased (LEADSCORE_RETENTION_DAYS unset)" in unwrapped(unset.stdout)
