"""SOQL queries against the sandbox org: checked against the schema, run, and paged.

Follows the REST API's Query and Query More Results resources: pages of up to
2,000 records, `nextRecordsUrl` locators, nested relationship fields, and
Salesforce's error codes and message layout; text compares without case and
ids by their first 15 characters and datetimes to the second, as in SOQL;
`queryAll` also answers deleted records. A cursor and its results stay
available two days after the query (any number of them, its last page as often
as asked: "API Query Cursor Limits", since API version 56.0). Details:
docs/sandbox.md (Salesforce).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sandbox.salesforce.errors import SalesforceError
from sandbox.salesforce.ids import LOCATOR_PREFIX, make_id
from sandbox.salesforce.org import Org
from sandbox.salesforce.schema import (
    NUMBER_TYPES,
    POLYMORPHIC_NAME,
    TEXT_TYPES,
    FieldDef,
    SObjectType,
)
from sandbox.salesforce.soql import (
    And,
    Compare,
    Condition,
    InList,
    Like,
    Not,
    Or,
    Query,
    SoqlError,
    Value,
    parse,
)
from sandbox.salesforce.table import Row, Table
from sandbox.salesforce.values import to_json

CURSOR_DAYS = 2
"""Days a cursor and its results stay available after the query that opened it."""
Predicate = Callable[[Row], bool]
_EXPECTED = {"boolean": "boolean", "date": "date", "datetime": "dateTime"}
_EXPECTED |= {k: "double" for k in NUMBER_TYPES} | {"int": "int"}


@dataclass(frozen=True)
class BoundField:
    """A selected or filtered field: `Email`, or a parent's field such as `Who.Email`."""

    path: str
    field: FieldDef
    relationship: FieldDef | None = None
    parent: SObjectType | None = None


@dataclass
class Bound:
    """A query checked against the org's schema, ready to run."""

    query: Query
    sobject: SObjectType
    columns: list[BoundField]
    where: Predicate | None
    order: list[tuple[BoundField, bool, bool]]
    """(column, descending, nulls last)."""


@dataclass
class Cursor:
    bound: Bound
    rows: list[int]
    page_size: int
    opened: datetime | None = None


class QueryEngine:
    def __init__(self, org: Org) -> None:
        self.org = org
        self.cursors: OrderedDict[str, Cursor] = OrderedDict()
        self._opened = 0

    # -- binding ---------------------------------------------------------------------------

    def bind(self, text: str) -> Bound:
        try:
            query = parse(text)
        except SoqlError as exc:
            raise query_error(text, exc.position, exc.code, exc.message) from None
        sobject = self.org.sobject(query.sobject)
        if sobject is None:
            message = f"sObject type '{query.sobject}' is not supported. If you are attempting to "
            message += "use a custom object, be sure to append the '__c' after the entity name. "
            message += "Please reference your WSDL or the describe call for the appropriate names."
            raise query_error(text, _find(text, query.sobject), "INVALID_TYPE", message)
        binder = _Binder(self.org, sobject, text)
        columns = [binder.column(path) for path in query.fields]
        seen: set[str] = set()
        for column in columns:
            if column.path.lower() in seen:
                raise query_error(
                    text, 0, "MALFORMED_QUERY", f"duplicate field selected: {column.path}"
                )
            seen.add(column.path.lower())
        where = binder.predicate(query.where) if query.where else None
        order = [
            binder.order(item.field, item.descending, item.nulls_last) for item in query.order_by
        ]
        if (query.offset or 0) > 2000:
            raise query_error(
                text, 0, "NUMBER_OUTSIDE_VALID_RANGE", "Maximum SOQL offset allowed is 2000"
            )
        return Bound(query, sobject, columns, where, order)

    # -- running ---------------------------------------------------------------------------

    def run(
        self, text: str, version: str, page_size: int, include_deleted: bool = False
    ) -> dict[str, Any]:
        """The first page of a query; with `include_deleted`, of a queryAll."""
        bound = self.bind(text)
        rows = self.rows(bound, include_deleted)
        if bound.query.count:
            return {"totalSize": len(rows), "done": True, "records": []}
        cursor = Cursor(bound, rows, page_size)
        return self._page(cursor, 0, version)

    def more(self, locator: str, version: str) -> dict[str, Any]:
        key, _, start = locator.rpartition("-")
        self._expire()
        cursor = self.cursors.get(key)
        if cursor is None or not start.isdigit() or int(start) >= len(cursor.rows):
            raise SalesforceError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(cursor, int(start), version, key)

    def rows(self, bound: Bound, include_deleted: bool = False) -> list[int]:
        """The rows a bound query answers, in order: committed ones, without deleted ones
        unless `include_deleted` (queryAll), which still leaves out those purged."""
        table = self.org.table(bound.sobject.name)
        where = bound.where
        floor = stamp_floor(bound.query.where)
        candidates = range(len(table)) if floor is None else table.rows_stamped_after(floor)
        seen: Iterable[int] = candidates
        if table.hidden or table.deleted:
            seen = [row for row in candidates if self.org.visible(table, row, include_deleted)]
        # each row's record made once, for the filter and every ordering column alike
        records: dict[int, Row] = {}
        if where is not None or bound.order:
            for row in seen:
                record = table.record(row)
                if where is None or where(record):
                    records[row] = record
            rows = list(records)
        else:
            rows = list(seen)
        for column, descending, nulls_last in reversed(bound.order):
            rows = self._sorted(records, rows, column, descending, nulls_last)
        start = bound.query.offset or 0
        end = None if bound.query.limit is None else start + bound.query.limit
        return rows[start:end]

    def _sorted(
        self,
        records: Mapping[int, Row],
        rows: list[int],
        column: BoundField,
        descending: bool,
        nulls_last: bool,
    ) -> list[int]:
        def key(row: int) -> tuple[bool, Any]:
            value = field_value(self.org, records[row], column)
            value = _comparable(value, column.field, exact=True)
            return ((value is None) != (nulls_last == descending), value)

        return sorted(rows, key=key, reverse=descending)

    def _page(self, cursor: Cursor, start: int, version: str, key: str = "") -> dict[str, Any]:
        end = min(start + cursor.page_size, len(cursor.rows))
        table = self.org.table(cursor.bound.sobject.name)
        records = [self.render(table, row, cursor.bound, version) for row in cursor.rows[start:end]]
        answer: dict[str, Any] = {"totalSize": len(cursor.rows), "done": end >= len(cursor.rows)}
        if end < len(cursor.rows):
            key = key or self._open(cursor)
            answer["nextRecordsUrl"] = f"/services/data/{version}/query/{key}-{end}"
        answer["records"] = records
        return answer

    def _open(self, cursor: Cursor) -> str:
        self._expire()
        self._opened += 1
        key = make_id(LOCATOR_PREFIX, self._opened)
        cursor.opened = self.org.now()
        self.cursors[key] = cursor
        return key

    def _expire(self) -> None:
        """Let go of the cursors opened more than two days ago, oldest first."""
        ends = self.org.now() - timedelta(days=CURSOR_DAYS)
        while self.cursors:
            oldest = next(iter(self.cursors.values()))
            if oldest.opened is None or oldest.opened > ends:
                return
            self.cursors.popitem(last=False)

    def render(self, table: Table, row: int, bound: Bound, version: str) -> dict[str, Any]:
        record = table.record(row)
        out: dict[str, Any] = {
            "attributes": _record_attributes(table.sobject.name, record["Id"], version)
        }
        for column in bound.columns:
            if column.relationship is None:
                out[column.field.name] = to_json(record.get(column.field.name))
                continue
            name = str(column.relationship.relationship_name)
            if name not in out:
                out[name] = self._nested(record, column, version)
            if out[name] is not None:
                out[name][column.field.name] = to_json(field_value(self.org, record, column))
        return out

    def _nested(self, record: Row, column: BoundField, version: str) -> dict[str, Any] | None:
        parent = parent_record(self.org, record, column)
        if parent is None:
            return None
        located = self.org.locate(str(parent["Id"]))
        assert located is not None and column.parent is not None
        attributes = _record_attributes(located[0].sobject.name, parent["Id"], version)
        return {"attributes": {**attributes, "type": column.parent.name}}


def field_value(org: Org, record: Row, column: BoundField) -> Any:
    if column.relationship is None:
        return record.get(column.field.name)
    parent = parent_record(org, record, column)
    return None if parent is None else parent.get(column.field.name)


def parent_record(org: Org, record: Row, column: BoundField) -> Row | None:
    """The record a relationship column points to (with `Type` for a polymorphic one)."""
    assert column.relationship is not None
    reference = record.get(column.relationship.name)
    located = org.locate(str(reference)) if reference else None
    if located is None:
        return None
    parent = located[0].record(located[1])
    if column.parent is POLYMORPHIC_NAME:
        parent["Type"] = located[0].sobject.name
    return parent


def stamp_floor(condition: Condition | None) -> datetime | None:
    """The lower bound a condition sets on SystemModstamp, if any (the incremental-pull case)."""
    if isinstance(condition, And):
        floors = [floor for part in condition.parts if (floor := stamp_floor(part))]
        return max(floors) if floors else None
    if (
        isinstance(condition, Compare)
        and condition.field.lower() == "systemmodstamp"
        and condition.op in (">", ">=")
        and isinstance(condition.value.value, datetime)
    ):
        return condition.value.value
    return None


def _record_attributes(sobject: str, record_id: str, version: str) -> dict[str, str]:
    return {"type": sobject, "url": f"/services/data/{version}/sobjects/{sobject}/{record_id}"}


class _Binder:
    """Resolves field paths and compiles conditions for one query."""

    def __init__(self, org: Org, sobject: SObjectType, text: str) -> None:
        self.org = org
        self.sobject = sobject
        self.text = text

    def fail(self, name: str, message: str, code: str = "INVALID_FIELD") -> SalesforceError:
        return query_error(self.text, _find(self.text, name), code, message)

    def column(self, path: str) -> BoundField:
        parts = path.split(".")
        if len(parts) == 1:
            return BoundField(path, self._field(self.sobject, path))
        if len(parts) > 2:
            raise self.fail(path, f"Didn't understand relationship '{parts[0]}' in field path.")
        relationship = self.sobject.relationship(parts[0])
        if relationship is None:
            message = f"Didn't understand relationship '{parts[0]}' in field path. If you are "
            message += "attempting to use a custom relationship, be sure to append the '__r' "
            message += "after the custom relationship name. Please reference your WSDL or the "
            raise self.fail(path, message + "describe call for the appropriate names.")
        targets = relationship.reference_to
        parent = POLYMORPHIC_NAME if len(targets) > 1 else self.org.sobject(targets[0])
        assert parent is not None
        definition = self._field(parent, parts[1])
        return BoundField(
            f"{relationship.relationship_name}.{definition.name}", definition, relationship, parent
        )

    def _field(self, sobject: SObjectType, name: str) -> FieldDef:
        definition = sobject.field(name)
        if definition is None:
            message = f"No such column '{name}' on entity '{sobject.name}'. If you are attempting "
            message += "to use a custom field, be sure to append the '__c' after the custom field "
            message += "name. Please reference your WSDL or the describe call for the appropriate "
            raise self.fail(name, message + "names.")
        return definition

    def order(
        self, path: str, descending: bool, nulls_last: bool | None
    ) -> tuple[BoundField, bool, bool]:
        column = self.column(path)
        if column.field.type == "textarea":
            raise self.fail(path, f"field '{column.field.name}' can not be sorted in a query call")
        return column, descending, descending if nulls_last is None else nulls_last

    def predicate(self, condition: Condition) -> Predicate:
        if isinstance(condition, And):
            parts = [self.predicate(p) for p in condition.parts]
            return lambda record: all(p(record) for p in parts)
        if isinstance(condition, Or):
            parts = [self.predicate(p) for p in condition.parts]
            return lambda record: any(p(record) for p in parts)
        if isinstance(condition, Not):
            inner = self.predicate(condition.part)
            return lambda record: not inner(record)
        column = self.column(condition.field)
        if column.field.type == "textarea":
            raise self.fail(
                condition.field, f"field '{column.field.name}' can not be filtered in a query call"
            )

        def getter(record: Row) -> Any:
            return _comparable(field_value(self.org, record, column), column.field)

        if isinstance(condition, Like):
            return self._like(condition, column, getter)
        values = condition.values if isinstance(condition, InList) else (condition.value,)
        wanted = [self._literal(v, column, condition.field) for v in values]
        if isinstance(condition, InList):
            return lambda record: (getter(record) in wanted) != condition.negated
        return _compare(condition.op, wanted[0], getter)

    def _like(self, condition: Like, column: BoundField, getter: Callable[[Row], Any]) -> Predicate:
        if column.field.type not in TEXT_TYPES:
            raise self.fail(condition.field, f"invalid operator on field '{column.field.name}'")
        regex = re.compile(like_regex(condition.pattern), re.IGNORECASE | re.DOTALL)
        return lambda record: (value := getter(record)) is not None and bool(regex.fullmatch(value))

    def _literal(self, literal: Value, column: BoundField, name: str) -> Any:
        kind = column.field.type
        allowed = "string" if kind in TEXT_TYPES else "number" if kind in NUMBER_TYPES else kind
        if literal.kind == "null":
            return None
        if literal.kind != allowed:
            expected = _EXPECTED.get(kind, "string")
            quotes = "be enclosed" if expected == "string" else "not be enclosed"
            message = f"value of filter criterion for field '{column.field.name}' must be of type "
            raise self.fail(name, message + f"{expected} and should {quotes} in quotes")
        return _comparable(literal.value, column.field)


def _compare(op: str, wanted: Any, getter: Callable[[Row], Any]) -> Predicate:
    if op == "=":
        return lambda record: getter(record) == wanted
    if op == "!=":
        return lambda record: getter(record) != wanted
    if wanted is None:
        return lambda record: False
    tests: dict[str, Callable[[Any], bool]] = {
        "<": lambda v: v < wanted,
        "<=": lambda v: v <= wanted,
        ">": lambda v: v > wanted,
        ">=": lambda v: v >= wanted,
    }
    test = tests[op]
    return lambda record: (value := getter(record)) is not None and test(value)


def _comparable(value: Any, definition: FieldDef, exact: bool = False) -> Any:
    """A value as SOQL compares it: text without case, ids by their first 15 characters,
    datetimes to the second (milliseconds are kept when `exact`, for sorting)."""
    if value is None:
        return None
    if definition.type in ("id", "reference"):
        return str(value)[:15]
    if definition.type in TEXT_TYPES:
        return str(value).lower()
    if isinstance(value, Decimal):
        return float(value)
    if definition.type == "date" and isinstance(value, datetime):
        return value.date()
    if isinstance(value, datetime) and not exact:
        return value.replace(microsecond=0)
    assert isinstance(value, str | int | float | bool | date | datetime), value
    return value


def like_regex(pattern: str) -> str:
    """A LIKE pattern (`%`, `_`, backslash for literals) as a regular expression."""
    out = []
    at = 0
    while at < len(pattern):
        char = pattern[at]
        if char == "\\" and at + 1 < len(pattern):
            out.append(re.escape(pattern[at + 1]))
            at += 2
            continue
        out.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        at += 1
    return "".join(out)


def _find(text: str, name: str) -> int:
    found = re.search(rf"(?<![\w.]){re.escape(name)}(?![\w])", text, re.IGNORECASE)
    return found.start() if found else 0


def query_error(text: str, position: int, code: str, message: str) -> SalesforceError:
    """Salesforce's layout: the query line, a caret under the error, its row and column."""
    row = text.count("\n", 0, position) + 1
    line_start = text.rfind("\n", 0, position) + 1
    line_end = text.find("\n", position)
    line = text[line_start : len(text) if line_end < 0 else line_end]
    column = position - line_start + 1
    caret = " " * (column - 1) + "^"
    return SalesforceError(
        400, code, f"\n{line}\n{caret}\nERROR at Row:{row}:Column:{column}\n{message}"
    )
