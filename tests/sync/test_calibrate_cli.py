"""`leadscore calibrate` as a user meets it: the fitted file written and valid, the two
backtests side by side on the held-out part, and bad input refused in one line."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from sync.cli import app
from tests.helpers import unwrapped

pytest.importorskip("sklearn")

runner = CliRunner()
CURRENT = """
dimensions: {fit: {cap: 100}, activity: {}}
rules:
  - {id: vp, contact: {title: VP}, points: 30}
stages:
  ladder:
    - name: Lead
    - name: MQL
      when: {min: {total: 30}}
"""


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    rng = np.random.default_rng(7)
    rules = tmp_path / "current.yaml"
    rules.write_text(CURRENT, "utf-8")
    rows = ["id,email,title,plan,won,created"]
    acts = ["contact_id,type,occurred_at"]
    for i in range(300):
        plan = ["pro", "free", "team"][i % 3]
        demo = rng.random() < 0.3
        odds = -1.0 + 1.5 * (plan == "pro") + 2.0 * demo
        won = int(rng.random() < 1 / (1 + np.exp(-odds)))
        day = 1 + i % 28
        rows.append(
            f"{i},p{i}@acme.io,{'VP' if i % 4 else 'Analyst'},{plan},{won},2026-03-{day:02d}T12:00:00Z"
        )
        if demo:
            acts.append(f"{i},demo_request,2026-03-{day:02d}T09:00:00Z")
    contacts = tmp_path / "c.csv"
    contacts.write_text("\n".join(rows) + "\n", "utf-8")
    activities = tmp_path / "a.csv"
    activities.write_text("\n".join(acts) + "\n", "utf-8")
    return {
        "rules": rules,
        "contacts": contacts,
        "activities": activities,
        "out": tmp_path / "fitted.yaml",
    }


def run(files: dict[str, Path], *extra: str):
    args = [
        "calibrate", "--rules", str(files["rules"]), "--contacts", str(files["contacts"]),
        "--activities", str(files["activities"]), "--outcome", "won",
        "--out", str(files["out"]), *extra,
    ]  # fmt: skip
    return runner.invoke(app, args, env={"COLUMNS": "80"})


def test_writes_a_valid_file_and_prints_both_backtests_on_the_latest_fifth(files) -> None:
    result = run(files, "--as-of-column", "created", "--max-rules", "4", "--hand-over", "50")

    assert result.exit_code == 0, result.output
    text = unwrapped(result.stdout)
    assert "held out (the latest 20 %)" in text
    assert "current.yaml" in text and "fitted.yaml" in text and "ROC AUC" in text
    assert "time-ordered folds" in text
    checked = runner.invoke(app, ["validate", str(files["out"])])
    assert checked.exit_code == 0, checked.output
    written = files["out"].read_text("utf-8")
    assert "# converts" in written and "the base rate" in written
    assert written.count("  - id: ") <= 4


def test_too_few_positives_are_warned_about(files) -> None:
    lines = files["contacts"].read_text("utf-8").splitlines()
    kept, wins = [lines[0]], 0
    for line in lines[1:]:
        cells = line.split(",")
        wins += cells[4] == "1"
        cells[4] = "1" if cells[4] == "1" and wins <= 60 else "0"
        kept.append(",".join(cells))
    files["contacts"].write_text("\n".join(kept) + "\n", "utf-8")
    result = run(files)
    assert result.exit_code == 0, result.output
    assert "warning: the fit saw only" in unwrapped(result.stderr)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--outcome", "nope"), "column 'nope' (--outcome) is not in the file"),
        (("--as-of", "yesterday"), "--as-of:"),
        (("--outcome", "plan"), "expected 0 or 1 (converted)"),
    ],
)
def test_bad_input_exits_2_with_one_line(files, extra, message) -> None:
    result = run(files, *extra)
    assert result.exit_code == 2, result.output
    assert message in unwrapped(result.stderr)
    assert "Traceback" not in result.output


def test_the_out_file_must_not_be_the_current_rules(files) -> None:
    result = run({**files, "out": files["rules"]})
    assert result.exit_code == 2
    assert "the --rules file; write the fitted rules to another" in unwrapped(result.stderr)


def test_without_scikit_learn_one_line_says_how_to_install_it(files, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "sklearn", None)
    result = run(files)
    assert result.exit_code == 2
    assert "calibrate needs scikit-learn: pip install 'leadscore[calibrate]'" in unwrapped(
        result.stderr
    )


def test_trends_write_a_line_and_its_centre_that_validate(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    rules = tmp_path / "current.yaml"
    rules.write_text(CURRENT, "utf-8")
    rows = ["id,title,staff,won"]
    for i in range(600):
        staff = round(float(rng.uniform(5000, 5200)), 1)
        won = int(rng.random() < 1 / (1 + np.exp(-(-1.0 - 0.03 * (staff - 5100)))))
        rows.append(f"{i},{'VP' if i % 4 else 'Analyst'},{staff},{won}")
    contacts = tmp_path / "c.csv"
    contacts.write_text("\n".join(rows) + "\n", "utf-8")
    files = {"rules": rules, "contacts": contacts, "out": tmp_path / "fitted.yaml"}
    args = [
        "calibrate", "--rules", str(rules), "--contacts", str(contacts), "--outcome", "won",
        "--out", str(files["out"]), "--max-rules", "4", "--trends",
    ]  # fmt: skip
    result = runner.invoke(app, args, env={"COLUMNS": "80"})

    assert result.exit_code == 0, result.output
    checked = runner.invoke(app, ["validate", str(files["out"])])
    assert checked.exit_code == 0, checked.output
    written = files["out"].read_text("utf-8")
    assert "a trend: it goes on past the values fitted on" in written
    assert "staff: {gte: 0}" in written  # its centre
    assert written.count("  - id: ") <= 4
