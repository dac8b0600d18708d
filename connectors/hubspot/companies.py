"""HubSpot companies: their attributes read for account fit, and account values written
back into company properties.

A contact's primary company is its `associatedcompanyid` (read as `account_id`). Company
properties are read with the companies batch read (`POST
/crm/v3/objects/companies/batch/read`, 100 ids a call, only the properties the fit rules
read) and written with the companies batch update (100 a call); the properties are made
by `setup` in the `leadscore` group of the company properties, as contact properties
are. HubSpot's default company properties (`numberofemployees`, `annualrevenue`,
`industry`, `country`) are read as the rule attributes contacts use (`employees`,
`annual_revenue`, ...); a property of the attribute's very name is read as it is.

Companies changed since a moment are found by the companies search (`POST
/crm/v3/objects/companies/search`) on `hs_lastmodifieddate` (GTE the moment less the
contacts' look-back, none when going on from a read the pages cut short), sorted by it
ascending, 200 a page, at most `CHANGED_PAGES` pages a call of `changed_companies`; the
properties come with the answer, so a changed company costs no batch read.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from connectors.attributes import AttributeMap, number_or_range
from connectors.hubspot.client import TIMEOUT, HubSpotApi, named_problems
from connectors.hubspot.engagements import SEARCH_PAGE
from connectors.hubspot.records import epoch_ms
from connectors.hubspot.write import BATCH
from connectors.protocol import ChangedCompanies, Write, WriteFailure, WriteOutcome
from connectors.values import parse_time

COMPANY_ATTRIBUTES = AttributeMap(
    {
        "name": "company",
        "domain": "company_domain",
        "numberofemployees": "employees",
        "annualrevenue": "annual_revenue",
    },
    readers={"employees": number_or_range, "annual_revenue": number_or_range},
    derive_roles=False,
)
"""HubSpot company property -> rule attribute; `industry`, `country`, `city`, `state`
need no mapping."""


MODIFIED = "hs_lastmodifieddate"
CHANGED_PAGES = 10
"""Search pages of changed companies one `changed_companies` reads (2,000 companies);
the next goes on from the last change read."""


def _company_values(properties: dict[str, Any], attributes: Sequence[str]) -> dict[str, Any]:
    values = {k: v for k, v in properties.items() if v not in (None, "")}
    mapped = COMPANY_ATTRIBUTES.apply(values)
    return {a: mapped[a] for a in attributes if a in mapped}


def changed_companies(
    api: HubSpotApi, since: datetime | None, attributes: Sequence[str], lookback_ms: int
) -> ChangedCompanies:
    """The companies modified since `since` less `lookback_ms`, oldest first, each with the
    rule `attributes`; without `since`, the newest modification in the portal."""
    if since is None:
        latest = {
            "sorts": [{"propertyName": MODIFIED, "direction": "DESCENDING"}],
            "properties": [MODIFIED],
            "limit": 1,
        }
        body = api.json(
            "companies.search", api.companies_search.do_search, public_object_search_request=latest
        )
        stamps = [(r.get("properties") or {}).get(MODIFIED) for r in body.get("results") or []]
        return ChangedCompanies(newest=next(filter(None, map(parse_time, stamps)), None))
    start = epoch_ms(since) - lookback_ms
    properties = [*COMPANY_ATTRIBUTES.sources(attributes), MODIFIED]
    found: dict[str, dict[str, Any]] = {}
    newest: datetime | None = None
    after: str | None = None
    for _ in range(CHANGED_PAGES):
        request: dict[str, Any] = {
            "filterGroups": [
                {"filters": [{"propertyName": MODIFIED, "operator": "GTE", "value": start}]}
            ],
            "sorts": [{"propertyName": MODIFIED, "direction": "ASCENDING"}],
            "properties": properties,
            "limit": SEARCH_PAGE,
            **({"after": after} if after else {}),
        }
        body = api.json(
            "companies.search", api.companies_search.do_search, public_object_search_request=request
        )
        for company in body.get("results") or []:
            held = dict(company.get("properties") or {})
            found[str(company["id"])] = _company_values(held, attributes)
            stamp = parse_time(held.get(MODIFIED))
            newest = stamp if stamp is not None and (newest is None or stamp > newest) else newest
        after = ((body.get("paging") or {}).get("next") or {}).get("after")
        if not after:
            return ChangedCompanies(found, newest)
    return ChangedCompanies(found, newest, complete=False)


GONE = "HubSpot has no such company (deleted or merged): not written again"
"""The reason of a write to a company a read back does not find."""


def read_companies(
    api: HubSpotApi, ids: Sequence[str], attributes: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """The companies of `ids` that HubSpot has, each with the rule `attributes` its
    properties give (ids HubSpot does not know are left out)."""
    from hubspot.crm.objects import BatchReadInputSimplePublicObjectId, SimplePublicObjectId

    properties = COMPANY_ATTRIBUTES.sources(attributes)
    found: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), BATCH):
        body = BatchReadInputSimplePublicObjectId(
            properties=properties,
            inputs=[SimplePublicObjectId(id=i) for i in ids[start : start + BATCH]],
        )
        answer = api.call(
            "companies.batch_read",
            lambda body=body: api.companies_batch.read(
                batch_read_input_simple_public_object_id=body, _request_timeout=TIMEOUT
            ),
        )
        for company in answer.results or []:
            found[str(company.id)] = _company_values(dict(company.properties or {}), attributes)
    return found


def write_companies(api: HubSpotApi, writes: Sequence[Write]) -> WriteOutcome:
    """One batch update of companies (at most 100); the ids HubSpot answers as not
    found fail for good, other failures may be retried. HubSpot's reference does not
    say how a batch update answers an id it does not have (integrators see it left out,
    unnamed): an id the answer leaves out is read back (one batch read), and one the read
    does not find either fails for good, so that no run writes a deleted company again
    and again."""
    from hubspot.crm.objects import (
        BatchInputSimplePublicObjectBatchInput,
        SimplePublicObjectBatchInput,
    )

    if len(writes) > BATCH:
        raise ValueError(f"at most {BATCH} companies per HubSpot batch update")
    body = BatchInputSimplePublicObjectBatchInput(
        inputs=[
            SimplePublicObjectBatchInput(id=w.record_id, properties=dict(w.values)) for w in writes
        ]
    )
    answer = api.call(
        "companies.batch_update",
        lambda: api.companies_batch.update(
            batch_input_simple_public_object_batch_input=body, _request_timeout=TIMEOUT
        ),
    )
    failed: dict[str, WriteFailure] = {}
    for error in getattr(answer, "errors", None) or []:
        reason = named_problems(error.message or "", getattr(error, "errors", None))
        retryable = (error.category or "") not in ("VALIDATION_ERROR", "OBJECT_NOT_FOUND")
        for record in (error.context or {}).get("ids", []) or []:
            failed[str(record)] = WriteFailure(
                str(record), reason or error.message or "", retryable
            )
    landed = {str(r.id) for r in answer.results or []}
    unsure = [w.record_id for w in writes if w.record_id not in landed]
    there = read_companies(api, unsure, []) if unsure else {}
    for record in unsure:
        if record not in there:
            failed[record] = WriteFailure(record, GONE, False)
        elif record not in failed:
            failed[record] = WriteFailure(record, "not in HubSpot's answer", True)
    stamps = [r.updated_at for r in answer.results or [] if isinstance(r.updated_at, datetime)]
    return WriteOutcome(
        [w.record_id for w in writes if w.record_id in landed and w.record_id not in failed],
        list(failed.values()),
        [max(stamps)] if stamps else [],
    )
