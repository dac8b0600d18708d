"""The store's tables of sales capacity's hand-over (`sync.capacity`), schema version 11
(`stage` of `handovers` since version 12).

handovers         one row per person handed over: the period (ISO week) and `by` value it
                  counted against, when, and the stage it was handed over to (none: handed
                  over before version 12, at the rules' present hand-over stage); never
                  deleted but by `leadscore forget`
handover_counts   per period and `by` value, how many were handed over: the row every
                  hand-over's conditional update goes through, so none exceeds the capacity
handover_waiting  the eligible leads not yet handed over: score, `by` value, since when

Keyed by the store's person row number only, never by an address or a record id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from sync.schema import chunks, metadata

TEAM_LENGTH = 255
"""The longest `by` value kept; a longer one is cut to it."""
STAGE_LENGTH = 255
"""The longest stage name kept in `handovers.stage`; a longer one is cut to it."""

handovers = sa.Table(
    "handovers",
    metadata,
    sa.Column("person_id", sa.Integer, primary_key=True),
    sa.Column("period", sa.String(16), nullable=False),
    sa.Column("team", sa.String(TEAM_LENGTH), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("stage", sa.String(STAGE_LENGTH), nullable=True),
    sa.Index("ix_handovers_period", "period", "team"),
)
handover_counts = sa.Table(
    "handover_counts",
    metadata,
    sa.Column("period", sa.String(16), primary_key=True),
    sa.Column("team", sa.String(TEAM_LENGTH), primary_key=True),
    sa.Column("taken", sa.Integer, nullable=False),
)
handover_waiting = sa.Table(
    "handover_waiting",
    metadata,
    sa.Column("person_id", sa.Integer, primary_key=True),
    sa.Column("team", sa.String(TEAM_LENGTH), nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("since", sa.Float, nullable=False),
)
HANDOVER_TABLES = (handovers, handover_counts, handover_waiting)
PERSON_TABLES = (handovers, handover_waiting)
"""The tables holding rows of one person, deleted when they are forgotten."""


def create_handover_tables(connection: Connection) -> None:
    for table in HANDOVER_TABLES:
        table.create(connection, checkfirst=True)


def add_handover_stage(connection: Connection) -> None:
    """Schema version 12: the stage each person was handed over to (a store whose tables
    were made by this code has the column already)."""
    columns = {c["name"] for c in sa.inspect(connection).get_columns(handovers.name)}
    if "stage" not in columns:
        kind = sa.String(STAGE_LENGTH).compile(dialect=connection.dialect)
        connection.execute(sa.text(f"ALTER TABLE handovers ADD COLUMN stage {kind}"))


def forget_handovers(connection: Connection, person_ids: Sequence[int]) -> dict[str, int]:
    """Delete these persons' hand-over and waiting rows; rows deleted per table (those with
    none left out). Their hand-overs stay counted in their period: forgetting a person
    frees no capacity."""
    deleted: dict[str, int] = {}
    for table in PERSON_TABLES:
        for part in chunks(list(person_ids)):
            result = connection.execute(sa.delete(table).where(table.c.person_id.in_(part)))
            if result.rowcount:
                deleted[table.name] = deleted.get(table.name, 0) + int(result.rowcount)
    return deleted


def queue_order(connection: Connection, columns: Sequence[str]) -> list[Sequence[Any]]:
    """The waiting persons in hand-over order: score, then since when, then row number."""
    table = handover_waiting
    query = sa.select(*(table.c[name] for name in columns)).order_by(
        table.c.score.desc(), table.c.since, table.c.person_id
    )
    return [tuple(row) for row in connection.execute(query)]


@dataclass(frozen=True)
class QueueRows:
    """The hand-over tables as the HTML report draws them (`sync.report_data`)."""

    counts: list[tuple[str, str, int]]
    """(period, `by` value, handed over), by period, oldest first."""
    waiting: list[tuple[int, str, float, float]]
    """(person, `by` value, score, since when), in hand-over order."""
    last: dict[str, tuple[float, str]]
    """Per `by` value, the score and period of the last person handed over: the lowest
    score of the latest decision that handed any over (none: nobody yet)."""


def queue_rows(connection: Connection) -> QueueRows:
    counts = connection.execute(
        sa.select(
            handover_counts.c.period, handover_counts.c.team, handover_counts.c.taken
        ).order_by(handover_counts.c.period, handover_counts.c.team)
    )
    latest = (
        sa.select(handovers.c.team, sa.func.max(handovers.c.at).label("at"))
        .group_by(handovers.c.team)
        .subquery()
    )
    last: dict[str, tuple[float, str]] = {}
    query = (
        sa.select(handovers.c.team, handovers.c.score, handovers.c.period)
        .join(latest, (latest.c.team == handovers.c.team) & (latest.c.at == handovers.c.at))
        .order_by(handovers.c.score.desc())
    )
    for team, score, period in connection.execute(query):
        last[str(team)] = (float(score), str(period))  # the lowest comes last
    return QueueRows(
        [(str(p), str(t), int(n)) for p, t, n in counts],
        [
            (int(p), str(t), float(s), float(w))
            for p, t, s, w in queue_order(connection, ["person_id", "team", "score", "since"])
        ],
        last,
    )
