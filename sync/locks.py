"""One sync at a time per store and system; one rescore at a time per record.

A run holds one row of the store's `locks` table per system it syncs, named
`sync:<system>`: inserted when absent (the insert is the lock: the primary key
lets one writer in, on SQLite and PostgreSQL alike), refreshed as the run goes
(`beat`: by the run's progress, and every `BEAT_EVERY` seconds from a thread of
its own, `kept_alive`), deleted when it ends. A lock left by a run that was
killed is stale and taken over: on the same host when its process is gone, on
any host when it has not been refreshed for `STALE_AFTER` seconds. Without a
lock, two syncs on one store would write the same contacts twice, or crash on
each other's rows.

A rescore of one record (`sync/trigger.py`) holds a row named `record:<hash>`
for the few calls it makes, refreshed from a thread of its own (`kept_alive`, so a
slow one keeps it); silent for `RECORD_STALE_AFTER` seconds, it is stale. A sync waits
for the record locks it finds held once its pull is done (`wait_for_rescores`), before
it reads what was written. A rescore that was silent that long itself (a serverless
instance frozen once its answer went out, thawed minutes later, its lock's thread with
it) stores and writes nothing more (`still_held`): others may have taken it as gone.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa

from sync.errors import SyncError
from sync.schema import locks, upsert_dialect
from sync.store import StateStore

STALE_AFTER = 30 * 60.0
"""Seconds without a refresh after which a lock held from another host is stale."""
BEAT_EVERY = 30.0
"""Seconds between two refreshes of a held lock."""
SYNC_PREFIX, RECORD_PREFIX = "sync:", "record:"
RECORD_STALE_AFTER = 60.0
"""Seconds a record's lock may go unrefreshed (a rescore lasts a few calls), and the
longest a sync waits for the rescores it finds at work."""
RECORD_BEAT_EVERY = 10.0
"""Seconds between two looks of a record lock's own thread (it refreshes the lock every
`BEAT_EVERY`, well within `RECORD_STALE_AFTER`)."""
POLL = 0.05
"""Seconds between two looks at the locks of rescores a sync waits for."""


class LockHeld(SyncError):
    """Another run holds the lock of a system this run would sync."""

    exit_code = 0  # a scheduled run that finds another one running is not a failure


class LockLost(SyncError):
    """This run was silent so long that its lock may be taken as stale, or was taken."""


def process_alive(pid: int) -> bool:
    """Whether a process of this host with that id exists (another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


@dataclass
class RunLock:
    """The locks of one run, held until `release`."""

    store: StateStore
    names: list[str]
    holder: str = field(default_factory=lambda: f"{socket.gethostname()}:{uuid.uuid4().hex}")
    clock: Callable[[], float] = time.time
    _beaten: float = 0.0
    _lost: str | None = None
    """Why the locks may be another run's now (`beat`), raised by `still_held`."""
    _looking: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def acquire(self) -> None:
        """Take every lock, or none: raises `LockHeld` naming who holds one."""
        taken: list[str] = []
        try:
            for name in sorted(self.names):
                self._take(name)
                taken.append(name)
        except LockHeld:
            self._drop(taken)
            raise
        self._beaten = self.clock()

    def beat(self) -> None:
        """Refresh the locks (at most every `BEAT_EVERY` seconds), so they are not stale.
        A silence as long as a lock lasts (the process paused), or a lock found no longer
        this holder's, is kept for `still_held` to raise: the lock's own thread, thawed
        with the run, may beat before the run looks."""
        now = self.clock()
        with self._looking:
            silent = now - self._beaten
            if silent >= self._silence() and self._lost is None:
                self._lost = (
                    f"paused {silent:.0f} s, as long as the lock lasts unrefreshed:"
                    " another run may have taken it; nothing more stored or written"
                )
            if silent < BEAT_EVERY:
                return
            self._beaten = now
        with self.store.writing(), self.store.engine.begin() as connection:
            kept = connection.execute(
                sa.update(locks).where(locks.c.holder == self.holder).values(beat=now)
            ).rowcount
        if kept < len(self.names) and self._lost is None:
            self._lost = "the lock was taken by another run"

    def still_held(self) -> None:
        """`beat`, or raise `LockLost` where another run may have taken this one's locks
        as stale: this holder silent as long as `stale` allows (its process paused: a
        Lambda or Cloud Functions instance is frozen once its answer is sent, with a
        rescore perhaps at work, and thawed when the next request comes), or a lock
        found no longer its own. Called before what a run fetched is stored or written,
        so that data fetched before the pause never lands over a newer run's."""
        self.beat()
        if self._lost is not None:
            raise LockLost(self._lost)

    def _silence(self) -> float:
        return min(map(_silence, self.names)) if self.names else STALE_AFTER

    @contextlib.contextmanager
    def kept_alive(self, every: float | None = None) -> Iterator[None]:
        """Refresh the locks every `every` seconds (`BEAT_EVERY`, a record's
        `RECORD_BEAT_EVERY`) from a thread of their own while the block runs, so that a
        run waiting a long time on one call (a Bulk API job that takes an hour, a rescore's
        429s waited out) is not taken for a killed one by the next run."""
        if every is None:
            every = RECORD_BEAT_EVERY if self._silence() < STALE_AFTER else BEAT_EVERY
        stop = threading.Event()

        def keep() -> None:
            while not stop.wait(every):
                with contextlib.suppress(Exception):  # the run's own calls still beat
                    self.beat()

        beating = threading.Thread(target=keep, name="lock-beat", daemon=True)
        beating.start()
        try:
            yield
        finally:
            stop.set()
            beating.join()

    def release(self) -> None:
        self._drop(self.names)

    def _drop(self, names: Sequence[str]) -> None:
        if not names:
            return
        with self.store.writing(), self.store.engine.begin() as connection:
            connection.execute(
                sa.delete(locks).where(locks.c.name.in_(list(names)), locks.c.holder == self.holder)
            )

    def _take(self, name: str) -> None:
        now, host = self.clock(), socket.gethostname()
        with self.store.writing(), self.store.engine.begin() as connection:
            held = connection.execute(sa.select(locks).where(locks.c.name == name)).first()
            if held is not None and stale(held.host, held.pid, held.beat, now, name):
                connection.execute(
                    sa.delete(locks).where(locks.c.name == name, locks.c.holder == held.holder)
                )
            row = {
                "name": name,
                "holder": self.holder,
                "host": host,
                "pid": os.getpid(),
                "since": now,
                "beat": now,
            }
            insert = upsert_dialect(connection).insert(locks).on_conflict_do_nothing()
            connection.execute(insert, [row])
            owner = connection.execute(sa.select(locks).where(locks.c.name == name)).first()
        if owner is None or owner.holder != self.holder:
            who = "another run" if owner is None else described(owner.host, owner.pid, owner.since)
            system = name.removeprefix(SYNC_PREFIX)
            raise LockHeld(f"skipped: {who} holds the lock for {system}")


def _silence(name: str) -> float:
    """Seconds without a refresh after which the lock `name` is stale (from another host;
    a record's from any)."""
    return RECORD_STALE_AFTER if name.startswith(RECORD_PREFIX) else STALE_AFTER


def stale(host: str, pid: int, beat: float, now: float, name: str = SYNC_PREFIX) -> bool:
    """Whether a lock's holder is gone: its process, on this host; silence, on another
    (or on any host, for a record's lock: a rescore that long is not at work)."""
    if host == socket.gethostname() and not process_alive(pid):
        return True
    silence = _silence(name)
    return now - beat > silence


def described(host: str, pid: int, since: float) -> str:
    started = datetime.fromtimestamp(since, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"the run started {started} (process {pid} on {host})"


def live_locks(store: StateStore, prefix: str) -> dict[str, str]:
    """The locks named `prefix...` that a live holder has now -> their holder (stale
    locks left by a kill aside)."""
    now = time.time()
    with store.engine.connect() as connection:
        rows = connection.execute(sa.select(locks).where(locks.c.name.startswith(prefix))).all()
    return {r.name: r.holder for r in rows if not stale(r.host, r.pid, r.beat, now, r.name)}


def held_locks(store: StateStore) -> list[str]:
    """The systems whose lock a live run holds now (stale locks left by a kill aside)."""
    return [name.removeprefix(SYNC_PREFIX) for name in live_locks(store, SYNC_PREFIX)]


def record_lock(store: StateStore, system: str, record_id: str) -> RunLock:
    """The lock of one record's rescore (not yet taken). The record id may be 64
    characters and the lock's name may not, so the name holds a digest of both."""
    digest = hashlib.sha256(f"{system}\x00{record_id}".encode()).hexdigest()[:40]
    return RunLock(store, [f"{RECORD_PREFIX}{digest}"])


def wait_for_rescores(
    store: StateStore,
    waiting: Callable[[str, int], None] = lambda _what, _n: None,
    *,
    limit: float = RECORD_STALE_AFTER,
) -> int:
    """Wait until the rescores holding a record's lock now have let it go (at most
    `limit` seconds: then they are taken as stale); returns how many were given up on.

    A sync calls it holding its own locks, so a rescore that takes a record's lock
    later sees them and leaves the record to the sync: only those at work now can be
    writing. `waiting` is told ("waiting for rescores", how many) before the wait."""
    working = set(live_locks(store, RECORD_PREFIX).items())
    if not working:
        return 0
    waiting("waiting for rescores", len(working))
    deadline = time.monotonic() + limit
    while working and time.monotonic() < deadline:
        time.sleep(POLL)
        working &= set(live_locks(store, RECORD_PREFIX).items())
    return len(working)


def run_lock(store: StateStore, systems: Sequence[str], *, wait: float = 0.0) -> RunLock:
    """The locks of a run over `systems`, taken; waits up to `wait` seconds for them."""
    lock = RunLock(store, [f"sync:{s}" for s in systems])
    deadline = time.monotonic() + max(0.0, wait)
    while True:
        try:
            lock.acquire()
            return lock
        except LockHeld:
            if time.monotonic() >= deadline:
                raise
            time.sleep(min(5.0, max(0.1, deadline - time.monotonic())))
