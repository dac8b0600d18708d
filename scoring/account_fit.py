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

from collections.abc import Mapping
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


def people_attributes(
    spec: Accounts, keys: CategoricalColumn, contacts: ContactFrame
) -> dict[str, dict[str, Any]]:
    """Per account key, the commonest value of each company attribute among its people."""
    out: dict[str, dict[str, Any]] = {}
    accounts = keys.categories.tolist()
    for name in spec.company_fields():
        column = contacts.column(name)
        if column is None:
            continue
        for code, value in _commonest(keys.codes, column).items():
            out.setdefault(str(accounts[code]), {})[name] = value
    return out


def _commonest(accounts: npt.NDArray[Any], column: Column) -> dict[int, Any]:
    """Per account code, the commonest present value of `column` among its rows."""
    if isinstance(column, NumericColumn):
        present = (accounts >= 0) & np.isfinite(column.values)
        distinct, values = np.unique(column.values[present], return_inverse=True)
        shown: list[Any] = distinct.tolist()  # sorted: a tie goes to the smallest
    else:
        present = (accounts >= 0) & (column.codes >= 0)
        # text compares without case, as conditions do: counted and shown case-folded
        texts = [str(c).casefold() for c in column.categories.tolist()]
        shown = sorted(set(texts))
        place = {text: index for index, text in enumerate(shown)}
        rank = np.array([place[t] for t in texts], dtype=np.int64)
        values = rank[column.codes[present]]
    pairs = np.stack([accounts[present].astype(np.int64), values.reshape(-1)], axis=1)
    if not len(pairs):
        return {}
    found, counts = np.unique(pairs, axis=0, return_counts=True)
    # per account: the most rows, then the lowest value
    pick = np.lexsort((found[:, 1], -counts, found[:, 0]))
    first = np.ones(len(pick), dtype=bool)
    first[1:] = found[pick[1:], 0] != found[pick[:-1], 0]
    chosen = found[pick[first]]
    return {int(a): shown[int(v)] for a, v in chosen.tolist()}


def company_attributes(
    spec: Accounts,
    keys: CategoricalColumn,
    contacts: ContactFrame,
    companies: CompanyAttributes | None,
) -> dict[str, Mapping[str, Any]]:
    """Per account key, the attributes its fit reads: its company record's, else its
    people's."""
    found: dict[str, Mapping[str, Any]] = dict(people_attributes(spec, keys, contacts))
    for key, attributes in (companies or {}).items():
        found[key] = attributes
    return found


def with_fit(
    spec: Accounts, rollups: AccountRollups, attributes: Mapping[str, Mapping[str, Any]]
) -> AccountRollups:
    """`rollups` with each account's fit (from `attributes`, by key) and stage."""
    if not spec.fit and not spec.stages:
        return rollups
    keys = list(rollups.accounts)
    size = len(keys)
    columns: dict[str, Column] = {
        name: column_from_values([attributes.get(k, {}).get(name) for k in keys])
        for name in spec.company_fields()
    }
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
