"""The model `bench/scale.py` runs: one tenant's sync on each system and tier, from the
connectors' page and batch sizes, the vendors' limits and figures measured on sandbox
syncs, each with its source beside it."""

from __future__ import annotations

import math
from dataclasses import dataclass

from connectors.hubspot.engagements import ASSOCIATION_BATCH, LIST_PAGE, SEARCH_PAGE
from connectors.hubspot.fetch import BATCH_READ
from connectors.hubspot.forms import SUBMISSIONS_PAGE
from connectors.hubspot.limits import hubspot_daily_budget, hubspot_limits
from connectors.hubspot.pull import EVENTS_PAGE
from connectors.hubspot.write import BATCH as HUBSPOT_BATCH
from connectors.mailchimp.batch import BATCH_OPERATIONS
from connectors.mailchimp.collections_walk import PAGE_COUNT
from connectors.mailchimp.gate import CONNECTIONS
from connectors.mailchimp.pull import OVERLAP_MEMBERS
from connectors.mailchimp.pull import PAGE as MEMBERS_PAGE
from connectors.mailchimp.settings import MailchimpSettings
from connectors.salesforce.bulk_query import RESULTS_PAGE
from connectors.salesforce.bulk_write import JOB_CALLS
from connectors.salesforce.fetch import QUERIES_AT_ONCE
from connectors.salesforce.settings import SalesforceSettings
from connectors.salesforce.soql import IN_CHUNK
from connectors.salesforce.write import COLLECTION
from connectors.system import SystemSettings
from sync.gone_check import PER_CALL, GoneCheck

HOUR, DAY = 3600.0, 86_400.0
SIZES = (10_000, 100_000, 1_000_000, 5_000_000)
"""Contacts per tenant in the per-tier tables."""

# --- the connectors' and the sync's own settings (defaults) -------------------------------
PER_RUN = SystemSettings.model_fields["budget_per_run"].default  # 0.25 of the day a run
IN_ALL = SystemSettings.model_fields["budget_in_all"].default  # 0.8: past it no run calls
BULK_QUERY_ABOVE = SalesforceSettings.model_fields["bulk_query_above"].default  # 10,000
BULK_WRITE_ABOVE = SalesforceSettings.model_fields["bulk_write_above"].default  # 10,000
BATCH_WRITE_ABOVE = MailchimpSettings.model_fields["batch_write_above"].default  # 20
GONE = GoneCheck()  # every known id read back within 7 days, at most 100 calls a run
GONE_IDS_PER_RUN = max(1, GONE.max_calls // 2) * PER_CALL  # sync/gone_check.py's bound
SF_QUERY_PAGE = 2000
"""Records per REST query page: Salesforce's default and largest batchSize
(developer.salesforce.com, REST API "Query Options Header"; VENDOR-FACTS 2.2)."""
SF_WRITERS = 4
"""Collections calls in flight (bench/salesforce_sync.py: the connector's 4 workers)."""

# --- the vendors' limits ----------------------------------------------------------------
HUBSPOT_TIERS = ("starter", "professional", "enterprise", "enterprise+api_addon", "oauth")
"""Private-app tiers and a public OAuth app: per-10-s and daily limits from
connectors/hubspot/limits.py (HubSpot "API usage guidelines and limits": 100 per 10 s on
Free/Starter, 190 on Professional/Enterprise, 250 with the API limit increase; 250,000,
625,000, 1,000,000 a day, +1,000,000 with the increase; search 5 a second of its own,
exempt from the window; an OAuth app 110 per 10 s per portal and no daily limit)."""
SF_BASE, SF_DEVELOPER = 100_000, 15_000
SF_PER_LICENCE = {"enterprise": 1_000, "unlimited": 5_000}
"""Salesforce's daily API requests, rolling 24 h: 100,000 + licences x 1,000 (Enterprise,
Professional with API access) or x 5,000 (Unlimited, Performance); Developer Edition
15,000 (developer.salesforce.com, "API Request Limits and Allocations", the app-limits
cheat sheet; VENDOR-FACTS 2.5). Bulk API 2.0 requests count against it too."""
SF_BULK_BATCHES, SF_BULK_RECORDS, SF_BULK_BATCH = 15_000, 150_000_000, 10_000
"""Bulk API 2.0 ingest: 15,000 batches a rolling 24 h (shared with Bulk v1), 150 M records,
a batch per 10,000 records ("Bulk API 2.0 limits"; VENDOR-FACTS 2.3)."""
MC_LATENCY_DEFAULT = 0.25
"""Seconds a Mailchimp call takes: an assumption (VENDOR-FACTS 0: "at an assumed 250 ms");
with its 10 connections (`gate.CONNECTIONS`, "10 concurrent connections" per key,
Mailchimp's API fundamentals) the only limit it has: no daily quota."""
MC_BATCH_PACE = 1000.0
"""Operations a /batches job runs a second: the sandbox's assumption (Mailchimp documents
none; sandbox/mailchimp/state.py)."""

# --- measured -----------------------------------------------------------------------------
QUIET_CALLS = {"hubspot": 21, "salesforce": 12, "mailchimp": 9}
"""Calls of an incremental run with nothing new, writes and the check of known ids left
out (`bench/scale_measure.py --people 2000`, 2026-12-03): HubSpot the two contact
searches, email events, 4 engagement searches and their 4 association reads, the
archived list, pipelines, forms and each of the portal's 5 forms' first page, the setup
check's 2 lists; Salesforce 11 queries (every stream once) and the limits read;
Mailchimp merge fields, 4 member reads, stores, orders, campaigns and reports lists."""
FULL_OVERHEAD = {"hubspot": 7, "salesforce": 7, "mailchimp": 6}
"""Calls of a full sync beside its pages, its writes and the check of known ids (the same
measurement): HubSpot the setup check's 2 lists, pipelines, 2 pages of forms, the
archived list, the web events probe; Salesforce 6 describes and the limits; Mailchimp
merge fields, stores, orders, campaigns and reports lists, segments."""
HUBSPOT_MIX = {"email": 383_823, "engagements": 59_149, "deals": 5_881, "forms": 818 * 50}
"""Activities of 48,969 HubSpot contacts by stream (README *Performance*, the full HubSpot
sync of the sandbox's world: email events, meetings + calls + emails, deals, 818 pages of
50 form submissions): 10.0 a contact, 78 % of them email events."""
HUBSPOT_MEASURED = (48_969, 2_609, 1.142)
"""That sync: contacts, calls made, and its wall time against the rate bound (load 1)."""
SQLITE_BYTES = {"person": 94.0 + 360.1 + 669.1, "activity": 267.9, "history": 176.9}
POSTGRES_BYTES = {"person": 485.4 + 589.2 + 833.2, "activity": 340.3, "history": 257.8}
"""Bytes per row, indexes included, of a store a sandbox sync filled
(`bench/scale_measure.py --people 20000`, 2026-12-03: 20,000 people, 36,967 records of
three systems, 476,028 activities, about 21,000 history rows; SQLite by `dbstat` pages,
PostgreSQL 15 by `pg_total_relation_size` after VACUUM ANALYZE, so with the dead rows'
space the sync's updates of `persons` leave, as a live server has). A person is its
`persons` row with one `identities` and one `written` row (one system per tenant here)."""
LOCAL_FULL = ((100_000, 21.9, 567.0), (1_000_000, 300.1, 3275.0))
"""A full local pass (store read, score, plan), measured by `bench/due.py`: people, CPU
seconds, peak MB with the reading worker (README *Performance*; 18.9 activities a
person, SQLite, load 1 to 18 at 1 M). Straight lines through the two points."""
LOCAL_QUIET = 1.8
"""CPU seconds of an incremental pass with nothing new (bench/due.py, 1 M people)."""


@dataclass(frozen=True)
class Assumptions:
    activities_per_contact: float = 10.0
    """Activities a contact already has when first synced (HUBSPOT_MIX: 10.0)."""
    activity_per_day: float = 0.05
    """New activities per contact per day (one every 20 days)."""
    change_rate: float = 0.02
    """Share of contacts whose record changes in a day."""
    written_share: float = 0.5
    """Share of the contacts rescored on new data whose written values change."""
    decay_share: float = 0.01
    """Share of contacts a day whose written values change by decay alone."""
    runs_per_day: int = 96
    """Incremental runs a day (every 15 minutes)."""
    full_every_days: float = 7.0
    """Days between full passes (`leadscore sync --full`)."""
    full_window_hours: float = 8.0
    """Hours a full pass should fit in (a night)."""
    worker_memory_gb: float = 4.0
    """Memory of one worker (the README's goal for a full pass: under 4 GB)."""
    days_kept: float = 365.0
    """Days of activity and score history the store holds (retention, or a year's growth)."""
    campaigns_per_week: float = 2.0
    """Mailchimp campaigns sent to the whole audience a week."""
    window_days: float = 120.0
    """The rules' longest window (default.yaml: 120 days): campaigns a full pull reads."""
    sf_latency: float = 0.5
    """Seconds a Salesforce REST call takes (an assumption; no per-second limit)."""
    sf_bulk_rate: float = 2000.0
    """Records a second a Bulk API 2.0 job processes (an assumption: undocumented; the
    org's 150 M records a day average 1,736 a second)."""
    mc_latency: float = MC_LATENCY_DEFAULT


@dataclass
class Load:
    """One tenant's sync on one system and tier."""

    system: str
    tier: str
    contacts: int
    full_calls: float
    full_hours: float
    run_calls: float
    run_minutes: float
    day_calls: float
    daily_limit: float | None
    checks: dict[str, bool]
    """Each limit's name, and whether the tenant passes it."""


def pages(count: float, size: int, least: int = 1) -> float:
    return max(least, math.ceil(count / size))


def touched(n: int, a: Assumptions) -> float:
    """Contacts a day with new data (a changed record or a new activity)."""
    return n * (1 - (1 - a.change_rate) * math.exp(-a.activity_per_day))


def written_per_day(n: int, a: Assumptions) -> float:
    return min(n, touched(n, a) * a.written_share + n * a.decay_share)


def local_seconds(n: int) -> float:
    """CPU of a full local pass: the line through the two measurements, in proportion
    below the first."""
    (n0, s0, _), (n1, s1, _) = LOCAL_FULL
    return s0 * n / n0 if n < n0 else s0 + (s1 - s0) * (n - n0) / (n1 - n0)


def local_mb(n: int) -> float:
    """Peak memory of a full local pass: the line through the two measurements."""
    (n0, _, m0), (n1, _, m1) = LOCAL_FULL
    return m0 + (m1 - m0) * (n - n0) / (n1 - n0)


def common_checks(n: int, a: Assumptions, full_hours: float, run_minutes: float) -> dict[str, bool]:
    return {
        "full pass fits its window": full_hours <= a.full_window_hours,
        "incremental run fits its interval": run_minutes <= 24 * 60 / a.runs_per_day,
        "full pass fits a worker's memory": local_mb(n) <= a.worker_memory_gb * 1024,
    }


def budget_checks(
    day_calls: float, full_calls: float, run_calls: float, limit: float | None
) -> dict[str, bool]:
    if limit is None:
        return {}
    return {
        "day's calls within the daily share (80 %)": day_calls <= IN_ALL * limit,
        "full pass within one run's share (25 %)": full_calls <= PER_RUN * limit,
        "incremental run within one run's share": run_calls <= PER_RUN * limit,
    }


def gone_check(n: int, a: Assumptions) -> bool:
    """Whether the check of known ids reads every id within its days at its per-run bound."""
    return n / GONE.days <= GONE_IDS_PER_RUN * a.runs_per_day


def hubspot(n: int, tier: str, a: Assumptions) -> Load:
    window, search = hubspot_limits(tier)
    rate, search_rate = window.window.limit / 10.0, float(search.window.limit)
    limit = hubspot_daily_budget(tier).limit
    share = {k: v / sum(HUBSPOT_MIX.values()) for k, v in HUBSPOT_MIX.items()}
    held = {k: n * a.activities_per_contact * v for k, v in share.items()}
    # A full pull (bench/hubspot_sync.py `stream_calls`): contacts by search, 200 a page,
    # and the newest change; email events 1,000 a page; meetings, calls, emails and deals
    # listed 100 a page; form submissions 50 a page; a batch update per 100 written.
    searches = pages(n, SEARCH_PAGE) + 1
    lists = (
        pages(held["email"], EVENTS_PAGE)
        + 3 * pages(held["engagements"] / 3, LIST_PAGE)
        + pages(held["deals"], LIST_PAGE)
        + pages(held["forms"], SUBMISSIONS_PAGE)
        + pages(n, HUBSPOT_BATCH)
        + FULL_OVERHEAD["hubspot"]
    )
    full_calls = searches + lists
    bound = max(lists / rate, searches / search_rate) * HUBSPOT_MEASURED[2]
    full_hours = (bound + local_seconds(n)) / HOUR
    # An incremental run: the quiet run's calls, and the pages past each stream's first
    # that a run's share of the day's changes adds: changed contacts, new email events,
    # engagements (4 types searched 200 a page, their contacts read 1,000 a batch),
    # submissions, the writes, the check of known ids (a batch read per 100).
    r = a.runs_per_day
    new = {k: n * a.activity_per_day * v / r for k, v in share.items()}
    run_searches = (
        1 + pages(touched(n, a) / r, SEARCH_PAGE) + 4 * pages(new["engagements"] / 4, SEARCH_PAGE)
    )
    run_lists = (
        QUIET_CALLS["hubspot"]
        - 6  # its searches, counted above
        + pages(new["email"], EVENTS_PAGE)
        - 1
        + max(0, pages(new["engagements"], ASSOCIATION_BATCH) - 4)
        + pages(new["forms"], SUBMISSIONS_PAGE)
        - 1
        + pages(written_per_day(n, a) / r, HUBSPOT_BATCH, 0)
        + pages(min(n / GONE.days, GONE_IDS_PER_RUN * r) / r, BATCH_READ, 0)
    )
    run_calls = run_searches + run_lists
    run_seconds = max(run_lists / rate, run_searches / search_rate) + LOCAL_QUIET
    day_calls = run_calls * r + full_calls / a.full_every_days
    checks = {
        **budget_checks(day_calls, full_calls, run_calls, limit),
        **common_checks(n, a, full_hours, run_seconds / 60),
        "known ids read back within 7 days": gone_check(n, a),
    }
    return Load(
        "HubSpot",
        tier,
        n,
        full_calls,
        full_hours,
        run_calls,
        run_seconds / 60,
        day_calls,
        limit,
        checks,
    )


def salesforce_limit(tier: str, licences: int) -> int:
    if tier == "developer":
        return SF_DEVELOPER
    return SF_BASE + SF_PER_LICENCE[tier] * licences


def sf_read(records: float, a: Assumptions, *, full: bool) -> tuple[float, float]:
    """(calls, seconds) of one stream's pull: a Bulk API 2.0 query job above
    `bulk_query_above` on a full pull (create, a poll, a results page per 50,000), else
    REST pages of 2,000."""
    if full and records > BULK_QUERY_ABOVE:
        calls = 2 + pages(records, RESULTS_PAGE)
        return calls, records / a.sf_bulk_rate + calls * a.sf_latency
    calls = pages(records, SF_QUERY_PAGE)
    return calls, calls * a.sf_latency


def sf_write(records: float, a: Assumptions) -> tuple[float, float]:
    """(calls, seconds) of writing: above `bulk_write_above` two Bulk API 2.0 jobs (Leads,
    Contacts: `JOB_CALLS` each), else sObject Collections of 200, 4 in flight."""
    if records > BULK_WRITE_ABOVE:
        return 2 * JOB_CALLS, records / a.sf_bulk_rate + 2 * JOB_CALLS * a.sf_latency
    calls = pages(records, COLLECTION, 0)
    return calls, calls * a.sf_latency / SF_WRITERS


def salesforce(n: int, tier: str, a: Assumptions, licences: int = 50) -> Load:
    limit = salesforce_limit(tier, licences)
    # Streams: Leads and Contacts (half each), and the activity over 4 objects (campaign
    # members, tasks, events, won opportunities with their roles), read 4 at a time.
    streams = [n / 2, n / 2] + [n * a.activities_per_contact / 4] * 4
    reads = [sf_read(s, a, full=True) for s in streams]
    write_calls, write_seconds = sf_write(n, a)
    full_calls = sum(c for c, _ in reads) + write_calls + FULL_OVERHEAD["salesforce"]
    read_seconds = sum(s for _, s in reads) / QUERIES_AT_ONCE
    full_hours = (read_seconds + write_seconds + local_seconds(n)) / HOUR
    r = a.runs_per_day
    new = [touched(n, a) / r / 2] * 2 + [n * a.activity_per_day / r / 4] * 4
    extra = sum(sf_read(s, a, full=False)[0] - 1 for s in new)
    run_write_calls, run_write_seconds = sf_write(written_per_day(n, a) / r, a)
    gone = pages(min(n / GONE.days, GONE_IDS_PER_RUN * r) / r, IN_CHUNK, 0)
    run_calls = QUIET_CALLS["salesforce"] + extra + run_write_calls + gone
    run_seconds = (
        (run_calls - run_write_calls) * a.sf_latency / QUERIES_AT_ONCE
        + run_write_seconds
        + LOCAL_QUIET
    )
    day_calls = run_calls * r + full_calls / a.full_every_days
    # Bulk API batches a day: the full pass's writes, and a run's when they go by job.
    run_written = written_per_day(n, a) / r
    batches = math.ceil(n / SF_BULK_BATCH) / a.full_every_days
    if run_written > BULK_WRITE_ABOVE:
        batches += r * math.ceil(run_written / SF_BULK_BATCH)
    checks = {
        **budget_checks(day_calls, full_calls, run_calls, limit),
        **common_checks(n, a, full_hours, run_seconds / 60),
        "known ids read back within 7 days": gone_check(n, a),
        "Bulk API batches and records within a day's": batches <= SF_BULK_BATCHES
        and n <= SF_BULK_RECORDS,
    }
    name = f"{tier} ({licences} licences)" if tier != "developer" else tier
    return Load("Salesforce", name, n, full_calls, full_hours, run_calls, run_seconds / 60,
                day_calls, limit, checks)  # fmt: skip


def mc_write(members: float) -> tuple[float, float]:
    """(calls, operations in batches): above `batch_write_above` /batches of 10,000
    operations (start, status, results each) and the segments read, two operations a
    member (merge fields, tags); else two calls a member."""
    if members > BATCH_WRITE_ABOVE:
        return 3 * pages(2 * members, BATCH_OPERATIONS) + 1, 2 * members
    return 2 * members, 0.0


def mailchimp(n: int, tier: str, a: Assumptions) -> Load:
    campaigns = a.campaigns_per_week * a.window_days / 7
    member_pages = pages(n, MEMBERS_PAGE - OVERLAP_MEMBERS) + 1
    # Per campaign: its email-activity report (1,000 recipients a call: the whole
    # audience), its unsubscribes and its abuse reports.
    reports = campaigns * (pages(n, PAGE_COUNT) + 2)
    write_calls, operations = mc_write(n)
    full_calls = member_pages + reports + write_calls + FULL_OVERHEAD["mailchimp"]
    full_seconds = (full_calls * a.mc_latency / CONNECTIONS + operations / MC_BATCH_PACE
                    + local_seconds(n))  # fmt: skip
    r = a.runs_per_day
    # A run: the quiet calls, changed members, and per campaign sent in the last week its
    # new activity (a report read since its cursor), unsubscribes and abuse reports; a
    # campaign's first read takes the whole audience's report once.
    recent = a.campaigns_per_week
    new_reads = a.campaigns_per_week / 7 * pages(n, PAGE_COUNT) / r
    run_write_calls, run_operations = mc_write(written_per_day(n, a) / r)
    run_calls = (
        QUIET_CALLS["mailchimp"]
        + pages(touched(n, a) / r, MEMBERS_PAGE, 0)
        + recent * 3
        + new_reads
        + run_write_calls
    )
    run_seconds = run_calls * a.mc_latency / CONNECTIONS + run_operations / MC_BATCH_PACE
    run_seconds += LOCAL_QUIET
    day_calls = run_calls * r + full_calls / a.full_every_days
    checks = common_checks(n, a, full_seconds / HOUR, run_seconds / 60)
    return Load("Mailchimp", tier, n, full_calls, full_seconds / HOUR, run_calls,
                run_seconds / 60, day_calls, None, checks)  # fmt: skip
