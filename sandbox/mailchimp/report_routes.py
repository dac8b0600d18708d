"""Routes for campaigns and their reports' email activity."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sandbox.http import Request, Response
from sandbox.mailchimp.answers import item_keys, page, shaped
from sandbox.mailchimp.arguments import path_param, time_arg
from sandbox.mailchimp.campaigns import Campaign, campaign_json, report_json
from sandbox.mailchimp.problems import not_found
from sandbox.mailchimp.state import MailchimpState
from sandbox.mailchimp.values import iso, subscriber_hash


class ReportRoutes(MailchimpState):
    """GET /campaigns, GET /campaigns/{campaign_id}, the report list GET /reports, and a
    campaign's reports: GET /reports/{campaign_id}/email-activity (and one recipient's,
    /email-activity/{subscriber_hash}), /unsubscribed and /abuse-reports."""

    def _campaigns(self, request: Request) -> Response:
        now, status, audience = self.now(), request.arg("status"), request.arg("list_id")
        since, before = time_arg(request, "since_send_time"), time_arg(request, "before_send_time")
        found = [
            c
            for c in self.campaigns
            if audience in (None, self.list_id)
            and (status is None or c.status(now) == status)
            and (since is None or c.send_time >= since)
            and (before is None or c.send_time <= before)
        ]
        if request.arg("sort_field") == "send_time":
            found.sort(key=lambda c: c.send_time, reverse=request.arg("sort_dir") == "DESC")
        items = [campaign_json(c, self.list_id, now) for c in page(found, request)]
        return shaped(request, {"campaigns": items, "total_items": len(found)})

    def _reports(self, request: Request) -> Response:
        """The sent campaigns' reports (a campaign has one once sent), in send order;
        `type`, `since_send_time` and `before_send_time` filter (every campaign here is
        regular), bounds included as for the campaign list."""
        now, kind = self.now(), request.arg("type")
        since, before = time_arg(request, "since_send_time"), time_arg(request, "before_send_time")
        found = [
            c
            for c in self.campaigns
            if c.status(now) == "sent"
            and kind in (None, "regular")
            and (since is None or c.send_time >= since)
            and (before is None or c.send_time <= before)
        ]
        items = [report_json(c, self.list_id) for c in page(found, request)]
        return shaped(request, {"reports": items, "total_items": len(found)})

    def _campaign_by_param(self, request: Request) -> Campaign:
        campaign = self.campaigns_by_id.get(path_param(request, "campaign_id"))
        if campaign is None:
            raise not_found()
        return campaign

    def _campaign(self, request: Request) -> Response:
        campaign = self._campaign_by_param(request)
        return shaped(request, campaign_json(campaign, self.list_id, self.now()))

    def _email_activity(self, request: Request) -> Response:
        campaign, since = self._campaign_by_param(request), time_arg(request, "since")
        emails, total = self._activity_page(campaign, since, request)
        keys = item_keys(request, "emails")
        items = [self._activity_record(campaign, row, activity, keys) for row, activity in emails]
        return shaped(request, {"emails": items, "campaign_id": campaign.id, "total_items": total})

    def _subscriber_activity(self, request: Request) -> Response:
        """One recipient's record of the campaign's email activity; 404 for an address
        that is no member (deleted for good) or was not sent the campaign."""
        campaign, since = self._campaign_by_param(request), time_arg(request, "since")
        row = self.audience.row_of(path_param(request, "subscriber_hash"))
        self.recipients(campaign)
        if row is None or row in self.audience.deleted or row not in campaign.row_set:
            raise not_found()
        activity = self._recipient_activity(row, campaign.index, since)
        return shaped(request, self._activity_record(campaign, row, activity))

    def _activity_record(
        self,
        campaign: Campaign,
        row: int,
        activity: list[dict[str, Any]],
        keys: Collection[str] | None = None,
    ) -> dict[str, Any]:
        """One recipient's record; only its `keys` when given (what `fields` keeps)."""
        record = {
            "campaign_id": campaign.id,
            "list_id": self.list_id,
            "list_is_active": True,
            **self._who(row),
            "activity": activity,
        }
        return record if keys is None else {k: v for k, v in record.items() if k in keys}

    def _who(self, row: int) -> dict[str, str]:
        """How a report names a recipient: by address, or anonymised (no address) once
        the member was deleted for good."""
        if row in self.audience.deleted:
            return {"email_id": "", "email_address": ""}
        email = self.audience.emails[row]
        return {"email_id": subscriber_hash(email), "email_address": email}

    def _activity_page(
        self, campaign: Campaign, since: float | None, request: Request
    ) -> tuple[list[tuple[int, list[dict[str, Any]]]], int]:
        """One page of (recipient row, activity) and the total; with `since`, only the active."""
        rows = self.recipients(campaign)
        if since is None:
            chosen = page(rows, request)
            return [
                (row, self._recipient_activity(row, campaign.index, None)) for row in chosen
            ], len(rows)
        active = [(row, self._recipient_activity(row, campaign.index, since)) for row in rows]
        active = [(row, activity) for row, activity in active if activity]
        return page(active, request), len(active)

    def _recipient_activity(
        self, row: int, campaign: int, since: float | None
    ) -> list[dict[str, Any]]:
        return [
            {
                "action": e.action,
                "type": e.bounce,
                "timestamp": iso(e.at),
                "url": e.url,
                "ip": "",
            }
            for e in self.campaign_events(campaign).get(row, ())
            if e.action in ("open", "click", "bounce") and (since is None or e.at >= since)
        ]

    def _departures(self, campaign: Campaign, action: str) -> list[tuple[int, float]]:
        """(recipient row, time) of each `action` ("unsub" or "abuse") on the campaign; kept
        with the events they are read from, as each page of the list reads them all."""
        events = self.campaign_events(campaign.index)
        kept = self.departures.get((campaign.index, action))
        if kept is None or kept[0] is not events:
            found = [(r, e.at) for r, made in events.items() for e in made if e.action == action]
            kept = self.departures[campaign.index, action] = (events, sorted(found, key=_by_time))
        return kept[1]

    def _member_fields(self, row: int) -> dict[str, Any]:
        member = self.audience.member(row)
        gone = row in self.audience.deleted
        return {**self._who(row), "merge_fields": {} if gone else dict(member.merge_fields),
                "vip": False}  # fmt: skip

    def _unsubscribed(self, request: Request) -> Response:
        campaign = self._campaign_by_param(request)
        found = self._departures(campaign, "unsub")
        items = [
            {
                **self._member_fields(row),
                "timestamp": iso(at),
                "reason": "None given",
                "campaign_id": campaign.id,
                "list_id": self.list_id,
                "list_is_active": True,
            }
            for row, at in page(found, request)
        ]
        payload = {"unsubscribes": items, "campaign_id": campaign.id, "total_items": len(found)}
        return shaped(request, payload)

    def _abuse_reports(self, request: Request) -> Response:
        campaign = self._campaign_by_param(request)
        found = self._departures(campaign, "abuse")
        items = [
            {
                "id": n + 1,
                "campaign_id": campaign.id,
                "list_id": self.list_id,
                **self._member_fields(row),
                "date": iso(at),
            }
            for n, (row, at) in enumerate(found)
        ]
        payload = {"abuse_reports": items, "campaign_id": campaign.id, "total_items": len(found)}
        return shaped(request, payload)


def _by_time(pair: tuple[int, float]) -> tuple[float, int]:
    return pair[1], pair[0]
