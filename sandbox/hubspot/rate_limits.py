"""An app's rate limits (a private app's by subscription tier, or an OAuth app's), the
headers that report them, their 429s."""

from __future__ import annotations

import math
from collections.abc import Mapping

from sandbox.clock import SandboxClock
from sandbox.http import Response
from sandbox.hubspot.values import DAY_MS
from sandbox.limits import ServerDailyLimit, ServerWindow

PRIVATE_APP_LIMITS: Mapping[str, tuple[int, int]] = {
    "free": (100, 250_000),
    "starter": (100, 250_000),
    "professional": (190, 625_000),
    "enterprise": (190, 1_000_000),
}
"""Requests per rolling 10 seconds and per day for a private app, by subscription tier."""
API_ADDON = "api_addon"
"""Tier suffix ("professional+api_addon") for the API Limit Increase: 250 per 10 s."""
ADDON_BURST, ADDON_DAILY = 250, 1_000_000
OAUTH_TIER, OAUTH_BURST = "oauth", 110
"""In place of a tier: a public app using OAuth, 110 per 10 s per portal and no daily limit
(its answers carry no X-HubSpot-RateLimit-Daily headers)."""
WINDOW_SECONDS = 10
SEARCH_PER_SECOND = 5
SEARCH_ENDPOINTS = frozenset({"contacts.search", "companies.search", "objects.search"})
"""The operations of the CRM search endpoints: 5 a second, exempt from the 10-second window,
no rate-limit headers and no Retry-After on their 429."""
RATE_LIMIT_MESSAGES = {
    "TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
    "SECONDLY": "You have reached your secondly limit.",
    "DAILY": "You have reached your daily limit.",
}
"""The 429's message for each `policyName`."""


def tier_limits(tier: str) -> tuple[int, int | None]:
    """(requests per 10 seconds, requests per day or None) of a tier such as
    "professional+api_addon", or of "oauth"."""
    if tier.lower() == OAUTH_TIER:
        return OAUTH_BURST, None
    base, _, addon = tier.lower().partition("+")
    if base not in PRIVATE_APP_LIMITS or addon not in ("", API_ADDON):
        raise ValueError(
            f"unknown HubSpot tier {tier!r}; use one of {sorted(PRIVATE_APP_LIMITS)} [+{API_ADDON}]"
        )
    burst, daily = PRIVATE_APP_LIMITS[base]
    return (ADDON_BURST, daily + ADDON_DAILY) if addon else (burst, daily)


class PortalLimits:
    """The budgets every request spends: the day's, search's per second, the 10-second window."""

    def __init__(self, tier: str, daily_limit: int | None, clock: SandboxClock, day: int) -> None:
        self.burst, daily = tier_limits(tier)
        self.window = ServerWindow(self.burst, WINDOW_SECONDS, clock)
        self.search_window = ServerWindow(SEARCH_PER_SECOND, 1, clock)
        self.daily = ServerDailyLimit(daily if daily_limit is None else daily_limit)
        self.reports_daily = daily is not None or daily_limit is not None
        self.day = day
        """The vendor-time day (days since the epoch, UTC) the daily budget counts."""

    def start_day(self, day: int) -> None:
        """At each vendor-time UTC midnight the daily budget starts afresh."""
        if day != self.day:
            self.day, self.daily.used = day, 0

    def refusal(self, operation: str, vendor_ms: float) -> tuple[str, str | None] | None:
        """(policyName, Retry-After seconds or None) of the limit refusing a request, or None.

        A request admitted spends one of the day's budget. Search has its own limit
        and is exempt from the 10-second window; its 429 carries no Retry-After.
        """
        if self.daily.remaining is not None and self.daily.remaining <= 0:
            until_midnight = DAY_MS - vendor_ms % DAY_MS
            return "DAILY", str(math.ceil(until_midnight / 1000))
        if operation in SEARCH_ENDPOINTS:
            if not self.search_window.try_acquire():
                return "SECONDLY", None
            self.daily.try_spend()
            return None
        if not self.window.try_acquire():
            return "TEN_SECONDLY_ROLLING", seconds_until_free(self.window)
        self.daily.try_spend()
        return None

    def headers(self) -> dict[str, str]:
        """The X-HubSpot-RateLimit-* headers of an answer (search answers carry none, an
        OAuth app's no daily ones)."""
        daily = {
            "X-HubSpot-RateLimit-Daily": str(self.daily.limit),
            "X-HubSpot-RateLimit-Daily-Remaining": str(self.daily.remaining),
        }
        return {
            **(daily if self.reports_daily else {}),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(WINDOW_SECONDS * 1000),
            "X-HubSpot-RateLimit-Max": str(self.burst),
            "X-HubSpot-RateLimit-Remaining": str(self.window.remaining()),
        }


def seconds_until_free(window: ServerWindow) -> str:
    """Retry-After for a full window: whole seconds until it frees a slot, at least 1."""
    return str(max(1, math.ceil(window.retry_after())))


def rate_limited(policy: str, retry_after: str | None, correlation: str) -> Response:
    """HubSpot's 429 for the limit `policy`, with Retry-After where HubSpot sends one."""
    body = {
        "status": "error",
        "message": RATE_LIMIT_MESSAGES[policy],
        "errorType": "RATE_LIMIT",
        "correlationId": correlation,
        "policyName": policy,
    }
    headers = {"X-HubSpot-Correlation-Id": correlation}
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    return Response.json(body, 429, **headers)
