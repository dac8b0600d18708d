"""Accounts and the CRMs' company records: their attributes read for the accounts' fit,
and the accounts' values written back onto them.

Reading: a run reads, from each system with company records (`CompanyRecords`: HubSpot
companies, Salesforce Accounts), first the records changed since its last look (by the
system's own stamp: HubSpot's `hs_lastmodifieddate` by search, Salesforce's
`SystemModstamp`; a bounded number of calls, the rest left to the next run, which goes
on from the last change read without the look-back), keeping those its people name;
then the records the `account_id` of its people name that the store does not hold yet,
holds from before the fit rules read what they read now, or read more than
`REREAD_AFTER` ago (all of them on `--full`), only the attributes the fit rules read, in
the system's batch reads; it keeps them, and the stamp of the last change read (`since`;
on a first or `--full` run the system's newest stamp, one call), in the `meta` table
under `ACCOUNT_COMPANIES` (no schema change), with the records no person names any more
let go. Our own writes move those stamps too, so a run reads again the companies the
run before wrote (one search page per 200).

Writing: after the contacts' writes, each account that is a company record of a system
gets its score, fit, engagement and stage (`FieldMap.accounts`) written there, when they
differ from what was last written: the written values are kept in the `written` table
under the system `<system>:accounts`, by the same write phase as contacts
(`sync.writing.write_batches`: batches side by side, each outcome recorded as it lands,
failures kept and retried by the next run). Accounts known only by their email domain
are written nowhere.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from connectors.protocol import CompanyRecords, SetupReport, Write, WriteOutcome
from scoring import AccountRollups, CompanyAttributes
from sync.accounts import (
    ACCOUNT_COMPANIES,
    KEY_FIELD,
    companies_by_key,
    id_text,
    kept_records,
)
from sync.dues import meta_value, set_meta
from sync.fields import FieldMap
from sync.people import People
from sync.schema import forget_records
from sync.schema import written as written_table
from sync.summary import SyncOptions, SystemSummary
from sync.writing import write_batches

if TYPE_CHECKING:
    from sync.incremental import Scored
    from sync.pipeline import Sync
REREAD_AFTER = 86_400.0
"""Seconds after which a company record's attributes are read again, changed or not (a
change that moves the record's stamp is read by the next run)."""


def accounts_system(system: str) -> str:
    """The name the written values of a system's company records are kept under."""
    return f"{system}:accounts"


def with_accounts(
    connector: object, fields: FieldMap, report: SetupReport, dry_run: bool
) -> SetupReport:
    """`report` (setup's of a system's contact fields) with what setup found and did of
    its company records' fields (`account <name>`), where the system has company records
    and the rules write accounts."""
    if not isinstance(connector, CompanyRecords) or not fields.accounts:
        return report
    found = connector.setup_accounts(fields.accounts, dry_run=dry_run)

    def named(names: list[str]) -> list[str]:
        return [f"account {name}" for name in names]

    return replace(
        report,
        created=[*report.created, *named(found.created)],
        existing=[*report.existing, *named(found.existing)],
        updated=[*report.updated, *named(found.updated)],
        described=[*report.described, *named(found.described)],
    )


def refresh_companies(
    job: Sync, moment: float, full: bool, people: People, *, grow: bool = False
) -> CompanyAttributes:
    """Bring the kept company records up to date for the people of the store (module
    docstring) and keep them; returns them by account key. `grow`: `people` are some of
    the store's (a run that rolls up again only some accounts, `sync.account_step`): the
    records kept for the others are kept too (let go by the next run over everyone)."""
    spec = job.rules.accounts
    if spec is None or KEY_FIELD not in spec.key:
        return {}
    fields = spec.company_fields()
    with job.store.engine.connect() as connection:
        kept = kept_records(meta_value(connection, ACCOUNT_COMPANIES))
    for connector in job.connectors:
        if not isinstance(connector, CompanyRecords):
            continue
        system = connector.system
        named = {
            found
            for (where, _), attributes in people.record_attributes.items()
            if where == system and (found := id_text(attributes.get(KEY_FIELD))) is not None
        }
        held = kept.get(system) or {}
        same = held.get("fields") == fields
        if grow and same:
            named |= set(held.get("companies", {}))
        records = held.get("companies", {}) if same else {}
        since = _stamp(held.get("since")) if same and not full else None
        fresh: set[str] = set()
        cut = False
        if fields:
            # changed since the last look, at once; without one, where the next look starts
            going_on = bool(held.get("going_on")) and since is not None
            changed = connector.changed_companies(since, fields, going_on=going_on)
            fresh = named & set(changed.values)
            for record in fresh:
                records[record] = {"at": moment, "values": changed.values[record], "found": True}
            since, cut = changed.newest or since, not changed.complete
        stale = sorted(
            i
            for i in named - fresh
            if full or i not in records or moment - float(records[i]["at"]) >= REREAD_AFTER
        )
        if stale:
            read = connector.read_companies(stale, fields) if fields else {}
            for record in stale:
                known = record in read or not fields  # without fields nothing was asked
                records[record] = {"at": moment, "values": read.get(record, {}), "found": known}
        kept[system] = {
            "fields": fields,
            "companies": {i: records[i] for i in sorted(named)},
            "since": None if since is None else since.isoformat(),
            "going_on": cut,
        }
    with job.store.writing(), job.store.engine.begin() as connection:
        set_meta(connection, ACCOUNT_COMPANIES, json.dumps(kept, sort_keys=True))
    return companies_by_key(kept)


def _stamp(text: Any) -> datetime | None:
    return None if not text else datetime.fromisoformat(str(text))


def account_values(fields: FieldMap, rolled: AccountRollups, key: str) -> dict[str, str]:
    """The values an account's company record is given, by field name."""
    names = {spec.key: spec.name for spec in fields.accounts}
    found = {
        "account_score": _number(rolled.score(key)),
        "account_fit": _number(rolled.fit.get(key, 0.0)),
        "account_engagement": _number(rolled.accounts[key][2]),
        "account_stage": rolled.stage.get(key, ""),
    }
    return {names[k]: v for k, v in found.items() if k in names}


def _number(value: float) -> str:
    rounded = round(value, 2)
    return str(int(rounded)) if float(rounded).is_integer() else str(rounded)


def plan_accounts(
    job: Sync,
    rolled: AccountRollups,
    targets: Mapping[str, Mapping[str, str]],
    full: bool,
) -> dict[str, list[Write]]:
    """Per system with company records and account fields, the writes that bring its
    records (`targets`: system -> record -> account key) up to date (`full`: those refused
    for good with the same values too)."""
    with job.store.engine.connect() as connection:
        kept = kept_records(meta_value(connection, ACCOUNT_COMPANIES))
    plan: dict[str, list[Write]] = {}
    for connector in job.connectors:
        system = connector.system
        fields = job.fields.get(system)
        if not isinstance(connector, CompanyRecords) or fields is None or not fields.accounts:
            continue
        written = job.store.written_values(accounts_system(system))
        # refused for good with these very values: not sent again until they change
        refused = {} if full else job.store.refused(accounts_system(system))
        mapped = targets.get(system, {})
        plan[system] = company_writes(
            fields, rolled, mapped, kept.get(system, {}), written, refused
        ) + stale_writes(fields, rolled, mapped, written, refused)
    return plan


def forget_cleared(
    job: Sync, rolled: AccountRollups, targets: Mapping[str, Mapping[str, str]]
) -> None:
    """Forget the written values of the orphaned company records whose emptied fields
    landed or were refused for good (`cleared_done`), in each system with company
    records."""
    for connector in job.connectors:
        fields = job.fields.get(connector.system)
        if not isinstance(connector, CompanyRecords) or fields is None or not fields.accounts:
            continue
        system = accounts_system(connector.system)
        written, refused = job.store.written_values(system), job.store.refused(system)
        done = cleared_done(fields, rolled, targets.get(connector.system, {}), written, refused)
        if done:
            with job.store.writing(), job.store.engine.begin() as connection:
                forget_records(connection, written_table, system, done)


def _orphans(
    rolled: AccountRollups, targets: Mapping[str, str], written: Mapping[str, Any]
) -> list[str]:
    """The company records written before that no account maps to now (nobody left at
    them, or their account gone from the roll-ups)."""
    return sorted(r for r in written if targets.get(r) not in rolled.accounts)


def stale_writes(
    fields: FieldMap,
    rolled: AccountRollups,
    targets: Mapping[str, str],
    written: Mapping[str, Mapping[str, str]],
    refused: Mapping[str, Mapping[str, str]],
) -> list[Write]:
    """A company record with nobody left mapped to it keeps no old values: its account
    fields emptied, once (as an excluded contact's are, `FieldMap.cleared`)."""
    empty = account_cleared(fields)
    return [
        Write(record, empty)
        for record in _orphans(rolled, targets, written)
        if written[record] != empty and refused.get(record) != empty
    ]


def cleared_done(
    fields: FieldMap,
    rolled: AccountRollups,
    targets: Mapping[str, str],
    written: Mapping[str, Mapping[str, str]],
    refused: Mapping[str, Mapping[str, str]] | None = None,
) -> list[str]:
    """The orphaned records whose emptied fields landed, or were refused for good (a
    company the system no longer has): forgotten, so that no later run looks at them
    again (a record someone maps to again is written as a new one)."""
    empty = account_cleared(fields)
    done = refused or {}
    return [
        r for r in _orphans(rolled, targets, written) if written[r] == empty or done.get(r) == empty
    ]


def account_cleared(fields: FieldMap) -> dict[str, str]:
    """Every account field of a company record emptied (each connector writes "" as its
    system clears a field)."""
    return {spec.name: "" for spec in fields.accounts}


def company_writes(
    fields: FieldMap,
    rolled: AccountRollups,
    targets: Mapping[str, str],
    held: Mapping[str, Any],
    written: Mapping[str, Mapping[str, str]],
    refused: Mapping[str, Mapping[str, str]],
) -> list[Write]:
    """The writes of one system's company records (`targets`: record -> account key) whose
    account's values differ from those `written` and `refused` for good; a record the
    system answered it does not have (`held`: the kept reads) is left out."""
    companies = held.get("companies", {})
    writes = []
    for record, key in sorted(targets.items()):
        if not companies.get(record, {}).get("found", True) or key not in rolled.accounts:
            continue
        values = account_values(fields, rolled, key)
        if written.get(record) != values and refused.get(record) != values:
            writes.append(Write(record, values))
    return writes


@dataclass(frozen=True)
class CompanySide:
    """A connector's company records as the write phase writes records."""

    connector: CompanyRecords
    system: str

    def write_size(self, planned: int) -> int:
        return self.connector.account_batch_size

    def write(self, writes: Sequence[Write]) -> WriteOutcome:
        return self.connector.write_accounts(writes)


def write_accounts(
    job: Sync,
    scored: Scored,
    options: SyncOptions,
    stats: dict[str, SystemSummary],
    as_of: datetime,
) -> None:
    """Plan and (unless a dry run or a trial) write the accounts' values from the roll-ups
    the run scored with onto the company records it found (`scored`); `stats` gets what
    each system's company records were planned, written and failed."""
    if job.rules.accounts is None or not job.rules.accounts.write:
        return
    rolled, targets = scored.accounts, scored.account_records
    if rolled is None or targets is None:
        return
    if not options.dry_run and options.limit is None:
        forget_cleared(job, rolled, targets)  # emptied by an earlier run: nothing left to do
    for system, writes in plan_accounts(job, rolled, targets, options.full).items():
        counted = stats.setdefault(system, SystemSummary())
        counted.planned = len(writes)
        if options.dry_run or options.limit is not None or not writes:
            continue
        connector = next(c for c in job.connectors if c.system == system)
        assert isinstance(connector, CompanyRecords)
        side = CompanySide(connector, accounts_system(system))
        write_batches(job, side, writes, options, counted, as_of)
