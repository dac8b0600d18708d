"""Sales capacity: the hand-over stage goes to the best-scored eligible leads, up to the
rule file's `capacity.per_week` per ISO week (per `by` value), never taken back.

The engine scores each person alone and puts them on the highest stage whose conditions
hold; this step, run by the sync and the trigger on the batch it scored, caps that stage
from the store (`sync.handover_schema`), in one transaction:

    eligible   the engine's stage is at or above the hand-over stage and a lead's (not
               `lead: false`), and the person was neither handed over before nor kept
               there by the stage they reached
    queue      every eligible person, of this batch or waiting from before, ordered by
               score (highest first), then by when they became eligible, then by row
    hand over  down the queue, each person counted by one conditional update of their
               period's count (`taken < per_week`): concurrent syncs and triggers, each
               in its own transaction, never hand over more than the capacity
    cap        an eligible person not handed over waits one stage below the hand-over
               stage; one handed over before is never below the stage they were handed
               over to (kept in `handovers.stage`: a later `capacity.stage` moves nobody
               handed over before; a row from before the column, the present stage)

A person handed over who was not in the batch (they waited from an earlier run) is marked
due, so the next run writes their stage. A waiting person is due when the week turns.

A decision ranks the queue by the scores its persons have now, whoever asked for it: the
caller scores, as of the same moment, the waiting persons outside its batch whose `by`
value still has a place this period (`to_rescore`) and passes them (`WaitingScored`); their
rows are refreshed first (one no longer eligible leaves the queue and is marked due), so a
trigger scoring one record and a sync scoring everyone hand over the same persons. The
rescore is bounded: after any decision a `by` value has no place left or nobody waiting,
so it happens once per period and `by` value (the first decision after the week turns;
a sync has those persons due then anyway), or after `per_week` was raised, and it reads
that value's queue only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scoring import ContactFrame, RuleSet, ScoreBatch, whole_points
from sync.dues import mark_due
from sync.handover_schema import (
    STAGE_LENGTH,
    TEAM_LENGTH,
    handover_counts,
    handover_waiting,
    handovers,
    queue_order,
)
from sync.schema import chunks, upsert_dialect
from sync.store import StateStore

LOCK_KEY = 0x1EAD5C0E
"""The PostgreSQL advisory lock every hand-over decision takes (SQLite: its write lock)."""


def period_of(at: float, zone: str | None = None) -> tuple[str, float]:
    """The ISO week holding the moment in the time zone `zone` (an IANA name, validated by
    the rule file; default UTC) (`2026-W49`) and when it ends: the next Monday 00:00
    there (epoch seconds)."""
    where = UTC if zone is None else ZoneInfo(zone)
    moment = datetime.fromtimestamp(at, where)
    year, week, weekday = moment.isocalendar()
    monday = moment.date() + timedelta(days=8 - weekday)
    end = datetime(monday.year, monday.month, monday.day, tzinfo=where)
    return f"{year}-W{week:02d}", end.timestamp()


@dataclass(frozen=True)
class HandoverQueue:
    """The hand-over queue after one decision (`hand_over`) or as the store holds it."""

    period: str
    waiting: int
    """People eligible and not handed over."""
    handed: int = 0
    """People handed over in this period (all `by` values)."""
    last_score: float | None = None
    """The score of the last person handed over this period (the threshold that moved)."""
    oldest_wait: float | None = None
    """Seconds the longest-waiting person has waited."""
    now: tuple[int, ...] = ()
    """The persons this decision handed over."""
    per_week: int | None = None
    """The rule file's capacity, per `by` value (`by`) when it has one."""
    by: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "per_week": self.per_week,
            "by": self.by,
            "waiting": self.waiting,
            "handed_over": self.handed,
            "last_score": None if self.last_score is None else round(self.last_score, 2),
            "oldest_wait_seconds": None if self.oldest_wait is None else round(self.oldest_wait),
        }


def teams_of(rules: RuleSet, contacts: ContactFrame) -> list[str]:
    """Each contact's `by` value (empty: no `by`, or no value), as the count is keyed."""
    by = rules.capacity.by if rules.capacity is not None else None
    column = contacts.column(by) if by else None
    if column is None:
        return [""] * len(contacts)
    values = []
    for row in range(len(contacts)):
        value = column.value(row)
        values.append("" if value is None else str(value)[:TEAM_LENGTH])
    return values


def handed_before(
    rules: RuleSet, contacts: ContactFrame, floor: Sequence[str | None] | None
) -> list[bool]:
    """Per contact, whether the stage they reached before (`floor`, the engine's `reached`)
    or the ladder's `current_field` (a rep's) is at or above the hand-over stage: theirs
    already, neither capped nor counted."""
    if rules.capacity is None or rules.stages is None:
        return [False] * len(contacts)
    top = rules.capacity.stage_index(rules.stages)
    rank = {stage.name.casefold(): i for i, stage in enumerate(rules.stages.ladder)}
    field = rules.stages.current_field
    current = contacts.column(field) if field else None
    out = []
    for row in range(len(contacts)):
        names = [
            None if floor is None else floor[row],
            None if current is None else current.value(row),
        ]
        out.append(any(rank.get(str(n).casefold(), -1) >= top for n in names if n is not None))
    return out


@dataclass(frozen=True)
class WaitingScored:
    """Waiting persons outside a decision's batch (`to_rescore`), scored as of its moment."""

    asked: tuple[int, ...]
    """The persons asked for (one the rules exclude or the store no longer holds is not in
    the batch: they leave the queue)."""
    batch: ScoreBatch
    teams: Sequence[str]
    reached: Sequence[bool]


def to_rescore(store: StateStore, rules: RuleSet, at: float, scored: Sequence[int]) -> list[int]:
    """The waiting persons outside `scored` whose `by` value has a place left in the period
    of `at`: those a decision then may hand over, to be scored as of `at` first."""
    if rules.capacity is None:
        return []
    period, _ = period_of(at, rules.capacity.timezone)
    with store.engine.connect() as connection:
        taken = dict(
            connection.execute(
                sa.select(handover_counts.c.team, handover_counts.c.taken).where(
                    handover_counts.c.period == period
                )
            ).all()
        )
        full = sorted(team for team, n in taken.items() if n >= rules.capacity.per_week)
        query = sa.select(handover_waiting.c.person_id).where(
            handover_waiting.c.team.notin_(full)
        )  # the waiting of a full `by` value wait on, whatever their score now
        inside = set(scored)
        return sorted(p for p in map(int, connection.execute(query).scalars()) if p not in inside)


def hand_over(
    store: StateStore,
    batch: ScoreBatch,
    teams: Sequence[str],
    reached: Sequence[bool],
    at: float,
    *,
    claim: bool,
    rescored: WaitingScored | None = None,
) -> tuple[ScoreBatch, HandoverQueue | None]:
    """The batch with its stages capped by the hand-over queue, and the queue after it.

    `teams`: each row's `by` value (`teams_of`); `reached`: rows whose stage floor (the
    stage they reached before, or the ladder's `current_field`) is already at or above
    the hand-over stage, kept there uncounted; `rescored`: the waiting persons outside the
    batch scored as of `at` (`to_rescore`), their queue rows refreshed before the decision.
    Without `claim` (a dry run, `explain`) the decision is made the same way and rolled
    back: the store does not change."""
    rules = batch.rules
    if rules.capacity is None or rules.stages is None or batch.stage_codes is None:
        return batch, None
    per_week, by = rules.capacity.per_week, rules.capacity.by
    if not len(batch):
        queue = queue_of(store, at, rules.capacity.timezone)
        return batch, replace(queue, per_week=per_week, by=by)
    with store.writing(), store.engine.connect() as connection:
        transaction = connection.begin()
        try:
            codes, places, queue = _decide(connection, batch, teams, reached, at, rescored)
        except BaseException:
            transaction.rollback()
            raise
        if claim:
            transaction.commit()
        else:
            transaction.rollback()
    queue = replace(queue, per_week=per_week, by=by)
    return replace(batch, stage_codes=codes, waiting=places), queue


def _decide(
    connection: Connection,
    batch: ScoreBatch,
    teams: Sequence[str],
    reached: Sequence[bool],
    at: float,
    rescored: WaitingScored | None = None,
) -> tuple[np.ndarray, dict[int, int], HandoverQueue]:
    rules = batch.rules
    assert rules.capacity is not None and rules.stages is not None
    assert batch.stage_codes is not None
    top = rules.capacity.stage_index(rules.stages)
    zone = rules.capacity.timezone
    period, _ = period_of(at, zone)
    dialect = upsert_dialect(connection)
    if connection.dialect.name == "postgresql":  # one decision at a time, till commit
        connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
    # A write first: on SQLite the transaction holds the store's write lock from here.
    counts = [{"period": period, "team": t, "taken": 0} for t in sorted(set(teams))]
    if counts:
        insert = dialect.insert(handover_counts).on_conflict_do_nothing()
        connection.execute(insert, counts)
    ids = [int(i) for i in batch.contact_ids.tolist()]
    before = _present(connection, handovers, ids)
    floors = _handed_stages(connection, [s.name for s in rules.stages.ladder], ids, top)
    codes = batch.stage_codes.copy()
    _requeue(connection, batch, teams, reached, at, top, ids, before)
    left: set[int] = set()  # waiting persons outside the batch who left the queue
    if rescored is not None:
        waiting = _present(connection, handover_waiting, rescored.asked)  # still, now
        others = [int(i) for i in rescored.batch.contact_ids.tolist()]
        fresh = [p for p in others if p in waiting]
        _requeue(connection, rescored.batch, rescored.teams, rescored.reached, at, top, fresh,
                 set())  # fmt: skip
        gone = waiting - set(others)  # excluded now, or no longer in the store
        for part in chunks(sorted(gone)):
            connection.execute(
                sa.delete(handover_waiting).where(handover_waiting.c.person_id.in_(part))
            )
        left = waiting - _present(connection, handover_waiting, sorted(waiting))
    stage = rules.stages.ladder[top].name[:STAGE_LENGTH]
    handed = _take(connection, rules.capacity.per_week, period, at, stage)
    row_of = {person: row for row, person in enumerate(ids)}
    for person in (before | handed) & set(row_of):  # never taken back
        floor = floors.get(person, top)
        codes[row_of[person]] = max(int(codes[row_of[person]]), floor)
    places: dict[int, int] = {}
    place_in_team: dict[str, int] = {}
    for person, team in queue_order(connection, ["person_id", "team"]):
        place_in_team[team] = place_in_team.get(team, 0) + 1
        row = row_of.get(int(person))
        if row is not None:
            places[row] = place_in_team[team]
            codes[row] = top - 1
    mark_due(connection, (handed | left) - set(ids))
    return codes, places, queue_state(connection, at, zone, now=tuple(sorted(handed)))


def _requeue(
    connection: Connection,
    batch: ScoreBatch,
    teams: Sequence[str],
    reached: Sequence[bool],
    at: float,
    top: int,
    ids: Sequence[int],
    before: set[int],
) -> None:
    """The queue rows of these persons (`ids`: those of the batch's rows to refresh, in
    row order among them) replaced by their scores now: each eligible one waits (since
    when it waited before, else `at`), the others leave the queue."""
    wanted = set(ids)
    persons = [int(p) for p in batch.contact_ids.tolist()]
    rows_of = [(row, p) for row, p in enumerate(persons) if p in wanted]
    assert batch.stage_codes is not None
    codes, leads = batch.stage_codes, batch.leads  # `lead: false` (customers): nobody's
    since = _since(connection, ids)
    for part in chunks(list(ids)):
        connection.execute(
            sa.delete(handover_waiting).where(handover_waiting.c.person_id.in_(part))
        )
    rows = [
        {
            "person_id": person,
            "team": teams[row],
            "score": float(batch.total[row]),
            "since": since.get(person, at),
        }
        for row, person in rows_of
        if codes[row] >= top and leads[row] and person not in before and not reached[row]
    ]
    if rows:
        connection.execute(sa.insert(handover_waiting), rows)


def decision_then(
    store: StateStore, batch: ScoreBatch, reached: Sequence[bool], at: float
) -> tuple[ScoreBatch, dict[int, str]]:
    """A replayed batch's stages as the hand-over stood at `at`, and per row what it was.

    `handovers` is never deleted but by `forget`, so it says who had been handed over by
    then: on the hand-over stage (never below), the week and score of the decision. An
    eligible person not handed over by then waited one stage below it (their place then
    is not kept: the queue is the store's present one). `reached` as for `hand_over`."""
    rules = batch.rules
    if rules.capacity is None or rules.stages is None or batch.stage_codes is None:
        return batch, {}
    top = rules.capacity.stage_index(rules.stages)
    ladder = [stage.name for stage in rules.stages.ladder]
    name = ladder[top]
    ids = [int(i) for i in batch.contact_ids.tolist()]
    found: dict[int, tuple[float, str, float]] = {}
    with store.engine.connect() as connection:
        for part in chunks(ids):
            query = sa.select(
                handovers.c.person_id, handovers.c.at, handovers.c.period, handovers.c.score
            ).where(handovers.c.person_id.in_(part))
            found.update(
                (int(p), (float(t), str(w), float(s))) for p, t, w, s in connection.execute(query)
            )
        floors = _handed_stages(connection, ladder, ids, top)
    codes = batch.stage_codes.copy()
    lines: dict[int, str] = {}
    for row, person in enumerate(ids):
        when = found.get(person)
        day = None if when is None else datetime.fromtimestamp(when[0], UTC).strftime("%Y-%m-%d")
        if when is not None and when[0] <= at:
            floor = floors.get(person, top)
            codes[row] = max(int(codes[row]), floor)
            score = whole_points(when[2])
            lines[row] = f"handed over to {ladder[floor]} on {day} ({when[1]}) at score {score}"
        elif codes[row] >= top and batch.leads[row] and not reached[row]:
            codes[row] = top - 1
            later = "not handed over since" if day is None else f"handed over on {day}"
            lines[row] = f"waiting for hand-over to {name} ({later})"
    return replace(batch, stage_codes=codes), lines


def _handed_stages(
    connection: Connection, ladder: Sequence[str], ids: Sequence[int], top: int
) -> dict[int, int]:
    """Per person handed over before, the ladder index of the stage they were handed over
    to (`top`, the present hand-over stage, for a row without one or a stage since
    renamed)."""
    rank = {name[:STAGE_LENGTH].casefold(): i for i, name in enumerate(ladder)}
    found: dict[int, int] = {}
    for part in chunks(list(ids)):
        query = sa.select(handovers.c.person_id, handovers.c.stage).where(
            handovers.c.person_id.in_(part)
        )
        for person, stage in connection.execute(query):
            found[int(person)] = top if stage is None else rank.get(str(stage).casefold(), top)
    return found


def _present(connection: Connection, table: sa.Table, ids: Sequence[int]) -> set[int]:
    found: set[int] = set()
    for part in chunks(list(ids)):
        query = sa.select(table.c.person_id).where(table.c.person_id.in_(part))
        found.update(int(p) for p in connection.execute(query).scalars())
    return found


def _since(connection: Connection, ids: Sequence[int]) -> dict[int, float]:
    """Since when each of these persons has waited (those waiting from before)."""
    found: dict[int, float] = {}
    for part in chunks(list(ids)):
        query = sa.select(handover_waiting.c.person_id, handover_waiting.c.since).where(
            handover_waiting.c.person_id.in_(part)
        )
        found.update((int(p), float(s)) for p, s in connection.execute(query))
    return found


def _take(connection: Connection, per_week: int, period: str, at: float, stage: str) -> set[int]:
    """Hand over down the queue, to `stage`, while each person's count has room; who was
    handed over."""
    dialect = upsert_dialect(connection)
    handed: set[int] = set()
    full: set[str] = set()
    for person, team, score in queue_order(connection, ["person_id", "team", "score"]):
        if team in full:
            continue
        person = int(person)
        connection.execute(
            dialect.insert(handover_counts).on_conflict_do_nothing(),
            {"period": period, "team": team, "taken": 0},
        )
        row = {"person_id": person, "period": period, "team": team, "at": at, "score": score,
               "stage": stage}  # fmt: skip
        added = connection.execute(dialect.insert(handovers).on_conflict_do_nothing(), row)
        if added.rowcount:  # else handed over by another transaction meanwhile
            counted = connection.execute(
                sa.update(handover_counts)
                .where(
                    handover_counts.c.period == period,
                    handover_counts.c.team == team,
                    handover_counts.c.taken < per_week,
                )
                .values(taken=handover_counts.c.taken + 1)
            )
            if not counted.rowcount:  # this period's capacity is taken: they wait
                full.add(team)
                connection.execute(sa.delete(handovers).where(handovers.c.person_id == person))
                continue
            handed.add(person)
        connection.execute(
            sa.delete(handover_waiting).where(handover_waiting.c.person_id == person)
        )
    return handed


def queue_state(
    connection: Connection, at: float, zone: str | None = None, *, now: tuple[int, ...] = ()
) -> HandoverQueue:
    """The queue as the store holds it at `at`: who waits, since when, and the hand-overs
    of this period (the week in time zone `zone`, default UTC)."""
    period, _ = period_of(at, zone)
    waiting = connection.execute(
        sa.select(sa.func.count(), sa.func.min(handover_waiting.c.since))
    ).one()
    handed = connection.execute(
        sa.select(sa.func.count()).select_from(handovers).where(handovers.c.period == period)
    ).scalar()
    last = connection.execute(
        sa.select(handovers.c.score)
        .where(handovers.c.period == period)
        .order_by(handovers.c.at.desc(), handovers.c.score)
        .limit(1)
    ).scalar()
    return HandoverQueue(
        period,
        int(waiting[0]),
        int(handed or 0),
        None if last is None else float(last),
        None if waiting[1] is None else max(0.0, at - float(waiting[1])),
        now,
    )


def queue_of(store: StateStore, at: float, zone: str | None = None) -> HandoverQueue:
    with store.engine.connect() as connection:
        return queue_state(connection, at, zone)


def status_line(store: StateStore, rules: RuleSet | None, at: float) -> str | None:
    """The hand-over as the store holds it at `at`, for `leadscore status`: this period's
    hand-overs (a trigger's included, a dry run's none) and the queue, its oldest wait as
    of `at`. None when the rules set no `capacity` and the store never decided one."""
    capacity = None if rules is None else rules.capacity
    with store.engine.connect() as connection:
        if capacity is None:
            used = sa.select(handover_counts.c.period).limit(1)
            if connection.execute(used).first() is None:
                return None
        queue = queue_state(connection, at, None if capacity is None else capacity.timezone)
    if capacity is not None:
        queue = replace(queue, per_week=capacity.per_week, by=capacity.by)
    return handover_line({"handover": queue.as_dict()})


def handover_line(summary: Mapping[str, Any]) -> str | None:
    """A run summary's hand-over queue in one line (None: the run had no capacity)."""
    queue = summary.get("handover")
    if not isinstance(queue, Mapping):
        return None
    last, oldest = queue.get("last_score"), queue.get("oldest_wait_seconds")
    per_week, by = queue.get("per_week"), queue.get("by")
    places = "" if per_week is None else f" of {per_week}" + (f" per {by}" if by else "")
    parts = [
        f"hand-over {queue.get('period')}: {queue.get('handed_over', 0)}{places} handed over",
        f"{queue.get('waiting', 0)} waiting",
        "" if last is None else f"last handed over at score {whole_points(float(last))}",
        "" if oldest is None else f"oldest waiting {waited(float(oldest))}",
    ]
    return ", ".join(p for p in parts if p)


def waited(seconds: float) -> str:
    """A wait as a person reads it: `2 d 3 h`, `5 h 12 min` under a day, `under a minute`."""
    if seconds < 60:
        return "under a minute"
    days, rest = divmod(int(seconds), 86_400)
    return f"{days} d {rest // 3600} h" if days else f"{rest // 3600} h {rest % 3600 // 60} min"
