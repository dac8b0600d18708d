"""`leadscore backtest` as a user meets it: the report, JSON, and bad input refused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score
from typer.testing import CliRunner

from sync.cli import app
from tests.helpers import unwrapped

runner = CliRunner()
RULES = """
dimensions: {fit: {}, activity: {}}
rules:
  - {id: vp, contact: {title: VP}, points: 30}
  - {id: visit, activity: page_view, points: 10, window_days: 7}
stages:
  ladder:
    - name: Lead
    - name: MQL
      when: {min: {total: 30}}
"""


def run(*args: str, width: int = 80):
    return runner.invoke(app, list(args), env={"COLUMNS": str(width)})


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    rules = tmp_path / "r.yaml"
    rules.write_text(RULES, "utf-8")
    contacts = tmp_path / "c.csv"
    rows = ["id,email,title,won,scored,deal_notes"]
    for i in range(40):
        won = int(i % 3 == 0)
        title = "VP" if i % 3 == 0 or i % 5 == 0 else "Analyst"
        notes = "signed" if won else ""
        rows.append(f"{i},p{i}@acme.io,{title},{won},2026-10-{1 + i % 20:02d}T12:00:00Z,{notes}")
    contacts.write_text("\n".join(rows) + "\n", "utf-8")
    activities = tmp_path / "a.csv"
    # contact 1 visits on Oct 10: it counts for a moment after that, not before
    activities.write_text(
        "contact_id,type,occurred_at\n1,page_view,2026-10-01T09:00:00Z\n"
        "2,page_view,2026-10-20T09:00:00Z\n",
        "utf-8",
    )
    return {"rules": rules, "contacts": contacts, "activities": activities}


def args(files: dict[str, Path], *extra: str) -> list[str]:
    return [
        "backtest",
        "--rules", str(files["rules"]),
        "--contacts", str(files["contacts"]),
        "--outcome", "won",
        *extra,
    ]  # fmt: skip


def test_the_report_fits_80_columns_and_names_the_leaking_column(files) -> None:
    result = run(*args(files, "--activities", str(files["activities"]), "--hand-over", "10"))

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    text = result.stdout
    assert "ROC AUC" in text and "Average precision" in text and "Tied scores" in text
    assert "Hand over 10: a score of 30 or more hands over 19 leads" in unwrapped(text)
    assert "'deal_notes': filled for 14 contacts, 100% of whom converted" in unwrapped(text)
    assert "MQL" in text and "Calibration" in text


def test_json_holds_what_scikit_learn_finds(files) -> None:
    result = run(*args(files, "--json", "--as-of", "2026-11-01T00:00:00Z"))

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    won = [int(i % 3 == 0) for i in range(40)]
    score = [30 if i % 3 == 0 or i % 5 == 0 else 0 for i in range(40)]
    assert report["auc"]["value"] == pytest.approx(roc_auc_score(won, score))
    assert report["contacts"] == 40 and report["converted"] == 14
    assert [leak["column"] for leak in report["leaks"]] == ["deal_notes"]
    assert report["hand_over"] is None


def test_each_contact_is_scored_as_of_its_own_moment(files) -> None:
    # contact 1 (scored Oct 2) visited on Oct 1: counted; contact 2 (Oct 3) visits Oct 20, later
    result = run(*args(files, "--json", "--as-of-column", "scored", "-a", str(files["activities"])))
    at_once = run(*args(files, "--json", "--as-of", "2026-11-01T00:00:00Z", "-a",
                        str(files["activities"])))  # fmt: skip

    assert result.exit_code == 0 and at_once.exit_code == 0, result.output + at_once.output
    calibrated = {b["low"] for b in json.loads(result.stdout)["calibration"]}
    assert 10 in calibrated  # contact 1's visit, a day before its moment
    # as of Nov 1 both visits are older than the rule's 7 days: neither counts
    assert 10 not in {b["low"] for b in json.loads(at_once.stdout)["calibration"]}


@pytest.mark.parametrize(
    ("content", "extra", "expected"),
    [
        (None, ("--outcome", "nope"), "column 'nope' (--outcome) is not in the file"),
        ("id,won\n1,1\n2,maybe\n3,0\n", (), "row 2 (contact '2'): column 'won': expected 0 or 1 (converted), 'maybe'"),
        ("id,won\n1,1\n2,\n3,0\n4,x\n", (), "row 2 (contact '2'): column 'won': expected 0 or 1 (converted), empty"),
        ("id,won\n1,1\n2,1\n", (), "column 'won': every contact converted: a backtest needs both outcomes"),
        ("id,won,at\n1,1,2026-10-01\n2,0,soon\n", ("--as-of-column", "at"), "row 2 (contact '2'): column 'at': cannot be read as a moment"),
        (None, ("--as-of-column", "scored", "--as-of", "2026-10-01"), "give --as-of-column or --as-of, not both"),
        (None, ("--as-of", "yesterday"), "--as-of: expected an ISO-8601 date"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_naming_file_row_and_column(files, content, extra, expected) -> None:
    if content is not None:
        files["contacts"].write_text(content, "utf-8")

    result = run(*args(files), *extra, width=300)

    assert result.exit_code == 2, result.output
    assert expected in result.stderr
    assert "Traceback" not in result.output


CELLS = st.one_of(
    st.sampled_from(["1", "0", "true", "False", " yes ", "NO", "y", "t", "1.0", "", "2", "-1"]),
    st.text(max_size=6),
)


@settings(max_examples=200)
@given(st.lists(CELLS, min_size=1, max_size=30))
def test_outcomes_are_read_exactly_or_refused_with_exit_2(cells: list[str]) -> None:
    from sync.backtest_command import FALSE, TRUE, outcomes

    distinct = sorted(set(cells))
    codes = np.array([distinct.index(c) for c in cells], dtype=np.int32)
    known = [c.strip().lower() in TRUE | FALSE for c in cells]
    ids = np.array([str(i) for i in range(len(cells))], dtype=object)
    if all(known):
        found = outcomes(Path("c.csv"), ids, (codes, np.array(distinct, dtype=object)), "won")
        assert found.tolist() == [c.strip().lower() in TRUE for c in cells]
    else:
        with pytest.raises(typer.Exit) as stopped:
            outcomes(Path("c.csv"), ids, (codes, np.array(distinct, dtype=object)), "won")
        assert stopped.value.exit_code == 2


@settings(max_examples=200)
@given(st.lists(st.one_of(st.text(max_size=30), st.datetimes().map(str)), min_size=1, max_size=20))
def test_moments_are_read_or_refused_with_exit_2(cells: list[str]) -> None:
    from sync.backtest_command import contact_moments

    distinct = sorted(set(cells))
    codes = np.array([distinct.index(c) for c in cells], dtype=np.int32)
    ids = np.array([str(i) for i in range(len(cells))], dtype=object)
    try:
        found = contact_moments(Path("c.csv"), ids, (codes, np.array(distinct, dtype=object)), "at")
    except typer.Exit as stopped:
        assert stopped.exit_code == 2
        return
    assert np.isfinite(found).all() and len(found) == len(cells)
