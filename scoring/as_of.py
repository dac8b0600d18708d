"""A population's quantities as of each contact's own moment: RFM's quintile bounds and
the account roll-ups a backtest scores each contact with.

A backtest scores each contact as of its own moment `t`, and nothing after `t` may be
seen, other people's activities included. So the population's quantities a contact is
scored with are those of the whole population with every activity after `t` set aside,
exactly what `population_bounds` and `population_rollups` give as of `t` alone; a test
holds them to one call per moment. They are found for every moment at once:

- RFM: each purchase, in time order, changes one contact's measures (its last moment,
  count and running sum of amounts), a removal of the old values and an insertion of the
  new ones; the population's values as of `t` are those of the purchases up to `t`, a
  prefix, and each bound is the k-th smallest of them (`scoring.ranked`).
- Accounts: each activity counts for its person from its moment until the first of the
  end of its window and the moment the machine-click filter sees it as a machine's
  (`filters.machine_from`), both measured, as the engine measures them, on the sorted
  moments asked for. An account's sums as of `t` are cumulative sums over its changes
  sorted by time; its engaged people likewise, from each person's running count; its
  most engaged person the largest of its people's running counts (`scoring.ranked`).
  Each account's fit is its company's, the same at every moment; its stage is evaluated
  once per (account, moment) asked over that fit and those sums (`account_fit.fit_at`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
import numpy.typing as npt

from scoring.account_domains import domain_accounts
from scoring.account_fit import CompanyAttributes, fit_at
from scoring.accounts import (
    ROLLUP_HEAD,
    ContactRollups,
    Rollups,
    account_keys,
    population_rollups,
)
from scoring.engine import score
from scoring.exclusion import Included, included
from scoring.explain import ScoreBatch
from scoring.filters import click_checks, machine_from
from scoring.frames import ActivityFrame, ContactFrame, FloatArray
from scoring.purchases import frame_sales
from scoring.ranked import Whole, kth_smallest
from scoring.records import TYPE_CODES, ActivityType, ensure_utc
from scoring.rfm import Bounds, ContactBounds, population_bounds
from scoring.rules import RuleSet

_DAY = 86_400.0


def score_population(
    rules: RuleSet,
    contacts: ContactFrame,
    activities: ActivityFrame,
    as_of: datetime | FloatArray,
    companies: CompanyAttributes | None = None,
) -> tuple[ScoreBatch, Included]:
    """`scoring.score` of the contacts the rules do not exclude, with RFM's bounds and the
    account roll-ups of those contacts as a population (each account's fit from
    `companies`, else from its people): as of the one moment, or each contact's as of
    its own."""
    kept = included(rules, contacts, activities)
    if isinstance(as_of, datetime):
        moment: datetime | FloatArray = as_of
        at = ensure_utc(as_of).timestamp()
        bounds: Bounds | None = population_bounds(rules, kept.activities, len(kept.contacts), at)
        rolled: Rollups | None = population_rollups(
            rules, kept.contacts, kept.activities, at, companies
        )
    else:
        moment = np.asarray(as_of, dtype=np.float64)[kept.rows]
        bounds, rolled = population_at(
            rules, kept.contacts, kept.activities, moment, companies=companies
        )
    batch = score(rules, kept.contacts, kept.activities, moment, rfm=bounds, accounts=rolled)
    return replace(batch, excluded_ids=kept.excluded_ids), kept


def population_at(
    rules: RuleSet,
    contacts: ContactFrame,
    activities: ActivityFrame,
    moments: FloatArray,
    rows: npt.NDArray[np.intp] | None = None,
    companies: CompanyAttributes | None = None,
) -> tuple[ContactBounds | None, ContactRollups | None]:
    """RFM's bounds and the account roll-ups of the population `contacts`, for the contacts
    at `rows` (all when None), each as of its moment in `moments` (one per row); each
    account's fit from `companies` (by account key), else from its people."""
    moments = np.asarray(moments, dtype=np.float64)
    chosen = np.arange(len(contacts)) if rows is None else np.asarray(rows)
    if len(chosen) != len(moments):
        raise ValueError(f"{len(moments)} moments for {len(chosen)} contacts")
    return (
        bounds_at(rules, activities, len(contacts), moments),
        rollups_at(rules, contacts, activities, chosen, moments, companies),
    )


# -- RFM ---------------------------------------------------------------------------------


def bounds_at(
    rules: RuleSet, activities: ActivityFrame, size: int, moments: FloatArray
) -> ContactBounds | None:
    """The quintile bounds of the population of `size` contacts as of each of `moments`
    (None when the rules score no measure by quintiles)."""
    rfm = rules.rfm
    if rfm is None or not rfm.quintiles:
        return None
    codes = np.array([TYPE_CODES[t] for t in rfm.activity], dtype=np.int8)
    rows = np.flatnonzero(np.isin(activities.type_codes, codes))
    counted = frame_sales(rfm, activities, rows)  # each sale once, as the engine counts them
    amounts = np.where(np.isfinite(counted.amounts), counted.amounts, 0.0)
    order = np.lexsort((amounts, counted.at))  # the order `scoring.rfm.measure` sums in
    who, at, amounts = counted.who[order], counted.at[order], amounts[order]
    count, running, previous = _running(who.astype(np.int64), amounts)
    distinct, back = np.unique(moments, return_inverse=True)
    prefix = np.searchsorted(at, distinct, side="right")  # the purchases up to each moment
    people = np.concatenate(([0], np.cumsum(previous < 0)))[prefix]
    found = [_quintiles(values, previous, prefix, people) for values in (at, count, running)]
    back = back.reshape(-1)
    recency, frequency, monetary = (bounds[:, back] for bounds in found)
    return ContactBounds(recency, frequency, monetary, people[back])


def _running(who: Whole, amounts: FloatArray) -> tuple[FloatArray, FloatArray, Whole]:
    """Per purchase (in time order), its contact's count and sum of amounts up to it, and
    the index of the contact's purchase before it (-1: none). Sums run purchase by
    purchase, as `np.bincount` sums them, so each is the same float."""
    size = len(who)
    by = np.argsort(who, kind="stable")  # each contact's purchases, in time order
    first = np.ones(size, dtype=bool)
    first[1:] = who[by][1:] != who[by][:-1]
    starts = np.flatnonzero(first)
    place = np.arange(size) - np.repeat(starts, np.diff(np.append(starts, size)))
    count = np.empty(size)
    count[by] = place + 1.0
    previous = np.full(size, -1, dtype=np.int64)
    previous[by[~first]] = by[np.flatnonzero(~first) - 1]
    summed = amounts[by].copy()
    lengths = np.diff(np.append(starts, size))
    for step in range(1, int(lengths.max()) if size else 0):  # the most purchases of one
        at = starts[lengths > step] + step
        summed[at] = summed[at - 1] + summed[at]
    running = np.empty(size)
    running[by] = summed
    return count, running, previous


def _quintiles(values: FloatArray, previous: Whole, prefix: Whole, people: Whole) -> FloatArray:
    """(4, moments): the bounds of a measure whose value after each purchase is `values`,
    over the purchases of each `prefix` (+inf where nobody had bought)."""
    distinct, codes = np.unique(values, return_inverse=True)
    codes = codes.reshape(-1).astype(np.int64)
    # per purchase two entries: its contact's value before it goes, the new one comes
    gone = np.where(previous >= 0, codes[np.maximum(previous, 0)], 0)
    sequence = np.column_stack((gone, codes)).reshape(-1)
    weights = np.column_stack((np.where(previous >= 0, -1, 0), np.ones_like(codes))).reshape(-1)
    out = np.full((4, len(prefix)), np.inf)
    some = np.flatnonzero(people > 0)
    if some.size == 0:
        return out
    n = people[some]
    for k in range(1, 5):
        rank = (k * n + 4) // 5 - 1  # nearest rank, as `scoring.rfm.quintile_bounds`
        found = kth_smallest(sequence, weights, np.zeros_like(n), 2 * prefix[some], rank)
        out[k - 1, some] = distinct[found]
    return out


# -- accounts ------------------------------------------------------------------------------


def rollups_at(
    rules: RuleSet,
    contacts: ContactFrame,
    activities: ActivityFrame,
    rows: npt.NDArray[np.intp],
    moments: FloatArray,
    companies: CompanyAttributes | None = None,
) -> ContactRollups | None:
    """The roll-up of the account of each contact at `rows` as of its moment, over the
    population `contacts`, with its account's fit (from `companies`, else its people's)
    and its stage then (None without an `accounts` block)."""
    spec = rules.accounts
    if spec is None:
        return None
    domains = domain_accounts(spec, contacts, companies)  # whom an address's domain joins
    keys = account_keys(spec, contacts, domains)
    if not len(rows):
        nobody, empty = np.zeros(0, np.int64), np.zeros((0, len(ROLLUP_HEAD) + len(spec.counts)))
        fit, stage = fit_at(spec, keys, contacts, companies, nobody, nobody, empty)
        return ContactRollups(tuple(spec.counts), empty, fit, stage, domains)
    accounts = len(keys.categories)
    distinct, where = np.unique(moments, return_inverse=True)
    asked = _Asked(
        keys.codes.astype(np.int64)[rows], where.reshape(-1).astype(np.int64), len(distinct)
    )
    machine = np.full(len(activities), np.inf)
    bot = rules.filters.bot_clicks
    if bot.enabled and len(activities):
        every = np.ones(len(activities), dtype=bool)
        machine = machine_from(activities, every, bot, click_checks(activities, bot))
    person_account = keys.codes.astype(np.int64)
    present = person_account[person_account >= 0]
    people = np.bincount(present, minlength=accounts).astype(np.float64)
    columns = [np.where(asked.account >= 0, people[np.maximum(asked.account, 0)], np.nan)]
    counted = [(spec.engagement.activity, spec.engagement.window_days)]
    counted += [(c.activity, c.window_days) for c in spec.counts.values()]
    for index, (types, window) in enumerate(counted):
        person, start, end = _spans(activities, person_account, types, window, machine, distinct)
        columns.append(asked.summed(person_account[person], start, end))
        if index == 0:
            engaged, most = _engaged(asked, person_account, person, start, end)
            columns[1:1] = [engaged]
            columns.append(most)
    values = np.column_stack(columns)
    values[asked.account < 0] = np.nan
    assert values.shape[1] == len(ROLLUP_HEAD) + len(spec.counts)
    fit, stage = fit_at(spec, keys, contacts, companies, asked.account, asked.moment, values)
    return ContactRollups(tuple(spec.counts), values, fit, stage, domains)


@dataclass(frozen=True, eq=False)
class _Asked:
    """The queries: per contact asked, its account (-1: none) and its moment's place among
    the `size` distinct moments."""

    account: Whole
    moment: Whole
    size: int

    def key(self, account: Whole, moment: Whole) -> Whole:
        return account * (self.size + 1) + moment

    def summed(self, account: Whole, start: Whole, end: Whole) -> FloatArray:
        """Per query, how many spans of its account hold its moment."""
        return self.total(
            np.concatenate((account, account)),
            np.concatenate((start, end)),
            np.concatenate((np.ones(len(start), np.int64), -np.ones(len(end), np.int64))),
        )

    def total(self, account: Whole, moment: Whole, deltas: Whole) -> FloatArray:
        """Per query, the sum of the `deltas` of its account up to its moment."""
        keys = self.key(account, moment)
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        running = np.concatenate(([0], np.cumsum(deltas[order])))
        mine = np.maximum(self.account, 0)
        upto = np.searchsorted(keys, self.key(mine, self.moment), side="right")
        before = np.searchsorted(keys, self.key(mine, np.zeros_like(mine)), side="left")
        return (running[upto] - running[before]).astype(np.float64)


def _spans(
    activities: ActivityFrame,
    person_account: Whole,
    types: list[ActivityType],
    window: float | None,
    machine: FloatArray,
    moments: FloatArray,
) -> tuple[Whole, Whole, Whole]:
    """Per activity of `types` of a person with an account: the person, and the first and
    past-the-last places among the sorted `moments` at which the engine counts it (up to
    the moment, within the window back from it, not yet seen as a machine's)."""
    codes = np.array([TYPE_CODES[t] for t in types], dtype=np.int8)
    rows = np.flatnonzero(np.isin(activities.type_codes, codes))
    person = activities.contact_rows[rows].astype(np.int64)
    keep = person_account[person] >= 0
    rows, person = rows[keep], person[keep]
    at = activities.occurred_at[rows]
    start = np.searchsorted(moments, at, side="left")
    end = np.searchsorted(moments, machine[rows], side="left")
    if window is not None:
        span = window * _DAY
        # the engine keeps `moment - at <= span`: found on the sorted moments themselves
        last = np.searchsorted(moments, at + span, side="right")
        size = len(moments)
        while True:
            more = (last < size) & (moments[np.minimum(last, size - 1)] - at <= span)
            fewer = (last > 0) & (moments[np.maximum(last - 1, 0)] - at > span)
            if not (more.any() or fewer.any()):
                break
            last = last + more - fewer
        end = np.minimum(end, last)
    keep = start < end
    return person[keep], start[keep].astype(np.int64), end[keep].astype(np.int64)


def _engaged(
    asked: _Asked, person_account: Whole, person: Whole, start: Whole, end: Whole
) -> tuple[FloatArray, FloatArray]:
    """Per query, its account's people engaged as of its moment, and the most engagement
    of one of them (0: none)."""
    width = asked.size + 1
    keys, back = np.unique(
        np.concatenate((person * width + start, person * width + end)), return_inverse=True
    )
    deltas = np.bincount(
        back.reshape(-1),
        weights=np.concatenate((np.ones(len(start)), -np.ones(len(end)))),
        minlength=len(keys),
    ).astype(np.int64)
    who, moment = keys // width, keys % width
    running = np.cumsum(deltas)
    first = np.ones(len(keys), dtype=bool)
    first[1:] = who[1:] != who[:-1]
    base = np.maximum.accumulate(np.where(first, np.arange(len(keys)), 0))
    after = running - np.concatenate(([0], running))[base]  # the person's count from here
    before = np.zeros_like(after)
    before[1:] = after[:-1]
    before[first] = 0
    where = person_account[who]
    engaged = asked.total(where, moment, (after > 0).astype(np.int64) - (before > 0))
    # the people's counts as entries: the old one goes, the new one comes
    keys_of = asked.key(where, moment)
    order = np.argsort(keys_of, kind="stable")
    sequence = np.column_stack((before[order], after[order])).reshape(-1)
    weights = np.column_stack(
        (-(before[order] > 0).astype(np.int64), (after[order] > 0).astype(np.int64))
    ).reshape(-1)
    sorted_keys = keys_of[order]
    mine = np.maximum(asked.account, 0)
    upto = np.searchsorted(sorted_keys, asked.key(mine, asked.moment), side="right")
    lowest = np.searchsorted(sorted_keys, asked.key(mine, np.zeros_like(mine)), side="left")
    many = engaged.astype(np.int64)
    most = np.zeros(len(many))
    some = np.flatnonzero(many > 0)
    if some.size:
        found = kth_smallest(sequence, weights, 2 * lowest[some], 2 * upto[some], many[some] - 1)
        most[some] = found
    return engaged, most
