"""The store read straight into columns: over ADBC (a worker process for a SQLite file,
in this process for PostgreSQL) and through SQLAlchemy's rows, the same columns."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sync.columns
import sync.readback
from scoring import Activity, ActivityType, Contact, column_from_values
from sync.columns import compiled, sqlite_worker, values_of
from sync.dues import due_filter, marks_of, save_dues
from sync.people import People
from sync.readback import PERSON_COLUMNS, persons_query, stored_people
from sync.store import StateStore
from tests.helpers import NOW, days_ago


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    if request.param == "sqlite":
        target = f"sqlite:///{tmp_path}/s.db"
    else:
        target = str(request.getfixturevalue("postgres_url"))
    opened = StateStore(target)
    yield opened
    opened.close()


@pytest.fixture(autouse=True, params=[sync.columns.WORKER_BATCH_ROWS, 1, 2])
def always_the_worker(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """Every SQLite file is read by the worker here, however small; in its batches, or in
    batches of one or two rows (a first batch of NULLs only in a column: one batch)."""
    monkeypatch.setattr(sync.readback, "WORKER_ROWS", 0)
    monkeypatch.setattr(sync.columns, "WORKER_BATCH_ROWS", request.param)


def read(store: StateStore, adbc: bool, **options: Any) -> People:
    with store.engine.connect() as connection:
        return stored_people(connection, None, adbc=adbc, activity_ids=True, **options)


def shown(people: People) -> dict[str, Any]:
    """Everything a load gives, as plain values to compare."""
    cols = people.columns
    return {
        "contacts": [(c.id, c.email, c.attributes) for c in people.contacts],
        "records": people.records,
        "own": people.record_attributes,
        "person": cols.person.tolist(),
        "types": cols.type_codes.tolist(),
        "at": cols.occurred_at.tolist(),
        "systems": values_of(cols.systems),
        "ids": cols.ids,
        "attributes": {n: values_of(c) for n, c in cols.attributes.items()},
        "kinds": {n: type(c).__name__ for n, c in cols.attributes.items()},
    }


def both_ways(store: StateStore) -> dict[str, Any]:
    over_adbc, through_rows = shown(read(store, True)), shown(read(store, False))
    assert over_adbc == through_rows
    return over_adbc


def test_an_empty_store_reads_as_no_one_with_no_activity(store: StateStore) -> None:
    found = both_ways(store)

    assert found["contacts"] == [] and found["person"] == [] and found["attributes"] == {}


def test_activities_by_record_and_by_address_persons_without_records_and_their_attributes(
    store: StateStore,
) -> None:
    store.save_contacts(
        "hubspot",
        [
            Contact("101", email="ann@acme.io", attributes={"country": "FR", "title": None}),
            Contact("102", email="bob@b.io", attributes={"employees": 12}),
        ],
        NOW,
    )
    store.save_contacts(
        "salesforce", [Contact("S1", email="ann@acme.io", attributes={"x": 1})], NOW
    )
    hubspot = [
        Activity("101", ActivityType.PAGE_VIEW, days_ago(3), id="pv1", attributes={"url": " /a "}),
        Activity("102", ActivityType.PAGE_VIEW, days_ago(2), id="pv2", attributes={"url": ""}),
        Activity(
            "101",
            ActivityType.PURCHASE,
            days_ago(1),
            id="d1",
            attributes={"amount": 2500, "recorded_by": "counter", "tags": ["a", "b"]},
        ),
        Activity("102", ActivityType.PURCHASE, days_ago(1), id="d2", attributes={"amount": "12"}),
    ]
    store.save_activities("hubspot", hubspot)
    # keyed by address only: one of a contact, one of nobody's contact (a person of its own)
    store.save_activities(
        "mailchimp",
        [
            Activity(
                "",
                ActivityType.EMAIL_OPEN,
                days_ago(4),
                id="e1",
                contact_email="ann@acme.io",
                attributes={"campaign": "Spring", "bounced": False},
            ),
            Activity("", ActivityType.EMAIL_OPEN, days_ago(5), id="e2", contact_email="cy@c.io"),
        ],
    )

    found = both_ways(store)

    ann, bob, cy = (str(store.person_of(e)) for e in ("ann@acme.io", "bob@b.io", "cy@c.io"))
    contacts = {c[0]: c for c in found["contacts"]}
    assert contacts[ann] == (ann, "ann@acme.io", {"country": "FR", "title": None, "x": 1})
    assert contacts[cy] == (cy, "cy@c.io", {})  # no record anywhere
    assert found["records"] == {
        ann: [("hubspot", "101"), ("salesforce", "S1")],
        bob: [("hubspot", "102")],
    }
    assert found["own"][("hubspot", "102")] == {"employees": 12}
    assert found["ids"] == [
        "mailchimp:e2",
        "mailchimp:e1",
        "hubspot:pv1",
        "hubspot:pv2",
        "hubspot:d1",
        "hubspot:d2",
    ]
    assert found["person"] == [int(p) for p in (cy, ann, ann, bob, ann, bob)]
    assert found["systems"] == [
        "mailchimp",
        "mailchimp",
        "hubspot",
        "hubspot",
        "hubspot",
        "hubspot",
    ]
    attributes = found["attributes"]
    assert attributes["url"] == [None, None, "/a", None, None, None]  # stripped; blank: none
    assert attributes["campaign"] == [None, "Spring", None, None, None, None]
    # a number where stored as one, the text of one where a pull gave text: all text then
    assert attributes["amount"] == [None, None, None, None, "2500", "12"]
    assert attributes["recorded_by"] == [None, None, None, None, "counter", None]
    assert attributes["bounced"] == [None, "false", None, None, None, None]
    assert attributes["tags"][4] == "['a', 'b']"
    assert "form" not in attributes  # no activity has one


def test_the_due_read_over_adbc_binds_its_moment(store: StateStore) -> None:
    store.save_contacts("hubspot", [Contact(str(i), email=f"p{i}@a.io") for i in range(4)], NOW)
    with store.engine.begin() as connection:
        save_dues(connection, [1, 2, 3], [10.5, 20.0, 1e18], marks_of(connection, None))

    with store.engine.connect() as connection:
        due = stored_people(connection, None, due_filter(15.0))
        again = stored_people(connection, None, due_filter(15.0), adbc=False)

    assert [c.id for c in due.contacts] == [c.id for c in again.contacts] == ["1", "4"]


def test_a_query_compiles_to_positional_parameters_for_each_driver() -> None:
    query = persons_query([3, 4], due_filter(15.0))

    on_sqlite, on_postgresql = compiled(query, "sqlite"), compiled(query, "postgresql")

    assert on_sqlite[0].count("?") == 3 and on_sqlite[1] == [3, 4, 15.0]
    assert "$3" in on_postgresql[0] and sorted(map(str, on_postgresql[1])) == ["15.0", "3", "4"]


def test_a_failed_read_in_the_worker_says_why(tmp_path: Path) -> None:
    with (
        pytest.raises(RuntimeError, match="no such table"),
        sqlite_worker(str(tmp_path / "empty.db")) as read,
    ):
        read(persons_query(None, None), PERSON_COLUMNS)


texts = st.one_of(st.none(), st.sampled_from(["", " ", "a", " a", "B", "12"]))
cells = st.one_of(texts, st.integers(-5, 5), st.floats(allow_nan=False), st.booleans())


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(texts, st.one_of(st.none(), st.floats(-1e6, 1e6)), cells), max_size=8))
def test_any_attributes_read_as_the_engine_would_make_their_columns(
    tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[Any, Any, Any]]
) -> None:
    store = StateStore(f"sqlite:///{tmp_path_factory.mktemp('h')}/s.db")
    store.save_contacts("hubspot", [Contact("1", email="a@a.io")], NOW)
    found = [
        Activity(
            "1",
            ActivityType.PAGE_VIEW,
            days_ago(1 + i),
            id=f"v{i}",
            attributes={
                k: v
                for k, v in (("url", url), ("amount", amount), ("other", other))
                if v is not None
            },
        )
        for i, (url, amount, other) in enumerate(rows)
    ]
    store.save_activities("hubspot", found)

    people = both_ways(store)
    store.close()

    newest_first = list(reversed(rows))  # read back in time order: the oldest first
    expected = {
        "url": [r[0] for r in newest_first],
        "amount": [r[1] for r in newest_first],
        "other": [r[2] for r in newest_first],
    }
    for name, raw in expected.items():
        if name != "other" and all(v is None for v in raw):
            assert name not in people["attributes"]
            continue
        if name == "other" and all(v is None for v in raw):
            continue
        want = values_of(column_from_values(raw))
        got = people["attributes"][name]
        assert [None if isinstance(v, float) and math.isnan(v) else v for v in got] == want
    assert np.all(np.diff(people["at"]) >= 0)


def test_some_persons_of_a_read_are_what_a_read_of_only_them_gives(store: StateStore) -> None:
    store.save_contacts(
        "hubspot",
        [
            Contact("101", email="ann@acme.io", attributes={"country": "FR"}),
            Contact("102", email="bob@b.io", attributes={"employees": 12}),
            Contact("103", email="cy@c.io", attributes={}),
        ],
        NOW,
    )
    store.save_contacts("salesforce", [Contact("S1", email="ann@acme.io", attributes={})], NOW)
    store.save_activities(
        "hubspot",
        [
            Activity("101", ActivityType.PAGE_VIEW, days_ago(3), id="a", attributes={"url": "/a"}),
            Activity(
                "102", ActivityType.FORM_SUBMISSION, days_ago(2), id="b", attributes={"form": "f"}
            ),
            Activity("103", ActivityType.PURCHASE, days_ago(1), id="c", attributes={"amount": 5}),
            Activity("101", ActivityType.PAGE_VIEW, days_ago(1), id="d", attributes={"x": "1"}),
        ],
    )
    store.save_activities(
        "mailchimp",
        [Activity("", ActivityType.EMAIL_OPEN, days_ago(4), id="e", contact_email="cy@c.io")],
    )
    everyone = read(store, False)
    ann, cy = (int(str(store.person_of(e))) for e in ("ann@acme.io", "cy@c.io"))

    for chosen in ([ann, cy], [cy], [ann], []):
        with store.engine.connect() as connection:
            alone = stored_people(connection, sorted(chosen), adbc=False, activity_ids=True)
        assert shown(everyone.some(set(chosen))) == shown(alone)
    assert "form" not in shown(everyone.some({ann, cy}))["attributes"]  # only bob's


@given(
    st.sampled_from([np.int32, np.int64, np.float64]),
    st.lists(st.tuples(st.integers(-(2**31), 2**31 - 1), st.booleans()), max_size=70),
    st.integers(0, 3),
)
def test_an_array_built_from_buffers_is_numpys_with_its_mask(
    kind: type, cells: list[tuple[int, bool]], step: int
) -> None:
    values: np.ndarray = np.array([v for v, _ in cells], dtype=kind)[
        :: step + 1
    ]  # strided views too
    missing = np.array([m for _, m in cells], dtype=bool)[:: step + 1]
    built = sync.columns.masked(values, missing)
    built.validate(full=True)
    assert built.equals(pa.array(values, mask=missing))
    assert built.null_count == int(missing.sum())
