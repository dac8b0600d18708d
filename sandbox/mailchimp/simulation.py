"""Simulating change: activity recorded at runtime, as if Mailchimp had just seen it."""

from __future__ import annotations

from datetime import datetime

from sandbox.mailchimp.orders import order_of
from sandbox.mailchimp.projection import (
    ACTIONS,
    EMAIL_ACTIONS,
    TAG_OF_ACTION,
    MemberEvent,
)
from sandbox.mailchimp.state import MailchimpState
from sandbox.mailchimp.values import subscriber_hash
from scoring.records import ActivityType, ensure_utc

STATUS_AFTER = {"unsub": "unsubscribed", "abuse": "unsubscribed", "bounce": "cleaned"}


class ActivitySimulation(MailchimpState):
    """`add_activity`: new opens, clicks, unsubscribes, signups and orders after projection."""

    def add_activity(
        self,
        email: str,
        kind: ActivityType,
        at: datetime | None = None,
        *,
        campaign: int | str | None = None,
        url: str = "",
        amount: float = 0.0,
    ) -> None:
        """Record something a member did, as if Mailchimp had just seen it.

        `at` defaults to the sandbox's now; a naive datetime is taken as UTC.
        `campaign` is a world campaign number or a campaign id. Email events
        count in the campaign's report and email activity; unsubscribes, spam
        reports and bounces change the status; a signup of an unknown address
        adds a subscribed member; a purchase adds an order. The member's
        last_changed becomes the sandbox's now (or `at`, if that is later).
        """
        action = ACTIONS.get(kind)
        if action is None:
            raise ValueError(f"Mailchimp does not see {kind.value} activity")
        with self.lock:
            moment = ensure_utc(at).timestamp() if at is not None else self.now()
            event = MemberEvent(action, moment, self._campaign_number(campaign), url, amount)
            row = self._activity_row(email, action, moment)
            if event.campaign >= 0 and action in EMAIL_ACTIONS:
                self._count_in_report(row, event)
            self._remember(row, event)
            self.audience.touch(row, max(self.now(), moment))

    def _activity_row(self, email: str, action: str, moment: float) -> int:
        row = self.audience.row_of(subscriber_hash(email))
        if row is not None:
            return row
        if action != "signup":
            raise KeyError(f"{email} is not a member of the sandbox audience")
        return self.audience.add(email.strip(), "subscribed", moment, source="Hosted Signup Form")

    def _campaign_number(self, campaign: int | str | None) -> int:
        if campaign is None:
            return -1
        if isinstance(campaign, str):
            return self.campaigns_by_id[campaign].index
        if not 0 <= campaign < len(self.campaigns):
            raise KeyError(f"no campaign {campaign}")
        return campaign

    def _count_in_report(self, row: int, event: MemberEvent) -> None:
        """Update the campaign's counts before the event joins the member's history."""
        campaign = self.campaigns[event.campaign]
        recipients = self._recipients(campaign)
        if row not in campaign.row_set:
            recipients.append(row)
            campaign.row_set.add(row)
            campaign.recipients += 1
        earlier = {
            e.action for e in self.audience.member(row).events if e.campaign == campaign.index
        }
        if event.action == "open":
            campaign.opens += 1
            campaign.unique_opens += "open" not in earlier
        elif event.action == "click":
            campaign.clicks += 1
            campaign.unique_clicks += "click" not in earlier

    def _remember(self, row: int, event: MemberEvent) -> None:
        member = self.audience.edit(row)
        member.events.append(event)
        if event.action in STATUS_AFTER:
            self.audience.set_status(row, STATUS_AFTER[event.action])
        if event.action in TAG_OF_ACTION:
            member.tags.setdefault(TAG_OF_ACTION[event.action], event.at)
        if event.action == "order":
            self._keep_order(order_of(row, event, self.campaigns, len(self.orders)))
