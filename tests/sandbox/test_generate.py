"""The synthetic world: seeded, consistent across systems, and realistic enough to rank leads in."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scoring
from sandbox.world import vocabulary as vocab
from sandbox.world.generate import generate_world
from sandbox.world.tables import HUBSPOT, MAILCHIMP, SALESFORCE, World
from scoring.filters import machine_clicks
from scoring.frames import (
    TYPE_CODES,
    ActivityFrame,
    CategoricalColumn,
    NumericColumn,
    free_email_domains,
)
from scoring.records import ActivityType, normalize_email
from tests.sandbox.world_frames import world_frames
from tests.sandbox.world_helpers import campaign_system, of_type

A = ActivityType
DAY = 86_400.0
PERSON_FIELDS = ("country", "job_function", "seniority", "job_title")
FOLLOW_A_SEND = [
    A.EMAIL_OPEN,
    A.EMAIL_CLICK,
    A.EMAIL_BOUNCE,
    A.EMAIL_UNSUBSCRIBE,
    A.EMAIL_SPAM_REPORT,
]


@pytest.fixture(scope="module")
def world() -> World:
    return generate_world(2000, seed=11)


def codes(*kinds: ActivityType) -> list[int]:
    return [TYPE_CODES[k] for k in kinds]


def assert_consistent(world: World, days: int) -> None:
    """What every generated world must satisfy, whatever its size and seed."""
    events, people = world.events, world.people
    assert np.all(np.diff(events.at) >= 0)
    assert np.all((events.at >= world.now - days * DAY) & (events.at <= world.now))
    assert np.all(events.at >= people.created_at[events.person])
    assert np.all((people.systems > 0) & (people.systems < 8))
    for bit, held in people.email_as_held.items():
        rows = people.in_system(bit)
        assert [normalize_email(str(e)) for e in held[rows]] == people.email[rows].tolist()
    assert len(set(people.email.tolist())) == len(people)
    sent_at = send_times(world)
    follows = np.flatnonzero(np.isin(events.type, codes(*FOLLOW_A_SEND)))
    assert np.all(events.at[follows] > sent_at[follows])
    converted = np.flatnonzero(people.converted)
    purchases = of_type(events, A.PURCHASE)
    assert sorted(events.person[purchases].tolist()) == converted.tolist()
    assert np.array_equal(events.at[purchases], people.converted_at[events.person[purchases]])


def send_times(world: World) -> npt.NDArray[np.float64]:
    """For each event, when its campaign was sent to its person (NaN where there is no send)."""
    events = world.events
    key = events.person.astype(np.int64) * (len(world.campaigns) + 1) + events.campaign + 1
    sends = of_type(events, A.EMAIL_SENT)
    found = np.full(len(events), np.nan)
    if len(sends) == 0:
        return found
    order = np.argsort(key[sends])
    sent_keys, sent_at = key[sends][order], events.at[sends][order]
    assert np.all(np.diff(sent_keys) > 0), "one send per person and campaign"
    where = np.minimum(np.searchsorted(sent_keys, key), len(sends) - 1)
    match = sent_keys[where] == key
    found[match] = sent_at[where][match]
    return found


def auc(scores: npt.NDArray[np.float64], positive: npt.NDArray[np.bool_]) -> float:
    """Area under the ROC curve from ranks (ties share their average rank)."""
    order = np.argsort(scores, kind="stable")
    _, first, counts = np.unique(scores[order], return_index=True, return_counts=True)
    ranks = np.empty(len(scores))
    ranks[order] = np.repeat(first + (counts + 1) / 2, counts)
    pos, neg = int(positive.sum()), int((~positive).sum())
    return float((ranks[positive].sum() - pos * (pos + 1) / 2) / (pos * neg))


def rows_of(acts: ActivityFrame, keep: npt.NDArray[np.bool_]) -> ActivityFrame:
    columns = {
        name: CategoricalColumn(c.codes[keep], c.categories)
        if isinstance(c, CategoricalColumn)
        else NumericColumn(c.values[keep])
        for name, c in acts.columns.items()
    }
    return ActivityFrame(
        acts.contact_rows[keep], acts.type_codes[keep], acts.occurred_at[keep], columns
    )


# --- determinism ------------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_world_and_another_seed_another() -> None:
    first, again, other = (generate_world(500, seed=s) for s in (3, 3, 4))
    for table in ("companies", "people", "campaigns", "events"):
        for name, column in vars(getattr(first, table)).items():
            if isinstance(column, np.ndarray):
                nan = column.dtype.kind == "f"
                assert np.array_equal(column, getattr(getattr(again, table), name), equal_nan=nan)
    for bit, held in first.people.email_as_held.items():
        assert np.array_equal(held, again.people.email_as_held[bit])
    assert not np.array_equal(first.people.email, other.people.email)
    assert len(first.events) != len(other.events) or not np.array_equal(
        first.events.at, other.events.at
    )


# --- shapes and invariants --------------------------------------------------------------------


def test_events_are_ordered_in_the_period_and_consistent_with_sends_and_purchases(
    world: World,
) -> None:
    assert world.now == datetime(2026, 11, 1, tzinfo=UTC).timestamp()
    assert len(world.events) > 10 * len(world.people)
    assert_consistent(world, days=365)
    # the start and end of the period are honoured with another `now` and length too
    short = generate_world(300, seed=2, now=datetime(2025, 3, 1, tzinfo=UTC), days=30)
    assert_consistent(short, days=30)


def test_columns_have_one_row_per_item_and_point_at_real_rows(world: World) -> None:
    people, events = world.people, world.events
    for column in vars(people).values():
        if isinstance(column, np.ndarray):
            assert len(column) == len(people)
    assert set(people.email_as_held) == {HUBSPOT, SALESFORCE, MAILCHIMP}
    assert people.company.min() >= 0 and people.company.max() < len(world.companies)
    assert events.person.max() < len(people)
    assert events.campaign.max() < len(world.campaigns) and events.url.max() < len(world.urls)
    email_kinds = codes(A.EMAIL_SENT, *FOLLOW_A_SEND)
    assert np.array_equal(events.campaign >= 0, np.isin(events.type, email_kinds))
    money = np.isin(events.type, codes(A.QUOTE_SENT, A.PURCHASE))
    assert np.array_equal(~np.isnan(events.amount), money)
    assert np.all(events.amount[money] > 0)


def test_every_kind_of_activity_happens(world: World) -> None:
    counts = np.bincount(world.events.type, minlength=len(scoring.ACTIVITY_TYPES))
    never = [kind for kind, count in zip(scoring.ACTIVITY_TYPES, counts, strict=True) if not count]
    assert never == []
    # email dominates, then the site; purchases are rare
    share = counts / counts.sum()
    assert share[TYPE_CODES[A.EMAIL_SENT]] > 0.2 and share[TYPE_CODES[A.PAGE_VIEW]] > 0.15
    assert share[TYPE_CODES[A.PURCHASE]] < 0.02


def test_campaigns_go_out_a_few_times_a_week_from_mailchimp_or_hubspot(world: World) -> None:
    campaigns = world.campaigns
    assert 2 <= len(campaigns) / 52 <= 4
    assert np.all(np.diff(campaigns.sent_at) > 0)
    assert len(set(campaigns.name.tolist())) == len(campaigns)
    senders = np.array([campaign_system(str(name)) for name in campaigns.name])
    assert set(senders.tolist()) == {HUBSPOT, MAILCHIMP}
    sends = of_type(world.events, A.EMAIL_SENT)
    sender = senders[world.events.campaign[sends]]
    assert np.all(world.people.systems[world.events.person[sends]] & sender)


def test_site_urls_cover_the_pages_of_a_b2b_website(world: World) -> None:
    paths = {str(u).removeprefix(vocab.SITE) for u in world.urls}
    assert {"/", "/pricing", "/customers", "/careers"} <= paths
    for section in ("/product/", "/blog/", "/docs/"):
        assert any(p.startswith(section) for p in paths)
    viewed = world.events.url[of_type(world.events, A.PAGE_VIEW)]
    assert len(np.unique(viewed)) > 40


# --- people, companies, systems ---------------------------------------------------------------


def test_everyone_is_in_a_system_in_realistic_shares(world: World) -> None:
    systems = world.people.systems
    assert np.all(systems & (HUBSPOT | SALESFORCE | MAILCHIMP))
    shares = {bit: float(np.mean(systems & bit > 0)) for bit in (HUBSPOT, SALESFORCE, MAILCHIMP)}
    assert shares[HUBSPOT] == pytest.approx(0.7, abs=0.07)
    assert shares[SALESFORCE] == pytest.approx(0.5, abs=0.07)
    assert shares[MAILCHIMP] == pytest.approx(0.6, abs=0.07)
    in_all = float(np.mean(systems == HUBSPOT | SALESFORCE | MAILCHIMP))
    assert 0.1 < in_all < 0.4


def test_some_systems_spell_an_address_differently_but_it_normalizes_to_the_same(
    world: World,
) -> None:
    people = world.people
    for bit, held in people.email_as_held.items():
        rows = people.in_system(bit)
        differs = held[rows] != people.email[rows]
        assert 0 < differs.mean() < 0.1
        variants = held[rows][differs].tolist()
        assert all(normalize_email(v) in set(people.email[rows].tolist()) for v in variants)
    spaced = people.email_as_held[SALESFORCE]
    assert any(str(e) != str(e).strip() for e in spaced)
    assert any(str(e) != str(e).lower() for e in spaced)


def test_addresses_follow_the_company_domain_or_free_mail_or_a_competitor(world: World) -> None:
    people, companies = world.people, world.companies
    domains = np.array([str(e).rpartition("@")[2] for e in people.email])
    at_work = domains == companies.domain[people.company]
    free = np.isin(domains, list(free_email_domains()))
    assert np.all(at_work | free)
    assert 0.03 < free.mean() < 0.15
    competitors = [d for _, d in vocab.COMPETITORS]
    assert 0 < np.isin(domains, competitors).sum() < 0.02 * len(people)
    assert len(set(companies.domain.tolist())) == len(companies)
    non_buyers = np.isin(people.job_function, ["Student", "Job seeker"])
    assert 0 < non_buyers.mean() < 0.05


def test_company_sizes_are_heavy_tailed_with_a_few_big_accounts(world: World) -> None:
    employees = world.companies.employees
    assert np.percentile(employees, 99) > 20 * np.median(employees)
    per_company = np.bincount(world.people.company, minlength=len(world.companies))
    big = employees >= np.percentile(employees, 99)
    assert per_company[big].mean() > 4 * per_company.mean()
    assert set(world.companies.industry.tolist()) >= {"Software", "Financial services"}
    assert len(set(world.people.country.tolist())) > 10


# --- email realism ----------------------------------------------------------------------------


def test_scanners_click_on_delivery_and_in_bursts_and_the_default_filter_drops_them(
    world: World,
) -> None:
    events = world.events
    clicks = of_type(events, A.EMAIL_CLICK)
    delay = events.at[clicks] - send_times(world)[clicks]
    on_delivery = delay < 10
    by_person = clicks[np.lexsort((events.at[clicks], events.person[clicks]))]
    who, when = events.person[by_person], events.at[by_person]
    third = (who[2:] == who[:-2]) & (when[2:] - when[:-2] < 1.0)
    assert on_delivery.sum() > 10 and third.sum() > 10

    _, acts = world_frames(world)
    bot = scoring.load_rules("scoring/rulesets/default.yaml").filters.bot_clicks
    flagged = machine_clicks(acts, np.ones(len(acts), dtype=bool), bot)[clicks]
    assert np.all(flagged[on_delivery])
    assert 0.1 < flagged.mean() < 0.8  # a share of the clicks, not all
    human = ~flagged
    assert np.all(delay[human] > 20)


def test_opens_and_clicks_are_a_plausible_share_of_sends(world: World) -> None:
    events = world.events
    sends = len(of_type(events, A.EMAIL_SENT))
    opened = len(of_type(events, A.EMAIL_OPEN)) / sends
    clicked = len(of_type(events, A.EMAIL_CLICK)) / sends
    assert 0.2 < opened < 0.7
    assert 0.01 < clicked < 0.25  # scanners included
    for kind, most in ((A.EMAIL_BOUNCE, 0.02), (A.EMAIL_UNSUBSCRIBE, 0.02)):
        assert 0 < len(of_type(events, kind)) / sends < most
    assert len(of_type(events, A.EMAIL_SPAM_REPORT)) > 0


# --- conversion and its signals ---------------------------------------------------------------


def test_a_share_of_people_convert_after_a_buying_journey(world: World) -> None:
    people, events = world.people, world.events
    assert 0.05 <= people.converted.mean() <= 0.15
    assert np.array_equal(people.converted, ~np.isnan(people.converted_at))
    buyers = people.converted
    for kind in (A.QUOTE_SENT, A.MEETING):
        has = np.zeros(len(people), dtype=bool)
        has[events.person[of_type(events, kind)]] = True
        assert has[buyers].mean() > 0.8 > 0.2 > has[~buyers].mean()
    quotes = of_type(events, A.QUOTE_SENT)
    quoted_buyer = buyers[events.person[quotes]]
    assert np.all(
        events.at[quotes][quoted_buyer] < people.converted_at[events.person[quotes]][quoted_buyer]
    )
    competitor = np.isin(
        [str(e).rpartition("@")[2] for e in people.email], [d for _, d in vocab.COMPETITORS]
    )
    assert not np.any(buyers & competitor)


def test_default_rules_rank_the_next_quarters_buyers_above_the_rest() -> None:
    """A backtest as a user would run one: score with what was known 90 days ago, then see
    whether those who bought since rank higher than those who did not.

    Scoring at `now` with each converter's events cut at their conversion would compare
    stale, decayed signals of old buyers with fresh ones of today's prospects; cutting
    everyone at one moment keeps the comparison fair and free of the outcome.
    """
    world = generate_world(3000, seed=21)
    contacts, acts = world_frames(world)
    as_of = world.now - 90 * DAY
    people = world.people
    known = (people.created_at <= as_of) & ~(people.converted_at <= as_of)
    bought = people.converted_at > as_of
    rules = scoring.load_rules("scoring/rulesets/default.yaml")
    batch = scoring.score(
        rules,
        contacts,
        rows_of(acts, acts.occurred_at <= as_of),
        datetime.fromtimestamp(as_of, UTC),
    )
    assert bought[known].sum() > 50
    total = auc(batch.total[known], bought[known])
    fit_alone = auc(batch.dimensions[known, 0], bought[known])
    assert total > 0.75
    assert total > fit_alone + 0.1  # behaviour carries signal beyond the profile


def test_world_frames_hold_one_contact_per_person_with_profile_and_activity_fields(
    world: World,
) -> None:
    contacts, acts = world_frames(world)
    people, companies = world.people, world.companies
    assert len(contacts) == len(people) and len(acts) == len(world.events)
    assert contacts.emails.categories[contacts.emails.codes].tolist() == people.email.tolist()
    expected = {
        "industry": companies.industry[people.company],
        "company": companies.name[people.company],
        **{name: getattr(people, name) for name in PERSON_FIELDS},
    }
    for name, values in expected.items():
        column = contacts.column(name)
        assert isinstance(column, CategoricalColumn)
        assert column.categories[column.codes].tolist() == values.tolist()
    employees = contacts.column("employees")
    assert isinstance(employees, NumericColumn)
    assert np.array_equal(employees.values, companies.employees[people.company])
    assert np.array_equal(acts.contact_rows, world.events.person)
    assert np.array_equal(acts.occurred_at, world.events.at)
    for name, table, codes in (
        ("url", world.urls, world.events.url),
        ("campaign", world.campaigns.name, world.events.campaign),
    ):
        column = acts.column(name)
        assert isinstance(column, CategoricalColumn)
        assert np.array_equal(column.codes, codes) and column.categories is table


def test_vocabulary_spells_names_and_domains_uniquely() -> None:
    firsts = [vocab.email_form(n) for n in vocab.FIRST_NAMES]
    lasts = [vocab.email_form(n) for n in vocab.LAST_NAMES]
    assert len(set(firsts)) == len(firsts) and len(set(lasts)) == len(lasts)
    assert all(len(f) >= 2 and f.isascii() and f.isalpha() for f in firsts + lasts)
    roots = [a + b for a in vocab.ROOT_STARTS for b in vocab.ROOT_ENDS]
    assert len({r.lower() for r in roots}) == len(roots)
    assert {d for d, _ in vocab.FREE_MAIL} <= free_email_domains()


@settings(max_examples=25)
@given(
    people=st.integers(1, 80),
    seed=st.integers(0, 2**32 - 1),
    days=st.integers(1, 120),
)
def test_any_small_world_is_consistent(people: int, seed: int, days: int) -> None:
    world = generate_world(people, seed=seed, days=days)
    assert len(world.people) == people
    assert_consistent(world, days)
