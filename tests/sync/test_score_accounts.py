"""`leadscore score --out` with account fit and stages: each contact's account fit, score
and stage beside its own, empty for a contact without an account."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.sync.test_cli import EXAMPLES, run

CONTACTS = (
    "id,email,account_id,industry,employees\n"
    "1,ann@acme.io,7,Software,250\n"
    "2,bob@acme.io,7,Software,250\n"
    "3,cat@gov.example,,Government,40\n"
    "4,dan@gmail.com,,,\n"
)
ACTIVITIES = (
    "contact_id,type,occurred_at\n"
    "1,demo_request,2026-11-08T09:00:00Z\n"
    "2,page_view,2026-11-09T09:00:00Z\n"
    "3,page_view,2026-11-09T09:00:00Z\n"
)


def _score(tmp_path: Path, out: Path, rules: Path) -> None:
    (tmp_path / "c.csv").write_text(CONTACTS, "utf-8")
    (tmp_path / "a.csv").write_text(ACTIVITIES, "utf-8")
    args = ["score", "--rules", str(rules), "--contacts", str(tmp_path / "c.csv")]
    args += ["--activities", str(tmp_path / "a.csv"), "--as-of", "2026-11-11T00:00:00Z"]
    result = run(*args, "--out", str(out))
    assert result.exit_code == 0, result.stderr


def test_score_writes_each_contacts_account_fit_score_and_stage(tmp_path: Path) -> None:
    out = tmp_path / "scores.csv"
    _score(tmp_path, out, EXAMPLES / "accounts.yaml")
    rows = {r["id"]: r for r in csv.DictReader(out.open(encoding="utf-8"))}
    names = list(rows["1"])
    assert names[-4:] == ["account_fit", "account_score", "account_stage", "reasons"]
    got = {i: (r["account_fit"], r["account_score"], r["account_stage"]) for i, r in rows.items()}
    # acme (account_id 7): software + mid-market, two engaged people, a demo request
    # gov.example (domain): public sector, one engaged person; gmail: no account
    assert got == {
        "1": ("50.0", "52.0", "Buying"),
        "2": ("50.0", "52.0", "Buying"),
        "3": ("-30.0", "-29.0", "Target"),
        "4": ("", "", ""),
    }


def test_jsonl_has_no_value_where_no_account(tmp_path: Path) -> None:
    out = tmp_path / "scores.jsonl"
    _score(tmp_path, out, EXAMPLES / "accounts.yaml")
    rows = {r["id"]: r for r in map(json.loads, out.read_text("utf-8").splitlines())}
    assert rows["4"]["account_fit"] is None and rows["4"]["account_stage"] is None
    assert rows["1"]["account_score"] == 52.0


def test_without_fit_or_stages_no_account_columns(tmp_path: Path) -> None:
    plain = tmp_path / "rules.yaml"
    text = (EXAMPLES / "accounts.yaml").read_text("utf-8")
    plain.write_text(text[: text.index("  fit:   ")], "utf-8")
    out = tmp_path / "scores.csv"
    _score(tmp_path, out, plain)
    header = out.read_text("utf-8").splitlines()[0]
    assert "account_" not in header
