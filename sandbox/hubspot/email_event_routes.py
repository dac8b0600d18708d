"""The legacy email events route (GET /email/public/v1/events): filters, offset paging."""

from __future__ import annotations

import base64
import uuid

import numpy as np

from sandbox.http import Request, Response
from sandbox.hubspot.arguments import int_value
from sandbox.hubspot.email_log import EMAIL_EVENT_TYPES
from sandbox.hubspot.email_variants import (
    BOUNCE_CATEGORIES,
    DROP_REASONS,
    FILTERED,
    FILTERED_WITHIN_MS,
    SUBSCRIPTION_ONLY,
)
from sandbox.hubspot.errors import Invalid
from sandbox.hubspot.state import HubSpotState
from sandbox.hubspot.values import Json, Mask

EVENTS_PAGE_DEFAULT, EVENTS_PAGE_MAX = 100, 1000
PORTAL_ID = 6_250_001
EMAIL_APP_ID, EMAIL_APP_NAME, SUBSCRIPTION_ID, NEWSLETTER_SUBSCRIPTION_ID = 113, "Batch", 1, 2
EVENT_ID_BASE = 0x6E0B57A1 << 96
SENDER = "Marketing <marketing@sandbox.hubspot.invalid>"
DEFERRAL_RESPONSE = "421 4.7.0 Try again later, closing connection."


def event_id(position: int) -> str:
    return str(uuid.UUID(int=EVENT_ID_BASE + position))


def encode_offset(position: int) -> str:
    return base64.urlsafe_b64encode(f"pos:{position}".encode()).decode().rstrip("=")


def decode_offset(token: str | None) -> int:
    """The log position an `offset` token names; -1 (before the first event) for none."""
    if not token:
        return -1
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        return int(text.removeprefix("pos:"))
    except ValueError:
        raise Invalid("INVALID_OFFSET", f"Invalid offset: {token}") from None


class EmailEventRoutes(HubSpotState):
    """GET /email/public/v1/events."""

    def _email_events(self, request: Request) -> Response:
        self.email_log.flush()
        positions = np.flatnonzero(self._event_mask(request))
        positions = positions[positions > decode_offset(request.arg("offset"))]
        limit = int_value(request.arg("limit"), "limit", EVENTS_PAGE_DEFAULT)
        page = positions[: min(max(limit, 1), EVENTS_PAGE_MAX)]
        last = int(page[-1]) if len(page) else decode_offset(request.arg("offset"))
        return Response.json(
            {
                "events": [self._email_event_json(int(p)) for p in page],
                "hasMore": len(positions) > len(page),
                "offset": encode_offset(last),
            }
        )

    def _event_mask(self, request: Request) -> Mask:
        log = self.email_log
        mask = np.ones(len(log), dtype=bool)
        recipient = request.arg("recipient")
        if recipient:
            row = self.contacts.row_of_email(recipient)
            mask &= log.contact == (0 if row is None else row + 1)
        if request.arg("campaignId"):
            mask &= log.campaign == int_value(request.arg("campaignId"), "campaignId", 0)
        event_type = (request.arg("eventType") or "").upper()
        if event_type:
            wanted = EMAIL_EVENT_TYPES.index(event_type) if event_type in EMAIL_EVENT_TYPES else -1
            mask &= log.kind == wanted
        if request.arg("startTimestamp"):
            mask &= log.at >= int_value(request.arg("startTimestamp"), "startTimestamp", 0)
        if request.arg("endTimestamp"):
            mask &= log.at <= int_value(request.arg("endTimestamp"), "endTimestamp", 0)
        return mask

    def _email_event_json(self, position: int) -> Json:
        log = self.email_log
        event_type = EMAIL_EVENT_TYPES[int(log.kind[position])]
        recipient = self.contacts.value("email", int(log.contact[position]) - 1) or ""
        body: Json = {
            "id": event_id(position),
            "created": int(log.at[position]),
            "type": event_type,
            "recipient": recipient,
            "portalId": PORTAL_ID,
            "appId": EMAIL_APP_ID,
            "appName": EMAIL_APP_NAME,
        }
        if log.campaign[position]:
            body["emailCampaignId"] = int(log.campaign[position])
        sent = int(log.sent[position])
        if sent >= 0:
            body["sentBy"] = {"id": event_id(sent), "created": int(log.at[sent])}
        return body | self._event_details(event_type, position, recipient)

    def _event_details(self, event_type: str, position: int, recipient: str) -> Json:
        """The fields only events of one type carry."""
        log = self.email_log
        variant = int(log.variant[position])
        if event_type == "SENT":
            campaign = int(log.campaign[position]) - 1
            subjects = self.world.campaigns.subject
            subject = str(subjects[campaign]) if 0 <= campaign < len(subjects) else ""
            return {"subject": subject, "from": SENDER}
        if event_type in ("OPEN", "CLICK"):
            url = int(log.url[position])
            link = {"url": self.urls[url] if url >= 0 else "https://sandbox.invalid/"}
            return {
                "filteredEvent": self._filtered(position),
                **(link if event_type == "CLICK" else {}),
            }
        if event_type == "BOUNCE":
            category, status, response = BOUNCE_CATEGORIES[variant % len(BOUNCE_CATEGORIES)]
            return {"category": category, "status": status, "response": response}
        if event_type == "DROPPED":
            reason = DROP_REASONS[variant % len(DROP_REASONS)]
            return {"dropReason": reason, "dropMessage": f"Not sent: {reason.lower()}"}
        if event_type == "DEFERRED":
            return {"attempt": max(variant, 1), "response": DEFERRAL_RESPONSE}
        if event_type == "STATUSCHANGE":
            return self._status_change(variant, recipient)
        return {}

    def _filtered(self, position: int) -> bool:
        """Whether HubSpot filtered an open or click as a machine's: marked so, or right after
        its send (as security scanners do)."""
        log = self.email_log
        sent = int(log.sent[position])
        soon = sent >= 0 and log.at[position] - log.at[sent] <= FILTERED_WITHIN_MS
        return bool(soon or int(log.variant[position]) == FILTERED)

    def _status_change(self, variant: int, recipient: str) -> Json:
        """An unsubscribe from the whole portal, or from one subscription type only."""
        one = variant == SUBSCRIPTION_ONLY
        return {
            "source": "SOURCE_RECIPIENT",
            "requestedBy": recipient,
            "portalSubscriptionStatus": "SUBSCRIBED" if one else "UNSUBSCRIBED",
            "subscriptions": [
                {
                    "id": NEWSLETTER_SUBSCRIPTION_ID if one else SUBSCRIPTION_ID,
                    "status": "UNSUBSCRIBED",
                }
            ],
            "bounced": False,
        }
