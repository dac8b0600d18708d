"""HubSpot's streams, pulled page by page, and one contact fetched whole for a trigger.

Streams and their cursors (JSON text the sync layer stores):
- `contacts`: by search, walking `hs_object_id` upwards 200 at a time (twice
  the list endpoint's page, and the search's 10,000-result cap never
  applies); with a cursor, only those with `lastmodifieddate` from the cursor
  less a look-back (HubSpot stamps a record a moment before it is
  searchable). The next cursor is the newest `lastmodifieddate` in the portal
  when the pull starts (one search), so changes made during a long walk are
  found by the next pull.
- `email_events`: by `startTimestamp`, 1,000 per page.
- `meetings`, `calls`, `emails`, `deals`: by search on `hs_lastmodifieddate`
  (`engagements.py`), so later changes (an outcome, a stage) are read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from connectors.errors import RejectedError
from connectors.hubspot.client import OBJECT_KINDS, HubSpotApi
from connectors.hubspot.engagements import SEARCH_PAGE, object_activities, read_deal_stages
from connectors.hubspot.records import (
    SYSTEM,
    contact_of,
    counter_activities,
    email_event_activity,
    epoch_ms,
    parse_time,
)
from connectors.hubspot.sales_records import OBJECT_PROPERTIES
from connectors.paging import dump_cursor, follow
from connectors.protocol import Page
from scoring.records import Activity, Contact

EVENTS_PAGE = 1000
LOOKBACK_MS = 10 * 60 * 1000


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
    from hubspot.crm.contacts import PublicObjectSearchRequest

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


def pull_contacts(
    api: HubSpotApi, properties: Sequence[str], state: Mapping[str, Any], lookback_ms: int
) -> Iterator[Page]:
    """Contacts by search, walking `hs_object_id` upwards: the fewest calls (200 a page)
    and no query ever pages past the 10,000-result cap. With a cursor, only those
    modified since it (less the look-back)."""
    from hubspot.crm.contacts import PublicObjectSearchRequest

    since = state.get("modified_since")
    modified = []
    if since is not None:
        start = int(since) - lookback_ms
        modified = [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": start}]
    newest = newest_modification(api)
    cursor = dump_cursor(modified_since=newest if newest is not None else since)

    def page(last_id: int | None) -> tuple[Page, int | None]:
        after_id = {"propertyName": "hs_object_id", "operator": "GT", "value": last_id or 0}
        request = PublicObjectSearchRequest(
            filter_groups=[{"filters": [*modified, after_id]}],
            sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            properties=list(properties),
            limit=SEARCH_PAGE,
        )
        results = list(_search(api, request).get("results") or [])
        following = int(results[-1]["id"]) if len(results) >= SEARCH_PAGE else None
        return contact_page(results, cursor), following

    yield from follow(page)


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
        params["startTimestamp"] = int(since) - lookback_ms
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


def fetch_contact(
    api: HubSpotApi, properties: Sequence[str], record_id: str | None, email: str | None
) -> Page:
    """One contact by id or by email, with its email events, engagements and deals."""
    if (record_id is None) == (email is None):
        raise ValueError("fetch takes a record id or an email, not both or neither")
    contact = api.json(
        "contacts.get",
        api.contacts_basic.get_by_id,
        record_id if record_id is not None else email,
        properties=list(properties),
        associations=list(OBJECT_KINDS),
        id_property=None if record_id is not None else "email",
    )
    found_id = str(contact["id"])
    attributes = dict(contact.get("properties") or {})
    found = contact_of(found_id, attributes)
    activities = list(counter_activities(found_id, attributes))
    if found.email:
        for data in event_pages(api, {"recipient": found.email, "limit": EVENTS_PAGE}):
            events = map(email_event_activity, data.get("events", []))
            activities += [a for a in events if a is not None]
    links = contact.get("associations") or {}
    stages = read_deal_stages(api) if (links.get("deals") or {}).get("results") else None
    for kind in OBJECT_KINDS:
        for ref in (links.get(kind) or {}).get("results") or []:
            item = api.json(
                f"{kind}.get",
                api.objects[kind].get_by_id,
                ref["id"],
                properties=OBJECT_PROPERTIES[kind],
            )
            activities += object_activities(kind, item, [found_id], stages)
    return Page("contacts", [found], activities)
