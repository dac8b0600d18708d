"""Which per-event history a portal gives, and the counters it replaces.

A contact's page views and form submissions exist in HubSpot twice: as counters on
the contact (every portal) and as events of their own, each with its time (page
views through the events API on Enterprise portals; form submissions through the
forms APIs where the app has the `forms` scope). Each run asks once whether the
events are there (one call each); where they are, the counters' activities are
dropped so that nothing is counted twice, and where not, the counters stand in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from connectors.hubspot.client import HubSpotApi
from connectors.protocol import Page

WEB_ANALYTICS, FORM_SUBMISSIONS = "web_analytics", "form_submissions"
FORMS_PATH = "/marketing/v3/forms/"
"""The forms list (the path the SDK's forms API reads), read as plain JSON."""
VISITED_PAGE = "e_visited_page"
"""The events API's type of a page view."""
COUNTED_VIEW, COUNTED_CONVERSION = "pv:", "cv:"
"""Id prefixes of the activities counters stand for (`records.counter_activities`)."""


def has_web_analytics(api: HubSpotApi) -> bool:
    """Whether the portal answers the events API (Enterprise subscriptions only)."""

    def probe() -> object:
        return api.json(
            "web_events.list",
            api.web_events.get_page,
            object_type="contact",
            event_type=VISITED_PAGE,
            limit=1,
        )

    return api.available(WEB_ANALYTICS, probe)


def has_form_submissions(api: HubSpotApi, listing: Callable[[], object] | None = None) -> bool:
    """Whether the app may read the portal's forms (and so their submissions): one read of
    the forms list, of one form, or `listing` (a read of the list its caller needs anyway,
    so a trigger's cold start makes one call where it made two)."""

    def probe() -> object:
        return api.get("forms.list", FORMS_PATH, {"limit": 1})

    return api.available(FORM_SUBMISSIONS, listing or probe)


def without_counted(page: Page, views: bool, conversions: bool) -> Page:
    """`page` without the activities of the counters whose events are read on their own."""
    if not (views or conversions) or not page.activities:
        return page
    dropped = tuple(
        p for p, drop in ((COUNTED_VIEW, views), (COUNTED_CONVERSION, conversions)) if drop
    )
    kept = [a for a in page.activities if not (a.id or "").startswith(dropped)]
    return replace(page, activities=kept)
