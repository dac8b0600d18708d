"""The state store: people merged by address, deduplicated activities, cursors, writes and runs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from scoring import ACTIVITY_TYPES, Activity, ActivityType, Contact
from sync.people import People
from sync.store import SCHEMA_VERSION, StateStore, meta
from tests.helpers import NOW, days_ago


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL to an empty store that outlives its engines: a SQLite file or a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/s.db"
    # A real server, started once per session (tests/sync/conftest.py); skipped where none.
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(params=["sqlite", "sqlite-memory", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    if request.param == "sqlite":
        target = f"sqlite:///{tmp_path}/s.db"
    elif request.param == "sqlite-memory":
        target = "sqlite://"
    else:
        target = str(request.getfixturevalue("postgres_url"))
    opened = StateStore(target)
    yield opened
    opened.close()


def contact(ident: str, email: str | None = "ann@acme.io", **attributes: object) -> Contact:
    return Contact(ident, email=email, attributes=attributes)


def visit(
    ident: str | None, contact_id: str = "101", when: float = 1, **attributes: object
) -> Activity:
    return Activity(
        contact_id, ActivityType.PAGE_VIEW, days_ago(when), id=ident, attributes=attributes
    )


def opened(address: str, ident: str | None = "ev1", when: float = 1) -> Activity:
    return Activity("", ActivityType.EMAIL_OPEN, days_ago(when), id=ident, contact_email=address)


def activity_records(people: People) -> list[Activity]:
    """The stored activities of `people` as records (scoring reads them as columns)."""
    cols = people.columns
    return [
        Activity(
            str(int(cols.person[i])),
            ACTIVITY_TYPES[int(cols.type_codes[i])],
            datetime.fromtimestamp(float(cols.occurred_at[i]), UTC),
            id=None if cols.ids is None else cols.ids[i],
            attributes={
                n: column.value(i)
                for n, column in cols.attributes.items()
                if column.value(i) is not None
            },
            source=cols.systems.value(i) or "",
        )
        for i in range(len(cols))
    ]


# -- schema ---------------------------------------------------------------------------------------


def test_a_new_store_is_at_the_current_schema_version(store: StateStore) -> None:
    assert store.version() == SCHEMA_VERSION


def test_reopening_a_store_keeps_what_it_held(url: str) -> None:
    first = StateStore(url)
    first.save_contacts("hubspot", [contact("101")], NOW)
    first.commit_cursors("hubspot", {"contacts": "2026-11-01"}, NOW)
    first.close()

    again = StateStore(url)

    assert again.version() == SCHEMA_VERSION
    assert again.person_of("ann@acme.io") is not None
    assert again.cursors("hubspot") == {"contacts": "2026-11-01"}
    again.close()


def test_a_store_at_version_7_drops_its_mailchimp_records_and_keeps_the_rest(url: str) -> None:
    # Version 8 keys Mailchimp members by contact_id: the old hash-keyed records, their
    # cursors and written values go, so the next sync pulls Mailchimp whole.
    first = StateStore(url)
    first.save_contacts("hubspot", [contact("101")], NOW)
    first.save_contacts("mailchimp", [contact("list1:0123abcd")], NOW)
    first.commit_cursors("hubspot", {"contacts": "2026-11-01"}, NOW)
    first.commit_cursors("mailchimp", {"contacts": "2026-11-01"}, NOW)
    with first.engine.begin() as connection:
        connection.execute(sa.update(meta).where(meta.c.key == "schema_version").values(value="7"))
    first.close()

    again = StateStore(url)

    assert again.version() == SCHEMA_VERSION
    assert again.cursors("hubspot") == {"contacts": "2026-11-01"}
    assert again.cursors("mailchimp") == {}
    assert again.person_of("ann@acme.io") is not None
    with again.engine.connect() as connection:
        held = connection.execute(sa.text("SELECT system FROM identities")).scalars().all()
    assert held == ["hubspot"]
    again.close()


def test_a_store_at_version_8_gains_an_empty_history_and_keeps_what_it_held(url: str) -> None:
    first = StateStore(url)
    first.save_contacts("hubspot", [contact("101")], NOW)
    first.record_written("hubspot", {"101": {"Score": "12"}}, NOW)
    with first.engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE history"))
        connection.execute(sa.text("DROP TABLE rulesets"))
        connection.execute(sa.update(meta).where(meta.c.key == "schema_version").values(value="8"))
    first.close()

    again = StateStore(url)

    assert again.version() == SCHEMA_VERSION == 15
    assert again.person_of("ann@acme.io") is not None
    assert again.written_values("hubspot") == {"101": {"Score": "12"}}
    tables = set(sa.inspect(again.engine).get_table_names())
    assert {"history", "rulesets"} <= tables
    indexes = {i["name"] for i in sa.inspect(again.engine).get_indexes("history")}
    assert "ix_history_person" in indexes
    with again.engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM history")).scalar() == 0
    again.close()


def test_a_store_at_version_9_gains_the_date_indexes_retention_purges_by(url: str) -> None:
    first = StateStore(url)
    first.save_contacts("hubspot", [contact("101")], NOW)
    with first.engine.begin() as connection:
        connection.execute(sa.text("DROP INDEX ix_activities_occurred"))
        connection.execute(sa.text("DROP INDEX ix_history_at"))
        connection.execute(sa.update(meta).where(meta.c.key == "schema_version").values(value="9"))
    first.close()

    again = StateStore(url)

    assert again.version() == SCHEMA_VERSION == 15
    assert again.person_of("ann@acme.io") is not None
    inspector = sa.inspect(again.engine)
    assert "ix_activities_occurred" in {i["name"] for i in inspector.get_indexes("activities")}
    assert "ix_history_at" in {i["name"] for i in inspector.get_indexes("history")}
    again.close()


def test_a_store_newer_than_this_leadscore_refuses_to_open(url: str) -> None:
    StateStore(url).close()
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            sa.update(meta)
            .where(meta.c.key == "schema_version")
            .values(value=str(SCHEMA_VERSION + 1))
        )
    engine.dispose()

    with pytest.raises(RuntimeError, match=rf"schema version {SCHEMA_VERSION + 1}.*upgrade"):
        StateStore(url)


# -- contacts and people --------------------------------------------------------------------------


def test_the_same_address_in_two_systems_is_one_person(store: StateStore) -> None:
    store.save_contacts("hubspot", [contact("101", "Ann@Acme.io ")], NOW)
    store.save_contacts("salesforce", [contact("003A", "ann@acme.io")], NOW)

    people = store.load_people(activity_ids=True)

    assert [c.email for c in people.contacts] == ["ann@acme.io"]
    pid = people.contacts[0].id
    assert sorted(people.records[pid]) == [("hubspot", "101"), ("salesforce", "003A")]


def test_saving_contacts_counts_the_new_ones_and_nothing_when_saved_again(
    store: StateStore,
) -> None:
    batch = [contact("101", "ann@acme.io"), contact("102", "bob@beta.io")]

    assert store.save_contacts("hubspot", batch, NOW) == 2
    assert store.save_contacts("hubspot", batch, NOW) == 0


def test_only_the_case_of_an_address_changing_is_no_change(store: StateStore) -> None:
    store.save_contacts("hubspot", [contact("101", "ann@acme.io")], NOW)

    assert store.save_contacts("hubspot", [contact("101", " ANN@acme.io")], NOW) == 0


def test_a_changed_attribute_counts_as_changed_and_is_kept(store: StateStore) -> None:
    store.save_contacts(
        "hubspot", [contact("101", title="Engineer"), contact("102", "b@b.io")], NOW
    )

    changed = store.save_contacts(
        "hubspot", [contact("101", title="VP"), contact("102", "b@b.io")], NOW
    )

    assert changed == 1
    ann = store.person_of("ann@acme.io")
    assert ann is not None
    assert store.load_people([ann]).contacts[0].attributes == {"title": "VP"}


def test_an_email_change_moves_the_record_to_another_person(store: StateStore) -> None:
    store.save_contacts("hubspot", [contact("101", "ann@acme.io")], NOW)
    store.save_contacts("salesforce", [contact("003A", "ann@acme.io")], NOW)

    changed = store.save_contacts("hubspot", [contact("101", "ann@newco.io")], NOW)

    assert changed == 1
    ann, moved = store.person_of("ann@acme.io"), store.person_of("ann@newco.io")
    assert ann is not None and moved is not None and ann != moved
    assert store.person_of("101") == moved
    records = store.load_people(activity_ids=True).records
    assert records[str(ann)] == [("salesforce", "003A")]
    assert records[str(moved)] == [("hubspot", "101")]


def test_a_record_whose_address_is_removed_becomes_a_person_of_its_own(store: StateStore) -> None:
    store.save_contacts("hubspot", [contact("101", "ann@acme.io")], NOW)
    store.save_contacts("salesforce", [contact("003A", "ann@acme.io")], NOW)

    store.save_contacts("hubspot", [contact("101", None)], NOW)

    assert store.person_of("101") not in (None, store.person_of("ann@acme.io"))


def test_contacts_without_an_address_are_separate_people(store: StateStore) -> None:
    store.save_contacts("hubspot", [contact("101", None), contact("102", "")], NOW)

    people = store.load_people(activity_ids=True)

    assert len(people.contacts) == 2
    assert all(c.email is None for c in people.contacts)


# -- activities -----------------------------------------------------------------------------------


def test_activities_are_deduplicated_by_system_and_id(store: StateStore) -> None:
    assert store.save_activities("hubspot", [visit("pv1"), visit("pv2")]) == 2
    assert store.save_activities("hubspot", [visit("pv1"), visit("pv3")]) == 1
    assert store.save_activities("salesforce", [visit("pv1")]) == 1


def test_a_revisable_activity_is_replaced_by_its_later_pull_and_a_plain_one_is_not(
    store: StateStore,
) -> None:
    store.save_contacts("hubspot", [Contact("7", email="ann@acme.io")], NOW)

    def meeting(outcome: str, day: int, *, revisable: bool = True, key: str = "m1") -> Activity:
        return Activity(
            "7",
            ActivityType.MEETING,
            days_ago(day),
            id=key,
            attributes={"outcome": outcome},
            revisable=revisable,
        )

    assert store.save_activities("hubspot", [meeting("scheduled", 9)]) == 1
    assert store.save_activities("hubspot", [meeting("completed", 2)]) == 0  # not a new one
    assert store.save_activities("hubspot", [meeting("a", 5, revisable=False, key="m2")]) == 1
    assert store.save_activities("hubspot", [meeting("b", 1, revisable=False, key="m2")]) == 0
    held = {a.id: a for a in activity_records(store.load_people(activity_ids=True))}

    revised, plain = held["hubspot:m1"], held["hubspot:m2"]
    assert (revised.attributes["outcome"], revised.occurred_at) == ("completed", days_ago(2))
    assert plain.attributes["outcome"] == "a"  # the first one stored stands


def test_a_revision_that_names_another_address_gives_that_address_a_person(
    store: StateStore,
) -> None:
    def booked(address: str) -> Activity:
        return Activity(
            "", ActivityType.MEETING, days_ago(1), id="m1", contact_email=address, revisable=True
        )

    store.save_activities("hubspot", [booked("ann@acme.io")])
    assert store.save_activities("hubspot", [booked("bob@acme.io")]) == 0

    assert store.person_of("bob@acme.io") is not None


def test_a_revision_stored_by_another_process_meanwhile_is_replaced_by_ours(
    url: str, request: pytest.FixtureRequest
) -> None:
    if not url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: no other process stores meanwhile")
    ours, theirs = StateStore(url), StateStore(url)
    request.addfinalizer(ours.close)
    request.addfinalizer(theirs.close)

    def meeting(outcome: str) -> Activity:
        return Activity(
            "7",
            ActivityType.MEETING,
            days_ago(1),
            id="m1",
            attributes={"outcome": outcome},
            revisable=True,
        )

    looked: list[str] = []

    def meanwhile(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        # Right after we looked for the id, another process stores its (older) pull of it.
        if statement.lstrip().startswith("SELECT activities.activity_id") and not looked:
            looked.append(statement)
            theirs.save_activities("hubspot", [meeting("scheduled")])

    theirs.save_contacts("hubspot", [Contact("7", email="ann@acme.io")], NOW)
    sa.event.listen(ours.engine, "after_cursor_execute", meanwhile)
    ours.save_activities("hubspot", [meeting("completed")])

    held = activity_records(theirs.load_people(activity_ids=True))
    assert looked and [a.attributes["outcome"] for a in held] == ["completed"]


def test_activities_without_an_id_are_deduplicated_by_what_they_are(store: StateStore) -> None:
    assert store.save_activities("files", [visit(None), visit(None)]) == 1
    assert store.save_activities("files", [visit(None)]) == 0
    assert store.save_activities("files", [visit(None, url="/pricing"), visit(None, when=2)]) == 2


def test_an_address_keyed_activity_belongs_to_the_person_with_that_address(
    store: StateStore,
) -> None:
    store.save_contacts("hubspot", [contact("101", "ann@acme.io")], NOW)

    store.save_activities("mailchimp", [opened("ANN@acme.io")])

    people = store.load_people(activity_ids=True)
    assert [(a.contact_id, a.type) for a in activity_records(people)] == [
        (people.contacts[0].id, ActivityType.EMAIL_OPEN)
    ]


def test_an_address_keyed_activity_finds_a_contact_that_arrives_after_it(
    store: StateStore,
) -> None:
    store.save_activities("mailchimp", [opened("ann@acme.io")])

    store.save_contacts("hubspot", [contact("101", "Ann@Acme.io")], NOW)

    people = store.load_people(activity_ids=True)
    assert len(people.contacts) == 1
    pid = people.contacts[0].id
    assert people.records[pid] == [("hubspot", "101")]
    assert [a.contact_id for a in activity_records(people)] == [pid]


def test_an_activity_for_an_address_nobody_has_yet_still_yields_a_person(
    store: StateStore,
) -> None:
    store.save_activities("mailchimp", [opened("new@lead.io")])

    people = store.load_people(activity_ids=True)

    assert [c.email for c in people.contacts] == ["new@lead.io"]
    assert [a.contact_id for a in activity_records(people)] == [people.contacts[0].id]
    assert people.records == {}


def test_a_record_keyed_activity_belongs_to_that_record_in_its_own_system(
    store: StateStore,
) -> None:
    store.save_contacts("hubspot", [contact("101", "ann@acme.io")], NOW)
    store.save_contacts("salesforce", [contact("101", "bob@beta.io")], NOW)

    store.save_activities("hubspot", [visit("pv1", contact_id="101")])

    found = activity_records(store.load_people(activity_ids=True))
    assert [a.contact_id for a in found] == [str(store.person_of("ann@acme.io"))]


# -- reading people back --------------------------------------------------------------------------


def test_loaded_people_merge_attributes_with_the_first_system_alphabetically_winning(
    store: StateStore,
) -> None:
    store.save_contacts("salesforce", [contact("003A", title="CTO", industry="SaaS")], NOW)
    store.save_contacts("hubspot", [contact("101", title="VP", country="FR")], NOW)
    store.save_contacts("mailchimp", [contact("m1", title="Boss", country="DE", tags="x")], NOW)

    (ann,) = store.load_people(activity_ids=True).contacts

    assert ann.id == str(store.person_of("ann@acme.io"))
    assert ann.email == "ann@acme.io"
    assert ann.attributes == {"title": "VP", "country": "FR", "industry": "SaaS", "tags": "x"}


def test_loaded_activities_are_keyed_by_person_and_dated_as_saved(store: StateStore) -> None:
    store.save_contacts("hubspot", [contact("101", "ann@acme.io")], NOW)
    store.save_activities("hubspot", [visit("pv1", contact_id="101", when=2, url="/pricing")])
    store.save_activities("mailchimp", [opened("ann@acme.io", "ev9", when=1)])

    found = activity_records(store.load_people(activity_ids=True))

    pid = str(store.person_of("ann@acme.io"))
    assert [(a.contact_id, a.id, a.source) for a in found] == [
        (pid, "hubspot:pv1", "hubspot"),
        (pid, "mailchimp:ev9", "mailchimp"),
    ]
    assert found[0].occurred_at == days_ago(2)
    assert found[0].attributes == {"url": "/pricing"}


def test_loading_chosen_people_gives_only_their_contacts_records_and_activities(
    store: StateStore,
) -> None:
    store.save_contacts("hubspot", [contact("101", "ann@acme.io"), contact("102", "bob@b.io")], NOW)
    store.save_activities("hubspot", [visit("pv1", "101"), visit("pv2", "102")])
    store.save_activities("mailchimp", [opened("ann@acme.io"), opened("bob@b.io", "ev2")])
    bob = store.person_of("bob@b.io")
    assert bob is not None

    people = store.load_people([bob], activity_ids=True)

    assert [c.id for c in people.contacts] == [str(bob)]
    assert list(people.records) == [str(bob)]
    assert sorted(a.id or "" for a in activity_records(people)) == ["hubspot:pv2", "mailchimp:ev2"]


# -- cursors --------------------------------------------------------------------------------------


def test_cursors_are_kept_per_system_and_overwritten_per_stream(store: StateStore) -> None:
    store.commit_cursors("hubspot", {"contacts": "a", "events": "b"}, NOW)
    store.commit_cursors("salesforce", {"contacts": "s"}, NOW)

    store.commit_cursors("hubspot", {"contacts": "a2"}, NOW)

    assert store.cursors("hubspot") == {"contacts": "a2", "events": "b"}
    assert store.cursors("salesforce") == {"contacts": "s"}


# -- written values and failures ------------------------------------------------------------------


def test_written_values_are_remembered_per_system_and_replaced(store: StateStore) -> None:
    store.record_written("hubspot", {"101": {"leadscore_score": "10"}}, NOW)
    store.record_written("hubspot", {"101": {"leadscore_score": "12"}, "102": {"x": "1"}}, NOW)

    assert store.written_values("hubspot") == {
        "101": {"leadscore_score": "12"},
        "102": {"x": "1"},
    }
    assert store.written_values("salesforce") == {}


def test_a_write_that_lands_clears_the_earlier_failure_of_that_record(store: StateStore) -> None:
    store.record_failures("hubspot", [("101", "429", True), ("102", "400 bad", False)], NOW)

    store.record_written("hubspot", {"101": {"leadscore_score": "10"}}, NOW)

    assert [f.record_id for f in store.failures()] == ["102"]


def test_repeated_failures_count_their_attempts(store: StateStore) -> None:
    store.record_failures("hubspot", [("101", "timeout", True)], NOW)
    later = NOW + timedelta(hours=1)

    store.record_failures("hubspot", [("101", "429 too many", True), ("102", "400", False)], later)
    store.record_failures("salesforce", [("003A", "locked", True)], later)

    hubspot = store.failures("hubspot")
    assert [(f.record_id, f.reason, f.retryable, f.attempts) for f in hubspot] == [
        ("101", "429 too many", True, 2),
        ("102", "400", False, 1),
    ]
    assert hubspot[0].failed_at == later
    assert [(f.system, f.record_id) for f in store.failures()] == [
        ("hubspot", "101"),
        ("hubspot", "102"),
        ("salesforce", "003A"),
    ]


# -- runs -----------------------------------------------------------------------------------------


def test_runs_are_listed_newest_first_with_their_summaries(store: StateStore) -> None:
    first = store.start_run("full", NOW)
    store.finish_run(first, "ok", {"hubspot": {"written": 3}, "changed": 3}, NOW + timedelta(1))
    second = store.start_run("incremental", NOW + timedelta(2))

    newest, oldest = store.runs()

    assert (newest.id, newest.mode, newest.status, newest.finished_at) == (
        second,
        "incremental",
        "running",
        None,
    )
    assert (oldest.id, oldest.status, oldest.started_at) == (first, "ok", NOW)
    assert oldest.finished_at == NOW + timedelta(1)
    assert oldest.summary == {"hubspot": {"written": 3}, "changed": 3}
    assert len(store.runs(limit=1)) == 1


# -- finding a person -----------------------------------------------------------------------------


def test_a_person_is_found_by_address_in_any_case_or_by_record_id(store: StateStore) -> None:
    store.save_contacts("hubspot", [contact("101", "ann@acme.io")], NOW)
    store.save_contacts("salesforce", [contact("003A", "ann@acme.io")], NOW)

    ann = store.person_of("ann@acme.io")

    assert ann is not None
    assert store.person_of(" ANN@Acme.IO") == ann
    assert store.person_of("101") == ann
    assert store.person_of("003A") == ann
    assert store.person_of("nobody@acme.io") is None


def test_an_empty_key_finds_nobody(store: StateStore) -> None:
    store.save_contacts("hubspot", [contact("101", None)], NOW)

    assert store.person_of("") is None
    assert store.person_of("  ") is None


# -- concurrency ----------------------------------------------------------------------------------


@pytest.mark.parametrize("sharing", ["one-store", "store-each"])
def test_threads_saving_the_same_people_at_once_end_with_one_person_per_address(
    url: str, sharing: str
) -> None:
    # Sharing one store, its lock orders the writes; with a store each (as separate processes
    # have), only the database's locking and the conflict-tolerant inserts keep people unique.
    store = StateStore(url)
    own = [StateStore(url) if sharing == "store-each" else store for _ in range(4)]
    addresses = [f"p{i}@acme.io" for i in range(40)]
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def sync(worker: int) -> None:
        try:
            start.wait()
            for round_ in range(3):
                spelled = [a.upper() if worker % 2 else f" {a}" for a in addresses]
                people = [contact(f"{worker}-{i}", a) for i, a in enumerate(spelled)]
                found = [opened(a, f"{worker}:{round_}:{a}") for a in reversed(spelled)]
                # Half the workers see the activities first, so their addresses are new there.
                if worker % 2:
                    own[worker].save_activities("mailchimp", found)
                own[worker].save_contacts(f"system{worker % 2}", people, NOW)
                if not worker % 2:
                    own[worker].save_activities("mailchimp", found)
        except BaseException as error:  # reported below, in the test's own thread
            errors.append(error)

    threads = [threading.Thread(target=sync, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    people = store.load_people(activity_ids=True)
    assert sorted(c.email or "" for c in people.contacts) == sorted(addresses)
    assert store.counts()["activities"] == 4 * 3 * len(addresses)
    for each in {store, *own}:
        each.close()


# -- property -------------------------------------------------------------------------------------

ADDRESSES = ("ann@acme.io", "bob@beta.io", "cy@gamma.org")


@st.composite
def spelled_address(draw: st.DrawFn) -> str:
    address = draw(st.sampled_from(ADDRESSES))
    cased = "".join(c.upper() if draw(st.booleans()) else c for c in address)
    return draw(st.sampled_from(["", " ", "\t"])) + cased + draw(st.sampled_from(["", " ", "\n"]))


@given(
    entries=st.lists(
        st.tuples(st.sampled_from(["hubspot", "mailchimp", "salesforce"]), spelled_address()),
        max_size=12,
    ),
    data=st.data(),
)
def test_saving_contacts_in_any_order_gives_one_person_per_address(
    entries: list[tuple[str, str]], data: st.DataObject
) -> None:
    contacts = [(system, contact(f"r{n}", email)) for n, (system, email) in enumerate(entries)]
    order = data.draw(st.permutations(contacts))
    twice = data.draw(st.booleans())
    store = StateStore("sqlite://")

    for system, record in order * (2 if twice else 1):
        store.save_contacts(system, [record], NOW)

    people = store.load_people(activity_ids=True)
    expected = {email.strip().lower() for _, email in entries}
    assert sorted(c.email or "" for c in people.contacts) == sorted(expected)
    for _, record in contacts:
        assert store.person_of(record.id) == store.person_of(record.email or "")
    store.close()


def test_what_no_backend_could_keep_is_bounded_or_skipped_never_failing_the_save(
    store: StateStore,
) -> None:
    long_email = "a" * 330 + "@acme.io"
    saved = store.save_contacts(
        "hubspot",
        [
            contact("1", email="nul\x00@acme.io"),
            contact("2", email=long_email),
            contact("3" * 65),  # no record id column holds it: skipped
            contact("4\x00"),
            contact("5", email="kim@acme.io", note="with a \x00 inside"),
        ],
        NOW,
    )
    activities = [
        Activity(
            "5",
            ActivityType.FORM_SUBMISSION,
            days_ago(1),
            id="x" * 200,
            attributes={"form": "f" * 300, "campaign": "c" * 200, "url": "/a\x00b"},
        ),
        Activity("6" * 70, ActivityType.PAGE_VIEW, days_ago(1), id="pv"),  # skipped
    ]
    new = store.save_activities("hubspot", activities)
    [stored_activity] = activity_records(store.load_people(activity_ids=True))

    assert (saved, new) == (3, 1)
    assert store.skipped["hubspot"] == 3
    assert len(stored_activity.attributes["form"]) == 256
    assert len(stored_activity.attributes["campaign"]) == 128
    assert stored_activity.attributes["url"] == "/ab"


def test_a_failure_reason_with_a_nul_is_kept_on_every_backend(store: StateStore) -> None:
    # A vendor's message may quote a value it refused, whatever bytes that held.
    store.record_failures("hubspot", [("1", "refused 'a\x00b'", False)], NOW, {"1": {"f": "v"}})

    [failure] = store.failures("hubspot")
    assert failure.reason == "refused 'ab'"


class Deadlocked(Exception):
    """A driver error as psycopg raises it for a deadlock PostgreSQL broke."""

    sqlstate = "40P01"


def test_a_transaction_aborted_for_a_deadlock_is_run_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes storing the same people in another order: PostgreSQL aborts one of
    them, which runs its pages again; any other database error is raised at once."""
    import sync.saving

    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    real, calls = sync.saving.keep_contacts, []

    def once_deadlocked(*args: object, **kwargs: object) -> int:
        calls.append(1)
        if len(calls) == 1:
            raise sa.exc.OperationalError("UPDATE persons", {}, Deadlocked())
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sync.saving, "keep_contacts", once_deadlocked)
    assert store.save_contacts("hubspot", [contact("1")], NOW) == 1
    assert len(calls) == 2 and store.records_by_person() != {}

    def broken(*args: object, **kwargs: object) -> int:
        raise sa.exc.OperationalError("UPDATE persons", {}, OSError("disk I/O error"))

    monkeypatch.setattr(sync.saving, "keep_contacts", broken)
    with pytest.raises(sa.exc.OperationalError, match="disk I/O"):
        store.save_contacts("hubspot", [contact("2", "bob@acme.io")], NOW)
    store.close()


def test_the_store_reads_its_purchases_by_their_own_index(url: str) -> None:
    from sync.readback import activities_query

    first = StateStore(url)
    first.save_contacts("hubspot", [contact("101")], NOW)
    with first.engine.begin() as connection:  # a store of version 14: made without it
        connection.execute(sa.text("DROP INDEX ix_activities_purchases"))
        connection.execute(sa.update(meta).where(meta.c.key == "schema_version").values(value="14"))
    first.close()

    again = StateStore(url)
    query = activities_query(None, None, ["person_id", "occurred_at"], types=["purchase"])
    with again.engine.connect() as connection:
        if again.engine.dialect.name == "sqlite":
            plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {query.compile()}").all()
        else:
            connection.exec_driver_sql("SET enable_seqscan = off")
            plan = connection.execute(sa.text(f"EXPLAIN {query.compile()}")).all()
    again.close()
    assert "ix_activities_purchases" in " ".join(map(str, plan))
    with pytest.raises(ValueError):
        activities_query(None, None, types=["purchase'; --"])
