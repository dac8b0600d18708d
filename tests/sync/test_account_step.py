"""A run that rolls up again only the accounts that may have moved (`sync.account_step`)
keeps what rolling up everyone gives: on random stores and random changes (of people,
their keys, domains and activities, of the company records' attributes and `domain`, and
of the moment), its roll-ups, the accounts' people and the company records' accounts
equal a full recompute's."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scoring import Activity, ActivityType, Contact, RuleSet, load_rules
from sync import StateStore
from sync.account_members import account_people, votes_from
from sync.account_step import refresh
from sync.accounts import (
    ACCOUNT_COMPANIES,
    companies_by_key,
    company_targets,
    kept_members,
    kept_rollups,
    store_rollups,
    targets_of,
)
from sync.dues import NEVER, set_meta
from sync.schema import identities, persons
from tests.sync.test_cli import EXAMPLES

RULES = load_rules(EXAMPLES / "accounts.yaml")
T0 = datetime(2026, 11, 1, tzinfo=UTC)
DOMAINS = ["acme.io", "beta.io", "gmail.com", "gamma.io"]
TYPES = [ActivityType.PAGE_VIEW, ActivityType.DEMO_REQUEST, ActivityType.EMAIL_OPEN]

person = st.fixed_dictionaries(
    {
        "domain": st.sampled_from(DOMAINS),
        "account": st.one_of(st.none(), st.integers(1, 3)),
        "industry": st.sampled_from(["Software", "Government", None]),
        "employees": st.sampled_from([10, 250, None]),
    }
)
activity = st.tuples(st.sampled_from(TYPES), st.integers(-120, 40))  # type, days from T0
change = st.tuples(st.integers(0, 11), person, st.lists(activity, max_size=3))
company = st.fixed_dictionaries(
    {"industry": st.sampled_from(["Software", "Government"]), "domain": st.sampled_from(DOMAINS)}
)
companies = st.dictionaries(st.sampled_from(["1", "2", "3"]), company, max_size=3)


def _contact(index: int, found: dict[str, Any]) -> Contact:
    attributes = {"industry": found["industry"], "employees": found["employees"]}
    if found["account"] is not None:
        attributes["account_id"] = found["account"]
    email = f"p{index}@{found['domain']}"
    return Contact(str(index), email=email, attributes=attributes, source="hubspot")


def _activities(index: int, acts: list[tuple[ActivityType, int]], tag: str) -> list[Activity]:
    return [
        Activity(str(index), kind, T0 + timedelta(days=days), id=f"{tag}-{index}-{n}")
        for n, (kind, days) in enumerate(acts)
    ]


def _settle(store: StateStore) -> None:
    """As after a run that scored everyone: half the persons due by time (their scores'
    own decay, no new data), the others never (the roll-ups' rows alone say when)."""
    with store.engine.begin() as connection:
        odd = persons.c.id % 2 == 1
        connection.execute(sa.update(persons).values(due=sa.case((odd, 0.0), else_=NEVER)))


def _reader(store: StateStore, records: dict[str, dict[str, Any]]) -> Any:
    """The company records a run reads, kept as `refresh_companies` keeps them."""

    def read(people: Any, grow: bool = False) -> Any:
        kept = {"hubspot": {"companies": {i: {"values": v} for i, v in records.items()}}}
        with store.engine.begin() as connection:
            set_meta(connection, ACCOUNT_COMPANIES, json.dumps(kept))
        return companies_by_key(kept)

    return read


def _check(store: StateStore, rules: RuleSet, moment: float, stepped: Any) -> None:
    whole = store_rollups(store, rules, moment)  # the company records kept
    assert whole is not None
    assert stepped == whole.rollups
    with store.engine.connect() as connection:
        assert kept_rollups(connection, rules) == whole.rollups
        assert account_people(connection) == {k: sorted(v) for k, v in whole.members.items()}
        kept = kept_members(connection)
    assert targets_of(votes_from(kept["votes"])) == company_targets(whole.people, whole.members)
    assert kept["records"] == company_targets(whole.people, whole.members)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    people=st.lists(st.tuples(person, st.lists(activity, max_size=4)), min_size=1, max_size=12),
    rounds=st.lists(
        st.tuples(st.lists(change, max_size=3), st.integers(0, 60), companies),
        min_size=1,
        max_size=3,
    ),
    first=companies,
)
def test_rolling_up_what_may_have_moved_gives_what_rolling_up_everyone_gives(
    people: list[tuple[dict[str, Any], list[tuple[ActivityType, int]]]],
    rounds: list[tuple[list[tuple[int, dict[str, Any], list[Any]]], int, Any]],
    first: dict[str, dict[str, Any]],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = StateStore(f"sqlite:///{Path(folder) / 'state.db'}")
        contacts = [_contact(i, p) for i, (p, _) in enumerate(people)]
        store.save_contacts("hubspot", contacts, T0)
        store.save_activities(
            "hubspot", [a for i, (_, acts) in enumerate(people) for a in _activities(i, acts, "a")]
        )
        moment = T0.timestamp()
        refresh(store, RULES, moment, _reader(store, first))  # over everyone, as a first run
        for number, (changes, days, records) in enumerate(rounds):
            _settle(store)
            for index, found, acts in changes:
                if index < len(people):
                    store.save_contacts("hubspot", [_contact(index, found)], T0)
                    store.save_activities("hubspot", _activities(index, acts, f"r{number}"))
            moment += days * 86_400.0
            reader = _reader(store, records)  # a company's fit or domain may change
            stepped, _, _, read = refresh(store, RULES, moment, reader, everyone=False)
            assert read is None  # only some people were read
            _check(store, RULES, moment, stepped)
        store.engine.dispose()


def test_a_quiet_run_reads_nobody(tmp_path: Path) -> None:
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    found = {"domain": "acme.io", "account": 1, "industry": "Software", "employees": 250}
    store.save_contacts("hubspot", [_contact(i, found) for i in range(5)], T0)
    store.save_activities("hubspot", _activities(0, [(ActivityType.PAGE_VIEW, -1)], "a"))
    refresh(store, RULES, T0.timestamp())
    _settle(store)
    read: list[int] = []
    loading = store.load_people

    def counted(person_ids: Any = None, **options: Any) -> Any:
        assert person_ids is not None  # never everyone
        people = loading(person_ids, **options)
        read.extend(int(c.id) for c in people.contacts)
        return people

    store.load_people = counted  # type: ignore[method-assign]
    refresh(store, RULES, T0.timestamp() + 3600, everyone=False)
    assert read == []
    # 90 days on, the page view leaves the engagement window: the account is rolled up again
    later = T0.timestamp() + 90 * 86_400.0
    stepped, moved, _, _ = refresh(store, RULES, later, everyone=False)
    everyone = {int(c.id) for c in loading().contacts}
    assert set(read) == everyone and moved == everyone
    assert stepped is not None and stepped.accounts["account_id:1"][2] == 0.0
    store.load_people = loading  # type: ignore[method-assign]
    _check(store, RULES, later, stepped)


def test_a_person_the_store_no_longer_has_leaves_their_account(tmp_path: Path) -> None:
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    found = {"domain": "acme.io", "account": 1, "industry": "Software", "employees": 250}
    store.save_contacts("hubspot", [_contact(i, found) for i in range(3)], T0)
    refresh(store, RULES, T0.timestamp())
    _settle(store)
    gone = store.person_of("2")
    assert gone is not None
    with store.engine.begin() as connection:  # as a merge or a drop leaves it
        connection.execute(sa.delete(identities).where(identities.c.person_id == gone))
        connection.execute(sa.delete(persons).where(persons.c.id == gone))
    moment = T0.timestamp() + 60
    stepped, _, _, _ = refresh(store, RULES, moment, everyone=False)
    assert stepped is not None and stepped.accounts["account_id:1"][0] == 2.0
    _check(store, RULES, moment, stepped)
