"""Columns that may hold the outcome itself: filled in by sales after the fact.

A backtest on such a column measures the sales team's notes, not the score. Three
signs name a column: it is filled (almost) only for contacts who converted; it
ranks conversions nearly perfectly on its own (single-column AUC above 0.95: a
number as it is, either way up; a text by each value's conversion rate, values
held by fewer than `MIN_VALUE` contacts pooled, and a blank as a value of its own);
or, for text, values that all but settle the outcome (95 % or more of their contacts
one way) are held by a quarter or more of the converted contacts and a quarter or more
of the others (a column that only marks some losers, such as students, is a signal,
not a note on the outcome). The third is the sales team's
notes of X Education (`Tags`: "Closed by Horizzon", "Ringing", "Will revert after
reading the email"), whose AUC alone is 0.92 and whose README lists it as filled after
contact.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from scoring.backtest import Leak
from scoring.frames import BoolArray, CategoricalColumn, Column, FloatArray
from scoring.metrics import roc_auc
from scoring.numbers import parse_number

NEAR_PERFECT = 0.95
ALMOST_ONLY = 0.95
MIN_FILLED = 10
MIN_VALUE = 10
SETTLED = 0.25


def leaks(columns: Mapping[str, Column], converted: BoolArray) -> list[Leak]:
    """The columns of `columns` that look filled from the outcome, each with why."""
    outcome = np.asarray(converted, dtype=bool)
    base = float(outcome.mean())
    found = []
    for name, column in columns.items():
        filled = _filled(column)
        count = int(filled.sum())
        if MIN_FILLED <= count < len(outcome):
            share = float(outcome[filled].mean())
            if share >= ALMOST_ONLY and share - base >= 0.25:
                reason = (
                    f"filled for {count} contacts, {share:.0%} of whom converted "
                    f"({base:.0%} of all)"
                )
                found.append(Leak(name, reason, converted_share=share))
                continue
        auc = single_column_auc(column, outcome)
        if auc > NEAR_PERFECT:
            found.append(Leak(name, f"ranks conversions alone at AUC {auc:.3f}", auc=auc))
            continue
        if isinstance(column, CategoricalColumn) and _numbers(column) is None:
            settled, won, lost = settled_share(column.codes, len(column.categories), outcome)
            if won >= SETTLED and lost >= SETTLED:
                reason = (
                    f"values that all but settle the outcome (95 % or more one way) are held "
                    f"by {settled:.0%} of contacts (AUC alone {auc:.3f})"
                )
                found.append(Leak(name, reason, auc=auc))
    return found


def settled_share(codes: np.ndarray, count: int, outcome: BoolArray) -> tuple[float, float, float]:
    """Of values held by at least `MIN_VALUE` contacts, those of which 95 % or more
    converted or 95 % or more did not: the share of all contacts holding one, the share
    of converted contacts holding a converted one, and of the others a lost one."""
    present = codes >= 0
    held = np.bincount(codes[present], minlength=count)
    won = np.bincount(codes[present], weights=outcome[present].astype(np.float64), minlength=count)
    rate = np.divide(won, held, out=np.full(count, 0.5), where=held > 0)
    common = held >= MIN_VALUE
    winning, losing = common & (rate >= ALMOST_ONLY), common & (rate <= 1.0 - ALMOST_ONLY)
    positives = max(int(outcome.sum()), 1)
    negatives = max(len(outcome) - int(outcome.sum()), 1)
    return (
        float(held[winning | losing].sum()) / max(len(codes), 1),
        float(won[winning].sum()) / positives,
        float((held - won)[losing].sum()) / negatives,
    )


def single_column_auc(column: Column, outcome: BoolArray) -> float:
    """How well the column alone ranks the outcomes (0.5 to 1; 0.5 when it cannot)."""
    values = _numbers(column)
    if values is None:
        assert isinstance(column, CategoricalColumn)
        values = _value_rates(column.codes, len(column.categories), outcome)
    else:
        values = np.where(np.isnan(values), -np.inf, values)
    auc = roc_auc(outcome, values)
    return 0.5 if np.isnan(auc) else max(auc, 1.0 - auc)


def _filled(column: Column) -> BoolArray:
    if isinstance(column, CategoricalColumn):
        present: BoolArray = column.codes >= 0
        return present
    return ~np.isnan(column.values)


def _numbers(column: Column) -> FloatArray | None:
    """The column as numbers, when it is numeric or text of numbers (20 distinct values
    or more, nearly all of them numbers); None for a text column otherwise."""
    if not isinstance(column, CategoricalColumn):
        return column.values
    parsed = np.array([parse_number(str(c)) for c in column.categories], dtype=object)
    numeric = np.array([p is not None for p in parsed], dtype=bool)
    if len(parsed) < 20 or numeric.mean() < 0.95:
        return None
    table = np.array([np.nan if p is None else p for p in parsed], dtype=np.float64)
    return np.where(column.codes >= 0, table[np.maximum(column.codes, 0)], np.nan)


def _value_rates(codes: np.ndarray, count: int, outcome: BoolArray) -> FloatArray:
    """Each contact's value's conversion rate (blank a value; rare values pooled)."""
    index = np.where(codes >= 0, codes, count)  # blank: one more value
    size = np.bincount(index, minlength=count + 1)
    rare = size < MIN_VALUE
    pooled = np.where(rare[index], count + 1, index)
    won = np.bincount(pooled, weights=outcome.astype(np.float64), minlength=count + 2)
    seen = np.bincount(pooled, minlength=count + 2)
    rates = np.divide(won, seen, out=np.zeros(count + 2), where=seen > 0)
    result: FloatArray = rates[pooled]
    return result
