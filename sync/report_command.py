"""`leadscore report`: the scores of files or of the state store as one HTML page.

The numbers are `sync.report_data`'s and the page `sync.report_html`'s (Plotly, the
`report` extra); from files with `--outcome`, contacts are read as `leadscore backtest`
reads them (`read_known_outcomes`), so the curves are the backtest's own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sync.console import err, fail, out, rules_from, settings
from sync.errors import EXIT_FAILED

if TYPE_CHECKING:
    from sync.report_data import ReportData

PLOTLY_MISSING = "the HTML report needs Plotly: pip install 'leadscore[report]'"


@dataclass(frozen=True)
class ReportOptions:
    rules: Path | None
    from_store: bool
    contacts: Path | None
    activities: Path | None
    outcome: str | None
    as_of_column: str | None
    as_of: str | None


def write_report(options: ReportOptions, top: int, output: Path) -> None:
    """Check the options, build the report's numbers, write the page and say where."""
    if options.from_store == (options.contacts is not None):
        fail("give --from-store or --contacts FILE (with --activities FILE), one of them")
    if options.from_store:
        for given, name in (
            (options.activities, "--activities"),
            (options.outcome, "--outcome"),
            (options.as_of_column, "--as-of-column"),
            (options.as_of, "--as-of"),
        ):
            if given is not None:
                more = " (outcomes from the CRM are not read yet)" if name == "--outcome" else ""
                fail(f"{name} is for a report from files, not --from-store{more}")
    if options.outcome is None and options.as_of_column is not None:
        fail("--as-of-column needs --outcome (a backtest scores each contact as of its moment)")
    if output.suffix.lower() not in (".html", ".htm"):
        fail(f"--out {output}: expected a .html file")
    if not output.parent.is_dir():
        fail(f"--out {output}: the folder {output.parent} does not exist")
    try:
        from sync.report_html import report_page
    except ModuleNotFoundError:
        fail(PLOTLY_MISSING, code=EXIT_FAILED)
    began = time.perf_counter()
    data = store_data(options.rules, top) if options.from_store else files_data(options, top)
    save_page(output, report_page(data))
    out.print(
        f"wrote {output} ({data.contacts:,} contacts; {time.perf_counter() - began:.1f} s)",
        highlight=False,
    )


def save_page(output: Path, page: str) -> None:
    try:
        output.write_text(page, "utf-8")
    except OSError as exc:
        fail(f"cannot write {output}: {exc.strerror}", code=EXIT_FAILED)


def files_data(options: ReportOptions, top: int) -> ReportData:
    """The report of the files (and their outcomes, when a column is named)."""
    from scoring import InputError, score_population
    from sync.backtest_command import read_known_outcomes
    from sync.report_data import report_data
    from sync.score_command import as_of_moment, excluded_note, scored_files

    assert options.contacts is not None
    ruleset = rules_from(options.rules or settings().rules)
    source = str(options.contacts)
    if options.outcome is None:
        moment = as_of_moment(options.as_of)
        batch = scored_files(ruleset, options.contacts, options.activities, moment)
        return report_data(batch, source=source, made_at=moment, top=top)
    known = read_known_outcomes(
        options.contacts, options.activities, options.outcome, options.as_of_column,
        options.as_of, ruleset.activity_fields(),
    )  # fmt: skip
    frame = known.frame(set(ruleset.contact_fields()))
    # RFM and accounts over the file's contacts, as of each one's moment
    batch, kept = score_population(ruleset, frame, known.activities, known.moments)
    if batch.excluded_ids:  # left out of the page and of every measure, as a backtest does
        err.print(excluded_note(len(batch.excluded_ids), source), highlight=False)
    made_at = known.moments if isinstance(known.moments, datetime) else datetime.now(UTC)
    try:
        return report_data(
            batch, source=f"{source}, each contact as of {known.shown}", made_at=made_at,
            top=top, outcome=(options.outcome, known.converted[kept.rows]),
        )  # fmt: skip
    except InputError as exc:  # every contact one way
        fail(f"{options.contacts}: column {options.outcome!r}: {exc}")


def store_data(rules: Path | None, top: int) -> ReportData:
    """The report of everyone in the state store, scored now."""
    from sync.cli import opened, store_rules
    from sync.report_data import store_report

    ruleset = store_rules(rules)
    if ruleset is None:
        fail(f"no rule file at {settings().rules}: pass --rules FILE")
    with opened(ruleset, need_systems=False) as application:
        if application.store.counts()["persons"] == 0:
            fail("the state store holds nobody yet: run `leadscore sync` first", code=EXIT_FAILED)
        return store_report(application, made_at=datetime.now(UTC), top=top)
