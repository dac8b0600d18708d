"""`leadscore calibrate`: fit a rule file to known outcomes, write it, and backtest it
beside the current rules on contacts the fit did not see.

The files are read as `leadscore backtest` reads them. A fifth of the contacts is held
out (the latest fifth by `--as-of-column`, else a seeded random fifth of each
outcome); the fit (`scoring.calibrate`) runs on the rest, and the written file is the
one fitted there, so the backtest printed is that of the file written.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
import typer

from scoring import (
    InputError,
    MissingExtra,
    RuleFileError,
    RuleSet,
    backtest_of,
    calibrate_rules,
    fitted_text,
    included,
    parse_rules,
    score,
    take_activities,
    take_contacts,
)
from sync.backtest_command import KnownOutcomes, Source, read_known_outcomes
from sync.backtest_report import backtest_lines, comparison_lines
from sync.console import err, fail, rules_from
from sync.score_command import excluded_note

HELD_OUT = 0.2


def calibrate_files(
    rules: Path,
    contacts: Path,
    activities: Path | None,
    outcome: str,
    as_of_column: str | None,
    as_of: str | None,
    *,
    max_rules: int,
    out: Path,
    seed: int,
    hand_over: int | None,
    resamples: int,
    trends: bool = False,
) -> None:
    """Fit, write `out`, and print the held-out backtests of both files."""
    current = current_rules(rules, out)
    known = read_known_outcomes(
        contacts, activities, outcome, as_of_column, as_of, current.activity_fields()
    )
    calibrate_known(
        rules, current, known, Source(str(contacts), outcome, (outcome, as_of_column or outcome)),
        as_of_column, max_rules=max_rules, out=out, seed=seed, hand_over=hand_over,
        resamples=resamples, trends=trends,
    )  # fmt: skip


def current_rules(rules: Path, out: Path) -> RuleSet:
    """The current rule file, read, and checked against `--out`."""
    if out.resolve() == rules.resolve():
        fail(f"--out {out}: that is the --rules file; write the fitted rules to another file")
    return rules_from(rules)


def calibrate_known(
    rules: Path,
    current: RuleSet,
    known: KnownOutcomes,
    source: Source,
    as_of_column: str | None,
    *,
    max_rules: int,
    out: Path,
    seed: int,
    hand_over: int | None,
    resamples: int,
    trends: bool = False,
) -> None:
    """Fit to the known outcomes, write `out`, and print the held-out backtests."""
    frame = known.frame(leaving=source.leaving)
    kept = included(current, frame, known.activities)
    if kept.excluded_ids:  # the excluded take no part in the fit or the backtests
        err.print(excluded_note(len(kept.excluded_ids), source.name), highlight=False)
        moments = _moments(known, kept.rows)
        converted = known.converted[kept.rows]
        known = replace(known, converted=converted, moments=moments, activities=kept.activities)
        frame = kept.contacts
    fitting, held, which = _split(known, as_of_column, seed)
    n = len(frame)
    times = known.moments if isinstance(known.moments, np.ndarray) else None
    try:
        fit = calibrate_rules(
            current,
            take_contacts(frame, fitting),
            take_activities(known.activities, fitting, n),
            known.converted[fitting],
            _moments(known, fitting),
            times=None if times is None else times[fitting],
            max_rules=max_rules,
            seed=seed,
            trends=trends,
        )
    except MissingExtra as exc:
        fail(str(exc))
    except InputError as exc:
        fail(f"{source.name}: {exc}")
    handed = None if hand_over is None else max(1, round(hand_over * len(fitting) / n))
    about = [
        f"Calibrated by `leadscore calibrate` from {rules.name} on {Path(source.name).name}",
        f"({len(fitting):,} contacts, {which[0]}; outcome {source.outcome!r}, "
        f"{int(known.converted[fitting].sum()):,} converted), seed {seed}.",
    ]
    text = fitted_text(current, fit, about, handed)
    try:
        fitted = parse_rules(text, str(out), base=out.parent)
    except RuleFileError as exc:  # a fault of the writer, not of the input
        fail([f"the fitted file does not validate: {p}" for p in exc.problems], code=1)
    try:
        out.write_text(text, "utf-8")
    except OSError as exc:
        fail(f"--out {out}: cannot write: {exc.strerror}")
    for warning in fit.warnings:
        err.print(f"warning: {warning}", highlight=False)
    held_frame = take_contacts(frame, held)
    held_acts = take_activities(known.activities, held, n)
    moments = _moments(known, held)
    positives = int(known.converted[held].sum())
    asked = None if hand_over is None else max(1, round(hand_over * len(held) / n))
    typer.echo(
        f"Wrote {out}: {len(fit.rules)} rules fitted on {len(fitting):,} contacts "
        f"({which[0]}), cross-validated AUC {fit.cv_auc:.3f} over {fit.folds}."
    )
    typer.echo(f"Check it with `leadscore validate {out}`.")
    if positives == 0 or positives == len(held):
        err.print(
            "warning: the held-out contacts have one outcome only: no backtest", highlight=False
        )
        return
    reports = []
    for ruleset in (current, fitted):
        # RFM and accounts over everyone fitted and held out, as of each one's moment
        bounds, rolled = known.population_of(ruleset, frame, held)
        batch = score(ruleset, held_frame, held_acts, moments, rfm=bounds, accounts=rolled)
        reports.append(
            backtest_of(
                batch, known.converted[held], hand_over=asked, resamples=resamples, seed=seed
            )
        )
    typer.echo("")
    typer.echo(
        f"Backtest on the {len(held):,} contacts held out ({which[1]}), "
        f"{positives:,} converted, each scored as of {known.shown}:"
    )
    typer.echo("")
    for line in comparison_lines([(rules.name, reports[0]), (out.name, reports[1])]):
        typer.echo(line)
    typer.echo("")
    for line in backtest_lines(reports[1], f"{out} (held out)", known.shown):
        typer.echo(line)


def _moments(
    known: KnownOutcomes, rows: npt.NDArray[np.intp]
) -> datetime | npt.NDArray[np.float64]:
    """The moment of each of the contacts at `rows`, or the one moment of all."""
    moments = known.moments
    return moments[rows] if isinstance(moments, np.ndarray) else moments


def _split(
    known: KnownOutcomes, as_of_column: str | None, seed: int
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], tuple[str, str]]:
    """Rows to fit on and rows held out, and how each part was chosen."""
    n = len(known.converted)
    size = round(n * HELD_OUT)
    if size < 1 or size >= n:
        fail(f"{n} contacts: too few to hold some out for a backtest")
    if as_of_column is not None and isinstance(known.moments, np.ndarray):
        order = np.argsort(known.moments, kind="stable")
        share = f"{(1 - HELD_OUT) * 100:.0f} %"
        return (
            np.sort(order[: n - size]),
            np.sort(order[n - size :]),
            (f"the earliest {share} by {as_of_column!r}", f"the latest {HELD_OUT * 100:.0f} %"),
        )
    rng = np.random.default_rng(seed)
    held = []
    for value in (True, False):
        rows = np.flatnonzero(known.converted == value)
        held.append(rng.permutation(rows)[: round(len(rows) * HELD_OUT)])
    out = np.sort(np.concatenate(held))
    fitting = np.setdiff1d(np.arange(n), out)
    share = f"{HELD_OUT * 100:.0f} %"
    return (
        fitting,
        out,
        (f"all but a random {share} (seed {seed})", f"a random {share} of each outcome"),
    )
