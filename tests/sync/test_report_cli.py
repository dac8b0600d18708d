"""`leadscore report` as a user meets it: the page from files, with and without outcomes,
and its options refused with one line and exit 2."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox import Sandbox
from sync.cli import app
from tests.sync.cli_env import hubspot_env
from tests.sync.test_backtest_cli import files, run, runner

__all__ = ["files"]  # the fixture used here


def report(files: dict[str, Path], out: Path, *extra: str):
    return run(
        "report",
        "--rules", str(files["rules"]),
        "--contacts", str(files["contacts"]),
        "--activities", str(files["activities"]),
        "--out", str(out),
        *extra,
    )  # fmt: skip


def test_the_page_with_outcomes_holds_the_backtests_figures(files, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    result = report(files, out, "--outcome", "won", "--as-of-column", "scored")
    assert result.exit_code == 0, result.output
    said = "".join(result.stdout.split())  # wherever the wrapping broke the path
    assert re.fullmatch(r"wrote\S+r\.html\(40contacts;\d+\.\ds\)", said)
    page = out.read_text("utf-8")
    for chart in ("scores", "funnel", "rules", "lift", "roc", "calibration", "conversion"):
        assert f'id="chart-{chart}"' in page
    assert "chart-grades" not in page and "chart-movement" not in page  # no grades, no store
    tested = run(
        "backtest", "--rules", str(files["rules"]), "--contacts", str(files["contacts"]),
        "--activities", str(files["activities"]), "--outcome", "won", "--as-of-column",
        "scored", "--json",
    )  # fmt: skip
    auc = json.loads(tested.stdout)["auc"]
    shown = f"ROC AUC {auc['value']:.3f} ({auc['low']:.3f} to {auc['high']:.3f})"
    assert shown in page


def test_the_page_without_outcomes_says_how_to_get_them(files, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    result = report(files, out, "--as-of", "2026-11-01T00:00:00Z")
    assert result.exit_code == 0, result.output
    page = out.read_text("utf-8")
    assert "chart-roc" not in page and "pass --outcome COLUMN" in page
    assert "scored as of 2026-11-01T00:00:00Z" in page


@pytest.mark.parametrize("outcome", [(), ("--outcome", "won", "--as-of-column", "scored")])
def test_the_page_leaves_out_the_contacts_the_rules_exclude(
    files, tmp_path: Path, outcome: tuple[str, ...]
) -> None:
    rules = files["rules"]
    rules.write_text(
        rules.read_text("utf-8") + "exclude:\n  emails: [p0@acme.io, P3@Acme.io]\n", "utf-8"
    )
    out = tmp_path / "r.html"
    result = report(files, out, *outcome)
    assert result.exit_code == 0, result.output
    assert "(38 contacts;" in result.stdout
    assert "2 contacts excluded by the rules" in " ".join(result.stderr.split())
    page = out.read_text("utf-8")
    assert "p1@acme.io" in page and "p0@acme.io" not in page and "p3@acme.io" not in page


def test_outcomes_with_rfm_by_quintiles_are_scored_as_of_each_moment(files, tmp_path: Path) -> None:
    rules = files["rules"]
    rules.write_text(rules.read_text("utf-8") + "rfm: {activity: page_view}\n", "utf-8")
    out = tmp_path / "r.html"
    result = report(files, out, "--outcome", "won", "--as-of-column", "scored")
    assert result.exit_code == 0, result.output
    assert out.exists()
    plain = report(files, out)  # without outcomes, by the file's own quintiles
    assert plain.exit_code == 0, plain.output


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (("--from-store",), "--contacts cannot go with --from-store"),
        (("--within-days", "30"), "--within-days needs --from-store"),
        (("--as-of-column", "scored"), "--as-of-column needs --outcome"),
        (("--outcome", "nope"), "column 'nope' (--outcome) is not in the file"),
        (("--outcome", "title"), "expected 0 or 1 (converted), 'VP'"),
    ],
)
def test_bad_options_exit_2_with_one_line(files, tmp_path: Path, extra, expected) -> None:
    out = tmp_path / "r.html"
    result = report(files, out, *extra)
    assert result.exit_code == 2, result.output
    assert expected in " ".join(result.stderr.split())
    assert "Traceback" not in result.output and not out.exists()


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (("--activities", "a.csv"), "--activities cannot go with --from-store"),
        (("--as-of-column", "t"), "--as-of-column cannot go with --from-store"),
        (("--as-of", "2026-01-01"), "--as-of with --from-store needs --outcome"),
        (("--within-days", "30"), "--within-days with --from-store needs --outcome"),
        (("--outcome", "won", "--within-days", "0"), "Invalid value for '--within-days'"),
    ],
)
def test_the_store_report_takes_no_file_options(tmp_path: Path, extra, expected) -> None:
    result = run("report", "--from-store", *extra, "--out", str(tmp_path / "r.html"))
    assert result.exit_code == 2
    assert expected in " ".join(result.stderr.split())
    assert "Traceback" not in result.output and not (tmp_path / "r.html").exists()


def test_a_page_is_a_html_file_of_files_or_of_the_store(tmp_path: Path) -> None:
    neither = run("report", "--out", str(tmp_path / "r.html"))
    assert neither.exit_code == 2
    assert "give --from-store or --contacts FILE" in " ".join(neither.stderr.split())
    bad = run("report", "--contacts", "c.csv", "--out", str(tmp_path / "r.txt"))
    assert bad.exit_code == 2 and "expected a .html file" in " ".join(bad.stderr.split())


@pytest.fixture
def store_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    monkeypatch.chdir(tmp_path)  # no developer's .env
    with Sandbox(people=30, seed=4) as box:
        yield hubspot_env(box, tmp_path)


def test_the_store_report_after_a_sync_draws_the_history(
    store_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "store.html"
    empty = runner.invoke(app, ["report", "--from-store", "--out", str(out)], env=store_env)
    assert empty.exit_code == 1 and "holds nobody yet" in " ".join(empty.stderr.split())
    for args in (["setup"], ["sync", "--full"]):
        assert runner.invoke(app, args, env=store_env).exit_code == 0
    result = runner.invoke(app, ["report", "--from-store", "--out", str(out)], env=store_env)
    assert result.exit_code == 0, result.output
    page = out.read_text("utf-8")
    assert 'id="chart-movement"' in page and "The rules set no `capacity`" in page
    assert "pass --outcome won, customer or stage:NAME" in page
    assert re.search(r"the state store \(\d+ persons\)", page)


def test_the_store_report_draws_the_hand_over_queue_status_prints(
    store_env: dict[str, str], tmp_path: Path
) -> None:
    rules = tmp_path / "capacity.yaml"
    default = Path(store_env["LEADSCORE_RULES"]).read_text("utf-8")
    rules.write_text(default + "\ncapacity: {stage: Lead, per_week: 1}\n", "utf-8")
    env = {**store_env, "LEADSCORE_RULES": str(rules)}
    for args in (["setup"], ["sync", "--full"]):
        assert runner.invoke(app, args, env=env).exit_code == 0
    status = " ".join(runner.invoke(app, ["status"], env=env).stdout.split())
    found = re.search(r"hand-over (\S+): 1 of 1 handed over, (\d+) waiting, last handed over at "
                      r"score (\d+)", status)  # fmt: skip
    assert found is not None, status
    week, waiting, last = found.groups()
    out = tmp_path / "store.html"

    result = runner.invoke(app, ["report", "--from-store", "--out", str(out)], env=env)

    assert result.exit_code == 0, result.output
    page = " ".join(out.read_text("utf-8").split())
    assert 'id="chart-handover"' in page and int(waiting) > 0
    assert f"against the capacity of 1 a week, and the {waiting} leads waiting" in page
    assert f"The score of the last lead handed over: {last} (in {week})" in page
