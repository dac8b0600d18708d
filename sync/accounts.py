"""Account roll-ups over the store's population, kept in the store.

The engine reads account fields only with roll-ups it is given (`scoring.accounts`). A
sync computes them over every person in the store the rules do not exclude (their
activities up to the run's moment), keeps them in the `meta` table under
`ACCOUNT_ROLLUPS` with what they measured (the `accounts` block), and passes them to the
engine; a rescore of a few records, and `explain`, read the kept ones, so that a person
scored alone gets the account fields a run scoring everyone gives them. The people of an
account whose roll-up moved are marked due (`sync.dues.mark_due`), so an incremental run
rescores them, and only them, besides whoever else is due. Each account's fit and stage
are computed with the roll-ups (`scoring.account_fit`), from the company records a sync
read and kept under `ACCOUNT_COMPANIES` (`sync.account_sync`), else from its people.

One account key per person scores: the first `key` field of the person's merged
attributes, where a person's records in several systems merge the first system's value
(by name: HubSpot's `account_id` before Salesforce's), so a person in both is at their
HubSpot company's account. Each record keeps its own `account_id` (its system's company
record), and the write-back maps accounts onto every system's company records their
people's records name (`company_targets`): a record takes the values of the account most
of the people naming it are at (a tie: the account keyed by the record itself, else the
first key in order), accounts keyed by a company record id only (not a domain). The sync
keeps that map and each account's people under `ACCOUNT_MEMBERS`, so a rescore of one
record can roll its account up again (`sync.account_trigger`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Collection, Mapping
from typing import Any, NamedTuple

from sqlalchemy.engine import Connection

from scoring import (
    AccountRollups,
    CompanyAttributes,
    RuleSet,
    account_keys,
    activity_groups,
    domain_pairs,
    included,
    population_rollups,
    rollup_due,
)
from sync.account_members import MemberRow, Vote, Votes
from sync.dues import meta_value
from sync.people import People
from sync.store import StateStore

ACCOUNT_ROLLUPS = "account_rollups"
"""The `meta` key of the roll-ups the last sync computed."""
ACCOUNT_COMPANIES = "account_companies"
"""The `meta` key of the company records a sync read (`sync.account_sync`): system ->
{"fields": what was read, "companies": record id -> {"at", "values", "found"}}."""
ACCOUNT_MEMBERS = "account_members"
"""The `meta` key of each account's people and the company records each account's values
go to: {"members": key -> person ids, "records": system -> record id -> key}."""
KEY_FIELD = "account_id"
"""The account key field a CRM's company record id is the value of."""


def id_text(value: Any) -> str | None:
    """A pulled `account_id` as its record id's text (a whole number without `.0`)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float):
        return None if not math.isfinite(value) else f"{value:.0f}" if value.is_integer() else None
    text = str(value).strip()
    return text or None


_NONE: Mapping[str, Any] = {}


def person_votes(people: People, person: int) -> tuple[Vote, ...]:
    """The company records a person's records name (`account_id`), each once."""
    own = people.record_attributes
    found = {
        (record[0], json.dumps(raw))
        for record in people.records.get(str(person), ())
        if (raw := own.get(record, _NONE).get(KEY_FIELD)) is not None
    }
    return tuple(sorted(found))


def company_targets(people: People, members: Mapping[str, list[int]]) -> dict[str, dict[str, str]]:
    """System -> company record id -> the account whose values it is given: per company
    record its people's records name, the account most of them are at (a tie: the record's
    own key, else the lowest), of the accounts keyed by a company record id."""
    votes: Votes = {}
    for key, persons in members.items():
        if key.startswith(f"{KEY_FIELD}:"):  # a domain's account is written nowhere
            for person in persons:
                for vote in person_votes(people, person):
                    counted = votes.setdefault(vote, {})
                    counted[key] = counted.get(key, 0) + 1
    return targets_of(votes)


def targets_of(votes: Votes, only: Collection[Vote] | None = None) -> dict[str, dict[str, str]]:
    """System -> company record id -> its account (`company_targets`), from the `votes`
    (of the records `only` names: None, all)."""
    out: dict[str, dict[str, str]] = {}
    for vote in sorted(votes if only is None else (v for v in only if v in votes)):
        counted = votes[vote]
        company = id_text(json.loads(vote[1]))  # once per company record, not per person
        if company is None or not counted:
            continue
        own_key = account_key(company)
        chosen = min(counted, key=lambda k: (-counted[k], k != own_key, k))
        mapped = out.setdefault(vote[0], {})
        if company in mapped and mapped[company] != chosen:  # one id pulled as 7 and "7"
            chosen = min(mapped[company], chosen)
        mapped[company] = chosen
    return {system: dict(sorted(ids.items())) for system, ids in sorted(out.items())}


def kept_members(connection: Connection) -> dict[str, Any]:
    """What the last sync kept under `ACCOUNT_MEMBERS` (empty before any): the company
    records' accounts and their votes (`sync.account_members`)."""
    text = meta_value(connection, ACCOUNT_MEMBERS)
    return {"records": {}, "votes": {}} if text is None else dict(json.loads(text))


def account_key(record_id: str) -> str:
    """The account key of a company record's id (as `scoring.account_keys` folds it)."""
    return f"{KEY_FIELD}:{record_id.strip().casefold()}"


def kept_records(text: str | None) -> dict[str, Any]:
    return {} if text is None else dict(json.loads(text))


def companies_by_key(kept: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The company records' attributes by account key, of those the systems have."""
    out: dict[str, Mapping[str, Any]] = {}
    for held in kept.values():
        for record, entry in held.get("companies", {}).items():
            if entry.get("found", True):
                out.setdefault(account_key(record), entry.get("values", {}))
    return out


def stored_companies(store: StateStore) -> dict[str, Mapping[str, Any]]:
    """The company records the last sync kept, by account key (a rescore reads no CRM)."""
    with store.engine.connect() as connection:
        return companies_by_key(kept_records(meta_value(connection, ACCOUNT_COMPANIES)))


def measured(rules: RuleSet) -> str:
    """What roll-ups measure: the `accounts` block (others are void)."""
    assert rules.accounts is not None
    return rules.accounts.model_dump_json()


class Rolled(NamedTuple):
    """Roll-ups over some people (`store_rollups`)."""

    rollups: AccountRollups
    members: dict[str, list[int]]
    """Each account's person ids."""
    people: People
    """The people read."""
    rows: list[MemberRow]
    """Each person with an account as `account_members` keeps them."""


def store_rollups(
    store: StateStore,
    rules: RuleSet,
    moment: float,
    companies: Callable[[People], CompanyAttributes] | None = None,
    people: People | None = None,
    domains: Mapping[str, str] | None = None,
    held: CompanyAttributes | None = None,
) -> Rolled | None:
    """The roll-ups over every person in the store (or of `people`) the rules do not
    exclude, their activities up to `moment` (epoch seconds), with each account's fit and
    stage from the company records `companies` gives for them (or `held`; without either:
    those the last sync kept), each account's person ids, and the people read; None
    without an `accounts` block. `domains`: the population's domain map, for `people`
    who are only some of it (`scoring.accounts.domain_accounts`)."""
    spec = rules.accounts
    if spec is None:
        return None
    people = store.load_people() if people is None else people
    if held is None:
        held = stored_companies(store) if companies is None else companies(people)
    frame, activities = people.frames(
        rules.contact_fields(), rules.activity_fields(), exclude=rules.exclude
    )
    kept = included(rules, frame, activities)
    rolled = population_rollups(rules, kept.contacts, kept.activities, moment, held, domains)
    assert rolled is not None
    keys = account_keys(spec, kept.contacts, rolled.domains)
    group, _ = activity_groups(rules, kept.contacts, kept.activities, moment)
    due = rollup_due(spec, kept.activities, len(kept.contacts), group, moment).tolist()
    paired = domain_pairs(spec, kept.contacts).tolist()
    members: dict[str, list[int]] = {}
    rows: list[MemberRow] = []
    names, ids = keys.categories.tolist(), kept.contacts.ids.tolist()
    for row, code in enumerate(keys.codes.tolist()):
        if code >= 0:
            person, key = int(ids[row]), str(names[code])
            members.setdefault(key, []).append(person)
            votes = person_votes(people, person) if key.startswith(f"{KEY_FIELD}:") else ()
            rows.append(MemberRow(person, key, due[row], paired[row], votes))
    return Rolled(rolled, members, people, rows)


def kept_rollups(connection: Connection, rules: RuleSet) -> AccountRollups | None:
    """The roll-ups the last sync kept, when they measured what `rules` measure."""
    if rules.accounts is None:
        return None
    text = meta_value(connection, ACCOUNT_ROLLUPS)
    if text is None:
        return None
    data = json.loads(text)
    if data.get("measured") != measured(rules):
        return None
    return AccountRollups.from_dict(data)


def rollups_for(store: StateStore, rules: RuleSet, moment: float) -> AccountRollups | None:
    """The roll-ups a rescore of a few persons scores with: those kept, or, before any
    sync kept them, the population's as of `moment`."""
    if rules.accounts is None:
        return None
    with store.engine.connect() as connection:
        kept = kept_rollups(connection, rules)
    if kept is not None:
        return kept
    found = store_rollups(store, rules, moment)
    return None if found is None else found.rollups
