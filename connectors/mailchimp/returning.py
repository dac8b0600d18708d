"""Members back from the archive: their campaign activity read again for them alone.

An archived member withdraws what it did in its audience (`members.archived_withdrawn`),
and the activity streams pass over its activity while it stays archived (`archived`).
Each campaign's cursor moves on meanwhile, so when the member is unarchived (a PATCH or
PUT with a status, which moves its `last_changed`) nothing an incremental pull reads would
bring its earlier activity back: only `sync --full` did.

So the contacts stream remembers, in its cursor, the subscriber hashes of the members each
audience's walks saw archived (`"archived": {list_id: [hash, ...]}`, 32 characters each; a
walk of every member keeps only those it sees archived). A member that a later walk reads
with another status, and that was among them, has come back: the page that holds it carries its
email activity of every sent campaign of the audience in the rules' window, read with
"Get subscriber email activity" (`GET /reports/{campaign_id}/email-activity/{subscriber_hash}`,
`reports.get_email_activity_for_subscriber`: "Get a specific list member's activity in a
campaign including opens, clicks, and bounces", SDK 3.0.80's docstring of the API
reference; 404 for a campaign it was not sent). The records are those of the campaign's
report, mapped by the same function (`activity.report_activities`, its send included), so
the activities have the ids the campaign stream gives them and the store keeps one of each.

Calls: one campaign list per audience (per 1,000 campaigns) in a pull that meets a member
come back, then one call per such member and campaign of the window, read side by side
through the connection gate; a pull that meets none makes no call more. Unsubscribes and
abuse reports from before the archive are not read again (Mailchimp has no per-member
abuse list; a member subscribing again has taken its unsubscribe back): `sync --full`
restores those. A member archived and brought back between two pulls is never seen
archived and withdrew nothing, so nothing is read for it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import Any

from connectors.errors import ApiError
from connectors.mailchimp.activity import SentCampaign, report_activities, sent_campaigns
from connectors.mailchimp.client import MailchimpApi
from connectors.mailchimp.in_order import in_order
from scoring.records import Activity

SUBSCRIBER_ACTIVITY = "reports.get_email_activity_for_subscriber"


class Returns:
    """One audience's archived members across walks, and the campaigns to read again for
    those that come back (listed once per pull, when the first one does)."""

    def __init__(
        self,
        api: MailchimpApi,
        list_id: str,
        archived: Collection[str],
        oldest: datetime | None,
        skipped: Counter[str],
        *,
        afresh: bool = False,
    ) -> None:
        self.api = api
        self.list_id = list_id
        self._before = set(archived)
        self.archived = set() if afresh else set(archived)
        """Subscriber hashes of the members seen archived and not seen back since (with
        `afresh`, a walk of every member: only those this walk sees archived)."""
        self.oldest = oldest
        self.skipped = skipped
        self._campaigns: list[SentCampaign] | None = None

    def seen(self, hashed: str, status: Any) -> bool:
        """Note a member read with `status`; whether it has come back from the archive."""
        if status == "archived":
            self.archived.add(hashed)
            return False
        back = hashed in self.archived or hashed in self._before
        self.archived.discard(hashed)
        self._before.discard(hashed)
        return back

    def activity(self, hashes: Sequence[str]) -> list[Activity]:
        """The campaign activity of these members come back, as the campaign stream gives it."""
        if not hashes:
            return []
        if self._campaigns is None:
            self._campaigns = sent_campaigns(self.api, [self.list_id], self.oldest)
        reads: list[tuple[SentCampaign, Callable[[], dict[str, Any] | None]]] = [
            (campaign, self._read(campaign, hashed))
            for hashed in hashes
            for campaign in self._campaigns
        ]
        found: list[Activity] = []
        records = in_order(read for _, read in reads)
        for (campaign, _), record in zip(reads, records, strict=True):
            if record is not None:
                found += report_activities(campaign, record, self.skipped, sends=True)
        return found

    def _read(self, campaign: SentCampaign, hashed: str) -> Callable[[], dict[str, Any] | None]:
        def read() -> dict[str, Any] | None:
            try:
                return self.api.call(SUBSCRIBER_ACTIVITY, campaign.id, hashed)
            except ApiError as error:
                if error.status == 404:  # not sent this campaign
                    return None
                raise

        return read
