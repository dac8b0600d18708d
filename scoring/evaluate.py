"""Conditions evaluated on columns: a truth table per distinct value, spread to the rows.

Apart from `scoring.conditions` (the condition models and the test of one cell), so
that reading and validating a rule file never loads numpy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from itertools import chain
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
    verdicts = _verdicts(ops)
    if column is None:
        return np.array([verdicts.missing]), None
    if isinstance(column, CategoricalColumn):
        return _category_table(column, verdicts), column.codes
    values = column.values
    if verdicts.numeric:
        return np.array([False, True, verdicts.missing]), _numeric_codes(values, ops)
    distinct, inverse = np.unique(values, return_inverse=True)
    table = np.array([verdicts.predicate(float(v)) for v in distinct], dtype=bool)
    table = np.where(np.isnan(distinct), verdicts.missing, table)
    return np.append(table, verdicts.missing), inverse.astype(np.int32)


@dataclass(frozen=True)
class _Verdicts:
    """What `column_lookup` reads of a field's operators, worked out once per operators
    (a trigger scores one person: the same rules' operators on every call)."""

    missing: bool
    """Whether a missing value matches (`missing_matches`)."""
    numeric: bool
    """Only comparisons of numbers (and `exists`): a column of numbers is read in passes."""
    wanted: set[str] | None
    """For `equals` or `one_of` of texts alone: the texts, casefolded."""
    predicate: Callable[[str | float], bool]


_VERDICTS: dict[int, tuple[Operators, _Verdicts]] = {}
VERDICTS_KEPT = 4096


def _verdicts(ops: Operators) -> _Verdicts:
    """The operators' `_Verdicts`, kept with them so that an id reused is told apart."""
    kept = _VERDICTS.get(id(ops))
    if kept is not None and kept[0] is ops:
        return kept[1]
    given = ops.given
    wanted = None
    if set(given) in ({"equals"}, {"one_of"}):
        choices = [given["equals"]] if "equals" in given else given["one_of"]
        if all(isinstance(v, str) for v in choices):
            wanted = _Choices(choices).texts
    found = _Verdicts(
        missing_matches(ops),
        set(given) <= {*_NUMERIC_OPS, "between", "exists"},
        wanted,
        cell_predicate(ops),
    )
    if len(_VERDICTS) >= VERDICTS_KEPT:  # operators made on the fly (a stage's name)
        _VERDICTS.clear()
    _VERDICTS[id(ops)] = (ops, found)
    return found


def _category_table(column: CategoricalColumn, verdicts: _Verdicts) -> BoolArray:
    """The operators' verdict on each distinct value of a text column, then on a missing
    value (the last entry)."""
    size = len(column.categories)
    found: Iterable[bool]
    wanted = verdicts.wanted
    if wanted is not None:
        # the common case (lists of industries, countries, domains): one set lookup per value
        if column.folded:  # a million domains: a set lookup each, no new folded string
            found = map(wanted.__contains__, column.categories.tolist())
        else:
            found = (str(v).casefold() in wanted for v in column.categories)
    else:
        found = (verdicts.predicate(str(v)) for v in column.categories)
    return np.fromiter(chain(found, (verdicts.missing,)), bool, size + 1)


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
    mask: BoolArray | None = None
    none = False
    for name, ops in conditions.items():
        table, codes = column_lookup(column_of(name), ops)
        if codes is None:  # a field the frame lacks: every row alike
            none = none or not table[0]
            continue
        picked = table[codes if rows is None else codes[rows]]  # a new array: ours to change
        if mask is None:
            mask = picked
        else:
            mask &= picked
    if mask is None:
        mask = np.ones(size if rows is None else len(rows), dtype=bool)
    if none:
        mask[:] = False
    return mask
