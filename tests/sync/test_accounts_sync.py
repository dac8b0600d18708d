"""Accounts in a sync: roll-ups over the store's population, kept for rescores of a few
persons, and the people of an account whose roll-up moved rescored."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from sandbox import Sandbox
from scoring import Activity, ActivityType, RuleSet, included, load_rules, population_rollups
from scoring.account_rules import Accounts, Counted
from scoring.accounts import account_keys
from scoring.rules import Rule
from sync import StateStore, SyncOptions
from sync.accounts import ACCOUNT_ROLLUPS, kept_rollups
from sync.dues import meta_value
from tests.sync.test_sync_hubspot import RULES, make_sync

PEOPLE, SEED = 120, 7


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    base = load_rules(RULES)
    extra = [
        Rule.model_validate(
            {
                "id": "busy_account",
                "value": "account_engaged_people",
                "per": 1,
                "points": 3,
                "cap": 15,
            }
        ),
        Rule.model_validate(
            {"id": "colleague_form", "contact": {"account_forms": {"gte": 1}}, "points": 7}
        ),
    ]
    accounts = Accounts(counts={"forms": Counted(activity=[ActivityType.FORM_SUBMISSION])})
    return base.model_copy(update={"accounts": accounts, "rules": [*base.rules, *extra]})


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox(people=PEOPLE, seed=SEED) as sandbox:
        yield sandbox


def test_rollups_are_the_store_population_and_a_rescore_of_one_reads_them(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    at = box.now() + timedelta(hours=1)
    job = make_sync(box, rules, store, at=at)
    job.run(SyncOptions(full=True))
    with store.engine.connect() as connection:
        kept = kept_rollups(connection, rules)
    assert kept is not None and len(kept.accounts) > 1
    assert max(v[0] for v in kept.accounts.values()) > 1  # some account has several people
    people = store.load_people()
    frame, acts = people.frames(rules.contact_fields(), rules.activity_fields())
    kept_frames = included(rules, frame, acts)
    assert (
        population_rollups(rules, kept_frames.contacts, kept_frames.activities, at.timestamp())
        == kept
    )

    everyone, _ = job.score(as_of=at)
    for row in range(0, len(everyone), 7):  # each alone, as a trigger scores it
        person = int(everyone.contact_ids[row])
        alone, _ = job.score([person], as_of=at)
        assert alone.total[0] == everyone.total[row]


def test_an_account_that_moved_has_its_people_rescored(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    at = box.now() + timedelta(hours=1)
    make_sync(box, rules, store, at=at).run(SyncOptions(full=True))
    with store.engine.connect() as connection:
        assert meta_value(connection, ACCOUNT_ROLLUPS) is not None
    people = store.load_people()
    frame, _ = people.frames(rules.contact_fields(), [])
    assert rules.accounts is not None
    found = account_keys(rules.accounts, frame)
    keys = [None if c < 0 else str(found.categories[c]) for c in found.codes.tolist()]
    sizes = {k: keys.count(k) for k in set(keys) if k is not None}
    key = max(sizes, key=sizes.__getitem__)
    members = [int(i) for i, k in zip(frame.ids.tolist(), keys, strict=True) if k == key]
    assert len(members) > 1
    records = store.records_by_person()[members[0]]
    system, record = records[0]
    store.save_activities(
        system,
        [Activity(record, ActivityType.FORM_SUBMISSION, at + timedelta(minutes=1), id="f-acc")],
    )
    later = at + timedelta(minutes=10)
    moved = make_sync(box, rules, store, at=later).run()
    assert len(members) <= moved.rescored < moved.persons
    with store.engine.connect() as connection:
        kept = kept_rollups(connection, rules)
    assert kept is not None and kept.accounts[key][0] == len(members)


def test_a_salesforce_contact_belongs_to_its_account(store: StateStore) -> None:
    from sandbox.salesforce import SalesforceSandbox
    from sandbox.world.generate import generate_world
    from tests.sync.test_sync_salesforce import make_sync as salesforce_sync

    base = load_rules(RULES)
    ruleset = base.model_copy(update={"accounts": Accounts()})
    with SalesforceSandbox(generate_world(60, seed=3)) as org:
        salesforce_sync(org, ruleset, store).run(SyncOptions(full=True))
        with org.org_lock:
            table = org.org.table("Contact")
            ids = {str(table.value(row, "AccountId")).casefold() for row in range(len(table))}
    with store.engine.connect() as connection:
        kept = kept_rollups(connection, ruleset)
    assert kept is not None
    by_crm = {k.split(":", 1)[1] for k in kept.accounts if k.startswith("account_id:")}
    assert by_crm and by_crm <= ids  # each Contact's Account, as the org holds it


def test_a_contact_without_a_company_joins_its_domain_s_account_in_a_run_and_alone(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    """The run works out which domain is whose and keeps it; a rescore of one reads it."""
    from sync.account_members import account_people
    from sync.accounts import ACCOUNT_MEMBERS

    table = box.hubspot.contacts
    rows = range(table.size)
    company = {r: table.value("associatedcompanyid", r) for r in rows}
    domain = {r: (table.value("email", r) or "").rpartition("@")[2].casefold() for r in rows}
    owners: dict[str, set[str]] = {}
    for r in rows:
        if company[r] is not None:
            owners.setdefault(domain[r], set()).add(company[r])
    # a contact whose domain is its company's alone, and who shares it with a colleague
    row = next(
        r
        for r in rows
        if company[r] is not None
        and owners[domain[r]] == {company[r]}
        and sum(company[s] == company[r] for s in rows) > 1
    )
    key = f"account_id:{company[row]}"
    table.set("associatedcompanyid", row, None)
    at = box.now() + timedelta(hours=1)
    job = make_sync(box, rules, store, at=at)
    job.run(SyncOptions(full=True))
    with store.engine.connect() as connection:
        kept = kept_rollups(connection, rules)
        members = account_people(connection)
        assert meta_value(connection, ACCOUNT_MEMBERS) is not None
    assert kept is not None and kept.domains[domain[row]] == key
    everyone, _ = job.score(as_of=at)
    assert f"email_domain:{domain[row]}" not in members
    persons = [int(p) for p in everyone.contact_ids.tolist()]
    at_key = set(members[key])
    assert len(at_key) == sum(company[s] == company[row] for s in rows)  # row is in it
    for person in at_key:  # each alone, as a trigger scores it
        alone, _ = job.score([person], as_of=at)
        assert alone.total[0] == everyone.total[persons.index(person)]
