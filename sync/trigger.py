"""One record rescored on request, beside the syncs, and the queue the syncs drain.

A webhook (a HubSpot workflow, a Salesforce flow) or a serverless handler asks for
a fresh score of one record; `leadscore rescore SYSTEM:RECORD_ID` asks the same
from a terminal (`rescore_record`):

    take the record's lock (`record:<digest>`)     held by a live rescore -> busy
    a live sync holds a configured system's lock?   -> queue the record -> queued
    fetch the record with its recent activity -> store the page -> roll its account
    up again -> score its person -> plan the writes of that person's records in every
    system -> write them, and its account's company records if it moved -> let go

Beside a running sync, each side takes its own lock first and looks for the
other's second, so at least one of them sees the other. A rescore that sees a sync
leaves the record in the `queue` table and calls no API; a sync waits, once its
pull is done, for the rescores holding a record's lock (`wait_for_rescores`), so
it reads what they wrote and never writes their records a second time.

The queue is one mechanism for every system. A sync fetches the records queued
before it began with its pull (`pull_queued`), so its own diff writes them; it
drains those queued while it ran before it lets its locks go (`drain_queue`,
scored as of the drain, so the activity that made a trigger ask is counted); an
entry is deleted once its writes are recorded, so one left by a killed run is the
next run's. A rescore that queues looks at the sync's locks again once its entry
is in: a sync that let them go meanwhile may have drained the queue already, so
the rescore goes on itself; and a sync looks at the queue once more after it let
its locks go (`settle_queue`), for entries put in at that very moment.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import wait as wait_for
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Literal

import sqlalchemy as sa

from connectors.errors import ApiError, RecordIdError, RejectedError
from connectors.protocol import Connector, Page, WriteOutcome
from scoring import ScoreBatch, whole_points
from sync.account_trigger import roll_up_again, write_account_plan
from sync.beside import beside
from sync.dues import mark_due_by
from sync.errors import BadRecord, RecordGone, RecordNotFound, SyncError
from sync.fields import REASONS_MAX_CHARS, written_reasons, written_score
from sync.gone_check import retire_if_gone
from sync.history import record_landed
from sync.locks import POLL, RECORD_STALE_AFTER, LockHeld, LockLost, held_locks, record_lock
from sync.logs import without_addresses
from sync.models import score_models, write_models
from sync.schema import ID_LENGTH, chunks, identities, queue, upsert_dialect, written
from sync.store import People, StateStore, let_go_of_interrupted
from sync.summary import SyncOptions, SyncSummary, SystemSummary

if TYPE_CHECKING:
    from sync.pipeline import Sync

log = logging.getLogger("leadscore.trigger")

DRAIN_ROUNDS = 3
"""Looks at the queue a sync takes before it lets its locks go; `settle_queue` takes
what a steady stream of triggers leaves after them."""

Status = Literal["done", "queued", "busy"]
ASKED_AGAIN_ROUNDS = 3
"""Rescores of a record one trigger makes, while others keep asking for it meanwhile."""


@dataclass(frozen=True)
class Rescored:
    """What a rescore did: the person's score and what it wrote, or that it left the
    record to a running sync (`queued`) or to another rescore of it (`busy`)."""

    system: str
    record_id: str
    status: Status
    person: int | None = None
    email: str | None = None
    score: int | None = None
    """The score as written: `DISQUALIFIED_SCORE` for a disqualified person."""
    points: int | None = None
    """The whole points the reasons add up to."""
    grade: str | None = None
    stage: str | None = None
    disqualified: bool = False
    reasons: str = ""
    written: dict[str, list[str]] = field(default_factory=dict)
    """System -> the records written there (none: every record held these values)."""
    failed: dict[str, dict[str, str]] = field(default_factory=dict)
    """System -> record -> why its write did not land (the next sync tries again)."""
    excluded: bool = False
    """The rules exclude the person (`exclude`): no score; `written`, its fields cleared."""
    accounts: dict[str, list[str]] = field(default_factory=dict)
    """System -> the company records written their account's new values (`account_trigger`)."""


def parse_record(who: str) -> tuple[str, str]:
    """`SYSTEM:RECORD_ID` as (system, record id), or `BadRecord` saying what is wrong."""
    system, colon, record = who.strip().partition(":")
    system, record = system.strip().lower(), record.strip()
    if not colon or not system or not record:
        raise BadRecord(f"expected SYSTEM:RECORD_ID, such as hubspot:12345, not {who!r}")
    if len(record) > ID_LENGTH or "\x00" in record:
        raise BadRecord(f"{system} record ids have at most {ID_LENGTH} characters and no NUL")
    return system, record


def rescore_record(
    job: Sync, system: str, record_id: str, *, prepare: Callable[[], None] | None = None
) -> Rescored:
    """Fetch one record, score its person and write what changed, under the record's
    lock; `queued` or `busy` (and no API call) when a sync or another rescore is at it.
    `prepare` (setup checks) runs once the rescore goes ahead, beside its fetch: the
    fetched page is stored and anything written only once it has returned, and its
    error, if it raises, is the rescore's (before the fetch's own)."""
    connector = next((c for c in job.connectors if c.system == system), None)
    if connector is None:
        configured = ", ".join(c.system for c in job.connectors) or "none"
        raise BadRecord(f"{system!r} is not a configured system (configured: {configured})")
    guard = record_lock(job.store, system, record_id)
    try:
        guard.acquire()
    except LockHeld:
        return Rescored(system, record_id, "busy")
    try:
        systems = {c.system for c in job.connectors}
        if systems & set(held_locks(job.store)):
            enqueue(job.store, system, record_id)
            if systems & set(held_locks(job.store)):
                return Rescored(system, record_id, "queued")
            # The sync let its locks go meanwhile, perhaps after its last look at the queue.
        check = None if prepare is None else beside(prepare, "leadscore-setup-check")
        with guard.kept_alive():  # a slow rescore (429s waited out) keeps its lock
            try:
                return _rescore(job, connector, record_id, guard.still_held,
                                _ready if check is None else check.result)  # fmt: skip
            finally:
                if check is not None:
                    wait_for([check])  # its calls end before the record's lock is let go
    except LockLost as lost:  # paused as long as the lock lasts: nothing more written
        enqueue(job.store, system, record_id)
        raise LockLost([*lost.lines, "the record is queued for the next sync"]) from None
    except BaseException as exc:
        let_go_of_interrupted(exc)  # so that the lock can be given back
        raise
    finally:
        guard.release()


def _ready() -> None:
    """No check to wait for."""


def _rescore(
    job: Sync,
    connector: Connector,
    record_id: str,
    held: Callable[[], None],
    checked: Callable[[], object],
) -> Rescored:
    """Fetch, score, write; again while another trigger queued the record meanwhile (it
    found the lock `busy`, and what made it ask may be newer than this fetch).
    `checked` returns once the setup check beside the first fetch has passed."""
    for _ in range(ASKED_AGAIN_ROUNDS):
        began = time.time()
        result = _rescore_once(job, connector, record_id, held, checked)
        checked = _ready
        forget_queued(job.store, connector.system, record_id, asked_by=began)
        if not _asked_since(job.store, connector.system, record_id, began):
            break
    return result


def _rescore_once(
    job: Sync,
    connector: Connector,
    record_id: str,
    held: Callable[[], None],
    checked: Callable[[], object],
) -> Rescored:
    system = connector.system
    as_of = job.clock()
    try:
        page = fetch_record(connector, record_id)
    except RecordNotFound:
        checked()  # a system that lacks leadscore's fields is said first
        held()  # and nothing retired after a pause either
        forget_queued(job.store, system, record_id)  # queued just before, if at all
        gone = retire_if_gone(job.store, connector, record_id, as_of)
        if gone is not None:
            how = "deleted for good" if gone.for_good else "deleted (archived)"
            raise RecordGone(f"{system} {how} that contact", for_good=gone.for_good) from None
        raise
    except BaseException:
        checked()
        raise
    checked()  # nothing is stored or written before the setup check has passed
    held()  # nor after a pause that let the lock go stale (a frozen serverless instance)
    job.store_page(system, page, SystemSummary(), as_of)
    found = page.contacts[0].id  # another id when the record was merged into it
    person = person_of_record(job.store, system, found)
    if person is None:
        raise BadRecord(f"{system} answered for {record_id!r} with an id no store column holds")
    held()
    # the person's account rolled up again; its company records written beside the person's
    plan = roll_up_again(job, person, as_of.timestamp())
    later = beside(lambda: write_account_plan(job, plan, as_of, held), "leadscore-accounts")
    batch, people, outcomes = write_persons(job, {person}, SyncOptions(), as_of, held=held)
    companies = {s: list(o.written) for s, o in later.result().items() if o.written}
    return replace(rescore_result(batch, people, system, record_id, outcomes), accounts=companies)


def _asked_since(store: StateStore, system: str, record_id: str, moment: float) -> bool:
    with store.engine.connect() as connection:
        found = connection.execute(
            sa.select(queue.c.queued_at).where(
                queue.c.system == system, queue.c.record_id == record_id
            )
        ).scalar()
    return found is not None and float(found) > moment


def rescore_result(
    batch: ScoreBatch,
    people: People,
    system: str,
    record_id: str,
    outcomes: Mapping[str, WriteOutcome],
) -> Rescored:
    """The result of a rescore from its batch of one (none: the person is excluded)."""
    written = {s: list(o.written) for s, o in outcomes.items() if o.written}
    failed = {s: {f.record_id: f.reason for f in o.failed} for s, o in outcomes.items() if o.failed}
    if not len(batch):
        person = int(batch.excluded_ids[0]) if batch.excluded_ids else None
        return Rescored(system, record_id, "done", person, excluded=True, written=written,
                        failed=failed)  # fmt: skip
    points, score = whole_points(float(batch.total[0])), written_score(batch, 0)
    return Rescored(
        system, record_id, "done", person=int(batch.contact_ids[0]),
        email=people.contacts[0].email if people.contacts else None,
        score=score, points=points, grade=batch.grade(0), stage=batch.stage(0),
        disqualified=bool(batch.disqualified[0]),
        reasons=written_reasons(batch, 0, score, REASONS_MAX_CHARS),
        written=written,
        failed=failed,
    )  # fmt: skip


def fetch_record(connector: Connector, record_id: str) -> Page:
    """The record with its recent activity, or `RecordNotFound` when the system has none."""
    try:
        page = connector.fetch(record_id)
    except RecordIdError as exc:  # not of the system's form: said, not traced
        raise BadRecord(str(exc)) from None
    except RejectedError as exc:
        if exc.status != 404:
            raise
        page = Page("contacts")
    if not page.contacts:
        raise RecordNotFound(f"{connector.system} has no contact {record_id!r}")
    return page


def write_persons(
    job: Sync,
    persons: Collection[int],
    options: SyncOptions,
    as_of: datetime,
    summary: SyncSummary | None = None,
    held: Callable[[], None] = lambda: None,
) -> tuple[ScoreBatch, People, dict[str, WriteOutcome]]:
    """Score these persons as of `as_of` and write what changed on their records in
    every system, through the sync's own plan and write path; `held()` before each write."""
    before = written_of(job.store, persons)
    batch, people = job.score(
        sorted(persons), as_of=as_of, written=before, claim=not options.dry_run
    )
    plan = job.plan(batch, people, options, before, as_of)
    if summary is not None:
        summary.changed += len(plan.records)
    outcomes = {}
    for connector in job.connectors:
        writes = plan.of(connector.system)
        if not writes:
            continue
        held()  # a rescore paused meanwhile (`RunLock.still_held`) writes nothing more
        stats = SystemSummary()
        if summary is not None:
            stats = summary.systems.setdefault(connector.system, stats)
        stats.planned += len(writes)
        outcomes[connector.system] = job.write(connector, writes, options, stats, as_of)
    landed = {system: outcome.written for system, outcome in outcomes.items()}
    if any(landed.values()):
        rows = {int(person): row for row, person in enumerate(batch.contact_ids)}
        with job.store.writing(), job.store.engine.begin() as connection:
            record_landed(connection, batch, rows, people.records, landed, as_of, job.rules_text)
    if job.models:  # and each extra model's fields (`sync.models`), unless paused
        batches = score_models(job, people, as_of, before)
        held()
        write_models(job, options, batches, people, as_of)
    return batch, people, outcomes


def person_of_record(store: StateStore, system: str, record_id: str) -> int | None:
    with store.engine.connect() as connection:
        found = connection.execute(
            sa.select(identities.c.person_id).where(
                identities.c.system == system, identities.c.record_id == record_id
            )
        ).scalar()
    return None if found is None else int(found)


def written_of(store: StateStore, persons: Collection[int]) -> dict[str, dict[str, dict[str, str]]]:
    """What was last written to these persons' records, per system and record (the
    rest of the store is not read: a rescore costs the same in any store)."""
    out: dict[str, dict[str, dict[str, str]]] = {}
    joined = written.join(
        identities,
        sa.and_(
            identities.c.system == written.c.system,
            identities.c.record_id == written.c.record_id,
        ),
    )
    with store.engine.connect() as connection:
        for part in chunks(sorted(persons)):
            rows = connection.execute(
                sa.select(written.c.system, written.c.record_id, written.c["values"])
                .select_from(joined)
                .where(identities.c.person_id.in_(list(part)))
            )
            for system, record, values in rows:
                out.setdefault(system, {})[record] = json.loads(values)
    return out


# -- the queue ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Queued:
    """A record a trigger left to a running sync, and when it asked last."""

    system: str
    record_id: str
    queued_at: float


def enqueue(store: StateStore, system: str, record_id: str, *, at: float | None = None) -> None:
    """Queue a record, asked at `at` (epoch seconds; default now). Asked again, it keeps
    the later time, so that a drain that read the earlier ask does not delete the later
    one. A trigger that gave up waiting dates its entry from its own arrival: a rescore
    whose fetch began after that covers it, and does not fetch again for it."""
    row = {"system": system, "record_id": record_id, "queued_at": time.time() if at is None else at}
    with store.writing(), store.engine.begin() as connection:
        mark_due_by(connection, system, [record_id], [])  # the sync's diff must score it
        insert = upsert_dialect(connection).insert(queue)
        later = sa.case(
            (insert.excluded.queued_at > queue.c.queued_at, insert.excluded.queued_at),
            else_=queue.c.queued_at,
        )
        connection.execute(
            insert.on_conflict_do_update(
                index_elements=["system", "record_id"], set_={"queued_at": later}
            ),
            [row],
        )


def queued_entries(store: StateStore, systems: Collection[str]) -> list[Queued]:
    """The records queued for these systems, oldest ask first."""
    with store.engine.connect() as connection:
        rows = connection.execute(
            sa.select(queue.c.system, queue.c.record_id, queue.c.queued_at)
            .where(queue.c.system.in_(sorted(systems)))
            .order_by(queue.c.queued_at)
        ).all()
    return [Queued(str(s), str(r), float(at)) for s, r, at in rows]


def forget_entries(store: StateStore, entries: Sequence[Queued]) -> None:
    """Delete entries handled, unless asked again since they were read."""
    if not entries:
        return
    with store.writing(), store.engine.begin() as connection:
        for entry in entries:
            connection.execute(
                sa.delete(queue).where(
                    queue.c.system == entry.system,
                    queue.c.record_id == entry.record_id,
                    queue.c.queued_at == entry.queued_at,
                )
            )


def forget_queued(
    store: StateStore, system: str, record_id: str, *, asked_by: float | None = None
) -> None:
    """Delete a record's entry: its rescore, holding the record's lock, has written it.
    With `asked_by`, only an entry asked no later than that: a trigger that found the
    lock held while the rescore ran put a later one, which the rescore takes again."""
    where = [queue.c.system == system, queue.c.record_id == record_id]
    if asked_by is not None:
        where.append(queue.c.queued_at <= asked_by)
    with store.writing(), store.engine.begin() as connection:
        connection.execute(sa.delete(queue).where(*where))


def pull_queued(job: Sync, summary: SyncSummary, as_of: datetime) -> list[Queued]:
    """The records queued before this run began, fetched whole and stored with its pull,
    so that its own diff writes them; deleted by `drain_queue` once that is recorded."""
    connectors = {c.system: c for c in job.connectors}
    entries = queued_entries(job.store, list(connectors))
    for entry in entries:
        page = _fetched(job, connectors[entry.system], entry, summary, as_of)
        if page is not None:
            stats = summary.systems.setdefault(entry.system, SystemSummary())
            job.store_page(entry.system, page, stats, as_of)
    summary.queued += len(entries)
    return entries


def drain_queue(
    job: Sync, pulled: Sequence[Queued], options: SyncOptions, summary: SyncSummary
) -> None:
    """Forget the entries the run pulled (their writes are recorded), then rescore and
    write the records queued while it ran, a few rounds, before it lets its locks go."""
    forget_entries(job.store, pulled)
    connectors = {c.system: c for c in job.connectors}
    for _ in range(DRAIN_ROUNDS):
        entries = queued_entries(job.store, list(connectors))
        if not entries or job.deadline.pull_over():
            return  # left to `settle_queue`, or to the next run near the run's deadline
        as_of = job.clock()  # the activity a trigger asked about may be newer than the run
        persons: set[int] = set()
        for entry in entries:
            page = _fetched(job, connectors[entry.system], entry, summary, as_of)
            if page is None:
                continue
            stats = summary.systems.setdefault(entry.system, SystemSummary())
            job.store_page(entry.system, page, stats, as_of)
            found = (person_of_record(job.store, entry.system, c.id) for c in page.contacts)
            persons.update(p for p in found if p is not None)
        if persons:
            write_persons(job, persons, options, as_of, summary)
        forget_entries(job.store, entries)
        summary.queued += len(entries)


def _fetched(
    job: Sync, connector: Connector, entry: Queued, summary: SyncSummary, as_of: datetime
) -> Page | None:
    """The queued record, or None (and a warning) when the system has none (retired when
    it says it deleted it) or refuses to give it: such an entry is dropped rather than
    fail every sync to come. The warning, kept in the run's summary, names the system
    only: a run outlives an erasure, and holds no record id (the log line has it)."""
    try:
        return fetch_record(connector, entry.record_id)
    except RecordNotFound:
        said = f"a trigger queued a {entry.system} record that is gone"
        retire_if_gone(job.store, connector, entry.record_id, as_of)
    except (RejectedError, BadRecord):
        said = f"a trigger queued a {entry.system} record that cannot be read"
    summary.warnings.append(said)
    log.warning(said, extra={"system": entry.system, "record": entry.record_id})
    return None


def settle_queue(job: Sync, *, patience: float = RECORD_STALE_AFTER) -> None:
    """After a sync let its locks go: rescore, as a trigger would, the records queued
    at that very moment (or left by `drain_queue`'s last round), so that no entry
    waits for the next sync. A record whose rescore is `busy` is looked at again
    until its holder is done (at most `patience` seconds); a sync started meanwhile
    (`queued`) takes the queue over."""
    systems = [c.system for c in job.connectors]
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline and (entries := queued_entries(job.store, systems)):
        busy = False
        for entry in entries:
            try:
                result = rescore_record(job, entry.system, entry.record_id)
            except RecordNotFound:
                forget_entries(job.store, [entry])
                continue
            except (ApiError, SyncError) as exc:
                error = without_addresses(str(exc))
                log.warning("queued record left for the next sync", extra={"error": error})
                return
            if result.status == "queued":
                return
            busy = busy or result.status == "busy"
        if busy:
            time.sleep(POLL)
