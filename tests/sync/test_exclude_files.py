"""`score`, `backtest` and `calibrate` on files leave out the contacts the rules exclude."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from scoring import load_rules
from sync.cli import app
from tests.helpers import unwrapped

runner = CliRunner()
RULES = """
dimensions: {fit: {}, activity: {}}
rules:
  - {id: vp, contact: {title: VP}, points: 30}
  - {id: visit, activity: page_view, points: 10}
exclude:
  contact: {opt_out: true}
  emails_file: objected.txt
"""


def run(*args: str):
    return runner.invoke(app, list(args), env={"COLUMNS": "200"})


def opted_out(i: int) -> bool:
    return i % 7 == 0


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "rules.yaml").write_text(RULES, "utf-8")
    (tmp_path / "objected.txt").write_text("P1@acme.io\np2@acme.io # by phone\n", "utf-8")
    rows = ["id,email,title,won,opt_out"]
    for i in range(60):
        title = "VP" if i % 3 == 0 or i % 5 == 0 else "Analyst"
        rows.append(f"{i},p{i}@acme.io,{title},{int(i % 3 == 0)},{str(opted_out(i)).lower()}")
    (tmp_path / "c.csv").write_text("\n".join(rows) + "\n", "utf-8")
    (tmp_path / "a.csv").write_text(
        "contact_id,type,occurred_at\n1,page_view,2026-10-01T09:00:00Z\n"
        "3,page_view,2026-10-20T09:00:00Z\n",
        "utf-8",
    )
    return {
        "rules": tmp_path / "rules.yaml",
        "contacts": tmp_path / "c.csv",
        "activities": tmp_path / "a.csv",
        "dir": tmp_path,
    }


def kept(i: int) -> bool:
    return not opted_out(i) and i not in (1, 2)


def test_score_leaves_the_excluded_out_of_its_output_and_says_how_many(files) -> None:
    out = files["dir"] / "scores.csv"
    result = run(
        "score", "--rules", str(files["rules"]), "--contacts", str(files["contacts"]),
        "-a", str(files["activities"]), "--as-of", "2026-11-01T00:00:00Z", "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with out.open(newline="") as handle:
        ids = sorted(int(row["id"]) for row in csv.DictReader(handle))
    assert ids == [i for i in range(60) if kept(i)]
    excluded = 60 - len(ids)
    assert f"{excluded} contacts excluded by the rules (`exclude`)" in unwrapped(result.output)

    ranked = run(
        "score", "--rules", str(files["rules"]), "--contacts", str(files["contacts"]),
        "--top", "100",
    )  # fmt: skip
    assert ranked.exit_code == 0 and "p7@acme.io" not in ranked.stdout
    assert "p3@acme.io" in ranked.stdout


def test_backtest_measures_only_the_contacts_scored(files) -> None:
    result = run(
        "backtest", "--rules", str(files["rules"]), "--contacts", str(files["contacts"]),
        "--outcome", "won", "--as-of", "2026-11-01T00:00:00Z", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    rows = [i for i in range(60) if kept(i)]
    won = [int(i % 3 == 0) for i in rows]
    score = [30 if i % 3 == 0 or i % 5 == 0 else 0 for i in rows]
    assert report["contacts"] == len(rows) and report["converted"] == sum(won)
    assert report["auc"]["value"] == pytest.approx(roc_auc_score(won, score))


def test_calibrate_fits_without_the_excluded_and_keeps_the_exclusion(files) -> None:
    out = files["dir"] / "elsewhere" / "fitted.yaml"
    out.parent.mkdir()
    result = run(
        "calibrate", "--rules", str(files["rules"]), "--contacts", str(files["contacts"]),
        "--outcome", "won", "--as-of", "2026-11-01T00:00:00Z", "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "contacts excluded by the rules" in unwrapped(result.output)
    fitted = load_rules(out)
    assert fitted.exclude is not None
    assert fitted.exclude.emails == ["p1@acme.io", "p2@acme.io"]
    assert fitted.exclude.contact is not None and "opt_out" in fitted.exclude.contact
    assert "p1@acme.io" not in out.read_text("utf-8")  # the list file named, not copied
