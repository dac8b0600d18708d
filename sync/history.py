"""Score history: each person's written score over time, and the rule files it came from.

A row is added when a person's score, a dimension, the stage, the grade or the rule version
differs from the person's last row, and only for persons a write landed for: the sync diffs
before it writes, so a run that writes nothing adds nothing, and a person whose values stay
put between runs adds one row, not one per run. A sync inserts a person's row in the
transaction that saves their due moment, once their writes are recorded (`sync.landing`,
and `sync.incremental.save_written` for those a write failed for); a rescore on request
(`sync.trigger`) adds its person's in one of its own.

The rule version is the SHA-256 of the rule file's text; the text is kept once under it
(`rulesets`), so `leadscore explain --as-of` can replay a person under the rules then in
force. A rule set given without a file (a program's) is kept as its canonical JSON, which is
a rule file too. Rows are keyed by the store's person id: erasing a person's history is one
DELETE, and a person dropped as a leftover (`sync.identity`) takes its rows with it.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scoring import RuleSet, ScoreBatch
from sync.bulk import execute_in, execute_many, insert_sql
from sync.fields import written_score
from sync.people import moment
from sync.rulefile import rule_version
from sync.schema import chunks, history, rulesets, upsert_dialect

SHORT = 12
"""The characters of a rule version shown to a person."""


@dataclass(frozen=True)
class HistoryEntry:
    """One recorded score of a person."""

    at: datetime
    score: int
    """As written: `sync.fields.DISQUALIFIED_SCORE` for a disqualified person."""
    dimensions: dict[str, int]
    stage: str | None
    grade: str | None
    rules: str
    """The rule version (`rule_version`) the score was made under."""

    def same(self, other: HistoryEntry) -> bool:
        """Whether the two hold the same values under the same rules, whenever made."""
        mine = (self.score, list(self.dimensions.items()), self.stage, self.grade, self.rules)
        return mine == (
            other.score, list(other.dimensions.items()), other.stage, other.grade, other.rules
        )  # fmt: skip


def canonical_text(rules: RuleSet) -> str:
    """A rule set given without its file, as rule-file text (JSON is YAML) that loads back
    to the same rule set, its dimensions and rules in their order."""
    return json.dumps(rules.model_dump(mode="json", exclude_defaults=True), indent=1) + "\n"


_COLUMNS = ("person_id", "at", "rules", "score", "dimensions", "stage", "grade")
INSERT_HISTORY = insert_sql(history, _COLUMNS)
_LAST = (
    "SELECT person_id, rules, score, dimensions, stage, grade FROM history WHERE id IN"
    " (SELECT max(id) FROM history WHERE person_id IN"
)


def history_rows(
    batch: ScoreBatch, rows: Mapping[int, int], persons: Sequence[int], at: float, rules: str
) -> list[tuple[Any, ...]]:
    """These persons' scores (`rows`: person id -> batch row) as history rows (`_COLUMNS`),
    their dimensions as compact JSON in the rules' order."""
    keys = [json.dumps(name) + ":" for name in batch.dimension_names]
    out = []
    wholes = whole_dimensions_of(batch, [rows[person] for person in persons])
    for person, points in zip(persons, wholes, strict=True):
        row = rows[person]
        # JSON made here: the encoder costs more
        dimensions = "{" + ",".join(k + str(p) for k, p in zip(keys, points, strict=True)) + "}"
        score = written_score(batch, row)
        out.append((person, at, rules, score, dimensions, batch.stage(row), batch.grade(row)))
    return out


def whole_dimensions_of(batch: ScoreBatch, rows: Sequence[int]) -> list[list[int]]:
    """`ScoreBatch.whole_dimensions` of many rows at once, in arrays: each dimension
    rounded down, and the points still missing to the whole score one each to the
    largest remainders (the first dimension first on a tie), as `apportion` gives them."""
    points = batch.dimensions[np.asarray(rows, dtype=np.intp)]
    count, width = points.shape
    floors = np.floor(points)
    totals = np.floor(batch.total[np.asarray(rows, dtype=np.intp)] + 0.5)
    missing = np.clip(totals - floors.sum(axis=1), 0, width)
    order = np.argsort(floors - points, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(width), (count, width)), axis=1)
    return (floors + (rank < missing[:, None])).astype(np.int64).tolist()  # type: ignore[no-any-return]


def record_history(connection: Connection, rows: Sequence[tuple[Any, ...]], text: str) -> int:
    """Keep each history row (`history_rows`) unless it holds what its person's last one
    does, and the rule file's text under its version; inside the caller's transaction.
    Returns how many rows were added."""
    if not rows:
        return 0
    _, at, version, *_ = rows[0]
    insert = upsert_dialect(connection).insert(rulesets).on_conflict_do_nothing()
    connection.execute(insert.values(version=version, text=text, saved_at=at))
    last: dict[int, tuple[Any, ...]] = {}
    for part in chunks(sorted({r[0] for r in rows})):
        found = execute_in(connection, _LAST, part, tail=" GROUP BY person_id)")
        last.update((int(r[0]), tuple(r[1:])) for r in found)
    fresh = [r for r in rows if last.get(r[0]) != r[2:]]
    execute_many(connection, INSERT_HISTORY, fresh)
    return len(fresh)


def _entry(row: Any) -> HistoryEntry:
    dimensions = {str(k): int(v) for k, v in json.loads(row.dimensions).items()}
    return HistoryEntry(moment(row.at), row.score, dimensions, row.stage, row.grade, row.rules)


def history_of(
    connection: Connection, person: int, until: datetime | None = None
) -> list[HistoryEntry]:
    """A person's entries, oldest first (those made at or before `until`, when given)."""
    query = sa.select(history).where(history.c.person_id == person)
    if until is not None:
        query = query.where(history.c.at <= until.timestamp())
    rows = connection.execute(query.order_by(history.c.at, history.c.id))
    return [_entry(r) for r in rows]


def rules_text(connection: Connection, version: str) -> str | None:
    """The text of the rule file kept under `version`, if the store has it."""
    query = sa.select(rulesets.c.text).where(rulesets.c.version == version)
    found = connection.execute(query).scalar()
    return None if found is None else str(found)


def forget_history(connection: Connection, persons: Collection[int]) -> None:
    """Delete these persons' history (a person dropped from the store, or erased)."""
    for part in chunks(sorted(set(persons))):
        connection.execute(sa.delete(history).where(history.c.person_id.in_(part)))


def moved(before: HistoryEntry | None, after: HistoryEntry) -> dict[str, Any]:
    """What changed from one entry to the next: score and dimensions by how many points,
    stage, grade and rule version as (before, after); everything for a first entry."""
    if before is None:
        return {"first": True}
    out: dict[str, Any] = {}
    if after.score != before.score:
        out["score"] = after.score - before.score
    dropped = [name for name in before.dimensions if name not in after.dimensions]
    for name in [*after.dimensions, *dropped]:  # a dropped dimension lost all its points
        points, then = after.dimensions.get(name, 0), before.dimensions.get(name, 0)
        if points != then:
            out[name] = points - then
    for name in ("stage", "grade", "rules"):
        old, new = getattr(before, name), getattr(after, name)
        if old != new:
            out[name] = [old, new]
    return out


def record_landed(
    connection: Connection,
    batch: ScoreBatch,
    rows: Mapping[int, int],
    records: Mapping[Any, Sequence[tuple[str, str]]],
    landed: Mapping[str, Collection[str]],
    at: datetime,
    text: str,
) -> int:
    """Keep the entries of the persons (`rows`: person id -> batch row) of whose `records` a
    write landed, scored under the rule file `text` as of `at`; inside the caller's
    transaction. Returns how many rows were added."""
    # a person the rules exclude has no row: their fields were cleared, no score is kept
    persons = [p for p in landed_persons(records, landed) if p in rows]
    if not persons:
        return 0
    made = history_rows(batch, rows, persons, at.timestamp(), rule_version(text))
    return record_history(connection, made, text)


def landed_persons(
    records: Mapping[Any, Sequence[tuple[str, str]]], landed: Mapping[str, Collection[str]]
) -> list[int]:
    """The persons (ids, or their text) of whose records at least one write landed, as
    ids, in the order given."""
    sets = {system: set(ids) for system, ids in landed.items()}
    return [int(p) for p, recs in records.items() if any(r in sets.get(s, ()) for s, r in recs)]


def score_rows(connection: Connection) -> list[tuple[int, float, int]]:
    """Every recorded score as (person, at, score), oldest first: the store's score
    movement over time (`sync.report_data.score_movement`)."""
    query = sa.select(history.c.person_id, history.c.at, history.c.score)
    rows = connection.execute(query.order_by(history.c.at, history.c.id))
    return [(int(p), float(at), int(score)) for p, at, score in rows]
