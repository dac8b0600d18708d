"""Numbers as CRMs and spreadsheets write them reach the rules as numbers, or are said not to."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring import (
    Contact,
    ContactFrame,
    parse_number,
    parse_rules,
    score_records,
    unparsed_numbers,
)

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
RULES = parse_rules(
    "rules:\n"
    "  - id: big_company\n    contact: {employees: {gte: 1000}}\n    points: 20\n"
    "  - id: budget\n    contact: {budget: {between: [1000, 5000]}}\n    points: 10\n"
)


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("1200", 1200.0),
        ("1,200", 1200.0),
        ("1 200", 1200.0),
        ("1\u202f200", 1200.0),
        ("1.200,5", 1200.5),
        ("1,200.50", 1200.5),
        ("$1,200", 1200.0),
        ("€ 1.234,56", 1234.56),
        ("CHF 1'200", 1200.0),
        ("1,200 EUR", 1200.0),
        ("-3,5", -3.5),
        ("\u22122", -2.0),
        ("1.5", 1.5),
        ("1.200.000", 1200000.0),
        ("0,500", 0.5),
    ],
)
def test_numbers_as_people_write_them(text: str, number: float) -> None:
    assert parse_number(text) == number


@pytest.mark.parametrize("text", ["", "   ", "abc", "1,2,3", "100-500", "nan", "inf", "1.2.3,4,5"])
def test_text_that_is_no_number_is_none(text: str) -> None:
    assert parse_number(text) is None


amounts = st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False)


@given(
    amounts,
    st.sampled_from(["us", "eu", "space", "swiss", "plain"]),
    st.sampled_from(["", "$", "€ ", "USD "]),
)
def test_any_amount_written_in_any_usual_style_reads_back(
    amount, style: str, currency: str
) -> None:
    us = f"{abs(amount):,.2f}"
    written = {
        "us": us,
        "eu": us.replace(",", "_").replace(".", ",").replace("_", "."),
        "space": us.replace(",", " "),
        "swiss": us.replace(",", "'"),
        "plain": f"{abs(amount):.2f}",
    }[style]
    sign = "-" if amount < 0 else ""
    assert parse_number(f"{sign}{currency}{written}") == pytest.approx(float(amount))


@given(st.text())
def test_parsing_never_fails_and_gives_a_finite_number_or_none(text: str) -> None:
    number = parse_number(text)
    assert number is None or (number == number and abs(number) != float("inf"))


def test_rules_compare_numbers_written_with_separators() -> None:
    contacts = [
        Contact("1", attributes={"employees": "1,200", "budget": "$2,500"}),
        Contact("2", attributes={"employees": "1 500", "budget": "2.500,00"}),
        Contact("3", attributes={"employees": "900", "budget": ""}),
    ]
    batch = score_records(RULES, contacts, [], AS_OF)
    assert [float(t) for t in batch.total] == [30.0, 30.0, 0.0]


def test_a_field_whose_values_do_not_parse_is_named_with_a_sample() -> None:
    contacts = [
        Contact("1", attributes={"employees": "1000+", "budget": "2000"}),
        Contact("2", attributes={"employees": "100-500", "budget": ""}),
    ]
    lines = unparsed_numbers(RULES, ContactFrame.from_records(contacts))
    assert len(lines) == 1
    assert "field 'employees': 2 values" in lines[0] and "'1000+'" in lines[0]
    assert "count as missing" in lines[0]


@pytest.mark.parametrize(
    "values",
    [
        ["inf", "nan", "-Infinity", "1e400"],
        [float("inf"), float("nan"), float("-inf"), 10**400],
    ],
)
def test_infinities_and_nan_are_no_number_for_the_rules(values: list[object]) -> None:
    contacts = [Contact(str(i), attributes={"employees": v}) for i, v in enumerate(values)]
    contacts.append(Contact("big", attributes={"employees": 1000}))
    batch = score_records(RULES, contacts, [], AS_OF)
    assert [float(t) for t in batch.total] == [0.0] * len(values) + [20.0]
