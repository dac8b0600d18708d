"""The `leadscore calibrate` command's options; the work is in `sync.calibrate_command`,
imported when the command runs (scikit-learn only when a fit runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sync.backtest_cli import AS_OF_HELP, FROM_STORE_HELP, OUTCOME_HELP, WITHIN_DAYS_HELP


def calibrate_command(
    rules: Annotated[
        Path,
        typer.Option(
            "--rules",
            "-r",
            help="Current rule file: its dimensions, stages, grades, BANT and filters are kept.",
        ),
    ],
    outcome: Annotated[str, typer.Option(help=OUTCOME_HELP)],
    contacts: Annotated[
        Path | None,
        typer.Option(
            "--contacts",
            "-c",
            help="Contacts with their outcome: .csv, .jsonl or .parquet with an `id` column; "
            "every other column is a candidate signal.",
        ),
    ] = None,
    activities: Annotated[
        Path | None, typer.Option("--activities", "-a", help="Activities (optional).")
    ] = None,
    as_of_column: Annotated[
        str | None,
        typer.Option(
            help="Contact column of ISO-8601 moments: each contact scored as of its own, "
            "and the folds and held-out part ordered in time."
        ),
    ] = None,
    as_of: Annotated[str | None, typer.Option(help=AS_OF_HELP)] = None,
    from_store: Annotated[bool, typer.Option("--from-store", help=FROM_STORE_HELP)] = False,
    within_days: Annotated[int | None, typer.Option(min=1, max=3650, help=WITHIN_DAYS_HELP)] = None,
    max_rules: Annotated[
        int, typer.Option(min=1, max=200, help="Most rules the fitted file may have.")
    ] = 30,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Where to write the fitted rule file.")
    ] = Path("calibrated.yaml"),
    seed: Annotated[
        int, typer.Option(help="Seed of the folds, the held-out part and the fit.")
    ] = 0,
    hand_over: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Leads to hand over: the top stage with a score condition is set at the "
            "score that hands over this many (default: the top tenth).",
        ),
    ] = None,
    resamples: Annotated[
        int, typer.Option(min=0, max=100_000, help="Bootstrap resamples of the backtests.")
    ] = 200,
    trends: Annotated[
        bool,
        typer.Option(
            "--trends",
            help="Offer each numeric column as a line that goes on past the values fitted "
            "on (whole points per a round step, centred at its median), in place of its steps.",
        ),
    ] = False,
) -> None:
    """Fit a rule file's points to known outcomes.

    Fit a rule file to known outcomes (in files, or in the state store with
    --from-store): integer points on the signals that separate converted from other
    contacts, each rule with its lift and support; stage thresholds and grade bands from
    the fitted scores; and the backtest of the result beside the current rules' on
    contacts held out of the fit."""
    from sync.from_store import check_sources

    check_sources(from_store, contacts, activities, as_of_column, within_days)
    if from_store:
        from sync.from_store import calibrate_store

        calibrate_store(
            rules, outcome, as_of, within_days, max_rules=max_rules, out=out, seed=seed,
            hand_over=hand_over, resamples=resamples, trends=trends,
        )  # fmt: skip
        return
    from sync.calibrate_command import calibrate_files

    assert contacts is not None
    calibrate_files(
        rules,
        contacts,
        activities,
        outcome,
        as_of_column,
        as_of,
        max_rules=max_rules,
        out=out,
        seed=seed,
        hand_over=hand_over,
        resamples=resamples,
        trends=trends,
    )
