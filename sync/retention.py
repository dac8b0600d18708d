"""Retention: how long the state store keeps activities and score history, and the purge.

Activities are kept for the longer of the rules' longest window
(`RuleSet.horizon_days` over every activity type purged) and `LEADSCORE_RETENTION_DAYS` (the
horizon backtests and calibration from the store may read). Rules with a window that
never ends (a half-life alone, or a window since a contact's date) leave the setting
alone to decide; with no setting nothing is purged. Purchases (the `rfm.activity` types)
are kept whatever their age while the rules (live or shadow) have an `rfm` block: RFM's
recency and frequency are over all time, so a purge would move digits and bounds. So are
the types an account roll-up counts with no window (an `accounts.counts` entry, or the
engagement, without `window_days`), while the `accounts` block reads them.
Purging an activity no window reads changes no score; where the rules' windows never end
it may, and the persons who had them are rescored by the next run.

Score history (`history`) is kept for `LEADSCORE_HISTORY_RETENTION_DAYS`, and at least
the longest velocity window; each person's row in force at the cut stays (the score then,
which velocity and `replay` read), the rows it replaced go.

Every sync that may write (not a dry run or a trial, and not one its deadline cut short)
purges, oldest first, at most `PURGE_PER_RUN` rows of each table in transactions of
`PURGE_BATCH`, so a first purge of millions spreads over runs instead of stalling one.
Address-keyed activities purged may leave a person with nothing: that person goes too.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scoring import ActivityType, RuleSet
from sync.dues import mark_due_by
from sync.identity import drop_leftover_persons
from sync.run_tables import write_log
from sync.schema import activities, chunks, history
from sync.withdrawals import persons_of

if TYPE_CHECKING:
    from rich.console import Console

    from sync.app import Leadscore
    from sync.store import StateStore
    from sync.summary import SyncOptions, SyncSummary

PURGE_BATCH = 5_000
"""Rows one purge transaction deletes."""
PURGE_PER_RUN = 100_000
"""Rows of each table one run purges at most; the rest wait for the next runs."""


@dataclass(frozen=True)
class Retention:
    """What the settings say of keeping data (None: until erased)."""

    activity_days: float | None = None
    history_days: float | None = None
    batch: int = PURGE_BATCH
    per_run: int = PURGE_PER_RUN

    def activity_days_for(self, *rules: RuleSet) -> float | None:
        """How many days of activity the store keeps under every one of `rules` (the live
        rules and a shadow run's); None: all."""
        if self.activity_days is None:
            return None
        kept = self.kept_types(*rules)
        horizons = [purged_horizon(r, kept) for r in rules]
        return max([self.activity_days, *(h for h in horizons if h is not None)])

    @staticmethod
    def kept_types(*rules: RuleSet) -> list[str]:
        """Activity types kept however old: those read over all time by RFM (its
        purchases) or by an account roll-up with no window (a count, or the engagement)."""
        kept: set[str] = set()
        for ruleset in rules:
            if ruleset.rfm is not None:
                kept |= {t.value for t in ruleset.rfm.activity}
            if ruleset.accounts is not None:
                spec = ruleset.accounts
                counted = [(spec.engagement.activity, spec.engagement.window_days)]
                counted += [(c.activity, c.window_days) for c in spec.counts.values()]
                kept |= {t.value for types, days in counted if days is None for t in types}
        return sorted(kept)

    def history_days_for(self, *rules: RuleSet) -> float | None:
        """How many days of score history the store keeps under every one of `rules`;
        None: all."""
        if self.history_days is None:
            return None
        return max([self.history_days, *(w for r in rules for w in r.velocity_windows())])


@dataclass(frozen=True)
class Purged:
    activities: int = 0
    history: int = 0


def purged_horizon(rules: RuleSet, kept: Collection[str]) -> float | None:
    """`RuleSet.horizon_days` over the activity types retention may purge (all but
    `kept`, which stay however old)."""
    return rules.horizon_days([t for t in ActivityType if t.value not in kept])


def purge(
    store: StateStore,
    rules: RuleSet,
    retention: Retention,
    now: datetime,
    shadow: RuleSet | None = None,
) -> Purged:
    """Delete what is older than `retention` keeps under `rules` (and a shadow run's
    rules, which score from the same store), as of `now`, in bounded batches (see the
    module)."""
    found = Purged()
    sets = [rules] if shadow is None else [rules, shadow]
    days = retention.activity_days_for(*sets)
    if days is not None:
        cut = (now - timedelta(days=days)).timestamp()
        kept = retention.kept_types(*sets)
        moves = purged_horizon(rules, kept) is None  # the live scores
        found = Purged(
            purge_activities(store, cut, retention, rescore=moves, keep=kept), found.history
        )
    days = retention.history_days_for(*sets)
    if days is not None:
        cut = (now - timedelta(days=days)).timestamp()
        found = Purged(found.activities, purge_history(store, cut, retention))
        purge_write_log(store, cut, retention)  # the write log is kept as long
    return found


def purge_activities(
    store: StateStore, cut: float, retention: Retention, *, rescore: bool, keep: Sequence[str] = ()
) -> int:
    """Delete activities dated before `cut` (epoch seconds), oldest first, but those of the
    types `keep`; `rescore`: the persons they belonged to become due. How many were
    deleted."""
    old = activities.c.occurred_at < cut
    if keep:
        old = sa.and_(old, activities.c.type.not_in(list(keep)))
    done = 0
    while done < retention.per_run:
        size = min(retention.batch, retention.per_run - done)
        query = (
            sa.select(
                activities.c.system,
                activities.c.activity_id,
                activities.c.record_id,
                activities.c.email,
            )
            .where(old)
            .order_by(activities.c.occurred_at)
            .limit(size)
        )
        with store.writing(), store.engine.begin() as connection:
            rows = connection.execute(query).all()
            _delete_activities(connection, rows, rescore)
        done += len(rows)
        if len(rows) < size:
            break
    return done


def _delete_activities(connection: Connection, rows: Sequence[Any], rescore: bool) -> None:
    by_system: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        by_system[row.system].append(row)
    addresses: set[str] = set()
    for system, found in by_system.items():
        for part in chunks([row.activity_id for row in found]):
            connection.execute(
                sa.delete(activities).where(
                    activities.c.system == system, activities.c.activity_id.in_(list(part))
                )
            )
        records = {row.record_id for row in found if row.record_id is not None}
        emails = {row.email for row in found if row.record_id is None and row.email}
        addresses |= emails
        if rescore:
            mark_due_by(connection, system, records, emails)
    if addresses:
        drop_leftover_persons(connection, persons_of(connection, addresses))


def purge_history(store: StateStore, cut: float, retention: Retention) -> int:
    """Delete the history rows dated before `cut` that a later row of the same person,
    also before `cut`, replaced: each person keeps the row in force at `cut`."""
    later = history.alias("later")
    replaced = sa.exists().where(
        later.c.person_id == history.c.person_id,
        later.c.at < cut,
        sa.or_(
            later.c.at > history.c.at,
            sa.and_(later.c.at == history.c.at, later.c.id > history.c.id),
        ),
    )
    dated = history.c.at
    return purge_oldest(store, history, sa.and_(dated < cut, replaced), dated, retention)


def purge_write_log(store: StateStore, cut: float, retention: Retention) -> int:
    """Delete the write log's rows dated before `cut`."""
    dated = write_log.c.written_at
    return purge_oldest(store, write_log, dated < cut, dated, retention)


def purge_oldest(
    store: StateStore, table: sa.Table, where: Any, by: Any, retention: Retention
) -> int:
    """Delete a table's rows that `where` holds for, oldest by `by` first, in the purge's
    bounded transactions (`retention.batch` rows each, `retention.per_run` in all)."""
    done = 0
    while done < retention.per_run:
        size = min(retention.batch, retention.per_run - done)
        query = sa.select(table.c.id).where(where).order_by(by).limit(size)
        with store.writing(), store.engine.begin() as connection:
            ids = list(connection.execute(query).scalars())
            for part in chunks(ids):
                connection.execute(sa.delete(table).where(table.c.id.in_(list(part))))
        done += len(ids)
        if len(ids) < size:
            break
    return done


def purge_for_run(
    store: StateStore,
    rules: RuleSet,
    options: SyncOptions,
    summary: SyncSummary,
    now: datetime,
    cut_short: bool,
) -> None:
    """A run's purge (see the module), counted in its summary: none for a dry run, a trial,
    or a run its deadline cut short (its time is the next run's). A shadow run keeps what
    its shadow rules' windows read too."""
    retention = options.retention
    if retention is None or options.dry_run or options.limit is not None or cut_short:
        return
    found = purge(store, rules, retention, now, options.shadow)
    summary.purged = {"activities": found.activities, "history": found.history}


@dataclass(frozen=True)
class Oldest:
    """The oldest data the store holds (epoch seconds; None: none)."""

    activity: float | None
    history: float | None


def oldest_held(store: StateStore) -> Oldest:
    with store.engine.connect() as connection:
        first = connection.execute(sa.select(sa.func.min(activities.c.occurred_at))).scalar()
        scored = connection.execute(sa.select(sa.func.min(history.c.at))).scalar()
    return Oldest(first, scored)


def retention_lines(
    store: StateStore, rules: RuleSet, retention: Retention, now: datetime
) -> list[str]:
    """What `leadscore status` says of the oldest data held and how long it is kept."""
    held = oldest_held(store)

    def since(moment: float | None) -> str:
        if moment is None:
            return "none held"
        day = datetime.fromtimestamp(moment, now.tzinfo)
        return f"oldest {day:%Y-%m-%d} ({round((now - day) / timedelta(days=1)):,} days ago)"

    def kept(days: float | None, setting: str) -> str:
        if days is None:
            return f"kept until erased ({setting} unset)"
        return f"kept {days:g} days ({setting} and the rules' windows)"

    activity = kept(retention.activity_days_for(rules), "LEADSCORE_RETENTION_DAYS")
    forever = retention.kept_types(rules)
    if forever and retention.activity_days is not None:
        activity += (
            f"; {', '.join(forever)} kept however old (read over all time by RFM or an "
            "account roll-up without a window)"
        )
    scores = kept(retention.history_days_for(rules), "LEADSCORE_HISTORY_RETENTION_DAYS")
    return [
        f"activities: {since(held.activity)}; {activity}",
        f"score history: {since(held.history)}; {scores}",
    ]


def print_retention(console: Console, app: Leadscore) -> None:
    """`retention_lines` for the application's store, rules and settings, as of now."""
    lines = retention_lines(app.store, app.rules, app.retention(), app.job.clock())
    for line in lines:
        console.print(line, highlight=False)
