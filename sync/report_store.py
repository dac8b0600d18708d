"""The HTML report's parts read from the state store: the score history and hand-over
queue without the persons the rules exclude, and the page of the store against outcomes
the store recorded (`/report?outcome=won`), as `leadscore report --from-store --outcome`
builds it, with errors as `ValueError` rather than an exit."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sync.report_data import TOP, Handovers, ReportData, handovers_of, report_data
from sync.words import counted

if TYPE_CHECKING:
    from sync.app import Leadscore


def store_parts(
    app: Leadscore, at: datetime, left_out: Collection[int]
) -> tuple[list[tuple[int, float, int]], Handovers | None]:
    """The store's score history and hand-over queue, without the persons `left_out` nor
    any other person of the store the rules' `exclude` names (a backtest drops some
    people before its exclusion sees them: those already on the stage, or with nothing
    before the score date)."""
    from sync.handover_schema import queue_rows
    from sync.history import score_rows
    from sync.rfm import excluded_persons

    with app.store.engine.connect() as connection:
        dropped = set(left_out) | excluded_persons(connection, app.job.rules)
        history = [row for row in score_rows(connection) if row[0] not in dropped]
        queue = queue_rows(connection) if app.job.rules.capacity is not None else None
    found = None if queue is None else handovers_of(queue, app.job.rules, at.timestamp(), dropped)
    return history, found


def outcome_shown(persons: int, outcome: str, days: int) -> str:
    """The page's source line for the store against an outcome."""
    return (
        f"the state store ({counted(persons, 'person')}; outcome {outcome!r} in the {days} "
        "days after the score date)"
    )


def store_outcome_report(
    app: Leadscore, outcome: str, within_days: int | None, now: datetime, top: int = TOP
) -> ReportData:
    """The store's page with `outcome` (won, customer or stage:NAME) in the `within_days`
    after the score date, `within_days` before `now`; ValueError for an outcome the rules
    do not know."""
    from scoring import score_population
    from sync.backtest_command import KnownOutcomes
    from sync.from_store import WITHIN_DAYS, stamp, store_notes
    from sync.store_outcomes import read_store_outcomes, store_outcome

    rules = app.job.rules
    wanted = store_outcome(outcome, rules)
    days = WITHIN_DAYS if within_days is None else within_days
    at = now.replace(microsecond=0) - timedelta(days=days)
    found = read_store_outcomes(app.store, rules, wanted, at, days)
    notes = [line.removeprefix("note: ") for line in store_notes(found)][1:]  # the header's
    known = KnownOutcomes(found.contacts, found.converted, at, stamp(at), found.activities)
    frame = known.frame(set(rules.contact_fields()))
    # RFM and accounts over the store's population as of the score date, as a sync then
    batch, kept = score_population(rules, frame, known.activities, known.moments)
    history, handovers = store_parts(app, now, {int(p) for p in batch.excluded_ids})
    data = report_data(
        batch, source=outcome_shown(len(batch), wanted.name, days), made_at=at, top=top,
        outcome=(wanted.name, known.converted[kept.rows]), history=history, handovers=handovers,
    )  # fmt: skip
    return replace(data, notes=[*notes, *data.notes])
