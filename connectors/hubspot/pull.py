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
- `meetings`, `calls`, `emails`: the list endpoint from the id after the last
  one seen (HubSpot's ids grow).
- `deals`: listed whole on each pull, because a deal changes stage in place.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from connectors.errors import RejectedError
from connectors.hubspot.client import OBJECT_KINDS, HubSpotApi
from connectors.hubspot.email_events import email_event_activity
from connectors.hubspot.records import (
    SYSTEM,
    contact_of,
    counter_activities,
    deal_activities,
    engagement_activities,
    epoch_ms,
    parse_time,
)
from connectors.paging import dump_cursor, follow
from connectors.protocol import Page
from scoring.records import Activity, Contact

LIST_PAGE, SEARCH_PAGE, EVENTS_PAGE = 100, 200, 1000
LOOKBACK_MS = 10 * 60 * 1000
OBJECT_PROPERTIES = {
    "meetings": ["hs_timestamp", "hs_meeting_title"],
    "calls": ["hs_timestamp", "hs_call_title"],
    "emails": ["hs_timestamp", "hs_email_subject"],
    "deals": ["dealstage", "amount", "closedate", "createdate"],
}


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


def pull_objects(api: HubSpotApi, kind: str, state: Mapping[str, Any]) -> Iterator[Page]:
    """Meetings, calls or emails from the id after the last one seen; deals whole."""
    # Deals change stage in place, so they are read whole each time.
    start = None if kind == "deals" else state.get("after")
    listing = api.objects[kind]

    def page(after: str | None) -> tuple[Page, str | None]:
        body = api.json(
            f"{kind}.list",
            listing.get_page,
            limit=LIST_PAGE,
            after=after,
            properties=OBJECT_PROPERTIES[kind],
            associations=["contacts"],
        )
        results = list(body.get("results") or [])
        activities = [a for item in results for a in object_activities(kind, item)]
        following = ((body.get("paging") or {}).get("next") or {}).get("after")
        following = None if following is None else str(following)
        resume = following or (str(int(results[-1]["id"]) + 1) if results else after)
        cursor = None if kind == "deals" else dump_cursor(after=resume)
        return Page(kind, (), activities, cursor), following

    yield from follow(page, start)


def object_activities(kind: str, item: Mapping[str, Any]) -> Iterator[Activity]:
    """A meeting, call, email or deal (as HubSpot's JSON) as activities of its contacts."""
    properties = dict(item.get("properties") or {})
    links = (item.get("associations") or {}).get("contacts") or {}
    contacts = [str(r["id"]) for r in links.get("results") or []]
    if kind == "deals":
        return deal_activities(str(item["id"]), properties, contacts)
    return engagement_activities(kind, str(item["id"]), properties, contacts)


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
    for kind in OBJECT_KINDS:
        for ref in (links.get(kind) or {}).get("results") or []:
            item = api.json(
                f"{kind}.get",
                api.objects[kind].get_by_id,
                ref["id"],
                properties=OBJECT_PROPERTIES[kind],
                associations=["contacts"],
            )
            activities += [a for a in object_activities(kind, item) if a.contact_id == found_id]
    return Page("contacts", [found], activities)
