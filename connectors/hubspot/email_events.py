"""HubSpot's marketing email events as activities, each event type handled for a reason.

The legacy email events API (`GET /email/public/v1/events`) logs a message's life: PROCESSED,
DROPPED, SENT, DEFERRED, DELIVERED, BOUNCE, then what the recipient did (OPEN, CLICK, FORWARD,
PRINT, SPAMREPORT, STATUSCHANGE). Only what says something about the person is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.hubspot.records import SYSTEM
from connectors.values import parse_time
from scoring.records import Activity, ActivityType

EMAIL_EVENTS: Mapping[str, ActivityType] = {
    "DELIVERED": ActivityType.EMAIL_SENT,
    "OPEN": ActivityType.EMAIL_OPEN,
    "CLICK": ActivityType.EMAIL_CLICK,
    "BOUNCE": ActivityType.EMAIL_BOUNCE,
    "SPAMREPORT": ActivityType.EMAIL_SPAM_REPORT,
    "STATUSCHANGE": ActivityType.EMAIL_UNSUBSCRIBE,
}
"""Event types kept. Skipped, each for its reason:
- SENT: DELIVERED says the mail arrived, which the bot-click filter times from;
- PROCESSED: HubSpot accepted the message for sending; the person has seen nothing yet;
- DEFERRED: the receiving server asked HubSpot to retry; a DELIVERED or BOUNCE follows;
- DROPPED: never sent (the address bounced, unsubscribed or reported spam before, or the
  portal is over its limits): the earlier event that caused the drop is already counted;
- FORWARD, PRINT, SUPPRESSED, UNBOUNCE and types HubSpot adds later: no activity type."""

HARD_BOUNCES = frozenset({"UNKNOWN_USER", "CONTENT", "SPAM", "POLICY", "HUBSPOT_GLOBAL_BOUNCE"})
"""Bounce categories HubSpot treats as permanent: it stops sending marketing email to the
address. Every other category (MAILBOX_FULL, GREYLISTING, THROTTLED, TIMEOUT, DNS_FAILURE,
TEMPORARY_PROBLEM, IP_REPUTATION, DOMAIN_REPUTATION, DMARC, MAILBOX_MISCONFIGURATION,
ISP_MISCONFIGURATION, SENDING_DOMAIN_MISCONFIGURATION, UNCATEGORIZED, UNKNOWN, and any new
one) is soft: the address stays eligible, so a rule on hard bounces must not fire on it."""


def bounce_type(category: Any) -> str:
    """ "hard" or "soft" for one of HubSpot's bounce categories."""
    return "hard" if str(category or "").upper() in HARD_BOUNCES else "soft"


def kept(event: Mapping[str, Any]) -> ActivityType | None:
    """The activity type of an event, or None when it is not kept (see EMAIL_EVENTS)."""
    raw = str(event.get("type", "")).upper()
    kind = EMAIL_EVENTS.get(raw)
    if kind in (ActivityType.EMAIL_OPEN, ActivityType.EMAIL_CLICK) and event.get("filteredEvent"):
        # HubSpot itself judged it a machine's (a scanner or prefetch): not the person.
        return None
    if kind is ActivityType.EMAIL_UNSUBSCRIBE:
        # Unsubscribing from one subscription type while staying subscribed to the portal's
        # email is a preference, not leaving; a status change caused by a bounce or a spam
        # report repeats the BOUNCE or SPAMREPORT event already kept.
        status = str(event.get("portalSubscriptionStatus") or "").upper()
        if status != "UNSUBSCRIBED" or event.get("bounced"):
            return None
        if str(event.get("source") or "").upper() == "SOURCE_SPAM_REPORT":
            return None
    return kind


def email_event_activity(event: Mapping[str, Any]) -> Activity | None:
    """One marketing email event, keyed by its recipient's address; None when not kept."""
    kind = kept(event)
    moment = parse_time(event.get("created"))
    recipient = event.get("recipient")
    if kind is None or moment is None or not recipient:
        return None
    attributes: dict[str, Any] = {}
    if event.get("emailCampaignId") is not None:
        attributes["campaign"] = str(event["emailCampaignId"])
    if event.get("url"):
        attributes["url"] = event["url"]
    if kind is ActivityType.EMAIL_BOUNCE:
        attributes["bounce_type"] = bounce_type(event.get("category"))
        if event.get("category"):
            attributes["bounce_category"] = str(event["category"])
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
