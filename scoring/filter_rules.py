"""The `filters:` block of a rule file: which activities are set aside before scoring
(`scoring.filters` applies it)."""

from __future__ import annotations

from pydantic import Field

from scoring.records import ActivityType
from scoring.ruletypes import MAX_DAYS, ActivityTypes, Strict


class BotClicks(Strict):
    """Email clicks that security scanners make, not people."""

    enabled: bool = True
    types: ActivityTypes = Field(
        default_factory=lambda: [ActivityType.EMAIL_CLICK],
        description="Activity types filtered (add email_open to filter machine opens).",
    )
    seconds_after_delivery: float = Field(
        10,
        ge=0,
        le=MAX_DAYS * 86400,
        allow_inf_nan=False,
        description="A click this soon after the email_sent of the same campaign is a scanner's.",
    )
    max_per_second: int = Field(
        2,
        ge=1,
        le=1_000_000,
        description="More clicks than this by one contact within one second are a scanner's.",
    )


class Filters(Strict):
    bot_clicks: BotClicks = Field(default_factory=BotClicks)
