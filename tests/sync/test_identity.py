"""Identities follow the system's record id first and the email second: email changes,
aliases, merges, deletions and the persons they leave behind."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import Activity, ActivityType, Contact
from sync.schema import aliases, gone, identities, persons
from sync.store import StateStore
from sync.vanished import gone_records, record_gone
from tests.helpers import NOW, days_ago

LATER = NOW + timedelta(hours=1)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    if request.param == "sqlite":
        target = f"sqlite:///{tmp_path}/s.db"
    else:
        target = str(request.getfixturevalue("postgres_url"))
    opened = StateStore(target)
    yield opened
    opened.close()


def contact(ident: str, email: str | None) -> Contact:
    return Contact(ident, email=email)


def opened(address: str, ident: str, *, revisable: bool = False, outcome: str = "") -> Activity:
    """An activity keyed by address only, as HubSpot's email events are."""
    attributes = {"outcome": outcome} if outcome else {}
    kind = ActivityType.MEETING if revisable else ActivityType.EMAIL_OPEN
    return Activity(
        "",
        kind,
        days_ago(1),
        id=ident,
        contact_email=address,
        attributes=attributes,
        revisable=revisable,
    )


def visit(record: str, ident: str) -> Activity:
    """An activity keyed by record id."""
    return Activity(record, ActivityType.PAGE_VIEW, days_ago(2), id=ident)


def joined(store: StateStore) -> dict[str, set[str]]:
    """Person id -> the activities (`system:id`) joined to that person."""
    people = store.load_people(activity_ids=True)
    found: dict[str, set[str]] = {c.id: set() for c in people.contacts}
    for person, ident in zip(people.columns.person, people.columns.ids, strict=True):
        found[str(int(person))].add(ident)
    return found


def of_record(store: StateStore, system: str, record: str) -> set[str]:
    """The activities joined to the person a record belongs to."""
    person = store.person_of(record)
    assert person is not None
    people = store.load_people()
    assert (system, record) in people.records[str(person)]
    return joined(store)[str(person)]


def alias_rows(store: StateStore) -> set[tuple[str, str, str]]:
    with store.engine.connect() as connection:
        rows = connection.execute(sa.select(aliases.c.system, aliases.c.email, aliases.c.record_id))
        return {(s, e, r) for s, e, r in rows}


def emails(store: StateStore) -> list[str]:
    """The addresses of the persons in the store ("-" for one without)."""
    return sorted(c.email or "-" for c in store.load_people().contacts)


# -- email changes --------------------------------------------------------------------------------


def test_an_email_change_keeps_the_events_of_the_old_address_and_later_ones_too(
    store: StateStore,
) -> None:
    store.save_contacts("hubspot", [contact("101", "ann@acme.io")], NOW)
    store.save_activities("hubspot", [opened("ann@acme.io", "ev1"), visit("101", "pv1")])

    assert store.save_contacts("hubspot", [contact("101", "ann@newco.io")], LATER) == 1
    # HubSpot reports email events late, keyed by the address they were sent to.
    store.save_activities("hubspot", [opened("Ann@Acme.io", "ev2")])

    assert of_record(store, "hubspot", "101") == {"hubspot:ev1", "hubspot:ev2", "hubspot:pv1"}
    assert emails(store) == ["ann@newco.io"]  # nothing is left with the old address
    assert alias_rows(store) == {("hubspot", "ann@acme.io", "101")}


def test_a_record_changing_back_takes_its_address_back_from_its_alias(store: StateStore) -> None:
    store.save_contacts("hubspot", [contact("101", "ann@acme.io")], NOW)
    store.save_activities("hubspot", [opened("ann@acme.io", "ev1")])
    store.save_contacts("hubspot", [contact("101", "ann@newco.io")], NOW)
    store.save_activities("hubspot", [opened("ann@newco.io", "ev2")])

    store.save_contacts("hubspot", [contact("101", "ann@acme.io")], LATER)
    store.save_activities("hubspot", [opened("ann@acme.io", "ev3"), opened("ann@newco.io", "ev4")])

    assert of_record(store, "hubspot", "101") == {f"hubspot:ev{n}" for n in (1, 2, 3, 4)}
    assert alias_rows(store) == {("hubspot", "ann@newco.io", "101")}
    assert emails(store) == ["ann@acme.io"]


@pytest.mark.parametrize("taker", ["a new record", "a changed record"])
def test_another_record_taking_the_old_address_ends_the_alias(
    store: StateStore, taker: str
) -> None:
    store.save_contacts("hubspot", [contact("101", "ann@acme.io"), contact("102", "x@b.io")], NOW)
    store.save_activities("hubspot", [opened("ann@acme.io", "ev1")])
    store.save_contacts("hubspot", [contact("101", "ann@newco.io")], NOW)

    other = "103" if taker == "a new record" else "102"
    store.save_contacts("hubspot", [contact(other, "ann@acme.io")], LATER)
    store.save_activities("hubspot", [opened("ann@acme.io", "ev2")])

    assert of_record(store, "hubspot", "101") == {"hubspot:ev1"}  # what it had stays
    assert of_record(store, "hubspot", other) == {"hubspot:ev2"}  # what comes now is the taker's
    assert alias_rows(store) == (
        {("hubspot", "x@b.io", "102")} if taker == "a changed record" else set()
    )


def test_an_address_shared_with_another_record_of_the_system_stays_with_that_record(
    store: StateStore,
) -> None:
    # Salesforce allows two leads with one address: the address's activities are theirs both.
    store.save_contacts(
        "salesforce", [contact("L1", "ann@acme.io"), contact("L2", "ann@acme.io")], NOW
    )
    store.save_activities("salesforce", [opened("ann@acme.io", "ev1")])

    store.save_contacts("salesforce", [contact("L1", "ann@newco.io")], LATER)

    assert of_record(store, "salesforce", "L2") == {"salesforce:ev1"}
    assert of_record(store, "salesforce", "L1") == set()
    assert alias_rows(store) == set()


def test_another_system_sharing_the_old_address_is_untouched(store: StateStore) -> None:
    store.save_contacts("hubspot", [contact("101", "ann@acme.io")], NOW)
    store.save_contacts("mailchimp", [contact("m1", "ann@acme.io")], NOW)
    store.save_activities("hubspot", [opened("ann@acme.io", "hs1")])
    store.save_activities("mailchimp", [opened("ann@acme.io", "mc1")])

    store.save_contacts("hubspot", [contact("101", "ann@newco.io")], LATER)
    store.save_activities("hubspot", [opened("ann@acme.io", "hs2")])
    store.save_activities("mailchimp", [opened("ann@acme.io", "mc2")])

    assert of_record(store, "hubspot", "101") == {"hubspot:hs1", "hubspot:hs2"}
    assert of_record(store, "mailchimp", "m1") == {"mailchimp:mc1", "mailchimp:mc2"}
    assert store.person_of("m1") == store.person_of("ann@acme.io")


def test_contacts_saved_together_are_as_if_saved_one_at_a_time(store: StateStore) -> None:
    store.save_contacts("hubspot", [contact("1", "a@x.io"), contact("2", "b@x.io")], NOW)
    store.save_activities("hubspot", [opened("a@x.io", "ea"), opened("b@x.io", "eb")])

    # 1 leaves a@x.io for c@x.io, then 2 leaves b@x.io and takes a@x.io: each keeps what
    # it had, though 2 took a@x.io from 1 within the same call.
    store.save_contacts("hubspot", [contact("1", "c@x.io"), contact("2", "a@x.io")], LATER)

    assert of_record(store, "hubspot", "1") == {"hubspot:ea"}
    assert of_record(store, "hubspot", "2") == {"hubspot:eb"}
    assert alias_rows(store) == {("hubspot", "b@x.io", "2")}
    assert emails(store) == ["a@x.io", "c@x.io"]


def test_a_pinned_revisable_activity_stays_pinned_when_revised(store: StateStore) -> None:
    store.save_contacts("hubspot", [contact("101", "ann@acme.io")], NOW)
    store.save_activities("hubspot", [opened("ann@acme.io", "m1", revisable=True)])
    store.save_contacts("hubspot", [contact("101", "ann@newco.io")], NOW)
    store.save_contacts("hubspot", [contact("102", "ann@acme.io")], NOW)  # the alias yields

    store.save_activities("hubspot", [opened("ann@acme.io", "m1", revisable=True, outcome="held")])
    store.save_activities("hubspot", [opened("bob@acme.io", "m2", revisable=True)])
    store.save_activities("hubspot", [opened("ann@acme.io", "m2", revisable=True)])

    assert of_record(store, "hubspot", "101") == {"hubspot:m1"}
    assert of_record(store, "hubspot", "102") == {"hubspot:m2"}  # never pinned: it follows


# -- persons left behind --------------------------------------------------------------------------


def test_a_person_left_with_nothing_is_deleted_and_one_with_activity_is_kept(
    store: StateStore,
) -> None:
    store.save_contacts("hubspot", [contact("1", "a@x.io"), contact("2", "b@x.io")], NOW)
    store.save_contacts("hubspot", [contact("3", None)], NOW)
    store.save_activities("mailchimp", [opened("b@x.io", "mc1")])

    store.save_contacts(
        "hubspot", [contact("1", None), contact("2", "c@x.io"), contact("3", "d@x.io")], LATER
    )

    # a@x.io and the person of 3 without an address had nothing else; b@x.io has activity.
    assert emails(store) == ["-", "b@x.io", "c@x.io", "d@x.io"]
    assert store.counts()["persons"] == 4


def test_a_record_keyed_activity_does_not_make_a_person_of_its_address(store: StateStore) -> None:
    store.save_contacts("hubspot", [contact("101", "ann@acme.io")], NOW)
    meeting = Activity(
        "101", ActivityType.MEETING, days_ago(1), id="m1", contact_email="old@acme.io"
    )

    store.save_activities("hubspot", [meeting])

    assert emails(store) == ["ann@acme.io"]
    assert of_record(store, "hubspot", "101") == {"hubspot:m1"}


# -- merges ---------------------------------------------------------------------------------------


def test_a_merge_moves_the_losers_activities_and_address_to_a_known_winner(
    store: StateStore,
) -> None:
    store.save_contacts("hubspot", [contact("4", "dee@x.io"), contact("5", "eve@x.io")], NOW)
    store.save_activities("hubspot", [visit("4", "pv4"), visit("5", "pv5")])
    store.save_activities("hubspot", [opened("eve@x.io", "ev5")])
    store.record_written("hubspot", {"4": {"s": "1"}, "5": {"s": "2"}}, NOW)
    store.record_failures("hubspot", [("5", "429", True)], NOW)

    record_gone(store, "hubspot", [("5", "4")], LATER)
    store.save_activities("hubspot", [opened("eve@x.io", "ev6")])  # late, to the old address

    assert of_record(store, "hubspot", "4") == {
        "hubspot:pv4",
        "hubspot:pv5",
        "hubspot:ev5",
        "hubspot:ev6",
    }
    assert store.person_of("5") is None
    assert emails(store) == ["dee@x.io"]
    assert store.written_values("hubspot") == {"4": {"s": "1"}}
    assert store.failures("hubspot") == []
    assert gone_records(store, "hubspot") == {"5": "4"}
    assert alias_rows(store) == {("hubspot", "eve@x.io", "4")}


def test_an_activity_read_after_its_record_went_is_dropped_or_follows_the_merge(
    store: StateStore,
) -> None:
    """Another stream may read a record's activity after the record's deletion was stored
    (a contact role of a deleted Salesforce Contact, in a cursor's overlap)."""
    store.save_contacts("salesforce", [contact("4", "dee@x.io"), contact("5", "eve@x.io")], NOW)
    store.save_contacts("salesforce", [contact("6", "fay@x.io")], NOW)
    record_gone(store, "salesforce", [("5", None), ("6", "4")], LATER)

    new = store.save_activities("salesforce", [visit("5", "won5"), visit("6", "won6")])

    assert new == 1  # the deleted record's is not stored; the merged one's is the winner's
    assert of_record(store, "salesforce", "4") == {"salesforce:won6"}
    with store.engine.connect() as connection:
        held = connection.execute(sa.text("SELECT activity_id, record_id FROM activities"))
        assert sorted(tuple(r) for r in held) == [("won6", "4")]
    store.save_contacts("salesforce", [contact("5", "eve@x.io")], LATER)  # restored
    assert store.save_activities("salesforce", [visit("5", "won5")]) == 1


def test_a_record_gone_before_the_store_held_anything_of_it_moves_nothing(
    store: StateStore,
) -> None:
    """A converted lead a full pull meets first: its gone row is kept, nobody is due."""
    store.save_contacts("salesforce", [contact("4", "dee@x.io")], NOW)
    store.save_activities("salesforce", [visit("5", "pv5")])  # activity of the loser: held
    with store.engine.begin() as connection:
        connection.execute(sa.update(persons).values(due=1e12, marked=0))

    record_gone(store, "salesforce", [("7", "4"), ("8", None), ("5", "4")], LATER)

    assert gone_records(store, "salesforce") == {"7": "4", "8": None, "5": "4"}
    assert of_record(store, "salesforce", "4") == {"salesforce:pv5"}  # 5 was held: merged
    with store.engine.connect() as connection:
        [(due, marked)] = connection.execute(sa.select(persons.c.due, persons.c.marked))
    assert due is None and marked == 1  # by 5's merge only, not by 7's


def test_a_merge_into_a_winner_not_yet_pulled_joins_it_once_pulled(store: StateStore) -> None:
    store.save_contacts("hubspot", [contact("5", "eve@x.io")], NOW)
    store.save_activities("hubspot", [visit("5", "pv5"), opened("eve@x.io", "ev5")])

    record_gone(store, "hubspot", [("5", "9")], LATER)
    assert store.counts()["persons"] == 0  # nothing to score until the winner comes

    store.save_contacts("hubspot", [contact("9", "eve@newco.io")], LATER)

    assert of_record(store, "hubspot", "9") == {"hubspot:pv5", "hubspot:ev5"}


def test_a_merge_follows_the_winner_through_an_earlier_merge(store: StateStore) -> None:
    store.save_contacts("hubspot", [contact(n, f"{n}@x.io") for n in ("1", "2", "3")], NOW)
    store.save_activities("hubspot", [visit("1", "pv1"), visit("2", "pv2")])

    record_gone(store, "hubspot", [("2", "3")], NOW)
    record_gone(store, "hubspot", [("1", "2")], LATER)  # reported late, into a merged record

    assert of_record(store, "hubspot", "3") == {"hubspot:pv1", "hubspot:pv2"}


def test_a_merge_leaves_an_address_another_record_holds_to_it(store: StateStore) -> None:
    records = [contact("4", "dee@x.io"), contact("5", "eve@x.io"), contact("6", "eve@x.io")]
    store.save_contacts("salesforce", records, NOW)
    store.save_activities("salesforce", [opened("eve@x.io", "ev1")])

    record_gone(store, "salesforce", [("5", "4")], LATER)

    assert of_record(store, "salesforce", "6") == {"salesforce:ev1"}
    assert of_record(store, "salesforce", "4") == set()
    assert alias_rows(store) == set()


def test_a_merge_carries_the_losers_aliases_to_the_winner(store: StateStore) -> None:
    store.save_contacts("hubspot", [contact("4", "dee@x.io"), contact("5", "eve@x.io")], NOW)
    store.save_contacts("hubspot", [contact("5", "eve@newco.io")], NOW)

    record_gone(store, "hubspot", [("5", "4")], LATER)
    store.save_activities("hubspot", [opened("eve@x.io", "e1"), opened("eve@newco.io", "e2")])

    assert of_record(store, "hubspot", "4") == {"hubspot:e1", "hubspot:e2"}
    assert alias_rows(store) == {("hubspot", "eve@x.io", "4"), ("hubspot", "eve@newco.io", "4")}


# -- deletions ------------------------------------------------------------------------------------


def test_a_deleted_record_is_retired_and_pulled_again_is_no_longer_gone(
    store: StateStore,
) -> None:
    store.save_contacts("hubspot", [contact("7", "gil@x.io"), contact("8", "hal@x.io")], NOW)
    store.save_contacts("hubspot", [contact("7", "gil@newco.io")], NOW)  # an alias too
    store.save_activities("hubspot", [visit("7", "pv7"), visit("8", "pv8")])
    store.record_written("hubspot", {"7": {"s": "3"}}, NOW)
    store.record_failures("hubspot", [("7", "400", False)], NOW)

    record_gone(store, "hubspot", [("7", None)], LATER)

    assert store.person_of("7") is None
    assert emails(store) == ["hal@x.io"]
    assert joined(store) == {str(store.person_of("8")): {"hubspot:pv8"}}
    assert store.written_values("hubspot") == {}
    assert store.failures("hubspot") == []
    assert alias_rows(store) == set()
    assert gone_records(store, "hubspot") == {"7": None}

    # Restored (HubSpot keeps a deleted contact 90 days) and pulled again.
    store.save_contacts("hubspot", [contact("7", "gil@newco.io")], LATER)
    store.save_activities("hubspot", [visit("7", "pv9")])

    assert gone_records(store, "hubspot") == {}
    assert of_record(store, "hubspot", "7") == {"hubspot:pv9"}


def test_a_deleted_records_address_keyed_activities_keep_their_person(store: StateStore) -> None:
    store.save_contacts("hubspot", [contact("7", "gil@x.io")], NOW)
    store.save_activities("hubspot", [opened("gil@x.io", "ev1")])

    record_gone(store, "hubspot", [("7", None)], LATER)

    assert emails(store) == ["gil@x.io"]
    assert list(joined(store).values()) == [{"hubspot:ev1"}]


def test_gone_rows_of_other_systems_and_records_stay(store: StateStore) -> None:
    record_gone(store, "hubspot", [("1", None), ("2", "3")], NOW)
    record_gone(store, "salesforce", [("1", None)], NOW)

    store.save_contacts("hubspot", [contact("1", "a@x.io")], LATER)

    with store.engine.connect() as connection:
        left = connection.execute(sa.select(gone.c.system, gone.c.record_id)).all()
        assert sorted(map(tuple, left)) == [("hubspot", "2"), ("salesforce", "1")]
        assert connection.execute(sa.select(sa.func.count()).select_from(identities)).scalar() == 1


# -- concurrent writers --------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_writers_of_two_systems_at_once_never_lose_a_person_another_one_uses(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # HubSpot's records move between two addresses, leaving persons behind to delete, while
    # Mailchimp (another process: a store of its own) stores members and events there.
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path}/s.db"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    hubspot, mailchimp = StateStore(url), StateStore(url)
    request.addfinalizer(hubspot.close)
    request.addfinalizer(mailchimp.close)
    size, rounds = 30, 6
    hubspot.save_contacts("hubspot", [contact(f"h{i}", f"p{i}@x.io") for i in range(size)], NOW)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def move() -> None:
        try:
            start.wait()
            for round_ in range(rounds):
                prefix = "q" if round_ % 2 == 0 else "p"
                batch = [contact(f"h{i}", f"{prefix}{i}@x.io") for i in range(size)]
                hubspot.save_contacts("hubspot", batch, NOW)
        except BaseException as error:  # reported below, in the test's own thread
            errors.append(error)

    def member() -> None:
        try:
            start.wait()
            for round_ in range(rounds):
                prefix = "p" if round_ % 2 == 0 else "q"
                batch = [contact(f"m{i}-{round_}", f"{prefix}{i}@x.io") for i in range(size)]
                mailchimp.save_contacts("mailchimp", batch, NOW)
                events = [opened(f"{prefix}{i}@x.io", f"e{round_}-{i}") for i in range(size)]
                mailchimp.save_activities("mailchimp", events)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=move), threading.Thread(target=member)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    people = hubspot.load_people(activity_ids=True)
    assert len({c.email for c in people.contacts}) == len(people.contacts)
    records = sum(len(r) for r in people.records.values())
    assert records == size + size * rounds  # every record has its person
    assert sorted(people.columns.ids) == sorted(
        f"mailchimp:e{r}-{i}" for r in range(rounds) for i in range(size)
    )  # every event joins a person
    by_record = {r: pid for pid, rs in people.records.items() for r in rs}
    emails = {c.id: c.email for c in people.contacts}
    for i in range(size):
        for r in range(rounds):
            assert emails[by_record[("mailchimp", f"m{i}-{r}")]] in (f"p{i}@x.io", f"q{i}@x.io")


# -- property: a reference model of who owns each activity ----------------------------------------

SYSTEMS = ("hubspot", "mailchimp")
RECORDS = ("1", "2", "3")
ADDRESSES = ("a@x.io", "b@x.io", None)

Owner = tuple[str, str]
"""("record", id) or ("address", address), within the activity's system."""


class Model:
    """What the store should hold, applying the rules one contact at a time."""

    def __init__(self) -> None:
        self.live: dict[tuple[str, str], str | None] = {}  # (system, record) -> address
        self.aliases: dict[tuple[str, str], str] = {}  # (system, address) -> record
        self.gone: dict[tuple[str, str], str | None] = {}  # (system, record) -> merged into
        self.owners: dict[tuple[str, str], Owner] = {}  # (system, activity id) -> owner

    def _held(self, system: str, address: str) -> bool:
        return any(s == system and a == address for (s, _), a in self.live.items())

    def _pin(self, system: str, address: str, record: str) -> None:
        for key, owner in self.owners.items():
            if key[0] == system and owner == ("address", address):
                self.owners[key] = ("record", record)
        self.aliases[(system, address)] = record

    def contacts(self, system: str, batch: list[tuple[str, str | None]]) -> None:
        for record, address in batch:
            self.gone.pop((system, record), None)
            known = (system, record) in self.live
            before = self.live.get((system, record))
            if known and before == address:
                continue
            self.live[(system, record)] = address
            if known and before is not None and not self._held(system, before):
                self._pin(system, before, record)
            if address is not None:
                self.aliases.pop((system, address), None)

    def activity(self, system: str, ident: str, record: str | None, address: str | None) -> None:
        if record is not None:
            now = self._now(system, record)
            if now is not None:  # of a record deleted: not kept
                self.owners[(system, ident)] = ("record", now)
        elif address is not None:
            alias = self.aliases.get((system, address))
            self.owners[(system, ident)] = (
                ("record", alias) if alias is not None else ("address", address)
            )

    def _now(self, system: str, record: str) -> str | None:
        """The record a record is now: itself, where its merges led, or None (deleted, or
        merged in a circle)."""
        seen: set[str] = set()
        while (system, record) in self.gone:
            into = self.gone[(system, record)]
            if into is None or record in seen:
                return None
            seen.add(record)
            record = into
        return record

    def merge(self, system: str, loser: str, winner: str) -> None:
        self.gone[(system, loser)] = winner
        seen = {loser}
        while winner not in seen and self.gone.get((system, winner)) is not None:
            seen.add(winner)
            winner = str(self.gone[(system, winner)])
        if winner == loser:  # merged in a circle: nothing to merge into
            self._retire(system, loser)
            return
        for key, owner in self.owners.items():
            if key[0] == system and owner == ("record", loser):
                self.owners[key] = ("record", winner)
        for key, record in self.aliases.items():
            if key[0] == system and record == loser:
                self.aliases[key] = winner
        if (system, loser) in self.live:
            address = self.live.pop((system, loser))
            if address is not None and not self._held(system, address):
                self._pin(system, address, winner)

    def delete(self, system: str, record: str) -> None:
        self.gone[(system, record)] = None
        self._retire(system, record)

    def _retire(self, system: str, record: str) -> None:
        self.live.pop((system, record), None)
        for key in [
            k for k, o in self.owners.items() if k[0] == system and o == ("record", record)
        ]:
            del self.owners[key]
        for key in [k for k, r in self.aliases.items() if k[0] == system and r == record]:
            del self.aliases[key]


operations = st.one_of(
    st.tuples(
        st.just("contacts"),
        st.sampled_from(SYSTEMS),
        st.lists(
            st.tuples(st.sampled_from(RECORDS), st.sampled_from(ADDRESSES)),
            min_size=1,
            max_size=3,
            unique_by=lambda pair: pair[0],
        ),
    ),
    st.tuples(
        st.just("activity"),
        st.sampled_from(SYSTEMS),
        st.one_of(
            st.tuples(st.sampled_from(RECORDS), st.none()),
            st.tuples(st.none(), st.sampled_from(ADDRESSES[:-1])),
        ),
    ),
    st.tuples(
        st.just("merge"),
        st.sampled_from(SYSTEMS),
        st.lists(st.sampled_from(RECORDS), min_size=2, max_size=2, unique=True),
    ),
    st.tuples(st.just("delete"), st.sampled_from(SYSTEMS), st.sampled_from(RECORDS)),
)


@settings(max_examples=200)
@given(st.lists(operations, max_size=16))
def test_every_activity_joins_at_most_one_person_and_none_of_a_live_record_is_lost(
    steps: list[tuple[Any, ...]],
) -> None:
    store, model = StateStore("sqlite://"), Model()
    for n, (kind, system, what) in enumerate(steps):
        if kind == "contacts":
            store.save_contacts(system, [contact(r, a) for r, a in what], NOW)
            model.contacts(system, what)
        elif kind == "activity":
            record, address = what
            found = Activity(
                record or "",
                ActivityType.EMAIL_OPEN,
                days_ago(1),
                id=f"e{n}",
                contact_email=address,
            )
            store.save_activities(system, [found])
            model.activity(system, f"e{n}", record, address)
        elif kind == "merge":
            record_gone(store, system, [(what[0], what[1])], NOW)
            model.merge(system, what[0], what[1])
        else:
            record_gone(store, system, [(what, None)], NOW)
            model.delete(system, what)

    people = store.load_people(activity_ids=True)
    ids = people.columns.ids
    assert len(ids) == len(set(ids))  # no activity joins two persons
    person_of = dict(zip(ids, (str(int(p)) for p in people.columns.person), strict=True))
    by_address = {c.email: c.id for c in people.contacts if c.email is not None}
    by_record = {r: pid for pid, records in people.records.items() for r in records}
    assert set(by_record) == set(model.live)
    expected: dict[str, str] = {}
    for (system, ident), (kind, key) in model.owners.items():
        if kind == "address":
            expected[f"{system}:{ident}"] = by_address[key]
        elif (system, key) in model.live:
            expected[f"{system}:{ident}"] = by_record[(system, key)]
    assert person_of == expected
    # No person is left with nothing to score: each has a record or an activity.
    assert all(c.id in people.records or c.id in person_of.values() for c in people.contacts)
    assert gone_records(store, "hubspot") == {
        r: m for (s, r), m in model.gone.items() if s == "hubspot"
    }
    assert alias_rows(store) == {(s, a, r) for (s, a), r in model.aliases.items()}
    store.close()


def test_a_record_read_again_with_news_only_in_our_own_fields_is_no_change(
    store: StateStore,
) -> None:
    """A system that re-reads what a run wrote (Salesforce: our writes move SystemModstamp)
    brings back our own fields changed; that alone makes nobody due, and is kept as read."""
    ours = frozenset({"Leadscore_Stage__c", "Leadscore_Score__c"})
    first = Contact("00Q1", email="ann@acme.io", attributes={"Title": "CTO", "Rating": 0})
    written = Contact("00Q1", email="ann@acme.io",
                      attributes={"Title": "CTO", "Rating": 0, "Leadscore_Stage__c": "Lead",
                                  "Leadscore_Score__c": 42})  # fmt: skip
    edited = Contact("00Q1", email="ann@acme.io",
                     attributes={"Title": "CTO", "Rating": 0.0, "Leadscore_Stage__c": "Lead",
                                 "Leadscore_Score__c": 42})  # fmt: skip

    counts = [
        store.save_pages("salesforce", [([c], ())], NOW, ours)[0][0]
        for c in (first, written, written, edited)
    ]

    assert counts == [1, 0, 0, 1]  # new; ours only; nothing; 0 became 0.0: a change
    people = store.load_people()
    [attributes] = people.record_attributes.values()
    assert attributes["Leadscore_Stage__c"] == "Lead"  # kept as read: what the CRM holds
