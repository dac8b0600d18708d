"""HubSpot's published rate limits per subscription tier, as limits of the shared call policy.

Sources: HubSpot's "API usage guidelines and limits" (developers.hubspot.com/docs/
guides/apps/api-usage/usage-details): private apps get 100 requests per 10 seconds on
Free and Starter, 190 on Professional and Enterprise, 250 with the API limit increase;
a daily limit of 250,000 (Free, Starter), 625,000 (Professional) or 1,000,000
(Enterprise), a million more with the increase; the CRM search endpoints 5 requests
per second on their own, exempt from the 10-second window (each v3 search endpoint's
reference lists a ten-secondly exemption); a search's 429 carries no Retry-After, so the
policy's own backoff waits then. A public app using OAuth gets 110 requests per 10
seconds in each portal that installs it, whatever the portal's tier, and no daily limit:
its answers carry no X-HubSpot-RateLimit-Daily headers (changelog "Rate limit headers
will now appear for OAuth authenticated calls": "there is no daily limit for these calls").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from connectors.policy import Clock, DailyBudget, Limit

SEARCH_OPERATIONS = frozenset(
    {"contacts.search", "meetings.search", "calls.search", "emails.search", "deals.search"}
)
"""HubSpot operations that also count against the search endpoints' own limit."""

_PER_10S = {"free": 100, "starter": 100, "professional": 190, "enterprise": 190}
_ADDON_PER_10S = 250
TIERS = tuple(_PER_10S)
"""Subscription tiers, lowest first; each may carry '+api_addon' (the API limit increase)."""
OAUTH = "oauth"
"""In place of a tier: a public (marketplace) app using OAuth, limited per app and portal."""
_OAUTH_PER_10S = 110
_SEARCH_PER_SECOND = 5
_WINDOW_MARGIN, _SEARCH_MARGIN = 0.02, 0.05


def hubspot_limits(tier: str, clock: Clock | None = None) -> list[Limit]:
    """HubSpot's published limits for an account tier, e.g. "professional" or "starter+api_addon".

    The vendor's counts, over windows a little longer than the vendor's: a request
    admitted here at t reaches HubSpot at t plus a delay that varies from request
    to request, and without the margin that jitter alone makes the odd request
    land inside HubSpot's window next to the ones before it, and each 429 costs
    its Retry-After. The margin costs 2% of the throughput (5% on search).
    """
    from connectors.policy import Limit, RollingWindow

    base, _, addon = tier.strip().lower().partition("+")
    if base == OAUTH and not addon:
        per_10s = _OAUTH_PER_10S
    elif base in _PER_10S and addon in ("", "api_addon"):
        per_10s = _ADDON_PER_10S if addon else _PER_10S[base]
    else:
        allowed = [*_PER_10S, *(f"{name}+api_addon" for name in _PER_10S), OAUTH]
        raise ValueError(f"unknown HubSpot tier {tier!r}; expected one of {', '.join(allowed)}")
    return [
        # Search has a limit of its own and is exempt from the 10-second window (each v3
        # search endpoint's reference lists that exemption), so searches and other calls
        # run side by side.
        Limit(RollingWindow(per_10s, 10.0 * (1 + _WINDOW_MARGIN), clock), exempt=SEARCH_OPERATIONS),
        Limit(
            RollingWindow(_SEARCH_PER_SECOND, 1.0 * (1 + _SEARCH_MARGIN), clock),
            SEARCH_OPERATIONS,
        ),
    ]


_DAILY = {
    "free": 250_000,
    "starter": 250_000,
    "professional": 625_000,
    "enterprise": 1_000_000,
}
_ADDON_DAILY = 1_000_000


def hubspot_daily_budget(
    tier: str, *, per_run: float | None = None, in_all: float | None = None
) -> DailyBudget:
    """A private app's requests per day for a tier, of which a run spends at most `per_run`
    and all apps together at most `in_all`; the API limit increase adds a million. An OAuth
    app has no daily limit."""
    from connectors.policy import DailyBudget

    hubspot_limits(tier)  # the same tier names, the same error for an unknown one
    base, _, addon = tier.strip().lower().partition("+")
    if base == OAUTH:
        return DailyBudget(None)
    limit = _DAILY[base] + (_ADDON_DAILY if addon else 0)
    return DailyBudget(limit, per_run=per_run, in_all=in_all)
