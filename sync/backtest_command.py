"""`leadscore backtest`: contacts with known outcomes, scored as of each one's moment,
measured against what became of them.

Files are read as `leadscore score` reads them, with every contact column (the outcome,
the moment and the columns a leakage check reads). Each contact is scored as of its
own moment (`--as-of-column`) or all as of one (`--as-of`, default now) in one pass
of the engine, and the figures are `scoring.backtest`'s. RFM's quintile bounds and the
account roll-ups are the population's as of each contact's moment (`scoring.as_of`):
the file's contacts with their activities up to it.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import typer

from connectors.errors import InputFileError
from connectors.files import ContactsRead, moment_problem, parse_moment, read_activity_columns
from connectors.files import read_contact_columns as read_contacts
from scoring import (
    ActivityFrame,
    Bounds,
    ContactFrame,
    InputError,
    Rollups,
    RuleSet,
    backtest_of,
    leaks,
    population_at,
    population_bounds,
    population_rollups,
    score_included,
    score_population,
    take_contacts,
)
from sync.backtest_report import backtest_lines
from sync.console import err, fail, rules_from
from sync.score_command import as_of_moment, excluded_note

TRUE = frozenset({"1", "1.0", "true", "t", "yes", "y"})
FALSE = frozenset({"0", "0.0", "false", "f", "no", "n"})


@dataclass(frozen=True)
class KnownOutcomes:
    """Contacts with every column (read from a file, or a frame of the store's), their
    outcomes, moments and activities."""

    people: ContactsRead | ContactFrame
    converted: npt.NDArray[np.bool_]
    moments: datetime | npt.NDArray[np.float64]
    shown: str
    """How the moment is named in a report: a time, or "its 'column'"."""
    activities: ActivityFrame
    population: tuple[Bounds | None, Rollups | None] | None = None
    """RFM's bounds and the account roll-ups as of the one moment, when the population is
    not the contacts read (the store's); None: the contacts' own, as of each moment."""

    def population_of(
        self, ruleset: RuleSet, frame: ContactFrame, rows: npt.NDArray[np.intp]
    ) -> tuple[Bounds | None, Rollups | None]:
        """RFM's bounds and the account roll-ups the contacts at `rows` of `frame` (the
        population: the contacts scored, with `activities`) are scored with."""
        if self.population is not None:
            return self.population
        if isinstance(self.moments, datetime):
            at = self.moments.timestamp()
            return (
                population_bounds(ruleset, self.activities, len(frame), at),
                population_rollups(ruleset, frame, self.activities, at),
            )
        return population_at(ruleset, frame, self.activities, self.moments[rows], rows)

    def frame(
        self, fields: Collection[str] | None = None, *, leaving: Collection[str] = ()
    ) -> ContactFrame:
        """The contacts with the columns `fields` (None: all) but those of `leaving`."""
        if isinstance(self.people, ContactFrame):  # its address columns are made again
            made = ContactFrame.from_columns(
                self.people.ids,
                self.people.emails,
                {
                    k: v
                    for k, v in self.people.columns.items()
                    if (fields is None or k in fields) and k not in leaving
                },
                normalized=True,
            )
            # each record's own values ride along: `exclude` reads them
            return replace(made, records=self.people.records)
        columns = self.people.attributes
        return ContactFrame.from_arrays(
            self.people.ids,
            self.people.addresses,
            {
                k: v
                for k, v in columns.items()
                if (fields is None or k in fields) and k not in leaving
            },
            normalized=True,
        )


def read_known_outcomes(
    contacts: Path,
    activities: Path | None,
    outcome: str,
    as_of_column: str | None,
    as_of: str | None,
    activity_fields: Collection[str],
) -> KnownOutcomes:
    """Read the files as a backtest does; bad input fails with exit 2 and one line each."""
    if as_of_column is not None and as_of is not None:
        fail("give --as-of-column or --as-of, not both")
    moment = as_of_moment(as_of)
    try:
        people = read_contacts(contacts)
        columns = people.attributes
        for name, option in ((outcome, "--outcome"), (as_of_column, "--as-of-column")):
            if name is not None and name not in columns:
                found = ", ".join(sorted(columns)[:10]) or "none"
                fail(f"{contacts}: column {name!r} ({option}) is not in the file (found: {found})")
        converted = outcomes(contacts, people.ids, columns[outcome], outcome)
        moments: Any = moment
        shown = moment.isoformat().replace("+00:00", "Z")
        if as_of_column is not None:
            moments = contact_moments(contacts, people.ids, columns[as_of_column], as_of_column)
            shown = f"its {as_of_column!r}"
        read = read_activity_columns(activities, people, activity_fields) if activities else None
    except InputFileError as exc:
        fail([str(p) for p in exc.problems])
    if read is None:
        acts = ActivityFrame.from_arrays(np.zeros(0, np.int32), np.zeros(0, np.int8), np.zeros(0))
    else:
        if read.unmatched:
            err.print(
                f"note: {read.unmatched} activities in {activities} refer to no contact in "
                f"{contacts}; they were skipped",
                highlight=False,
            )
        acts = ActivityFrame.from_arrays(
            read.contact_rows, read.type_codes, read.seconds, read.attributes
        )
    return KnownOutcomes(people, converted, moments, shown, acts)


def backtest_files(
    rules: Path,
    contacts: Path,
    activities: Path | None,
    outcome: str,
    as_of_column: str | None,
    as_of: str | None,
    *,
    hand_over: int | None,
    resamples: int,
    seed: int,
    as_json: bool,
) -> None:
    """Backtest the rules on the files; print the report as text or JSON."""
    ruleset = rules_from(rules)
    known = read_known_outcomes(
        contacts, activities, outcome, as_of_column, as_of, ruleset.activity_fields()
    )
    leaving = (outcome, as_of_column or outcome)
    print_backtest(
        ruleset, known, str(rules), Source(str(contacts), outcome, leaving),
        hand_over=hand_over, resamples=resamples, seed=seed, as_json=as_json,
    )  # fmt: skip


@dataclass(frozen=True)
class Source:
    """Where known outcomes came from, as a backtest names them."""

    name: str
    """The contacts file, or the state store."""
    outcome: str
    """The outcome: a contact column of the file, or what the store tells (`won`)."""
    leaving: tuple[str, ...] = ()
    """Contact columns that are not signals: the outcome's, the moment's."""
    column: bool = True
    """Whether the outcome is a column of the file."""

    @property
    def named(self) -> str:
        """The outcome as a message names it."""
        return f"{'column' if self.column else 'outcome'} {self.outcome!r}"


def print_backtest(
    ruleset: RuleSet,
    known: KnownOutcomes,
    rules: str,
    source: Source,
    *,
    hand_over: int | None,
    resamples: int,
    seed: int,
    as_json: bool,
) -> None:
    """Score the known contacts, each as of its moment, and print their backtest."""
    frame = known.frame(set(ruleset.contact_fields()))
    others = known.frame(leaving=source.leaving)
    if known.population is None:  # the contacts read are the population
        batch, kept = score_population(ruleset, frame, known.activities, known.moments)
    else:
        bounds, rolled = known.population
        batch, kept = score_included(
            ruleset, frame, known.activities, known.moments, rfm=bounds, accounts=rolled
        )
    converted = known.converted[kept.rows]  # the excluded are left out of every measure
    if batch.excluded_ids:
        others = take_contacts(others, kept.rows)
        err.print(excluded_note(len(batch.excluded_ids), source.name), highlight=False)
    try:
        report = backtest_of(batch, converted, hand_over=hand_over, resamples=resamples, seed=seed)
    except InputError as exc:  # every contact one way
        fail(f"{source.name}: {source.named}: {exc}")
    report.leaks.extend(leaks(others.columns, converted))
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
        return
    for line in backtest_lines(report, rules, known.shown):
        typer.echo(line)


def _distinct(column: Any) -> tuple[npt.NDArray[np.int64], list[Any]]:
    """A contact column as codes into its distinct cells (-1: empty)."""
    if isinstance(column, tuple):
        codes, values = column
        return np.asarray(codes, dtype=np.int64), list(values)
    array = np.asarray(column)
    if array.dtype.kind == "f":
        missing = np.isnan(array)
        values, inverse = np.unique(np.where(missing, 0.0, array), return_inverse=True)
        return np.where(missing, -1, inverse).astype(np.int64), values.tolist()
    index: dict[Any, int] = {}
    codes = np.full(len(array), -1, dtype=np.int64)
    for row, cell in enumerate(array.tolist()):
        if cell is None or (isinstance(cell, str) and not cell.strip()):
            continue
        codes[row] = index.setdefault(cell, len(index))
    return codes, list(index)


def _problem(
    path: Path, ids: Sequence[Any] | npt.NDArray[np.object_], row: int, column: str, message: str
) -> str:
    return f"{path}: row {row + 1} (contact {str(ids[row])!r}): column {column!r}: {message}"


def outcomes(
    path: Path, ids: Sequence[Any] | npt.NDArray[np.object_], column: Any, name: str
) -> npt.NDArray[np.bool_]:
    """The outcome of each contact: 1, true, yes (converted) or 0, false, no."""
    codes, values = _distinct(column)
    table = np.zeros(len(values), dtype=np.int8)
    for code, value in enumerate(values):
        text = str(value).strip().lower()
        if isinstance(value, bool):
            text = "1" if value else "0"
        table[code] = 1 if text in TRUE else 0 if text in FALSE else -1
    found = np.where(codes >= 0, table[np.maximum(codes, 0)], -2)
    bad = np.flatnonzero(found < 0)
    if bad.size:
        lines = []
        for row in bad[:20].tolist():
            cell = "empty" if found[row] == -2 else repr(values[codes[row]])
            lines.append(_problem(path, ids, row, name, f"expected 0 or 1 (converted), {cell}"))
        if bad.size > 20:
            lines.append(f"{path}: column {name!r}: {bad.size - 20} more rows like these")
        fail(lines)
    converted: npt.NDArray[np.bool_] = found == 1
    return converted


def contact_moments(
    path: Path, ids: Sequence[Any] | npt.NDArray[np.object_], column: Any, name: str
) -> npt.NDArray[np.float64]:
    """Each contact's moment, as epoch seconds, from ISO-8601 text."""
    codes, values = _distinct(column)
    table = np.full(len(values), np.nan)
    for code, value in enumerate(values):
        moment = parse_moment(value) if isinstance(value, str) else None
        if moment is not None:
            table[code] = moment.timestamp()
    seconds = np.where(codes >= 0, table[np.maximum(codes, 0)], np.nan)
    bad = np.flatnonzero(np.isnan(seconds))
    if bad.size:
        lines = []
        for row in bad[:20].tolist():
            cell = "empty" if codes[row] < 0 else moment_problem(values[codes[row]])
            lines.append(_problem(path, ids, row, name, f"cannot be read as a moment: {cell}"))
        if bad.size > 20:
            lines.append(f"{path}: column {name!r}: {bad.size - 20} more rows like these")
        fail(lines)
    return seconds
