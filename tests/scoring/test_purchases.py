"""RFM's purchases: one sale held by several systems counted once, never two of one
system; amounts turned into the rule file's currency, those without a rate left out of
monetary value and said; the `rfm` block's new keys validated with their line."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import ActivityFrame, ContactFrame, RuleSet, score
from scoring.purchases import Sales, counted_sales
from scoring.rfm_rules import Rfm
from tests.helpers import NOW, act, person, rules
from tests.scoring.test_rule_files import problems

FIXED = """
rules:
  - {id: visit, activity: page_view, points: 1}
rfm:
  bounds: {recency: [30, 90, 180, 365], frequency: [1, 2, 4, 8], monetary: [100, 500, 1000, 5000]}
"""


def _scored(ruleset: RuleSet, *purchases: tuple[float, dict[str, Any]]) -> tuple[int, float, float]:
    """(count, amount, days since the last) of one contact's purchases, as the engine
    measures them."""
    frame = ContactFrame.from_records([person("c1")])
    acts = [act("purchase", days, "c1", **attributes) for days, attributes in purchases]
    batch = score(ruleset, frame, ActivityFrame.from_records(acts, frame.ids), NOW)
    assert batch.rfm is not None
    measures = batch.rfm.measures
    days = (NOW.timestamp() - float(measures.last[0])) / 86_400
    return int(measures.count[0]), float(measures.amount[0]), round(days, 6)


def test_one_sale_in_three_systems_counts_once_at_its_earliest_date() -> None:
    ruleset = rules(FIXED)
    found = _scored(
        ruleset,
        (10, {"amount": 500.0, "system": "hubspot"}),
        (12, {"amount": 500.0, "system": "salesforce"}),
        (9, {"amount": 500.0, "system": "mailchimp"}),
    )
    assert found == (1, 500.0, 12.0)


def test_two_equal_orders_of_one_system_are_two_orders() -> None:
    ruleset = rules(FIXED)
    found = _scored(
        ruleset,
        (10, {"amount": 80.0, "system": "mailchimp"}),
        (10, {"amount": 80.0, "system": "mailchimp"}),
    )
    assert found == (2, 160.0, 10.0)


@pytest.mark.parametrize(
    ("first", "second", "count"),
    [
        (
            (10, {"amount": 500.0, "system": "hubspot"}),
            (3, {"amount": 500.0, "system": "salesforce"}),
            1,
        ),
        (
            (10, {"amount": 500.0, "system": "hubspot"}),
            (2.9, {"amount": 500.0, "system": "salesforce"}),
            2,
        ),
        (
            (10, {"amount": 500.0, "system": "hubspot"}),
            (9, {"amount": 500.5, "system": "salesforce"}),
            2,
        ),
        ((10, {"amount": 500.0, "system": "hubspot"}), (9, {"system": "salesforce"}), 2),
        ((10, {"amount": 500.0}), (9, {"amount": 500.0}), 2),  # no system: one system
    ],
)
def test_a_sale_is_one_when_amounts_agree_within_the_window(
    first: tuple[float, dict[str, Any]], second: tuple[float, dict[str, Any]], count: int
) -> None:
    assert _scored(rules(FIXED), first, second)[0] == count


def test_the_window_is_the_rule_files_and_null_counts_every_purchase() -> None:
    pair = (
        (10, {"amount": 5.0, "system": "hubspot"}),
        (1, {"amount": 5.0, "system": "salesforce"}),
    )
    assert _scored(rules(FIXED + "  same_sale_days: 9\n"), *pair)[0] == 1
    assert _scored(rules(FIXED + "  same_sale_days: 8.9\n"), *pair)[0] == 2
    assert _scored(rules(FIXED + "  same_sale_days: null\n"), pair[0], (10, pair[1][1]))[0] == 2


def test_a_sale_joins_one_purchase_of_each_system_only() -> None:
    # two orders in Mailchimp and one deal in HubSpot of the same amount: the deal is one
    # of the orders, the other order another sale
    found = _scored(
        rules(FIXED),
        (10, {"amount": 50.0, "system": "mailchimp"}),
        (9, {"amount": 50.0, "system": "mailchimp"}),
        (8, {"amount": 50.0, "system": "hubspot"}),
    )
    assert found == (2, 100.0, 9.0)


def test_amounts_are_turned_into_the_currency_and_those_without_a_rate_left_out() -> None:
    ruleset = rules(FIXED + "  currency: EUR\n  rates: {USD: 0.5, gbp: 2}\n")
    frame = ContactFrame.from_records([person("c1")])
    acts = [
        act("purchase", 40, "c1", amount=100.0, currency="usd", system="mailchimp"),
        act("purchase", 30, "c1", amount=100.0, currency="GBP", system="mailchimp"),
        act("purchase", 20, "c1", amount=100.0, system="mailchimp"),  # no currency: EUR
        act("purchase", 10, "c1", amount=100.0, currency="JPY", system="mailchimp"),
        act("purchase", 5, "c1", amount=100.0, currency="JPY", system="mailchimp"),
    ]
    batch = score(ruleset, frame, ActivityFrame.from_records(acts, frame.ids), NOW)
    assert batch.rfm is not None
    assert batch.rfm.measures.count[0] == 5  # every purchase counts in frequency
    assert batch.rfm.measures.amount[0] == 50.0 + 200.0 + 100.0
    said = [n for n in batch.notes if n.startswith("rfm:")]
    assert said == [
        "rfm: purchases without a rate to EUR (2 in JPY) are left out of monetary value; "
        "add them to rfm.rates"
    ]


def test_one_sale_in_two_currencies_agrees_once_converted() -> None:
    ruleset = rules(FIXED + "  currency: USD\n  rates: {EUR: 1.1}\n")
    deal = (10, {"amount": 1100.0, "currency": "USD", "system": "hubspot"})
    assert (
        _scored(ruleset, deal, (9, {"amount": 1000.0, "currency": "EUR", "system": "mailchimp"}))[0]
        == 1
    )
    assert (
        _scored(ruleset, deal, (9, {"amount": 900.0, "currency": "EUR", "system": "mailchimp"}))[0]
        == 2
    )


def test_several_currencies_without_a_currency_are_summed_and_said() -> None:
    frame = ContactFrame.from_records([person("c1"), person("c2", "bo@acme.io")])
    acts = [
        act("purchase", 10, "c1", amount=10.0, currency="USD"),
        act("purchase", 10, "c2", amount=10.0, currency="EUR"),
    ]
    batch = score(rules(FIXED), frame, ActivityFrame.from_records(acts, frame.ids), NOW)
    assert batch.rfm is not None and batch.rfm.measures.amount.tolist() == [10.0, 10.0]
    assert [n for n in batch.notes if n.startswith("rfm:")] == [
        "rfm: purchases in 2 currencies (EUR, USD) are summed as one; set rfm.currency and "
        "rfm.rates"
    ]
    one = [act("purchase", 10, "c1", amount=10.0, currency="USD")]
    alone = score(rules(FIXED), frame, ActivityFrame.from_records(one, frame.ids), NOW)
    assert not [n for n in alone.notes if n.startswith("rfm:")]


SYSTEMS = st.sampled_from(["hubspot", "salesforce", "mailchimp"])
PURCHASE = st.tuples(
    st.integers(0, 3),  # contact
    st.sampled_from([0.0, 1.0, 3.0, 7.0, 7.5, 20.0]),  # days
    st.sampled_from([10.0, 10.001, 250.0, math.nan]),
    SYSTEMS,
)


@settings(max_examples=200, deadline=None)
@given(st.lists(PURCHASE, max_size=25), st.sampled_from([0.0, 1.0, 7.0, 20.0]))
def test_a_prefix_of_time_counts_the_sales_it_would_alone(purchases, cut) -> None:
    """Whether a purchase joins a sale depends only on the purchases up to it: the sales of
    the purchases up to a moment are those of all the purchases, up to that moment (what
    a backtest's bounds as of each moment stand on, `scoring.as_of`)."""
    rfm = Rfm()

    def counted(rows: list[tuple[int, float, float, str]]) -> list[tuple[int, float, float]]:
        found = counted_sales(
            rfm,
            np.array([r[0] for r in rows], dtype=np.int32),
            np.array([r[1] * 86_400 for r in rows], dtype=np.float64),
            np.array([r[2] for r in rows], dtype=np.float64),
            np.array([r[3] for r in rows], dtype=object),
            np.full(len(rows), None, dtype=object),
        )
        out = zip(found.who.tolist(), found.at.tolist(), found.amounts.tolist(), strict=True)
        return sorted((w, a, -1.0 if math.isnan(v) else v) for w, a, v in out)

    whole = counted(purchases)
    early = counted([p for p in purchases if p[1] <= cut])
    assert early == [s for s in whole if s[1] <= cut * 86_400]
    # never more than one purchase of a system in a sale: a system alone merges nothing
    for system in ("hubspot", "salesforce", "mailchimp"):
        alone = [p for p in purchases if p[3] == system]
        assert len(counted(alone)) == len(alone)


@pytest.mark.parametrize(
    ("block", "message", "line"),
    [
        ("  currency: euro\n", "three-letter ISO 4217 code", 5),
        ("  currency: EUR\n  rates: {USD: 0}\n", "greater than 0", 6),
        ("  currency: EUR\n  rates: {USD: -2}\n", "greater than 0", 6),
        ("  currency: EUR\n  rates:\n    dollars: 1.1\n", "got 'dollars'", 7),
        ("  currency: EUR\n  rates: {EUR: 1}\n", "takes no rate", 6),
        ("  rates: {USD: 1.1}\n", "rates need `currency`", 5),
        ("  same_sale_days: -1\n", "greater than or equal to 0", 5),
    ],
)
def test_bad_currency_keys_are_located(block: str, message: str, line: int) -> None:
    text = "rules:\n  - {id: v, activity: page_view, points: 1}\nrfm:\n  write: false\n" + block
    found = problems(text)
    assert any(message in p and p.startswith(f"r.yaml:{line}: rfm.") for p in found), found


def _naive(rfm: Rfm, rows: list[tuple[int, float, float, str, str | None]]) -> list[int]:
    """The rule read plainly: purchases in (contact, time, amount, system name) order, each
    joining the first open sale of its contact within the window that agrees and holds
    none of its system's; the indexes of those that count."""
    rates = {**rfm.factors, **({rfm.currency: 1.0} if rfm.currency else {})}

    def value(row: tuple[int, float, float, str, str | None]) -> float:
        code = row[4] or rfm.currency
        if rfm.currency is None:
            return row[2]
        rate = rates.get(code or "")
        return row[2] * rate if rate is not None else math.nan

    def agree(a: int, b: int) -> bool:
        x, y = rows[a], rows[b]
        unnamed = rfm.currency is None and (x[4] is None or y[4] is None)
        if (x[4] or rfm.currency) == (y[4] or rfm.currency) or unnamed:
            known = not (math.isnan(x[2]) or math.isnan(y[2]))
            return known and round(x[2] * 100) == round(y[2] * 100)
        u, v = value(x), value(y)
        if rfm.currency is None or math.isnan(u) or math.isnan(v):
            return False
        return abs(u - v) <= 0.01 * max(abs(u), abs(v))

    order = sorted(
        range(len(rows)),
        key=lambda i: (
            rows[i][0],
            rows[i][1],
            math.inf if math.isnan(rows[i][2]) else round(rows[i][2] * 100),
            rows[i][3],
        ),
    )
    window = (rfm.same_sale_days or 0) * 86_400
    kept, sales = [], []
    for i in order:
        for first, held in sales:
            same = rows[first][0] == rows[i][0] and rows[i][1] - rows[first][1] <= window
            if same and rows[i][3] not in held and agree(first, i):
                held.add(rows[i][3])
                break
        else:
            sales.append((i, {rows[i][3]}))
            kept.append(i)
    return sorted(kept)


SALE = st.tuples(
    st.integers(0, 2),
    st.sampled_from([0.0, 2.0, 6.0, 8.0]),
    st.sampled_from([100.0, 100.004, 110.0, 90.9, math.nan]),
    SYSTEMS,
    st.sampled_from([None, "EUR", "USD", "JPY"]),
)


def _counted(rfm: Rfm, rows: list[tuple[int, float, float, str, str | None]]) -> Sales:
    """`counted_sales` of rows (contact, moment, amount, system, currency)."""
    return counted_sales(
        rfm,
        np.array([r[0] for r in rows], dtype=np.int32),
        np.array([r[1] for r in rows], dtype=np.float64),
        np.array([r[2] for r in rows], dtype=np.float64),
        np.array([r[3] for r in rows], dtype=object),
        np.array([r[4] for r in rows], dtype=object),
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(SALE, max_size=20), st.sampled_from([None, "EUR"]))
def test_the_sales_counted_are_those_of_the_rule_read_plainly(purchases, currency) -> None:
    rfm = Rfm(currency=currency, rates={"USD": 1.1} if currency else {})
    rows = [(w, d * 86_400, a, s, c) for w, d, a, s, c in purchases]
    found = _counted(rfm, rows)
    kept = _naive(rfm, rows)
    assert found.merged == len(rows) - len(kept)
    expected = sorted((rows[i][0], rows[i][1]) for i in kept)
    assert sorted(zip(found.who.tolist(), found.at.tolist(), strict=True)) == expected
