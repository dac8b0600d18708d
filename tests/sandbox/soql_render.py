"""SOQL written back from a parsed condition, for the parser's round-trip tests.

`render()` writes a condition back as SOQL, so that parse(render(c)) == c;
`quote()` and `like_literal()` write literals that read back unchanged.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sandbox.salesforce.soql import And, Compare, Condition, InList, Like, Not, Or, Value

COMPARISONS = ("=", "!=", "<", "<=", ">", ">=")
"""The comparison operators as the parser gives them back (`<>` reads as `!=`)."""


def quote(text: str) -> str:
    """`text` as a SOQL string literal that parses back to exactly `text`."""
    out = []
    for char in text:
        if char == "\\":
            out.append("\\\\")
        elif char == "'":
            out.append("\\'")
        elif char in "\n\r\t\b\f":
            out.append("\\" + "nrtbf"["\n\r\t\b\f".index(char)])
        else:
            out.append(char)
    return "'" + "".join(out) + "'"


def like_literal(text: str) -> str:
    """`text` as a LIKE pattern that matches exactly `text` (wildcards escaped)."""
    return quote(text).replace("%", "\\%").replace("_", "\\_")


def render_value(value: Value) -> str:
    if value.kind == "string":
        return quote(str(value.value))
    if value.kind == "number":
        assert isinstance(value.value, Decimal)
        return format(value.value, "f")
    if value.kind == "boolean":
        return "TRUE" if value.value else "FALSE"
    if value.kind == "null":
        return "NULL"
    if value.kind == "datetime":
        assert isinstance(value.value, datetime)
        return value.value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert isinstance(value.value, date)
    return value.value.isoformat()


def render(condition: Condition) -> str:
    """A condition as SOQL text; compound parts are parenthesized."""
    if isinstance(condition, Compare):
        return f"{condition.field} {condition.op} {render_value(condition.value)}"
    if isinstance(condition, InList):
        values = ", ".join(render_value(v) for v in condition.values)
        return f"{condition.field} {'NOT IN' if condition.negated else 'IN'} ({values})"
    if isinstance(condition, Like):
        return f"{condition.field} LIKE {_quote_pattern(condition.pattern)}"
    if isinstance(condition, Not):
        return f"NOT ({render(condition.part)})"
    joiner = " AND " if isinstance(condition, And) else " OR "
    return joiner.join(_grouped(part) for part in condition.parts)


def _grouped(condition: Condition) -> str:
    text = render(condition)
    return f"({text})" if isinstance(condition, And | Or) else text


def _quote_pattern(pattern: str) -> str:
    """A LIKE pattern (a backslash marks a literal character) as a SOQL string literal."""
    out = ["'"]
    at = 0
    while at < len(pattern):
        if pattern[at] == "\\" and at + 1 < len(pattern):
            literal = pattern[at + 1]
            out.append("\\" + literal if literal in "%_\\" else quote(literal)[1:-1])
            at += 2
            continue
        out.append(quote(pattern[at])[1:-1])
        at += 1
    return "".join(out) + "'"
