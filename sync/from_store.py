"""`--from-store` of `leadscore backtest`, `leadscore calibrate` and `leadscore report`:
their options checked (bad combinations: one line, exit 2), the store opened, and its
persons read with their outcomes (`sync.store_outcomes`) as the commands read files
(`KnownOutcomes`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from scoring import RuleSet
from sync.accounts import store_rollups
from sync.app import utc_now
from sync.backtest_command import KnownOutcomes, Source, print_backtest
from sync.console import err, fail, rules_from
from sync.errors import EXIT_FAILED
from sync.rfm import population
from sync.score_command import as_of_moment
from sync.store_outcomes import StoreOutcomes, read_store_outcomes, store_outcome
from sync.words import counted

WITHIN_DAYS = 90
"""The outcome window when `--within-days` is not given."""
STORE = "the state store"
EMPTY = "the state store holds nobody yet: run `leadscore sync` first"


def check_sources(
    from_store: bool,
    contacts: Path | None,
    activities: Path | None,
    as_of_column: str | None,
    within_days: int | None,
) -> None:
    """Fail (exit 2, one line) for options that do not go together."""
    if from_store:
        for given, option, why in (
            (contacts, "--contacts", "the store's persons are read"),
            (activities, "--activities", "the store's activities are read"),
            (as_of_column, "--as-of-column", "everyone is scored as of --as-of"),
        ):
            if given is not None:
                fail(f"{option} cannot go with --from-store: {why}")
        return
    if contacts is None:
        fail("give --contacts FILE (with --outcome COLUMN), or --from-store")
    if within_days is not None:
        fail("--within-days needs --from-store (a file's --outcome is a column)")


def stamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def store_known(
    ruleset: RuleSet,
    outcome: str,
    as_of: str | None,
    within_days: int | None,
    notes: list[str] | None = None,
) -> tuple[KnownOutcomes, Source]:
    """The store's persons as of the score date, with the outcome in the window after it;
    notes on stderr (and in `notes`, without their `note: `) say who was left out and why."""
    from sync.cli import opened

    try:
        wanted = store_outcome(outcome, ruleset)
    except ValueError as exc:
        fail(str(exc))
    days = WITHIN_DAYS if within_days is None else within_days
    present = utc_now()
    default = present.replace(microsecond=0) - timedelta(days=days)
    at = default if as_of is None else as_of_moment(as_of)
    if at + timedelta(days=days) > present:
        fail(
            f"--as-of {stamp(at)} with --within-days {days}: the window ends "
            f"{stamp(at + timedelta(days=days))}, after now; its outcomes are not known yet"
        )
    with opened(ruleset, need_systems=False) as application:
        if application.store.counts()["persons"] == 0:
            fail(EMPTY, code=EXIT_FAILED)
        found = read_store_outcomes(application.store, ruleset, wanted, at, days)
        # RFM's bounds and the roll-ups over everyone the store holds, as of the score date
        with application.store.engine.connect() as connection:
            bounds = population(connection, ruleset, at.timestamp())
        rolled = store_rollups(application.store, ruleset, at.timestamp())
    for line in store_notes(found):
        err.print(line, highlight=False)
        if notes is not None:
            notes.append(line.removeprefix("note: "))
    shown = stamp(at)
    population_then = (bounds, None if rolled is None else rolled[0])
    known = KnownOutcomes(
        found.contacts, found.converted, at, shown, found.activities, population_then
    )
    return known, Source(STORE, wanted.name, column=False)


def store_notes(found: StoreOutcomes) -> list[str]:
    """What a person reading the backtest must know of the store's outcomes."""
    notes = [
        f"note: {STORE}: {counted(len(found.converted), 'person')} scored as of "
        f"{stamp(found.at)}; "
        f"outcome {found.outcome.name!r} by {stamp(found.end)}: "
        f"{int(found.converted.sum()):,} converted"
    ]
    if found.not_yet:
        notes.append(
            f"note: {counted(found.not_yet, 'person')} left out: their first activity is after "
            "the score date"
        )
    if found.before:
        what = "had bought" if found.outcome.kind == "customer" else "had reached the stage"
        notes.append(
            f"note: {counted(found.before, 'person')} left out: they {what} by the score date"
        )
    if found.unread:
        notes.append(
            f"note: not read: {', '.join(found.unread)} (the CRMs' lifecycle fields, "
            "kept as last pulled, undated: they may hold the outcome)"
        )
    notes.append(
        "note: attributes are as last pulled (the store keeps no earlier values): "
        "one the outcome changed may leak it"
    )
    return notes


def backtest_store(
    rules: Path,
    outcome: str,
    as_of: str | None,
    within_days: int | None,
    *,
    hand_over: int | None,
    resamples: int,
    seed: int,
    as_json: bool,
) -> None:
    """`leadscore backtest --from-store`: the store's persons, as of the score date,
    against what the store recorded of them in the window after it."""
    ruleset = rules_from(rules)
    known, source = store_known(ruleset, outcome, as_of, within_days)
    print_backtest(
        ruleset, known, str(rules), source,
        hand_over=hand_over, resamples=resamples, seed=seed, as_json=as_json,
    )  # fmt: skip


def calibrate_store(
    rules: Path,
    outcome: str,
    as_of: str | None,
    within_days: int | None,
    *,
    max_rules: int,
    out: Path,
    seed: int,
    hand_over: int | None,
    resamples: int,
    trends: bool = False,
) -> None:
    """`leadscore calibrate --from-store`: fit to the store's outcomes as the backtest
    reads them; a random fifth of each outcome is held out (one score date for all)."""
    from sync.calibrate_command import calibrate_known, current_rules

    current = current_rules(rules, out)
    known, source = store_known(current, outcome, as_of, within_days)
    calibrate_known(
        rules, current, known, source, None, max_rules=max_rules, out=out, seed=seed,
        hand_over=hand_over, resamples=resamples, trends=trends,
    )  # fmt: skip
