"""What the Mailchimp tests do to a sandbox besides calling its API.

They record activity at runtime, as if Mailchimp had just seen it; return a
running sandbox to the projected world between tests; and run waiting batches.
Each works under the sandbox's lock, as a request handler does.
"""

from __future__ import annotations

from datetime import datetime

from sandbox.mailchimp import MailchimpSandbox
from sandbox.mailchimp.orders import order_of
from sandbox.mailchimp.projection import ACTIONS, EMAIL_ACTIONS, TAG_OF_ACTION, MemberEvent
from sandbox.mailchimp.values import subscriber_hash
from scoring.records import ActivityType, ensure_utc

STATUS_AFTER = {"unsub": "unsubscribed", "abuse": "unsubscribed", "bounce": "cleaned"}


def reset(sandbox: MailchimpSandbox) -> None:
    """Forget every change, batch and count: project the world afresh; the server keeps running."""
    with sandbox.lock:
        sandbox.project_world()
        sandbox.calls.clear()
        sandbox.log.clear()


def finish_batches(sandbox: MailchimpSandbox) -> None:
    """Run every batch still waiting, as Mailchimp eventually does."""
    with sandbox.lock:
        for batch in sandbox.batches.values():
            if batch.status != "finished":
                sandbox.finish_batch(batch)


def add_activity(
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
    count in the campaign's report and email activity; unsubscribes, spam
    reports and hard bounces change the status (`bounce` is "hard" or "soft"); a signup of an unknown address
    adds a subscribed member; a purchase adds an order. The member's
    last_changed becomes the sandbox's now (or `at`, if that is later).
    """
    action = ACTIONS.get(kind)
    if action is None:
        raise ValueError(f"Mailchimp does not see {kind.value} activity")
    with sandbox.lock:
        moment = ensure_utc(at).timestamp() if at is not None else sandbox.now()
        number = _campaign_number(sandbox, campaign)
        event = MemberEvent(action, moment, number, url, amount, bounce)
        row = _activity_row(sandbox, email, action, moment)
        if event.campaign >= 0 and action in EMAIL_ACTIONS:
            _count_in_report(sandbox, row, event)
        _remember(sandbox, row, event)
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


def _remember(sandbox: MailchimpSandbox, row: int, event: MemberEvent) -> None:
    member = sandbox.audience.edit(row)
    member.events.append(event)
    if event.action in STATUS_AFTER and event.bounce != "soft":  # a soft bounce cleans nobody
        sandbox.audience.set_status(row, STATUS_AFTER[event.action])
    if event.action in TAG_OF_ACTION:
        member.tags.setdefault(TAG_OF_ACTION[event.action], event.at)
    if event.action == "order":
        order = order_of(row, event, sandbox.campaigns, len(sandbox.orders))
        sandbox.keep_order(order)
