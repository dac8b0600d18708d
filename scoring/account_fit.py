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
many does; for a backtest, inside `ContactRollups` (`fit_at`): the fit per account, the
stage per account and moment asked.
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
    FloatArray,
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
    fit = fit_points(spec, columns, size)
    width = len(ROLLUP_HEAD) + len(rollups.names)
    table = np.array([rollups.accounts[k] for k in keys], np.float64).reshape(size, width)
    stage = stage_places(spec, rollups.names, fit, table)
    names = [rung.name for rung in spec.stages]
    return replace(
        rollups,
        fit={k: float(v) for k, v in zip(keys, fit.tolist(), strict=True)} if spec.fit else {},
        stage={k: names[s] for k, s in zip(keys, stage.tolist(), strict=True) if s >= 0},
    )


def fit_points(spec: Accounts, columns: Mapping[str, Column], size: int) -> FloatArray:
    """The fit of `size` accounts whose company attributes are `columns` (one row each):
    the points of the fit rules each meets."""
    fit = np.zeros(size)
    for rule in spec.fit:
        fit[evaluate(rule.company, columns.get, size)] += rule.points
    return fit


def stage_places(
    spec: Accounts, names: Sequence[str], fit: FloatArray, table: FloatArray
) -> npt.NDArray[np.int64]:
    """Per row of roll-up values `table` (`ROLLUP_HEAD`, then the sums of the counts
    `names`) of an account whose fit is `fit`: the place of its stage among
    `spec.stages` (-1: none holds)."""
    size = len(fit)
    values: dict[str, Column] = {
        "account_fit": NumericColumn(fit),
        "account_score": NumericColumn(fit + table[:, 2]),
    }
    heads = ("account_people", "account_engaged_people", "account_engagement")
    for index, name in enumerate([*heads, "account_engagement_max"]):
        values[name] = NumericColumn(table[:, index])
    for index, name in enumerate(names):
        values[f"account_{name}"] = NumericColumn(table[:, len(ROLLUP_HEAD) + index])
    stage = np.full(size, -1, dtype=np.int64)
    for index, rung in enumerate(spec.stages):
        holds = np.ones(size, bool) if rung.when is None else evaluate(rung.when, values.get, size)
        stage[holds] = index
    return stage


def fit_at(
    spec: Accounts,
    keys: CategoricalColumn,
    contacts: ContactFrame,
    companies: CompanyAttributes | None,
    account: npt.NDArray[np.int64],
    moment: npt.NDArray[np.int64],
    values: FloatArray,
) -> tuple[FloatArray, CategoricalColumn]:
    """Per contact asked (its account's code among `keys`, -1: none; its moment's place
    among those asked; its account's roll-up values then, as `values` rows), its
    account's fit and its account's stage as of its moment (NaN and none without an
    account; NaN fit without fit rules, as `with_fit` gives).

    Fit is the company's, once per account of the population `contacts` (their `keys`),
    from `companies` as `company_columns` reads them: it does not change with the moment.
    A stage is evaluated once per (account, moment) asked, on the account's values then,
    and spread to the contacts asked."""
    size = len(account)
    fit = np.full(size, np.nan)
    names = np.array([rung.name for rung in spec.stages], dtype=object)
    stage = np.full(size, -1, dtype=np.int32)
    if not spec.fit and not spec.stages:
        return fit, CategoricalColumn(stage, names)
    held = np.unique(keys.codes[keys.codes >= 0])  # the accounts with people, in order
    columns = company_columns(spec, keys, contacts, companies, keys.categories[held].tolist())
    points = np.zeros(len(keys.categories))
    points[held] = fit_points(spec, columns, len(held))
    some = np.flatnonzero(account >= 0)
    mine = points[account[some]]
    if spec.fit:
        fit[some] = mine
    if spec.stages:
        pairs = account[some] * (int(moment.max(initial=0)) + 1) + moment[some]
        _, first, back = np.unique(pairs, return_index=True, return_inverse=True)
        places = stage_places(spec, list(spec.counts), mine[first], values[some][first])
        stage[some] = places[back.reshape(-1)]
    return fit, CategoricalColumn(stage, names)
