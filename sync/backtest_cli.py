"""The `leadscore backtest` command's options; the work is in `sync.backtest_command`,
imported when the command runs, so that `leadscore --help` loads nothing heavy."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

OUTCOME_HELP = (
    "Contact column of outcomes: 1/true/yes converted, 0/false/no not. With --from-store: "
    "won (a purchase in the window), customer (a first purchase in it) or stage:NAME "
    "(a score recorded at that stage or above in it)."
)
AS_OF_HELP = (
    "Score everyone as of this ISO-8601 moment (default: now; with --from-store, "
    "--within-days before now)."
)
FROM_STORE_HELP = "Read the persons, activities and outcomes from the state store, not from files."
WITHIN_DAYS_HELP = "With --from-store: days after --as-of the outcome may happen in (default 90)."


def backtest_command(
    rules: Annotated[Path, typer.Option("--rules", "-r", help="Rule file to backtest.")],
    outcome: Annotated[str, typer.Option(help=OUTCOME_HELP)],
    contacts: Annotated[
        Path | None,
        typer.Option(
            "--contacts",
            "-c",
            help="Contacts with their outcome: .csv, .jsonl or .parquet with an `id` column.",
        ),
    ] = None,
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
    as_of: Annotated[str | None, typer.Option(help=AS_OF_HELP)] = None,
    from_store: Annotated[bool, typer.Option("--from-store", help=FROM_STORE_HELP)] = False,
    within_days: Annotated[int | None, typer.Option(min=1, max=3650, help=WITHIN_DAYS_HELP)] = None,
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
    """Measure how well the scores rank known outcomes.

    Score contacts whose outcome is known (in files, or in the state store with
    --from-store), each as of its moment, and measure how the scores rank the outcome:
    AUC, average precision, deciles, stages, grades, ties, calibration and columns that
    may leak the outcome."""
    from sync.from_store import check_sources

    check_sources(from_store, contacts, activities, as_of_column, within_days)
    if from_store:
        from sync.from_store import backtest_store

        backtest_store(
            rules, outcome, as_of, within_days,
            hand_over=hand_over, resamples=resamples, seed=seed, as_json=as_json,
        )  # fmt: skip
        return
    from sync.backtest_command import backtest_files

    assert contacts is not None
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
