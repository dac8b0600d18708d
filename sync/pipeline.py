"""The sync: pull what changed, merge people, score, diff against what was written, write.

    for each system:  pull every stream from its cursor -> store (contacts, activities)
    everyone in the store -> score as of `clock()` -> field values per record
    values != last written (scoring time aside) -> write in the system's batch size
    each landed batch -> remember its values; each failed record -> remember why
    all writes done -> commit the cursors of this run

Crash safety comes from that order: the store is changed one transaction at a
time, writes are idempotent, and cursors move last. A run killed anywhere and
run again pulls the same records again (deduplicated), computes the same
values, and writes whatever had not landed, so every system ends holding the
values an uninterrupted run would have written.

Everyone known is rescored on every run, not only those with new data: the
engine scores a million contacts in about a second, so the wider set costs
little, and it catches every score that decayed across a whole point.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from connectors.errors import ApiError, AuthError, BudgetExhausted
from connectors.protocol import Connector, Page, Write, WriteFailure, WriteOutcome
from scoring import RuleSet, ScoreBatch
from scoring import score as score_frames
from scoring.engine import REACHED_STAGE
from sync.fields import FieldMap
from sync.stages import StageMap, with_reached_stages
from sync.store import People, StateStore

log = logging.getLogger("leadscore.sync")

Progress = Callable[[str, int], None]
"""Told (what, how many more) as a run goes: `pulled hubspot contacts`, `written hubspot`."""


@dataclass(frozen=True)
class SyncOptions:
    full: bool = False
    """Pull everything from the start, ignoring cursors."""
    dry_run: bool = False
    """Pull and diff, write nothing to any system, commit no cursor."""
    limit: int | None = None
    """A trial: this many contacts per system, each fetched with all its activity, and
    at most this many written. No cursor moves, so a later run sees everything again."""
    workers: int = 4
    """Write batches in flight at once per system; the call policy paces them."""


@dataclass
class SystemSummary:
    contacts: int = 0
    activities_pulled: int = 0
    activities_new: int = 0
    contacts_changed: int = 0
    planned: int = 0
    written: int = 0
    failed: int = 0
    calls: dict[str, int] = field(default_factory=dict)
    stream_seconds: dict[str, float] = field(default_factory=dict)
    """How long each stream took to pull, side by side with the others."""

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())


@dataclass
class SyncSummary:
    """What a run did, for the terminal, the JSON log and the run table."""

    mode: str
    systems: dict[str, SystemSummary] = field(default_factory=dict)
    persons: int = 0
    rescored: int = 0
    changed: int = 0
    elapsed: float = 0.0
    status: str = "ok"
    plan: dict[str, list[Write]] = field(default_factory=dict)
    error: str | None = None
    phases: dict[str, float] = field(default_factory=dict)
    """Seconds spent pulling, scoring, planning and writing."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "status": self.status,
            "persons": self.persons,
            "rescored": self.rescored,
            "changed": self.changed,
            "elapsed_seconds": round(self.elapsed, 3),
            "error": self.error,
            "phase_seconds": {k: round(v, 3) for k, v in self.phases.items()},
            "systems": {
                name: {
                    "contacts_pulled": s.contacts,
                    "activities_pulled": s.activities_pulled,
                    "activities_new": s.activities_new,
                    "contacts_changed": s.contacts_changed,
                    "planned": s.planned,
                    "written": s.written,
                    "failed": s.failed,
                    "calls": s.total_calls,
                    "calls_by_operation": dict(sorted(s.calls.items())),
                    "stream_seconds": {k: round(v, 3) for k, v in s.stream_seconds.items()},
                }
                for name, s in self.systems.items()
            },
        }


class Sync:
    """One rule set, one store and the connected systems, run again and again."""

    def __init__(
        self,
        rules: RuleSet,
        store: StateStore,
        connectors: Sequence[Connector],
        fields: FieldMap,
        *,
        clock: Callable[[], datetime],
        progress: Progress | None = None,
        stage_maps: Sequence[StageMap] = (),
    ) -> None:
        self.rules = rules
        self.stage_maps = {m.system: m for m in stage_maps}
        self._sampled: dict[str, set[str]] = {}
        self.store = store
        self.connectors = list(connectors)
        self.fields = fields
        self.clock = clock
        self.progress = progress or (lambda _what, _n: None)

    def run(self, options: SyncOptions | None = None) -> SyncSummary:
        options = options or SyncOptions()
        mode = "full" if options.full else "incremental"
        if options.dry_run:
            mode += " dry-run"
        if options.limit is not None:
            mode += f" limit {options.limit}"
        summary = SyncSummary(mode)
        self._sampled = {}
        started = time.perf_counter()
        run = self.store.start_run(mode, self.clock())
        baseline = {c.system: dict(c.calls()) for c in self.connectors}
        try:
            mark = time.perf_counter()

            def phase(name: str) -> None:
                nonlocal mark
                now = time.perf_counter()
                summary.phases[name] = summary.phases.get(name, 0.0) + now - mark
                mark = now

            pending = {c.system: self._pull(c, options, summary) for c in self.connectors}
            phase("pull")
            written = self.written()
            batch, people = self.score(written=written)
            summary.persons = summary.rescored = len(people.contacts)
            phase("score")
            plans = self.plan(batch, people, options, written)
            phase("plan")
            summary.changed = len({w for writes in plans.values() for w in writes})
            summary.plan = {
                system: [w for w, _ in writes.values()] for system, writes in plans.items()
            }
            for connector in self.connectors:
                stats = summary.systems[connector.system]
                stats.planned = len(plans.get(connector.system, {}))
                if not options.dry_run:
                    self._write(connector, plans.get(connector.system, {}), options, stats)
            phase("write")
            if not options.dry_run and options.limit is None:
                for system, cursors in pending.items():
                    self.store.commit_cursors(system, cursors, self.clock())
        except ApiError as exc:
            summary.status, summary.error = "failed", str(exc)
            raise
        except BaseException as exc:
            # Anything else (a store error, Ctrl-C) is named by its type only: its text
            # may quote a connection URL.
            summary.status, summary.error = "failed", type(exc).__name__
            raise
        finally:
            for connector in self.connectors:
                stats = summary.systems.setdefault(connector.system, SystemSummary())
                before = baseline[connector.system]
                stats.calls = {
                    op: n - before.get(op, 0)
                    for op, n in connector.calls().items()
                    if n - before.get(op, 0)
                }
            summary.elapsed = time.perf_counter() - started
            self.store.finish_run(run, summary.status, summary.as_dict(), self.clock())
            log.info("sync finished", extra={"summary": summary.as_dict()})
        return summary

    # -- pull -----------------------------------------------------------------------------------

    def _pull(
        self, connector: Connector, options: SyncOptions, summary: SyncSummary
    ) -> dict[str, str]:
        """Pull every stream into the store; the cursors to commit once writes landed."""
        stats = summary.systems.setdefault(connector.system, SystemSummary())
        if options.limit is not None:
            self._pull_sample(connector, options.limit, stats)
            return {}
        stored = {} if options.full else self.store.cursors(connector.system)
        pending: dict[str, str] = {}
        # Streams are fetched side by side (the call policy paces them) while this thread
        # stores what they bring, so no stream waits on the store between its calls.
        pages: queue.Queue[Page | BaseException | None] = queue.Queue(maxsize=64)
        stop = threading.Event()

        def hand_over(item: Page | BaseException | None) -> bool:
            while not stop.is_set():
                try:
                    pages.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        def fetch(stream: str) -> None:
            began = time.perf_counter()
            try:
                for page in connector.pull(stream, stored.get(stream)):
                    if not hand_over(page):
                        return  # the run is over: stop calling the system
            except BaseException as exc:  # handed to the storing thread, which raises it
                hand_over(exc)
            finally:
                stats.stream_seconds[stream] = time.perf_counter() - began
                hand_over(None)

        threads = [
            threading.Thread(
                target=fetch, args=(s,), name=f"pull-{connector.system}-{s}", daemon=True
            )
            for s in connector.streams
        ]
        for thread in threads:
            thread.start()
        running = len(threads)
        try:
            while running:
                item = pages.get()
                if item is None:
                    running -= 1
                elif isinstance(item, BaseException):
                    raise item
                else:
                    self._store_page(connector.system, item, stats)
                    if item.cursor is not None:
                        pending[item.stream] = item.cursor
        finally:
            # On any failure the other streams stop at their next page instead of pulling
            # on for nothing (or blocking on a full queue forever).
            stop.set()
            deadline = time.monotonic() + 60
            for thread in threads:
                thread.join(timeout=max(0.0, deadline - time.monotonic()))
        return pending

    def _pull_sample(self, connector: Connector, limit: int, stats: SystemSummary) -> None:
        """A trial's pull: the first `limit` contacts, each fetched with all its activity,
        so the trial writes the scores a full run would write for them."""
        taken = 0
        sampled = self._sampled.setdefault(connector.system, set())
        for page in connector.pull(connector.streams[0], None):
            for contact in page.contacts[: limit - taken]:
                self._store_page(connector.system, connector.fetch(contact.id), stats)
                sampled.add(contact.id)
                taken += 1
            if taken >= limit:
                return

    def _store_page(self, system: str, page: Page, stats: SystemSummary) -> None:
        began = time.perf_counter()
        contacts, found = list(page.contacts), list(page.activities)
        if contacts:
            stats.contacts_changed += self.store.save_contacts(system, contacts, self.clock())
            stats.contacts += len(contacts)
        if found:
            stats.activities_pulled += len(found)
            stats.activities_new += self.store.save_activities(system, found)
        stats.stream_seconds["(storing)"] = (
            stats.stream_seconds.get("(storing)", 0.0) + time.perf_counter() - began
        )
        self.progress(f"pulled {system} {page.stream}", len(contacts) or len(found))

    # -- score and diff -------------------------------------------------------------------------

    def written(self) -> dict[str, dict[str, dict[str, str]]]:
        """What was last written, per system and record: every system the store knows,
        configured here or not (`explain` needs no token)."""
        return {s: self.store.written_values(s) for s in self.store.systems()}

    def score(
        self,
        person_ids: Sequence[int] | None = None,
        written: Mapping[str, Mapping[str, Mapping[str, str]]] | None = None,
    ) -> tuple[ScoreBatch, People]:
        """Everyone in the store (or these persons), scored as of the clock."""
        people = self.store.load_people(person_ids)
        if written is None:
            written = self.written()
        contacts = with_reached_stages(
            self.rules,
            people.contacts,
            people.records,
            written,
            self.fields.names.get("stage"),
            people.record_attributes,
        )
        people = People(contacts, people.columns, people.records, people.record_attributes)
        frame, activity_frame = people.frames(
            [*self.rules.contact_fields(), REACHED_STAGE], self.rules.activity_fields()
        )
        return score_frames(self.rules, frame, activity_frame, self.clock()), people

    def plan(
        self,
        batch: ScoreBatch,
        people: People,
        options: SyncOptions,
        written: Mapping[str, Mapping[str, Mapping[str, str]]],
    ) -> dict[str, dict[str, tuple[Write, Mapping[str, str]]]]:
        """Per system: record id -> the write that brings it up to date, with its values."""
        moment = self.clock()
        systems = {c.system for c in self.connectors}
        # A full run tries everything again, refused writes included.
        refused = {s: {} if options.full else self.store.refused(s) for s in systems}
        plans: dict[str, dict[str, tuple[Write, Mapping[str, str]]]] = {s: {} for s in systems}
        row_of = {str(pid): row for row, pid in enumerate(batch.contact_ids)}
        for person, records in people.records.items():
            row = row_of.get(person)
            if row is None:
                continue
            values = self.fields.values(batch, row, moment)
            for system, record in records:
                if system not in plans:
                    continue
                mapped = self.stage_maps.get(system)
                own = values
                if mapped is not None:
                    # The record's own value: two records of one person may stand apart.
                    current = people.record_attributes.get((system, record), {}).get(mapped.field)
                    forward = mapped.value(batch.stage(row), current)
                    if forward is not None:
                        own = {**values, mapped.field: forward}
                before = refused[system].get(record)
                if before is not None and self.fields.same(own, before):
                    continue  # refused for good with these very values: a fix must come first
                if self.fields.differs(own, written.get(system, {}).get(record)):
                    plans[system][record] = (Write(record, own), own)
        if options.limit is not None:
            # A trial writes only the records it fetched whole, never stale ones.
            plans = {
                s: {r: w for r, w in p.items() if r in self._sampled.get(s, set())}
                for s, p in plans.items()
            }
        return plans

    # -- write ----------------------------------------------------------------------------------

    def _write(
        self,
        connector: Connector,
        plan: Mapping[str, tuple[Write, Mapping[str, str]]],
        options: SyncOptions,
        stats: SystemSummary,
    ) -> None:
        writes = [w for w, _ in plan.values()]
        size = connector.write_batch_size
        batches = [writes[i : i + size] for i in range(0, len(writes), size)]

        def write_one(chunk: list[Write]) -> WriteOutcome:
            try:
                outcome = connector.write(chunk)
            except (AuthError, BudgetExhausted):
                raise
            except ApiError as exc:
                # Retries are spent: keep the reason; the next run plans these records again.
                log.warning(
                    "write batch failed", extra={"system": connector.system, "error": str(exc)}
                )
                outcome = WriteOutcome(
                    [], [WriteFailure(w.record_id, str(exc), exc.retryable) for w in chunk]
                )
            moment = self.clock()
            self.store.record_written(
                connector.system, {r: chunk_values(chunk)[r] for r in outcome.written}, moment
            )
            self.store.record_failures(
                connector.system,
                [(f.record_id, f.reason, f.retryable) for f in outcome.failed],
                moment,
                {w.record_id: w.values for w in chunk},
            )
            self.progress(f"written {connector.system}", len(chunk))
            return outcome

        with ThreadPoolExecutor(max_workers=max(1, options.workers)) as pool:
            for outcome in pool.map(write_one, batches):
                stats.written += len(outcome.written)
                stats.failed += len(outcome.failed)


def chunk_values(chunk: Sequence[Write]) -> dict[str, Mapping[str, str]]:
    return {w.record_id: w.values for w in chunk}
