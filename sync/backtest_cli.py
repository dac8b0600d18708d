"""The `leadscore backtest` command's options; the work is in `sync.backtest_command`,
imported when the command runs, so that `leadscore --help` loads nothing heavy."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def backtest_command(
    rules: Annotated[Path, typer.Option("--rules", "-r", help="Rule file to backtest.")],
    contacts: Annotated[
        Path,
        typer.Option(
            "--contacts",
            "-c",
            help="Contacts with their outcome: .csv, .jsonl or .parquet with an `id` column.",
        ),
    ],
    outcome: Annotated[
        str, typer.Option(help="Contact column of outcomes: 1/true/yes converted, 0/false/no not.")
    ],
    activities: Annotated[
        Path | None,
        typer.Option(
            "--activities", "-a", help="Activities (optional: attribute-only rules need none)."
        ),
    ] = None,
    as_of_column: Annotated[
        str | None,
        typer.Option(help="Contact column of ISO-8601 moments: each contact scored as of its own."),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option(help="Score everyone as of this ISO-8601 moment (default: now).")
    ] = None,
    hand_over: Annotated[
        int | None,
        typer.Option(min=1, help="Report the score threshold that hands over this many leads."),
    ] = None,
    resamples: Annotated[
        int, typer.Option(min=0, max=100_000, help="Bootstrap resamples for the intervals.")
    ] = 200,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Score contacts whose outcome is known, each as of its moment, and measure how the
    scores rank the outcome: AUC, average precision, deciles, stages, grades, ties,
    calibration and columns that may leak the outcome."""
    from sync.backtest_command import backtest_files

    backtest_files(
        rules,
        contacts,
        activities,
        outcome,
        as_of_column,
        as_of,
        hand_over=hand_over,
        resamples=resamples,
        seed=seed,
        as_json=as_json,
    )
