"""What each written batch did, kept in the state store by one thread beside the writers.

The threads that write batches hand each batch's outcome to an `OutcomeRecorder` and go
straight on to their next call; the recorder keeps the outcomes that arrived while it was
busy together, a few batches' written values, failures and gone records per transaction,
so the store's one writer is not taken once per batch by every thread in turn; the
persons whose writes have all landed are saved in the transaction that records their
last one (`sync.landing`). The write phase ends when the recorder has drained: what it
returns has been recorded.

A crash loses only outcomes not yet recorded: their records are not in the store as
written, so the next run plans them again (an update with the same values is harmless);
nothing is ever recorded as written before it landed. A writer that stops the run
(credentials, budget) still has the outcomes handed in before it recorded, and a store
that fails stops the writers at their next hand-over.
"""

from __future__ import annotations

import functools
import queue
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING

from connectors.protocol import Withdrawn, WriteOutcome
from sync.run_tables import LogContext
from sync.store import StateStore
from sync.vanished import record_gone

if TYPE_CHECKING:
    from sqlalchemy import Connection

SentValues = Mapping[str, Mapping[str, str]]
"""The values sent in one batch, by record id."""
_END = None


class OutcomeRecorder:
    """Records the outcomes of one system's batches, in the order they are handed in. Use
    as a context manager: leaving it waits for every outcome handed in."""

    def __init__(
        self,
        store: StateStore,
        system: str,
        at: datetime,
        log: LogContext | None = None,
        recorded: Callable[[str, Iterable[str], Connection], Callable[[], None]] | None = None,
    ) -> None:
        self.store = store
        self.recorded = recorded
        """Told (system, record ids, connection) of each group's written records, inside
        the transaction that records them (`sync.landing.Landing.recorded`)."""
        self.log = log
        """The run and rule version of the write log's rows (none: not logged)."""
        self.system = system
        self.at = at
        self._queue: queue.SimpleQueue[tuple[SentValues, WriteOutcome] | None] = queue.SimpleQueue()
        self._failure: BaseException | None = None
        self.withdrawn = 0
        """Activities withdrawn with the records the writes found gone (`Gone.withdrawn`)."""
        self._thread = threading.Thread(target=self._run, name="record-outcomes", daemon=True)

    def __enter__(self) -> OutcomeRecorder:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._queue.put(_END)
        self._thread.join()
        if self._failure is not None and error is None:
            raise self._failure

    def hand_in(self, sent: SentValues, outcome: WriteOutcome) -> None:
        """One batch's outcome, to be recorded; raises what stopped the recorder, if
        anything did, so that no more is written that could not be recorded."""
        if self._failure is not None:
            raise self._failure
        self._queue.put((sent, outcome))

    def _run(self) -> None:
        ended = False
        while not ended:
            group: list[tuple[SentValues, WriteOutcome]] = []
            item = self._queue.get()
            while item is not _END:
                group.append(item)
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            ended = item is _END
            if not group or self._failure is not None:
                continue
            try:
                self._record(group)
            except BaseException as failure:  # handed to the writers and the phase
                self._failure = failure

    def _record(self, group: Sequence[tuple[SentValues, WriteOutcome]]) -> None:
        written: dict[str, Mapping[str, str]] = {}
        failed: list[tuple[str, str, bool]] = []
        attempted: dict[str, Mapping[str, str]] = {}
        gone: list[tuple[str, str | None]] = []
        taken: list[Withdrawn] = []
        erased: set[str] = set()
        for sent, outcome in group:
            written.update((r, sent[r]) for r in outcome.written)
            failed.extend((f.record_id, f.reason, f.retryable) for f in outcome.failed)
            attempted.update((f.record_id, sent[f.record_id]) for f in outcome.failed
                             if f.record_id in sent)  # fmt: skip
            gone.extend((g.record_id, g.merged_into) for g in outcome.gone)
            taken.extend(w for g in outcome.gone for w in g.withdrawn)
            erased.update(g.record_id for g in outcome.gone if g.for_good)
        told = self.recorded
        then = None if told is None else functools.partial(told, self.system, written)
        self.store.record_written(self.system, written, self.at, self.log, then)
        self.store.record_failures(self.system, failed, self.at, attempted)
        self.withdrawn += record_gone(self.store, self.system, gone, self.at, taken, erased)
