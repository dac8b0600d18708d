"""What HubSpot's answers become: `Contact` and `Activity` records, without any I/O.

HubSpot reports activity in three shapes, and each maps onto the canonical
vocabulary here:
- the marketing email events API (one event per send, delivery, open, click,
  bounce, unsubscribe or spam report, keyed by recipient address);
- engagements and deals associated with a contact (meetings, calls, sales
  emails; a deal in the contract-sent stage is a quote, a won deal a purchase);
- counters on the contact (`hs_analytics_num_page_views`,
  `num_conversion_events`): HubSpot keeps no per-view history in the API, so
  the n-th page view becomes the activity `page_view #n`, dated by the last
  visit the counter was seen with. The ids are ordinal, so a counter read
  twice gives the same activities and the store keeps the first of each.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from connectors.attributes import AttributeMap
from connectors.hubspot.attributes import HUBSPOT_ATTRIBUTES
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

EMAIL_EVENTS: Mapping[str, ActivityType] = {
    "DELIVERED": ActivityType.EMAIL_SENT,
    "OPEN": ActivityType.EMAIL_OPEN,
    "CLICK": ActivityType.EMAIL_CLICK,
    "BOUNCE": ActivityType.EMAIL_BOUNCE,
    "SPAMREPORT": ActivityType.EMAIL_SPAM_REPORT,
}
"""SENT is skipped: DELIVERED says the mail arrived, which the bot-click filter times from."""

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

ENGAGEMENTS: Mapping[str, ActivityType] = {
    "meetings": ActivityType.MEETING,
    "calls": ActivityType.SALES_TOUCH,
    "emails": ActivityType.SALES_TOUCH,
}
QUOTE_STAGES = frozenset({"contractsent", "presentationscheduled", "decisionmakerboughtin"})
"""Deal stages of HubSpot's default pipeline at which a proposal or quote is out."""
WON_STAGES = frozenset({"closedwon"})


def parse_time(raw: Any) -> datetime | None:
    """HubSpot's times: ISO-8601 text or epoch milliseconds (as number or digits)."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, datetime):
        return raw.astimezone(UTC) if raw.tzinfo else raw.replace(tzinfo=UTC)
    # Out-of-range numbers and dates, NaN and digits float() refuses ("²") are not times either.
    try:
        if isinstance(raw, int | float) or (isinstance(raw, str) and raw.isdigit()):
            return datetime.fromtimestamp(float(raw) / 1000.0, UTC)
        moment = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return None


def epoch_ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def finite_number(raw: Any) -> float | None:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


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
                source=SYSTEM,
            )
    conversions = int(finite_number(properties.get("num_conversion_events")) or 0)
    converted = parse_time(properties.get("recent_conversion_date"))
    if not conversions or converted is None:
        return
    name = str(properties.get("recent_conversion_event_name") or "")
    form, _, url = name.partition(": ")
    latest = conversion_type(form)
    for n in range(max(1, conversions - MAX_FROM_COUNTER + 1), conversions + 1):
        kind = latest if n == conversions else ActivityType.FORM_SUBMISSION
        attributes: dict[str, Any] = {}
        if n == conversions and form:
            attributes = {"form": form, "url": url} if url else {"form": form}
        yield Activity(
            record_id,
            kind,
            converted,
            id=f"cv:{record_id}:{n}",
            attributes=attributes,
            source=SYSTEM,
        )


def conversion_type(form: str) -> ActivityType:
    words = set(re.findall(r"[a-z]+", form.lower()))
    for word, kind in CONVERSIONS.items():
        if word in words:
            return kind
    return ActivityType.FORM_SUBMISSION


def email_event_activity(event: Mapping[str, Any]) -> Activity | None:
    """One marketing email event, keyed by its recipient's address."""
    raw = str(event.get("type", ""))
    kind = EMAIL_EVENTS.get(raw)
    if raw == "STATUSCHANGE":
        status = str(event.get("portalSubscriptionStatus") or "").upper()
        kind = ActivityType.EMAIL_UNSUBSCRIBE if status == "UNSUBSCRIBED" else None
    moment = parse_time(event.get("created"))
    recipient = event.get("recipient")
    if kind is None or moment is None or not recipient:
        return None
    attributes: dict[str, Any] = {}
    if event.get("emailCampaignId") is not None:
        attributes["campaign"] = str(event["emailCampaignId"])
    if event.get("url"):
        attributes["url"] = event["url"]
    if kind is ActivityType.EMAIL_BOUNCE and event.get("category"):
        attributes["bounce_type"] = "hard" if event["category"] == "HARD_BOUNCE" else "soft"
    # Without an id the store deduplicates the event by what it is, not as one "ev:None".
    ident = None if event.get("id") is None else f"ev:{event['id']}"
    return Activity(
        "",
        kind,
        moment,
        id=ident,
        attributes=attributes,
        source=SYSTEM,
        contact_email=recipient,
    )


def engagement_activities(
    kind: str, record_id: str, properties: Mapping[str, Any], contact_ids: Iterable[str]
) -> Iterator[Activity]:
    """A meeting, call or sales email, once per associated contact."""
    activity = ENGAGEMENTS[kind]
    moment = parse_time(properties.get("hs_timestamp")) or parse_time(
        properties.get("hs_createdate")
    )
    if moment is None:
        return
    title = (
        properties.get("hs_meeting_title")
        or properties.get("hs_call_title")
        or properties.get("hs_email_subject")
    )
    attributes = {"subject": title} if title else {}
    for contact in contact_ids:
        yield Activity(
            contact,
            activity,
            moment,
            id=f"{kind}:{record_id}:{contact}",
            attributes=attributes,
            source=SYSTEM,
        )


def deal_activities(
    record_id: str, properties: Mapping[str, Any], contact_ids: Iterable[str]
) -> Iterator[Activity]:
    """A quote while the deal is out, a purchase once it is won (with its amount)."""
    stage = str(properties.get("dealstage") or "")
    created = parse_time(properties.get("createdate"))
    closed = parse_time(properties.get("closedate"))
    amount = finite_number(properties.get("amount"))
    money = {"amount": amount} if amount is not None else {}
    contacts = list(contact_ids)
    won = stage in WON_STAGES and closed is not None
    # A won deal that was open for a while went through the quote stage first.
    quoted = stage in QUOTE_STAGES or (won and created is not None and created < closed)  # type: ignore[operator]
    for contact in contacts:
        if quoted and created is not None:
            yield Activity(
                contact,
                ActivityType.QUOTE_SENT,
                created,
                id=f"deal:{record_id}:quote:{contact}",
                attributes=money,
                source=SYSTEM,
            )
        if won and closed is not None:
            yield Activity(
                contact,
                ActivityType.PURCHASE,
                closed,
                id=f"deal:{record_id}:won:{contact}",
                attributes=money,
                source=SYSTEM,
            )
