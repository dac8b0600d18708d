"""What a person sees of a run and of a person: a sync's summary, a dry run's plan, the
status of runs, one person's explanation and what was written (the ranked table is
`sync.ranking`'s)."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from scoring import TYPE_CODES, RuleSet, ScoreBatch, whole_points
from sync.fields import sent
from sync.models import model_lines
from sync.ranking import WIDE, ordinal, top_interest

if TYPE_CHECKING:  # `leadscore score` and `validate` need neither the sync nor SQLAlchemy
    from sync.people import ActivityColumns
    from sync.store import StateStore
    from sync.summary import SyncSummary
    from sync.trigger import Rescored


def print_summary(console: Console, summary: SyncSummary, notes: Sequence[str] = ()) -> None:
    """A run's figures per system, then the totals, `notes` (lines a caller puts first, such
    as the demo's people shared between systems), then each system's calls and budget."""
    table = Table(title=f"sync ({summary.mode}): {summary.status}", title_justify="left")
    for name in ("system", "contacts", "activities (new)", "changed", "written", "failed", "calls"):
        table.add_column(name, justify="left" if name == "system" else "right")
    for system, stats in summary.systems.items():
        table.add_row(
            system,
            f"{stats.contacts:,}",
            f"{stats.activities_pulled:,} ({stats.activities_new:,})",
            f"{stats.planned:,}",
            f"{stats.written:,}",
            f"{stats.failed:,}",
            f"{stats.total_calls:,}",
        )
    console.print(table)
    queued = f" ({summary.queued:,} queued by triggers)" if summary.queued else ""
    console.print(
        f"rescored {summary.rescored:,} of {summary.persons:,} people (due or changed)"
        f"{queued}, {summary.changed:,} with changed values, in {summary.elapsed:.1f} s",
        highlight=False,
    )
    for note in notes:
        console.print(note, highlight=False)
    for system, stats in summary.accounts.items():
        done = f", {stats.written:,} written, {stats.failed:,} failed" if stats.planned else ""
        line = f"{system} accounts: {stats.planned:,} company records with changed values{done}"
        console.print(line, highlight=False)
    for line in model_lines(summary.models):
        console.print(line, highlight=False)
    if any(summary.purged.values()):
        purged = ", ".join(f"{n:,} {table}" for table, n in summary.purged.items())
        console.print(f"purged past their retention: {purged}", highlight=False)
    if summary.handover is not None:
        from sync.capacity import handover_line

        console.print(handover_line(summary.as_dict()) or "", highlight=False)
    for system, stats in summary.systems.items():
        if stats.withdrawn:
            console.print(
                f"{system} withdrew {stats.withdrawn:,} activities (taken back, no longer counted)",
                highlight=False,
            )
        if stats.calls:
            calls = ", ".join(f"{op} {n}" for op, n in sorted(stats.calls.items()))
            console.print(f"{system} calls: {calls}", highlight=False)
        if stats.budget and stats.budget.get("run_allowance") is not None:
            console.print(f"{system} daily budget: {budget_line(stats.budget)}", highlight=False)
    if "dry-run" not in summary.mode:  # a dry run's are shown with its plan
        for warning in summary.warnings:
            console.print(f"[yellow]warning[/yellow]: {escape(warning)}", highlight=False)


def print_rescored(console: Console, result: Rescored) -> None:
    """What `leadscore rescore` did, in a few lines: the score and what was written, or
    that a running sync or another rescore has the record."""
    who = f"{result.system} {result.record_id}"
    if result.status == "queued":
        console.print("queued: a sync is running; it will write this contact", highlight=False)
        return
    if result.status == "busy":
        console.print(
            f"busy: another rescore of {escape(who)} is at work; it will write this contact",
            highlight=False,
        )
        return
    if result.excluded:
        cleared = ", ".join(f"{s} {', '.join(records)}" for s, records in result.written.items())
        done = f"fields cleared in {cleared}" if cleared else "its fields hold no score"
        line = f"{escape(who)}: excluded by the rules (`exclude`), not scored; {escape(done)}"
        console.print(line, highlight=False)
        return
    facts = [f"score {result.score}"]
    facts += [f"grade {result.grade}"] if result.grade else []
    facts += [f"stage {escape(result.stage)}"] if result.stage else []
    facts += ["[red]disqualified[/red]"] if result.disqualified else []
    named = f" ({escape(result.email)})" if result.email else ""
    console.print(f"[bold]{escape(who)}[/bold]{named}: {', '.join(facts)}", highlight=False)
    for reason in result.reasons.split(" · "):
        console.print(f"  {escape(reason)}", highlight=False)
    wrote = ", ".join(f"{s} {', '.join(records)}" for s, records in result.written.items())
    console.print(
        f"wrote {escape(wrote)}" if wrote else "nothing to write: its records hold these values",
        highlight=False,
    )
    moved = ", ".join(f"{s} {', '.join(records)}" for s, records in result.accounts.items())
    if moved:
        console.print(f"its account moved: wrote company records {escape(moved)}", highlight=False)
    for system, failed in result.failed.items():
        for record, reason in failed.items():
            console.print(
                f"[yellow]not written[/yellow] {system} {escape(record)} (the next sync "
                f"retries): {escape(reason)}",
                highlight=False,
            )


def budget_line(budget: Mapping[str, Any]) -> str:
    """A system's daily request budget after a run, in a line."""
    share = float(budget.get("share_per_run") or 1) * 100
    line = (
        f"{budget['spent_this_run']:,} of this run's {budget['run_allowance']:,} requests"
        f" ({share:g}% of {budget['daily_limit']:,} a day)"
    )
    if budget.get("remaining_today") is not None:
        line += f"; {budget['remaining_today']:,} left today"
    if budget.get("kept_for_other_apps"):
        line += f", of which {budget['kept_for_other_apps']:,} kept for other apps"
    return line


def print_plan(console: Console, summary: SyncSummary, shown: int = 10) -> None:
    """What a dry run found: the fields setup would create, the attributes the rules read
    that a system lacks, then the records that would be written, best score first."""
    for system, report in summary.setup.items():
        if report.missing:
            console.print(
                f"[bold]{system}[/bold]: `leadscore setup` would create "
                f"{', '.join(report.missing)}",
                highlight=False,
            )
    for warning in summary.warnings:
        console.print(f"[yellow]warning[/yellow]: {escape(warning)}", highlight=False)
    for system, writes in summary.plan.items():
        console.print(
            f"[bold]{system}[/bold]: {len(writes):,} records would be written"
            + (", best score first" if writes else ""),
            highlight=False,
        )
        emails = summary.emails.get(system, {})
        ranked = sorted(writes, key=lambda w: -score_of(w.values))
        for write in ranked[:shown]:
            who = emails.get(write.record_id) or write.record_id
            values = ", ".join(f"{k}={v!r}" for k, v in sent(write.values).items())
            console.print(f"  {escape(who)}: {escape(values)}", highlight=False)
        if len(writes) > shown:
            console.print(f"  ... and {len(writes) - shown:,} more", highlight=False)


def score_of(values: Mapping[str, str]) -> float:
    """The score a planned write holds (its first field is the score), for ordering."""
    try:
        return float(next(iter(values.values()), "0"))
    except ValueError:
        return 0.0


def print_status(
    console: Console,
    store: StateStore,
    systems: list[str],
    *,
    rules: RuleSet | None = None,
    at: float | None = None,
) -> None:
    """Recent runs, the hand-over as the store holds it at `at` (default: now), each
    system's cursors, and the writes that failed."""
    # At 80 columns every value reads whole (an "interrupted" run above all): no borders,
    # times to the minute, and the run's number only where there is room for it.
    numbered = console.width >= WIDE
    runs = Table(
        title="last runs", title_justify="left", box=None, header_style="bold", pad_edge=False
    )
    if numbered:
        runs.add_column("run", justify="right")
    runs.add_column("mode", ratio=1, min_width=11)
    runs.add_column("status", no_wrap=True)
    runs.add_column("started (UTC)", no_wrap=True)
    for name in ("seconds", "changed", "written", "failed"):
        runs.add_column(name, justify="right", no_wrap=True)
    from sync.locks import held_locks

    # A run still "running" while no live run holds a lock was killed: say so.
    live = bool(held_locks(store))
    for run in store.runs(10):
        status = "interrupted" if run.status == "running" and not live else run.status
        systems_summary = run.summary.get("systems", {})
        written = sum(s.get("written", 0) for s in systems_summary.values())
        failed = sum(s.get("failed", 0) for s in systems_summary.values())
        seconds = run.summary.get("elapsed_seconds")
        runs.add_row(
            *([str(run.id)] if numbered else []),
            run.mode,
            status,
            f"{run.started_at:%Y-%m-%d %H:%M}",
            "" if seconds is None else f"{seconds:.1f}",
            str(run.summary.get("changed", "")),
            str(written),
            str(failed),
        )
    console.print(runs)
    from sync.capacity import status_line

    line = status_line(store, rules, time.time() if at is None else at)
    if line:
        console.print(line, highlight=False)
    from sync.dues import FIELDS_CURSOR  # the store's: `leadscore score` never loads it
    from sync.minimise import KEPT_CURSOR

    for system in systems:
        for stream, value in sorted(store.cursors(system).items()):
            if stream in (FIELDS_CURSOR, KEPT_CURSOR):
                continue
            console.print(
                f"cursor {system}.{stream}: {escape(cursor_text(value))}", highlight=False
            )
    failures = store.failures()
    retried = [f for f in failures if f.retryable]
    refused = [f for f in failures if not f.retryable]
    console.print(f"failed writes the next run retries: {len(retried)}", highlight=False)
    console.print(
        f"writes refused until their values change (or `leadscore setup` runs): {len(refused)}",
        highlight=False,
    )
    for failure in [*refused[:10], *retried[:10]]:
        console.print(
            f"  {failure.system} {escape(failure.record_id)} (attempt {failure.attempts}, "
            f"{'will retry' if failure.retryable else 'refused'}): {escape(failure.reason)}",
            highlight=False,
        )
    counts = store.counts()
    console.print(
        ", ".join(f"{n:,} {name}" for name, n in counts.items()) + " in the store", highlight=False
    )


def cursor_text(value: str) -> str:
    """A stored cursor as a person reads it: times (epoch seconds or milliseconds) as UTC
    dates, other values (a paging token) as they are."""
    try:
        fields = json.loads(value)
    except ValueError:
        return value
    if not isinstance(fields, dict):
        return value
    shown = []
    for key, item in fields.items():
        moment = _epoch_moment(item)
        shown.append(f"{key} {moment:%Y-%m-%d %H:%M:%S} UTC" if moment else f"{key} {item}")
    return ", ".join(shown)


def _epoch_moment(item: object) -> datetime | None:
    if isinstance(item, bool) or not isinstance(item, int | float):
        return None
    seconds = item / 1000 if item > 10**11 else item
    if not 946_684_800 <= seconds < 4_102_444_800:  # 2000 to 2100: a time, not a count
        return None
    return datetime.fromtimestamp(seconds, UTC)


def print_explanation(console: Console, batch: ScoreBatch, row: int) -> None:
    """One person's score, dimensions, grade, stage and every rule that fired."""
    who = batch.emails.value(row) or str(batch.contact_ids[row])
    dims = ", ".join(
        f"{name} {points}"
        for name, points in zip(batch.dimension_names, batch.whole_dimensions(row), strict=True)
    )
    console.print(
        f"[bold]{escape(who)}[/bold]: score {whole_points(float(batch.total[row]))} ({dims})",
        highlight=False,
    )
    extras = [
        f"grade {batch.grade(row)}" if batch.grade(row) else "",
        f"stage {batch.stage(row)}" if batch.stage(row) else "",
        f"waiting for hand-over: {ordinal(batch.waiting[row])} in queue"
        if row in batch.waiting
        else "",
    ]
    if batch.disqualified[row]:
        extras.append("[red]disqualified[/red]")
    if any(extras):
        console.print(", ".join(e for e in extras if e), highlight=False)
    if batch.rfm is not None:
        console.print(escape(batch.rfm.explain(row)), highlight=False)
    table = Table(show_header=True)
    table.add_column("points", justify="right")
    table.add_column("dimension")
    table.add_column("rule")
    for reason, points in batch.explained(row):
        table.add_row(str(points), reason.dimension, escape(reason.describe(points)))
    console.print(table)
    if batch.interests is not None:
        topics = batch.interests.reasons(row)
        console.print(
            f"{top_interest(batch, row) or 'no top interest'}; interests: "
            f"{escape(' · '.join(topics)) if topics else 'none'}",
            highlight=False,
        )


def print_written(console: Console, store: StateStore, person: int) -> None:
    """What was last written to each of one person's records, as the store remembers it."""
    records = store.load_people([person]).records.get(str(person), [])
    if not records:
        console.print("no records of this person in any system", highlight=False)
    for system, record in records:
        values = store.written_values(system).get(record)
        listed = ", ".join(f"{k}={v}" for k, v in sent(values or {}).items())
        shown = listed or "nothing written yet"
        console.print(f"{system} {escape(record)}: {escape(shown)}", highlight=False)


RECORDED_BY = {
    "web_analytics": "from web analytics, each on its own date",
    "form_submissions": "from form submissions, each on its own date",
    "counter": "from the contact's counter, all dated by the latest one",
}
"""What each `recorded_by` of an activity says about its dates."""


def activity_sources(columns: ActivityColumns) -> list[str]:
    """Where a person's page views and form conversions came from, for `explain`: a
    counter dates them all by the latest, so decay treats them as recent."""
    from sync.columns import values_of

    recorded = columns.attributes.get("recorded_by")
    if recorded is None:
        return []
    names = {code: kind.value for kind, code in TYPE_CODES.items()}
    found = Counter(
        (names[int(code)], source)
        for code, source in zip(columns.type_codes, values_of(recorded), strict=True)
        if source is not None
    )
    return [
        f"{count} {kind.replace('_', ' ')} {RECORDED_BY.get(str(source), f'from {source}')}"
        for (kind, source), count in sorted(found.items())
    ]
