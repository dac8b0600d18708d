"""A rescore on request rolls its person's account up again: when the fresh activity moves
the account, the kept roll-ups take the new values, the account's other people are due,
and its HubSpot company is written beside the contact; when nothing moved, no company is
written."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from sandbox import Sandbox
from scoring import ActivityType, RuleSet
from sync import StateStore, SyncOptions
from sync.account_members import account_people
from sync.account_sync import accounts_system
from sync.accounts import (
    ACCOUNT_MEMBERS,
    ACCOUNT_ROLLUPS,
    id_text,
    kept_members,
    kept_rollups,
    store_rollups,
)
from sync.dues import meta_value
from sync.locks import LockLost
from sync.schema import meta, persons
from tests.sync.lock_clock import paused_after
from tests.sync.test_account_writes import _held, box, rules
from tests.sync.test_sync_hubspot import open_app

__all__ = ["box", "rules"]  # fixtures


def test_a_rescore_that_moves_the_account_writes_its_company(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    at = box.now() + timedelta(hours=1)
    app = open_app(box, rules, store, at)
    app.setup()
    app.sync(SyncOptions(full=True))
    with store.engine.connect() as connection:
        before = kept_rollups(connection, rules)
        members = account_people(connection)
        targets = kept_members(connection)["records"]["hubspot"]
    assert before is not None
    # a contact at a company with others, whose account's engagement a demo request moves
    table = box.hubspot.contacts
    named = {
        str(row + 1): id_text(table.value("associatedcompanyid", row)) for row in range(table.size)
    }
    contact, company = next(
        (row, company)
        for row, company in named.items()
        if company is not None and len(members.get(f"account_id:{company}", [])) > 1
    )
    key = f"account_id:{company}"
    assert targets[company] == key
    with store.engine.begin() as connection:  # nobody due (NULL is due now)
        connection.execute(sa.update(persons).values(due=at.timestamp() + 86_400 * 365))
    box.hubspot.add_event(contact, ActivityType.DEMO_REQUEST, at - timedelta(minutes=5))

    logged = len(box.hubspot.log)
    result = app.rescore(f"hubspot:{contact}")
    calls = box.hubspot.log[logged:]

    assert result.status == "done" and result.accounts == {"hubspot": [company]}
    # no company read: the writes of the contact and its company are the step after the
    # fetch's reads, side by side (issue 13's budget: three steps of calls a trigger)
    writes = [c for c in calls if c.operation.endswith(".batch_update")]
    reads = [c for c in calls if c not in writes]
    assert {c.operation for c in writes} == {"contacts.batch_update", "companies.batch_update"}
    assert not {c.operation for c in reads} & {"companies.batch_read", "companies.search"}
    assert min(c.began for c in writes) >= max(c.at for c in reads)
    with store.engine.connect() as connection:
        after = kept_rollups(connection, rules)
        due = connection.execute(sa.select(persons.c.id).where(persons.c.due.is_(None)))
        marked = {int(p) for (p,) in due}
    assert after is not None
    assert after.accounts[key][2] == before.accounts[key][2] + 1  # engagement
    assert {p for p in members[key] if p != result.person} <= marked
    held = _held(box)[company]
    assert float(held["leadscore_account_engagement"] or 0) == after.accounts[key][2]
    assert float(held["leadscore_account_score"] or 0) == after.score(key)
    written = store.written_values(accounts_system("hubspot"))[company]
    assert json.loads(json.dumps(written)) == {
        name: value for name, value in held.items() if name in written
    }
    from rich.console import Console

    from sync.report import print_rescored

    console = Console(record=True, width=200)
    print_rescored(console, result)
    assert f"its account moved: wrote company records hubspot {company}" in console.export_text()
    # the same record again, nothing new: the account did not move, nothing is written
    again = app.rescore(f"hubspot:{contact}")
    assert again.status == "done" and again.accounts == {}


def test_without_the_kept_people_of_accounts_a_rescore_moves_none(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    at = box.now() + timedelta(hours=1)
    app = open_app(box, rules, store, at)
    app.setup()
    app.sync(SyncOptions(full=True))
    with store.engine.begin() as connection:  # as a sync before accounts kept their people
        connection.execute(sa.delete(meta).where(meta.c.key == ACCOUNT_MEMBERS))
        before = kept_rollups(connection, rules)
    table = box.hubspot.contacts
    contact = next(
        str(row + 1)
        for row in range(table.size)
        if id_text(table.value("associatedcompanyid", row)) is not None
    )
    box.hubspot.add_event(contact, ActivityType.DEMO_REQUEST, at - timedelta(minutes=5))
    result = app.rescore(f"hubspot:{contact}")
    with store.engine.connect() as connection:
        after = kept_rollups(connection, rules)
    assert result.status == "done" and result.accounts == {}
    assert after == before  # the next sync rolls up over everyone


def test_a_person_who_moved_company_moves_both_accounts(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    at = box.now() + timedelta(hours=1)
    table = box.hubspot.contacts
    named = {str(r + 1): id_text(table.value("associatedcompanyid", r)) for r in range(table.size)}
    contact, left = next(
        (row, company)
        for row, company in named.items()
        if company is not None and sum(c == company for c in named.values()) > 1
    )
    box.hubspot.add_event(contact, ActivityType.DEMO_REQUEST)  # engaged, where they are
    app = open_app(box, rules, store, at)
    app.setup()
    app.sync(SyncOptions(full=True))
    with store.engine.connect() as connection:
        before = kept_rollups(connection, rules)
        members = account_people(connection)
    assert before is not None
    joined = next(
        c for c in named.values() if c is not None and c != left and f"account_id:{c}" in members
    )
    with box.hubspot.lock:  # as HubSpot's primary company association moved
        table.set("associatedcompanyid", int(contact) - 1, float(joined))
    result = app.rescore(f"hubspot:{contact}")
    with store.engine.connect() as connection:
        after = kept_rollups(connection, rules)
        now = account_people(connection)
    assert after is not None and result.person is not None
    people = 0  # the roll-up's first value: people at the account
    assert (
        after.accounts[f"account_id:{left}"][people]
        == before.accounts[f"account_id:{left}"][people] - 1
    )
    assert after.accounts[f"account_id:{joined}"][people] == (
        before.accounts[f"account_id:{joined}"][people] + 1
    )
    # their row stays where it was, due: the next run rolls both accounts up from it
    assert result.person in now[f"account_id:{left}"]
    app.sync(SyncOptions())
    with store.engine.connect() as connection:
        now = account_people(connection)
        kept = kept_rollups(connection, rules)
        moment = json.loads(meta_value(connection, ACCOUNT_ROLLUPS) or "{}")["as_of"]
    whole = store_rollups(store, rules, moment)  # what rolling up everyone gives
    assert whole is not None and kept == whole.rollups
    assert result.person not in now[f"account_id:{left}"]
    assert result.person in now[f"account_id:{joined}"]
    # their engagement went with them: both companies' written values moved
    assert sorted(result.accounts["hubspot"]) == sorted([left, joined])


def test_a_rescore_of_a_contact_without_a_company_moves_its_domain_s_account(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    """A person without a company is at the account their domain belongs to, alone as in
    the run: the trigger rolls it up with the domain map the run kept."""
    table = box.hubspot.contacts
    rows = range(table.size)
    company = {r: id_text(table.value("associatedcompanyid", r)) for r in rows}
    domain = {r: (table.value("email", r) or "").rpartition("@")[2].casefold() for r in rows}
    owners: dict[str, set[str]] = {}
    for r in rows:
        if company[r] is not None:
            owners.setdefault(domain[r], set()).add(str(company[r]))
    row = next(
        r
        for r in rows
        if company[r] is not None
        and owners[domain[r]] == {company[r]}
        and sum(company[s] == company[r] for s in rows) > 1
    )
    joined = str(company[row])
    table.set("associatedcompanyid", row, None)
    at = box.now() + timedelta(hours=1)
    app = open_app(box, rules, store, at)
    app.setup()
    app.sync(SyncOptions(full=True))
    key = f"account_id:{joined}"
    with store.engine.connect() as connection:
        before = kept_rollups(connection, rules)
    assert before is not None and before.domains[domain[row]] == key
    box.hubspot.add_event(str(row + 1), ActivityType.DEMO_REQUEST, at - timedelta(minutes=5))
    result = app.rescore(f"hubspot:{row + 1}")
    assert result.status == "done" and result.accounts == {"hubspot": [joined]}
    with store.engine.connect() as connection:
        after = kept_rollups(connection, rules)
    assert after is not None and after.accounts[key][2] == before.accounts[key][2] + 1
    assert f"email_domain:{domain[row]}" not in after.accounts


def test_a_rescore_frozen_before_its_writes_writes_no_company_either(
    box: Sandbox, rules: RuleSet, store: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Frozen as its account is rolled up again (a serverless instance, its answer sent)
    and thawed a minute later: neither the contact nor the company moved is written."""
    at = box.now() + timedelta(hours=1)
    app = open_app(box, rules, store, at)
    app.setup()
    app.sync(SyncOptions(full=True))
    with store.engine.connect() as connection:
        members = account_people(connection)
    table = box.hubspot.contacts
    named = {
        str(row + 1): id_text(table.value("associatedcompanyid", row)) for row in range(table.size)
    }
    contact = next(
        row
        for row, company in named.items()
        if company is not None and len(members.get(f"account_id:{company}", [])) > 1
    )
    box.hubspot.add_event(contact, ActivityType.DEMO_REQUEST, at - timedelta(minutes=5))
    paused_after(monkeypatch, "roll_up_again")
    logged = len(box.hubspot.log)
    with pytest.raises(LockLost, match="another run may have taken it"):
        app.rescore(f"hubspot:{contact}")
    assert not [c for c in box.hubspot.log[logged:] if c.operation.endswith(".batch_update")]
