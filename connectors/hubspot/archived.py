"""Contacts and deals deleted (archived) in HubSpot since the last pull: a contact as
`Page.gone`, a deal as `Page.withdrawn` (its purchases and quotes, `deal:<id>:`).

The search API never answers an archived record, so a deletion is read from the list
endpoint with `archived=true` (`GET /crm/v3/objects/contacts?archived=true`: "Whether to
return only results that have been archived", each result with `archived: true` and its
`archivedAt`; API reference crm-contacts-v3, basic "List"). The list takes no filter on
`archivedAt`, so a pass pages through the portal's archived contacts (HubSpot keeps them
90 days, then purges them) 100 a call and reports those archived from the cursor, less the
look-back: one call per 100 contacts deleted in the last 90 days. A pull reads at most
`ARCHIVED_CALLS_PER_PULL` pages; a longer pass goes on from its paging token on the next
pull, and the next pass reports only what was archived since the last one began. It asks
for no property but the id: `archivedAt` is all it reads.

A privacy (GDPR) deletion is in neither the live nor the archived list: it is read from the
`contact.privacyDeletion` app webhook (`sync/web/hubspot_events.py`), and a write that finds
the contact gone asks which it is (`gone.py`).

Deals are read the same way (`GET /crm/v3/objects/deals?archived=true`, API reference
crm-deals-v3, basic "List"; "Archive" moves a deal to the recycling bin): a deal deleted
after it was won would otherwise keep its purchase, as the search that reads changed deals
never answers it. The deals stream runs the pass before its search (`engagements.py`),
under a cursor of its own, and withdraws every activity the deal gave (`deal:<id>:`).
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from typing import Any

from connectors.hubspot.client import HubSpotApi
from connectors.hubspot.records import epoch_ms
from connectors.paging import dump_cursor
from connectors.protocol import Gone, Page, Withdrawn
from connectors.values import parse_time

ARCHIVED_PAGE = 100
"""The list endpoint's largest page."""
ARCHIVED_CALLS_PER_PULL = 20
"""The most pages of the archived listing one pull reads (2,000 contacts); a longer listing
goes on from where it stopped on the next pull."""


def archived_since(item: Mapping[str, Any], since: int | None) -> int | None:
    """When a listed archived contact was archived (epoch ms), if at or after `since`."""
    moment = parse_time(item.get("archivedAt"))
    if moment is None:
        return None
    at = epoch_ms(moment)
    return at if since is None or at >= since else None


def pull_archived(
    api: HubSpotApi,
    state: Mapping[str, Any],
    lookback_ms: int,
    floor: int | None,
    max_calls: int = ARCHIVED_CALLS_PER_PULL,
    kind: str = "contacts",
) -> Generator[Page, None, dict[str, Any]]:
    """Pages of the contacts archived since the cursor's `archived_since` (every archived one
    without it), each reported gone, under the cursor as it was (`state`: a run cut here
    lists them again); at most `max_calls` pages, a pass the bound cuts going on from its
    `archived_after` on the next pull. Returns the archived listing's cursor fields: once a
    pass is whole, `archived_since` is the moment it began (`floor`, the walk's cursor: HubSpot's
    clock as the pull began; the newest `archivedAt` seen without it), so that the next pass
    reports only what was archived from then on; a cut pass keeps its `archived_since` and
    notes where it stopped (`archived_after`) and when it began (`archived_began`). `kind`
    "deals": the archived deals instead, each withdrawing its activities."""
    noted = state.get("archived_since")
    since = None if noted is None else int(noted) - lookback_ms
    after = state.get("archived_after")
    began = state.get("archived_began") if after is not None else floor
    seen: int | None = None
    kept = dump_cursor(**state)
    lister = api.contacts_basic if kind == "contacts" else api.objects[kind]
    for _ in range(max(1, max_calls)):
        body = api.json(
            f"{kind}.list_archived",
            lister.get_page,
            limit=ARCHIVED_PAGE,
            after=after,
            properties=["hs_object_id"],  # the id and `archivedAt` are all it reads
            archived=True,
        )
        found: list[str] = []
        for item in body.get("results") or []:
            at = archived_since(item, since)
            if at is not None:
                found.append(str(item["id"]))
                seen = at if seen is None else max(seen, at)
        if kind == "contacts":
            yield Page(kind, (), (), kept, kept, gone=[Gone(i, None) for i in found])
        else:  # every activity the deal gave: its purchases and its quotes
            taken = [Withdrawn(prefix=f"deal:{i}:") for i in found]
            yield Page(kind, (), (), kept, kept, withdrawn=taken)
        token = ((body.get("paging") or {}).get("next") or {}).get("after")
        if not token or not body.get("results"):
            ends = [int(v) for v in (noted, began if began is not None else seen) if v is not None]
            return {"archived_since": max(ends) if ends else None}
        after = str(token)
    return {"archived_since": noted, "archived_after": after, "archived_began": began}
