"""Account fit from HubSpot company records and account values written back onto them,
through the real SDK against the HubSpot sandbox: setup makes the company properties,
a sync reads only the companies its people name and only the properties the fit rules
read, writes each company's values in batches of 100, and only what changed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from sandbox import Sandbox
from scoring import RuleSet, load_rules
from scoring.account_rules import Accounts
from scoring.rules import Rule
from sync import StateStore, SyncOptions
from sync.account_sync import accounts_system
from sync.accounts import ACCOUNT_COMPANIES, kept_rollups
from sync.dues import meta_value
from tests.sync.test_sync_hubspot import RULES, make_sync, open_app

PEOPLE, SEED = 150, 11
ACCOUNTS = {
    "fit": [
        {
            "id": "software",
            "company": {"industry": ["Software", "Financial services"]},
            "points": 30,
        },
        {"id": "mid_market", "company": {"employees": {"between": [50, 5000]}}, "points": 20},
        {"id": "revenue", "company": {"annual_revenue": {"gte": 10_000_000}}, "points": 10},
    ],
    "stages": [
        {"name": "target"},
        {"name": "fit", "when": {"account_fit": {"gte": 40}}},
        {
            "name": "engaged",
            "when": {"account_fit": {"gte": 40}, "account_engaged_people": {"gte": 2}},
        },
    ],
}
NAMES = ("leadscore_account_score", "leadscore_account_fit", "leadscore_account_engagement")


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    base = load_rules(RULES)
    extra = {"id": "fitting_account", "contact": {"account_fit": {"gte": 40}}, "points": 5}
    return base.model_copy(
        update={
            "accounts": Accounts.model_validate(ACCOUNTS),
            "rules": [*base.rules, Rule.model_validate(extra)],
        }
    )


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox(people=PEOPLE, seed=SEED) as sandbox:
        yield sandbox


def _held(box: Sandbox) -> dict[str, dict[str, str | None]]:
    """What the sandbox's companies hold of leadscore's account properties, per company
    that holds any."""
    table = box.hubspot.companies
    names = [*NAMES, "leadscore_account_stage"]
    out = {}
    for row in range(table.size):
        values = {n: table.value(n, row) for n in names if n in table.defs}
        if any(v is not None for v in values.values()):
            out[str(row + 1)] = values
    return out


def test_setup_makes_the_company_properties_in_the_leadscore_group(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    app = open_app(box, rules, store)
    report = app.setup(dry_run=True)["hubspot"]
    assert {f"account {n}" for n in [*NAMES, "leadscore_account_stage"]} <= set(report.created)
    app.setup()
    defs = box.hubspot.companies.defs
    assert defs["leadscore_account_stage"]["groupName"] == "leadscore"
    stage = defs["leadscore_account_stage"]
    assert stage["type"] == "enumeration"
    assert [o["value"] for o in stage["options"]] == ["target", "fit", "engaged"]
    assert "leadscore_account_score" not in box.hubspot.contacts.defs
    again = app.setup()["hubspot"]
    assert not [n for n in again.created if n.startswith("account ")]


def test_a_sync_reads_companies_scores_fit_and_writes_only_what_changed(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    at = box.now() + timedelta(hours=1)
    job = make_sync(box, rules, store, at=at)
    summary = job.run(SyncOptions(full=True))
    calls = summary.systems["hubspot"].calls
    with store.engine.connect() as connection:
        rolled = kept_rollups(connection, rules)
        kept = json.loads(meta_value(connection, ACCOUNT_COMPANIES) or "{}")
    assert rolled is not None
    companies = kept["hubspot"]["companies"]
    named = len(companies)
    assert named > 3 and calls["companies.batch_read"] == -(-named // 100)
    # the fit from each company's own attributes, once per account
    table = box.hubspot.companies
    for record, entry in companies.items():
        row = int(record) - 1
        industry = table.value("industry", row)
        employees = float(table.value("numberofemployees", row) or 0)
        revenue = float(table.value("annualrevenue", row) or 0)
        expected = 30.0 * (industry in ("Software", "Financial services"))
        expected += 20.0 * (50 <= employees <= 5000) + 10.0 * (revenue >= 10_000_000)
        assert rolled.fit[f"account_id:{record}"] == expected
        assert set(entry["values"]) <= {"industry", "employees", "annual_revenue"}
    # every named company written, in batches of 100, with the values the roll-ups give
    written = summary.accounts["hubspot"].written
    assert written == named and calls["companies.batch_update"] == -(-named // 100)
    held = _held(box)
    assert len(held) == named
    for record, values in held.items():
        key = f"account_id:{record}"
        assert float(values["leadscore_account_fit"] or 0) == rolled.fit[key]
        assert values["leadscore_account_stage"] == rolled.stage[key]
        score = rolled.fit[key] + rolled.accounts[key][2]
        assert float(values["leadscore_account_score"] or 0) == score
    assert store.written_values(accounts_system("hubspot"))
    # the same moment again: nothing read (kept less than a day), nothing written
    again = make_sync(box, rules, store, at=at + timedelta(minutes=5)).run()
    assert again.accounts["hubspot"].planned == 0
    assert "companies.batch_read" not in again.systems["hubspot"].calls
    assert "companies.batch_update" not in again.systems["hubspot"].calls


def test_a_company_that_changes_is_read_again_a_day_later_and_rewritten(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    at = box.now() + timedelta(hours=1)
    make_sync(box, rules, store, at=at).run(SyncOptions(full=True))
    with store.engine.connect() as connection:
        rolled = kept_rollups(connection, rules)
    assert rolled is not None
    record = next(
        k.split(":", 1)[1]
        for k, v in rolled.fit.items()
        if v == 0.0 and k.startswith("account_id:")
    )
    table = box.hubspot.companies
    with box.hubspot.lock:
        row = int(record) - 1
        table.set("industry", row, "Software")
        table.set("numberofemployees", row, 200.0)
    later = at + timedelta(days=1, minutes=1)
    summary = make_sync(box, rules, store, at=later).run()
    with store.engine.connect() as connection:
        moved = kept_rollups(connection, rules)
    assert moved is not None and moved.fit[f"account_id:{record}"] >= 50.0
    assert summary.accounts["hubspot"].written >= 1
    assert float(_held(box)[record]["leadscore_account_fit"] or 0) >= 50.0


def test_salesforce_accounts_get_fields_with_security_and_their_values(
    rules: RuleSet, store: StateStore
) -> None:
    from connectors.policy import CallPolicy
    from connectors.salesforce.attributes import SALESFORCE_ATTRIBUTES
    from connectors.salesforce.connector import SalesforceConnector
    from connectors.salesforce.system import SF_CAPABILITIES
    from sandbox.salesforce import SalesforceSandbox, sandbox_session
    from sandbox.world.generate import generate_world
    from sync import Sync
    from sync.account_sync import with_accounts
    from sync.fields import FieldMap
    from tests.connectors.test_salesforce_connector import password_settings

    fields = FieldMap.for_rules(rules, SF_CAPABILITIES)
    names = {spec.key: spec.name for spec in fields.accounts}
    assert names["account_score"] == "Leadscore_Account_Score__c"
    with SalesforceSandbox(generate_world(80, seed=5)) as org:
        connector = SalesforceConnector(
            password_settings(org, permission_set="Leadscore"),
            properties=fields.pulled(rules, SALESFORCE_ATTRIBUTES),
            http=sandbox_session(org),
            policy=CallPolicy("salesforce", clock=org.clock, seed=0),
        )
        made = with_accounts(connector, fields, connector.setup(fields.specs), dry_run=False)
        account_fields = [n for n in made.created if n.startswith("account Account.")]
        assert len(account_fields) == len(fields.accounts)
        granted = [n for n in made.created if "Account." in n and "field permission" in n]
        assert len(granted) == len(fields.accounts)  # FLS on each, through the permission set
        again = with_accounts(connector, fields, connector.setup(fields.specs), dry_run=True)
        assert again.missing == []

        def now() -> Any:
            with org.org_lock:
                return org.org.stamp()

        job = Sync(rules, store, [connector], {"salesforce": fields}, clock=now)
        summary = job.run(SyncOptions(full=True))
        calls = summary.systems["salesforce"].calls
        assert calls["accounts.query"] >= 1
        with store.engine.connect() as connection:
            rolled = kept_rollups(connection, rules)
        assert rolled is not None
        written = summary.accounts["salesforce"].written
        assert written > 1 and summary.accounts["salesforce"].failed == 0
        with org.org_lock:
            table = org.org.table("Account")
            held = {
                table.id(row): table.value(row, names["account_fit"]) for row in range(len(table))
            }
            industries = {table.id(row): table.value(row, "Industry") for row in range(len(table))}
            employees = {
                table.id(row): table.value(row, "NumberOfEmployees") for row in range(len(table))
            }
        checked = 0
        for key, fit in rolled.fit.items():
            if not key.startswith("account_id:"):
                continue
            record = next(i for i in held if i.casefold() == key.split(":", 1)[1])
            expected = 30.0 * (industries[record] in ("Software", "Financial services"))
            expected += 20.0 * (50 <= employees[record] <= 5000)
            expected += 10.0 * (employees[record] * 150_000 >= 10_000_000)
            assert fit == expected and float(held[record]) == fit
            checked += 1
        assert checked == written
        quiet = Sync(rules, store, [connector], {"salesforce": fields}, clock=now).run()
        assert quiet.accounts["salesforce"].planned == 0


def test_a_dry_run_plans_the_company_writes_and_writes_none(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    app = open_app(box, rules, store)
    summary = app.sync(SyncOptions(dry_run=True))
    assert "account leadscore_account_fit" in summary.setup["hubspot"].created
    assert summary.accounts["hubspot"].planned > 0
    assert summary.accounts["hubspot"].written == 0
    assert "companies.batch_update" not in summary.systems["hubspot"].calls
    assert _held(box) == {} and store.written_values(accounts_system("hubspot")) == {}
    from rich.console import Console

    from sync.report import print_summary

    console = Console(record=True, width=200)
    print_summary(console, summary)
    planned = summary.accounts["hubspot"].planned
    line = f"hubspot accounts: {planned:,} company records with changed values, 0 written"
    assert line in console.export_text()


def test_a_company_refused_for_good_waits_for_new_values_or_a_full_run(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    import sqlalchemy as sa

    from sync.schema import written

    at = box.now() + timedelta(hours=1)
    make_sync(box, rules, store, at=at).run(SyncOptions(full=True))
    system = accounts_system("hubspot")
    record, values = next(iter(store.written_values(system).items()))
    with store.engine.begin() as connection:  # as if its write had been refused for good
        connection.execute(
            sa.delete(written).where(written.c.system == system, written.c.record_id == record)
        )
    store.record_failures(system, [(record, "refused", False)], at, {record: values})
    later = at + timedelta(minutes=5)
    quiet = open_app(box, rules, store, later).job.run()  # no setup: that clears refusals
    assert quiet.accounts["hubspot"].planned == 0
    again = open_app(box, rules, store, later).job.run(SyncOptions(full=True))
    assert again.accounts["hubspot"].planned == 1
    assert store.written_values(system)[record] == values


def test_a_company_nobody_is_at_any_more_is_emptied_once_then_forgotten(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    at = box.now() + timedelta(hours=1)
    job = make_sync(box, rules, store, at=at)
    job.run(SyncOptions(full=True))
    system = accounts_system("hubspot")
    before = _held(box)
    company = sorted(before, key=int)[0]
    assert company in store.written_values(system)
    # everyone at the company moves to another one (the first other written company)
    other = next(c for c in sorted(before, key=int) if c != company)
    table = box.hubspot.contacts
    for row in range(table.size):
        if table.value("associatedcompanyid", row) == company:
            table.set("associatedcompanyid", row, float(other))
            table.set("lastmodifieddate", row, (at + timedelta(minutes=1)).timestamp() * 1000)
    later = at + timedelta(hours=2)
    make_sync(box, rules, store, at=later).run(SyncOptions(full=True))
    assert all(v is None for v in _held(box).get(company, {}).values())  # emptied
    assert store.written_values(system)[company] == dict.fromkeys(
        [*NAMES, "leadscore_account_stage"], ""
    )
    make_sync(box, rules, store, at=later + timedelta(minutes=5)).run()
    assert company not in store.written_values(system)  # forgotten: never looked at again
    assert all(v is None for v in _held(box).get(company, {}).values())


def test_a_written_company_hubspot_no_longer_has_is_tried_once_then_forgotten(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    """Emptying a company HubSpot deleted: the batch update leaves it out, a read back
    finds nothing, the run counts it failed for good; the next run forgets it."""
    at = box.now() + timedelta(hours=1)
    make_sync(box, rules, store, at=at).run(SyncOptions(full=True))
    system = accounts_system("hubspot")
    store.record_written(system, {"999999": dict.fromkeys(NAMES, "7")}, at)
    later = at + timedelta(minutes=5)
    first = make_sync(box, rules, store, at=later).run()
    assert first.accounts["hubspot"].failed == 1  # the run says so
    [refused] = [r for r in store.refused(system).items() if r[0] == "999999"]
    assert set(refused[1].values()) == {""}
    # no `setup` between (it lets refused writes be tried again)
    again = open_app(box, rules, store, later + timedelta(minutes=5)).job.run()
    assert "999999" not in store.written_values(system)
    assert again.accounts["hubspot"].failed == 0
