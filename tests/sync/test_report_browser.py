"""The HTML report in a real browser: Debian's Chromium, headless, driven by Playwright.

Every chart must have drawn its SVG with the marks its data calls for, with no console
error, and a screenshot of the page and of each chart is kept under test-artifacts/report/.
Where no browser is installed the test skips and says why; in CI (CI=true), where
`.ci/run` installs Chromium, it fails instead.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sync.cli import app
from sync.handover_schema import queue_rows
from sync.report_data import Handovers, ReportData, handovers_of, report_data
from sync.report_html import report_page
from sync.store import StateStore
from tests.helpers import NOW
from tests.sync.test_backtest_cli import runner
from tests.sync.test_capacity import MONDAY, decide, rules_of
from tests.sync.test_capacity import batch_of as capacity_batch
from tests.sync.test_report_cli import store_env
from tests.sync.test_report_data import batch_of

__all__ = ["store_env"]  # the fixture used here

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTEFACTS = Path(__file__).parents[2] / "test-artifacts" / "report"


def sync_playwright() -> Any:
    """Playwright's entry point, or a skip (a failure in CI) saying what is missing."""
    missing = None
    try:
        from playwright.sync_api import sync_playwright as entry
    except ModuleNotFoundError:
        missing = "Playwright is not installed (pip install -e '.[dev]')"
    if missing is None and not CHROMIUM.exists():
        missing = f"no browser at {CHROMIUM}: apt-get install -y chromium"
    if missing is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the report's browser test cannot run in CI: {missing}")
        pytest.skip(missing)
    return entry()


def handovers(folder: Path) -> Handovers:
    """A store's hand-over queue: two owners, three weeks of syncs, leads left waiting."""
    rules = rules_of(per_week=3, by="owner")
    store = StateStore(f"sqlite:///{folder / 'state.db'}")
    try:
        for week in range(3):
            at = MONDAY + timedelta(days=7 * week + 1)
            scores = {10 * week + p: 50.0 + (7 * p + 3 * week) % 45 for p in range(12)}
            owners = {p: "ann" if p % 3 else "bob" for p in scores}
            batch = capacity_batch(rules, scores, owners, at=at)
            decide(store, batch, at, teams=[owners[int(p)] for p in batch.contact_ids.tolist()])
        with store.engine.connect() as connection:
            found = handovers_of(queue_rows(connection), rules, at.timestamp() + 86_400)
    finally:
        store.close()
    assert found is not None and found.waiting_total > 0 and all(found.last)
    return found


def full_data(folder: Path) -> ReportData:
    """A report with every chart: outcomes, a store's history of three syncs and its
    hand-over queue."""
    batch = batch_of(300, seed=5)
    noise = np.random.default_rng(2).normal(0, 25, len(batch))
    converted = (batch.total + noise) > 70
    start = NOW.timestamp() - 3 * 86400
    history = [
        (person, start + 86400.0 * day, int(batch.total[person]) + day * (person % 3 - 1))
        for day in range(3)
        for person in range(len(batch))
    ]
    return report_data(
        batch, source="a test", made_at=NOW, outcome=("won", converted), history=history,
        handovers=handovers(folder),
    )  # fmt: skip


def expected_marks(data: ReportData) -> dict[str, tuple[str, int]]:
    """Per chart, a selector of its marks and how many its data calls for."""
    assert data.outcomes is not None and data.movement is not None and data.grades is not None
    assert data.handovers is not None
    tested = data.outcomes.backtest
    grid = data.grades
    queue = data.handovers
    return {
        "chart-scores": (".bars .point", sum(len(d.counts) for d in data.distributions)),
        "chart-funnel": (".point", len(data.funnel)),
        "chart-rules": (".bars .point", 2 * len(data.rules)),
        "chart-grades": (".hm image", 1),
        "chart-lift": (".bars .point", len(tested.deciles)),
        "chart-roc": (".scatterlayer .js-line", 2),
        "chart-calibration": (".scatterlayer .point", len(tested.calibration)),
        "chart-conversion": (".bars .point", len(tested.stages) + len(tested.grades)),
        "chart-movement": (
            ".scatterlayer .point, .bars .point",
            4 * len(data.movement.moments),
        ),
        "chart-grades text": (".hm text", len(grid.grades) * len(grid.bands)),
        "chart-handover": (
            ".bars .point",
            len(queue.teams) * (len(queue.weeks) + len(queue.edges) - 1),
        ),
        "chart-handover lines": (".shapelayer path", 1 + len(queue.teams)),  # capacity, thresholds
    }


def test_every_chart_renders_its_marks_in_chromium(tmp_path: Path) -> None:
    playwright = sync_playwright()
    data = full_data(tmp_path)
    page_file = tmp_path / "report.html"
    page_file.write_text(report_page(data), "utf-8")
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    with playwright as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("request", lambda r: None if r.url.startswith(("file:", "data:", "blob:"))
                    else problems.append(f"network: {r.url}"))  # fmt: skip
            page.goto(page_file.as_uri())
            page.wait_for_function(
                "[...document.querySelectorAll('div.plotly-graph-div')]"
                ".every(d => d.querySelector('svg.main-svg'))",
                timeout=20_000,
            )
            charts = page.locator("div.plotly-graph-div")
            found = {}
            for name, (selector, _) in expected_marks(data).items():
                chart = name.split()[0]
                found[name] = page.locator(f"#{chart}").locator(selector).count()
            assert charts.count() == 10
            rule_labels = page.locator("#chart-rules .ytick text").all_text_contents()
            page.screenshot(path=str(ARTEFACTS / "report.png"), full_page=True)
            for index in range(charts.count()):
                chart = charts.nth(index)
                name = chart.get_attribute("id")
                chart.screenshot(path=str(ARTEFACTS / f"{name}.png"))
        finally:
            browser.close()
    assert problems == []
    assert found == {name: count for name, (_, count) in expected_marks(data).items()}
    assert "<b>VP</b> & co" in rule_labels  # escaped text shown as written, not as markup


def rendered(playwright: Any, page_file: Path) -> tuple[list[str], list[str]]:
    """The console errors of the page opened in Chromium, and the ids of its drawn charts."""
    problems: list[str] = []
    with playwright as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(page_file.as_uri())
            page.wait_for_function(
                "[...document.querySelectorAll('div.plotly-graph-div')]"
                ".every(d => d.querySelector('svg.main-svg'))",
                timeout=20_000,
            )
            drawn = page.eval_on_selector_all(
                "div.plotly-graph-div",
                "ds => ds.filter(d => d.querySelector('svg')).map(d => d.id)",
            )
            page.screenshot(
                path=str(ARTEFACTS / page_file.with_suffix(".png").name), full_page=True
            )
        finally:
            browser.close()
    return problems, drawn


def test_the_pages_the_command_writes_from_a_store_render_in_chromium(
    store_env: dict[str, str], tmp_path: Path
) -> None:
    for args in (["setup"], ["sync", "--full"]):
        assert runner.invoke(app, args, env=store_env).exit_code == 0
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    store_page, bare_page = tmp_path / "store-report.html", tmp_path / "store-no-history.html"
    written = runner.invoke(
        app, ["report", "--from-store", "--out", str(store_page)], env=store_env
    )
    assert written.exit_code == 0, written.output
    db = sqlite3.connect(tmp_path / "state.db")
    with db:
        db.execute("delete from history")
    db.close()
    bare = runner.invoke(app, ["report", "--from-store", "--out", str(bare_page)], env=store_env)
    assert bare.exit_code == 0, bare.output
    for page_file, movement in ((store_page, True), (bare_page, False)):
        text = page_file.read_text("utf-8")
        assert "The rules set no `capacity`" in text  # the sentence, no queue drawn
        assert ("No score history yet." in text) is not movement
        problems, drawn = rendered(sync_playwright(), page_file)
        assert problems == []
        assert {"chart-scores", "chart-rules"} <= set(drawn)
        assert ("chart-movement" in drawn) is movement
