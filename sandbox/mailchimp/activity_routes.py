"""Routes for a member's activity: the activity feed and the email activity list."""

from __future__ import annotations

from typing import Any

from sandbox.http import Request, Response
from sandbox.mailchimp.answers import page, shaped
from sandbox.mailchimp.arguments import csv_arg
from sandbox.mailchimp.campaigns import Campaign
from sandbox.mailchimp.projection import EMAIL_ACTIONS, MemberEvent
from sandbox.mailchimp.state import MailchimpState
from sandbox.mailchimp.values import iso, subscriber_hash

ACTIVITY_LIMIT = 50
FEED_TYPES = {"signup": "generic_signup", "abuse": "unsub"}


class ActivityRoutes(MailchimpState):
    """GET /lists/{list_id}/members/{subscriber_hash}/activity-feed and /activity."""

    def _feed(self, request: Request) -> Response:
        row = self._row(request)
        wanted = set(csv_arg(request, "activity_filters"))
        items = [
            self._feed_item(event)
            for event in reversed(self.audience.member(row).events)
            if not wanted or feed_type(event) in wanted
        ]
        payload = {
            "email_id": subscriber_hash(self.audience.emails[row]),
            "list_id": self.list_id,
            "activity": page(items, request),
            "total_items": len(items),
        }
        return shaped(request, payload)

    def _feed_item(self, event: MemberEvent) -> dict[str, Any]:
        item: dict[str, Any] = {
            "activity_type": feed_type(event),
            "created_at_timestamp": iso(event.at),
        }
        campaign = self._campaign_of(event)
        if campaign is not None:
            item["campaign_id"], item["campaign_title"] = campaign.id, campaign.name
        if event.action == "click":
            item["link_clicked"] = event.url
        if event.action == "bounce":
            item["bounce_type"] = event.bounce
        if event.action == "abuse":
            item["unsubscribe_reason"] = "abuse"
        if event.action == "order":
            item["order_total"] = event.amount
        return item

    def _activity(self, request: Request) -> Response:
        row = self._row(request)
        wanted = set(csv_arg(request, "action"))
        events = [
            e
            for e in reversed(self.audience.member(row).events)
            if e.action in EMAIL_ACTIONS and (not wanted or feed_type(e) in wanted)
        ][:ACTIVITY_LIMIT]
        payload = {
            "email_id": subscriber_hash(self.audience.emails[row]),
            "list_id": self.list_id,
            "activity": [self._activity_item(e) for e in events],
            "total_items": len(events),
        }
        return shaped(request, payload)

    def _activity_item(self, event: MemberEvent) -> dict[str, Any]:
        campaign = self._campaign_of(event)
        return {
            "action": feed_type(event),
            "timestamp": iso(event.at),
            "url": event.url,
            "type": event.bounce if event.action == "bounce" else "",
            "campaign_id": campaign.id if campaign else "",
            "title": campaign.name if campaign else "",
            "parent_campaign": "",
        }

    def _campaign_of(self, event: MemberEvent) -> Campaign | None:
        return self.campaigns[event.campaign] if 0 <= event.campaign < len(self.campaigns) else None


def feed_type(event: MemberEvent) -> str:
    """The activity-feed type of an event (a spam report shows as an unsubscribe)."""
    return FEED_TYPES.get(event.action, event.action)
