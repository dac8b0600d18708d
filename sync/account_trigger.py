"""A rescore's account: rolled up again over its people, and written where it moved.

A rescore of one record (`sync.trigger`) stores the record's fresh activity and scores
its person with the roll-ups the last sync kept. Before it scores, it rolls up again the
account the person is at now and the one the last sync had them at (when they moved),
over those accounts' people in the store (`ACCOUNT_MEMBERS`: the last sync's, the person
added or taken out), with the company records the last sync read. Where an account's
roll-up, fit or stage moved, the kept roll-ups and members take the new values (in one
transaction, read again there, so a sync or another rescore that kept theirs meanwhile
keeps what it kept of other accounts), the account's other people are marked due (the
next run rescores them), and the account's company records (`company_targets`; records
its people name that the last sync mapped to no account go to it) are written their new
values beside the person's own writes, in the same step of calls, through the sync's
write phase (`sync.writing.write_batches`), only what differs from what was written.

Before any sync kept roll-ups, or with rules that measure other roll-ups, a rescore moves
none: the next sync computes them over everyone. Two rescores of one account at once
each roll up from the store as they read it; the next sync's roll-ups settle any
difference.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from connectors.protocol import CompanyRecords, Write, WriteOutcome
from scoring import AccountRollups
from sync.account_members import (
    members_in,
    members_of,
    replace_members,
    votes_from,
    votes_json,
)
from sync.account_sync import CompanySide, accounts_system, company_writes
from sync.accounts import (
    ACCOUNT_COMPANIES,
    ACCOUNT_MEMBERS,
    ACCOUNT_ROLLUPS,
    company_targets,
    kept_members,
    kept_records,
    measured,
    store_rollups,
)
from sync.dues import mark_due, meta_value, set_meta
from sync.summary import SyncOptions, SystemSummary
from sync.writing import write_batches

if TYPE_CHECKING:
    from sync.pipeline import Sync

AccountPlan = dict[str, list[Write]]
"""System -> the writes of its company records."""


def roll_up_again(job: Sync, person: int, moment: float) -> AccountPlan:
    """Roll up again the accounts `person` is and was at, as of `moment` (epoch seconds);
    keep those that moved and return their company records' writes (module docstring)."""
    rules, store = job.rules, job.store
    if rules.accounts is None:
        return {}
    with store.engine.connect() as connection:
        text = meta_value(connection, ACCOUNT_ROLLUPS)
        listed = meta_value(connection, ACCOUNT_MEMBERS) is not None
        mine = members_of(connection, [person])
    if text is None or not listed or json.loads(text).get("measured") != measured(rules):
        return {}  # no sync kept roll-ups with their people yet: it will
    known = json.loads(text).get("accounts", {})
    domains = json.loads(text).get("domains", {})  # the population's, not these people's
    was = mine[0].account if mine else None
    alone = store_rollups(store, rules, moment, people=store.load_people([person]), domains=domains)
    assert alone is not None
    now = next(iter(alone.members), None)  # none: no account, or excluded
    with store.engine.connect() as connection:
        members = {m.person: m for m in members_in(connection, {k for k in (was, now) if k})}
    held = {m.account for m in members.values()}
    # an account the roll-ups hold without its people (kept by an older sync) waits for one
    affected = {key for key in (was, now) if key is not None and (key in held or key not in known)}
    if not affected:
        return {}
    persons = {p for p, m in members.items() if m.account in affected and p != person}
    subset = store.load_people(persons | {person})
    found = store_rollups(store, rules, moment, people=subset, domains=domains)
    assert found is not None
    rolled, people = found.rollups, found.people
    with store.writing(), store.engine.begin() as connection:
        data = json.loads(meta_value(connection, ACCOUNT_ROLLUPS) or "{}")
        kept = kept_members(connection)
        if data.get("measured") != measured(rules):
            return {}  # a sync under other rules kept its own meanwhile
        # the next run rolls the person's accounts up again, from their row as it was
        rows = mine or [r for r in found.rows if r.person == person]
        votes = votes_from(kept.get("votes", {}))
        replace_members(connection, (), [replace(r, due=0.0) for r in rows], votes)
        kept["votes"] = votes_json(votes)
        set_meta(connection, ACCOUNT_MEMBERS, json.dumps(kept))
        moved = {key for key in affected if _values(data, key) != _of(rolled, key)}
        if not moved:
            return {}
        targets = kept["records"]
        mapped = {(system, record) for system, records in targets.items() for record in records}
        fresh = company_targets(people, {key: found.members.get(key, []) for key in moved})
        for system, records in fresh.items():
            for record, key in records.items():
                if (system, record) not in mapped:
                    targets.setdefault(system, {})[record] = key
        for key in moved:
            _keep(data, key, rolled)
        set_meta(connection, ACCOUNT_ROLLUPS, json.dumps(data))
        set_meta(connection, ACCOUNT_MEMBERS, json.dumps(kept))
        mark_due(
            connection, [p for key in moved for p in found.members.get(key, []) if p != person]
        )
        companies = kept_records(meta_value(connection, ACCOUNT_COMPANIES))
    if not rules.accounts.write:
        return {}
    return _plan(job, AccountRollups.from_dict(data), moved, targets, companies)


def _of(rolled: AccountRollups, key: str) -> tuple[Any, ...]:
    values = rolled.accounts.get(key)
    return (
        None if values is None else list(values),
        rolled.fit.get(key),
        rolled.stage.get(key),
    )


def _values(data: Mapping[str, Any], key: str) -> tuple[Any, ...]:
    values = data.get("accounts", {}).get(key)
    return (
        None if values is None else [float(v) for v in values],
        data.get("fit", {}).get(key),
        data.get("stage", {}).get(key),
    )


def _keep(data: dict[str, Any], key: str, rolled: AccountRollups) -> None:
    """`data` (the kept roll-ups) with `key`'s values from `rolled`."""
    for part, values in (
        ("accounts", None if key not in rolled.accounts else list(rolled.accounts[key])),
        ("fit", rolled.fit.get(key)),
        ("stage", rolled.stage.get(key)),
    ):
        table = data.setdefault(part, {})
        if values is None:
            table.pop(key, None)
        else:
            table[key] = values


def _plan(
    job: Sync,
    rolled: AccountRollups,
    moved: set[str],
    targets: Mapping[str, Mapping[str, str]],
    companies: Mapping[str, Any],
) -> AccountPlan:
    plan: AccountPlan = {}
    for connector in job.connectors:
        system = connector.system
        fields = job.fields.get(system)
        if not isinstance(connector, CompanyRecords) or fields is None or not fields.accounts:
            continue
        ours = {r: k for r, k in targets.get(system, {}).items() if k in moved}
        name = accounts_system(system)
        writes = company_writes(
            fields,
            rolled,
            ours,
            companies.get(system, {}),
            job.store.written_values(name),
            job.store.refused(name),
        )
        if writes:
            plan[system] = writes
    return plan


def write_account_plan(
    job: Sync, plan: AccountPlan, as_of: datetime, held: Callable[[], None] = lambda: None
) -> dict[str, WriteOutcome]:
    """Write the company records of `plan`, by the sync's write phase; per system what
    it did. `held()` before each write: a rescore paused meanwhile writes nothing more."""
    outcomes = {}
    for connector in job.connectors:
        writes = plan.get(connector.system)
        if not writes:
            continue
        held()
        assert isinstance(connector, CompanyRecords)
        side = CompanySide(connector, accounts_system(connector.system))
        outcomes[connector.system] = write_batches(
            job, side, writes, SyncOptions(), SystemSummary(), as_of
        )
    return outcomes
