"""Deals, meetings, calls and sales emails: all of them listed, then those changed since
the cursor, by search.

A full pull lists each object type (100 a page, each object's contacts in the
answer), in the 10-second window beside the contacts' searches. From a cursor,
each stream searches its object type for `hs_lastmodifieddate` from the cursor
less a look-back (search is eventually consistent), walking `hs_object_id`
upwards 200 at a time so no query pages past the 10,000-result cap; so a
meeting whose outcome is set after the fact, or a deal that changes stage, is
read again. Search answers hold no associations: each page's contacts are read
in one v4 batch association read. Deals are read with the portal's pipelines
(one call per pull), so custom pipelines' numeric stage ids are understood.

The cursor is the newest `hs_lastmodifieddate` the walk saw less the walk's
own length, given with the last page only (an interrupted walk has seen only
some ids, so its pages leave the stored cursor as it is): an object changed
while the walk runs, after the walk passed it, is stamped no earlier than the
walk's start, which that cursor does not pass, however long the walk.
HubSpot's list `after` tokens are opaque and never stored or made up.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from connectors.hubspot.archived import pull_archived
from connectors.hubspot.client import HubSpotApi
from connectors.hubspot.records import epoch_ms
from connectors.hubspot.sales_records import (
    OBJECT_PROPERTIES,
    DealStage,
    deal_activities,
    deal_stages,
    deal_withdrawn,
    engagement_activities,
)
from connectors.paging import dump_cursor
from connectors.protocol import Page, Withdrawn
from connectors.values import parse_time
from scoring.records import Activity

SEARCH_PAGE, LIST_PAGE = 200, 100
ASSOCIATION_BATCH = 1000
"""Inputs of one v4 batch association read."""


def read_deal_stages(api: HubSpotApi) -> dict[str, DealStage]:
    """Every deal stage of the portal's pipelines, by id."""
    body = api.get("pipelines.list", "/crm/v3/pipelines/deals", {})
    return deal_stages(body.get("results") or [])


def associated_contacts(api: HubSpotApi, kind: str, ids: Sequence[str]) -> dict[str, list[str]]:
    """Object id -> ids of its contacts, in one batch association read per 1,000 objects.

    An object with no contact is answered as an error in a 207; it simply has none.
    """
    from hubspot.crm.associations.v4 import (
        BatchInputPublicFetchAssociationsBatchRequest,
        PublicFetchAssociationsBatchRequest,
    )

    found: dict[str, list[str]] = {}
    for start in range(0, len(ids), ASSOCIATION_BATCH):
        part = ids[start : start + ASSOCIATION_BATCH]
        request = BatchInputPublicFetchAssociationsBatchRequest(
            inputs=[PublicFetchAssociationsBatchRequest(id=i) for i in part]
        )
        body = api.json(
            f"{kind}.associations",
            api.associations.get_page,
            kind,
            "contacts",
            batch_input_public_fetch_associations_batch_request=request,
        )
        for result in body.get("results") or []:
            source = str((result.get("from") or {}).get("id"))
            targets = [str(t["toObjectId"]) for t in result.get("to") or []]
            found.setdefault(source, []).extend(targets)
    return found


def object_activities(
    kind: str,
    item: Mapping[str, Any],
    contacts: Sequence[str],
    stages: Mapping[str, DealStage] | None,
) -> Iterator[Activity]:
    """A deal or engagement (HubSpot's JSON) as activities of its contacts."""
    properties = dict(item.get("properties") or {})
    if kind == "deals":
        return deal_activities(str(item["id"]), properties, contacts, stages)
    return engagement_activities(kind, str(item["id"]), properties, contacts)


def pull_changed(
    api: HubSpotApi, kind: str, state: Mapping[str, Any], lookback_ms: int
) -> Iterator[Page]:
    """Objects of `kind` modified since the cursor; all of them, listed, without one.

    A full pull lists (100 a page, with each object's contacts in the answer): those
    calls count against the 10-second window, beside the contacts' searches, which
    have a rate of their own; searching every object would double the searches and
    add one association read per page. A pull from a cursor searches, as only search
    can filter on the modification date.
    """
    since = state.get("modified_since")
    stages = read_deal_stages(api) if kind == "deals" else None
    began = api.policy.clock.now()
    deleted: dict[str, Any] = {}
    if kind == "deals":  # first the deals archived since the last pull: their purchases go
        # (a whole pass notes the newest `archivedAt` it saw: HubSpot's clock, not ours)
        deleted = yield from pull_archived(api, state, lookback_ms, None, kind="deals")
    newest = None if since is None else int(since)
    walk = listed(api, kind) if since is None else searched(api, kind, int(since) - lookback_ms)
    pending: list[Activity] | None = None
    taken: list[Withdrawn] = []  # purchases of deals no longer won
    for results, links in walk:
        if pending is not None:
            yield Page(kind, (), pending, None, withdrawn=taken)
        pending, taken = [], []
        for item in results:
            properties = item.get("properties") or {}
            changed = parse_time(properties.get("hs_lastmodifieddate"))
            if changed is not None:
                newest = max(newest or 0, epoch_ms(changed))
            contacts = links.get(str(item["id"]), [])
            pending.extend(object_activities(kind, item, contacts, stages))
            if kind == "deals":
                taken.extend(deal_withdrawn(str(item["id"]), properties, contacts, stages))
    # The cursor goes with the last page only: an interrupted walk has seen only some ids.
    walked_ms = round((api.policy.clock.now() - began) * 1000)
    following = None if newest is None else newest - walked_ms
    if since is not None and following is not None:
        following = max(int(since), following)
    cursor = dump_cursor(modified_since=following, **deleted)
    yield Page(kind, (), pending or [], cursor, withdrawn=taken)


Walk = Iterator[tuple[list[dict[str, Any]], dict[str, list[str]]]]
"""Pages of objects, each with its objects' contacts by object id."""


def listed(api: HubSpotApi, kind: str) -> Walk:
    """Every object of `kind`, by the list endpoint, following its opaque `after` tokens."""
    after: str | None = None
    while True:
        body = api.json(
            f"{kind}.list",
            api.objects[kind].get_page,
            limit=LIST_PAGE,
            after=after,
            properties=[*OBJECT_PROPERTIES[kind], "hs_lastmodifieddate"],
            associations=["contacts"],
        )
        results = list(body.get("results") or [])
        links = {
            str(item["id"]): [
                str(ref["id"])
                for ref in ((item.get("associations") or {}).get("contacts") or {}).get("results")
                or []
            ]
            for item in results
        }
        yield results, links
        token = ((body.get("paging") or {}).get("next") or {}).get("after")
        if not token or not results:
            return
        after = str(token)


def searched(api: HubSpotApi, kind: str, start: int) -> Walk:
    """Objects of `kind` modified since `start` (epoch ms), by search, walking ids upwards."""
    modified = {"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": start}
    search = api.search[kind]
    last_id = 0
    while True:
        after_id = {"propertyName": "hs_object_id", "operator": "GT", "value": last_id}
        request = {
            "filterGroups": [{"filters": [modified, after_id]}],
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            "properties": [*OBJECT_PROPERTIES[kind], "hs_lastmodifieddate"],
            "limit": SEARCH_PAGE,
        }
        body = api.json(f"{kind}.search", search.do_search, public_object_search_request=request)
        results = list(body.get("results") or [])
        links = associated_contacts(api, kind, [str(r["id"]) for r in results]) if results else {}
        yield results, links
        if len(results) < SEARCH_PAGE:
            return
        last_id = int(results[-1]["id"])
