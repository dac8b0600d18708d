"""The world's campaigns, their report counts and recipients, and their JSON (as the
campaign list and the campaign report list give them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from sandbox.mailchimp.projection import EMAIL_KINDS, WorldIndex, type_codes_of
from sandbox.mailchimp.values import LIST_NAME, iso, short_id, web_id
from sandbox.world.tables import World
from scoring.records import TYPE_CODES, ActivityType


@dataclass
class Campaign:
    """A campaign and its report summary; `rows` (its recipients) is filled on first use."""

    index: int
    id: str
    name: str
    subject: str
    send_time: float
    recipients: int = 0
    opens: int = 0
    unique_opens: int = 0
    clicks: int = 0
    unique_clicks: int = 0
    hard_bounces: int = 0
    soft_bounces: int = 0
    unsubscribed: int = 0
    abuse_reports: int = 0
    rows: list[int] | None = None
    row_set: set[int] = field(default_factory=set)

    def status(self, now: float) -> str:
        return "sent" if self.send_time <= now else "schedule"


def project_campaigns(
    world: World | None, index: WorldIndex | None, soft: npt.NDArray[np.bool_] | None = None
) -> list[Campaign]:
    """The world's campaigns with their counts; `soft` marks the indexed events that are
    soft bounces (none when not given)."""
    if world is None:
        return []
    campaigns = [
        Campaign(i, short_id("campaign", world.seed, i), str(name), str(subject), float(sent))
        for i, (name, subject, sent) in enumerate(
            zip(world.campaigns.name, world.campaigns.subject, world.campaigns.sent_at, strict=True)
        )
    ]
    if index is not None and campaigns:
        count_campaigns(index, campaigns, soft)
    return campaigns


def count_campaigns(
    index: WorldIndex, campaigns: list[Campaign], soft: npt.NDArray[np.bool_] | None = None
) -> None:
    """Each campaign's recipients, opens, clicks, bounces (hard and soft), unsubscribes and
    abuse reports in the world, counted with numpy."""
    kinds = index.column(index.world.events.type)
    numbers = index.column(index.world.events.campaign).astype(np.int64)
    email = np.isin(kinds, type_codes_of(EMAIL_KINDS)) & (numbers >= 0)
    opened = email & (kinds == TYPE_CODES[ActivityType.EMAIL_OPEN])
    clicked = email & (kinds == TYPE_CODES[ActivityType.EMAIL_CLICK])
    size, width = len(campaigns), len(index.persons) + 1
    recipients = distinct_rows(numbers[email], index.rows[email], size, width)
    unique_opens = distinct_rows(numbers[opened], index.rows[opened], size, width)
    unique_clicks = distinct_rows(numbers[clicked], index.rows[clicked], size, width)
    opens = np.bincount(numbers[opened], minlength=size)
    clicks = np.bincount(numbers[clicked], minlength=size)
    softly = soft if soft is not None else np.zeros(len(kinds), dtype=bool)
    bounced = email & (kinds == TYPE_CODES[ActivityType.EMAIL_BOUNCE])
    hard = np.bincount(numbers[bounced & ~softly], minlength=size)
    soft_count = np.bincount(numbers[bounced & softly], minlength=size)
    unsubs = np.bincount(
        numbers[email & (kinds == TYPE_CODES[ActivityType.EMAIL_UNSUBSCRIBE])], minlength=size
    )
    abuse = np.bincount(
        numbers[email & (kinds == TYPE_CODES[ActivityType.EMAIL_SPAM_REPORT])], minlength=size
    )
    for c in campaigns:
        c.recipients, c.unique_opens, c.unique_clicks = (
            int(recipients[c.index]),
            int(unique_opens[c.index]),
            int(unique_clicks[c.index]),
        )
        c.opens, c.clicks = int(opens[c.index]), int(clicks[c.index])
        c.hard_bounces, c.soft_bounces = int(hard[c.index]), int(soft_count[c.index])
        c.unsubscribed, c.abuse_reports = int(unsubs[c.index]), int(abuse[c.index])


def distinct_rows(
    numbers: npt.NDArray[np.int64], rows: npt.NDArray[np.intp], size: int, width: int
) -> npt.NDArray[np.intp]:
    """Per campaign number, how many distinct rows appear with it."""
    pairs = np.unique(numbers * width + rows)
    return np.bincount(pairs // width, minlength=size)


def world_recipients(index: WorldIndex | None, campaign: int) -> list[int]:
    return all_world_recipients(index, [campaign])[0]


def all_world_recipients(index: WorldIndex | None, campaigns: Sequence[int]) -> list[list[int]]:
    """Per campaign number given, its recipient rows in the world, rising: one pass over
    the events for them all."""
    if index is None or not len(index.rows):
        return [[] for _ in campaigns]
    kinds = index.column(index.world.events.type)
    numbers = index.column(index.world.events.campaign).astype(np.int64)
    email = np.isin(kinds, type_codes_of(EMAIL_KINDS)) & np.isin(numbers, list(campaigns))
    width = int(index.rows.max()) + 1
    pairs = np.unique(numbers[email] * width + index.rows[email])
    owner, rows = pairs // width, pairs % width
    starts = np.searchsorted(owner, list(campaigns), side="left")
    ends = np.searchsorted(owner, list(campaigns), side="right")
    return [rows[a:b].tolist() for a, b in zip(starts, ends, strict=True)]


def campaign_json(campaign: Campaign, list_id: str, now: float) -> dict[str, Any]:
    status, recipients = campaign.status(now), campaign.recipients
    return {
        "id": campaign.id,
        "web_id": web_id("campaign", campaign.id),
        "type": "regular",
        "create_time": iso(campaign.send_time - 86_400),
        "archive_url": f"https://eepurl.com/{campaign.id}",
        "status": status,
        "emails_sent": recipients if status == "sent" else 0,
        "send_time": iso(campaign.send_time),
        "content_type": "template",
        "recipients": {
            "list_id": list_id,
            "list_is_active": True,
            "list_name": LIST_NAME,
            "recipient_count": recipients,
        },
        "settings": {
            "subject_line": campaign.subject,
            "preview_text": "",
            "title": campaign.name,
            "from_name": "Leadscore",
            "reply_to": "marketing@leadscore.invalid",
        },
        "tracking": {"opens": True, "html_clicks": True, "text_clicks": False, "ecomm360": True},
        "report_summary": {
            "opens": campaign.opens,
            "unique_opens": campaign.unique_opens,
            "open_rate": share(campaign.unique_opens, recipients),
            "clicks": campaign.clicks,
            "subscriber_clicks": campaign.unique_clicks,
            "click_rate": share(campaign.unique_clicks, recipients),
        },
    }


def report_json(campaign: Campaign, list_id: str) -> dict[str, Any]:
    """A sent campaign's entry in the report list (GET /reports): its counts. Forwards,
    last open and click times, and the e-commerce, industry and list stats are not
    emulated (forwards are 0, the others absent)."""
    recipients = campaign.recipients
    return {
        "id": campaign.id,
        "campaign_title": campaign.name,
        "type": "regular",
        "list_id": list_id,
        "list_is_active": True,
        "list_name": LIST_NAME,
        "subject_line": campaign.subject,
        "preview_text": "",
        "emails_sent": recipients,
        "abuse_reports": campaign.abuse_reports,
        "unsubscribed": campaign.unsubscribed,
        "send_time": iso(campaign.send_time),
        "bounces": {
            "hard_bounces": campaign.hard_bounces,
            "soft_bounces": campaign.soft_bounces,
            "syntax_errors": 0,
        },
        "forwards": {"forwards_count": 0, "forwards_opens": 0},
        "opens": {
            "opens_total": campaign.opens,
            "unique_opens": campaign.unique_opens,
            "open_rate": share(campaign.unique_opens, recipients),
        },
        "clicks": {
            "clicks_total": campaign.clicks,
            "unique_clicks": campaign.unique_clicks,
            "unique_subscriber_clicks": campaign.unique_clicks,
            "click_rate": share(campaign.unique_clicks, recipients),
        },
    }


def share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0
