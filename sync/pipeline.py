"""The sync: pull what changed, merge people, score, diff against what was written, write.

    for each system:  pull every stream from its cursor -> store (contacts, activities)
    everyone in the store -> score as of the run's moment -> field values per record
    values != last written (scoring time aside) -> write in the system's batch size
    each landed batch -> remember its values; each failed record -> remember why
    all writes done -> commit the cursors of this run

Crash safety comes from that order: the store is changed one transaction at a
time, writes are idempotent, and cursors move last. A run killed anywhere and
run again pulls the same records again (deduplicated), computes the same
values, and writes whatever had not landed, so every system ends holding the
values an uninterrupted run would have written. (A run the day's request budget
stops commits the cursors of the streams it pulled whole: `_commit_stored`.)

A run given a deadline (`SyncOptions.deadline`, `sync/deadline.py`) stops pulling
in time to score and write what it stored, stops writing at the deadline, and
commits as a run the budget stopped does; its status is then "partial".

A run rescores only who is due (`sync/incremental.py`): persons with new or
changed inputs, and those whose written values time may have moved since they
were last scored (`persons.due`, from `scoring.due_in`); everyone when the rules,
field names or stage mappings changed, or on `--full`.

The clock is read once per run: that moment (`as_of`) is when everyone is
scored, the `scored_at` written, and what the store records of the run.

Records a trigger queued while a sync ran (`sync/trigger.py`) are fetched with
the next run's pull, or drained before the running one lets its locks go; a
run waits for the rescores at work before it reads what was written.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from connectors.errors import ApiError, BudgetExhausted
from connectors.protocol import Connector, OwnWrites, Page, Write, WriteOutcome
from scoring import RuleSet, ScoreBatch
from sync.account_sync import write_accounts
from sync.collector import fewer_collections
from sync.deadline import RunDeadline, pages_until
from sync.fields import SCORED_AT, FieldMap, sent_writes, timestamp
from sync.gone_check import check_known
from sync.history import canonical_text
from sync.incremental import landing_for, save_written, score_due, score_people
from sync.landing import Landing
from sync.locks import RECORD_STALE_AFTER, RunLock, run_lock, wait_for_rescores
from sync.minimise import Kept, kept_by_system, prepare_pull, stored_systems
from sync.models import Model, write_models
from sync.resume import commit_cut, stuck_warning
from sync.saving import GROUP_PAGES, GROUP_ROWS, page_rows
from sync.shadow_write import write_shadow
from sync.stages import StageMap
from sync.store import People, StateStore, let_go_of_interrupted
from sync.summary import SyncOptions, SyncSummary, SystemSummary
from sync.trigger import drain_queue, pull_queued, settle_queue
from sync.vanished import gone_records
from sync.writing import WritePlan, write_batches, write_systems

if TYPE_CHECKING:
    from sync.storing_process import PageSaver

log = logging.getLogger("leadscore.sync")

Progress = Callable[[str, int], None]
"""Told (what, how many more) as a run goes: `pulled hubspot contacts`, `written hubspot`."""

Written = Mapping[str, Mapping[str, Mapping[str, str]]]
"""System -> record id -> the values last written there."""


class Sync:
    """One rule set, one store and the connected systems, run again and again."""

    def __init__(
        self,
        rules: RuleSet,
        store: StateStore,
        connectors: Sequence[Connector],
        fields: Mapping[str, FieldMap],
        *,
        clock: Callable[[], datetime],
        progress: Progress | None = None,
        stage_maps: Sequence[StageMap] = (),
        pulls: Mapping[str, str] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        rules_text: str | None = None,
        models: Sequence[Model] = (),
    ) -> None:
        self.rules = rules
        self.models = tuple(models)  # scored and written beside the live rules: sync.models
        self.rules_text = canonical_text(rules) if rules_text is None else rules_text
        self.pulls = dict(pulls or {})
        """System -> what its contact pull reads (`sync.dues.pull_fingerprint`)."""
        self.store = store
        self.connectors = list(connectors)
        self.fields = dict(fields)
        """System -> its fields; every system the store may know, configured or not."""
        self.clock = clock
        self.progress = progress or (lambda _what, _n: None)
        self.stage_maps = {m.system: m for m in stage_maps}
        self._sampled: dict[str, set[str]] = {}
        self._lock: RunLock | None = None
        self.monotonic = monotonic
        """The clock a run's deadline is a moment on (`SyncOptions.deadline`)."""
        self.deadline = RunDeadline(None, monotonic)
        """The deadline of the run at work (none between runs)."""
        self.run_id: int | None = None
        """The `runs` row of the run at work (None between runs: a rescore on request)."""
        self.kept: dict[str, Kept] = {}
        self.saver: PageSaver | None = None  # the pull at work's (`sync.storing_process`)
        self.elsewhere: frozenset[str] = frozenset()  # systems other runs write (a tenant's)
        """System -> the fields the store keeps of it (`sync.minimise`), for the run at work."""

    def run(self, options: SyncOptions | None = None) -> SyncSummary:
        options = options or SyncOptions()
        mode = "full" if options.full else "incremental"
        if options.dry_run:
            mode += " dry-run"
        if options.limit is not None:
            mode += f" limit {options.limit}"
        summary = SyncSummary(mode)
        self._sampled = {}
        deadline = RunDeadline.of_run(options.deadline, self.monotonic, self.store)
        # One run at a time per store and system; a dry run writes nowhere.
        lock = None
        if not options.dry_run:
            waits = min(options.wait, deadline.remaining())
            lock = run_lock(self.store, [c.system for c in self.connectors], wait=waits)
        self._lock, self.deadline = lock, deadline
        reads = [m.reading for m in self.models]
        self.kept = kept_by_system(self.rules, stored_systems(self), options.shadow, reads)
        try:
            with (
                lock.kept_alive() if lock is not None else contextlib.nullcontext(),
                fewer_collections(),
            ):
                self._run(options, summary, mode)
        finally:
            self._lock, self.deadline = None, RunDeadline(None, self.monotonic)
            self.kept, self.run_id = {}, None
            if lock is not None:
                lock.release()
        if lock is not None and not deadline.reached:
            # what was queued as the locks were given back (a run cut short leaves it)
            settle_queue(self, patience=min(RECORD_STALE_AFTER, deadline.remaining()))
        return summary

    def _run(self, options: SyncOptions, summary: SyncSummary, mode: str) -> SyncSummary:
        as_of = self.clock()
        started = time.perf_counter()
        run = self.run_id = self.store.start_run(mode, as_of)
        baseline = {c.system: dict(c.calls()) for c in self.connectors}
        # A trial leaves the queue to `settle_queue`: it writes only what it sampled.
        drains = not options.dry_run and options.limit is None
        pending: dict[str, dict[str, str]] = {c.system: {} for c in self.connectors}
        whole: dict[str, set[str]] = {c.system: set() for c in self.connectors}
        resumes: dict[str, dict[str, str | None]] = {c.system: {} for c in self.connectors}
        try:
            for connector in self.connectors:
                connector.start_run()
            mark = time.perf_counter()
            from sync.retention import purge_for_run  # here: a trigger's rescore needs none

            def phase(name: str) -> None:
                nonlocal mark
                now = time.perf_counter()
                summary.phases[name] = summary.phases.get(name, 0.0) + now - mark
                mark = now

            skipped = dict(self.store.skipped)
            deadline = self.deadline
            queued = (
                pull_queued(self, summary, as_of) if drains and not deadline.pull_over() else []
            )
            for connector in self.connectors:
                system = connector.system
                self._pull(connector, options, summary, as_of, pending[system], whole[system],
                           resumes[system])  # fmt: skip
            for system, count in self.store.skipped.items():
                if count > skipped.get(system, 0):
                    note = (
                        f"{count - skipped.get(system, 0)} records from {system} not stored: "
                        "an id no store column can hold (empty, too long, or with a NUL)"
                    )
                    summary.warnings.append(note)
                    log.warning(note, extra={"system": system})
            phase("pull")
            if drains and options.gone_check is not None and not deadline.pull_over():
                check_known(self, summary, as_of, options.gone_check)  # deletions no pull sees
                phase("gone check")
            if deadline.passed():
                deadline.note("nothing scored or written")
            else:
                self._score_and_write(options, summary, as_of, pending, phase)
            if drains and deadline.reached:
                self._commit_stored(pending, whole, as_of, resumes, summary)  # queue: next run
            elif drains:
                for system, cursors in pending.items():
                    self.store.commit_cursors(system, cursors, as_of)
                drain_queue(self, queued, options, summary)
                phase("queue")
            purge_for_run(self.store, self.rules, options, summary, as_of, deadline.reached)
            phase("purge")
            if deadline.reached:
                summary.status = "partial"
                summary.warnings.append(deadline.warning())
                log.warning("sync cut short by its deadline", extra={"cut": deadline.cut})
        except ApiError as exc:
            summary.status, summary.error = "failed", str(exc)
            if isinstance(exc, BudgetExhausted) and drains:
                self._commit_stored(pending, whole, as_of, resumes)
            raise
        except BaseException as exc:
            # Anything else (a store error, Ctrl-C) is named by its type only: its text
            # may quote a connection URL.
            summary.status, summary.error = "failed", type(exc).__name__
            let_go_of_interrupted(exc)
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
                budget = connector.budget()
                stats.budget = None if budget is None else dict(budget)
            summary.elapsed = time.perf_counter() - started
            finished = as_of + timedelta(seconds=summary.elapsed)
            self.store.finish_run(run, summary.status, summary.as_dict(), finished)
            log.info("sync finished", extra={"summary": summary.as_dict()})
        return summary

    def _score_and_write(self, options: SyncOptions, summary: SyncSummary, as_of: datetime,
                         pending: dict[str, dict[str, str]],
                         phase: Callable[[str], None]) -> None:  # fmt: skip
        """Score who is due, plan what differs from what was written, write it."""
        patience = min(RECORD_STALE_AFTER, self.deadline.remaining())
        if not options.dry_run and wait_for_rescores(self.store, self.progress, limit=patience):
            summary.warnings.append(
                f"rescores still at work after {patience:.0f} s: taken as stale"
            )
        scored = score_due(self, options, summary, as_of)
        batch, people, written = scored.batch, scored.people, scored.written
        phase("score")
        plan = self.plan(batch, people, options, written, as_of)
        # A trial writes only what it sampled, a dry run nothing: neither moves a due.
        keeps_due = not options.dry_run and options.limit is None
        landing = landing_for(self, scored, plan, options)  # each planned person, as landed
        summary.changed = len(plan.records)
        summary.plan = {system: sent_writes(plan.of(system)) for system in plan.writes}
        phase("plan")  # the write phase: from handing the first batch to the connector
        landed: dict[str, list[str]] = {}
        outcomes = write_systems(self, plan, options, summary, as_of, landing)
        for connector in self.connectors:
            if (outcome := outcomes.get(connector.system)) is not None:
                landed[connector.system] = list(outcome.written)
                until = max(outcome.stamps, default=None)
                self._note_own_writes(connector, pending[connector.system], as_of, until)
        if not options.dry_run:
            save_written(self, scored, plan, landed, dues=keeps_due, landing=landing)
        write_accounts(self, scored, options, summary.accounts, as_of)  # onto company records
        summary.shadow = write_shadow(self, options, summary.shadow, scored.people, as_of)
        summary.models = write_models(self, options, scored.models, scored.people, as_of)
        phase("write")

    # -- pull -----------------------------------------------------------------------------------

    def _commit_stored(self, pending: Mapping[str, Mapping[str, str]],
                       whole: Mapping[str, set[str]], as_of: datetime,
                       resumes: Mapping[str, Mapping[str, str | None]],
                       summary: SyncSummary | None = None) -> None:  # fmt: skip
        """A run stopped by the day's budget or cut short by its deadline commits the cursors
        of the streams it pulled whole and the resume points of those cut (`sync.resume`), so
        the next run does not spend its budget or time on them again: safe, as whoever they
        brought stays due until their writes land (`sync.dues`). `summary`, given for a
        deadline, names the streams cut with no resume point, and warns of those cut so again."""
        stuck = commit_cut(self.store, self.connectors, pending, whole, resumes, as_of)
        if summary is not None and stuck:
            summary.stuck = stuck
            warning = stuck_warning(self.store, stuck)
            if warning is not None:
                summary.warnings.append(warning)
                log.warning(warning, extra={"stuck": stuck})

    def _pull(self, connector: Connector, options: SyncOptions, summary: SyncSummary,
              as_of: datetime, pending: dict[str, str], whole: set[str],
              resumes: dict[str, str | None]) -> None:  # fmt: skip
        """Pull every stream into the store; `pending` gets each page's cursor (committed once
        writes landed), `resumes` each stream's last resume point, `whole` the streams ended."""
        stats = summary.systems.setdefault(connector.system, SystemSummary())
        if self.deadline.pull_over():
            self.deadline.note(f"{connector.system} not pulled")
            return
        if options.limit is not None:
            self._pull_sample(connector, options.limit, stats, as_of)
            return
        stored = prepare_pull(self, connector, options, pending, summary.warnings, as_of)
        from sync.fanin import fan_in_groups
        from sync.storing_process import PageSaver

        def to_the_end(stream: str) -> Iterator[Page | None]:  # then None: pulled whole
            pages = functools.partial(connector.pull, stream, stored.get(stream))
            return pages_until(pages, self.deadline, f"{connector.system} {stream}")

        def store(items: Sequence[tuple[str, Page | None]]) -> None:
            pages = [(stream, page) for stream, page in items if page is not None]
            if pages:
                self.store_pages(connector.system, [page for _, page in pages], stats, as_of)
            for stream, page in pages:
                if page.cursor is not None:
                    pending[stream] = page.cursor
                resumes[stream] = page.resume
            whole.update(stream for stream, page in items if page is None)

        self.saver = saver = PageSaver(self.store)
        try:
            fan_in_groups(
                {s: functools.partial(to_the_end, s) for s in connector.streams},
                store,
                name=f"pull-{connector.system}",
                seconds=stats.stream_seconds,
                most=GROUP_PAGES,
                weight=page_rows,
                heaviest=GROUP_ROWS,
                first=connector.streams[:1],  # the contacts: stored ahead of activity pages
            )
        finally:
            self.saver = None
            saver.close()

    def _pull_sample(
        self, connector: Connector, limit: int, stats: SystemSummary, as_of: datetime
    ) -> None:
        """A trial's pull: the first `limit` contacts, each fetched with all its activity,
        so the trial writes the scores a full run would write for them."""
        taken = 0
        sampled = self._sampled.setdefault(connector.system, set())
        for page in connector.pull(connector.streams[0], None):
            for contact in page.contacts[: limit - taken]:
                whole = connector.fetch(contact.id)
                self.store_page(connector.system, whole, stats, as_of)
                sampled.add(contact.id)
                taken += 1
            if taken >= limit:
                return

    def store_page(self, system: str, page: Page, stats: SystemSummary, as_of: datetime) -> None:
        self.store_pages(system, [page], stats, as_of)

    def store_pages(
        self, system: str, pages: Sequence[Page], stats: SystemSummary, as_of: datetime
    ) -> None:
        """Store pulled pages, in one transaction (`sync.storing_process.store_pulled`)."""
        from sync.storing_process import store_pulled

        store_pulled(self, system, pages, stats, as_of)

    def beat(self) -> None:
        """Tell the run's lock the run is making progress (`RunLock.beat`)."""
        if self._lock is not None:
            self._lock.beat()

    # -- score and diff -------------------------------------------------------------------------

    def written(self) -> dict[str, dict[str, dict[str, str]]]:
        """What was last written, per system and record: every system the store knows,
        configured here or not (`explain` needs no token)."""
        return {s: self.store.written_values(s) for s in self.store.systems()}

    def score(
        self,
        person_ids: Sequence[int] | None = None,
        *,
        as_of: datetime | None = None,
        written: Written | None = None,
        notes: list[str] | None = None,
        claim: bool = False,
    ) -> tuple[ScoreBatch, People]:
        """Everyone in the store (or these persons), scored as of `as_of` (default: now);
        `notes` receives a line per field the rules compare as a number that holds text
        that did not parse as one, and the batch's own notes (a filter that stood down);
        `claim`: hand over for good those sales capacity lets through (`sync.capacity`)."""
        people = self.store.load_people(person_ids)
        moment = self.clock() if as_of is None else as_of
        before = self.written() if written is None else written
        batch, _ = score_people(self, people, moment, before, notes, claim=claim)
        return batch, people

    def plan(
        self,
        batch: ScoreBatch,
        people: People,
        options: SyncOptions,
        written: Written,
        as_of: datetime,
    ) -> WritePlan:
        """Per system: the write that brings each record up to date."""
        systems = {c.system for c in self.connectors} | self.elsewhere
        # A full run tries everything again, refused writes included.
        refused = {s: {} if options.full else self.store.refused(s) for s in systems}
        # Merged away or deleted: a write can never land. `sync.vanished` drops such records
        # from the store; this passes over those a store kept from before it did.
        vanished = {s: gone_records(self.store, s) for s in systems}
        plan = WritePlan({s: {} for s in systems})
        row_of = {str(pid): row for row, pid in enumerate(batch.contact_ids)}
        excluded = frozenset(batch.excluded_ids)
        emails = {contact.id: contact.email for contact in people.contacts}
        for person, records in people.records.items():
            row = row_of.get(person)
            if row is None and person not in excluded:
                continue
            for system, record in records:
                if system not in plan.writes:
                    continue
                fields = self.fields[system]
                # excluded: every field emptied, once (then the diff finds nothing new)
                values = fields.cleared() if row is None else fields.values(batch, row, as_of)
                mapped = self.stage_maps.get(system)
                reaches = fields.capabilities.lifecycle_records
                if row is not None and mapped is not None and (reaches is None or reaches(record)):
                    # The record's own value: two records of one person may stand apart.
                    held = fields.held(people.record_attributes.get((system, record), {}))
                    forward = mapped.value(batch.stage(row), held.lifecycle)
                    if forward is not None:
                        values = {**values, mapped.field: forward}
                if record in vanished[system]:
                    continue
                before = refused[system].get(record)
                if before is not None and fields.same(values, before):
                    continue  # refused for good with these very values: a fix must come first
                if fields.differs(values, written.get(system, {}).get(record)):
                    by_email = fields.capabilities.record_key == "email"
                    email = emails.get(person) if by_email else None
                    plan.writes[system][record] = Write(record, values, email)
        if options.limit is not None:
            # A trial writes only the records it fetched whole, never stale ones.
            plan = WritePlan(
                {
                    s: {r: w for r, w in planned.items() if r in self._sampled.get(s, set())}
                    for s, planned in plan.writes.items()
                }
            )
        return plan.apart(self.elsewhere)

    # -- write ----------------------------------------------------------------------------------

    def write(
        self,
        connector: Connector,
        writes: Sequence[Write],
        options: SyncOptions,
        stats: SystemSummary,
        as_of: datetime,
        landing: Landing | None = None,
    ) -> WriteOutcome:
        """Write the plan in batches, each recorded as it lands (`sync.writing`)."""
        return write_batches(self, connector, writes, options, stats, as_of, landing)

    def _note_own_writes(
        self, connector: Connector, cursors: dict[str, str], as_of: datetime, until: datetime | None
    ) -> None:
        """Amend the contacts cursor so the next pull passes over what this run wrote
        (every written record carries this run's `scored_at`)."""
        stream = connector.streams[0]
        fields = self.fields.get(connector.system)
        if until is None or stream not in cursors or fields is None:
            return
        # The field holds the time as written (to the second), which the filter must match.
        written = datetime.fromisoformat(timestamp(as_of))
        ours = OwnWrites(fields.names[SCORED_AT], written, until)
        cursors[stream] = connector.after_writes(stream, cursors[stream], ours)
