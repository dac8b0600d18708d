"""RFM's one sale across systems at its edges: a currency one system names and another
leaves out, a prefix of time seeing the sales it would alone, rates named twice."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring.purchases import Sales, counted_sales
from scoring.rfm_rules import Rfm
from tests.helpers import rules
from tests.scoring.test_purchases import FIXED, _counted, _naive, _scored
from tests.scoring.test_rule_files import problems


def test_a_sale_one_system_gives_a_currency_and_another_none_is_one_sale() -> None:
    # HubSpot names every deal's currency; a single-currency Salesforce org names none:
    # without `rfm.currency` the amounts are summed as they are, and the sale is one
    found = _scored(
        rules(FIXED),
        (10, {"amount": 500.0, "system": "hubspot", "currency": "USD"}),
        (9, {"amount": 500.0, "system": "salesforce"}),
    )
    assert found == (1, 500.0, 10.0)


def test_two_currencies_named_without_rfm_currency_are_never_one_sale() -> None:
    found = _scored(
        rules(FIXED),
        (10, {"amount": 500.0, "system": "hubspot", "currency": "USD"}),
        (9, {"amount": 500.0, "system": "salesforce", "currency": "EUR"}),
    )
    assert found[0] == 2


def test_a_rate_named_twice_in_two_cases_is_a_problem() -> None:
    found = problems(FIXED + "  currency: EUR\n  rates: {usd: 0.5, USD: 0.6}\n")
    assert any("USD" in p and "twice" in p for p in found), found


purchase = st.tuples(
    st.integers(0, 2),  # contact
    st.integers(0, 40),  # day
    st.sampled_from([10.0, 20.0, float("nan"), -10.0]),
    st.sampled_from(["hubspot", "salesforce", "mailchimp", None]),
    st.sampled_from(["USD", "EUR", "usd", None]),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(purchase, max_size=14), st.integers(0, 41), st.booleans())
def test_a_prefix_of_time_counts_the_sales_the_whole_counts_up_to_it(
    items: list[tuple[int, int, float, str | None, str | None]], cut: int, convert: bool
) -> None:
    rfm = Rfm.model_validate({"currency": "USD", "rates": {"EUR": 1.0}} if convert else {})
    who = np.array([i[0] for i in items], dtype=np.int32)
    at = np.array([i[1] * 86_400.0 for i in items], dtype=np.float64)
    amounts = np.array([i[2] for i in items], dtype=np.float64)
    systems = np.array([i[3] for i in items], dtype=object)
    currencies = np.array([i[4] for i in items], dtype=object)
    whole = counted_sales(rfm, who, at, amounts, systems, currencies)
    early = at <= cut * 86_400.0
    part = counted_sales(
        rfm, who[early], at[early], amounts[early], systems[early], currencies[early]
    )

    def sales(found: Sales) -> list[tuple[int, float, float]]:
        keep = found.at <= cut * 86_400.0
        w, a, m = found.who[keep], found.at[keep], np.nan_to_num(found.amounts[keep])
        return sorted(zip(w.tolist(), a.tolist(), m.tolist(), strict=True))

    assert sales(whole) == sales(part)


def test_a_sales_window_runs_from_its_first_purchase_never_from_its_latest() -> None:
    # HubSpot on day 0, Salesforce on day 6, Mailchimp on day 12, one amount: Salesforce's
    # is within a week of HubSpot's and joins its sale; Mailchimp's is 12 days after that
    # sale's first purchase and starts a sale of its own, though 6 after Salesforce's
    chained = (
        (20, {"amount": 300.0, "system": "hubspot"}),
        (14, {"amount": 300.0, "system": "salesforce"}),
        (8, {"amount": 300.0, "system": "mailchimp"}),
    )
    assert _scored(rules(FIXED), *chained) == (2, 600.0, 8.0)
    # within a week of the first, the three are one sale
    within = ((20, chained[0][1]), (17, chained[1][1]), (13, chained[2][1]))
    assert _scored(rules(FIXED), *within) == (1, 300.0, 20.0)


MANY = st.tuples(
    st.integers(0, 2),  # contact
    st.sampled_from([0.0, 1.0, 3.0, 5.0, 7.0, 8.0, 10.0, 14.0, 15.0, 30.0]),  # day
    st.sampled_from([50.0, 50.0, 55.0, 55.004, math.nan]),  # 50 USD is 55 EUR
    st.sampled_from(["hubspot", "salesforce", "mailchimp", "hubspot"]),
    st.sampled_from([None, None, "EUR", "USD"]),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(MANY, max_size=40),
    st.sampled_from([None, "EUR"]),
    st.sampled_from([7.0, 0.0, 10.0]),
)
def test_the_sorted_scan_counts_the_sales_of_the_rule_read_plainly(
    purchases: list[tuple[int, float, float, str, str | None]],
    currency: str | None,
    days: float,
) -> None:
    """Long runs of one amount within the window, a system twice among them, one currency
    named and none, two converted: the scan on sorted arrays and the purchases it takes
    one by one count what the rule read plainly does."""
    rfm = Rfm(currency=currency, rates={"USD": 1.1} if currency else {}, same_sale_days=days)
    rows = [(w, d * 86_400, a, s, c) for w, d, a, s, c in purchases]
    found = _counted(rfm, rows)
    kept = _naive(rfm, rows)
    assert found.merged == len(rows) - len(kept)
    rate = {None: 1.0, currency: 1.0, "USD": 1.1} if currency else {}

    def value(row: tuple[int, float, float, str, str | None]) -> float:
        amount = row[2] * rate.get(row[4], math.nan) if currency else row[2]
        return -1.0 if math.isnan(amount) else amount

    expected = sorted((rows[i][0], rows[i][1], value(rows[i])) for i in kept)
    got = zip(found.who.tolist(), found.at.tolist(), found.amounts.tolist(), strict=True)
    assert sorted((w, a, -1.0 if math.isnan(v) else v) for w, a, v in got) == expected
