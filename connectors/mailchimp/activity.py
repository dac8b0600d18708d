"""Mailchimp campaign email activity as activities: sends, opens, clicks and bounces.

The walk: the sent campaigns of each audience (`campaigns.list` with `list_id`,
`status="sent"` and `since_send_time` = the oldest moment the rules look at, so
campaigns sent before the rule set's longest window are never read), then per campaign
its email-activity report (`reports.get_email_activity_for_campaign`, 1,000 records a
call, `offset` paging), from that campaign's own cursor.

Mapping onto `scoring.records.ActivityType` (Mailchimp action -> activity):

| Mailchimp | activity |
|---|---|
| a recipient, on the campaign's first read | `email_sent` at the campaign's `send_time` |
| `open` | `email_open` |
| `click` | `email_click`, with `url` |
| `bounce` | `email_bounce`, with `bounce_type` "hard" or "soft" |
| an unsubscribe of the campaign | `email_unsubscribe`, with `reason` (`departures.py`) |
| an abuse report of the campaign | `email_spam_report` (`departures.py`) |

Every activity carries `campaign` (id), `list_id` and, where the campaign has one,
`campaign_title`. A bounce is hard only when Mailchimp says "hard"; any other type is
soft (the address stays eligible).

Unsubscribes and abuse reports are not in the email-activity report (its actions are
open, click and bounce): `departures.py` reads each campaign's own lists of them, whole
(they take no time filter), and the campaign's mark keeps only what is new.

Every activity is keyed by its address alone (`contact_email`, no record id: a report
names the member by address; `keys`), its id
"mc:{campaign}:{subscriber hash}:{action}:{epoch seconds}" (and the url for a click), so
the store keeps one of each however often a pull reads it again.

Cursor: one JSON object `{"campaigns": {campaign id: {"since": ISO time, "seen": [...],
"counts": {...}}}}`: per campaign the latest action time read from its email-activity
report (its send time when none was), short digests of the activities read within
`OVERLAP` before it, and the report list's counts it was read at (`report_counts.py`).
The next read of its email activity asks for activity `since` that time minus `OVERLAP`
(the reference does not say whether the bound is included, and late recorded opens may
carry earlier times) and passes over what the digests name, so it gives only new
activity; past `SEEN_LIMIT` digests none are kept and the store's activity ids keep one
of each. A campaign without an entry is read whole, sends included; campaigns no longer
listed (sent before the window) drop out of the cursor. A campaign's entry moves only
once what it reads of it is read: offset paging over a moving report cannot resume
halfway.

Which reports are read: each pull lists the campaign reports once
(`report_counts.report_counts`) and reads, of each campaign, only the reports whose
counts moved since its entry: the email activity when its sent, open, click or bounce
counts moved, the unsubscribes when `unsubscribed` did, the abuse reports when
`abuse_reports` did; all three on its first pull, when the list misses it or one of the
counts to compare. A campaign whose counts all stand still costs no call.

Calls per pull: one campaign list per audience (per 1,000 campaigns) and one report
list (per 1,000 campaigns sent in the window, every audience together); then, of the
campaigns whose counts moved, one email-activity call per 1,000 active recipients since
its mark (at least one), one per 1,000 unsubscribes and one for the abuse reports, each
only for the counts that moved. The demo's world (130 sent campaigns, every one in the
default rules' window) took 391 calls for an incremental pull with nothing new, and
takes 2; a first pull takes 392 (the report list is the one more), and one more per
audience and 1,000 archived members once a page has activity (`archived`: the archived
members' activity is passed over).

Machine clicks: Mailchimp's report flags no click as a machine's (HubSpot's
`filteredEvent` has no counterpart), so the engine's filter (`scoring/filters.py`) does
the work, as for HubSpot: bursts need only the per-second click times, which the report
gives; "right after delivery" needs a send of the same campaign, and Mailchimp gives no
per-recipient delivery time, only the campaign's `send_time`, which the `email_sent`
activities carry. A click within the window after the start of sending is flagged; a
scanner's click on a mail delivered minutes into a large send is not.

Sources: the API reference as mailchimp-marketing 3.0.80 mirrors it in its docstrings
(`campaigns.list`: "since_send_time: Restrict the response to campaigns sent after the set
time"; `reports.get_email_activity_for_campaign`: "since: Restrict results to email
activity events that occur after a specific time", count "Maximum value is 1000");
https://mailchimp.com/developer/marketing/api/email-activity-reports/list-email-activity/
("Get a list of member's subscriber activity in a specific campaign"; its page is not in
our stored copies: the record fields `email_id`, `email_address`, `list_id`,
`activity[].action/type/timestamp/url` are as the emulator and third-party mirrors of the
reference give them, e.g. https://www.withone.ai/knowledge/mailchimp-marketing, "opens,
clicks, bounces"). That a bounce's `type` is "hard" or "soft" and that a report read
without `since` lists every recipient, active or not, has no first-party source here:
the second is how the sandbox behaves, and a report that listed only the active would
only give fewer sends.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import lru_cache, partial
from typing import Any

from connectors.mailchimp.collections_walk import (
    OVERLAP,
    PAGE_COUNT,
    MailchimpCalls,
    walk_collection,
    walk_side_by_side,
)
from connectors.mailchimp.departures import PART_OF, campaign_departures
from connectors.mailchimp.gate import CONNECTIONS
from connectors.mailchimp.keys import MC, member_hash
from connectors.mailchimp.report_counts import (
    ReportCounts,
    kept_counts,
    parts_to_read,
    report_counts,
)
from connectors.paging import SOURCE_ENDED, dump_cursor, interleave_tagged, load_cursor
from connectors.protocol import Page
from connectors.values import parse_time
from scoring.records import Activity, ActivityType

log = logging.getLogger(__name__)

EMAIL_ACTIVITY_STREAM = "email_activity"
SEEN_LIMIT = 2000
"""The most activity digests a campaign's cursor remembers from within the overlap."""
SEEN_DIGITS = 12
DEPARTURE_PARTS = frozenset(PART_OF.values())
"""The parts of a campaign read from its lists of departures (`departures.py`)."""

REPORT_ACTIONS: Mapping[str, ActivityType] = {
    "open": ActivityType.EMAIL_OPEN,
    "click": ActivityType.EMAIL_CLICK,
    "bounce": ActivityType.EMAIL_BOUNCE,
}
"""The email-activity report's actions; any other is skipped and counted."""


@dataclass(frozen=True)
class SentCampaign:
    """A sent campaign of one audience, as the campaign list gives it."""

    id: str
    list_id: str
    send_time: datetime
    title: str = ""

    @property
    def attributes(self) -> dict[str, Any]:
        """What each activity of the campaign carries of it (a fresh copy each time)."""
        return _campaign_attributes(self).copy()


@lru_cache(maxsize=1024)
def _campaign_attributes(campaign: SentCampaign) -> dict[str, Any]:
    """`SentCampaign.attributes`, made once per campaign; never handed out itself."""
    made: dict[str, Any] = {"campaign": campaign.id, "list_id": campaign.list_id}
    if campaign.title:
        made["campaign_title"] = campaign.title
    return made


_recipient_hash = lru_cache(maxsize=1 << 16)(member_hash)
"""`member_hash`, remembered: a recipient is met once in each campaign's report."""


def _iso_time(moment: datetime) -> str:
    """A time as Mailchimp's filters take it: ISO 8601 in UTC, to the second."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()


def sent_campaigns(
    api: MailchimpCalls, list_ids: Sequence[str], oldest: datetime | None
) -> list[SentCampaign]:
    """The sent campaigns of the audiences, oldest first; none sent before `oldest`."""
    found: dict[str, SentCampaign] = {}
    for list_id in list_ids:
        filters: dict[str, Any] = {"list_id": list_id, "status": "sent"}
        if oldest is not None:
            filters["since_send_time"] = _iso_time(oldest)
        for items in walk_collection(api, "campaigns.list", "campaigns", **filters):
            for item in items:
                campaign = _campaign_of(item, list_id)
                if campaign is not None and (oldest is None or campaign.send_time >= oldest):
                    found.setdefault(campaign.id, campaign)
    return sorted(found.values(), key=lambda c: (c.send_time, c.id))


def _campaign_of(item: Any, list_id: str) -> SentCampaign | None:
    """One entry of the campaign list, or None without an id or a send time."""
    if not isinstance(item, Mapping) or not isinstance(item.get("id"), str) or not item["id"]:
        return None
    sent = parse_time(item.get("send_time"))
    if sent is None:
        return None
    settings = item.get("settings")
    title = settings.get("title") if isinstance(settings, Mapping) else None
    return SentCampaign(item["id"], list_id, sent, title if isinstance(title, str) else "")


ActionParts = tuple[ActivityType, datetime, str, dict[str, Any]]
"""One activity of a recipient: (kind, time, id suffix, attributes of its own)."""


def report_activities(
    campaign: SentCampaign, record: Any, skipped: Counter[str], *, sends: bool
) -> list[Activity]:
    """The activities of one email-activity record (one recipient of `campaign`).

    Takes anything: a record without an address gives nothing and counts as skipped
    ("record"), as does each action of an unknown kind ("action") or without a time
    ("time"). With `sends`, the recipient also gets an `email_sent` at the send time.
    """
    if type(record) is not dict and not isinstance(record, Mapping):
        skipped["record"] += 1
        return []
    email = record.get("email_address")
    address = email.strip() if isinstance(email, str) else ""
    if not address:
        skipped["record"] += 1
        return []
    prefix = f"mc:{campaign.id}:{_recipient_hash(address)}:"
    base = _campaign_attributes(campaign)
    made: list[ActionParts] = (
        [(ActivityType.EMAIL_SENT, campaign.send_time, "sent", {})] if sends else []
    )
    actions = record.get("activity")
    for action in actions if isinstance(actions, list) else ():
        parts = _action_parts(action, skipped)
        if parts is not None:
            made.append(parts)
    return [
        Activity(
            "",
            kind,
            at,
            id=prefix + ident,
            attributes={**base, **extra} if extra else base.copy(),
            source=MC,
            contact_email=address,
        )
        for kind, at, ident, extra in made
    ]


def _action_parts(action: Any, skipped: Counter[str]) -> ActionParts | None:
    """One action of a record as (kind, time, id suffix, attributes of its own); None when
    skipped."""
    if type(action) is not dict and not isinstance(action, Mapping):
        skipped["action"] += 1
        return None
    name = action.get("action")
    kind = REPORT_ACTIONS.get(name) if isinstance(name, str) else None
    if kind is None:
        skipped["action"] += 1
        return None
    at = parse_time(action.get("timestamp"))
    if at is None:
        skipped["time"] += 1
        return None
    extra: dict[str, Any] = {}
    ident = f"{name}:{int(at.timestamp())}"
    if kind is ActivityType.EMAIL_CLICK:
        url = action.get("url")
        if isinstance(url, str) and url:
            extra["url"] = url
            ident = f"{ident}:{url}"
    elif kind is ActivityType.EMAIL_BOUNCE:
        extra["bounce_type"] = "hard" if str(action.get("type") or "").lower() == "hard" else "soft"
    return kind, at, ident, extra


ACTIVITY_FIELDS = ["emails.email_address", "emails.activity", "total_items"]
"""What a report page is read for (its `fields`, which the endpoint takes: "A
comma-separated list of fields to return", mailchimp-marketing 3.0.80's docstring of
`get_email_activity_for_campaign`: "Reference parameters of sub-objects with dot
notation"): each recipient's address and actions, and the count the pages
read side by side are planned by. A page comes at about half the size."""


def campaign_pages(
    api: MailchimpCalls, campaign: SentCampaign, since: datetime | None, skipped: Counter[str]
) -> Iterator[list[Activity]]:
    """Each report page of `campaign` as its activities, from `since` less `OVERLAP`; with
    no `since`, the whole report and every recipient's send. An activity met twice in one
    read (offset paging over a report that grows) is given once."""
    seen: set[str | None] = set()
    since_text = {} if since is None else {"since": _iso_time(since - OVERLAP)}
    operation = "reports.get_email_activity_for_campaign"
    walk = walk_side_by_side(
        api, operation, "emails", campaign.id, fields=ACTIVITY_FIELDS, **since_text
    )
    for records in walk:
        fresh: list[Activity] = []
        for record in records:
            for activity in report_activities(campaign, record, skipped, sends=since is None):
                ident = activity.id
                if ident not in seen:
                    seen.add(ident)
                    fresh.append(activity)
        yield fresh


def _seen_mark(activity: Activity) -> str:
    """A short digest of an activity's id, as the cursor remembers it."""
    return hashlib.sha1(str(activity.id).encode()).hexdigest()[:SEEN_DIGITS]


@dataclass
class CampaignMark:
    """Where the next read of one campaign starts, what it has already seen there, and
    the report counts it was read at (`report_counts.py`)."""

    since: datetime
    seen: frozenset[str] = frozenset()
    counts: ReportCounts = field(default_factory=dict)

    @classmethod
    def load(cls, raw: Any) -> CampaignMark | None:
        """A stored mark, or None when there is none (or it is not one)."""
        since = parse_time(raw.get("since")) if isinstance(raw, Mapping) else None
        if since is None:
            return None
        seen = raw.get("seen")
        kept = [s for s in seen if isinstance(s, str)] if isinstance(seen, list) else []
        return cls(since, frozenset(kept), kept_counts(raw.get("counts")))

    def dump(self) -> dict[str, Any]:
        return {"since": _iso_time(self.since), "seen": sorted(self.seen), "counts": self.counts}


def _new_activities(
    activities: list[Activity], before: frozenset[str], read: list[tuple[datetime, Activity]]
) -> list[Activity]:
    """Those of `activities` not in `before`; each one, with its time, added to `read`,
    sends apart (they are not activity to resume from). A digest is made only to look
    one up in `before` (none on a first read): the mark keeps those of the last
    `OVERLAP` alone (`CampaignReading.new_mark`)."""
    read.extend((a.occurred_at, a) for a in activities if a.type is not ActivityType.EMAIL_SENT)
    if not before:
        return list(activities)
    return [a for a in activities if _seen_mark(a) not in before]


ReportWalk = Callable[[], Iterable[list[Activity]]]
"""A walk of one part of a campaign's reports: its pages, as activities."""


@dataclass
class CampaignReading:
    """One campaign being read, by walks side by side (its email-activity report and each
    list of departures among its `parts`): what they gave so far, and its new mark once
    every walk has ended."""

    campaign: SentCampaign
    mark: CampaignMark | None
    parts: frozenset[str]
    counts: ReportCounts | None
    """The report list's counts the new mark holds (none when it had none)."""
    walks: int = 0
    """Walks not ended yet."""
    read: list[tuple[datetime, Activity]] = field(default_factory=list)
    held: list[Activity] = field(default_factory=list)
    """The last page of new activity, held back to carry the cursor if it is the last."""

    @property
    def since(self) -> datetime | None:
        return self.mark.since if self.mark is not None else None

    @property
    def before(self) -> frozenset[str]:
        """The digests of what the old mark had already read."""
        return self.mark.seen if self.mark is not None else frozenset()

    def sources(self, api: MailchimpCalls) -> list[tuple[ReportWalk, Counter[str]]]:
        """The walks that read this campaign's parts, each giving pages of activities,
        and what each passes over (one count per walk: each runs in a thread of its own)."""
        campaign, since = self.campaign, self.since
        found: list[tuple[ReportWalk, Counter[str]]] = []
        if "activity" in self.parts:
            skipped: Counter[str] = Counter()
            found.append((partial(campaign_pages, api, campaign, since, skipped), skipped))
        # the departure lists take no time filter: what is older than the overlap is known
        floor = since - OVERLAP if since is not None else None
        for part in sorted(self.parts & DEPARTURE_PARTS):
            passed: Counter[str] = Counter()

            def departures(part: str = part, passed: Counter[str] = passed) -> list[list[Activity]]:
                left = campaign_departures(api, campaign, passed, {part})
                return [[a for a in left if floor is None or a.occurred_at >= floor]]

            found.append((departures, passed))
        return found

    def take(self, activities: list[Activity]) -> list[Activity] | None:
        """A walk's page: what is new in it is held back; the page held before (None when
        none or empty) is given to hand over."""
        given, self.held = self.held, _new_activities(activities, self.before, self.read)
        return given or None

    def new_mark(self) -> CampaignMark:
        """The mark once every walk has ended: the latest action time read (or the old
        mark, or the send time), with the activities read within `OVERLAP` before it.
        Its time moves only when the email-activity report was read: that report is what
        it is the bound of, and a report skipped must be read from where it was left."""
        start = self.since or self.campaign.send_time
        reported = "activity" in self.parts
        latest = max([start, *(at for at, _ in self.read)]) if reported else start
        recent = frozenset(_seen_mark(a) for at, a in self.read if at >= latest - OVERLAP)
        if not reported:
            recent |= self.before
        # the overlap is read again next time; past the limit the store's ids still keep one
        kept = recent if len(recent) <= SEEN_LIMIT else frozenset()
        return CampaignMark(latest, kept, dict(self.counts or {}))

    def weight(self) -> int:
        """The report pages its read is expected to take: its first read lists every
        recipient; a later one only those active since, which no count tells."""
        if "activity" not in self.parts or self.mark is not None:
            return 1
        sent = (self.counts or {}).get("emails_sent", 0)
        return max(1, math.ceil(int(sent) / PAGE_COUNT))


READERS = 2 * CONNECTIONS
"""Walks read at once: enough that the connections stay busy while each walk waits on
its first page (a report's later pages are read side by side within its walk)."""


def pull_email_activity(
    api: MailchimpCalls,
    list_ids: Sequence[str],
    cursor: str | None,
    oldest: datetime | None,
    *,
    skipped: Counter[str] | None = None,
) -> Iterator[Page]:
    """Pages of the "email_activity" stream of the audiences `list_ids` since `cursor`.

    Each campaign to read is read by walks side by side (`CampaignReading.sources`; the
    campaigns expected to take the most pages first, so that the pull does not end on
    one long report), their pages handed over as they come (`interleave_tagged`). The
    page that ends a campaign (its last, held back until all its walks have ended)
    carries the cursor with that campaign moved on: the others' entries as they were,
    those whose counts all stood still with their counts, those before `oldest`
    dropped. `skipped` counts the records and actions passed over.
    """
    counts: Counter[str] = Counter() if skipped is None else skipped
    previous = load_cursor(cursor).get("campaigns")
    stored = previous if isinstance(previous, dict) else {}
    campaigns = sent_campaigns(api, list_ids, oldest)
    reported = report_counts(api, oldest) if campaigns else {}
    marks = {c.id: m for c in campaigns if (m := CampaignMark.load(stored.get(c.id)))}
    readings: list[CampaignReading] = []
    for campaign in campaigns:
        mark, now = marks.get(campaign.id), reported.get(campaign.id)
        parts = parts_to_read(mark.counts if mark is not None else None, now)
        if mark is not None and not parts:  # nothing moved: no call for this campaign
            marks[campaign.id] = replace(mark, counts=dict(now or {}))
        else:
            readings.append(CampaignReading(campaign, mark, parts, now))
    readings.sort(key=lambda r: -r.weight())  # stable: in send order otherwise
    sources: list[ReportWalk] = []
    owners: list[tuple[CampaignReading, Counter[str]]] = []
    for reading in readings:
        walks = reading.sources(api)
        reading.walks = len(walks)
        sources += [walk for walk, _ in walks]
        owners += [(reading, passed) for _, passed in walks]
    said: dict[str, Any] | None = None  # the entries of the last cursor given
    # closed here: a pull cut short stops its walks now, not when it is collected
    with contextlib.closing(interleave_tagged(sources, READERS)) as walked:
        for index, item in walked:
            reading, passed = owners[index]
            if item is not SOURCE_ENDED:
                given = reading.take(item)  # type: ignore[arg-type]
                if given:
                    yield Page(EMAIL_ACTIVITY_STREAM, activities=given)
                continue
            counts.update(passed)
            reading.walks -= 1
            if reading.walks:
                continue
            marks[reading.campaign.id] = reading.new_mark()
            said = {c: m.dump() for c, m in marks.items()}
            last, reading.held = reading.held, []
            yield Page(EMAIL_ACTIVITY_STREAM, activities=last, cursor=dump_cursor(campaigns=said))
    entries = {c: m.dump() for c, m in marks.items()}
    if entries != said:  # campaigns passed over since (or none read): the cursor once more
        yield Page(EMAIL_ACTIVITY_STREAM, activities=[], cursor=dump_cursor(campaigns=entries))
    if counts:
        log.warning("Mailchimp email activity passed over: %s", dict(sorted(counts.items())))
