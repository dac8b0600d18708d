"""The SOQL parser of the Salesforce sandbox: grammar, literals, escapes and located errors."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.salesforce.query import like_regex
from sandbox.salesforce.soql import (
    KEYWORDS,
    And,
    Compare,
    Condition,
    InList,
    Like,
    Not,
    Or,
    OrderItem,
    Query,
    SoqlError,
    Value,
    decode,
    parse,
    parse_condition,
)
from tests.sandbox.soql_render import COMPARISONS, like_literal, quote, render

names = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,12}", fullmatch=True).filter(
    lambda name: name.upper() not in KEYWORDS
)
fields = st.one_of(names, st.tuples(names, names).map(".".join))
moments = st.datetimes(min_value=datetime(1900, 1, 1), timezones=st.just(UTC)).map(
    lambda moment: moment.replace(microsecond=moment.microsecond // 1000 * 1000)
)
values = st.one_of(
    st.text().map(lambda text: Value("string", text)),
    st.decimals(
        allow_nan=False, allow_infinity=False, places=3, max_value=10**9, min_value=-(10**9)
    ).map(lambda number: Value("number", number)),
    st.booleans().map(lambda flag: Value("boolean", flag)),
    st.just(Value("null", None)),
    st.dates(min_value=date(1000, 1, 1)).map(lambda day: Value("date", day)),
    moments.map(lambda moment: Value("datetime", moment)),
)
literal_text = st.text(min_size=1).map(lambda text: re.sub(r"([%_\\])", r"\\\1", text))
patterns = st.lists(st.one_of(st.sampled_from(["%", "_"]), literal_text), max_size=4).map("".join)
comparisons: st.SearchStrategy[Condition] = st.one_of(
    st.builds(Compare, fields, st.sampled_from(COMPARISONS), values),
    st.builds(InList, fields, st.lists(values, min_size=1, max_size=4).map(tuple), st.booleans()),
    st.builds(Like, fields, patterns),
)
conditions = st.recursive(
    comparisons,
    lambda inner: st.one_of(
        st.builds(Not, inner),
        st.lists(inner, min_size=2, max_size=3).map(lambda parts: And(tuple(parts))),
        st.lists(inner, min_size=2, max_size=3).map(lambda parts: Or(tuple(parts))),
    ),
    max_leaves=8,
)


@given(conditions)
def test_a_rendered_condition_parses_back_to_the_same_tree(condition: Condition) -> None:
    assert parse_condition(render(condition)) == condition


@given(st.text())
def test_any_text_quoted_as_a_literal_reads_back_unchanged(text: str) -> None:
    parsed = parse_condition(f"Name = {quote(text)}")
    assert parsed == Compare("Name", "=", Value("string", text))


@given(st.text(), st.text(min_size=1))
def test_a_like_literal_matches_its_text_and_nothing_longer(text: str, more: str) -> None:
    pattern = decode(like_literal(text)[1:-1], like=True)
    regex = re.compile(like_regex(pattern), re.DOTALL)
    assert regex.fullmatch(text)
    assert not regex.fullmatch(text + more)


@given(st.text(max_size=80))
def test_any_text_parses_or_gets_a_located_soql_error(text: str) -> None:
    try:
        parse(text)
    except SoqlError as error:
        assert error.code == "MALFORMED_QUERY"
        assert 0 <= error.position <= len(text)


def test_a_full_query_reads_into_its_parts() -> None:
    query = parse(
        "select Id, Who.Email from Task where (ActivityDate >= 2026-01-01 and "
        "SystemModstamp > 2026-01-01T10:00:00.250+02:00) or not Subject like 'Call%' "
        "order by SystemModstamp desc nulls last, Id limit 10 offset 5"
    )

    assert query == Query(
        fields=("Id", "Who.Email"),
        sobject="Task",
        where=Or(
            (
                And(
                    (
                        Compare("ActivityDate", ">=", Value("date", date(2026, 1, 1))),
                        Compare(
                            "SystemModstamp",
                            ">",
                            Value("datetime", datetime(2026, 1, 1, 8, 0, 0, 250_000, tzinfo=UTC)),
                        ),
                    )
                ),
                Not(Like("Subject", "Call%")),
            )
        ),
        order_by=(OrderItem("SystemModstamp", True, True), OrderItem("Id")),
        limit=10,
        offset=5,
    )


def test_literals_of_every_kind_and_count() -> None:
    condition = parse_condition(
        "A IN ('x\\'y\\n', -12.5, TRUE, null, 2026-02-28) AND B NOT IN ('\\u00e9') AND C <> 3"
    )

    assert condition == And(
        (
            InList(
                "A",
                (
                    Value("string", "x'y\n"),
                    Value("number", Decimal("-12.5")),
                    Value("boolean", True),
                    Value("null", None),
                    Value("date", date(2026, 2, 28)),
                ),
            ),
            InList("B", (Value("string", "é"),), negated=True),
            Compare("C", "!=", Value("number", Decimal(3))),
        )
    )
    assert parse("SELECT COUNT() FROM Lead").count


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("SELECT FROM Lead", "unexpected token: 'FROM'", 7),
        ("SELECT Id FRM Lead", "unexpected token: 'FRM'", 10),
        ("SELECT Id FROM Lead WHERE A = 1 AND B = 2 OR C = 3", "unexpected token: 'OR'", 42),
        ("SELECT Id FROM Lead WHERE A = 'open", "mismatched character '<EOF>'", 30),
        ("SELECT Id FROM Lead WHERE A = 'a\\qb'", "Illegal character sequence '\\q'", 30),
        ("SELECT Id FROM Lead WHERE A = 2026-13-01", "no viable alternative", 30),
        ("SELECT Id FROM Lead WHERE A = 2026-01-01T00:00:00+0100", "no viable alternative", 30),
        ("SELECT Id FROM Lead LIMIT", "unexpected token: '<EOF>'", 25),
        ("SELECT Id FROM Lead WHERE A LIKE 5", "unexpected token: '5'", 33),
        ("SELECT Id, (SELECT Id FROM Tasks) FROM Lead", "unexpected token: '('", 11),
    ],
)
def test_malformed_queries_name_the_offending_token(text: str, message: str, position: int) -> None:
    with pytest.raises(SoqlError) as raised:
        parse(text)

    assert message in raised.value.message
    assert (raised.value.code, raised.value.position) == ("MALFORMED_QUERY", position)
