"""Who left through a campaign: its unsubscribes and abuse reports, as activities.

The email-activity report holds opens, clicks and bounces only; Mailchimp lists a
campaign's unsubscribes (`reports.get_unsubscribed_list_for_campaign`, GET
/reports/{campaign_id}/unsubscribed, `count` up to 1,000 and `offset`) and its abuse
reports (`reports.get_campaign_abuse_reports`, GET /reports/{campaign_id}/abuse-reports,
which takes no paging parameters) apart. Neither takes a time filter: each is read whole,
and only when its count in the report list (`unsubscribed`, `abuse_reports`) moved
(`report_counts.py`); `activity.CampaignReading` keeps what is new by the campaign's mark.

| Mailchimp | activity | time | attributes |
|---|---|---|---|
| an unsubscribe | `email_unsubscribe` | `timestamp` | campaign, list_id, campaign_title, reason |
| an abuse report | `email_spam_report` | `date` | campaign, list_id, campaign_title |

(the campaign's attributes as the report's activities carry them, `SentCampaign.attributes`)

Sources: the SDK's operations and parameters (mailchimp-marketing 3.0.80, reports_api.py:
the abuse-report list takes fields and exclude_fields only); the record fields as the API
reference's schemas give them, seen through third parties (abuse reports: `id`,
`campaign_id`, `list_id`, `email_id`, `email_address`, `merge_fields`, `vip`, `date`,
https://docs.rs/mailchimp/0.1.10/mailchimp/types/struct.ListAbuseReportType.html;
unsubscribes: `unsubscribes[].reason`, read by
https://gist.github.com/mkiser/f7d0614e11db27a9e3fe9321c3fdac37, with `email_address` and
`timestamp` as the reference's "Unsubscribes" schema names them). Mailchimp's own pages
(https://mailchimp.com/developer/marketing/api/unsub-reports/ and
https://mailchimp.com/developer/marketing/api/abuse-reports/) are not among our stored copies.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from connectors.mailchimp.collections_walk import MailchimpCalls, walk_collection
from connectors.mailchimp.keys import MC, member_hash
from connectors.values import parse_time
from scoring.records import Activity, ActivityType

if TYPE_CHECKING:
    from connectors.mailchimp.activity import SentCampaign

DEPARTURES: Mapping[ActivityType, tuple[str, str, str]] = {
    ActivityType.EMAIL_UNSUBSCRIBE: (
        "reports.get_unsubscribed_list_for_campaign",
        "unsubscribes",
        "timestamp",
    ),
    ActivityType.EMAIL_SPAM_REPORT: ("reports.get_campaign_abuse_reports", "abuse_reports", "date"),
}
"""Per activity type: the operation listing them, its collection and its time field."""


def departure_activity(
    campaign: SentCampaign, kind: ActivityType, record: Any, skipped: Counter[str]
) -> Activity | None:
    """One unsubscribe or abuse report of `campaign`; None (counted) without address or time."""
    if not isinstance(record, Mapping):
        skipped["departure"] += 1
        return None
    email, at = record.get("email_address"), parse_time(record.get(DEPARTURES[kind][2]))
    if not isinstance(email, str) or not email.strip() or at is None:
        skipped["departure"] += 1
        return None
    attributes = campaign.attributes
    reason = record.get("reason")
    if kind is ActivityType.EMAIL_UNSUBSCRIBE and isinstance(reason, str) and reason:
        attributes["reason"] = reason
    suffix = "unsub" if kind is ActivityType.EMAIL_UNSUBSCRIBE else "abuse"
    return Activity(
        "",  # by address alone (`keys`)
        kind,
        at,
        id=f"mc:{campaign.id}:{member_hash(email)}:{suffix}:{int(at.timestamp())}",
        attributes=attributes,
        source=MC,
        contact_email=email.strip(),
    )


PART_OF: Mapping[ActivityType, str] = {
    ActivityType.EMAIL_UNSUBSCRIBE: "unsubscribes",
    ActivityType.EMAIL_SPAM_REPORT: "abuse",
}
"""The part of a campaign (`report_counts.PARTS`) each list is."""


def campaign_departures(
    api: MailchimpCalls,
    campaign: SentCampaign,
    skipped: Counter[str],
    parts: Collection[str] = frozenset(PART_OF.values()),
) -> list[Activity]:
    """Every unsubscribe and abuse report of `campaign`, of the lists among `parts`."""
    found: list[Activity] = []
    for kind, (operation, collection, _) in DEPARTURES.items():
        if PART_OF[kind] not in parts:
            continue
        if kind is ActivityType.EMAIL_UNSUBSCRIBE:
            pages = list(walk_collection(api, operation, collection, campaign.id))
        else:  # the abuse-report list takes no count or offset: one answer holds them all
            records = api.call(operation, campaign.id).get(collection)
            pages = [records if isinstance(records, list) else []]
        for records in pages:
            for record in records:
                activity = departure_activity(campaign, kind, record, skipped)
                if activity is not None:
                    found.append(activity)
    return found
