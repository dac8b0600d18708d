"""Salesforce Accounts: their fields read for account fit, and account values written
back onto them.

A Contact's Account is its `AccountId` (read as `account_id`; a Lead has none). The
Accounts its people name are read by SOQL (`SELECT Id, ... FROM Account WHERE Id IN
(...)`, 200 ids a query), only the fields the fit rules read that the org has on
Account; the standard `Industry`, `NumberOfEmployees`, `AnnualRevenue` and
`BillingCountry` are read as the rule attributes `industry`, `employees`,
`annual_revenue` and `country` (Object Reference, "Account"), a field of the
attribute's very name as it is. Account values are written through sObject Collections
updates of 200 (`write.write_collection` with Account's key prefix), into custom fields
`setup` makes on Account with field-level security, as on Lead and Contact.

Accounts changed since a moment are read by `SystemModstamp` (`WHERE SystemModstamp >=`
the moment less the org's look-back, `ORDER BY SystemModstamp, Id LIMIT 2000`: one query
a call), as the people's streams are: read-only, and moved by every change, a system
one (a roll-up summary) among them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from connectors.attributes import AttributeMap, number_or_range
from connectors.protocol import ChangedCompanies, Write, WriteOutcome
from connectors.salesforce.client import SalesforceApi
from connectors.salesforce.describe import Schema
from connectors.salesforce.pull import STAMP
from connectors.salesforce.records import flatten
from connectors.salesforce.soql import in_chunks, is_record_id, select, soql_datetime, soql_ids
from connectors.salesforce.write import write_collection
from connectors.values import parse_time

ACCOUNT = "Account"
ACCOUNT_PREFIX = {"001": ACCOUNT}
"""Account's key prefix (Object Reference: the first three characters of an id)."""
ACCOUNT_ATTRIBUTES = AttributeMap(
    {
        "Name": "company",
        "Website": "company_website",
        "Industry": "industry",
        "NumberOfEmployees": "employees",
        "AnnualRevenue": "annual_revenue",
        "BillingCountry": "country",
    },
    readers={"employees": number_or_range, "annual_revenue": number_or_range},
    derive_roles=False,
    any_case=True,
)
"""Account field -> rule attribute."""


def read_accounts(
    api: SalesforceApi, schema: Schema, ids: Sequence[str], attributes: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """The Accounts of `ids` the org has, each with the rule `attributes` its fields give."""
    fields = schema.present(ACCOUNT, ACCOUNT_ATTRIBUTES.sources(attributes))
    wanted = [i for i in ids if is_record_id(i)]
    found: dict[str, dict[str, Any]] = {}
    for part in in_chunks(wanted):
        answer = api.query_page(
            "accounts.query", select(ACCOUNT, ["Id", *fields], [f"Id IN {soql_ids(part)}"]), None
        )
        while True:
            for record in answer.get("records") or []:
                values = {k: v for k, v in flatten(record).items() if v not in (None, "")}
                mapped = ACCOUNT_ATTRIBUTES.apply(values)
                found[str(record["Id"])] = {a: mapped[a] for a in attributes if a in mapped}
            following = answer.get("nextRecordsUrl")
            if not following:
                break
            answer = api.query_page("accounts.query", None, following)
    # an Id named by its 15 characters answers with its 18: keep the id the people name
    by_short = {record[:15]: record for record in found}
    return {i: found[by_short[i[:15]]] for i in ids if i[:15] in by_short}


CHANGED_LIMIT = 2000
"""Accounts one `changed_accounts` reads (one query's page); the next goes on from the
last change read."""


def changed_accounts(
    api: SalesforceApi,
    schema: Schema,
    since: datetime | None,
    attributes: Sequence[str],
    lookback: float,
) -> ChangedCompanies:
    """The Accounts modified since `since` less `lookback` seconds, oldest first, with the
    rule `attributes`; without `since`, the newest `SystemModstamp` of the org's Accounts."""
    if since is None:
        soql = select(ACCOUNT, [STAMP], order=f"{STAMP} DESC") + " LIMIT 1"
        records = api.query_page("accounts.query", soql, None).get("records") or []
        stamps = [parse_time(record.get(STAMP)) for record in records]
        return ChangedCompanies(newest=next(filter(None, stamps), None))
    fields = schema.present(ACCOUNT, ACCOUNT_ATTRIBUTES.sources(attributes))
    where = [f"{STAMP} >= {soql_datetime(since - timedelta(seconds=lookback))}"]
    soql = select(ACCOUNT, ["Id", STAMP, *fields], where, f"{STAMP}, Id")
    answer = api.query_page("accounts.query", soql + f" LIMIT {CHANGED_LIMIT}", None)
    found: dict[str, dict[str, Any]] = {}
    newest: datetime | None = None
    count = 0
    while True:
        for record in answer.get("records") or []:
            count += 1
            values = {k: v for k, v in flatten(record).items() if v not in (None, "")}
            mapped = ACCOUNT_ATTRIBUTES.apply(values)
            found[str(record["Id"])] = {a: mapped[a] for a in attributes if a in mapped}
            stamp = parse_time(record.get(STAMP))
            newest = stamp if stamp is not None and (newest is None or stamp > newest) else newest
        following = answer.get("nextRecordsUrl")
        if not following:
            break
        answer = api.query_page("accounts.query", None, following)
    return ChangedCompanies(found, newest, complete=count < CHANGED_LIMIT)


def write_account_records(
    api: SalesforceApi, schema: Schema, writes: Sequence[Write]
) -> WriteOutcome:
    """Collection updates of Accounts, 200 a call."""
    outcome = WriteOutcome()
    for start in range(0, len(writes), 200):
        part = write_collection(api, schema, writes[start : start + 200], {}, ACCOUNT_PREFIX)
        outcome.written.extend(part.written)
        outcome.failed.extend(part.failed)
        outcome.gone.extend(part.gone)
    return outcome
