"""An account's fit and stage, once per account, on whole columns of accounts.

Fit is the sum of the points of the `accounts.fit` rules whose conditions the account's
company attributes meet (the condition language of contact rules, evaluated by
`scoring.evaluate` on one row per account). Those attributes are the company record's
where the caller has one (a HubSpot company, a Salesforce Account: `companies`, by
account key), else its people's: per attribute, the commonest value among the people
of the account who have one (text case-folded, as conditions compare it; a tie goes to
the lowest value: numbers by size, text in order), so an account known only by its
email domain still has an industry.

The stage is the last of `accounts.stages` (lowest first) whose conditions the account's
values meet: its fit, its score (fit plus engagement) and its roll-ups, a count being the
account's sum. Both are computed by the caller over a population, with the roll-ups, and
passed to the engine inside `AccountRollups`, so a batch of one reads what a batch of
many does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt

from scoring.account_rules import Accounts
from scoring.accounts import ROLLUP_HEAD, AccountRollups
from scoring.evaluate import evaluate
from scoring.frames import (
    CategoricalColumn,
    Column,
    ContactFrame,
    NumericColumn,
    column_from_values,
)

CompanyAttributes = Mapping[str, Mapping[str, Any]]
"""Account key (`account_id:<id>`) -> its company record's attributes, by leadscore name."""


def _commonest(
    accounts: npt.NDArray[Any], column: Column
) -> tuple[npt.NDArray[np.int64], npt.NDArray[Any]]:
    """Per account code among `accounts` (one per row, -1: none) that has a present value
    of `column`: the account codes and their commonest values (floats, or case-folded
    text), a tie going to the lowest."""
    if isinstance(column, NumericColumn):
        present = (accounts >= 0) & np.isfinite(column.values)
        distinct, values = np.unique(column.values[present], return_inverse=True)
        shown: npt.NDArray[Any] = distinct  # sorted: a tie goes to the smallest
    else:
        present = (accounts >= 0) & (column.codes >= 0)
        # text compares without case, as conditions do: counted and shown case-folded
        texts = [str(c).casefold() for c in column.categories.tolist()]
        ordered = sorted(set(texts))
        place = {text: index for index, text in enumerate(ordered)}
        rank = np.array([place[t] for t in texts], dtype=np.int64)
        values = rank[column.codes[present]]
        shown = np.array(ordered, dtype=object)
    width = max(len(shown), 1)
    pairs = accounts[present].astype(np.int64) * width + values.reshape(-1)
    found, counts = np.unique(pairs, return_counts=True)  # one key per (account, value)
    owner, value = found // width, found % width
    # per account: the most rows, then the lowest value
    pick = np.lexsort((value, -counts, owner))
    first = np.ones(len(pick), dtype=bool)
    first[1:] = owner[pick[1:]] != owner[pick[:-1]]
    chosen = pick[first]
    return owner[chosen], shown[value[chosen]]


def company_columns(
    spec: Accounts,
    keys: CategoricalColumn,
    contacts: ContactFrame,
    companies: CompanyAttributes | None,
    order: Sequence[str],
) -> dict[str, Column]:
    """Each attribute the fit rules read, one row per account key of `order`: its company
    record's value where `companies` has the account (whole: a value the record lacks is
    missing), else the commonest among its people of `keys` (rows of `contacts`)."""
    position = {key: row for row, key in enumerate(order)}
    spot = np.array([position.get(k, -1) for k in keys.categories.tolist()], dtype=np.int64)
    held = [(position[k], v) for k, v in (companies or {}).items() if k in position]
    size = len(order)
    out: dict[str, Column] = {}
    for name in spec.company_fields():
        column = contacts.column(name)
        owner, chosen = _commonest(keys.codes, column) if column is not None else (spot[:0], [])
        rows = spot[owner]
        kept = rows >= 0
        given = [(row, values.get(name)) for row, values in held]
        numeric = isinstance(column, NumericColumn) or column is None
        if numeric and all(_number(v) for _, v in given):
            values = np.full(size, np.nan)
            values[rows[kept]] = np.asarray(chosen, dtype=np.float64)[kept]
            for row, value in given:
                values[row] = np.nan if value is None else float(value)
            out[name] = NumericColumn(values)
            continue
        cells = np.full(size, None, dtype=object)
        cells[rows[kept]] = np.asarray(chosen, dtype=object)[kept]
        for row, value in given:
            cells[row] = value
        out[name] = column_from_values(cells.tolist())
    return out


def _number(value: Any) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def with_fit(
    spec: Accounts, rollups: AccountRollups, columns: Mapping[str, Column]
) -> AccountRollups:
    """`rollups` with each account's fit (from `columns`: the company attributes, one row
    per account in the roll-ups' order, `company_columns`) and stage."""
    if not spec.fit and not spec.stages:
        return rollups
    keys = list(rollups.accounts)
    size = len(keys)
    fit = np.zeros(size)
    for rule in spec.fit:
        fit[evaluate(rule.company, columns.get, size)] += rule.points
    width = len(ROLLUP_HEAD) + len(rollups.names)
    table = np.array([rollups.accounts[k] for k in keys], np.float64).reshape(size, width)
    values: dict[str, Column] = {
        "account_fit": NumericColumn(fit),
        "account_score": NumericColumn(fit + table[:, 2]),
    }
    heads = ("account_people", "account_engaged_people", "account_engagement")
    for index, name in enumerate([*heads, "account_engagement_max"]):
        values[name] = NumericColumn(table[:, index])
    for index, name in enumerate(rollups.names):
        values[f"account_{name}"] = NumericColumn(table[:, len(ROLLUP_HEAD) + index])
    stage = np.full(size, -1)
    for index, rung in enumerate(spec.stages):
        holds = np.ones(size, bool) if rung.when is None else evaluate(rung.when, values.get, size)
        stage[holds] = index
    names = [rung.name for rung in spec.stages]
    return replace(
        rollups,
        fit={k: float(v) for k, v in zip(keys, fit.tolist(), strict=True)} if spec.fit else {},
        stage={k: names[s] for k, s in zip(keys, stage.tolist(), strict=True) if s >= 0},
    )
