"""Benchmark of the batch engine against a hand-written plain numpy baseline.

    .venv/bin/python bench/engine.py                       # 1M contacts, 10M activities
    .venv/bin/python bench/engine.py --contacts 100000 --activities 1000000

What it does:

1. Generates a synthetic, seeded columnar data set directly with numpy: companies
   with industry, country and head count; contacts with job function, seniority,
   lifecycle stage and an email address at their company's domain, a free-mail
   domain or (rarely) a competitor's; and about two years of activities ending at
   `AS_OF` (a few fall after it, as late or clock-skewed events do): campaign email
   sends, and the opens, clicks, bounces, unsubscribes and spam reports that follow
   them (with the send's `campaign`, ~500 campaigns), page views over ~200 URLs,
   content downloads, forms, demo requests, meetings and the rest. Rows are in
   time order, like an event log.
2. Times `scoring.score` with `bench/rules_realistic.yaml` (best of --repeat).
3. Times `baseline`: the same arithmetic for the same rule set, written once by
   hand in plain numpy with the rules hard-coded. It is the "physical limit" of
   plain numpy, written straightforwardly: it groups the usable rows by activity
   type once (as the engine does), but it does not use tricks the engine could
   not (no knowledge of how the data were generated).
4. Checks that both give the same totals (and dimensions and disqualifications)
   for every contact, and exits 1 if they do not.

Machine clicks. The engine drops, by default, email clicks made less than 10 s
after the email_sent of the same campaign to the same contact, and clicks in a
burst of more than 2 by one contact within one second. This benchmark does NOT
avoid such clicks: real data hold them (mail gateways and link scanners), so the
generator plants about 6% scanner clicks 0.2-9 s after delivery and about 2% in
bursts of three within a second, and the baseline applies the same filter in
plain numpy (with the default thresholds hard-coded). Both sides therefore pay
for the filter, and the totals check covers it.

What the baseline does not do: the engine also keeps every rule's points and
match count per contact (for explanations), the stage ladder and the grades;
the baseline computes only what the totals need, plus the disqualification flag.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import re
import resource
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import numpy as np
import numpy.typing as npt

import scoring
from scoring.filters import machine_clicks as engine_machine_clicks
from scoring.frames import (
    ActivityFrame,
    CategoricalColumn,
    Column,
    ContactFrame,
    NumericColumn,
)
from scoring.records import ACTIVITY_TYPES, ActivityType

RULES_PATH = Path(__file__).with_name("rules_realistic.yaml")
AS_OF = datetime(2025, 11, 1, 12, 0, tzinfo=UTC)
DAY = 86_400.0
HOUR = 3_600.0
CODE = {t: i for i, t in enumerate(ACTIVITY_TYPES)}
A = ActivityType
IntArray = npt.NDArray[np.int32]
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

# --- the synthetic data set ---------------------------------------------------------------

# fmt: off
# (value, weight); a few case variants, as CRMs hold them (conditions ignore case)
INDUSTRIES = [
    ("Software", 14), ("software", 2), ("SaaS", 6), ("Financial Services", 8),
    ("financial services", 1), ("Fintech", 3), ("Healthcare", 8), ("Manufacturing", 9),
    ("Retail", 7), ("Logistics", 4), ("Education", 6), ("Government", 3), ("Non-profit", 3),
    ("Media", 4), ("Telecommunications", 3), ("Energy", 3), ("Real Estate", 3),
    ("Consulting", 6), ("Insurance", 3), ("Hospitality", 2), ("Automotive", 2),
    ("Construction", 2), ("Legal", 1), ("Agriculture", 1),
]
COUNTRIES = [
    ("US", 30), ("us", 1), ("GB", 8), ("DE", 7), ("FR", 6), ("CA", 4), ("NL", 3), ("AU", 3),
    ("IN", 6), ("BR", 4), ("ES", 3), ("IT", 3), ("SE", 2), ("CH", 2), ("JP", 2), ("SG", 1),
    ("MX", 2), ("PL", 2), ("BE", 1), ("IE", 1), ("DK", 1), ("NO", 1), ("FI", 1), ("AT", 1),
    ("ZA", 1), ("AE", 1), ("CN", 2), ("KR", 1), ("IL", 1), ("AR", 1), ("RU", 1),
    ("BY", 0.2), ("IR", 0.1), ("KP", 0.01),
]
JOB_FUNCTIONS = [
    ("Engineering", 15), ("IT", 10), ("Operations", 8), ("Marketing", 15), ("Sales", 12),
    ("Finance", 6), ("HR", 5), ("Executive", 5), ("Product", 6), ("Customer Success", 4),
    ("Legal", 2), ("Student", 3), ("Consultant", 4), ("Other", 5),
]
SENIORITIES = [
    ("C-Level", 4), ("VP", 6), ("Director", 12), ("Manager", 25), ("Senior", 15),
    ("Individual Contributor", 30), ("Intern", 3),
]
LIFECYCLE = [("Lead", 8), ("MQL", 3), ("SQL", 2), ("Opportunity", 1), ("Customer", 1)]
FREE_DOMAINS = [
    ("gmail.com", 45), ("yahoo.com", 10), ("hotmail.com", 8), ("outlook.com", 8),
    ("icloud.com", 4), ("aol.com", 2), ("gmx.de", 3), ("web.de", 2), ("orange.fr", 2),
    ("yahoo.co.uk", 2), ("live.com", 2), ("protonmail.com", 1), ("qq.com", 2), ("mail.ru", 1),
]
COMPETITOR_DOMAINS = ["leadrival.com", "scorewise.io", "funnelforge.com", "pipemetric.com"]
STEMS = [
    "acme", "globex", "initech", "umbrella", "hooli", "vandelay", "soylent", "tyrell",
    "wonka", "cyberdyne", "massive", "stark", "wayne", "oscorp", "aperture", "gringotts",
    "nakatomi", "dunder", "pied", "monarch",
]
TLDS = [("com", 70), ("io", 8), ("co", 4), ("de", 5), ("fr", 4), ("co.uk", 5), ("net", 4)]
FIRST = ["anna", "ben", "chloe", "david", "emma", "farid", "grace", "hugo", "ines", "jon"]
LAST = ["smith", "martin", "muller", "garcia", "rossi", "nguyen", "kim", "silva", "dubois"]

# activity mix (share of all activities); opens, clicks, bounces, unsubscribes and
# spam reports follow sends of a campaign, the rest are drawn on their own
MIX = {
    A.EMAIL_SENT: 0.40, A.EMAIL_OPEN: 0.20, A.EMAIL_CLICK: 0.035, A.EMAIL_BOUNCE: 0.006,
    A.EMAIL_UNSUBSCRIBE: 0.003, A.EMAIL_SPAM_REPORT: 0.0003, A.PAGE_VIEW: 0.30,
    A.CONTENT_DOWNLOAD: 0.012, A.FORM_SUBMISSION: 0.008, A.NEWSLETTER_SIGNUP: 0.002,
    A.SOCIAL_CLICK: 0.015, A.QUESTION: 0.002, A.DEMO_REQUEST: 0.0012, A.MEETING: 0.0015,
    A.SALES_TOUCH: 0.01, A.QUOTE_SENT: 0.0005, A.PURCHASE: 0.0002,
}
SITE = "https://www.leadflow.example"
TOP_PAGES = ["/", "/pricing", "/product", "/demo", "/customers", "/features", "/blog/",
             "/pricing/enterprise", "/pricing/compare", "/integrations/", "/docs/", "/about",
             "/contact", "/careers", "/security", "/partners"]
PRODUCTS = ["scoring", "sync", "analytics", "workflows", "api", "segments", "alerts", "reports"]
FEATURES = ["decay", "grades", "stages", "bant", "webhooks", "sso", "audit-log", "sandbox"]
INTEGRATIONS = ["hubspot", "salesforce", "mailchimp", "slack", "zapier", "segment", "snowflake",
                "bigquery", "pipedrive", "zendesk", "intercom", "marketo", "outreach", "gong",
                "linkedin", "google-ads"]
# fmt: on
N_CAMPAIGNS = 500
SCANNER_SHARE = 0.06  # clicks by link scanners 0.2-9 s after delivery
BURST_SHARE = 0.02  # clicks in bursts of three within a second


def site_urls() -> list[str]:
    """200 distinct URLs, roughly from the most visited to the least."""
    paths = list(TOP_PAGES)
    paths += [f"/product/{p}" for p in PRODUCTS]
    paths += [f"/features/{p}" for p in FEATURES]
    paths += [f"/customers/story-{i}" for i in range(12)]
    paths += [f"/integrations/{p}" for p in INTEGRATIONS]
    paths += [f"/resources/ebook-{i}" for i in range(8)]
    paths += [f"/resources/report-{i}" for i in range(4)]
    paths += [f"/resources/webinar-{i}" for i in range(6)]
    paths += [f"/careers/job-{i}" for i in range(8)]
    paths += [f"/docs/page-{i}" for i in range(30)]
    paths += ["/legal/privacy", "/legal/terms", "/legal/dpa", "/status"]
    paths += [f"/blog/post-{i}" for i in range(200 - len(paths))]
    return [f"{SITE}{p}" for p in paths]


def weighted(
    rng: np.random.Generator, table: Sequence[tuple[str, float]], size: int, missing: float = 0.0
) -> IntArray:
    """Codes into `table`, drawn by weight, with a share of missing (-1)."""
    weights = np.array([w for _, w in table], dtype=np.float64)
    codes = rng.choice(len(table), size=size, p=weights / weights.sum()).astype(np.int32)
    if missing:
        codes[rng.random(size) < missing] = -1
    return codes


def categorical(codes: IntArray, values: list[str]) -> CategoricalColumn:
    categories = np.empty(len(values), dtype=object)
    categories[:] = values
    return CategoricalColumn(codes.astype(np.int32), categories)


@dataclass
class Dataset:
    contacts: ContactFrame
    activities: ActivityFrame
    as_of: datetime
    seconds_generate: float
    seconds_frames: float
    """ContactFrame.from_columns: derives email_domain and email_free (part of the library)."""


def generate(n: int, m: int, seed: int) -> Dataset:
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    as_of = AS_OF.timestamp()
    start = as_of - 730 * DAY

    # -- companies and contacts --
    n_companies = max(1, n // 5)
    industry = weighted(rng, INDUSTRIES, n_companies, missing=0.10)
    country = weighted(rng, COUNTRIES, n_companies, missing=0.05)
    employees = np.round(np.exp(rng.normal(4.0, 1.9, n_companies))).clip(1, 500_000)
    employees[rng.random(n_companies) < 0.12] = np.nan
    stem = rng.integers(0, len(STEMS), n_companies).tolist()
    tld = weighted(rng, TLDS, n_companies).tolist()
    company_domains = [f"{STEMS[stem[i]]}{i}.{TLDS[tld[i]][0]}" for i in range(n_companies)]
    company = (n_companies * rng.random(n) ** 1.5).astype(np.int64)  # a few big accounts

    address = rng.random(n)  # what kind of address: free mail, competitor or company
    domain = company.copy()
    free = address < 0.22
    domain[free] = n_companies + weighted(rng, FREE_DOMAINS, int(free.sum()))
    rival = (address >= 0.22) & (address < 0.2215)
    domain[rival] = n_companies + len(FREE_DOMAINS) + rng.integers(0, 4, int(rival.sum()))
    all_domains = company_domains + [d for d, _ in FREE_DOMAINS] + COMPETITOR_DOMAINS
    has_email = rng.random(n) >= 0.02
    email_codes = np.full(n, -1, dtype=np.int32)
    email_codes[has_email] = np.arange(int(has_email.sum()), dtype=np.int32)
    first = rng.integers(0, len(FIRST), n).tolist()
    last = rng.integers(0, len(LAST), n).tolist()
    domain_list = domain.tolist()
    emails = [
        f"{FIRST[first[i]]}.{LAST[last[i]]}{i}@{all_domains[domain_list[i]]}"
        for i in np.flatnonzero(has_email).tolist()
    ]
    ids = [f"00Q{i:09d}" for i in range(n)]
    attributes: dict[str, Column] = {
        "industry": categorical(industry[company], [v for v, _ in INDUSTRIES]),
        "country": categorical(country[company], [v for v, _ in COUNTRIES]),
        "employees": NumericColumn(employees[company]),
        "job_function": categorical(
            weighted(rng, JOB_FUNCTIONS, n, 0.20), [v for v, _ in JOB_FUNCTIONS]
        ),
        "seniority": categorical(weighted(rng, SENIORITIES, n, 0.25), [v for v, _ in SENIORITIES]),
        "lifecycle_stage": categorical(
            weighted(rng, LIFECYCLE, n, 0.85), [v for v, _ in LIFECYCLE]
        ),
    }

    # -- activities --
    shares = np.array(list(MIX.values()))
    count: dict[ActivityType, int] = dict(
        zip(MIX, np.floor(shares / shares.sum() * m).astype(int).tolist(), strict=True)
    )
    count[A.PAGE_VIEW] += m - sum(count.values())
    active = rng.permutation(n).astype(np.int32)  # contact activity propensity, high first

    def who(size: int, skew: float) -> IntArray:
        return active[np.minimum((n * rng.random(size) ** skew).astype(np.int64), n - 1)]

    urls = site_urls()
    url_ids = {u.removeprefix(SITE): i for i, u in enumerate(urls)}
    popularity = 1.0 / np.arange(1, len(urls) + 1) ** 0.9

    def url_pick(size: int, prefixes: tuple[str, ...]) -> IntArray:
        pool = np.array([i for p, i in url_ids.items() if p.startswith(prefixes)])
        p = popularity[pool] / popularity[pool].sum()
        return pool[rng.choice(len(pool), size=size, p=p)].astype(np.int32)

    parts: list[tuple[int, IntArray, Floats, IntArray, IntArray]] = []

    def add(
        kind: ActivityType,
        rows: IntArray,
        when: Floats,
        campaign: IntArray | None = None,
        url: IntArray | None = None,
    ) -> None:
        size = len(rows)
        parts.append(
            (
                CODE[kind],
                rows.astype(np.int32),
                np.asarray(when, dtype=np.float64),
                np.full(size, -1, np.int32) if campaign is None else campaign.astype(np.int32),
                np.full(size, -1, np.int32) if url is None else url.astype(np.int32),
            )
        )

    sends = count[A.EMAIL_SENT]
    campaign_time = rng.uniform(start, as_of + 0.5 * DAY, N_CAMPAIGNS)
    send_campaign = rng.integers(0, N_CAMPAIGNS, sends).astype(np.int32)
    send_who = who(sends, 1.3)
    send_time = campaign_time[send_campaign] + rng.uniform(0, 4 * HOUR, sends)
    add(A.EMAIL_SENT, send_who, send_time, send_campaign)

    def after_send(
        kind: ActivityType, size: int, median_delay: float, url: IntArray | None = None
    ) -> None:
        src = rng.integers(0, sends, size)
        delay = rng.lognormal(np.log(median_delay), 1.5, size)
        add(kind, send_who[src], send_time[src] + delay, send_campaign[src], url)

    after_send(A.EMAIL_OPEN, count[A.EMAIL_OPEN], 2 * HOUR)
    email_links = ("/pricing", "/blog/", "/resources/", "/product", "/customers", "/features")
    clicks = count[A.EMAIL_CLICK]
    scanner = int(clicks * SCANNER_SHARE)
    bursts = int(clicks * BURST_SHARE) // 3
    human = clicks - scanner - 3 * bursts
    after_send(A.EMAIL_CLICK, human, 3 * HOUR, url_pick(human, email_links))
    scanned = rng.integers(0, sends, scanner)
    add(
        A.EMAIL_CLICK,
        send_who[scanned],
        send_time[scanned] + rng.uniform(0.2, 9.0, scanner),
        send_campaign[scanned],
        url_pick(scanner, email_links),
    )
    burst = np.repeat(rng.integers(0, sends, bursts), 3)
    base = np.repeat(rng.lognormal(np.log(30.0), 1.0, bursts), 3)
    add(
        A.EMAIL_CLICK,
        send_who[burst],
        send_time[burst] + base + rng.uniform(0, 0.9, 3 * bursts),
        send_campaign[burst],
        url_pick(3 * bursts, email_links),
    )
    after_send(A.EMAIL_BOUNCE, count[A.EMAIL_BOUNCE], 30.0)
    after_send(A.EMAIL_UNSUBSCRIBE, count[A.EMAIL_UNSUBSCRIBE], 6 * HOUR)
    after_send(A.EMAIL_SPAM_REPORT, count[A.EMAIL_SPAM_REPORT], 6 * HOUR)

    def on_own(kind: ActivityType, skew: float, url: IntArray | None = None) -> None:
        size = count[kind]
        when = rng.uniform(start, as_of, size)
        late = rng.random(size) < 0.001  # late or clock-skewed events, after as_of
        when[late] = as_of + rng.uniform(0, 2 * DAY, int(late.sum()))
        add(kind, who(size, skew), when, None, url)

    on_own(A.PAGE_VIEW, 1.8, url_pick(count[A.PAGE_VIEW], ("/",)))  # every page
    on_own(A.CONTENT_DOWNLOAD, 1.8, url_pick(count[A.CONTENT_DOWNLOAD], ("/resources/",)))
    form_pages = ("/contact", "/resources/ebook", "/resources/webinar", "/demo")
    on_own(A.FORM_SUBMISSION, 1.8, url_pick(count[A.FORM_SUBMISSION], form_pages))
    on_own(A.DEMO_REQUEST, 2.0, np.full(count[A.DEMO_REQUEST], url_ids["/demo"]))
    for other in (A.NEWSLETTER_SIGNUP, A.SOCIAL_CLICK, A.QUESTION, A.MEETING, A.SALES_TOUCH):
        on_own(other, 2.0)
    on_own(A.QUOTE_SENT, 2.0)
    on_own(A.PURCHASE, 2.0)

    type_codes = np.concatenate([np.full(len(p[1]), p[0], dtype=np.int8) for p in parts])
    act_rows, act_campaign, act_url = (np.concatenate([p[i] for p in parts]) for i in (1, 3, 4))
    act_when = np.round(np.concatenate([p[2] for p in parts]), 3)  # millisecond timestamps
    parts.clear()
    order = np.argsort(act_when)  # an event log, in time order
    campaign_names = [f"cmp-{i:03d}-{STEMS[i % len(STEMS)]}" for i in range(N_CAMPAIGNS)]
    activities = ActivityFrame(
        act_rows[order],
        type_codes[order],
        act_when[order],
        {
            "campaign": categorical(act_campaign[order], campaign_names),
            "url": categorical(act_url[order], urls),
        },
    )
    generated = time.perf_counter()
    email_column = categorical(email_codes, emails)
    contacts = ContactFrame.from_columns(ids, email_column, attributes)
    framed = time.perf_counter()
    return Dataset(contacts, activities, AS_OF, generated - started, framed - generated)


# --- the plain numpy baseline -------------------------------------------------------------


def text_mask(column: Column | None, values: list[str]) -> Bools:
    """Rows whose text is one of `values`, ignoring case (False where missing)."""
    assert isinstance(column, CategoricalColumn)
    wanted = {v.casefold() for v in values}
    table = np.array([str(c).casefold() in wanted for c in column.categories] + [False])
    return table[column.codes]


def url_table(urls: CategoricalColumn, test: Callable[[str], object]) -> Bools:
    """Truth value per URL category, and False for a missing URL (the last entry)."""
    return np.array([bool(test(str(u).casefold())) for u in urls.categories] + [False])


def machine_clicks(acts: ActivityFrame, usable: Bools) -> Bools:
    """Email clicks < 10 s after a send of the same campaign, or > 2 in one second."""
    types, who, when = acts.type_codes, acts.contact_rows, acts.occurred_at
    clicks = np.flatnonzero(usable & (types == CODE[A.EMAIL_CLICK]))
    sends = np.flatnonzero(usable & (types == CODE[A.EMAIL_SENT]))
    machine = np.zeros(len(acts), dtype=bool)
    # bursts: three clicks of one contact within one second flag all three
    by_contact = clicks[np.lexsort((when[clicks], who[clicks]))]
    c, t = who[by_contact], when[by_contact]
    third = (c[2:] == c[:-2]) & (t[2:] - t[:-2] < 1.0)
    burst = np.zeros(len(by_contact), dtype=bool)
    burst[:-2] |= third
    burst[1:-1] |= third
    burst[2:] |= third
    machine[by_contact[burst]] = True
    # right after delivery: merge sends and clicks by (contact, campaign, time), sends
    # first at equal times, and compare each click with the last send before it
    campaign = acts.columns["campaign"]
    assert isinstance(campaign, CategoricalColumn)
    both = np.concatenate((sends, clicks))
    key = who[both].astype(np.int64) * (len(campaign.categories) + 1) + campaign.codes[both] + 1
    is_click = np.arange(len(both)) >= len(sends)
    order = np.lexsort((is_click, when[both], key))
    both, key, is_click = both[order], key[order], is_click[order]
    last_send = np.maximum.accumulate(np.where(is_click, -1, np.arange(len(both))))
    early = is_click & (last_send >= 0)
    src = last_send[early]
    early[early] = (key[src] == key[early]) & (when[both[early]] - when[both[src]] < 10.0)
    machine[both[early]] = True
    return machine


def baseline(
    contacts: ContactFrame, acts: ActivityFrame, as_of: datetime
) -> tuple[Floats, Floats, Bools]:
    """Totals, dimensions (fit, activity, engagement) and disqualification in plain numpy,
    for the rules of bench/rules_realistic.yaml written out by hand."""
    now = as_of.timestamp()
    n = len(contacts)
    usable = acts.occurred_at <= now
    usable &= ~machine_clicks(acts, usable)
    url = acts.columns["url"]
    assert isinstance(url, CategoricalColumn)
    by_type: dict[ActivityType, tuple[npt.NDArray[np.intp], IntArray, Floats]] = {}

    def behaviour(
        kind: ActivityType,
        points: float,
        *,
        where: Bools | None = None,
        who_fits: Bools | None = None,
        window: float | None = None,
        half_life: float | None = None,
        once: bool = False,
        cap: float | None = None,
    ) -> tuple[Floats, npt.NDArray[np.intp]]:
        if kind not in by_type:  # usable rows of the type, their contacts and ages, once
            rows = np.flatnonzero(usable & (acts.type_codes == CODE[kind]))
            by_type[kind] = rows, acts.contact_rows[rows], now - acts.occurred_at[rows]
        rows, who, age = by_type[kind]
        keep = np.ones(len(rows), dtype=bool)
        if where is not None:
            keep &= where[url.codes[rows]]
        if window is not None:
            keep &= age <= window * DAY
        if who_fits is not None:
            keep &= who_fits[who]
        who, age = who[keep], age[keep]
        counts = np.bincount(who, minlength=n)
        if once and half_life is not None:
            youngest = np.full(n, np.inf)
            np.minimum.at(youngest, who, age)
            result = np.where(counts > 0, points * np.exp2(-youngest / (half_life * DAY)), 0.0)
        elif once:
            result = np.where(counts > 0, float(points), 0.0)
        elif half_life is not None:
            weights = points * np.exp2(-age / (half_life * DAY))
            result = np.bincount(who, weights=weights, minlength=n)
        else:
            result = counts * float(points)
        if cap is not None:
            np.clip(result, -cap, cap, out=result)
        return result, counts

    def contains(*needles: str) -> Bools:
        return url_table(url, lambda u: any(needle in u for needle in needles))

    pricing = contains("/pricing")
    product = re.compile("/(product|features)(/|$)")
    employees = contacts.columns["employees"]
    assert isinstance(employees, NumericColumn)
    emp = employees.values

    engagement = np.zeros(n)
    engagement += behaviour(A.EMAIL_OPEN, 1, cap=10, window=180, half_life=60)[0]
    engagement += behaviour(A.EMAIL_CLICK, 3, cap=15, window=180, half_life=45)[0]
    engagement += behaviour(A.EMAIL_CLICK, 5, where=pricing, once=True, window=90, half_life=30)[0]
    engagement += behaviour(A.EMAIL_UNSUBSCRIBE, -15, once=True, window=365)[0]
    engagement += behaviour(A.EMAIL_BOUNCE, -10, once=True, window=365)[0]
    spam_points, spam_counts = behaviour(A.EMAIL_SPAM_REPORT, -40)
    engagement += spam_points

    view = A.PAGE_VIEW
    activity = np.zeros(n)
    activity += behaviour(view, 1, cap=20, window=90, half_life=30)[0]
    activity += behaviour(view, 10, where=pricing, cap=30, window=30, half_life=14)[0]
    activity += behaviour(
        view,
        5,
        where=contains("/pricing/enterprise"),
        who_fits=emp >= 1000,
        cap=15,
        window=30,
        half_life=14,
    )[0]
    activity += behaviour(
        view, 3, where=url_table(url, product.search), cap=15, window=60, half_life=30
    )[0]
    activity += behaviour(view, 4, where=contains("/customers"), cap=12, window=90, half_life=30)[0]
    activity += behaviour(
        view, 2, where=contains("/docs/", "/integrations/"), cap=10, window=60, half_life=30
    )[0]
    activity += behaviour(view, 0.5, where=contains("/blog/"), cap=5, window=60, half_life=30)[0]
    activity += behaviour(view, -5, where=contains("/careers"), once=True, window=90)[0]
    activity += behaviour(A.CONTENT_DOWNLOAD, 8, cap=24, window=180, half_life=60)[0]
    activity += behaviour(
        A.CONTENT_DOWNLOAD,
        5,
        where=contains("/resources/report-"),
        once=True,
        window=180,
        half_life=60,
    )[0]
    activity += behaviour(A.FORM_SUBMISSION, 15, cap=30, window=180, half_life=90)[0]
    activity += behaviour(
        A.FORM_SUBMISSION, 5, where=contains("/webinar"), cap=10, window=120, half_life=60
    )[0]
    activity += behaviour(A.DEMO_REQUEST, 40, once=True, window=90, half_life=30)[0]
    activity += behaviour(A.QUESTION, 20, cap=40, window=90, half_life=30)[0]
    activity += behaviour(A.SOCIAL_CLICK, 2, cap=10, window=60, half_life=30)[0]
    engagement += behaviour(A.NEWSLETTER_SIGNUP, 5, once=True)[0]
    activity += behaviour(A.MEETING, 30, cap=60, window=120, half_life=45)[0]

    col = contacts.columns
    competitor = text_mask(col["email_domain"], COMPETITOR_DOMAINS)
    fit = np.zeros(n)
    fit += np.where(
        text_mask(col["industry"], ["Software", "SaaS", "Financial Services", "Fintech"]), 15, 0.0
    )
    fit += np.where(
        text_mask(col["industry"], ["Healthcare", "Manufacturing", "Retail", "Logistics"]), 5, 0.0
    )
    fit += np.where(text_mask(col["industry"], ["Education", "Government", "Non-profit"]), -5, 0.0)
    fit += np.where((emp >= 50) & (emp <= 1000), 15, 0.0)
    fit += np.where((emp >= 1001) & (emp <= 10000), 10, 0.0)
    fit += np.where(emp < 10, -10, 0.0)
    fit += np.where(text_mask(col["country"], ["US", "CA", "GB", "DE", "FR", "NL"]), 10, 0.0)
    fit += np.where(text_mask(col["country"], ["RU", "BY", "IR", "KP"]), -30, 0.0)
    fit += np.where(text_mask(col["job_function"], ["Engineering", "IT", "Operations"]), 10, 0.0)
    fit += np.where(text_mask(col["seniority"], ["C-Level", "VP", "Director"]), 10, 0.0)
    fit += np.where(text_mask(col["job_function"], ["Student"]), -20, 0.0)
    fit += np.where(text_mask(col["email_free"], ["true"]), -10, 0.0)
    fit += np.where(competitor, -50, 0.0)

    dims = np.empty((n, 3))
    dims[:, 0] = np.clip(fit, -60, 60)
    dims[:, 1] = np.minimum(activity, 100)
    dims[:, 2] = np.clip(engagement, -40, 40)
    total = dims[:, 0] + dims[:, 1] + dims[:, 2]
    disqualified = (spam_counts > 0) | competitor
    return total, dims, disqualified


# --- the run -------------------------------------------------------------------------------

T = TypeVar("T")


def best_of(repeat: int, run: Callable[[], T]) -> tuple[float, list[float], T]:
    """Smallest wall time of `repeat` runs, every time, and the last result."""
    times: list[float] = []
    result: T | None = None
    for _ in range(repeat):
        result = None  # free the previous result before the next run
        began = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - began)
    assert result is not None
    return min(times), times, result


def peak_mb() -> float:
    """Peak resident memory of the process so far (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def show(label: str, text: str) -> None:
    print(f"{label:<10} {text}", flush=True)


def seconds(best: float, every: list[float]) -> str:
    return f"{best:.2f} s (best of {len(every)}: {' '.join(f'{t:.2f}' for t in every)})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--activities", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="also profile one engine run (cProfile) and print its N costliest functions",
    )
    args = parser.parse_args(argv)

    rules = scoring.load_rules(RULES_PATH)
    data = generate(args.contacts, args.activities, args.seed)
    contacts, acts, as_of = data.contacts, data.activities, data.as_of
    shares = np.bincount(acts.type_codes, minlength=len(ACTIVITY_TYPES)) / max(len(acts), 1)
    mix = [f"{t.value} {s:.1%}" for t, s in zip(ACTIVITY_TYPES, shares, strict=True) if s > 0.004]
    behaviour_rules = sum(r.is_behaviour for r in rules.rules)
    show("contacts", f"{len(contacts):,}")
    show("activities", f"{len(acts):,} (seed {args.seed}, as of {as_of:%Y-%m-%d %H:%M} UTC)")
    show("mix", ", ".join(mix))
    show(
        "rules",
        f"{len(rules.rules)} ({behaviour_rules} behaviour, "
        f"{len(rules.rules) - behaviour_rules} fit) from {RULES_PATH.name}",
    )
    show("generate", f"{data.seconds_generate:.2f} s")
    show("frames", f"{data.seconds_frames:.2f} s (ContactFrame.from_columns: email columns)")
    show("peak rss", f"{peak_mb():.0f} MB after generating")

    engine_s, engine_all, batch = best_of(
        args.repeat, lambda: scoring.score(rules, contacts, acts, as_of)
    )
    show("engine", seconds(engine_s, engine_all))
    show("peak rss", f"{peak_mb():.0f} MB after the engine")
    base_s, base_all, (total, dims, disqualified) = best_of(
        args.repeat, lambda: baseline(contacts, acts, as_of)
    )
    show("baseline", seconds(base_s, base_all))
    ratio = engine_s / base_s
    show("ratio", f"{ratio:.2f} (goal <= 1.5{'' if ratio <= 1.5 else ': missed'})")
    peak = peak_mb()
    goal = "" if peak < 2048 else ": missed"
    show("peak rss", f"{peak:.0f} MB, process peak after the timed runs (goal < 2048{goal})")

    usable = acts.occurred_at <= as_of.timestamp()
    clicks = int((usable & (acts.type_codes == CODE[A.EMAIL_CLICK])).sum())
    flagged = machine_clicks(acts, usable)
    same = np.array_equal(flagged, engine_machine_clicks(acts, usable, rules.filters.bot_clicks))
    show(
        "filtered",
        f"{int(flagged.sum()):,} of {clicks:,} email clicks are machine clicks "
        f"({'same rows as' if same else 'NOT the same rows as'} the engine's filter)",
    )
    nonzero, disqualified_count = int((batch.total != 0).sum()), int(batch.disqualified.sum())
    show(
        "scores",
        f"{nonzero:,} non-zero, mean {batch.total.mean():.2f}, max {batch.total.max():.2f}, "
        f"{disqualified_count:,} disqualified",
    )
    if rules.stages is not None and batch.stage_codes is not None:
        ladder = rules.stages.ladder
        reached = np.bincount(batch.stage_codes + 1, minlength=len(ladder) + 1)[1:]
        show("stages", ", ".join(f"{s.name} {c:,}" for s, c in zip(ladder, reached, strict=True)))

    bad_total = ~np.isclose(batch.total, total)
    bad_dims = ~np.isclose(batch.dimensions, dims).all(axis=1)
    bad_disq = batch.disqualified != disqualified
    if not np.allclose(batch.total, total) or bad_dims.any() or bad_disq.any() or not same:
        show(
            "check",
            f"FAILED: engine and baseline disagree on {int(bad_total.sum()):,} totals, "
            f"{int(bad_dims.sum()):,} dimension rows, {int(bad_disq.sum()):,} disqualified",
        )
        for row in np.flatnonzero(bad_total | bad_dims | bad_disq)[:5].tolist():
            print(
                f"  row {row}: engine {batch.total[row]:.4f} {batch.dimensions[row].round(4)}"
                f" baseline {total[row]:.4f} {dims[row].round(4)}"
            )
            print(f"    engine reasons: {batch.reasons_text(row)}")
        return 1
    worst = float(np.abs(batch.total - total).max()) if len(total) else 0.0
    show("check", f"totals agree on {len(total):,} contacts (max difference {worst:.2g})")
    show("peak rss", f"{peak_mb():.0f} MB at the end, with the checks")

    if args.profile:
        del batch
        profiler = cProfile.Profile()
        profiler.runcall(scoring.score, rules, contacts, acts, as_of)
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
