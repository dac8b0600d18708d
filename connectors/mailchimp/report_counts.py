"""Campaign report counts: which of a campaign's reports moved since the last pull.

Mailchimp's campaign report list (`reports.get_all_campaign_reports`, GET /reports,
`count` up to 1,000, `offset`, `since_send_time`, `fields`) gives per sent campaign its
counts. One walk of it per pull (one call per 1,000 campaigns sent in the rules' window,
`fields` cut to the id, the send time and the counts) tells `activity.py` which of a
campaign's three reports to read again:

- `activity`, the email-activity report (opens, clicks, bounces; sends): read when
  `emails_sent`, `opens.opens_total`, `opens.unique_opens`, `clicks.clicks_total`,
  `clicks.unique_clicks`, `bounces.hard_bounces`, `bounces.soft_bounces` or
  `bounces.syntax_errors` moved;
- `unsubscribes`, the campaign's unsubscribes: when `unsubscribed` moved;
- `abuse`, the campaign's abuse reports: when `abuse_reports` moved.

A part is read on a campaign's first pull (no counts kept), when the report list does not
list the campaign, and when one of its counts is missing (or not a count) now or in what
was kept: what we cannot compare, we read. ReportCounts are kept flat by their last name
(`opens_total`, `hard_bounces`, ...) in the campaign's cursor entry.

The campaign list (`campaigns.list`) stays the authority on which campaigns exist: its
`report_summary` holds opens, unique opens, clicks and subscriber clicks but no bounces,
unsubscribes or abuse reports, so it cannot stand in for the report list; the report list
takes no `list_id` and Mailchimp does not say it lists every sent campaign, so it cannot
stand in for the campaign list either (a campaign missing from it would never be read).
Two calls per pull, then, where there were three per campaign.

What this trusts: that a report's counts move whenever its lists gain a record. Mailchimp
does not document how soon the counts follow the lists. A count that lags its list only
delays the read (the campaign's mark has not moved). A list that lags its count is worse:
a record that shows up after its count was seen is read only at that part's next change.

Sources: the SDK's `get_all_campaign_reports` (mailchimp-marketing 3.0.80, reports_api.py:
fields, exclude_fields, count "Maximum value is 1000", offset, type, before_send_time,
since_send_time "Restrict the response to campaigns sent after the set time"); the
response fields from Mailchimp's reference "Get campaign reports"
(https://developer.mailchimp.com/documentation/mailchimp/reference/reports, as archived at
https://web-archive.nli.org.il/National_Library/20161130034600mp_/https://developer.mailchimp.com/documentation/mailchimp/reference/reports:
`reports[]` with `id`, `list_id`, `emails_sent`, `abuse_reports`, `unsubscribed`,
`send_time`, `bounces`, `opens`, `clicks`) and today's "List campaign reports"
(https://mailchimp.com/developer/marketing/api/reports/list-campaign-reports/, read
through its mirror https://withone.ai/knowledge/mailchimp-marketing/conn_mod_def%3A%3AGJ400ZXUmAc%3A%3AqhfeujhuRDuroGbHm29sYA:
`bounces.hard_bounces/soft_bounces/syntax_errors`, `opens.opens_total/unique_opens`,
`clicks.clicks_total/unique_clicks`); the campaign's `report_summary` (opens,
unique_opens, open_rate, clicks, subscriber_clicks, click_rate, ecommerce) as the
reference's campaign schema reads in https://docs.rs/mailchimp/0.1.10/mailchimp/types/struct.CampaignReportSummaryType.html.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from connectors.mailchimp.collections_walk import MailchimpCalls, walk_collection

COUNTS: Mapping[str, tuple[str, ...]] = {
    "emails_sent": ("emails_sent",),
    "opens_total": ("opens", "opens_total"),
    "unique_opens": ("opens", "unique_opens"),
    "clicks_total": ("clicks", "clicks_total"),
    "unique_clicks": ("clicks", "unique_clicks"),
    "hard_bounces": ("bounces", "hard_bounces"),
    "soft_bounces": ("bounces", "soft_bounces"),
    "syntax_errors": ("bounces", "syntax_errors"),
    "unsubscribed": ("unsubscribed",),
    "abuse_reports": ("abuse_reports",),
}
"""Each count we keep, by its last name: its path in a report of the list."""
PARTS: Mapping[str, tuple[str, ...]] = {
    "activity": (
        "emails_sent",
        "opens_total",
        "unique_opens",
        "clicks_total",
        "unique_clicks",
        "hard_bounces",
        "soft_bounces",
        "syntax_errors",
    ),
    "unsubscribes": ("unsubscribed",),
    "abuse": ("abuse_reports",),
}
"""Each report of a campaign that can be read apart, and the counts that say it moved."""
EVERY_PART = frozenset(PARTS)
REPORT_FIELDS = [
    "reports.id",
    "reports.send_time",
    *(f"reports.{'.'.join(path)}" for path in COUNTS.values()),
    "total_items",
]
"""What the report list is asked for (`fields`): its walk needs `total_items` too."""

ReportCounts = dict[str, int]


def counts_of(raw: Any) -> ReportCounts:
    """The counts a report (nested, as the list gives it) holds: each a whole number at
    least 0 (booleans are not counts); any other value is left out."""
    found: ReportCounts = {}
    for name, path in COUNTS.items():
        value = raw
        for step in path:
            value = value.get(step) if isinstance(value, Mapping) else None
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            found[name] = value
    return found


def kept_counts(raw: Any) -> ReportCounts:
    """ReportCounts as a cursor keeps them (flat, by last name); anything else is left out."""
    if not isinstance(raw, Mapping):
        return {}
    return {
        name: value
        for name, value in raw.items()
        if name in COUNTS and isinstance(value, int) and not isinstance(value, bool) and value >= 0
    }


def parts_to_read(kept: ReportCounts | None, now: ReportCounts | None) -> frozenset[str]:
    """The parts of a campaign to read: all without kept counts or without a report now;
    else those with a count that moved, or that is missing from either side."""
    if kept is None or now is None:
        return EVERY_PART
    return frozenset(
        part
        for part, names in PARTS.items()
        if any(name not in kept or name not in now or kept[name] != now[name] for name in names)
    )


def report_counts(api: MailchimpCalls, oldest: datetime | None) -> dict[str, ReportCounts]:
    """Per campaign id, the counts of the campaigns sent since `oldest` (all: None)."""
    filters: dict[str, Any] = {"fields": REPORT_FIELDS}
    if oldest is not None:
        filters["since_send_time"] = oldest.astimezone(UTC).replace(microsecond=0).isoformat()
    found: dict[str, ReportCounts] = {}
    for items in walk_collection(api, "reports.get_all_campaign_reports", "reports", **filters):
        for item in items:
            ident = item.get("id") if isinstance(item, Mapping) else None
            if isinstance(ident, str) and ident:
                found[ident] = counts_of(item)
    return found
