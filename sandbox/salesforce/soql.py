"""A small SOQL parser: the subset of Salesforce's query language the sandbox answers.

Follows the SOQL and SOSL Reference for SELECT ... FROM ... WHERE ... ORDER BY
... LIMIT ... OFFSET, COUNT(), comparisons, IN, LIKE and SOQL's string escapes;
simplifies by leaving out subqueries, other aggregates, GROUP BY, date literals,
FIELDS() and aliases. The grammar is in docs/sandbox.md (Salesforce). `parse()`
gives a `Query` or raises `SoqlError` with the offset of the bad token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

KEYWORDS = frozenset(
    {"SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "ORDER", "BY", "ASC", "DESC"}
    | {"NULLS", "FIRST", "LAST", "LIMIT", "OFFSET", "TRUE", "FALSE", "NULL", "COUNT", "GROUP"}
    | {"HAVING", "WITH"}
)
ValueKind = Literal["string", "number", "boolean", "null", "date", "datetime"]

_TOKEN = re.compile(
    r"(?P<space>\s+)"
    r"|(?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:\d{2}))"
    r"|(?P<date>\d{4}-\d{2}-\d{2}(?![\w:]))"
    r"|(?P<baddate>\d{4}-\d{2}-\d{2}[\w:.+-]*)"
    r"|(?P<number>[+-]?\d+(?:\.\d+)?(?![\w.]))"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)"
    r"|(?P<op>!=|<>|<=|>=|=|<|>)"
    r"|(?P<punct>[(),])"
    r"|(?P<quote>')"
)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


class SoqlError(Exception):
    """A query Salesforce would refuse: its error code, message and offset in the text."""

    def __init__(self, message: str, position: int, code: str = "MALFORMED_QUERY") -> None:
        super().__init__(message)
        self.message = message
        self.position = position
        self.code = code


@dataclass(frozen=True)
class Value:
    """A literal: `value` is str, Decimal, bool, None, date or an aware datetime."""

    kind: ValueKind
    value: object


@dataclass(frozen=True)
class Compare:
    field: str
    op: str
    value: Value


@dataclass(frozen=True)
class InList:
    field: str
    values: tuple[Value, ...]
    negated: bool = False


@dataclass(frozen=True)
class Like:
    field: str
    pattern: str
    """Wildcards `%` and `_`; a backslash makes the next character literal."""


@dataclass(frozen=True)
class Not:
    part: Condition


@dataclass(frozen=True)
class And:
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class Or:
    parts: tuple[Condition, ...]


Condition = Compare | InList | Like | Not | And | Or


@dataclass(frozen=True)
class OrderItem:
    field: str
    descending: bool = False
    nulls_last: bool | None = None
    """None: Salesforce's default (nulls first ascending, last descending)."""


@dataclass(frozen=True)
class Query:
    fields: tuple[str, ...]
    sobject: str
    where: Condition | None = None
    order_by: tuple[OrderItem, ...] = ()
    limit: int | None = None
    offset: int | None = None
    count: bool = False


@dataclass(frozen=True)
class SoqlToken:
    kind: str
    """word, string, number, date, datetime, op, punct or end."""
    text: str
    position: int
    value: object = None

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.text.upper() in words


# -- tokenizer ---------------------------------------------------------------------------------


def tokenize(text: str) -> list[SoqlToken]:
    """The tokens of a query, ending with an `end` token."""
    tokens: list[SoqlToken] = []
    at = 0
    while at < len(text):
        found = _TOKEN.match(text, at)
        if found is None:
            raise SoqlError(f"unexpected token: '{text[at]}'", at)
        kind = found.lastgroup or ""
        if kind == "quote":
            value, end = _read_string(text, at)
            tokens.append(SoqlToken("string", text[at:end], at, value))
            at = end
            continue
        if kind != "space":
            tokens.append(_token(kind, found.group(), at))
        at = found.end()
    tokens.append(SoqlToken("end", "<EOF>", len(text)))
    return tokens


def _token(kind: str, text: str, at: int) -> SoqlToken:
    try:
        if kind == "baddate":
            raise ValueError(text)
        if kind == "datetime":
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return SoqlToken(kind, text, at, moment)
        if kind == "date":
            return SoqlToken(kind, text, at, date.fromisoformat(text))
    except ValueError:
        raise SoqlError(f"line 1:{at} no viable alternative at character '{text}'", at) from None
    if kind == "number":
        return SoqlToken(kind, text, at, Decimal(text))
    return SoqlToken(kind, "!=" if text == "<>" else text, at)


def _read_string(text: str, start: int) -> tuple[str, int]:
    """The body of the string literal opening at `start` (checked), and the offset after it."""
    at = start + 1
    while at < len(text):
        if text[at] == "'":
            body = text[start + 1 : at]
            decode(body, like=False, position=start)
            return body, at + 1
        at += 2 if text[at] == "\\" else 1
    raise SoqlError(f"line 1:{start} mismatched character '<EOF>' expecting '''", start)


def decode(body: str, *, like: bool, position: int = 0) -> str:
    """The value of a string literal's body.

    For a LIKE pattern (`like=True`) a backslash stays before each `%`, `_` or `\\`
    that is to match literally, so that wildcards remain distinguishable.
    """
    out: list[str] = []
    at = 0
    while at < len(body):
        char = body[at]
        if char != "\\":
            out.append(char)
            at += 1
            continue
        escape = body[at + 1 : at + 2]
        if escape in ("%", "_") or (escape == "\\" and like):
            out.append("\\" + escape if like else escape)
        elif escape in _ESCAPES:
            out.append(_ESCAPES[escape])
        elif escape == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", body[at + 2 : at + 6]):
            out.append(chr(int(body[at + 2 : at + 6], 16)))
            at += 4
        else:
            message = f"Invalid string literal '{body}'. Illegal character sequence "
            raise SoqlError(message + f"'\\{escape}' in string literal.", position)
        at += 2
    return "".join(out)


# -- parser ------------------------------------------------------------------------------------


def parse(text: str) -> Query:
    """The query in `text`, or a `SoqlError` naming the first token that cannot be read."""
    return _Parser(tokenize(text)).query()


def parse_condition(text: str) -> Condition:
    """A WHERE condition on its own (for tests and tools)."""
    parser = _Parser(tokenize(text))
    condition = parser.condition()
    parser.expect_end()
    return condition


class _Parser:
    def __init__(self, tokens: list[SoqlToken]) -> None:
        self.tokens = tokens
        self.at = 0

    @property
    def token(self) -> SoqlToken:
        return self.tokens[self.at]

    def advance(self) -> SoqlToken:
        token = self.tokens[self.at]
        self.at = min(self.at + 1, len(self.tokens) - 1)
        return token

    def fail(self, token: SoqlToken | None = None) -> SoqlError:
        token = token or self.token
        return SoqlError(f"unexpected token: '{token.text}'", token.position)

    def keyword(self, *words: str) -> SoqlToken:
        if not self.token.is_word(*words):
            raise self.fail()
        return self.advance()

    def accept(self, *words: str) -> bool:
        if self.token.is_word(*words):
            self.advance()
            return True
        return False

    def punct(self, char: str) -> None:
        if self.token.kind != "punct" or self.token.text != char:
            raise self.fail()
        self.advance()

    def expect_end(self) -> None:
        if self.token.kind != "end":
            raise self.fail()

    def name(self) -> str:
        token = self.token
        if token.kind != "word" or any(p.upper() in KEYWORDS for p in token.text.split(".")):
            raise self.fail()
        return self.advance().text

    # -- query ---------------------------------------------------------------------------------

    def query(self) -> Query:
        self.keyword("SELECT")
        count = self._count()
        fields = () if count else self._fields()
        self.keyword("FROM")
        sobject = self.name()
        where = self.condition() if self.accept("WHERE") else None
        order_by = self._order_by() if self.accept("ORDER") else ()
        limit = self._integer() if self.accept("LIMIT") else None
        offset = self._integer() if self.accept("OFFSET") else None
        self.expect_end()
        return Query(fields, sobject, where, order_by, limit, offset, count)

    def _count(self) -> bool:
        following = self.tokens[self.at + 1]
        if not (self.token.is_word("COUNT") and following.text == "("):
            return False
        self.advance()
        self.punct("(")
        self.punct(")")
        return True

    def _fields(self) -> tuple[str, ...]:
        fields = [self.name()]
        while self.token.text == ",":
            self.advance()
            fields.append(self.name())
        return tuple(fields)

    def _order_by(self) -> tuple[OrderItem, ...]:
        self.keyword("BY")
        items = [self._order_item()]
        while self.token.text == ",":
            self.advance()
            items.append(self._order_item())
        return tuple(items)

    def _order_item(self) -> OrderItem:
        field = self.name()
        descending = (
            self.advance().text.upper() == "DESC" if self.token.is_word("ASC", "DESC") else False
        )
        nulls_last = None
        if self.accept("NULLS"):
            nulls_last = self.keyword("FIRST", "LAST").text.upper() == "LAST"
        return OrderItem(field, descending, nulls_last)

    def _integer(self) -> int:
        token = self.token
        if token.kind != "number" or not token.text.isdigit():
            raise self.fail()
        self.advance()
        return int(token.text)

    # -- conditions ----------------------------------------------------------------------------

    def condition(self) -> Condition:
        first = self.unary()
        if not self.token.is_word("AND", "OR"):
            return first
        joiner = self.token.text.upper()
        parts = [first]
        while self.accept(joiner):
            parts.append(self.unary())
        if self.token.is_word("AND", "OR"):
            raise self.fail()  # SOQL needs parentheses to mix AND and OR
        return And(tuple(parts)) if joiner == "AND" else Or(tuple(parts))

    def unary(self) -> Condition:
        if self.accept("NOT"):
            return Not(self.unary())
        if self.token.text == "(" and self.token.kind == "punct":
            self.advance()
            inner = self.condition()
            self.punct(")")
            return inner
        return self.comparison()

    def comparison(self) -> Condition:
        field = self.name()
        token = self.token
        if token.kind == "op":
            self.advance()
            return Compare(field, token.text, self.value())
        if token.is_word("LIKE"):
            self.advance()
            pattern = self.token
            if pattern.kind != "string":
                raise self.fail()
            self.advance()
            return Like(field, decode(str(pattern.value), like=True))
        negated = self.accept("NOT")
        if not self.token.is_word("IN"):
            raise self.fail()
        self.advance()
        return InList(field, self._values(), negated)

    def _values(self) -> tuple[Value, ...]:
        self.punct("(")
        values = [self.value()]
        while self.token.text == ",":
            self.advance()
            values.append(self.value())
        self.punct(")")
        return tuple(values)

    def value(self) -> Value:
        token = self.advance()
        if token.kind == "string":
            return Value("string", decode(str(token.value), like=False))
        if token.kind in ("number", "date", "datetime"):
            return Value(token.kind, token.value)  # type: ignore[arg-type]
        if token.is_word("TRUE", "FALSE"):
            return Value("boolean", token.text.upper() == "TRUE")
        if token.is_word("NULL"):
            return Value("null", None)
        raise self.fail(token)
