"""The state store: what the sync knows between runs, on SQLAlchemy.

A SQLite file by default; any SQLAlchemy URL (PostgreSQL for shared and
serverless use) otherwise. The tables are in `sync.schema`; what reading
people back gives is in `sync.people`.

Every method is one transaction, so a process killed at any point leaves the
store as it was before or after that method, never in between. Activities keep
the system's own contact reference (record id or address) and are joined to
persons when read, so they may arrive before or after their contact. A record
follows its id before its address (`sync.identity`).
"""

from __future__ import annotations

import json
import threading
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from connectors.protocol import Withdrawn
from scoring import Activity, Contact, normalize_email
from sync.activity_rows import activity_key
from sync.dues import due_filter, mark_due_by
from sync.json_text import dumps
from sync.minimise import Kept
from sync.people import People, moment
from sync.pg_schema import ensure_schema
from sync.readback import stored_people
from sync.run_tables import LogContext, keep_written, log_run, log_started, log_written
from sync.saving import Prepared, prepare_pages, save_group
from sync.schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    StoreVersionError,
    activities,
    bounded,
    chunks,
    cursors,
    failures,
    forget_records,
    identities,
    meta,
    persons,
    runs,
    written,
)
from sync.sqlite_files import new_sqlite_file, remove_sqlite_file, sqlite_pragmas

__all__ = [
    "SCHEMA_VERSION",
    "People",
    "StateStore",
    "StoreVersionError",
    "activity_key",
    "let_go_of_interrupted",
    "meta",
]


def let_go_of_interrupted(error: BaseException) -> None:
    """After an interrupt (Ctrl-C) that may have come inside a store statement: free what
    the frames it passed through hold. SQLite's driver cannot finalise a statement cut off
    halfway while its cursor lives, and the interrupt's traceback keeps the cursor alive,
    so the file's write lock stayed held and writes after it (the run's end, its lock given
    back) waited 30 s each, then failed as "database is locked"."""
    if not isinstance(error, Exception):
        traceback.clear_frames(error.__traceback__)


@dataclass(frozen=True)
class Failure:
    system: str
    record_id: str
    reason: str
    retryable: bool
    attempts: int
    failed_at: datetime


@dataclass(frozen=True)
class Run:
    id: int
    mode: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    summary: dict[str, Any]


DEADLOCK_TRIES = 4
"""Runs of a transaction that PostgreSQL aborted to break a deadlock with another process."""


def is_deadlock(error: sa.exc.DBAPIError) -> bool:
    """Whether the database aborted the transaction to break a deadlock (SQLSTATE 40P01)."""
    return getattr(error.orig, "sqlstate", None) == "40P01"


class StateStore:
    """The sync's memory between runs."""

    def __init__(self, url: str) -> None:
        self.url = url
        options: dict[str, Any] = {}
        if url.startswith("sqlite"):
            options["connect_args"] = {"timeout": 30}
        self.engine: Engine = sa.create_engine(url, **options)
        self._created = new_sqlite_file(self.engine)
        # Threads of one sync write one at a time: SQLite has a single writer anyway, and
        # read-then-insert steps stay consistent. Other processes are handled by the
        # database's own locking and the conflict-tolerant inserts.
        self._writing = threading.RLock()
        self.skipped: Counter[str] = Counter()
        """Pulled records no column could key, per system (see `save_contacts`)."""
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", sqlite_pragmas)
        ensure_schema(self.engine)  # a tenant's own, on PostgreSQL (`sync.tenants`)
        self.migrate()

    def __repr__(self) -> str:
        return f"StateStore({self.engine.url.render_as_string(hide_password=True)!r})"

    def writing(self) -> threading.RLock:
        """The lock this process's writers share (SQLite has one writer at a time)."""
        return self._writing

    def close(self) -> None:
        self.engine.dispose()

    def discard_if_unused(self) -> None:
        """Close, and remove the SQLite file if this store created it and nothing was put in
        it (a command that failed, or only looked), so that none is left behind."""
        empty = self._created is not None and self._holds_nothing()
        self.engine.dispose()
        if empty and self._created is not None:
            remove_sqlite_file(self._created)

    def _holds_nothing(self) -> bool:
        tables = (persons, identities, activities, written, failures, cursors, runs)
        try:
            with self.engine.connect() as connection:
                return not any(connection.execute(sa.select(t).limit(1)).first() for t in tables)
        except sa.exc.SQLAlchemyError:
            return False

    # -- schema ---------------------------------------------------------------------------------

    def version(self) -> int:
        with self.engine.connect() as connection:
            if not sa.inspect(connection).has_table("meta"):
                return 0
            value = connection.execute(
                sa.select(meta.c.value).where(meta.c.key == "schema_version")
            ).scalar()
        return int(value or 0)

    def migrate(self) -> None:
        """Bring the schema to `SCHEMA_VERSION`, one recorded step at a time."""
        current = self.version()
        if current > SCHEMA_VERSION:
            raise StoreVersionError(
                f"the state store is at schema version {current}; this leadscore knows "
                f"{SCHEMA_VERSION}: upgrade leadscore"
            )
        for step in range(current, SCHEMA_VERSION):
            with self._writing, self.engine.begin() as connection:
                MIGRATIONS[step](connection)
                connection.execute(sa.delete(meta).where(meta.c.key == "schema_version"))
                connection.execute(
                    sa.insert(meta).values(key="schema_version", value=str(step + 1))
                )

    # -- cursors --------------------------------------------------------------------------------

    def cursors(self, system: str) -> dict[str, str]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(cursors.c.stream, cursors.c.value).where(cursors.c.system == system)
            )
            return {stream: value for stream, value in rows}

    def commit_cursors(self, system: str, values: Mapping[str, str], at: datetime) -> None:
        if not values:
            return
        with self._writing, self.engine.begin() as connection:
            connection.execute(
                sa.delete(cursors).where(
                    cursors.c.system == system, cursors.c.stream.in_(list(values))
                )
            )
            connection.execute(
                sa.insert(cursors),
                [
                    {"system": system, "stream": s, "value": v, "updated_at": at.timestamp()}
                    for s, v in values.items()
                ],
            )

    def save_contacts(self, system: str, found: Sequence[Contact], at: datetime) -> int:
        """Store pulled contacts, merging people by email; returns how many are new or changed.
        A record follows its id: when its address changes, what it had under the old address
        stays with it (`sync.identity`). A record no column can key is skipped and counted in
        `skipped`, never stopping a run."""
        return self.save_pages(system, [(found, ())], at)[0][0]

    # -- activities -----------------------------------------------------------------------------

    def save_activities(self, system: str, found: Sequence[Activity]) -> int:
        """Store activities not seen before (by their id), and the latest of revisable ones
        (`Activity.revisable`); returns how many were new. See `save_contacts` on skipping."""
        return self.save_pages(system, [((), found)], datetime.now(UTC))[0][1]

    def save_pages(
        self,
        system: str,
        pages: Sequence[tuple[Sequence[Contact], Sequence[Activity]]],
        at: datetime,
        ours: frozenset[str] = frozenset(),
        withdrawn: Sequence[Sequence[Withdrawn]] = (),
        kept: Kept | None = None,
    ) -> list[tuple[int, int, int]]:
        """Store pages of pulled (contacts, activities) in one transaction, each page as
        `save_contacts` then `save_activities` would, in order; for each page, how many
        contacts were new or changed, how many activities were new and how many its
        `withdrawn` took out of the store. Several pages in one
        transaction write the store's hot pages (the indexes' leaves) once, not once a page.
        A contact whose only news is in `ours` (the fields leadscore writes, read again
        after a write) is stored as pulled and counts as no change. `withdrawn`, one entry
        per page (or none), names activities the system took back: deleted right after the
        page's own activities, their persons rescored (`sync.withdrawals`). `kept`: only
        the fields it names are stored (`sync.minimise`)."""
        prepared, unusable = prepare_pages(system, pages, kept)
        self.skipped[system] += unusable
        return self.save_prepared(system, prepared, at, ours, withdrawn)

    def save_prepared(
        self,
        system: str,
        prepared: Sequence[Prepared],
        at: datetime,
        ours: frozenset[str] = frozenset(),
        withdrawn: Sequence[Sequence[Withdrawn]] = (),
    ) -> list[tuple[int, int, int]]:
        """`save_pages` on pages made ready to store (`sync.saving.prepare_pages`), in
        this process or in the pull's storing process (`sync.storing_process`)."""
        for attempt in range(DEADLOCK_TRIES):
            try:
                with self._writing, self.engine.begin() as connection:
                    counts = save_group(connection, system, prepared, at, ours, withdrawn)
                return counts
            except sa.exc.DBAPIError as error:
                # Two processes storing the same people in another order: PostgreSQL aborts
                # one transaction with a deadlock and asks for it to be run again.
                if not is_deadlock(error) or attempt + 1 == DEADLOCK_TRIES:
                    raise
        raise AssertionError("unreachable")

    # -- reading people back --------------------------------------------------------------------

    def load_people(
        self,
        person_ids: Iterable[int] | None = None,
        *,
        due_by: float | None = None,
        activity_ids: bool = False,
    ) -> People:
        """Persons (all, these, or those due by `due_by` epoch seconds) with their merged
        attributes and all their activities, ready to score (`activity_ids`: with each
        activity's `system:id`)."""
        wanted = None if person_ids is None else sorted(set(person_ids))
        chosen = None if due_by is None else due_filter(due_by)
        with self.engine.connect() as connection:
            return stored_people(connection, wanted, chosen, activity_ids=activity_ids)

    def person_of(self, key: str) -> int | None:
        """The person with this email, or with this record id in any system."""
        with self.engine.connect() as connection:
            email = normalize_email(key)
            if email is None:
                # `email == None` would match every person without an address.
                return None
            found = connection.execute(sa.select(persons.c.id).where(persons.c.email == email))
            pid = found.scalar()
            if pid is None:
                pid = connection.execute(
                    sa.select(identities.c.person_id).where(identities.c.record_id == key)
                ).scalar()
        return None if pid is None else int(pid)

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as connection:
            return {
                name: int(
                    connection.execute(sa.select(sa.func.count()).select_from(t)).scalar() or 0
                )
                for name, t in (
                    ("persons", persons),
                    ("identities", identities),
                    ("activities", activities),
                    ("written", written),
                    ("failures", failures),
                )
            }

    def records_by_person(self) -> dict[int, list[tuple[str, str]]]:
        """Every record the store holds, as (system, record id), by person."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(identities.c.person_id, identities.c.system, identities.c.record_id)
            )
            found: dict[int, list[tuple[str, str]]] = {}
            for person, system, record in rows:
                found.setdefault(int(person), []).append((system, record))
            return found

    # -- written values and failures ------------------------------------------------------------

    def written_values(self, system: str) -> dict[str, dict[str, str]]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(written.c.record_id, written.c["values"]).where(
                    written.c.system == system
                )
            )
            return {record: json.loads(values) for record, values in rows}

    def record_written(
        self, system: str, values: Mapping[str, Mapping[str, str]], at: datetime,
        log: LogContext | None = None,
        then: Callable[[sa.Connection], Callable[[], None]] | None = None,
    ) -> None:  # fmt: skip
        """Remember what landed, and forget earlier failures of those records; with `log`,
        append it to the write log too (`sync.run_tables.log_written`, copied from the rows
        just upserted: the values are encoded once); `then(connection)` in the same
        transaction, after them (`sync.landing.Landing.recorded`), and what it returns
        called if that transaction does not commit."""
        if not values:
            return
        stamp = at.timestamp()
        undo: list[Callable[[], None]] = []
        try:
            with self._writing, self.engine.begin() as connection:
                # most runs hold no failures of the system: then there are none to forget
                failing = connection.execute(
                    sa.select(failures.c.record_id).where(failures.c.system == system).limit(1)
                ).first()
                for part in chunks(list(values)):
                    if failing is not None:
                        forget_records(connection, failures, system, part)
                    keep_written(connection, [(system, r, dumps(values[r]), stamp) for r in part])
                    if log is not None:
                        log_written(connection, system, part, log)
                if then is not None:
                    undo.append(then(connection))
        except BaseException:
            for step in undo:
                step()
            raise

    def record_failures(
        self,
        system: str,
        failed: Sequence[tuple[str, str, bool]],
        at: datetime,
        attempted: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        """Remember writes that did not land: (record id, reason, retryable), and what was sent."""
        if not failed:
            return
        with self._writing, self.engine.begin() as connection:
            ids = [record for record, _, _ in failed]
            attempts = dict(
                connection.execute(
                    sa.select(failures.c.record_id, failures.c.attempts).where(
                        failures.c.system == system, failures.c.record_id.in_(ids)
                    )
                ).all()
            )
            forget_records(connection, failures, system, ids)
            # tried again by the next run, which must then score them
            mark_due_by(connection, system, [r for r, _, retryable in failed if retryable], [])
            connection.execute(
                sa.insert(failures),
                [
                    {
                        "system": system,
                        "record_id": record,
                        "reason": bounded(reason, None),  # PostgreSQL refuses a NUL
                        "retryable": retryable,
                        "attempts": int(attempts.get(record, 0)) + 1,
                        "failed_at": at.timestamp(),
                        "attempted": (
                            dumps(attempted[record])
                            if attempted is not None and record in attempted
                            else None
                        ),
                    }
                    for record, reason, retryable in failed
                ],
            )

    def systems(self) -> list[str]:
        """The systems the store holds records or written values of."""
        with self.engine.connect() as connection:
            found = set(connection.execute(sa.select(identities.c.system).distinct()).scalars())
            found |= set(connection.execute(sa.select(written.c.system).distinct()).scalars())
        return sorted(found)

    def clear_refused(self, system: str) -> None:
        """Let refused writes be tried again (after a fix such as new fields or options)."""
        with self._writing, self.engine.begin() as connection:
            refused = connection.execute(
                sa.select(failures.c.record_id).where(
                    failures.c.system == system, failures.c.retryable.is_(False)
                )
            ).scalars()
            mark_due_by(connection, system, list(refused), [])
            connection.execute(
                sa.update(failures)
                .where(failures.c.system == system, failures.c.retryable.is_(False))
                .values(retryable=True)
            )

    def refused(self, system: str) -> dict[str, dict[str, str]]:
        """Records the system refused for good, with the values it refused."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(failures.c.record_id, failures.c.attempted).where(
                    failures.c.system == system,
                    failures.c.retryable.is_(False),
                    failures.c.attempted.is_not(None),
                )
            )
            return {record: json.loads(values) for record, values in rows}

    def failures(self, system: str | None = None) -> list[Failure]:
        with self.engine.connect() as connection:
            query = sa.select(failures).order_by(failures.c.system, failures.c.record_id)
            if system is not None:
                query = query.where(failures.c.system == system)
            return [
                Failure(
                    r.system, r.record_id, r.reason, r.retryable, r.attempts, moment(r.failed_at)
                )
                for r in connection.execute(query)
            ]

    # -- runs -----------------------------------------------------------------------------------

    def start_run(self, mode: str, at: datetime) -> int:
        with self._writing, self.engine.begin() as connection:
            return log_started(connection, mode, at.timestamp())

    def finish_run(self, run: int, status: str, summary: Mapping[str, Any], at: datetime) -> None:
        with self._writing, self.engine.begin() as connection:
            connection.execute(
                sa.update(runs)
                .where(runs.c.id == run)
                .values(status=status, finished_at=at.timestamp(), summary=dumps(summary))
            )
            log_run(connection, run, status, summary, at.timestamp())

    def runs(self, limit: int = 10) -> list[Run]:
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(runs).order_by(runs.c.id.desc()).limit(limit))
            return [
                Run(
                    r.id,
                    r.mode,
                    r.status,
                    moment(r.started_at),
                    None if r.finished_at is None else moment(r.finished_at),
                    json.loads(r.summary),
                )
                for r in rows
            ]
