"""A company's changed attributes are read by the next incremental run, not a day later:
HubSpot's companies search on `hs_lastmodifieddate`, Salesforce's `SystemModstamp` on
Account, from the last change the run before read, in a bounded number of calls."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from sandbox import Sandbox
from scoring import RuleSet, default_rules_text, parse_rules
from sync import StateStore, SyncOptions
from sync.accounts import ACCOUNT_COMPANIES, kept_rollups
from sync.dues import meta_value
from tests.sync.test_account_targets import ACCOUNTS
from tests.sync.test_account_writes import _held, box, rules
from tests.sync.test_exclude_any_system import open_app as open_both
from tests.sync.test_sync_hubspot import make_sync

__all__ = ["box", "rules"]  # fixtures


def _kept(store: StateStore) -> dict:
    with store.engine.connect() as connection:
        return json.loads(meta_value(connection, ACCOUNT_COMPANIES) or "{}")


def test_a_changed_hubspot_company_is_read_by_the_next_run(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    at = box.now() + timedelta(hours=1)
    first = make_sync(box, rules, store, at=at).run(SyncOptions(full=True))
    assert first.systems["hubspot"].calls["companies.search"] == 1  # where the next starts
    since = _kept(store)["hubspot"]["since"]
    assert since is not None
    with store.engine.connect() as connection:
        rolled = kept_rollups(connection, rules)
    assert rolled is not None
    record = next(
        k.split(":", 1)[1]
        for k, v in rolled.fit.items()
        if v == 0.0 and k.startswith("account_id:")
    )
    box.hubspot.change_company(record, industry="Software", numberofemployees=200)

    summary = make_sync(box, rules, store, at=at + timedelta(minutes=5)).run()

    calls = summary.systems["hubspot"].calls
    # one search page (the companies the first run wrote moved too), no batch read
    assert calls["companies.search"] == 1 and "companies.batch_read" not in calls
    kept = _kept(store)["hubspot"]
    assert kept["companies"][record]["values"]["industry"] == "Software"
    assert datetime.fromisoformat(kept["since"]) > datetime.fromisoformat(since)
    with store.engine.connect() as connection:
        moved = kept_rollups(connection, rules)
    assert moved is not None and moved.fit[f"account_id:{record}"] >= 50.0
    assert float(_held(box)[record]["leadscore_account_fit"] or 0) >= 50.0


def test_the_search_is_bounded_and_goes_on_from_the_last_change_read(
    box: Sandbox, rules: RuleSet, store: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from connectors.hubspot import companies

    at = box.now() + timedelta(hours=1)
    job = make_sync(box, rules, store, at=at)
    job.run(SyncOptions(full=True))
    connector = job.connectors[0]
    since = datetime.fromisoformat(_kept(store)["hubspot"]["since"])
    size = box.hubspot.companies.size
    for company in range(1, size + 1):
        box.hubspot.change_company(str(company), industry="Software")
    # pages of 5, two a call: the oldest ten changes, then the next call goes on
    monkeypatch.setattr(companies, "SEARCH_PAGE", 5)
    monkeypatch.setattr(companies, "CHANGED_PAGES", 2)
    page = connector.changed_companies(since, ["industry"])  # type: ignore[attr-defined]
    assert not page.complete and len(page.values) == 10
    assert all(v == {"industry": "Software"} for v in page.values.values())
    seen = set(page.values)
    newest = page.newest
    for _ in range(size):  # going on from the last change read: no look-back, no loop
        page = connector.changed_companies(newest, ["industry"], going_on=True)  # type: ignore[attr-defined]
        seen |= set(page.values)
        newest = page.newest
        if page.complete:
            break
    assert page.complete and {str(c) for c in range(1, size + 1)} <= seen


def test_a_changed_salesforce_account_is_read_by_the_next_run(box: Sandbox, url: str) -> None:
    rules = parse_rules(default_rules_text() + ACCOUNTS, "rules.yaml")
    with open_both(box, url, rules) as app:
        app.setup()
        app.sync(SyncOptions(full=True))
        kept = _kept(app.store)["salesforce"]
        assert kept["since"] is not None
        record = next(r for r, entry in kept["companies"].items() if entry["found"])
        org = box.salesforce.org
        with box.salesforce.org_lock:
            located = org.locate(record)
            assert located is not None
            org.apply(*located, {"NumberOfEmployees": 12345})
        summary = app.sync()
        again = _kept(app.store)["salesforce"]
    assert again["companies"][record]["values"]["employees"] == 12345
    assert again["companies"][record]["at"] > kept["companies"][record]["at"]
    assert summary.systems["salesforce"].calls["accounts.query"] >= 1
    assert datetime.fromisoformat(again["since"]) >= datetime.fromisoformat(kept["since"])
