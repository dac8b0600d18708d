"""CRM search over the contact table: filter groups, the free-text query, the sort rule."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from fnmatch import fnmatchcase
from typing import Any

import numpy as np

from sandbox.hubspot.contact_table import ContactTable
from sandbox.hubspot.errors import Invalid
from sandbox.hubspot.values import Json, Mask, Positions, parse_property_value
from sandbox.world.tables import Floats, Objects

SEARCH_PAGE_MAX = 200
SEARCH_RESULT_CAP = 10_000
"""Results a query can page through; `after + limit` beyond it answers 400."""
MAX_FILTER_GROUPS, MAX_GROUP_FILTERS, MAX_FILTERS = 5, 6, 18
QUERY_PROPERTIES = ("email", "firstname", "lastname", "company")
"""What the free-text `query` matches every word against."""


def each(values: Objects, test: Callable[[Any], bool]) -> Mask:
    return np.fromiter((test(v) for v in values), dtype=bool, count=len(values))


def contains_token(text: str, pattern: str) -> bool:
    tokens = [t for t in re.split(r"[\s,;]+", text) if t]
    return fnmatchcase(text, pattern) or any(fnmatchcase(t, pattern) for t in tokens)


FILTER_OPERATORS = frozenset(
    {
        "EQ",
        "NEQ",
        "LT",
        "LTE",
        "GT",
        "GTE",
        "BETWEEN",
        "IN",
        "NOT_IN",
        "HAS_PROPERTY",
        "NOT_HAS_PROPERTY",
        "CONTAINS_TOKEN",
        "NOT_CONTAINS_TOKEN",
    }
)
NEGATIONS = {
    "NEQ": "EQ",
    "NOT_IN": "IN",
    "NOT_HAS_PROPERTY": "HAS_PROPERTY",
    "NOT_CONTAINS_TOKEN": "CONTAINS_TOKEN",
}
ORDERINGS: Mapping[str, Callable[[Any, Any], Any]] = {
    "EQ": operator.eq,
    "GT": operator.gt,
    "GTE": operator.ge,
    "LT": operator.lt,
    "LTE": operator.le,
}


def filter_mask(table: ContactTable, spec: Any) -> Mask:
    """The contacts one search filter matches."""
    if not isinstance(spec, dict):
        raise Invalid("INVALID_FILTER", "Each filter must be an object")
    name, op = spec.get("propertyName"), spec.get("operator")
    if op not in FILTER_OPERATORS:
        raise Invalid("INVALID_FILTER", f"Unknown filter operator: {op}")
    if name not in table.defs:
        raise Invalid("INVALID_FILTER", f"Unknown property in filter: {name}")
    if op in NEGATIONS:
        return ~filter_mask(table, {**spec, "operator": NEGATIONS[op]})
    if table.numeric(name):
        return number_filter_mask(table.floats(name), table.defs[name], op, spec)
    return text_filter_mask(table.lowered(name), op, spec)


def required(spec: Json, key: str) -> Any:
    if spec.get(key) is None:
        raise Invalid("INVALID_FILTER", f"Operator {spec.get('operator')} needs a {key}")
    return spec[key]


def filter_number(definition: Json, raw: Any) -> float:
    if definition["type"] in ("datetime", "date") and isinstance(raw, int | float):
        return float(raw)
    return float(parse_property_value(definition, raw))


def number_filter_mask(column: Floats, definition: Json, op: str, spec: Json) -> Mask:
    if op == "HAS_PROPERTY":
        return ~np.isnan(column)
    if op == "IN":
        wanted = [filter_number(definition, v) for v in required(spec, "values")]
        return np.isin(column, wanted)
    value = filter_number(definition, required(spec, "value"))
    if op == "BETWEEN":
        high = filter_number(definition, required(spec, "highValue"))
        return (column >= value) & (column <= high)
    if op not in ORDERINGS:
        raise Invalid("INVALID_FILTER", f"{op} does not apply to property {definition['name']}")
    with np.errstate(invalid="ignore"):
        return np.asarray(ORDERINGS[op](column, value), dtype=bool)


def text_filter_mask(lowered: Objects, op: str, spec: Json) -> Mask:
    if op == "HAS_PROPERTY":
        return each(lowered, lambda v: v is not None)
    if op == "IN":
        wanted = {str(v).lower() for v in required(spec, "values")}
        return each(lowered, lambda v: v in wanted)
    value = str(required(spec, "value")).lower()
    if op == "CONTAINS_TOKEN":
        return each(lowered, lambda v: v is not None and contains_token(v, value))
    if op == "BETWEEN":
        high = str(required(spec, "highValue")).lower()
        return each(lowered, lambda v: v is not None and value <= v <= high)
    test = ORDERINGS[op]
    return each(lowered, lambda v: v is not None and bool(test(v, value)))


def sort_spec(sorts: Any) -> tuple[str, bool] | None:
    """The one sort rule of a search (property, descending), in either accepted form."""
    if not sorts:
        return None
    if not isinstance(sorts, list) or len(sorts) > 1:
        raise Invalid("INVALID_SORT", "Only one sort rule is supported")
    rule = sorts[0]
    if isinstance(rule, str):
        return rule.lstrip("-"), rule.startswith("-")
    if not isinstance(rule, dict) or not rule.get("propertyName"):
        raise Invalid("INVALID_SORT", "A sort needs a propertyName")
    direction = str(rule.get("direction", "ASCENDING")).upper()
    if direction not in ("ASCENDING", "DESCENDING"):
        raise Invalid("INVALID_SORT", f"Unknown sort direction: {direction}")
    return str(rule["propertyName"]), direction == "DESCENDING"


def sort_rows(table: ContactTable, rows: Positions, sorts: Any) -> Positions:
    """Positions in the order of the sort rule; empty values last, ties by id."""
    spec = sort_spec(sorts)
    if spec is None:
        return rows
    name, descending = spec
    if name not in table.defs:
        raise Invalid("INVALID_SORT", f"Unknown property in sort: {name}")
    if table.numeric(name):
        values = table.floats(name)[rows]
        missing = np.isnan(values)
        key = np.where(missing, 0.0, -values if descending else values)
        return rows[np.lexsort((rows, key, missing))]
    lowered = table.lowered(name)
    present = [int(r) for r in rows if lowered[r] is not None]
    absent = [int(r) for r in rows if lowered[r] is None]
    present.sort(key=lambda r: str(lowered[r]), reverse=descending)
    return np.array(present + absent, dtype=np.intp)


def check_filter_limits(groups: Any) -> list[Json]:
    if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
        raise Invalid("INVALID_FILTER", "filterGroups must be a list of objects")
    sizes = [len(g.get("filters") or []) for g in groups]
    if len(groups) > MAX_FILTER_GROUPS:
        raise Invalid("TOO_MANY_FILTER_GROUPS", f"At most {MAX_FILTER_GROUPS} filterGroups")
    if any(size > MAX_GROUP_FILTERS for size in sizes) or sum(sizes) > MAX_FILTERS:
        raise Invalid(
            "TOO_MANY_FILTERS",
            f"At most {MAX_GROUP_FILTERS} filters per group and {MAX_FILTERS} in all",
        )
    return groups


def search_rows(table: ContactTable, body: Json) -> Positions:
    """The rows a search body's filter groups and query match, in id order."""
    groups = check_filter_limits(body.get("filterGroups") or [])
    mask = np.zeros(table.size, dtype=bool) if groups else np.ones(table.size, dtype=bool)
    for group in groups:
        matched = np.ones(table.size, dtype=bool)
        for spec in group.get("filters") or []:
            matched &= filter_mask(table, spec)
        mask |= matched
    query = body.get("query")
    if query:
        mask &= query_mask(table, str(query))
    return np.flatnonzero(mask)


def query_mask(table: ContactTable, query: str) -> Mask:
    """The contacts whose email, names and company hold every word of `query`."""
    words = query.lower().split()
    columns = [table.lowered(name) for name in QUERY_PROPERTIES]
    texts = np.empty(table.size, dtype=object)
    texts[:] = [" ".join(str(v) for v in values if v) for values in zip(*columns, strict=True)]
    return each(texts, lambda text: all(word in text for word in words))
