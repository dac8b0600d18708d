"""The write phase: a system's planned writes sent in batches, side by side, each batch's
outcome recorded as it lands, none sent once the run's deadline has passed; the systems
written side by side too, so that one whose vendor works on our writes apart (Mailchimp's
batch operations, Salesforce's Bulk API 2.0 ingest jobs) is waited for while the others'
writes go on."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Collection, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from connectors.errors import ApiError, AuthError, BudgetExhausted
from connectors.protocol import GatesCalls, Learns, Write, WriteFailure, WriteOutcome
from sync.beside import beside
from sync.deadline import submitted_in_time
from sync.dues import meta_value, set_meta
from sync.fields import sent_writes
from sync.logs import without_addresses
from sync.recorder import OutcomeRecorder
from sync.rulefile import rule_version
from sync.run_tables import LogContext
from sync.store import StateStore
from sync.summary import SyncOptions, SyncSummary, SystemSummary

if TYPE_CHECKING:
    from sync.landing import Landing
    from sync.pipeline import Sync

log = logging.getLogger("leadscore.sync")


class Writer(Protocol):
    """What the write phase needs of a system: a connector, or its company records'
    side (`sync.account_sync.CompanySide`)."""

    @property
    def system(self) -> str: ...

    def write_size(self, planned: int) -> int: ...

    def write(self, writes: Sequence[Write]) -> WriteOutcome: ...


@dataclass
class WritePlan:
    """Per system, the write that brings each record up to date, in the order planned."""

    writes: dict[str, dict[str, Write]] = field(default_factory=dict)
    pending: dict[str, set[str]] = field(default_factory=dict)
    """Per system another run writes, the records whose values differ there: their
    persons stay due for that run (`Sync.elsewhere`)."""

    def apart(self, elsewhere: Collection[str]) -> WritePlan:
        """The plan with the writes of the systems in `elsewhere` set apart as pending."""
        if not elsewhere:
            return self
        kept = {s: w for s, w in self.writes.items() if s not in elsewhere}
        return WritePlan(kept, {s: set(self.writes.get(s, {})) for s in elsewhere})

    def of(self, system: str) -> list[Write]:
        return list(self.writes.get(system, {}).values())

    @property
    def records(self) -> set[str]:
        """Every record id planned, in any system."""
        return {record for planned in self.writes.values() for record in planned}


def write_batches(
    job: Sync,
    connector: Writer,
    writes: Sequence[Write],
    options: SyncOptions,
    stats: SystemSummary,
    as_of: datetime,
    landing: Landing | None = None,
) -> WriteOutcome:
    """Write the plan in batches, each handed to the recorder as it lands (recorded
    before this returns: `OutcomeRecorder`, which tells `landing` what it recorded as
    written, to save each person whose writes have all landed); what all of them did. The
    connector, told how many writes the run has, says how large a batch is: its
    system's batch, or every write at once for a bulk path (`Connector.write_size`).
    At most `options.workers` batches are in flight (a connector that `GatesCalls` gets
    a thread more, which makes its batch ready while the others' requests are out); none
    is sent once the run's deadline has passed (`Sync.deadline`), and whoever those were
    for stays due."""
    if isinstance(connector, Learns):
        recall_learned(job.store, connector.system, connector)
    size = max(1, connector.write_size(len(writes))) if writes else 1
    batches = [writes[i : i + size] for i in range(0, len(writes), size)]

    def write_one(chunk: Sequence[Write]) -> WriteOutcome:
        try:
            # the reasons' substance is kept in the store, never sent
            outcome = connector.write(sent_writes(chunk))
        except (AuthError, BudgetExhausted):
            raise
        except ApiError as exc:
            # Retries are spent: keep the reason; the next run plans these records again.
            error = without_addresses(str(exc))  # a vendor's text may quote an address
            log.warning("write batch failed", extra={"system": connector.system, "error": error})
            outcome = WriteOutcome(
                [], [WriteFailure(w.record_id, str(exc), exc.retryable) for w in chunk]
            )
        recorder.hand_in({w.record_id: w.values for w in chunk}, outcome)
        job.progress(f"written {connector.system}", len(chunk))
        job.beat()
        return outcome

    done = WriteOutcome()
    logged = LogContext(job.run_id, rule_version(job.rules_text))
    told = None if landing is None else landing.recorded
    recorder = OutcomeRecorder(job.store, connector.system, as_of, logged, told)
    workers = max(1, options.workers)
    # A connector that holds its requests out to `workers` gets a thread more: it makes
    # the next batch ready while the others' requests are out (`GatesCalls`).
    gated = connector if isinstance(connector, GatesCalls) and len(batches) > workers else None
    threads = workers + 1 if gated is not None else workers
    if gated is not None:
        gated.calls_in_flight(workers)
    try:
        with recorder, ThreadPoolExecutor(max_workers=threads) as pool:
            sent = submitted_in_time(
                pool, write_one, batches, job.deadline, most=threads, what=connector.system,
                size=len,
            )  # fmt: skip
            for outcome in sent:
                stats.written += len(outcome.written)
                stats.failed += len(outcome.failed)
                done.written.extend(outcome.written)
                done.failed.extend(outcome.failed)
                done.stamps.extend(outcome.stamps)
                done.gone.extend(outcome.gone)
    finally:
        if gated is not None:
            gated.calls_in_flight(None)
    stats.withdrawn += recorder.withdrawn
    if isinstance(connector, Learns):
        keep_learned(job.store, connector.system, connector)
    return done


def learned_key(system: str) -> str:
    return f"learned:{system}"


def recall_learned(store: StateStore, system: str, connector: Learns) -> None:
    """Hand the connector what the store kept of what it learned in earlier runs."""
    with store.engine.connect() as connection:
        text = meta_value(connection, learned_key(system))
    try:
        kept = json.loads(text) if text else {}
    except ValueError:
        kept = {}
    if isinstance(kept, dict):
        connector.recall(kept)


def keep_learned(store: StateStore, system: str, connector: Learns) -> None:
    """Keep what the connector knows now of its system, for the next process."""
    learned = dict(connector.learned())
    if learned:
        text = json.dumps(learned, sort_keys=True)
        with store.writing(), store.engine.begin() as connection:
            set_meta(connection, learned_key(system), text)


def write_systems(
    job: Sync,
    plan: WritePlan,
    options: SyncOptions,
    summary: SyncSummary,
    as_of: datetime,
    landing: Landing | None = None,
) -> dict[str, WriteOutcome]:
    """Each system's planned writes (`Sync.write`), the systems side by side, each on a
    thread of its own (`sync.beside`); what each did, by system (none in a dry run). Every
    system's write has ended before this returns or raises; an error is the first one in
    the connectors' order, raised once all have ended (the others' landed writes are
    recorded by then, as `write_batches` records each batch)."""
    started: dict[str, Future[WriteOutcome]] = {}
    for connector in job.connectors:
        stats = summary.systems[connector.system]
        writes = plan.of(connector.system)
        stats.planned = len(writes)
        if not options.dry_run:
            call = functools.partial(job.write, connector, writes, options, stats, as_of, landing)
            started[connector.system] = beside(call, name=f"write-{connector.system}")
    wait(started.values())
    return {system: future.result() for system, future in started.items()}
