"""bench/scale.py, the simulation of 100 tenants: its figures against ones computed by hand
from the connectors' page sizes and the vendors' limits, and against the measured sync."""

from __future__ import annotations

import importlib.util
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).parents[1] / "bench" / "scale.py"


@pytest.fixture(scope="module")
def scale() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location("scale_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


def test_the_hubspot_model_gives_the_calls_the_measured_full_sync_made(scale: ModuleType) -> None:
    contacts, measured, _ = scale.HUBSPOT_MEASURED  # 48,969 contacts: 2,609 calls
    load = scale.hubspot(contacts, "professional", scale.Assumptions())
    assert abs(load.full_calls / measured - 1) < 0.02


def test_the_daily_limits_are_the_vendors(scale: ModuleType) -> None:
    a = scale.Assumptions()
    assert scale.hubspot(10_000, "starter", a).daily_limit == 250_000
    assert scale.hubspot(10_000, "professional", a).daily_limit == 625_000
    assert scale.hubspot(10_000, "enterprise+api_addon", a).daily_limit == 2_000_000
    assert scale.hubspot(10_000, "oauth", a).daily_limit is None
    assert scale.salesforce(10_000, "enterprise", a, 50).daily_limit == 150_000
    assert scale.salesforce(10_000, "unlimited", a, 50).daily_limit == 350_000
    assert scale.salesforce(10_000, "developer", a, 50).daily_limit == 15_000


def test_full_calls_by_hand(scale: ModuleType) -> None:
    a = scale.Assumptions()
    # Mailchimp, 100,000 members: pages of 1,000 overlapping by 20 and the newest-change
    # read; 2 campaigns a week over 120 days, each a report page per 1,000 recipients,
    # its unsubscribes and abuse reports; /batches of 10,000 operations (2 a member), 3
    # calls each and the segments read; 6 more.
    campaigns = 2 * 120 / 7
    by_hand = (math.ceil(100_000 / 980) + 1) + campaigns * (100 + 2) + (3 * 20 + 1) + 6
    assert scale.mailchimp(100_000, "10 connections", a).full_calls == pytest.approx(by_hand)
    # Salesforce, 5,000,000 contacts: Leads and Contacts 2.5 M each and 4 activity objects
    # of 12.5 M each, each a Bulk API query job (create, a poll, a page per 50,000); two
    # update jobs of 6 calls; 7 more.
    by_hand = 2 * (2 + 50) + 4 * (2 + 250) + 2 * 6 + 7
    assert scale.salesforce(5_000_000, "enterprise", a).full_calls == by_hand


def test_what_breaks_first_by_hand(scale: ModuleType) -> None:
    a = scale.Assumptions()
    hubspot = next(t for t in scale.tiers(50) if t.tier == "professional")
    found = scale.first_break(hubspot, a)
    # Every known id read back within 7 days, 5,000 a run, 96 runs a day: 3,360,000 ids.
    gone = found["known ids read back within 7 days"]
    assert 3_360_000 <= gone <= 3_360_000 * 1.02
    # A full pass's memory on the line through 567 MB at 100,000 and 3,275 MB at 1 M
    # reaches 4 GB at 1,272,858 people.
    memory = found["full pass fits a worker's memory"]
    assert 1_272_858 <= memory <= 1_272_858 * 1.02
    oauth = next(t for t in scale.tiers(50) if t.tier == "oauth")
    assert "day's calls within the daily share (80 %)" not in scale.first_break(oauth, a)


def test_the_report_is_the_same_each_run(
    scale: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    assert scale.main(["--markdown"]) == 0
    first = capsys.readouterr().out
    assert scale.main(["--markdown"]) == 0
    assert capsys.readouterr().out == first
    assert "| HubSpot starter | 5,000,000 |" in first
    assert "The fleet: 100 tenants (seed 17)" in first


def test_docs_scale_shows_the_figures_the_script_gives(
    scale: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    assert scale.main(["--markdown"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("|")]
    doc = (Path(__file__).parents[1] / "docs" / "scale.md").read_text("utf-8").splitlines()
    assert len(rows) > 40
    assert [row for row in rows if row not in doc] == []
