"""`leadscore report`: the scores of files or of the state store as one HTML page.

The numbers are `sync.report_data`'s and the page `sync.report_html`'s (Plotly, the
`report` extra); from files with `--outcome`, contacts are read as `leadscore backtest`
reads them (`read_known_outcomes`), so the curves are the backtest's own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sync.console import err, fail, out, rules_from, settings
from sync.errors import EXIT_FAILED

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from scoring import RuleSet, ScoreBatch
    from sync.backtest_command import KnownOutcomes, Source
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
    within_days: int | None = None


def write_report(options: ReportOptions, top: int, output: Path) -> None:
    """Check the options, build the report's numbers, write the page and say where."""
    from sync.from_store import check_sources

    if not options.from_store and options.contacts is None:
        fail("give --from-store or --contacts FILE (with --activities FILE), one of them")
    check_sources(
        options.from_store, options.contacts, options.activities, options.as_of_column,
        options.within_days,
    )  # fmt: skip
    if options.from_store and options.outcome is None:
        for given, name in ((options.as_of, "--as-of"), (options.within_days, "--within-days")):
            if given is not None:
                fail(
                    f"{name} with --from-store needs --outcome (won, customer or stage:NAME): "
                    "without outcomes the store is scored now"
                )
    if options.outcome is None and options.as_of_column is not None:
        fail("--as-of-column needs --outcome (a backtest scores each contact as of its moment)")
    check_out(output, "--out")
    try:
        from sync.report_html import report_page
    except ModuleNotFoundError:
        fail(PLOTLY_MISSING, code=EXIT_FAILED)
    from sync.words import counted

    began = time.perf_counter()
    data = store_data(options, top) if options.from_store else files_data(options, top)
    save_page(output, report_page(data))
    out.print(
        f"wrote {output} ({counted(data.contacts, 'contact')}; "
        f"{time.perf_counter() - began:.1f} s)",
        highlight=False,
    )


def check_out(output: Path, option: str) -> None:
    """Fail (exit 2) for a page path that cannot be one, before any work is done."""
    if output.is_dir():
        fail(f"{option} {output}: a folder; give the .html file to write in it")
    if output.suffix.lower() not in (".html", ".htm"):
        fail(f"{option} {output}: expected a .html file")
    if not output.parent.is_dir():
        fail(f"{option} {output}: the folder {output.parent} does not exist")


def save_page(output: Path, page: str) -> None:
    """Write the page beside `output` and rename it there: a reader never opens half a
    page, and a failed write leaves the page before it as it was."""
    partial = output.with_name(f".{output.name}.partial")
    try:
        partial.write_text(page, "utf-8")
        partial.replace(output)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        fail(f"cannot write {output}: {exc.strerror}", code=EXIT_FAILED)


def files_data(options: ReportOptions, top: int) -> ReportData:
    """The report of the files (and their outcomes, when a column is named)."""
    from sync.backtest_command import Source, read_known_outcomes
    from sync.report_data import report_data
    from sync.score_command import as_of_moment, scored_files

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
    named = Source(source, options.outcome)
    batch, converted = scored_known(ruleset, known, named)
    shown = f"{source}, each contact as of {known.shown}"
    return known_data(batch, converted, known, named, shown, top)


def scored_known(
    ruleset: RuleSet, known: KnownOutcomes, source: Source
) -> tuple[ScoreBatch, npt.NDArray[np.bool_]]:
    """The known contacts scored each as of its moment, as `leadscore backtest` scores
    them, and their outcomes; those the rules exclude left out (a note on stderr)."""
    from scoring import score_population
    from sync.score_command import excluded_note

    frame = known.frame(set(ruleset.contact_fields()))
    # RFM and accounts over the file's contacts, as of each one's moment
    batch, kept = score_population(ruleset, frame, known.activities, known.moments)
    if batch.excluded_ids:  # left out of the page and of every measure, as a backtest does
        err.print(excluded_note(len(batch.excluded_ids), source.name), highlight=False)
    return batch, known.converted[kept.rows]


def known_data(
    batch: ScoreBatch,
    converted: npt.NDArray[np.bool_],
    known: KnownOutcomes,
    source: Source,
    shown: str,
    top: int,
    **store: Any,
) -> ReportData:
    """The report of scored contacts with their outcomes (`store`: the store's history and
    hand-over queue, for `report_data`)."""
    from sync.report_data import report_data

    made_at = known.moments if isinstance(known.moments, datetime) else None
    return report_data(
        batch, source=shown, made_at=made_at, top=top,
        outcome=(source.outcome, converted), **store,
    )  # fmt: skip


def store_data(options: ReportOptions, top: int) -> ReportData:
    """The report of everyone in the state store, scored now; with `--outcome`, scored as
    of the score date against what the store recorded after it, as `leadscore backtest
    --from-store` reads them."""
    from sync.cli import opened, store_rules
    from sync.from_store import EMPTY
    from sync.report_data import store_report
    from sync.report_store import outcome_shown, store_parts

    ruleset = store_rules(options.rules)
    if ruleset is None:
        fail(f"no rule file at {settings().rules}: pass --rules FILE")
    if options.outcome is None:
        with opened(ruleset, need_systems=False) as application:
            if application.store.counts()["persons"] == 0:
                fail(EMPTY, code=EXIT_FAILED)
            return store_report(application, made_at=datetime.now(UTC), top=top)
    from sync.from_store import WITHIN_DAYS, store_known

    notes: list[str] = []
    known, source = store_known(ruleset, options.outcome, options.as_of, options.within_days, notes)
    batch, converted = scored_known(ruleset, known, source)
    with opened(ruleset, need_systems=False) as application:
        left_out = {int(person) for person in batch.excluded_ids}
        history, handovers = store_parts(application, datetime.now(UTC), left_out)
    days = WITHIN_DAYS if options.within_days is None else options.within_days
    shown = outcome_shown(len(batch), source.outcome, days)
    data = known_data(
        batch, converted, known, source, shown, top, history=history, handovers=handovers
    )
    return replace(data, notes=[*notes[1:], *data.notes])  # the first: the header's
