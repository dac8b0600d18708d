"""Conditions evaluated on columns: a truth table per distinct value, spread to the rows.

Apart from `scoring.conditions` (the condition models and the test of one cell), so
that reading and validating a rule file never loads numpy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from scoring.conditions import Operators, _Choices, cell_predicate, missing_matches
from scoring.frames import BoolArray, CategoricalColumn, Column

_NUMERIC_OPS = {"gt": np.greater, "gte": np.greater_equal, "lt": np.less, "lte": np.less_equal}


def column_lookup(column: Column | None, ops: Operators) -> tuple[BoolArray, Any]:
    """A truth table and the codes that index it: ``table[codes]`` is the row mask.

    The table has one entry per distinct value and a last entry for missing, so
    the predicate runs once per distinct value whatever the number of rows.
    """
    if column is None:
        return np.array([missing_matches(ops)]), None
    if isinstance(column, CategoricalColumn):
        return np.append(_category_table(column, ops), missing_matches(ops)), column.codes
    predicate = cell_predicate(ops)
    values = column.values
    if set(ops.given) <= {*_NUMERIC_OPS, "between", "exists"}:
        return np.array([False, True, missing_matches(ops)]), _numeric_codes(values, ops)
    distinct, inverse = np.unique(values, return_inverse=True)
    table = np.array([predicate(float(v)) for v in distinct], dtype=bool)
    table = np.where(np.isnan(distinct), missing_matches(ops), table)
    return np.append(table, missing_matches(ops)), inverse.astype(np.int32)


def _category_table(column: CategoricalColumn, ops: Operators) -> BoolArray:
    """The operators' verdict on each distinct value of a text column."""
    size = len(column.categories)
    given = ops.given
    if set(given) in ({"equals"}, {"one_of"}) and all(
        isinstance(v, str) for v in ([given["equals"]] if "equals" in given else given["one_of"])
    ):
        # the common case (lists of industries, countries, domains): one set lookup per value
        wanted = _Choices([given["equals"]] if "equals" in given else given["one_of"]).texts
        if column.folded:  # a million domains: a set lookup each, no new folded string
            return np.fromiter(map(wanted.__contains__, column.categories.tolist()), bool, size)
        return np.fromiter((str(v).casefold() in wanted for v in column.categories), bool, size)
    predicate = cell_predicate(ops)
    return np.fromiter((predicate(str(v)) for v in column.categories), bool, size)


def _numeric_codes(values: Any, ops: Operators) -> Any:
    present = ~np.isnan(values)
    mask = present.copy()
    for name, ufunc in _NUMERIC_OPS.items():
        bound = getattr(ops, name)
        if bound is not None:
            mask &= ufunc(values, bound, where=present, out=np.zeros_like(present))
    if ops.between is not None:
        low, high = ops.between
        mask &= (values >= low) & (values <= high)
    if ops.exists is False:
        mask &= False
    # 1 for a match, 0 for a present non-match, -1 (the table's last entry) for missing
    return np.where(present, mask.astype(np.int32), np.int32(-1))


def evaluate(
    conditions: Mapping[str, Operators],
    column_of: Callable[[str], Column | None],
    size: int,
    rows: Any = None,
) -> BoolArray:
    """Rows (all, or those selected by `rows`) where every field condition holds."""
    mask: BoolArray = np.ones(size if rows is None else len(rows), dtype=bool)
    for name, ops in conditions.items():
        table, codes = column_lookup(column_of(name), ops)
        if codes is None:
            if not table[0]:
                mask[:] = False
            continue
        mask &= table[codes if rows is None else codes[rows]]
    return mask
