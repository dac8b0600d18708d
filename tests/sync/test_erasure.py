"""`erase_people`: a person forgotten everywhere in a store a real sync filled, on SQLite and
PostgreSQL; nobody else touched; a forgotten person who comes back is a new person."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from sandbox import Sandbox
from scoring import Activity, ActivityType, Contact
from sync.access import export_person
from sync.dues import meta_value, set_meta
from sync.erasure import erase_people, known_addresses
from sync.gone_check import meta_key, next_slice
from sync.handover_schema import handover_counts, handover_waiting, handovers
from sync.history import history_of
from sync.store import StateStore
from sync.summary import SyncOptions
from tests.sync.privacy_helpers import (
    open_app,
    person_in_every_system,
    snapshot,
    texts,
    traces,
)


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox(people=60, seed=5) as sandbox:
        yield sandbox


def test_a_forgotten_person_leaves_no_trace_and_nobody_else_moves(box: Sandbox, url: str) -> None:
    with open_app(box, url) as app:
        app.setup()
        app.sync(SyncOptions(full=True))
        store = app.store
        person = person_in_every_system(store)
        shown = person.email.upper() + " "  # as a person may type it
        assert traces(store, person.email, person.records), "the scan finds nothing to begin with"
        other = next(p for p in store.load_people().contacts if int(p.id) != person.id)
        handed_over(store, person.id, waiting=int(other.id))
        before = snapshot(store)
        document = export_person(store, shown)

        [erased] = erase_people(store, [shown])

        # the export reads out exactly what the erasure deletes
        assert document is not None and document["email"] == person.email
        for key, table in (("records", "identities"), ("activities", "activities"),
                           ("written", "written"), ("history", "history"),
                           ("write_log", "write_log"),
                           ("merged_records", "gone"), ("handover", "handovers")):  # fmt: skip
            assert len(document[key]) == erased.rows.get(table, 0), key
        assert export_person(store, person.email) is None

        assert erased.address == person.email
        assert set(erased.records) == set(person.records)
        assert {"persons", "identities", "activities", "written", "history"} <= set(erased.rows)
        assert erased.rows["handovers"] == 1 and "handover_waiting" not in erased.rows
        assert traces(store, person.email, person.records) == []
        after = snapshot(store)
        for table, rows in before.items():
            assert after[table] <= rows, table
            for row in rows - after[table]:
                # every row that went named the person: their id, address or a record of theirs
                named = {t for value in row for _, t in texts(value)}
                ids = {r for _, r in person.records} | {str(person.id), person.email}
                assert named & ids or any(person.email in t for t in named), (table, row)
        assert sum(erased.rows.values()) == sum(len(before[t] - after[t]) for t in before)
        assert known_addresses(store, [person.email]) == set()


def test_forgetting_an_unknown_address_deletes_nothing(box: Sandbox, url: str) -> None:
    with open_app(box, url) as app:
        app.setup()
        app.sync(SyncOptions(full=True))
        before = snapshot(app.store)
        [erased] = erase_people(app.store, ["nobody@example.invalid"])
        assert not erased.found and erased.records == ()
        assert snapshot(app.store) == before


def test_a_forgotten_person_pulled_again_is_a_new_person(box: Sandbox, url: str) -> None:
    with open_app(box, url) as app:
        app.setup()
        app.sync(SyncOptions(full=True))
        person = person_in_every_system(app.store)
        erase_people(app.store, [person.email])

        app.sync(SyncOptions(full=True))

        again = app.store.person_of(person.email)
        assert again is not None and again != person.id
        with app.store.engine.connect() as connection:
            assert len(history_of(connection, again)) == 1  # nothing of before came back


def test_an_address_held_only_as_a_former_one_is_exported_as_forget_erases_it(url: str) -> None:
    store = StateStore(url)
    try:
        now = datetime.now(UTC)
        store.save_contacts("mailchimp", [Contact("1", email="old@x.io", attributes={})], now)
        opened = Activity(
            "", ActivityType.EMAIL_OPEN, now - timedelta(days=1), id="o1",
            contact_email="old@x.io",
        )  # fmt: skip
        store.save_activities("mailchimp", [opened])
        store.save_contacts("mailchimp", [Contact("1", email="new@x.io", attributes={})], now)

        document = export_person(store, "OLD@x.io")
        [erased] = erase_people(store, ["old@x.io"])
    finally:
        store.close()

    assert document is not None and document["email"] == "old@x.io"
    assert document["records"] == [] and document["history"] == []
    assert [a["activity_id"] for a in document["activities"]] == ["o1"]
    assert [f["email"] for f in document["former_addresses"]] == ["old@x.io"]
    assert erased.rows == {"activities": 1, "aliases": 1}


def handed_over(store: StateStore, person: int, *, waiting: int) -> None:
    """A hand-over row of `person` and a waiting row of someone else (who must stay)."""
    with store.engine.begin() as connection:
        row = {"person_id": person, "period": "2026-W49", "team": "", "at": 1.0, "score": 70.0}
        connection.execute(sa.insert(handovers), row)
        connection.execute(
            sa.insert(handover_counts), {"period": "2026-W49", "team": "", "taken": 1}
        )
        wait = {"person_id": waiting, "team": "", "score": 60.0, "since": 2.0}
        connection.execute(sa.insert(handover_waiting), wait)


def test_erasing_the_record_the_gone_check_stands_on_moves_its_cursor_back(
    tmp_path: Path,
) -> None:
    """The check's cursor (`meta` gone-check:<system>) names the last id it read back: when
    that record is erased the cursor moves to the id before it still held (the start when
    none is), so the next slice is the same and the id is gone from `meta`."""
    store = StateStore(f"sqlite:///{tmp_path}/s.db")
    at = datetime(2026, 5, 1, tzinfo=UTC)
    store.save_contacts("hubspot", [Contact(str(n), email=f"p{n}@x.io") for n in range(1, 6)], at)
    with store.engine.begin() as c:
        set_meta(c, meta_key("hubspot"), json.dumps({"after": "3", "at": 1.0, "owed": 4}))
        wanted = next_slice(c, "hubspot", "3", 3)

    erase_people(store, ["p3@x.io"])
    with store.engine.connect() as c:
        kept = json.loads(meta_value(c, meta_key("hubspot")) or "{}")
        assert kept == {"after": "2", "at": 1.0, "owed": 4}
        assert next_slice(c, "hubspot", kept["after"], 3) == [r for r in wanted if r != "3"]
    assert traces(store, "p3@x.io", frozenset({("hubspot", "3")})) == []

    erase_people(store, ["p1@x.io", "p2@x.io"])
    with store.engine.connect() as c:
        assert json.loads(meta_value(c, meta_key("hubspot")) or "{}") == {"at": 1.0, "owed": 4}
        assert next_slice(c, "hubspot", None, 2) == ["4", "5"]
    with store.engine.begin() as c:  # a cursor on another record stays where it is
        set_meta(c, meta_key("hubspot"), json.dumps({"after": "4"}))
    erase_people(store, ["p5@x.io"])
    with store.engine.connect() as c:
        assert json.loads(meta_value(c, meta_key("hubspot")) or "{}") == {"after": "4"}
    store.close()


def test_a_forgotten_persons_id_is_never_given_to_anyone_else(tmp_path: Path) -> None:
    """SQLite gives the highest rowid + 1 unless the table is AUTOINCREMENT: forgetting the
    newest person would hand their id to the next one, and a log or run naming that id
    would then name someone else."""
    store = StateStore(f"sqlite:///{tmp_path}/s.db")
    at = datetime(2026, 5, 1, tzinfo=UTC)
    store.save_contacts("hubspot", [Contact("1", email="a@x.io"), Contact("2", email="b@x.io")], at)
    forgotten = store.person_of("b@x.io")
    assert forgotten is not None and forgotten > (store.person_of("a@x.io") or 0)
    erase_people(store, ["b@x.io"])
    store.save_contacts("hubspot", [Contact("3", email="c@x.io")], at)
    assert (store.person_of("c@x.io") or 0) > forgotten
    store.close()
