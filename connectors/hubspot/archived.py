"""Contacts deleted (archived) in HubSpot since the last pull, as `Page.gone`.

The search API never answers an archived record, so a deletion is read from the list
endpoint with `archived=true` (`GET /crm/v3/objects/contacts?archived=true`: "Whether to
return only results that have been archived", each result with `archived: true` and its
`archivedAt`; API reference crm-contacts-v3, basic "List"). The list takes no filter on
`archivedAt`, so every pull pages through the portal's archived contacts (HubSpot keeps them
90 days, then purges them) 100 a call and reports those archived from the cursor, less the
look-back: one call per 100 contacts deleted in the last 90 days.

A privacy (GDPR) deletion is in neither the live nor the archived list: it is read from the
`contact.privacyDeletion` app webhook (`sync/web/hubspot_events.py`), and a write that finds
the contact gone asks which it is (`gone.py`).
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from typing import Any

from connectors.hubspot.client import HubSpotApi
from connectors.hubspot.records import epoch_ms
from connectors.paging import dump_cursor
from connectors.protocol import Gone, Page
from connectors.values import parse_time

ARCHIVED_PAGE = 100
"""The list endpoint's largest page."""


def archived_since(item: Mapping[str, Any], since: int | None) -> int | None:
    """When a listed archived contact was archived (epoch ms), if at or after `since`."""
    moment = parse_time(item.get("archivedAt"))
    if moment is None:
        return None
    at = epoch_ms(moment)
    return at if since is None or at >= since else None


def pull_archived(
    api: HubSpotApi, state: Mapping[str, Any], lookback_ms: int, floor: int | None
) -> Generator[Page, None, int | None]:
    """Pages of the contacts archived since the cursor's `archived_since` (every archived one
    without it), each reported gone, under the cursor as it was (`state`: a run cut here
    lists them again). Returns the next `archived_since`: the newest `archivedAt` seen, at
    least `floor` (the walk's cursor, HubSpot's clock as the pull began), so that with
    nothing archived yet the next pull still lists only what is archived from then on."""
    noted = state.get("archived_since")
    since = None if noted is None else int(noted) - lookback_ms
    floors = [int(v) for v in (noted, floor) if v is not None]
    newest = max(floors) if floors else None
    kept = dump_cursor(**state)
    after: str | None = None
    while True:
        body = api.json(
            "contacts.list_archived",
            api.contacts_basic.get_page,
            limit=ARCHIVED_PAGE,
            after=after,
            properties=["email"],
            archived=True,
        )
        gone: list[Gone] = []
        for item in body.get("results") or []:
            at = archived_since(item, since)
            if at is not None:
                gone.append(Gone(str(item["id"]), None))
                newest = at if newest is None else max(newest, at)
        yield Page("contacts", (), (), kept, kept, gone=gone)
        token = ((body.get("paging") or {}).get("next") or {}).get("after")
        if not token or not body.get("results"):
            return newest
        after = str(token)
