"""The HTML report against the store: excluded persons, old hand-overs, per-contact moments."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sandbox import Sandbox
from sync.cli import app
from sync.handover_schema import QueueRows
from sync.report_data import handovers_of, report_data
from sync.report_html import report_page
from tests.helpers import NOW
from tests.sync.cli_env import hubspot_env
from tests.sync.test_backtest_cli import runner
from tests.sync.test_capacity import MONDAY, rules_of
from tests.sync.test_report_cli import files, report, store_env
from tests.sync.test_report_data import batch_of

__all__ = ["files", "store_env"]
AS_OF = datetime(2026, 6, 1, tzinfo=UTC)


def movement_people(page: str) -> str:
    chart = page[page.index('id="chart-movement"') :]
    found = re.search(r'"customdata":(\[[0-9,]*\])', chart)
    assert found is not None
    return found.group(1)


@pytest.fixture
def big_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    monkeypatch.chdir(tmp_path)
    with Sandbox(people=150, seed=4) as box:
        yield hubspot_env(box, tmp_path)


def test_excluded_persons_stay_out_of_the_movement_with_store_outcomes(
    big_env: dict[str, str], tmp_path: Path
) -> None:
    store_env = big_env
    for args in (["setup"], ["sync", "--full"]):
        assert runner.invoke(app, args, env=store_env).exit_code == 0
    db = sqlite3.connect(tmp_path / "state.db")
    reached = [e for (e,) in db.execute(
        "select email from activities where email is not null group by email "
        f"having min(occurred_at) > {AS_OF.timestamp()}")]  # fmt: skip
    db.close()
    assert reached
    rules = tmp_path / "objecting.yaml"
    listed = "".join(f"    - {e}\n" for e in reached)
    rules.write_text(
        Path(store_env["LEADSCORE_RULES"]).read_text("utf-8") + f"\nexclude:\n  emails:\n{listed}"
    )
    env = {**store_env, "LEADSCORE_RULES": str(rules)}
    now_page, known_page = tmp_path / "now.html", tmp_path / "known.html"
    assert (
        runner.invoke(app, ["report", "--from-store", "--out", str(now_page)], env=env).exit_code
        == 0
    )
    as_of = AS_OF.strftime("%Y-%m-%dT%H:%M:%SZ")
    known = runner.invoke(
        app,
        ["report", "--from-store", "--outcome", "won", "--as-of", as_of,
         "--within-days", "150", "--out", str(known_page)],
        env=env,
    )  # fmt: skip
    assert known.exit_code == 0, known.output
    # docs/report.md: the score's movement stays the store's of now, the excluded left out
    assert movement_people(known_page.read_text()) == movement_people(now_page.read_text())


def test_old_hand_overs_are_not_called_none() -> None:
    weeks = [f"2026-W{w:02d}" for w in range(30, 44)]
    rows = QueueRows([(w, "", 3 if i < 2 else 0) for i, w in enumerate(weeks)], [],
                     {"": (71.0, "2026-W31")})  # fmt: skip
    found = handovers_of(rows, rules_of(per_week=3), MONDAY.timestamp())
    page = report_page(report_data(batch_of(10), source="s", made_at=NOW, history=[],
                                   handovers=found))  # fmt: skip
    assert "No lead has reached the hand-over stage" not in page
    assert "No lead was handed over (SQL) in the 12 weeks drawn, and nobody waits" in page


def test_a_page_of_per_contact_moments_names_no_single_moment(files, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    assert report(files, out, "--outcome", "won", "--as-of-column", "scored").exit_code == 0
    meta = re.search(r"<p class='meta'>(.*?)</p>", out.read_text("utf-8"))
    assert meta is not None and "scored as of 20" not in meta.group(1), meta.group(1)
