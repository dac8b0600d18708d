"""Activities a pull found taken back (`Page.withdrawn`): deleted with the page, persons rescored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from connectors.protocol import Withdrawn
from scoring import Activity, ActivityType, Contact
from sync.schema import activities, persons
from sync.store import StateStore
from tests.helpers import NOW, days_ago

MC, SF = "mailchimp", "salesforce"


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    if request.param == "sqlite":
        target = f"sqlite:///{tmp_path}/s.db"
    else:
        target = str(request.getfixturevalue("postgres_url"))
    opened = StateStore(target)
    yield opened
    opened.close()


def held(store: StateStore, system: str) -> set[str]:
    with store.engine.connect() as connection:
        query = sa.select(activities.c.activity_id).where(activities.c.system == system)
        return set(connection.execute(query).scalars())


def settle(store: StateStore) -> None:
    """Every person scored: due at some moment, not now."""
    with store.engine.begin() as connection:
        connection.execute(sa.update(persons).values(due=1e12))


def due_now(store: StateStore) -> set[str | None]:
    """The addresses of the persons due now."""
    with store.engine.connect() as connection:
        query = sa.select(persons.c.email).where(persons.c.due.is_(None))
        return set(connection.execute(query).scalars())


def member(record: str, kind: ActivityType, ident: str) -> Activity:
    return Activity(record, kind, days_ago(3), id=ident, attributes={"campaign": "701A"})


def save(
    store: StateStore,
    system: str,
    withdrawn: list[Withdrawn],
    found: list[Activity] | None = None,
    contacts: list[Contact] | None = None,
) -> None:
    store.save_pages(system, [(contacts or [], found or [])], NOW, frozenset(), [withdrawn])


def test_a_withdrawn_activity_goes_and_its_person_is_due_again(store: StateStore) -> None:
    store.save_contacts(SF, [Contact("003A", email="ann@acme.io")], NOW)
    store.save_contacts(SF, [Contact("003B", email="bob@acme.io")], NOW)
    store.save_activities(SF, [member("003A", ActivityType.EMAIL_SENT, "cm:00vA:sent"),
                               member("003A", ActivityType.EMAIL_CLICK, "cm:00vA:responded"),
                               member("003B", ActivityType.EMAIL_SENT, "cm:00vB:sent")])  # fmt: skip
    settle(store)

    save(store, SF, [Withdrawn(activity_id="cm:00vA:sent"), Withdrawn("cm:00vA:responded")])

    assert held(store, SF) == {"cm:00vB:sent"}
    assert due_now(store) == {"ann@acme.io"}
    ann = store.person_of("ann@acme.io")
    assert ann is not None and store.load_people([ann]).contacts  # the person stays


def test_withdrawing_is_idempotent_and_an_unknown_activity_is_no_change(
    store: StateStore,
) -> None:
    store.save_contacts(SF, [Contact("003A", email="ann@acme.io")], NOW)
    store.save_activities(SF, [member("003A", ActivityType.EMAIL_SENT, "cm:00vA:sent")])
    save(store, SF, [Withdrawn("cm:00vA:sent")])
    settle(store)

    save(store, SF, [Withdrawn("cm:00vA:sent"), Withdrawn("cm:00vZ:sent")])
    save(store, SF, [Withdrawn(prefix="won:006Z:"), Withdrawn(record_id="003Z")])

    assert held(store, SF) == set()
    assert due_now(store) == set()
    assert store.counts()["persons"] == 1


def test_a_withdrawal_is_stored_in_the_pages_transaction(
    store: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.save_activities(MC, [Activity("", ActivityType.EMAIL_OPEN, days_ago(2), id="mc:1",
                                        contact_email="ann@acme.io")])  # fmt: skip

    def broken(*_args: object) -> set[int]:
        raise RuntimeError("killed")

    monkeypatch.setattr("sync.saving.persons_of", broken)
    with pytest.raises(RuntimeError, match="killed"):
        save(store, MC, [Withdrawn(email="ann@acme.io")],
             contacts=[Contact("L1:c1", email="cy@acme.io")])  # fmt: skip

    # neither the withdrawal nor the page's contact: the transaction was rolled back
    assert held(store, MC) == {"mc:1"}
    assert store.person_of("cy@acme.io") is None


def test_a_page_withdrawing_what_it_brings_ends_without_it(store: StateStore) -> None:
    found = [member("003A", ActivityType.EMAIL_SENT, "cm:00vA:sent")]
    save(store, SF, [Withdrawn("cm:00vA:sent")], found, [Contact("003A", email="ann@acme.io")])

    assert held(store, SF) == set()


def test_a_prefix_withdraws_every_purchase_of_a_deleted_opportunity(store: StateStore) -> None:
    store.save_contacts(SF, [Contact("003A", email="ann@acme.io"),
                             Contact("003B", email="bob@acme.io")], NOW)  # fmt: skip
    store.save_activities(SF, [member("003A", ActivityType.PURCHASE, "won:006X:003A"),
                               member("003B", ActivityType.PURCHASE, "won:006X:003B"),
                               member("003B", ActivityType.PURCHASE, "won:006X1:003B"),
                               member("003A", ActivityType.PURCHASE, "won_006X:003A")])  # fmt: skip
    settle(store)

    save(store, SF, [Withdrawn(prefix="won:006X:")])

    assert held(store, SF) == {"won:006X1:003B", "won_006X:003A"}  # `_` is no wildcard
    assert due_now(store) == {"ann@acme.io", "bob@acme.io"}


def test_many_prefixes_are_looked_up_in_one_query(store: StateStore) -> None:
    # an incremental pull withdraws every Opportunity changed and not won: most hold nothing
    store.save_contacts(SF, [Contact("003A", email="ann@acme.io")], NOW)
    store.save_activities(SF, [member("003A", ActivityType.PURCHASE, "won:006X:003A"),
                               member("003A", ActivityType.PURCHASE, "won:006X1:003A"),
                               member("003A", ActivityType.PURCHASE, "won:006Y:003A")])  # fmt: skip
    withdrawn = [Withdrawn(prefix=f"won:006{n}:") for n in ["X", "Y", *range(200)]]
    selects: list[str] = []

    def count(conn, cursor, statement, *_) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT") and "activities" in statement:
            selects.append(statement)

    sa.event.listen(store.engine, "before_cursor_execute", count)
    try:
        save(store, SF, withdrawn)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", count)

    assert held(store, SF) == {"won:006X1:003A"}
    assert len([q for q in selects if "LIKE" in q.upper()]) == 1


def campaign(ident: str, address: str, list_id: str) -> Activity:
    return Activity("", ActivityType.EMAIL_CLICK, days_ago(2), id=ident, contact_email=address,
                    attributes={"list_id": list_id, "campaign": "c1"})  # fmt: skip


def test_a_members_withdrawal_takes_its_record_and_its_address_in_its_audience_only(
    store: StateStore,
) -> None:
    store.save_contacts(MC, [Contact("L1:c1", email="ann@acme.io")], NOW)
    store.save_contacts("hubspot", [Contact("51", email="ann@acme.io")], NOW)
    signup = Activity("L1:c1", ActivityType.NEWSLETTER_SIGNUP, days_ago(9), id="mc:signup",
                      attributes={"list_id": "L1"})  # fmt: skip
    store.save_activities(MC, [signup, campaign("mc:a", " Ann@acme.io", "L1"),
                               campaign("mc:b", "ann@acme.io", "L2"),
                               campaign("mc:c", "bob@acme.io", "L1")])  # fmt: skip
    store.save_activities("hubspot", [Activity("51", ActivityType.EMAIL_OPEN, days_ago(1),
                                               id="hs:1")])  # fmt: skip
    settle(store)

    save(store, MC, [Withdrawn(record_id="L1:c1", email="ANN@acme.io", where=(("list_id", "L1"),))])

    assert held(store, MC) == {"mc:b", "mc:c"}
    assert held(store, "hubspot") == {"hs:1"}
    assert due_now(store) == {"ann@acme.io"}


def test_an_address_left_with_nothing_is_no_person_any_more(store: StateStore) -> None:
    store.save_activities(MC, [campaign("mc:a", "cy@acme.io", "L1")])
    assert store.person_of("cy@acme.io") is not None

    save(store, MC, [Withdrawn(email="cy@acme.io", where=(("list_id", "L1"),))])

    assert store.person_of("cy@acme.io") is None
    assert store.counts()["persons"] == 0


@pytest.mark.parametrize(
    "given",
    [{}, {"activity_id": "a", "prefix": "b"}, {"prefix": "b", "email": "x@y.z"}, {"email": ""}],
)
def test_a_withdrawal_names_its_activities_one_way(given: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="names an activity id"):
        Withdrawn(**given)  # type: ignore[arg-type]


def test_a_record_gone_takes_the_activities_it_names_in_the_same_transaction(
    store: StateStore,
) -> None:
    from sync.vanished import gone_records, record_gone

    store.save_contacts(MC, [Contact("L1:c1", email="ann@acme.io")], NOW)
    store.save_activities(MC, [campaign("mc:a", "ann@acme.io", "L1"),
                               campaign("mc:b", "ann@acme.io", "L2")])  # fmt: skip
    taken = Withdrawn(record_id="L1:c1", email="ann@acme.io", where=(("list_id", "L1"),))

    record_gone(store, MC, [("L1:c1", None)], NOW, [taken])

    assert gone_records(store, MC) == {"L1:c1": None}
    assert held(store, MC) == {"mc:b"}  # the other audience's member's
    assert due_now(store) == {"ann@acme.io"}


def test_a_refunded_mailchimp_order_stops_counting_as_a_purchase(store: StateStore) -> None:
    from collections import Counter

    from connectors.mailchimp.orders import order_activity
    from scoring import parse_rules
    from sync.rfm import population

    order = {
        "id": "o1",
        "customer": {"email_address": "ann@acme.io"},
        "processed_at_foreign": days_ago(3).isoformat(),
        "order_total": 120.0,
        "financial_status": "paid",
    }
    paid = order_activity("s1", "L1", order, Counter())
    assert isinstance(paid, Activity)
    store.save_contacts(MC, [Contact("m1", email="ann@acme.io")], NOW)
    save(store, MC, [], [paid])
    rules = parse_rules("rules: [{id: v, activity: page_view, points: 1}]\nrfm: {}\n", "r.yaml")
    with store.engine.connect() as connection:
        bought = population(connection, rules, NOW.timestamp())
    assert held(store, MC) == {paid.id} and bought is not None and bought.people == 1
    settle(store)

    refunded = order_activity("s1", "L1", {**order, "financial_status": "refunded"}, Counter())
    assert isinstance(refunded, Withdrawn)
    save(store, MC, [refunded])

    assert held(store, MC) == set()  # neither its recency nor its frequency counts
    with store.engine.connect() as connection:
        bought = population(connection, rules, NOW.timestamp())
    assert bought is not None and bought.people == 0
    assert due_now(store) == {"ann@acme.io"}


def test_many_members_are_looked_up_a_chunk_at_a_time_and_take_what_each_would(
    store: StateStore,
) -> None:
    # an audience's archived members come forty to a page: each looked up alone had SQLite
    # read every activity of the system (the record index's system alone), member by member
    members = [Contact(f"L1:c{n}", email=f"p{n}@acme.io") for n in range(40)]
    store.save_contacts(MC, members, NOW)
    store.save_contacts("hubspot", [Contact("51", email="p0@acme.io")], NOW)
    found = [Activity(f"L1:c{n}", ActivityType.NEWSLETTER_SIGNUP, days_ago(9), id=f"mc:s{n}",
                      attributes={"list_id": "L1" if n % 3 else "L2"}) for n in range(40)]  # fmt: skip
    found += [campaign(f"mc:a{n}", f"p{n}@acme.io", "L1" if n % 4 else "L2") for n in range(40)]
    # pinned to the record by its address: the record's, taken by its record id
    found.append(Activity("L1:c4", ActivityType.EMAIL_OPEN, days_ago(1), id="mc:pin",
                          contact_email="p4@acme.io", attributes={"list_id": "L1"}))  # fmt: skip
    store.save_activities(MC, found)
    store.save_activities("hubspot", [Activity("", ActivityType.EMAIL_OPEN, days_ago(1),
                                               id="hs:1", contact_email="p1@acme.io")])  # fmt: skip
    withdrawn = [Withdrawn(record_id=f"L1:c{n}", email=f"P{n}@acme.io", where=(("list_id", "L1"),))
                 for n in range(0, 40, 2)]  # fmt: skip
    withdrawn.append(Withdrawn(email="p1@acme.io", where=(("list_id", "L1"),)))
    selects: list[str] = []

    def count(conn, cursor, statement, *_) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT") and "activities" in statement:
            selects.append(statement)

    sa.event.listen(store.engine, "before_cursor_execute", count)
    try:
        save(store, MC, withdrawn)
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", count)

    taken = {f"mc:s{n}" for n in range(0, 40, 2) if n % 3}
    taken |= {f"mc:a{n}" for n in [*range(0, 40, 2), 1] if n % 4}
    taken.add("mc:pin")
    every = {f"mc:s{n}" for n in range(40)} | {f"mc:a{n}" for n in range(40)} | {"mc:pin"}
    assert held(store, MC) == every - taken
    assert held(store, "hubspot") == {"hs:1"}
    assert len(selects) <= 4  # the records, the addresses; and the persons left
