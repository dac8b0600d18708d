"""A run's account roll-ups: over everyone, or again for the accounts that may have moved.

Over everyone on `--full`, when the rules, fields or stage mappings changed (the scoring
fingerprint, `sync.incremental`), when the kept roll-ups measured another `accounts`
block, and before any run kept the accounts' people (`sync.account_members`).

Otherwise a run rolls up again only the accounts that may have moved since the last run,
over their people, and keeps the others' roll-ups as they are:

- the accounts, as kept and as now, of the persons with new or changed data (due now,
  marked by whatever changed them, `sync.dues`; not those due by time alone), with those
  whose own roll-up values may have changed by the run's moment (an activity left a
  window, or one dated later counts now: `account_members.due`) and those a rescore of
  one record rolled up meanwhile;
- the accounts of persons the store no longer has (merged away, dropped);
- the accounts whose company record the run read with other values (fit and stage);
- where an email domain's account in the domain map changed (a person's domain or
  account, a company record's `domain`), the accounts it joined and joins and the domain's
  own account.

An account's roll-up is the sum over its people, its fit and stage a function of it and
of its company record: rolled up over exactly its people, it is what a roll-up over
everyone gives it. Engagement and the counts are whole counts of activities in a window,
so they change only when an activity enters or leaves one: the rows' due moments give
exactly the accounts whose decayed values may change (`tests/sync/test_account_step.py`
checks a run's roll-ups against a full recompute on random stores and changes).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scoring import (
    AccountRollups,
    CompanyAttributes,
    RuleSet,
    company_domains,
    domain_key,
    domain_owners,
    keyed_by_domain,
)
from sync.account_members import (
    Votes,
    domain_pairs_of,
    due_members,
    has_members,
    members_in,
    members_of,
    replace_all,
    replace_members,
    vanished,
    votes_from,
    votes_json,
)
from sync.accounts import (
    ACCOUNT_MEMBERS,
    ACCOUNT_ROLLUPS,
    kept_members,
    kept_rollups,
    measured,
    store_rollups,
    stored_companies,
    targets_of,
)
from sync.dues import mark_due, set_meta
from sync.people import People
from sync.schema import persons
from sync.store import StateStore

Refreshed = tuple[AccountRollups | None, set[int], dict[str, dict[str, str]], People | None]
CompanyReader = Callable[..., CompanyAttributes]
"""The company records' attributes by account key, for some people (`grow`: besides those
kept for others, `sync.account_sync.refresh_companies`)."""


def refresh(
    store: StateStore,
    rules: RuleSet,
    moment: float,
    companies: CompanyReader | None = None,
    *,
    keep: bool = True,
    everyone: bool = True,
) -> Refreshed:
    """The population's roll-ups as of `moment` (fit from the records `companies` gives),
    the people of every account whose roll-up moved since the kept ones, per system
    the company records to write with their account keys, and everyone as read for them
    (None: only some were read); (None, none, none, None) without an `accounts` block.
    `everyone`: roll every account up again (module docstring), else only those that may
    have moved. `keep`: the roll-ups and the accounts' people are kept in the store and
    those people marked due; a dry run keeps nothing and marks nobody (it rescores them
    itself)."""
    if rules.accounts is None:
        return None, set(), {}, None
    if not everyone:
        stepped = _step(store, rules, moment, companies, keep)
        if stepped is not None:
            return stepped
    found = store_rollups(store, rules, moment, companies)
    assert found is not None
    rolled = found.rollups
    with store.writing(), store.engine.begin() as connection:
        moved = rolled.changed(kept_rollups(connection, rules))
        people = {p for key in moved for p in found.members.get(key, [])}
        votes = replace_all(connection, found.rows, write=keep)
        if keep:
            mark_due(connection, people)
            _keep(connection, rules, rolled, moment, votes)
    return rolled, people, _written(rules, votes), found.people


def _written(rules: RuleSet, votes: Votes) -> dict[str, dict[str, str]]:
    """The company records to write, with their account keys (none: the rules write none)."""
    return targets_of(votes) if rules.accounts is not None and rules.accounts.write else {}


def _keep(
    connection: Connection, rules: RuleSet, rolled: AccountRollups, moment: float, votes: Votes
) -> None:
    """Keep the roll-ups and the company records' votes and accounts."""
    data = {"measured": measured(rules), "as_of": moment, **rolled.as_dict()}
    set_meta(connection, ACCOUNT_ROLLUPS, json.dumps(data))
    state = {"records": targets_of(votes), "votes": votes_json(votes)}
    set_meta(connection, ACCOUNT_MEMBERS, json.dumps(state))


def _step(
    store: StateStore,
    rules: RuleSet,
    moment: float,
    companies: CompanyReader | None,
    keep: bool,
) -> Refreshed | None:
    """The roll-ups of the accounts that may have moved (module docstring), the others'
    kept; None where the store keeps no roll-ups of these rules with their people."""
    spec = rules.accounts
    assert spec is not None
    with store.engine.connect() as connection:
        before = kept_rollups(connection, rules)
        state = kept_members(connection)
        if before is None or "votes" not in state:
            return None
        if before.accounts and not has_members(connection):
            return None  # kept by an older release, without their people
        # new or changed data (`sync.dues`: due NULL); a person due by time alone has
        # the roll-up values their row's due says
        chosen = sa.select(persons.c.id).where(persons.c.due.is_(None))
        ripe, gone = due_members(connection, moment), vanished(connection)
        changed = {int(p) for p in connection.scalars(chosen)} | {m.person for m in ripe}
        old = members_of(connection, changed)
    was = stored_companies(store)
    first = store.load_people(changed)
    held = dict(was) if companies is None else companies(first, grow=True)
    news = {k for k in set(was) | set(held) if was.get(k) != held.get(k)}
    trial = store_rollups(store, rules, moment, people=first, domains=before.domains, held=held)
    assert trial is not None
    domains = dict(before.domains)
    if keyed_by_domain(spec):  # the domain map again for the domains that may have moved
        touched = {m.domain for m in [*old, *gone, *trial.rows] if m.domain}
        for side in (was, held):
            touched |= {d for d, _ in company_domains({k: side[k] for k in news if k in side})}
        with store.engine.connect() as connection:
            pairs = domain_pairs_of(connection, touched, changed | {m.person for m in gone})
        pairs |= {(m.domain, m.account) for m in trial.rows if m.domain}
        owners = domain_owners(pairs, held)
        for domain in touched:
            domains.pop(domain, None)
            if domain in owners:
                domains[domain] = owners[domain]
    shifted = {d for d in {*domains, *before.domains} if domains.get(d) != before.domains.get(d)}
    if shifted:  # the persons due keyed by the new map
        trial = store_rollups(store, rules, moment, people=first, domains=domains, held=held)
        assert trial is not None
    keys = {m.account for m in [*old, *ripe, *gone, *trial.rows]} | news
    for domain in shifted:
        keys.add(domain_key(domain))
        keys.update(k for k in (domains.get(domain), before.domains.get(domain)) if k)
    if not keys:  # nothing may have moved: the kept roll-ups, people and records stand
        records = {str(s): dict(r) for s, r in state["records"].items()}
        return before, set(), records if spec.write else {}, None
    with store.engine.connect() as connection:
        others = {m.person for m in members_in(connection, keys)} - {m.person for m in gone}
    people = store.load_people(others | changed)
    found = store_rollups(store, rules, moment, people=people, domains=domains, held=held)
    assert found is not None
    rolled = _merged(before, found.rollups, keys, domains)
    moved = {k for k in keys if _values(before, k) != _values(rolled, k)}
    marked = {p for key in moved for p in found.members.get(key, [])}
    votes = votes_from(state["votes"])
    with store.writing(), store.engine.begin() as connection:
        replace_members(connection, keys, found.rows, votes, write=keep)
        if keep:
            mark_due(connection, marked)
            _keep(connection, rules, rolled, moment, votes)
    return rolled, marked, _written(rules, votes), None


def _values(rolled: AccountRollups, key: str) -> tuple[Any, ...]:
    return rolled.accounts.get(key), rolled.fit.get(key), rolled.stage.get(key)


def _merged(
    before: AccountRollups, found: AccountRollups, keys: set[str], domains: Mapping[str, str]
) -> AccountRollups:
    """The kept roll-ups with those of `keys` as `found` has them."""

    def part(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
        kept = {k: v for k, v in old.items() if k not in keys}
        kept.update((k, v) for k, v in new.items() if k in keys)
        return dict(sorted(kept.items()))

    return replace(
        before,
        accounts=part(before.accounts, {k: tuple(v) for k, v in found.accounts.items()}),
        fit=part(before.fit, found.fit),
        stage=part(before.stage, found.stage),
        domains=dict(sorted(domains.items())),
        table=None,
    )
