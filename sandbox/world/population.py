"""Who is in the synthetic world: companies, people, their addresses, systems and lives.

The hidden traits (fit, interest, whether and when a person converts) live here;
`sandbox.world.activity`, `.sales` and `.mailing` turn them into events.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from sandbox.world import vocabulary as vocab
from sandbox.world.tables import (
    HUBSPOT,
    MAILCHIMP,
    SALESFORCE,
    Companies,
    Floats,
    Ints,
    Objects,
    Persons,
    objects,
)

DAY, HOUR = 86_400.0, 3_600.0

Int32s = npt.NDArray[np.int32]
Bools = npt.NDArray[np.bool_]

# address conventions: first.last, flast, f.last, first_last, first (small companies only)
PATTERNS = (0.55, 0.2, 0.1, 0.05, 0.1)
FREE_PATTERNS = (0.7, 0.0, 0.15, 0.15, 0.0)
GATEWAY, SANDBOX = 1, 2
"""Scanner kinds: a gateway follows a link on delivery; a sandbox opens every link at once."""
HELD_VARIANTS = {HUBSPOT: 0.01, SALESFORCE: 0.06, MAILCHIMP: 0.03}
"""Share of each system's people whose address it holds spelled differently."""


@dataclass(frozen=True)
class Period:
    """The span of the world's activity, in epoch seconds: `days` up to its `now`."""

    start: float
    end: float

    @property
    def span(self) -> float:
        return self.end - self.start


def draw(rng: np.random.Generator, weights: Sequence[float], size: int) -> Ints:
    """Codes 0..len(weights)-1 drawn by weight."""
    p = np.asarray(weights, dtype=np.float64)
    return np.asarray(rng.choice(len(p), size=size, p=p / p.sum()), dtype=np.int64)


def sigmoid(z: Floats) -> Floats:
    return np.asarray(1.0 / (1.0 + np.exp(-z)), dtype=np.float64)


def repeat(counts: Ints) -> Ints:
    """Row i repeated counts[i] times: the owner of each of the drawn items."""
    return np.repeat(np.arange(len(counts)), counts)


def within(counts: Ints) -> Ints:
    """Position of each item inside its owner's run (0, 1, ... per owner)."""
    firsts = np.cumsum(counts) - counts
    return np.arange(int(counts.sum())) - np.repeat(firsts, counts)


@dataclass
class Firms:
    """The companies, with the codes and hidden traits the rest of the generator reads."""

    table: Companies
    industry: Ints
    country: Ints
    employees: Ints
    domain: list[str]
    scanner: Ints
    """0 none, GATEWAY or SANDBOX."""
    in_market: Bools
    """The account is looking for a product like ours this year."""
    pattern: Ints
    competitor: Bools


def _size_fit(employees: Ints) -> Floats:
    bands = [employees < 10, employees < 50, employees <= 1000, employees <= 10_000]
    return np.select(bands, [0.1, 0.35, 1.0, 0.7], 0.5).astype(np.float64)


def make_firms(rng: np.random.Generator, regular: int) -> Firms:
    """`regular` prospect companies, then the competitors."""
    industry = draw(rng, [i.weight for i in vocab.INDUSTRIES], regular)
    country = draw(rng, [c.weight for c in vocab.COUNTRIES], regular)
    employees = np.exp(rng.normal(math.log(40), 1.7, regular)).round().clip(1, 400_000)
    size = employees.astype(np.int64)
    industry_fit = np.array([i.fit for i in vocab.INDUSTRIES])[industry]
    in_market = rng.random(regular) < 0.04 + 0.16 * (0.5 * industry_fit + 0.5 * _size_fit(size))
    scans = rng.random(regular) < 0.025 + 0.03 * (size >= 200) + 0.08 * (size >= 1000)
    scanner = np.where(scans, np.where(rng.random(regular) < 0.5, GATEWAY, SANDBOX), 0)
    pattern = draw(rng, PATTERNS, regular)
    pattern[(pattern == 4) & (size >= 50)] = 0
    names, domains = _firm_names(rng, industry, country)
    rivals = len(vocab.COMPETITORS)
    us = next(i for i, c in enumerate(vocab.COUNTRIES) if c.code == "US")
    industry = np.concatenate((industry, np.zeros(rivals, np.int64)))
    country = np.concatenate((country, np.full(rivals, us)))
    size = np.concatenate((size, rng.integers(80, 400, rivals)))
    names += [name for name, _ in vocab.COMPETITORS]
    domains += [domain for _, domain in vocab.COMPETITORS]
    table = Companies(
        name=objects(names),
        domain=objects(domains),
        industry=objects([i.name for i in vocab.INDUSTRIES])[industry],
        employees=size.astype(np.int32),
        country=objects([c.code for c in vocab.COUNTRIES])[country],
    )
    none = np.zeros(rivals, np.int64)
    return Firms(
        table=table,
        industry=industry,
        country=country,
        employees=size,
        domain=domains,
        scanner=np.concatenate((scanner, none)),
        in_market=np.concatenate((in_market, none.astype(bool))),
        pattern=np.concatenate((pattern, none)),
        competitor=np.arange(regular + rivals) >= regular,
    )


def _firm_names(
    rng: np.random.Generator, industry: Ints, country: Ints
) -> tuple[list[str], list[str]]:
    """Names and unique domains: a made-up root (numbered once roots run out) and a TLD."""
    roots = [a + b for a in vocab.ROOT_STARTS for b in vocab.ROOT_ENDS]
    count = len(industry)
    root = rng.permutation(len(roots))[np.arange(count) % len(roots)].tolist()
    rounds = (np.arange(count) // len(roots)).tolist()
    suffix = rng.integers(0, 4, count).tolist()
    ind, cty = industry.tolist(), country.tolist()
    names = [
        f"{roots[r]} {vocab.INDUSTRIES[i].suffixes[s]}"
        for r, i, s in zip(root, ind, suffix, strict=True)
    ]
    domains = [
        f"{roots[r].lower()}{k + 1 if k else ''}{vocab.COUNTRIES[c].tld}"
        for r, k, c in zip(root, rounds, cty, strict=True)
    ]
    return names, domains


@dataclass
class Crowd:
    """The people as codes into the vocabulary, with their hidden traits."""

    company: Ints
    first: Ints
    last: Ints
    function: Ints
    """Index into FUNCTIONS + NON_BUYERS."""
    seniority: Ints
    country: Ints
    free_mail: Ints
    """Index into FREE_MAIL, -1 for an address at the company's domain."""
    competitor: Bools
    non_buyer: Bools
    fit: Floats = field(default_factory=lambda: np.zeros(0))
    """Who the person is, 0 to 1 (see `_fit`)."""
    interest: Floats = field(default_factory=lambda: np.zeros(0))
    """How much they want a product like the seller's, 0 to 1 (see `_interest`)."""
    email: Objects = field(default_factory=lambda: objects([]))

    def __len__(self) -> int:
        return len(self.company)


def make_crowd(rng: np.random.Generator, n: int, firms: Firms) -> Crowd:
    """`n` people: employer, role, country, address, and their hidden fit and interest."""
    company = _employers(rng, n, firms)
    employees = firms.employees[company]
    function = draw(rng, [f.weight for f in vocab.FUNCTIONS], n)
    competitor = firms.competitor[company]
    role = rng.random(n)
    non_buyer = (role < 0.02) & ~competitor
    function[non_buyer] = len(vocab.FUNCTIONS) + (role[non_buyer] >= 0.012)
    seniority = draw(rng, [s[1] for s in vocab.SENIORITIES], n)
    small = np.flatnonzero(employees < 50)  # small companies are mostly run by their chiefs
    seniority[small] = draw(rng, [15, 10, 13, 27, 35], len(small))
    seniority[non_buyer] = len(vocab.SENIORITIES) - 1
    country = firms.country[company].copy()
    abroad = rng.random(n) < 0.1
    country[abroad] = draw(rng, [c.weight for c in vocab.COUNTRIES], int(abroad.sum()))
    free = np.where(non_buyer, rng.random(n) < 0.85, (rng.random(n) < 0.07) & ~competitor)
    free_mail = np.where(free, draw(rng, [w for _, w in vocab.FREE_MAIL], n), -1)
    crowd = Crowd(
        company=company,
        first=rng.integers(0, len(vocab.FIRST_NAMES), n),
        last=rng.integers(0, len(vocab.LAST_NAMES), n),
        function=function,
        seniority=seniority,
        country=country,
        free_mail=free_mail,
        competitor=competitor,
        non_buyer=non_buyer,
    )
    crowd.fit = _fit(crowd, firms)
    crowd.interest = _interest(rng, crowd, firms)
    crowd.email = _emails(rng, crowd, firms)
    return crowd


def _employers(rng: np.random.Generator, n: int, firms: Firms) -> Ints:
    """Each company gets one person first; the rest go to big companies more often."""
    weights = firms.employees.astype(np.float64) ** 0.55
    regular = int((~firms.competitor).sum())
    weights[firms.competitor] = 0.0015 * weights[:regular].sum()
    seeded = np.arange(min(n, regular))
    rest = rng.choice(len(weights), size=n - len(seeded), p=weights / weights.sum())
    return np.asarray(rng.permutation(np.concatenate((seeded, rest))), dtype=np.int64)


def _fit(crowd: Crowd, firms: Firms) -> Floats:
    """Who the person is, 0 to 1: what the seller wins with (the generator's truth)."""
    functions = vocab.FUNCTIONS + vocab.NON_BUYERS
    industry_fit = np.array([i.fit for i in vocab.INDUSTRIES])[firms.industry[crowd.company]]
    market = np.array([1.0 if c.in_market else 0.3 for c in vocab.COUNTRIES])[crowd.country]
    fit = (
        0.25 * industry_fit
        + 0.25 * _size_fit(firms.employees[crowd.company])
        + 0.2 * np.array([f.fit for f in functions])[crowd.function]
        + 0.2 * np.array([s[2] for s in vocab.SENIORITIES])[crowd.seniority]
        + 0.1 * market
    )
    return np.where(crowd.free_mail >= 0, 0.75 * fit, fit)


def _interest(rng: np.random.Generator, crowd: Crowd, firms: Firms) -> Floats:
    """How much the person wants a product like ours, 0 to 1; competitors and students snoop."""
    n = len(crowd)
    functions = vocab.FUNCTIONS + vocab.NON_BUYERS
    relevance = 0.4 + 0.6 * np.array([f.fit for f in functions])[crowd.function]
    account = firms.in_market[crowd.company] * relevance
    interest = sigmoid(-2.6 + 1.4 * crowd.fit + 2.4 * account + rng.normal(0, 0.9, n))
    interest[crowd.competitor] = 0.5 + 0.3 * rng.random(int(crowd.competitor.sum()))
    interest[crowd.non_buyer] = 0.3 + 0.3 * rng.random(int(crowd.non_buyer.sum()))
    return interest


def _emails(rng: np.random.Generator, crowd: Crowd, firms: Firms) -> Objects:
    """Canonical addresses, unique: a number is added to the second holder of a name."""
    n = len(crowd)
    free = crowd.free_mail >= 0
    pattern = np.where(free, draw(rng, FREE_PATTERNS, n), firms.pattern[crowd.company])
    domain = np.where(free, len(firms.domain) + crowd.free_mail, crowd.company)
    firsts = [vocab.email_form(name) for name in vocab.FIRST_NAMES]
    lasts = [vocab.email_form(name) for name in vocab.LAST_NAMES]
    initial = np.array([ord(name[0]) - ord("a") for name in firsts])[crowd.first]
    names = len(firsts) * len(lasts)
    by_name = np.select(
        [pattern == 4, (pattern == 1) | (pattern == 2)],
        [crowd.first, initial * len(lasts) + crowd.last],
        crowd.first * len(lasts) + crowd.last,
    )
    number = _occurrence((domain * len(PATTERNS) + pattern) * names + by_name).tolist()
    domains = firms.domain + [d for d, _ in vocab.FREE_MAIL]
    shapes = ("{f}.{l}", "{i}{l}", "{i}.{l}", "{f}_{l}", "{f}")
    emails = [
        shapes[p].format(f=firsts[f], l=lasts[last], i=firsts[f][0])
        + (str(k + 1) if k else "")
        + "@"
        + domains[d]
        for p, f, last, k, d in zip(
            pattern.tolist(),
            crowd.first.tolist(),
            crowd.last.tolist(),
            number,
            domain.tolist(),
            strict=True,
        )
    ]
    return objects(emails)


def _occurrence(keys: Ints) -> Ints:
    """For each row, how many earlier rows share its key."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    counts = np.diff(np.r_[starts, len(keys)])
    found = np.empty(len(keys), dtype=np.int64)
    found[order] = within(counts)
    return found


@dataclass
class Lives:
    """Each person's time line: epoch seconds, NaN where it does not apply."""

    created: Floats
    lo: Floats
    """When the person's events may begin: max(created, start)."""
    hi: Floats
    """When their prospect behaviour ends: the conversion, or now."""
    converted: Bools
    converted_at: Floats
    journey: Floats
    """Start of a converter's buying journey (NaN for others); it ends at the conversion."""
    center: Floats
    width: Floats
    focus: Floats
    """Share of their behaviour near `center`, the rest spread evenly."""
    start: float
    end: float

    @property
    def active(self) -> Floats:
        """Share of the world's period in which the person is a prospect."""
        return np.asarray((self.hi - self.lo) / (self.end - self.start))


def make_lives(rng: np.random.Generator, crowd: Crowd, period: Period) -> Lives:
    """When people appear (45 % during the period), whether and when they buy, and when
    they are busiest: converters before their purchase, others around a random moment."""
    n = len(crowd)
    new = rng.random(n) < 0.45
    created = np.where(
        new,
        period.start + period.span * rng.random(n),
        period.start - rng.exponential(500 * DAY, n) - 1.0,
    )
    lo = np.maximum(created, period.start)
    earliest = lo + 14 * DAY
    # a won deal: driven by fit and interest; competitors and non-buyers never buy
    likely = sigmoid(-6.4 + 3.4 * crowd.fit + 5.5 * crowd.interest + rng.normal(0, 0.4, n))
    converted = (rng.random(n) < likely) & ~crowd.competitor & ~crowd.non_buyer
    converted &= earliest < period.end
    converted_at = np.where(converted, earliest + (period.end - earliest) * rng.random(n), np.nan)
    length = np.minimum(rng.uniform(21, 100, n) * DAY, converted_at - created)
    center = np.where(
        converted,
        converted_at - rng.uniform(0.2, 0.9, n) * length,
        lo + (period.end - lo) * rng.random(n),
    )
    return Lives(
        created=created,
        lo=lo,
        hi=np.where(converted, converted_at, period.end),
        converted=converted,
        converted_at=converted_at,
        journey=converted_at - length,
        center=center,
        width=np.where(converted, 0.4 * length + 5 * DAY, rng.uniform(7, 45, n) * DAY),
        focus=np.where(converted, 0.8, 0.3 + 0.5 * crowd.interest),
        start=period.start,
        end=period.end,
    )


def assign_systems(rng: np.random.Generator, crowd: Crowd, source: Ints, engaged: Bools) -> Ints:
    """HubSpot for marketing, Salesforce for whom sales worked, Mailchimp for subscribers."""
    n = len(crowd)
    hubspot = (rng.random(n) < 0.6) | (source >= 2)
    salesforce = engaged | (rng.random(n) < 0.36)
    mailchimp = (rng.random(n) < 0.5) | (source == 1)
    bits = HUBSPOT * hubspot + SALESFORCE * salesforce + MAILCHIMP * mailchimp
    alone = np.flatnonzero(bits == 0)
    bits[alone] = np.array([HUBSPOT, SALESFORCE, MAILCHIMP])[draw(rng, [5, 2, 3], len(alone))]
    return np.asarray(bits, dtype=np.int64)


def held_emails(rng: np.random.Generator, email: Objects, systems: Ints) -> dict[int, Objects]:
    """Per system, the address as typed into it: mostly canonical, some in odd case or spaced."""
    held: dict[int, Objects] = {}
    for bit, share in HELD_VARIANTS.items():
        column = email.copy()
        rows = np.flatnonzero((systems & bit > 0) & (rng.random(len(email)) < share))
        shape = rng.integers(0, 4 if bit != HUBSPOT else 2, len(rows)).tolist()
        column[rows] = [_misspell(str(e), s) for e, s in zip(email[rows], shape, strict=True)]
        held[bit] = column
    return held


def _misspell(address: str, shape: int) -> str:
    """Shapes 0-1 change the case only; 2-3 add spaces as well."""
    local, _, domain = address.partition("@")
    if shape == 0:
        return f"{local.title()}@{domain}"
    if shape == 1:
        return address.upper()
    if shape == 2:
        return address + " "
    return f" {local.title()}@{domain.title()} "


def people_table(
    crowd: Crowd, firms: Firms, lives: Lives, systems: Ints, held: dict[int, Objects]
) -> Persons:
    """The people as the world shows them (the hidden traits stay behind)."""
    functions = vocab.FUNCTIONS + vocab.NON_BUYERS
    seniorities = len(vocab.SENIORITIES)
    titles = objects([t for f in functions for pair in f.titles for t in pair])
    title = (crowd.function * seniorities + crowd.seniority) * 2 + (crowd.first + crowd.last) % 2
    return Persons(
        first_name=objects(vocab.FIRST_NAMES)[crowd.first],
        last_name=objects(vocab.LAST_NAMES)[crowd.last],
        email=crowd.email,
        job_title=titles[title],
        job_function=objects([f.name for f in functions])[crowd.function],
        seniority=objects([s[0] for s in vocab.SENIORITIES])[crowd.seniority],
        country=objects([c.code for c in vocab.COUNTRIES])[crowd.country],
        company=crowd.company.astype(np.int32),
        created_at=lives.created,
        systems=systems.astype(np.uint8),
        email_as_held=held,
        converted=lives.converted,
        converted_at=lives.converted_at,
    )
