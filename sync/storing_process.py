"""A large pull's pages stored by a process of its own, beside the fetch threads.

A pull's fetch threads (each answer parsed, each record mapped) and its storing (rows
prepared, then the statements) share one interpreter lock in one process: a Mailchimp
pull of 880,000 activities ran at one core while Mailchimp's 10 connections could have
brought its pages faster, and SQLite's own work in an `executemany` never ran beside the
threads (Python's sqlite3 takes the lock back after each row's step).

So once a pull has stored `AFTER_ROWS` records here, its later groups of pages go to a
child process that opens the same store (`StateStore(url)`) and stores them there
(`StateStore.save_prepared`), one after another, so the transactions and their order
are those of storing here; only the interpreter doing the work is another. One group is
in its hands while the next is made ready here: each group's counts are handed over
(`done`) once its answer comes, at the next group or at `drain`, and a failure is raised
then. The pull's cursors are committed only after the pull, whose end (`close`) waits
for the last answer; pages that carry records gone (`Page.gone`, recorded here) wait
for theirs first (`store_pulled`). The child starts in
the background: until it says it is ready the pull goes on storing here, and a child
that cannot start (or a store only this process can see, an in-memory SQLite) leaves
every group here. A machine with one core keeps them here too.

What needs no store is done here first (`sync.saving.prepare_pages`: the records a
column can key, the activities as rows), so the pages cross as rows of plain values,
which pickle several times faster than the records, and the storing process, the busier
of the two, does only the statements.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import pickle
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from connectors.protocol import Page, Withdrawn
from scoring import Activity, Contact
from sync.minimise import Kept, kept_of
from sync.saving import Prepared, prepare_pages
from sync.store import StateStore
from sync.summary import SystemSummary
from sync.vanished import record_gone

if TYPE_CHECKING:
    from sync.pipeline import Sync

log = logging.getLogger(__name__)

AFTER_ROWS = 50_000
"""Records (contacts and activities) a pull stores in its own process before it starts the
storing process: below this, the child's start-up (about a second of imports) costs
more than it saves."""
STOP_SECONDS = 10.0

Found = Sequence[tuple[Sequence[Contact], Sequence[Activity]]]
PageCounts = list[tuple[int, int, int]]
"""Per page: contacts new or changed, activities new, activities withdrawn."""


class StoringProcessLost(RuntimeError):
    """The storing process ended while a group of pages was in its hands (its transaction
    was rolled back by the database; the pull's cursors were not moved past it)."""


def can_hold_a_child(store: StateStore) -> bool:
    """Whether another process can open `store` and there is a core for it beside this one:
    a store on a server or in a file, on a machine this process may use two cores of."""
    url = store.engine.url
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if not database or ":memory:" in database or "mode=memory" in str(url):
            return False
    if os.name != "posix":  # the pipe's end is passed to the child as an open file
        return False
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return cores >= 2


class PageSaver:
    """`StateStore.save_pages` for one pull: here, then, past `after_rows` records and on a
    store another process can open, in the storing process once it is ready. `close` ends
    the child (call it when the pull ends, however it ends)."""

    def __init__(self, store: StateStore, after_rows: int | None = None) -> None:
        self.store = store
        self.after_rows = AFTER_ROWS if after_rows is None else after_rows
        self.rows = 0
        self.in_child = 0
        """Groups handed to the storing process."""
        self._process: Any = None
        self._pipe: Connection | None = None
        self._ready = False
        self._tried = False
        self._waiting: Callable[[PageCounts], None] | None = None
        """The `done` of the group in the storing process's hands."""
        self._writing = store.writing()

    def save_pages(
        self,
        system: str,
        found: Found,
        at: datetime,
        ours: frozenset[str],
        withdrawn: Sequence[Sequence[Withdrawn]],
        kept: Kept | None,
        done: Callable[[PageCounts], None],
    ) -> None:
        """As `StateStore.save_pages`, in whichever process stores now; `done` is given the
        counts once they are known (at once when stored here)."""
        if self._child_ready():
            prepared, unusable = prepare_pages(system, found, kept)
            self._hand_over(system, prepared, at, ours, withdrawn, done)
            self.store.skipped[system] += unusable
            self.in_child += 1
        else:
            done(self.store.save_pages(system, found, at, ours, withdrawn, kept))
        self.rows += sum(len(contacts) + len(activities) for contacts, activities in found)
        if not self._tried and self.rows >= self.after_rows:
            self._tried = True
            if can_hold_a_child(self.store):
                self._start()

    def drain(self) -> None:
        """Wait for the group in the storing process's hands: its counts handed over, or
        its failure raised. This process's other writers wait meanwhile, as they would for
        a transaction here (`StateStore.writing`)."""
        if self._waiting is None:
            return
        done, self._waiting = self._waiting, None
        assert self._pipe is not None
        try:
            with self._writing:
                answer = self._pipe.recv()
        except (EOFError, OSError) as error:
            self._end()
            raise StoringProcessLost("the storing process ended") from error
        if answer[0] == "error":
            raise answer[1]
        done(list(answer[1]))

    @property
    def pid(self) -> int | None:
        """The storing process's id, None when there is none."""
        return None if self._process is None else int(self._process.pid)

    def ready(self, timeout: float) -> bool:
        """Whether the storing process is there to take the next group, waiting up to
        `timeout` seconds for it to say so (False at once when none was started)."""
        if self._pipe is not None and not self._ready:
            self._pipe.poll(timeout)
        return self._child_ready()

    def close(self) -> None:
        """Wait for the group in the storing process's hands (`drain`), then end it."""
        try:
            self.drain()
        finally:
            self._end()

    def _end(self) -> None:
        process, pipe = self._process, self._pipe
        self._waiting = None
        self._process, self._pipe, self._ready = None, None, False
        if pipe is not None:
            with contextlib.suppress(OSError, ValueError):
                pipe.send(None)
            pipe.close()
        if process is not None:
            try:
                process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(STOP_SECONDS)

    def _start(self) -> None:
        """Start the storing process: `python -m sync.storing_process`, one end of a pipe
        passed to it as an open file, the store's URL sent over the pipe (never on a
        command line). A fresh interpreter, not `multiprocessing`'s spawn, which imports
        the caller's main module again (a script of one's own without a main guard would
        run twice)."""
        ours, theirs = multiprocessing.Pipe()
        home = str(Path(__file__).resolve().parents[1])  # where `sync` is imported from
        path = os.pathsep.join(p for p in (home, os.environ.get("PYTHONPATH")) if p)
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "sync.storing_process", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env={**os.environ, "PYTHONPATH": path},
            )
            ours.send(self.store.url)
        except Exception as error:  # no processes here (a sandboxed host)
            log.info("pages stored in this process: %s", type(error).__name__)
            ours.close()
            return
        finally:
            theirs.close()
        self._process, self._pipe = process, ours

    def _child_ready(self) -> bool:
        """Whether the child is there to take the next group (it said so once)."""
        if self._ready or self._pipe is None:
            return self._ready
        try:
            if not self._pipe.poll(0):
                return False
            answer = self._pipe.recv()
        except (EOFError, OSError):
            answer = ("failed", "ended")
        if answer[0] == "ready":
            self._ready = True
        else:
            log.warning("pages stored in this process: the storing process %s", answer[1])
            self._end()
        return self._ready

    def _hand_over(
        self,
        system: str,
        prepared: list[Prepared],
        at: datetime,
        ours: frozenset[str],
        withdrawn: Sequence[Sequence[Withdrawn]],
        done: Callable[[PageCounts], None],
    ) -> None:
        """Send a group to the storing process once the one before is stored (its answer
        collected: a failure is raised before this group goes); this group's answer waits
        for the next group or `drain`."""
        assert self._pipe is not None
        order = pickle.dumps((system, prepared, at, ours, list(withdrawn)), pickle.HIGHEST_PROTOCOL)
        self.drain()
        try:
            self._pipe.send_bytes(order)
        except BaseException as error:  # a message cut short (a Ctrl-C): the child is done
            self._end()
            if isinstance(error, OSError):
                raise StoringProcessLost("the storing process ended") from error
            raise
        self._waiting = done


def store_pulled(
    job: Sync, system: str, pages: Sequence[Page], stats: SystemSummary, as_of: datetime
) -> None:
    """Store pulled pages in one transaction, through the pull's `PageSaver` (`job.saver`)
    or, outside a pull (a trigger's page), here; their counts go to `stats` once known."""
    job.beat()
    began = time.perf_counter()
    found = [(list(page.contacts), list(page.activities)) for page in pages]
    fields = job.fields.get(system)
    ours = frozenset(fields.names.values()) if fields is not None else frozenset()
    withdrawn = [list(page.withdrawn) for page in pages]

    def counted(counts: PageCounts) -> None:
        for changed, new, taken_back in counts:
            stats.contacts_changed += changed
            stats.activities_new += new
            stats.withdrawn += taken_back

    saver, kept = job.saver, kept_of(job, system)
    if saver is None:
        counted(job.store.save_pages(system, found, as_of, ours, withdrawn, kept))
    else:
        saver.save_pages(system, found, as_of, ours, withdrawn, kept, counted)
    for contacts, activities in found:
        stats.contacts += len(contacts)
        stats.activities_pulled += len(activities)
    if saver is not None and any(page.gone for page in pages):
        saver.drain()  # the pages' own records stored before their gone ones are dropped
    for page in pages:
        if page.gone:
            vanished = [(g.record_id, g.merged_into) for g in page.gone]
            taken = [w for g in page.gone for w in g.withdrawn]
            erased = {g.record_id for g in page.gone if g.for_good}
            stats.withdrawn += record_gone(job.store, system, vanished, as_of, taken, erased)
    stats.stream_seconds["(storing)"] = (
        stats.stream_seconds.get("(storing)", 0.0) + time.perf_counter() - began
    )
    for page, (contacts, activities) in zip(pages, found, strict=True):
        job.progress(f"pulled {system} {page.stream}", len(contacts) or len(activities))


def storing_child(pipe: Connection) -> None:
    """The storing process: open the store, say so, then store each group sent until told
    to stop (None) or the pull's process goes (the pipe closes, perhaps before it was
    ready: the pull was short). It prints nothing: what goes wrong in a group is sent
    back, and a pipe closed ends it quietly."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is the pull's to handle
    with contextlib.suppress(EOFError, OSError):
        try:
            store = StateStore(pipe.recv())
        except Exception as error:
            pipe.send(("failed", f"could not open the store ({type(error).__name__})"))
            return
        try:
            pipe.send(("ready",))
            while True:
                try:
                    order = pipe.recv()
                except (EOFError, OSError):
                    break
                except Exception as error:  # a group that did not arrive whole
                    pipe.send(("error", _portable(error)))
                    continue
                if order is None:
                    break
                pipe.send(_store(store, *order))
        finally:
            store.close()


def _store(
    store: StateStore,
    system: str,
    prepared: list[Prepared],
    at: datetime,
    ours: frozenset[str],
    withdrawn: list[Sequence[Withdrawn]],
) -> tuple[Any, ...]:
    """One group stored: ("ok", counts) or ("error", the exception)."""
    try:
        return ("ok", store.save_prepared(system, prepared, at, ours, withdrawn))
    except Exception as error:
        return ("error", _portable(error))


def _portable(error: Exception) -> Exception:
    """The error itself when it can cross to the parent (a statement's error without its
    parameters: a group's rows would make it megabytes), else one naming its type."""
    if isinstance(error, sa.exc.StatementError):
        error.params, error.hide_parameters = None, True
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        return RuntimeError(f"storing failed: {type(error).__name__}")
    return error


if __name__ == "__main__":  # started by `PageSaver._start`, the pipe's end its argument
    storing_child(Connection(int(sys.argv[1])))
    # The store is closed and nothing waits to be written: the pull's end, which waits for
    # this process, need not wait for the interpreter to take its objects apart too.
    os._exit(0)
