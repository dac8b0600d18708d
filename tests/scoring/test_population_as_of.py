"""A population's RFM bounds and account roll-ups as of each contact's own moment, in one
pass, equal to one call per moment over everything up to it; and the k-th smallest of
many stretches equal to sorting each."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import ActivityFrame, ContactFrame, account_keys, population_rollups, score
from scoring.as_of import population_at, score_population
from scoring.ranked import kth_smallest
from scoring.records import TYPE_CODES, Activity, ActivityType, Contact
from scoring.rfm import population_bounds
from tests.helpers import NOW, rules

RULES = rules(
    """
    rules:
      - {id: champion, contact: {rfm_segment: champions}, points: 20}
      - {id: spend, value: rfm_score, per: 1, points: 1, cap: 15}
      - {id: colleague_demo, contact: {account_demo_requests: {gte: 1}}, points: 30}
      - {id: busy, value: account_engaged_people, per: 1, points: 5, cap: 20}
      - {id: keen, value: account_engagement_max, per: 1, points: 2, cap: 50}
      - {id: clicks, activity: email_click, points: 3}
      - {id: target, contact: {account_fit: {gte: 10}}, points: 7}
      - {id: account_heat, value: account_score, per: 1, points: 1, cap: 40}
      - {id: buying, contact: {account_stage: [engaged, buying]}, points: 11}
    stages:
      ladder:
        - {name: prospect}
        - {name: committee, when: {contact: {account_engaged_people: {gte: 2}}}}
        - {name: hot, when: {contact: {account_stage: buying}}}
    rfm:
      segments:
        - {name: champions, r: [4, 5], f: [4, 5], m: [4, 5]}
    accounts:
      engagement: {activity: [page_view, email_click, demo_request], window_days: 30}
      counts:
        demo_requests: {activity: demo_request, window_days: 1}
      fit:
        - {id: software, company: {industry: software}, points: 10}
        - {id: sized, company: {employees: {gte: 100}}, points: 5}
      stages:
        - {name: target}
        - {name: engaged, when: {account_engaged_people: {gte: 2}}}
        - {name: buying, when: {account_score: {gte: 13}, account_demo_requests: {gte: 1}}}
    """
)
DAY = 86_400.0
# days back from NOW and seconds after, so that moments fall on activities, on the edges
# of windows, inside bursts of clicks and right after sends
DAYS = st.sampled_from([0.0, 1.0, 2.0, 31.0, 32.0, 60.0])
SECONDS = st.sampled_from([0.0, 0.1, 0.25, 0.3, 0.5, 0.75, 5.0, 30.0])
KINDS = st.sampled_from(["purchase", "page_view", "email_click", "email_sent", "demo_request"])
AMOUNTS = st.sampled_from([19.99, 0.1, 0.2, 250.0, 1e-3, 7.0, float("nan")])
COMPANY = {"industry": ["Software", "software", "retail", None], "employees": [50, 100, None]}


World = tuple[list[Contact], list[Activity], list[float], dict[str, dict[str, Any]]]


@st.composite
def worlds(draw: st.DrawFn) -> World:
    size = draw(st.integers(1, 7))
    contacts = []
    for i in range(size):
        domain = draw(st.sampled_from(["acme.io", "beta.com", "gmail.com"]))
        extra = {"account_id": draw(st.sampled_from(["a1", "a2"]))} if draw(st.booleans()) else {}
        for name, values in COMPANY.items():  # the people's company attributes, some
            value = draw(st.sampled_from(values))
            if value is not None:
                extra[name] = value
        contacts.append(Contact(f"c{i}", email=f"p{i}@{domain}", attributes=extra))
    acts = []
    for _ in range(draw(st.integers(0, 30))):
        who = draw(st.integers(0, size - 1))
        kind = draw(KINDS)
        when = NOW - timedelta(days=draw(DAYS)) + timedelta(seconds=draw(SECONDS))
        attributes = {"campaign": draw(st.sampled_from(["x", "y"]))}
        if kind == "purchase":  # from one system or another: one sale held twice is merged
            attributes["amount"] = draw(AMOUNTS)
            attributes["system"] = draw(st.sampled_from(["hubspot", "salesforce", "mailchimp"]))
        acts.append(Activity(f"c{who}", ActivityType(kind), when, attributes=attributes))
    moments = [
        (NOW - timedelta(days=draw(DAYS)) + timedelta(seconds=draw(SECONDS))).timestamp()
        for _ in range(size)
    ]
    # a company record for a1, some of its attributes (the others' come from their people)
    companies: dict[str, dict[str, Any]] = {}
    if draw(st.booleans()):
        companies["account_id:a1"] = {n: draw(st.sampled_from(v)) for n, v in COMPANY.items()}
    return contacts, acts, moments, companies


@settings(max_examples=300, deadline=None)
@given(worlds())
def test_each_contacts_population_is_everything_up_to_its_moment(world) -> None:
    contacts, acts, moments, companies = world
    frame = ContactFrame.from_records(contacts)
    activities = ActivityFrame.from_records(acts, frame.ids)
    at = np.array(moments)
    size = len(frame)

    bounds, rolled = population_at(RULES, frame, activities, at, companies=companies)
    batch, _ = score_population(RULES, frame, activities, at, companies)

    assert RULES.accounts is not None and bounds is not None and rolled is not None
    keys = account_keys(RULES.accounts, frame, rolled.domains)
    for moment in set(moments):
        # the naive loop: everything after the moment set aside, for everyone
        alone_bounds = population_bounds(RULES, activities, size, moment)
        alone_rolled = population_rollups(RULES, frame, activities, moment, companies)
        assert alone_bounds is not None and alone_rolled is not None
        alone = score(
            RULES, frame, activities, np.full(size, moment), rfm=alone_bounds,
            accounts=alone_rolled,
        )  # fmt: skip
        for row in (r for r, m in enumerate(moments) if m == moment):
            for measure in ("recency", "frequency", "monetary"):
                expected = getattr(alone_bounds, measure) or (np.inf,) * 4
                assert getattr(bounds, measure)[:, row].tolist() == list(expected)
            assert bounds.people[row] == alone_bounds.people
            code = keys.codes[row]
            if code < 0:
                assert np.isnan(rolled.values[row]).all() and np.isnan(rolled.fit[row])
                assert rolled.stage.value(row) is None
            else:
                key = str(keys.categories[code])
                assert rolled.values[row].tolist() == list(alone_rolled.accounts[key])
                assert rolled.fit[row] == alone_rolled.fit[key]
                assert rolled.stage.value(row) == alone_rolled.stage.get(key)
            assert batch.total[row] == alone.total[row]
            assert batch.row(row) == alone.row(row)
            assert batch.reasons(row) == alone.reasons(row)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 40)), max_size=40), st.data())
def test_the_kth_smallest_of_stretches_is_that_of_each_sorted(steps, data) -> None:
    # a sequence of insertions and removals (a removal takes a value in, by then)
    codes, weights, alive = [], [], []
    for remove, value in steps:
        if remove and alive:
            codes.append(alive.pop(value % len(alive)))
            weights.append(-1)
        else:
            alive.append(value)
            codes.append(value)
            weights.append(1)
    ends, ks, expected = [], [], []
    for end in range(len(codes) + 1):
        held: list[int] = []
        for code, weight in zip(codes[:end], weights[:end], strict=True):
            if weight > 0:
                held.append(code)
            else:
                held.remove(code)
        held.sort()
        if held:
            k = data.draw(st.integers(0, len(held) - 1))
            ends.append(end)
            ks.append(k)
            expected.append(held[k])
    found = kth_smallest(
        np.array(codes, dtype=np.int64),
        np.array(weights, dtype=np.int64),
        np.zeros(len(ends), dtype=np.int64),
        np.array(ends, dtype=np.int64),
        np.array(ks, dtype=np.int64),
    )
    assert found.tolist() == expected


def test_a_colleagues_later_demo_is_not_seen_by_an_earlier_moment() -> None:
    ruleset = rules(
        """
        rules:
          - {id: colleague_demo, contact: {account_demo_requests: {gte: 1}}, points: 30}
        accounts:
          counts:
            demo_requests: {activity: demo_request}
        """
    )
    frame = ContactFrame.from_records(
        [Contact(name, email=f"{name}@acme.io") for name in ("ann", "bob", "cat")]
    )
    demo = Activity("bob", ActivityType.DEMO_REQUEST, NOW - timedelta(days=10))
    activities = ActivityFrame.from_records([demo], frame.ids)
    # ann as of 20 days ago, before bob's demo; bob and cat after it
    moments = np.array([(NOW - timedelta(days=d)).timestamp() for d in (20, 5, 5)])

    batch, _ = score_population(ruleset, frame, activities, moments)

    assert batch.total.tolist() == [0.0, 0.0, 30.0]  # bob's own demo is not a colleague's


def test_a_window_ends_where_the_engine_ends_it_to_the_last_bit() -> None:
    """`moment - at <= window` in floats is not `moment <= at + window`: 0.7 days is
    60479.99999999999 s, and a moment `at + window` rounds to 60480 s after the activity,
    outside the window for the engine. The roll-ups decide it as the engine does."""
    ruleset = rules(
        """
        rules:
          - {id: colleague_demo, contact: {account_demo_requests: {gte: 1}}, points: 30}
        accounts:
          counts:
            demo_requests: {activity: demo_request, window_days: 0.7}
        """
    )
    frame = ContactFrame.from_records(
        [Contact(name, email=f"{name}@acme.io") for name in ("ann", "bob", "cat")]
    )
    at = 1_790_000_000.0
    demo = np.array([TYPE_CODES[ActivityType.DEMO_REQUEST]], dtype=np.int8)
    activities = ActivityFrame.from_arrays(np.array([1], np.int32), demo, np.array([at]))
    edge = at + 0.7 * DAY
    assert edge - at > 0.7 * DAY  # the rounding this test is about
    moments = np.array([edge, at, np.nextafter(edge, -np.inf)])

    _, rolled = population_at(ruleset, frame, activities, moments)

    assert rolled is not None
    for row, moment in enumerate(moments.tolist()):
        alone = population_rollups(ruleset, frame, activities, moment)
        assert alone is not None
        assert rolled.values[row].tolist() == list(alone.accounts["email_domain:acme.io"])
    # the account's demo requests: gone at the edge, there at its own moment and just before
    assert rolled.values[:, -1].tolist() == [0.0, 1.0, 1.0]


def test_amounts_sum_to_the_same_float_however_the_purchases_are_listed() -> None:
    """(0.1 + 0.2) + 0.3 is not (0.3 + 0.2) + 0.1 in floats: amounts are summed in the order
    of their moments and values, so the engine, the sync and a running sum over time agree
    whatever order a file or the store lists the purchases in."""
    frame = ContactFrame.from_records([Contact("ann", email="ann@acme.io")])
    sums = set()
    for amounts in ([0.1, 0.2, 0.3], [0.3, 0.2, 0.1], [0.2, 0.3, 0.1]):
        bought = [
            Activity("ann", ActivityType.PURCHASE, NOW, attributes={"amount": a}) for a in amounts
        ]
        activities = ActivityFrame.from_records(bought, frame.ids)
        alone = population_bounds(RULES, activities, 1, NOW.timestamp())
        bounds, _ = population_at(RULES, frame, activities, np.array([NOW.timestamp()]))
        assert alone is not None and bounds is not None
        assert bounds.monetary[:, 0].tolist() == list(alone.monetary)
        sums.add(alone.monetary[0])
    assert sums == {(0.1 + 0.2) + 0.3}


def test_an_accounts_stage_is_the_one_it_was_on_at_each_contacts_moment() -> None:
    ruleset = rules(
        """
        rules:
          - {id: target, contact: {account_fit: {gte: 10}}, points: 7}
          - {id: buying, contact: {account_stage: buying}, points: 11}
        accounts:
          counts:
            demo_requests: {activity: demo_request}
          fit:
            - {id: software, company: {industry: software}, points: 10}
          stages:
            - {name: target}
            - {name: buying, when: {account_demo_requests: {gte: 1}}}
        """
    )
    industries = {"ann": "Software", "bob": "software", "cat": "Retail", "dan": "software"}
    frame = ContactFrame.from_records(
        [
            Contact(name, email=f"{name}@{'gmail.com' if name == 'dan' else 'acme.io'}",
                    attributes={"industry": industry})
            for name, industry in industries.items()
        ]
    )  # fmt: skip
    demo = Activity("bob", ActivityType.DEMO_REQUEST, NOW - timedelta(days=10))
    activities = ActivityFrame.from_records([demo], frame.ids)
    # ann as of 20 days ago, before bob's demo; the others after it; dan has no account
    moments = np.array([(NOW - timedelta(days=d)).timestamp() for d in (20, 5, 5, 5)])

    _, rolled = population_at(ruleset, frame, activities, moments)
    batch, _ = score_population(ruleset, frame, activities, moments)

    assert rolled is not None
    # acme's people are mostly in software (case aside): its fit is 10 at every moment
    assert rolled.fit[:3].tolist() == [10.0] * 3 and np.isnan(rolled.fit[3])
    assert [rolled.stage.value(row) for row in range(4)] == ["target", "buying", "buying", None]
    assert batch.total.tolist() == [7.0, 18.0, 18.0, 0.0]
    # a company record's attributes come before its people's
    retail = {"email_domain:acme.io": {"industry": "Retail"}}
    batch, _ = score_population(ruleset, frame, activities, moments, retail)
    assert batch.total.tolist() == [0.0, 11.0, 11.0, 0.0]
    # nobody asked: nothing, of the right shapes
    _, none = population_at(ruleset, frame, activities, np.zeros(0), np.zeros(0, np.intp))
    assert none is not None and none.values.shape == (0, 5) and none.fit.shape == (0,)
