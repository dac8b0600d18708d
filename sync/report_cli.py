"""The `leadscore report` command's options; the work is in `sync.report_command`,
imported when the command runs, so that `leadscore --help` loads nothing heavy."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sync.backtest_cli import OUTCOME_HELP, WITHIN_DAYS_HELP
from sync.console import RulesOption


def report_command(
    rules: RulesOption = None,
    from_store: Annotated[
        bool,
        typer.Option(
            "--from-store",
            help="Everyone in the state store (LEADSCORE_STATE_URL), with its score history and "
            "hand-over queue.",
        ),
    ] = False,
    contacts: Annotated[
        Path | None,
        typer.Option(
            "--contacts", "-c", help="Contacts: .csv, .jsonl or .parquet with an `id` column."
        ),
    ] = None,
    activities: Annotated[
        Path | None, typer.Option("--activities", "-a", help="Activities of those contacts.")
    ] = None,
    outcome: Annotated[
        str | None,
        typer.Option(
            help=OUTCOME_HELP + " Adds lift, ROC and calibration curves, and conversion per "
            "stage and grade."
        ),
    ] = None,
    as_of_column: Annotated[
        str | None,
        typer.Option(help="Contact column of ISO-8601 moments: each contact scored as of its own."),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            help="Score as of this ISO-8601 moment (default: now; with --from-store and "
            "--outcome, --within-days before now)."
        ),
    ] = None,
    within_days: Annotated[int | None, typer.Option(min=1, max=3650, help=WITHIN_DAYS_HELP)] = None,
    top: Annotated[int, typer.Option(min=1, max=1000, help="Leads listed with reasons.")] = 25,
    output: Annotated[Path, typer.Option("--out", "-o", help="The HTML file to write.")] = Path(
        "report.html"
    ),
) -> None:
    """Write the scores' HTML report.

    Write one self-contained HTML page (opens with no network) of the scores: their
    distribution, the stage funnel, the top leads with reasons, each rule's share, grades
    against fit, the backtest's curves when outcomes are given (a file's column, or from the
    store), and the score's movement over time and the hand-over queue from the store."""
    from sync.report_command import ReportOptions, write_report

    write_report(
        ReportOptions(
            rules, from_store, contacts, activities, outcome, as_of_column, as_of, within_days
        ),
        top,
        output,
    )
