"""Each system's company records get the values of the account their people are at: a
person in HubSpot and Salesforce scores at their HubSpot company's account, and their
Salesforce Account is written that account's values, even when no one else names it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sandbox import Sandbox
from scoring import RuleSet, default_rules_text, parse_rules
from sync.accounts import (
    ACCOUNT_MEMBERS,
    account_key,
    company_targets,
    kept_members,
    kept_rollups,
)
from sync.dues import meta_value
from sync.people import People
from sync.readback import activity_columns
from sync.summary import SyncOptions
from tests.sync.test_exclude_any_system import open_app, shared_people

ACCOUNTS = """
accounts:
  fit:
    - {id: big, company: {employees: {gte: 50}}, points: 30}
  stages:
    - {name: Target}
    - {name: Fit, when: {account_fit: {gte: 30}}}
"""


def _people(records: dict[str, list[tuple[str, str, Any]]]) -> People:
    """Persons with records (system, record id, that record's own account_id)."""
    return People(
        [],
        activity_columns([]),
        {p: [(s, r) for s, r, _ in rs] for p, rs in records.items()},
        {(s, r): {"account_id": a} for rs in records.values() for s, r, a in rs},
    )


def test_a_record_takes_the_account_most_of_its_people_are_at() -> None:
    people = _people(
        {
            "1": [("hubspot", "h1", 7.0), ("salesforce", "s1", "001A")],
            "2": [("salesforce", "s2", "001A")],
            "3": [("hubspot", "h3", 7.0), ("salesforce", "s3", "001A")],
            "4": [("salesforce", "s4", "001B")],
            "5": [("hubspot", "h5", 8), ("salesforce", "s5", "001B")],
            "6": [("hubspot", "h6", None)],
        }
    )
    members = {
        "account_id:7": [1, 3],
        "account_id:001a": [2],
        "account_id:001b": [4],
        "account_id:8": [5],
        "email_domain:acme.io": [6],
    }
    assert company_targets(people, members) == {
        "hubspot": {"7": "account_id:7", "8": "account_id:8"},
        # 001A: two people at HubSpot's 7, one at itself; 001B: a tie, its own key wins
        "salesforce": {"001A": "account_id:7", "001B": "account_id:001b"},
    }


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox(people=80, seed=5) as sandbox:
        yield sandbox


def test_a_shared_persons_salesforce_account_gets_their_accounts_values(
    box: Sandbox, url: str
) -> None:
    rules: RuleSet = parse_rules(default_rules_text() + ACCOUNTS, "rules.yaml")
    with open_app(box, url, rules) as app:
        app.setup()
        summary = app.sync(SyncOptions(full=True))
        store = app.store
        shared = shared_people(store)
        people = store.load_people()
        with store.engine.connect() as connection:
            rolled = kept_rollups(connection, rules)
            targets = kept_members(connection)["records"]
            assert meta_value(connection, ACCOUNT_MEMBERS) is not None
    assert rolled is not None and shared
    own = people.record_attributes
    keyed = {c.id: c.attributes.get("account_id") for c in people.contacts}
    checked = 0
    for pid, records in shared.items():
        hubspot = own.get(("hubspot", records["hubspot"]), {}).get("account_id")
        account = own.get(("salesforce", records["salesforce"]), {}).get("account_id")
        if hubspot is None or account is None:
            continue
        # one key per person: HubSpot's company
        assert keyed[str(pid)] == hubspot
        # the Salesforce Account is mapped to an account and written its values
        key = targets["salesforce"][account]
        values = app_values(box, account)
        assert values["fit"] == rolled.fit[key] and values["stage"] == rolled.stage[key]
        checked += 1
    assert checked >= 3
    # some are named by no one whose account they key: written only through the map
    mapped_away = [r for r, key in targets["salesforce"].items() if key != account_key(r)]
    assert mapped_away
    assert summary.accounts["salesforce"].written == len(targets["salesforce"])


def app_values(box: Sandbox, record: str) -> dict[str, Any]:
    org = box.salesforce
    with org.org_lock:
        table = org.org.table("Account")
        row = next(r for r in range(len(table)) if table.id(r)[:15] == record[:15])
        fit = table.value(row, "Leadscore_Account_Fit__c")
        stage = table.value(row, "Leadscore_Account_Stage__c")
    return {"fit": float(fit), "stage": stage}
