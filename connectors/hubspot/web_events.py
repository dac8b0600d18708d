"""Page views with their own times, from the events API where the portal has it.

Stream `page_views`: `GET /events/v3/events/` (the SDK's typed client) for contacts'
`e_visited_page` events after the cursor less the look-back, 100 a page; the cursor
is the newest `occurredAt` seen. The events API needs an Enterprise subscription;
elsewhere the stream reads nothing and the contact's page-view counter stands in
(`history.py`). Each view says `recorded_by: web_analytics`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from connectors.errors import ApiError
from connectors.hubspot.client import HubSpotApi
from connectors.hubspot.history import VISITED_PAGE, WEB_ANALYTICS, has_web_analytics
from connectors.hubspot.records import SYSTEM, epoch_ms
from connectors.paging import dump_cursor, follow
from connectors.protocol import Page
from connectors.values import parse_time
from scoring.records import Activity, ActivityType

VIEWS_PAGE = 100


def view_activity(item: Mapping[str, Any]) -> Activity | None:
    """One `e_visited_page` event as a page view of its contact."""
    moment = parse_time(item.get("occurredAt"))
    contact = item.get("objectId")
    if moment is None or contact in (None, "") or item.get("id") is None:
        return None
    properties = item.get("properties") or {}
    attributes: dict[str, Any] = {"recorded_by": "web_analytics"}
    if properties.get("hs_url"):
        attributes["url"] = properties["hs_url"]
    return Activity(
        str(contact),
        ActivityType.PAGE_VIEW,
        moment,
        id=f"wv:{item['id']}",
        attributes=attributes,
        source=SYSTEM,
    )


def view_pages(api: HubSpotApi, **filters: Any) -> Iterator[tuple[list[Activity], int | None]]:
    """The page views matching `filters`, page by page, with the newest time of each page."""

    def page(after: str | None) -> tuple[tuple[list[Activity], int | None], str | None]:
        body = api.json(
            "web_events.list",
            api.web_events.get_page,
            object_type="contact",
            event_type=VISITED_PAGE,
            limit=VIEWS_PAGE,
            after=after,
            **filters,
        )
        results = body.get("results") or []
        activities = [a for a in map(view_activity, results) if a is not None]
        newest = max((epoch_ms(a.occurred_at) for a in activities), default=None)
        following = ((body.get("paging") or {}).get("next") or {}).get("after")
        return (activities, newest), None if following is None else str(following)

    return follow(page)


def pull_page_views(api: HubSpotApi, state: Mapping[str, Any], lookback_ms: int) -> Iterator[Page]:
    if not has_web_analytics(api):
        return
    since = state.get("occurred_since")
    filters: dict[str, Any] = {}
    if since is not None:
        start = (int(since) - lookback_ms) / 1000.0
        filters["occurred_after"] = datetime.fromtimestamp(start, UTC)
    newest = None if since is None else int(since)
    for activities, latest in view_pages(api, **filters):
        if latest is not None:
            newest = latest if newest is None else max(newest, latest)
        cursor = None if newest is None else dump_cursor(occurred_since=newest)
        yield Page("page_views", (), activities, cursor)


def contact_views(api: HubSpotApi, record_id: str) -> list[Activity]:
    """One contact's page views, for a trigger's fetch."""
    if not has_web_analytics(api):
        return []
    try:
        pages = list(view_pages(api, object_id=int(record_id)))
    except ApiError as error:  # a portal that gave the events API (as remembered) no longer
        if api.refused(WEB_ANALYTICS, error):
            return []  # and the page-view counter stands in (`without_counted`)
        raise
    return [a for activities, _ in pages for a in activities]
