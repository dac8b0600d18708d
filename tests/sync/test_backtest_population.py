"""`leadscore backtest` and `calibrate` with RFM by quintiles and account roll-ups: each
contact scored with the population as of its own moment."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sync.cli import app

EXAMPLES = Path(__file__).parents[2] / "examples"
runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args), env={"COLUMNS": "200"})


@pytest.fixture
def contacts(tmp_path: Path) -> Path:
    """The example contacts with an outcome and a moment of their own each."""
    path = tmp_path / "contacts.csv"
    with (EXAMPLES / "data" / "contacts.csv").open(encoding="utf-8") as source:
        rows = list(csv.DictReader(source))
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, [*rows[0], "won", "scored"])
        writer.writeheader()
        for index, row in enumerate(rows):
            row["won"] = "1" if index % 4 == 0 or index % 7 == 0 else "0"
            row["scored"] = f"2026-{8 + index % 3:02d}-{1 + index % 28:02d}T12:00:00Z"
            writer.writerow(row)
    return path


def _rules(tmp_path: Path) -> Path:
    """The example's accounts rules with RFM by quintiles read by a rule."""
    text = (EXAMPLES / "accounts.yaml").read_text("utf-8")
    text = text.replace(
        "rules:\n",
        "rules:\n  - {id: buyer, contact: {rfm_f: {gte: 3}}, points: 15, dimension: account}\n",
        1,
    )
    path = tmp_path / "rules.yaml"
    path.write_text(text + "rfm: {}\n", "utf-8")
    return path


def test_backtest_takes_quintiles_and_accounts_as_of_each_contacts_moment(
    tmp_path: Path, contacts: Path
) -> None:
    rules = _rules(tmp_path)
    activities = str(EXAMPLES / "data" / "activities.csv")
    args = ["backtest", "-r", str(rules), "-c", str(contacts), "-a", activities]
    result = run(*args, "--outcome", "won", "--as-of-column", "scored", "--json")

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert 0.0 <= report["auc"]["value"] <= 1.0
    # one moment for all takes the population as of that moment
    single = run(*args, "--outcome", "won", "--as-of", "2026-10-01", "--json")
    assert single.exit_code == 0, single.output


def test_calibrate_keeps_the_blocks_and_backtests_both_files(
    tmp_path: Path, contacts: Path
) -> None:
    pytest.importorskip("sklearn")
    rules, out = _rules(tmp_path), tmp_path / "fitted.yaml"
    activities = str(EXAMPLES / "data" / "activities.csv")
    result = run(
        "calibrate", "-r", str(rules), "-c", str(contacts), "-a", activities,
        "--outcome", "won", "--as-of-column", "scored", "--out", str(out),
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    fitted = out.read_text("utf-8")
    assert "\nrfm:" in fitted and "\naccounts:" in fitted
    assert run("validate", str(out)).exit_code == 0
    assert "Backtest on the" in result.stdout
