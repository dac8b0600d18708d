"""A large pull's pages stored by a process of its own (`sync.storing_process`): the store
it leaves is the one storing here leaves, row for row and count for count; a failure
there is raised here; a storing process that dies is reported, not waited for."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.protocol import Page
from scoring import Activity, ActivityType, Contact
from sync import StateStore
from sync.storing_process import PageSaver, StoringProcessLost, can_hold_a_child
from tests.sync.test_saving_groups import again_revisable
from tests.sync.test_saving_groups import pages as pages

AT = datetime(2026, 11, 1, tzinfo=UTC)
GROUP = 3


def stored_by(place: Path | str, pages: Sequence[Page], after_rows: int) -> dict[str, Any]:
    """Every table's rows, sorted, the counts of each page and what was skipped, after
    storing the pages `GROUP` to a transaction through a `PageSaver` that hands them to its
    process past `after_rows` (waiting for it to start, so that it does take some); in a
    SQLite file at a path, or at a URL."""
    store = StateStore(place if isinstance(place, str) else f"sqlite:///{place}")
    saver = PageSaver(store, after_rows=after_rows)
    counts: list[Any] = []
    try:
        for start in range(0, len(pages), GROUP):
            group = pages[start : start + GROUP]
            found = [(p.contacts, p.activities) for p in group]
            withdrawn = [p.withdrawn for p in group]
            saver.save_pages("mailchimp", found, AT, frozenset(), withdrawn, None, counts.extend)
            if saver.rows >= after_rows and saver.pid is not None:
                assert saver.ready(60)
    finally:
        saver.close()  # the last group's counts come here
    in_child = saver.in_child
    with store.engine.connect() as connection:
        tables = sorted(sa.inspect(connection).get_table_names())
        rows = {
            t: sorted(map(repr, connection.exec_driver_sql(f"SELECT * FROM {t}"))) for t in tables
        }
    skipped = dict(store.skipped)
    store.close()
    return {**rows, "counts": counts, "skipped": skipped, "in_child": in_child}


@pytest.mark.parametrize("revisions", [False, True])
def test_pages_stored_by_the_storing_process_leave_the_store_as_here(
    pages: list[Page],
    revisions: bool,
    tmp_path: Path,
) -> None:
    pulled = again_revisable(pages) if revisions else [*pages, *(p for p in pages if p.activities)]
    # a record no column can key, stored in the child: counted as skipped all the same
    odd = Page("contacts", [Contact("x" * 300, email="long@example.com")])
    pulled = [*pulled, odd]
    here = stored_by(tmp_path / "here.db", pulled, after_rows=10**9)
    there = stored_by(tmp_path / "there.db", pulled, after_rows=1)
    assert here.pop("in_child") == 0
    assert there.pop("in_child") >= len(pulled) // GROUP - 1
    assert here["activities"] and here["skipped"] == {"mailchimp": 1}
    assert there == here


def test_the_storing_process_stores_into_postgresql_as_here(
    pages: list[Page],
    postgres_url: str,
    tmp_path: Path,
) -> None:
    here = stored_by(tmp_path / "here.db", pages, after_rows=10**9)
    there = stored_by(postgres_url, pages, after_rows=1)
    assert there["in_child"] >= len(pages) // GROUP - 1
    assert there["counts"] == here["counts"] and there["skipped"] == here["skipped"]
    for table in ("activities", "identities", "persons"):
        assert len(there[table]) == len(here[table]) > 0, table


def test_a_failure_in_the_storing_process_is_raised_here_and_stores_nothing_of_its_group(
    tmp_path: Path,
) -> None:
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    with store.engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TRIGGER refuse BEFORE INSERT ON activities WHEN NEW.activity_id = 'bad'"
            " BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )

    def group(ident: str, more: int = 0) -> list[tuple[list[Contact], list[Activity]]]:
        opened = [
            Activity(
                "",
                ActivityType.EMAIL_OPEN,
                AT + timedelta(seconds=n),
                id=f"{ident}{n or ''}",
                source="mailchimp",
                contact_email=f"{ident}@example.com",
            )
            for n in range(more + 1)
        ]
        return [([Contact(ident, email=f"{ident}@example.com")], opened)]

    saver = PageSaver(store, after_rows=1)
    counts: list[Any] = []
    try:
        saver.save_pages("mailchimp", group("first"), AT, frozenset(), [], None, counts.append)
        assert saver.ready(60)
        # a large group fails: its error comes back without its rows, before the next goes
        saver.save_pages("mailchimp", group("bad", 20_000), AT, frozenset(), [], None,
                         counts.append)  # fmt: skip
        with pytest.raises(sa.exc.IntegrityError) as there:
            saver.save_pages("mailchimp", group("next", 20_000), AT, frozenset(), [], None,
                             counts.append)  # fmt: skip
        assert "refused" in str(there.value) and len(str(there.value)) < 2_000
        saver.save_pages("mailchimp", group("last"), AT, frozenset(), [], None, counts.append)
        assert saver.in_child == 2  # "bad" and "last": "next" never went
    finally:
        saver.close()
    with pytest.raises(sa.exc.IntegrityError):  # the same error as storing here
        store.save_pages("mailchimp", group("bad"), AT)
    with store.engine.connect() as connection:
        ids = connection.exec_driver_sql("SELECT activity_id FROM activities").scalars().all()
        records = connection.exec_driver_sql("SELECT record_id FROM identities").scalars().all()
    store.close()
    assert sorted(ids) == ["first", "last"] and sorted(records) == ["first", "last"]
    assert counts == [[(1, 1, 0)], [(1, 1, 0)]]  # the failed group's none


def test_a_storing_process_that_dies_is_reported_not_waited_for(tmp_path: Path) -> None:
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    saver = PageSaver(store, after_rows=1)
    page = [([Contact("a", email="a@example.com")], [])]
    counts: list[Any] = []
    try:
        saver.save_pages("mailchimp", page, AT, frozenset(), [], None, counts.append)
        assert saver.ready(60) and saver.pid is not None
        os.kill(saver.pid, signal.SIGKILL)
        os.waitpid(saver.pid, 0)
        with pytest.raises(StoringProcessLost):
            saver.save_pages("mailchimp", page, AT, frozenset(), [], None, counts.append)
        assert saver.pid is None  # and the next group is stored here
        saver.save_pages("mailchimp", [([Contact("b", email="b@example.com")], [])], AT,
                         frozenset(), [], None, counts.append)  # fmt: skip
    finally:
        saver.close()
    assert store.person_of("b@example.com") is not None and counts == [[(1, 0, 0)], [(1, 0, 0)]]
    store.close()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///file::memory:?cache=shared&uri=true"])
def test_a_store_only_this_process_sees_keeps_its_pages_here(url: str) -> None:
    memory = StateStore(url)
    saver = PageSaver(memory, after_rows=1)
    counts: list[Any] = []
    saver.save_pages("mailchimp", [([Contact("a", email="a@example.com")], [])], AT,
                     frozenset(), [], None, counts.append)  # fmt: skip
    assert counts == [[(1, 0, 0)]]
    assert saver.pid is None and not saver.ready(0)
    saver.close()
    assert not can_hold_a_child(memory)
    memory.close()


def test_a_pull_that_ends_before_its_storing_process_is_ready_prints_nothing(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    saver = PageSaver(store, after_rows=1)
    saver.save_pages("mailchimp", [([Contact("a", email="a@example.com")], [])], AT,
                     frozenset(), [], None, lambda counts: None)  # fmt: skip
    assert saver.pid is not None
    saver.close()  # at once: the child says it is ready to a pipe closed
    store.close()
    assert "Traceback" not in capfd.readouterr().err


def test_the_stores_lock_is_free_while_a_group_is_in_the_childs_hands(tmp_path: Path) -> None:
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    saver = PageSaver(store, after_rows=1)
    taken: list[bool] = []

    def other_writer() -> None:  # the run lock's heartbeat, say
        lock = store.writing()
        taken.append(lock.acquire(timeout=10))
        if taken[-1]:
            lock.release()

    try:
        for name in ("a", "b"):
            saver.save_pages("mailchimp", [([Contact(name, email=f"{name}@example.com")], [])],
                             AT, frozenset(), [], None, lambda counts: None)  # fmt: skip
            assert saver.ready(60)
        assert saver.in_child == 1  # "b" is in the child's hands, its answer not read
        beside = threading.Thread(target=other_writer)
        beside.start()
        beside.join()
    finally:
        saver.close()
    store.close()
    assert taken == [True]


def test_a_script_without_a_main_guard_runs_once(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = tmp_path / "mine.py"
    script.write_text(
        "from datetime import UTC, datetime\n"
        "from scoring import Contact\n"
        "from sync import StateStore\n"
        "from sync.storing_process import PageSaver\n"
        "print('ran', flush=True)\n"
        f"store = StateStore('sqlite:///{tmp_path / 'state.db'}')\n"
        "saver = PageSaver(store, after_rows=1)\n"
        "page = [([Contact('a', email='a@example.com')], [])]\n"
        "at = datetime(2026, 11, 1, tzinfo=UTC)\n"
        "for _ in range(2):\n"
        "    saver.save_pages('mailchimp', page, at, frozenset(), [], None, print)\n"
        "    assert saver.ready(60)\n"
        "saver.close()\n"
        "print('in child', saver.in_child)\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("ran") == 1 and "in child 1" in done.stdout
    assert "Traceback" not in done.stderr
