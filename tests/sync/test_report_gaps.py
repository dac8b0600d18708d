"""`leadscore report` where something is missing: Plotly, a long enough token, both
outcomes, a file path to write."""

from __future__ import annotations

import re
import sys
from dataclasses import replace
from pathlib import Path
from typing import cast

import numpy as np
import pytest

from sync.cli import app
from sync.demo import demo_report
from sync.report_data import report_data
from sync.report_figures import whole_bins
from sync.report_html import report_page
from sync.words import counted
from tests.helpers import NOW
from tests.sync.test_backtest_cli import runner
from tests.sync.test_report_cli import files, report, store_env
from tests.sync.test_report_data import batch_of

__all__ = ["files", "store_env"]  # fixtures used here


def test_without_plotly_the_command_exits_1_naming_the_extra(
    files, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "sync.report_html", None)  # as if Plotly were missing
    out = tmp_path / "r.html"
    result = report(files, out)
    assert result.exit_code == 1, result.output
    assert "pip install 'leadscore[report]'" in result.stderr
    assert "Traceback" not in result.output and not out.exists()
    line = demo_report(cast("object", None), NOW, out)  # type: ignore[arg-type]
    assert line == "no HTML report: it needs Plotly (pip install 'leadscore[report]')"


def test_a_short_report_token_is_refused_at_settings_without_showing_it(
    store_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**store_env, "LEADSCORE_REPORT_TOKEN": "short-secret-15"}
    result = runner.invoke(
        app, ["report", "--from-store", "--out", str(tmp_path / "r.html")], env=env
    )
    assert result.exit_code == 2, result.output
    said = result.stderr
    assert "LEADSCORE_REPORT_TOKEN" in said and "at least 16 characters (it has 15)" in said
    assert "short-secret-15" not in result.output


@pytest.mark.parametrize(
    ("everyone", "said"), [(True, "every contact converted"), (False, "no contact converted")]
)
def test_one_outcome_for_all_draws_the_rest_with_a_note(everyone: bool, said: str) -> None:
    batch = batch_of(20)
    converted = np.full(len(batch), everyone)
    page = report_page(report_data(batch, source="s", made_at=NOW, outcome=("won", converted)))
    assert (
        f"{said[0].upper()}{said[1:]} (won): lift, ROC and calibration need both outcomes" in page
    )
    assert 'id="chart-scores"' in page and 'id="chart-rules"' in page
    assert "chart-roc" not in page and "No outcomes were given" not in page


def test_the_page_is_written_whole_and_a_folder_is_refused(files, tmp_path: Path) -> None:
    folder = tmp_path / "pages.html"
    folder.mkdir()
    refused = report(files, folder)
    assert refused.exit_code == 2
    assert "a folder; give the .html file" in refused.stderr
    out = tmp_path / "r.html"
    assert report(files, out).exit_code == 0
    assert out.read_text("utf-8").endswith("</html>\n")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_whole_point_bars_sit_on_their_points_and_say_which() -> None:
    middles, width, shown = whole_bins([40.0, 41.0, 42.0])
    assert (middles, width, shown) == ([40.0, 41.0], 1.0, ["40", "41"])
    middles, width, shown = whole_bins([40.0, 45.0, 50.0])
    assert (middles, width, shown) == ([42.0, 47.0], 5.0, ["40 to 44", "45 to 49"])


def test_the_page_names_dimensions_by_label_counts_in_words_and_times_in_utc() -> None:
    batch = batch_of(30)
    history = [(p, NOW.timestamp() - 86400.0 * d, 40 + d) for d in (2, 1) for p in range(3)]
    data = report_data(batch, source="s", made_at=NOW, history=history)
    named = [replace(d, label=f"{d.name.title()} points") for d in data.distributions]
    page = report_page(replace(data, distributions=named))
    heads = re.search(r"<table class='leads'><thead><tr>(.*?)</tr>", page)
    assert heads is not None and "<th>Fit points</th><th>Activity points</th>" in heads.group(1)
    assert "leads (not customers, not disqualified)" in page
    assert "Disqualified contacts are counted at their points" in page
    assert '"title":{"text":"time (UTC)"}' in page and '"automargin":true' in page
    assert counted(1, "contact") == "1 contact" and counted(1200, "lead") == "1,200 leads"
