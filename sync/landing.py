"""The persons of a run's plan saved as their writes land, while the other writes are in flight.

A person whose planned writes have all landed and been recorded as written (the
write phase's recorder, `sync.recorder`, calls `Landing.recorded` inside the
transaction that records a group of batches as written, after their rows) gets, in
that same transaction on the recorder's thread: their due moment
(`sync.dues.save_dues`, under the marks read before scoring) and a history row when
their values moved (`sync.history.record_history`). The store's work for them so
overlaps the calls still in flight instead of following the last one
(`sync.incremental.save_written` does what is left: the persons with a write that
failed, the fingerprint, the run's moment).

Crash safety is the write log's: a person's due is saved only with or after every
write of theirs recorded in `written` (the last in the same commit), never before. A
run killed between batches leaves the persons saved so far with their due and history,
and everyone else of the plan due now (`save_unplanned` set them so before the first
write): the next run scores them again and plans only what `written` does not hold.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable
from typing import TYPE_CHECKING

from sync.dues import save_dues
from sync.history import history_rows, record_history
from sync.rulefile import rule_version

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from sync.incremental import Scored
    from sync.pipeline import Sync


class Landing:
    """The run's planned persons (`planned`: person -> their (system, record) planned),
    each saved once the last of their writes is recorded; `dues` False (a trial run):
    their history only, no due moved."""

    def __init__(
        self,
        job: Sync,
        scored: Scored,
        planned: dict[int, list[tuple[str, str]]],
        *,
        dues: bool = True,
    ) -> None:
        self.job, self.scored, self.dues = job, scored, dues
        self.planned = planned
        self._owner = {(s, r): p for p, records in planned.items() for s, r in records}
        self._left = {p: len(records) for p, records in planned.items()}
        self._row = {p: i for i, p in enumerate(scored.person_ids)}
        self._scored_rows = {int(p): i for i, p in enumerate(scored.batch.contact_ids.tolist())}
        self._lock = threading.Lock()
        self._version: str | None = None
        """The rule file's version, hashed once (on the first save)."""
        self.saved: set[int] = set()
        """The persons saved so far (their due, unless a trial run, and their history)."""

    def recorded(
        self, system: str, written: Iterable[str], connection: Connection
    ) -> Callable[[], None]:
        """These records of `system` are recorded as written in `connection`'s
        transaction, which saves there the persons whose every planned write has now
        landed. Returns what undoes the count: for
        the caller to call if `connection`'s transaction does not commit, so that a
        person is never saved on another system's writes while these are unrecorded."""
        complete: list[int] = []
        taken: list[tuple[str, int]] = []
        with self._lock:
            for record in written:
                person = self._owner.pop((system, record), None)  # counted once
                if person is None:
                    continue
                taken.append((record, person))
                self._left[person] -= 1
                if not self._left[person]:
                    complete.append(person)

        def undo() -> None:
            with self._lock:
                for record, person in taken:
                    self._owner[(system, record)] = person
                    self._left[person] += 1
                self.saved.difference_update(complete)

        if complete:
            try:
                self._save(complete, connection)
            except BaseException:
                undo()
                raise
        return undo

    def _save(self, persons: Collection[int], connection: Connection) -> None:
        self._save_in(connection, persons)
        with self._lock:
            self.saved.update(persons)

    def _save_in(self, connection: Connection, persons: Collection[int]) -> None:
        scored = self.scored
        if self._version is None:
            self._version = rule_version(self.job.rules_text)
        kept = [p for p in persons if p in self._scored_rows]  # the excluded keep no history
        made = history_rows(scored.batch, self._scored_rows, kept, scored.as_of, self._version)
        if self.dues:
            due = [float(scored.due[self._row[p]]) for p in persons]
            save_dues(connection, list(persons), due, scored.marks)
        record_history(connection, made, self.job.rules_text)
