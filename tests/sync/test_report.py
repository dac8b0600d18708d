"""What a person reads: the ranking at 80 columns and piped, cursors as dates, the demo's
progress."""

from __future__ import annotations

import io
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console

from connectors.files import read_activities, read_contacts
from scoring import Activity, ActivityType, Contact, load_rules, parse_rules, score_records
from sync.demo import run_demo
from sync.fields import REASONS_SHOWN
from sync.ranking import print_ranking, result_columns
from sync.report import cursor_text, print_explanation

ROOT = Path(__file__).parents[2]
AS_OF = datetime(2026, 11, 1, tzinfo=UTC)


def ranking_at(width: int) -> tuple[str, list[str]]:
    rules = load_rules(ROOT / "scoring" / "rulesets" / "default.yaml")
    people = read_contacts(ROOT / "examples" / "data" / "contacts.csv")
    read = read_activities(ROOT / "examples" / "data" / "activities.csv", people)
    batch = score_records(rules, people, read.activities, AS_OF)
    buffer = io.StringIO()
    # A console on a file, as when piped to `cat`: no terminal, the width given.
    print_ranking(Console(file=buffer, width=width), batch, AS_OF, 10)
    reasons = [batch.reasons_text(int(row), limit=REASONS_SHOWN) for row in batch.ranking()[:10]]
    return buffer.getvalue(), reasons


def test_the_ranking_fits_80_columns_and_breaks_no_word() -> None:
    text, reasons = ranking_at(80)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    printed = Counter(re.findall(r"\S+", text))
    for reason in reasons:
        for word in reason.replace(" · ", " ").split():
            assert printed[word] > 0, f"{word!r} of {reason!r} is broken or missing"


def test_a_wide_console_shows_one_column_per_dimension() -> None:
    text, _ = ranking_at(160)
    header = next(line for line in text.splitlines() if "why" in line)
    assert all(name in header for name in ("fit", "activity", "engagement", "grade", "why"))


def test_cursors_read_as_dates_and_tokens_as_they_are() -> None:
    assert (
        cursor_text('{"modified_since": 1793491200000}') == "modified_since 2026-11-01 00:00:00 UTC"
    )
    assert cursor_text('{"after": "4021"}') == "after 4021"
    assert cursor_text("opaque") == "opaque"


def test_the_demo_reports_progress_during_its_syncs() -> None:
    seen: Counter[str] = Counter()
    rules = parse_rules((ROOT / "scoring" / "rulesets" / "default.yaml").read_text("utf-8"))
    run_demo(
        Console(file=io.StringIO(), width=120),
        rules,
        people=200,
        seed=2,
        touched=3,
        top=3,
        progress=lambda what, count: seen.update({what: count}),
    )
    assert seen and sum(seen.values()) >= 200


def test_a_run_summary_shows_its_warnings_and_a_dry_runs_leaves_them_to_the_plan() -> None:
    from rich.console import Console

    from sync.report import print_summary
    from sync.summary import SyncSummary

    line = "field 'employees': 2 values the rules compare as numbers did not parse as one"
    shown = {}
    for mode in ("incremental", "incremental dry-run"):
        console = Console(width=200, record=True)
        print_summary(console, SyncSummary(mode, warnings=[line]))
        shown[mode] = console.export_text()
    assert f"warning: {line}" in shown["incremental"]
    assert "warning" not in shown["incremental dry-run"]


def test_the_status_of_runs_reads_whole_at_80_columns(tmp_path: Path) -> None:
    from sync.report import print_status
    from sync.store import StateStore

    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    at = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    done = store.start_run("incremental limit 100000", at)
    summary = {"elapsed_seconds": 12345.6, "changed": 1234567}
    summary["systems"] = {"hubspot": {"written": 1234567, "failed": 1234}}
    store.finish_run(done, "ok", summary, at)
    store.start_run("incremental", at)  # killed: never finished
    buffer = io.StringIO()
    print_status(Console(file=buffer, width=80), store, [])
    store.close()
    text = buffer.getvalue()

    assert max(len(line.rstrip()) for line in text.splitlines()) <= 80
    assert "…" not in text
    for word in ("interrupted", "incremental", "2026-11-01 12:00", "12345.6", "1234567", "1234"):
        assert word in text


def test_explain_and_the_ranking_show_the_top_interest_and_each_topic() -> None:
    rules = load_rules(ROOT / "examples" / "interests.yaml")
    page = "https://www.example.com/product/analytics"
    activities = [
        Activity(
            "c1", ActivityType.PAGE_VIEW, AS_OF - timedelta(days=14), attributes={"url": page}
        ),
        Activity("c1", ActivityType.PAGE_VIEW, AS_OF, attributes={"url": "/pricing"}),
    ]
    batch = score_records(rules, [Contact("c1", email="ines@acme.io")], activities, AS_OF)
    buffer = io.StringIO()
    print_explanation(Console(file=buffer, width=200), batch, 0)
    assert (
        "top interest: pricing (15); interests: pricing 15 · Analytics 5 (decayed from 10)"
        in buffer.getvalue()
    )
    buffer = io.StringIO()
    print_ranking(Console(file=buffer, width=200), batch, AS_OF, 10)
    assert "top interest: pricing (15)" in buffer.getvalue()
    assert "top interests: Analytics 0 · pricing 1 · none 0" in buffer.getvalue()
    assert result_columns(batch)[-5:] == [
        "top_interest",
        "interest_score",
        "interest_analytics",
        "interest_pricing",
        "reasons",
    ]


def test_at_80_columns_a_leads_account_and_queue_place_read_under_it() -> None:
    """What a lead is besides its score goes under its address, whole; a lead held below
    the hand-over stage says its place in the queue under its stage."""
    from dataclasses import replace

    rules = load_rules(ROOT / "scoring" / "rulesets" / "default.yaml")
    people = read_contacts(ROOT / "examples" / "data" / "contacts.csv")
    read = read_activities(ROOT / "examples" / "data" / "activities.csv", people)
    batch = score_records(rules, people, read.activities, AS_OF)
    first, second = (int(r) for r in batch.ranking()[:2])
    batch = replace(batch, waiting={second: 3})
    buffer = io.StringIO()
    print_ranking(Console(file=buffer, width=80), batch, AS_OF, 2, accounts={first: (12, 40)})
    text = buffer.getvalue()
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "account: 12/40 engaged" in text and "3rd in queue" in text
