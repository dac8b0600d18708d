"""HubSpot's streams, pulled page by page (one contact fetched whole for a trigger: `fetch.py`).

Streams and their cursors (JSON text the sync layer stores):
- `contacts`: by search, walking `hs_object_id` upwards 200 at a time (twice
  the list endpoint's page, and the search's 10,000-result cap never
  applies); with a cursor, only those with `lastmodifieddate` from the cursor
  less a look-back (HubSpot stamps a record a moment before it is
  searchable). The next cursor is the newest `lastmodifieddate` in the portal
  when the pull starts (one search), so changes made during a long walk are
  found by the next pull. After a run's writes, the cursor notes them, and the
  next pulls pass over contacts whose last change is our own write
  (`own_writes_filters`). Each page's `resume` is the same search from the
  last id it holds (`walk`: that id, and the end cursor the walk will give):
  the walk is sorted by `hs_object_id` ascending, so a walk a run's deadline
  cut short goes on from there in the next run, full or incremental, and a
  contact it had passed that changes meanwhile is stamped after the walk's end
  cursor, which the pull after it reads from.
- `email_events`: by `startTimestamp`, 1,000 per page, from a day before the
  cursor (`LATE_EVENTS_MS`).
- `meetings`, `calls`, `emails`, `deals`: listed whole on a full pull, then by
  search on `hs_lastmodifieddate` (`engagements.py`), so later changes (an
  outcome, a stage) are read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from connectors.errors import RejectedError
from connectors.hubspot.archived import pull_archived
from connectors.hubspot.client import HubSpotApi
from connectors.hubspot.email_events import email_event_activity
from connectors.hubspot.engagements import SEARCH_PAGE
from connectors.hubspot.records import (
    SYSTEM,
    contact_of,
    counter_activities,
    epoch_ms,
)
from connectors.paging import dump_cursor, follow, load_cursor
from connectors.protocol import OwnWrites, Page
from connectors.values import parse_time
from scoring.records import Activity, Contact

EVENTS_PAGE = 1000
LOOKBACK_MS = 10 * 60 * 1000
LATE_EVENTS_MS = 24 * 60 * 60 * 1000
"""How far before the cursor email events are read again: an event is dated when it
happened (`created`), and one HubSpot records later (a bounce reported by the receiving
server hours after the send, an open from a client that was offline) would otherwise
be dated behind the cursor and never read. HubSpot documents no bound on that delay;
a day costs one or two pages per run, and the nightly `sync --full` reads the rest."""


def contact_page(results: Sequence[Mapping[str, Any]], cursor: str | None) -> Page:
    """Contacts of a search or list answer, with the activities their counters stand for."""
    contacts: list[Contact] = []
    activities: list[Activity] = []
    for item in results:
        properties = dict(item.get("properties") or {})
        record = str(item["id"])
        contacts.append(contact_of(record, properties))
        activities.extend(counter_activities(record, properties))
    return Page("contacts", contacts, activities, cursor)


def _search(api: HubSpotApi, request: Any) -> dict[str, Any]:
    found: dict[str, Any] = api.json(
        "contacts.search", api.contacts_search.do_search, public_object_search_request=request
    )
    return found


def newest_modification(api: HubSpotApi) -> int | None:
    """The latest `lastmodifieddate` in the portal now, in HubSpot's own clock.

    Taken before a pull walks the contacts, it is the next cursor: a contact
    changed while the walk runs is stamped later, so the next pull finds it even
    when the walk had already passed it.
    """
    from hubspot.crm.objects import PublicObjectSearchRequest

    request = PublicObjectSearchRequest(
        sorts=[{"propertyName": "lastmodifieddate", "direction": "DESCENDING"}],
        properties=["lastmodifieddate"],
        limit=1,
    )
    for item in _search(api, request).get("results") or []:
        moment = parse_time((item.get("properties") or {}).get("lastmodifieddate"))
        if moment is not None:
            return epoch_ms(moment)
    return None


OWN_WRITES_KEPT = 3
"""Runs whose writes a pull passes over: each costs a filter group, and a search has five."""


def own_writes_filters(start: int, ours: Sequence[Mapping[str, Any]]) -> list[list[dict[str, Any]]]:
    """The filter groups of an incremental contact search from `start` (epoch ms).

    Without `ours`, everything modified since `start`. With it (recent runs' own
    writes, oldest first, see `OwnWrites`), a contact whose last change is one of
    those writes is passed over: a run stamps every contact it writes with its
    scoring time, so those modified since `start` with no such stamp, or one older
    than these runs', are news, and so is a contact holding a run's stamp that
    changed after that run's last write. Without this, the pulls within the
    look-back would re-read everything a run wrote (about 250 searches at 50k).
    """
    modified = {"propertyName": "lastmodifieddate", "operator": "GTE", "value": start}
    if not ours:
        return [[modified]]
    field = str(ours[0]["field"])
    groups: list[list[dict[str, Any]]] = [
        [modified, {"propertyName": field, "operator": "NOT_HAS_PROPERTY"}],
        [modified, {"propertyName": field, "operator": "LT", "value": int(ours[0]["value"])}],
    ]
    for run, following in zip(ours, [*ours[1:], None], strict=True):
        group = [
            {"propertyName": "lastmodifieddate", "operator": "GT", "value": int(run["until"])},
            {"propertyName": field, "operator": "GTE", "value": int(run["value"])},
        ]
        if following is not None:
            group.append(
                {"propertyName": field, "operator": "LT", "value": int(following["value"])}
            )
        groups.append(group)
    return groups


def recent_own_writes(state: Mapping[str, Any], start: int | None) -> list[dict[str, Any]]:
    """The runs' own writes in a cursor that a pull from `start` must still pass over."""
    noted = state.get("ours")
    runs = [dict(r) for r in noted if isinstance(r, dict)] if isinstance(noted, list) else []
    if start is None or not runs:
        return []
    field = runs[-1].get("field")
    kept = [r for r in runs if r.get("field") == field and int(r["until"]) >= start]
    return kept[-OWN_WRITES_KEPT:]


def pull_contacts(
    api: HubSpotApi, properties: Sequence[str], state: Mapping[str, Any], lookback_ms: int
) -> Iterator[Page]:
    """Contacts by search, walking `hs_object_id` upwards: the fewest calls (200 a page)
    and no query ever pages past the 10,000-result cap. With a cursor, only those
    modified since it (less the look-back), passing over the last run's own writes."""
    from hubspot.crm.objects import PublicObjectSearchRequest

    since = state.get("modified_since")
    start = None if since is None else int(since) - lookback_ms
    ours = recent_own_writes(state, start)
    groups = [[]] if start is None else own_writes_filters(start, ours)
    walk = state.get("walk")
    if isinstance(walk, dict):  # a walk cut short: on from its last id, to the end it had
        first, newest = int(walk["after"]), walk.get("until")
    else:
        first, newest = None, newest_modification(api)
    # First the contacts archived since the last pull (under the cursor as it was), then
    # the walk, whose cursors carry the moment they were listed to.
    deleted = yield from pull_archived(api, state, lookback_ms, newest)
    # Runs' writes stay passed over while they are inside the look-back.
    cursor = dump_cursor(
        modified_since=newest if newest is not None else since, ours=ours or None, **deleted
    )

    def page(last_id: int | None) -> tuple[Page, int | None]:
        after_id = {"propertyName": "hs_object_id", "operator": "GT", "value": last_id or 0}
        request = PublicObjectSearchRequest(
            filter_groups=[{"filters": [*group, after_id]} for group in groups],
            sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            properties=list(properties),
            limit=SEARCH_PAGE,
        )
        results = list(_search(api, request).get("results") or [])
        walked = int(results[-1]["id"]) if results else last_id
        following = walked if len(results) >= SEARCH_PAGE else None
        # The same search, from the last id walked, to the same end: where a cut walk resumes.
        resume = None
        if walked is not None:
            point = {"after": walked, "until": newest}
            resume = dump_cursor(modified_since=since, ours=ours or None, walk=point, **deleted)
        found = contact_page(results, cursor)
        return Page(found.stream, found.contacts, found.activities, cursor, resume), following

    yield from follow(page, first)


def after_own_writes(cursor: str, ours: OwnWrites) -> str:
    """The contacts cursor with this run's own writes noted, for the next pulls to pass over."""
    state = load_cursor(cursor)
    value = epoch_ms(ours.value)
    noted = {"field": ours.field_name, "value": value, "until": epoch_ms(ours.until)}
    earlier = [r for r in state.get("ours") or [] if int(r["value"]) < value]
    runs = [*earlier, noted][-OWN_WRITES_KEPT:]
    return dump_cursor(**{**state, "ours": runs}) or cursor


def event_pages(api: HubSpotApi, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every page of the email events API for `params`, following its offsets."""

    seen: set[str] = set()

    def page(offset: str | None) -> tuple[dict[str, Any], str | None]:
        data = api.email_events({**params, **({} if offset is None else {"offset": offset})})
        following = data.get("offset") if data.get("hasMore") else None
        if following is None:
            return data, None
        if str(following) in seen:
            raise RejectedError(SYSTEM, "email.events", "an offset came back again: paging stopped")
        seen.add(str(following))
        return data, str(following)

    return follow(page)


def pull_email_events(
    api: HubSpotApi, state: Mapping[str, Any], lookback_ms: int
) -> Iterator[Page]:
    since = state.get("created_since")
    params: dict[str, Any] = {"limit": EVENTS_PAGE}
    if since is not None:
        params["startTimestamp"] = int(since) - max(lookback_ms, LATE_EVENTS_MS)
    newest = None if since is None else int(since)
    for data in event_pages(api, params):
        activities: list[Activity] = []
        for event in data.get("events", []):
            activity = email_event_activity(event)
            if activity is not None:
                activities.append(activity)
            created = event.get("created")
            if isinstance(created, int | float):
                newest = int(created) if newest is None else max(newest, int(created))
        yield Page("email_events", (), activities, dump_cursor(created_since=newest))
