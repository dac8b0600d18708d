"""What HubSpot's answers become: `Contact` and `Activity` records, without any I/O.

HubSpot reports activity in these shapes, and each maps onto the canonical
vocabulary here or beside it:
- the marketing email events API (`email_events.py`);
- form submissions and web analytics events (`forms.py`, `web_events.py`);
- engagements and deals associated with a contact (meetings, calls, sales
  emails, deals: `sales_records.py`);
- counters on the contact (`hs_analytics_num_page_views`,
  `num_conversion_events`), used only where the portal gives no per-event history
  (web analytics events, form submissions: `connectors/hubspot/history.py`): the
  n-th page view becomes the activity `page_view #n`, dated by the last visit the
  counter was seen with. The ids are ordinal, so a counter read twice gives the
  same activities and the store keeps the first of each. Each such activity says
  `recorded_by: counter`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from connectors.attributes import AttributeMap
from connectors.hubspot.attributes import HUBSPOT_ATTRIBUTES
from connectors.values import finite_number, parse_time
from scoring.records import Activity, ActivityType, Contact

SYSTEM = "hubspot"

CONTACT_PROPERTIES = (
    "email",
    "firstname",
    "lastname",
    "jobtitle",
    "company",
    "industry",
    "country",
    "numemployees",
    "lifecyclestage",
    "lastmodifieddate",
    "createdate",
    "hs_analytics_num_page_views",
    "hs_analytics_last_visit_timestamp",
    "num_conversion_events",
    "recent_conversion_date",
    "recent_conversion_event_name",
)
"""Read on every pull; the rule set's own fields are added to these."""

VOLATILE = frozenset({"lastmodifieddate", "hs_lastmodifieddate"})
"""Moved by every write, ours included: not an attribute, or each write would look like news."""

MAX_FROM_COUNTER = 500
"""At most this many activities from one counter of one contact (the newest)."""


CONVERSIONS: Mapping[str, ActivityType] = {
    "newsletter": ActivityType.NEWSLETTER_SIGNUP,
    "download": ActivityType.CONTENT_DOWNLOAD,
    "guide": ActivityType.CONTENT_DOWNLOAD,
    "ebook": ActivityType.CONTENT_DOWNLOAD,
    "question": ActivityType.QUESTION,
    "chat": ActivityType.QUESTION,
    "demo": ActivityType.DEMO_REQUEST,
}
"""Words of a conversion's name (the form's title) that say what kind of conversion it was."""

MEETINGS_LINK = "Meetings Link"
"""How HubSpot names a conversion that is a meeting booked through a meetings link."""


def epoch_ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def contact_of(
    record_id: str, properties: Mapping[str, Any], mapping: AttributeMap = HUBSPOT_ATTRIBUTES
) -> Contact:
    """A HubSpot contact as a `Contact`: its properties, plus the rule attributes they give."""
    attributes = mapping.apply(
        {k: v for k, v in properties.items() if v not in (None, "") and k not in VOLATILE}
    )
    email = properties.get("email") or None
    return Contact(record_id, email=email, attributes=attributes, source=SYSTEM)


def counter_activities(record_id: str, properties: Mapping[str, Any]) -> Iterator[Activity]:
    """Page views and conversions from the contact's counters, one activity per count."""
    views = int(finite_number(properties.get("hs_analytics_num_page_views")) or 0)
    last_visit = parse_time(properties.get("hs_analytics_last_visit_timestamp"))
    if views and last_visit is not None:
        # Only the newest counts become activities: older ones have long decayed, and a
        # counter in the millions must not become a million rows.
        for n in range(max(1, views - MAX_FROM_COUNTER + 1), views + 1):
            yield Activity(
                record_id,
                ActivityType.PAGE_VIEW,
                last_visit,
                id=f"pv:{record_id}:{n}",
                attributes={"recorded_by": "counter"},
                source=SYSTEM,
            )
    conversions = int(finite_number(properties.get("num_conversion_events")) or 0)
    converted = parse_time(properties.get("recent_conversion_date"))
    if not conversions or converted is None:
        return
    title, form = conversion_parts(str(properties.get("recent_conversion_event_name") or ""))
    latest = conversion_type(form)
    for n in range(max(1, conversions - MAX_FROM_COUNTER + 1), conversions + 1):
        if n == conversions and title == MEETINGS_LINK:
            # A meeting booked through a meetings link: the meetings stream has it already.
            continue
        kind = latest if n == conversions else ActivityType.FORM_SUBMISSION
        attributes: dict[str, Any] = {"recorded_by": "counter"}
        if n == conversions and form:
            attributes |= {"form": form, "page_title": title} if title else {"form": form}
        yield Activity(
            record_id,
            kind,
            converted,
            id=f"cv:{record_id}:{n}",
            attributes=attributes,
            source=SYSTEM,
        )


def conversion_parts(name: str) -> tuple[str, str]:
    """(page title, form name) of HubSpot's "page title: form name".

    The title comes first and may hold colons itself, so the form is what follows the last
    ": ". A meeting booked through a meetings link is named "Meetings Link: <link>": its
    title is MEETINGS_LINK. A name without ": " is a form name alone.
    """
    name = name.strip()
    if name.lower().startswith(MEETINGS_LINK.lower() + ":"):
        return MEETINGS_LINK, name[len(MEETINGS_LINK) + 1 :].strip()
    title, separator, form = name.rpartition(": ")
    return (title.strip(), form.strip()) if separator else ("", name)


def conversion_type(form: str) -> ActivityType:
    words = set(re.findall(r"[a-z]+", form.lower()))
    for word, kind in CONVERSIONS.items():
        if word in words:
            return kind
    return ActivityType.FORM_SUBMISSION
