"""Activity recorded at runtime, as if Mailchimp had just seen it: what the tests, the
demo and the fault campaign do to a running Mailchimp sandbox besides calling its API.

Each change works under the sandbox's lock, as a request handler does.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sandbox.mailchimp.orders import order_of
from sandbox.mailchimp.projection import (
    ACTIONS,
    EMAIL_ACTIONS,
    SOFT_BOUNCES_TO_CLEAN,
    SOFT_BOUNCES_TO_CLEAN_ACTIVE,
    TAG_OF_ACTION,
    MemberEvent,
)
from sandbox.mailchimp.values import subscriber_hash
from scoring.records import ActivityType, ensure_utc

if TYPE_CHECKING:
    from sandbox.mailchimp import MailchimpSandbox

STATUS_AFTER = {"unsub": "unsubscribed", "abuse": "unsubscribed", "bounce": "cleaned"}


def cleans(events: list[MemberEvent], event: MemberEvent) -> bool:
    """Whether a bounce cleans: a hard one at once, a soft one when it reaches the count."""
    if event.bounce != "soft":
        return True
    earlier = events[:-1]
    engaged = any(e.action in ("open", "click") for e in earlier)
    threshold = SOFT_BOUNCES_TO_CLEAN_ACTIVE if engaged else SOFT_BOUNCES_TO_CLEAN
    return sum(1 for e in events if e.bounce == "soft") == threshold


def add_member_activity(
    sandbox: MailchimpSandbox,
    email: str,
    kind: ActivityType,
    at: datetime | None = None,
    *,
    campaign: int | str | None = None,
    url: str = "",
    amount: float = 0.0,
    bounce: str = "hard",
) -> None:
    """Record something a member did, as if Mailchimp had just seen it.

    `at` defaults to the sandbox's now; a naive datetime is taken as UTC.
    `campaign` is a world campaign number or a campaign id. Email events
    count in the campaign's report (the report list's counts) and in its email activity,
    unsubscribes or abuse reports; unsubscribes, spam
    reports and hard bounces (`bounce="hard"`) change the status, soft ones
    (`bounce="soft"`) only when they reach Mailchimp's count (7, or 15 for a
    member who opened or clicked before); a signup of an unknown address adds
    a subscribed member; a purchase adds an order. The member's last_changed
    moves (to the sandbox's now, or `at` if later) only when its status or
    tags change: sends, opens and clicks leave it where it was.
    """
    action = ACTIONS.get(kind)
    if action is None:
        raise ValueError(f"Mailchimp does not see {kind.value} activity")
    if bounce not in ("hard", "soft"):
        raise ValueError(f"a bounce is hard or soft, not {bounce!r}")
    with sandbox.lock:
        moment = ensure_utc(at).timestamp() if at is not None else sandbox.now()
        number = _campaign_number(sandbox, campaign)
        kept = bounce if action == "bounce" else ""
        event = MemberEvent(action, moment, number, url, amount, kept)
        row = _activity_row(sandbox, email, action, moment)
        if event.campaign >= 0 and action in EMAIL_ACTIONS:
            _count_in_report(sandbox, row, event)
        before = (sandbox.audience.status(row), dict(sandbox.audience.member(row).tags))
        _remember(sandbox, row, event)
        after = (sandbox.audience.status(row), sandbox.audience.member(row).tags)
        if after != before:
            sandbox.audience.touch(row, max(sandbox.now(), moment))


def _activity_row(sandbox: MailchimpSandbox, email: str, action: str, moment: float) -> int:
    row = sandbox.audience.row_of(subscriber_hash(email))
    if row is not None:
        return row
    if action != "signup":
        raise KeyError(f"{email} is not a member of the sandbox audience")
    return sandbox.audience.add(email.strip(), "subscribed", moment, source="Hosted Signup Form")


def _campaign_number(sandbox: MailchimpSandbox, campaign: int | str | None) -> int:
    if campaign is None:
        return -1
    if isinstance(campaign, str):
        return sandbox.campaigns_by_id[campaign].index
    if not 0 <= campaign < len(sandbox.campaigns):
        raise KeyError(f"no campaign {campaign}")
    return campaign


def _count_in_report(sandbox: MailchimpSandbox, row: int, event: MemberEvent) -> None:
    """Update the campaign's counts before the event joins the member's history."""
    campaign = sandbox.campaigns[event.campaign]
    recipients = sandbox.recipients(campaign)
    if row not in campaign.row_set:
        recipients.append(row)
        campaign.row_set.add(row)
        campaign.recipients += 1
    earlier = {
        e.action for e in sandbox.audience.member(row).events if e.campaign == campaign.index
    }
    if event.action == "open":
        campaign.opens += 1
        campaign.unique_opens += "open" not in earlier
    elif event.action == "click":
        campaign.clicks += 1
        campaign.unique_clicks += "click" not in earlier
    elif event.action == "bounce":
        campaign.soft_bounces += event.bounce == "soft"
        campaign.hard_bounces += event.bounce != "soft"
    elif event.action == "unsub":
        campaign.unsubscribed += 1
    elif event.action == "abuse":
        campaign.abuse_reports += 1


def _remember(sandbox: MailchimpSandbox, row: int, event: MemberEvent) -> None:
    member = sandbox.audience.edit(row)
    member.events.append(event)
    sandbox.events_by_campaign = None  # the reports' index is built again when next read
    if event.action in STATUS_AFTER and (event.action != "bounce" or cleans(member.events, event)):
        sandbox.audience.set_status(row, STATUS_AFTER[event.action])
    if event.action in TAG_OF_ACTION:
        member.tags.setdefault(TAG_OF_ACTION[event.action], event.at)
    if event.action == "order":
        order = order_of(row, event, sandbox.campaigns, len(sandbox.orders))
        sandbox.keep_order(order)
