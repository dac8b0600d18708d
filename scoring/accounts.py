"""Accounts on whole columns: each contact's account key, its own engagement and counts,
the roll-ups over a population's accounts, and the account fields the rules read.

A contact's account is the first of the `accounts.key` fields it has (`field:value`,
text trimmed and case-folded; an `email_domain` that is free-mail names none). Its
engagement is its number of usable activities (up to its moment, machine clicks set
aside) of the engagement types within the window; each count likewise. An account's
roll-up, over the people of a population: how many there are, how many have engagement,
their engagement summed and its maximum, and each count summed.

The engine never rolls up over its batch: the caller passes the roll-ups
(`AccountRollups`, from `population_rollups` over the scored population), so a batch of
one scores as a batch of many. A contact whose account the roll-ups lack (new since they
were computed) is its account's only person. `account_<count>` is the count of the
account's other people: the account's sum less the contact's own (at least 0).

A contact whose key would be its email domain joins the one account with another key
(a company record's id) whose people's addresses, or whose company record's `domain`,
have that domain (`domain_accounts`): a Salesforce Lead at acme.com is at the Account of
acme.com's Contacts. A domain of two such accounts joins neither. The map is the
population's, so it rides in the roll-ups (`AccountRollups.domains`) to every batch.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from scoring.account_rules import Accounts
from scoring.addresses import arrow_pays
from scoring.errors import InputError
from scoring.frames import (
    ActivityFrame,
    CategoricalColumn,
    Column,
    ContactFrame,
    FloatArray,
    NumericColumn,
    ObjectArray,
    factorize,
    format_number,
)
from scoring.interests import Grouped
from scoring.records import ActivityType

if TYPE_CHECKING:
    from scoring.rules import RuleSet

_DAY = 86_400.0
ROLLUP_HEAD = ("people", "engaged", "engagement", "engagement_max")
"""The roll-up's values before the counts, in order."""


class AccountValues(Mapping[str, tuple[float, ...]]):
    """Roll-up values by account key, laid into a dictionary when first read: scoring the
    frame rolled up over reads them by code (`RolledTable`) and never needs one."""

    def __init__(self, names: ObjectArray, values: FloatArray) -> None:
        self._names, self._values = names, values
        self._dict: dict[str, tuple[float, ...]] | None = None

    @property
    def _mapping(self) -> dict[str, tuple[float, ...]]:
        if self._dict is None:
            values = map(tuple, self._values.tolist())  # Python floats, no step per value
            self._dict = dict(zip(self._names.tolist(), values, strict=True))
        return self._dict

    def __getitem__(self, key: str) -> tuple[float, ...]:
        return self._mapping[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._mapping)

    def __len__(self) -> int:
        return len(self._names)

    def __repr__(self) -> str:
        return repr(self._mapping)


@dataclass(frozen=True, eq=False)
class RolledTable:
    """Roll-ups as they were computed: the key column rolled up over and, per code of it,
    the values (NaN: no contact holds that key)."""

    keys: CategoricalColumn
    values: FloatArray


@dataclass(frozen=True)
class AccountRollups:
    """Per account key its values: `ROLLUP_HEAD` then each count of `names`, in order;
    its fit and its stage where the rules give them (`scoring.account_fit`)."""

    names: tuple[str, ...] = ()
    accounts: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    fit: Mapping[str, float] = field(default_factory=dict)
    stage: Mapping[str, str] = field(default_factory=dict)
    domains: Mapping[str, str] = field(default_factory=dict)
    """Email domain -> the account key its domain-only people join (`domain_accounts`)."""
    table: RolledTable | None = field(default=None, compare=False, repr=False)
    """The same values by the codes of the key column of the frame they were rolled up
    over, so that scoring that frame reads them without a lookup per account; None for
    roll-ups read back (`from_dict`)."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "names": list(self.names),
            "accounts": {k: list(v) for k, v in self.accounts.items()},
            "fit": dict(self.fit),
            "stage": dict(self.stage),
            "domains": dict(self.domains),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AccountRollups:
        accounts = {str(k): tuple(float(x) for x in v) for k, v in data["accounts"].items()}
        fit = {str(k): float(v) for k, v in data.get("fit", {}).items()}
        stage = {str(k): str(v) for k, v in data.get("stage", {}).items()}
        domains = {str(k): str(v) for k, v in data.get("domains", {}).items()}
        return cls(tuple(data["names"]), accounts, fit, stage, domains)

    def changed(self, other: AccountRollups | None) -> set[str]:
        """The accounts whose values differ from `other`'s (all, when it counted others)."""
        if other is None or other.names != self.names:
            return set(self.accounts) | set(other.accounts if other else ())
        keys = set(self.accounts) | set(other.accounts)
        return {
            k
            for k in keys
            if (self.accounts.get(k), self.fit.get(k), self.stage.get(k))
            != (other.accounts.get(k), other.fit.get(k), other.stage.get(k))
        }

    def score(self, key: str) -> float:
        """An account's score: its fit plus its engagement."""
        return self.fit.get(key, 0.0) + self.accounts[key][2]


@dataclass(frozen=True, eq=False)
class ContactRollups:
    """Per contact its account's roll-up: a (contacts, values) array, `ROLLUP_HEAD` then
    each count of `names`, the population's as of that contact's own moment
    (`scoring.as_of`); NaN for a contact without an account. Beside it, per contact, its
    account's fit (NaN: none) and its account's stage as of that moment
    (`scoring.account_fit.fit_at`)."""

    names: tuple[str, ...]
    values: FloatArray
    fit: FloatArray
    stage: CategoricalColumn
    domains: Mapping[str, str] = field(default_factory=dict)
    """As `AccountRollups.domains`: the keys the roll-ups were made with."""


Rollups = AccountRollups | ContactRollups
"""One population's roll-ups for every contact, or each contact's own."""


_KEYS: weakref.WeakKeyDictionary[ContactFrame, dict[tuple[str, ...], CategoricalColumn]] = (
    weakref.WeakKeyDictionary()
)
"""Each frame's account keys per key list, worked out once: a sync's roll-ups and its
scoring of the same population read them both."""


DOMAIN = "email_domain"
"""The key field that is an address's domain: the fallback `domain_accounts` re-keys."""


def account_keys(
    spec: Accounts, contacts: ContactFrame, domains: Mapping[str, str] | None = None
) -> CategoricalColumn:
    """Each contact's account key (code -1: none of the key fields names one), worked out
    once per distinct value of each key field, not per contact, and once per frame; a key
    `email_domain:<d>` becomes `domains[d]` where the map (`domain_accounts`) has it."""
    known = _KEYS.setdefault(contacts, {})
    found = known.get(tuple(spec.key))
    if found is None:
        found = known[tuple(spec.key)] = _keys(spec, contacts)
    if not domains:
        return found
    head = f"{DOMAIN}:"
    names = [  # once per distinct key, not per contact
        domains.get(k[len(head) :], k) if k.startswith(head) else k
        for k in found.categories.tolist()
    ]
    merged = factorize(names)
    codes = np.append(merged.codes, -1).astype(np.int32)[found.codes]
    return CategoricalColumn(codes, merged.categories)


def _keys(spec: Accounts, contacts: ContactFrame) -> CategoricalColumn:
    size = len(contacts)
    codes = np.full(size, -1, dtype=np.int64)
    texts: list[ObjectArray] = []
    offset = 0
    free = contacts.column("email_free")
    for name in spec.key:
        column = contacts.column(name)
        if column is None:
            continue
        values, rows = _texts(column)
        present = rows >= 0
        if name == "email_domain" and isinstance(free, CategoricalColumn):
            present &= free.codes != 1  # a free-mail domain names no account
        take = present & (codes < 0)
        codes[take] = rows[take] + offset
        texts.append(np.array([f"{name}:{v}" for v in values.tolist()], dtype=object))
        offset += len(values)
    every = np.concatenate(texts) if texts else np.zeros(0, dtype=object)
    distinct = factorize(every.tolist())  # by a dict: no sort of the texts
    out = np.full(size, -1, dtype=np.int32)
    out[codes >= 0] = distinct.codes[codes[codes >= 0]]
    return CategoricalColumn(out, distinct.categories)


def _texts(column: Column) -> tuple[ObjectArray, npt.NDArray[np.int64]]:
    """A column's distinct values as trimmed, case-folded text, and each row's (-1: none)."""
    if isinstance(column, NumericColumn):
        present = np.isfinite(column.values)
        numbers, rows = np.unique(column.values[present], return_inverse=True)
        codes = np.full(len(column.values), -1, dtype=np.int64)
        codes[present] = rows.reshape(-1)
        return np.array([format_number(float(v)) for v in numbers], dtype=object), codes
    if column.folded:  # addresses' domains: folded text, one per address or per domain
        categories, distinct = _distinct(column.categories)
    else:
        values = [str(c).strip().casefold() for c in column.categories.tolist()]
        found = factorize([v or None for v in values])  # blank text: no value
        categories, distinct = found.categories, found.codes
    codes = np.append(distinct, -1).astype(np.int64)
    return categories, codes[np.where(column.codes >= 0, column.codes, -1)]


def _distinct(texts: ObjectArray) -> tuple[ObjectArray, npt.NDArray[np.int32]]:
    """The distinct texts and each one's code among them; by Arrow's dictionary encoding,
    without a Python step per text, for the domains of a million addresses (`arrow_pays`)."""
    if arrow_pays(len(texts)):
        import pyarrow as pa

        try:
            encoded = pa.array(texts, type=pa.string()).dictionary_encode()
        except (pa.ArrowException, UnicodeEncodeError):
            pass  # a lone surrogate: not UTF-8, found the slower way below
        else:
            categories = encoded.dictionary.to_numpy(zero_copy_only=False).astype(object)
            return categories, encoded.indices.to_numpy(zero_copy_only=False)
    found = factorize(texts.tolist())
    return found.categories, found.codes


@dataclass(frozen=True, eq=False)
class Own:
    """Per contact its engagement and each count (columns in `Accounts.counts` order)."""

    engagement: FloatArray
    counts: FloatArray


def own_counts(
    spec: Accounts,
    size: int,
    group: Callable[[list[ActivityType]], Grouped],
    memo: dict[str, object] | None = None,
) -> Own:
    """The engagement and counts of `size` contacts from the usable activities `group`
    gives by type; kept in `memo` (the groups' own, `filters.Grouping.counted`), so that
    the roll-ups and the scores of one frame count once."""
    key = f"{size}:{spec.engagement.model_dump_json()}:{spec.model_dump_json(include={'counts'})}"
    found = None if memo is None else memo.get(key)
    if isinstance(found, Own):
        return found

    def counted(types: list[ActivityType], window: float | None) -> FloatArray:
        out = np.zeros(size)
        for kind in types:  # type by type: whole counts need no rows laid end to end
            found = group([kind])
            who = found.who if window is None else found.who[found.ages <= window * _DAY]
            out += np.bincount(who, minlength=size)
        return out

    engagement = counted(spec.engagement.activity, spec.engagement.window_days)
    counts = np.zeros((size, len(spec.counts)), dtype=np.float64)
    for index, count in enumerate(spec.counts.values()):
        counts[:, index] = counted(count.activity, count.window_days)
    own = Own(engagement, counts)
    if memo is not None:
        memo[key] = own
    return own


def rollups_of(spec: Accounts, keys: CategoricalColumn, own: Own) -> AccountRollups:
    """The roll-up of each account of `keys` over its contacts."""
    present = np.flatnonzero(keys.codes >= 0)
    names, rows = keys.categories, keys.codes[present]
    size = len(names)
    engagement = own.engagement[present]
    columns = [
        np.bincount(rows, minlength=size).astype(np.float64),
        np.bincount(rows, weights=(engagement > 0).astype(np.float64), minlength=size),
        np.bincount(rows, weights=engagement, minlength=size).astype(np.float64),
    ]
    most = np.zeros(size)
    np.maximum.at(most, rows, engagement)
    columns.append(most)
    for index in range(own.counts.shape[1]):
        columns.append(np.bincount(rows, weights=own.counts[present, index], minlength=size))
    table = np.column_stack(columns) if size else np.zeros((0, len(columns)))
    held = table[:, 0] > 0  # not a key of the fields no contact holds (another field's value)
    accounts = AccountValues(names[held], table[held])
    table[~held] = np.nan
    return AccountRollups(tuple(spec.counts), accounts, table=RolledTable(keys, table))


def population_rollups(
    rules: RuleSet,
    contacts: ContactFrame,
    activities: ActivityFrame,
    moment: float,
    companies: Mapping[str, Mapping[str, Any]] | None = None,
    domains: Mapping[str, str] | None = None,
) -> AccountRollups | None:
    """The roll-ups of the population of `contacts`, as of `moment`, with each account's
    fit and stage (`scoring.account_fit`: from `companies`, the company records' attributes
    by account key, else from its people's); None without an `accounts` block. `domains`:
    the population's domain map when `contacts` are some of it (else worked out here)."""
    from scoring.account_domains import domain_accounts  # it imports this module
    from scoring.account_fit import company_columns, with_fit  # it imports this module
    from scoring.engine import activity_groups  # the engine imports this module

    spec = rules.accounts
    if spec is None:
        return None
    group, memo = activity_groups(rules, contacts, activities, moment)
    if domains is None:
        domains = domain_accounts(spec, contacts, companies)
    keys = account_keys(spec, contacts, domains)
    rolled = rollups_of(spec, keys, own_counts(spec, len(contacts), group, memo))
    rolled = replace(rolled, domains=domains)
    if not spec.fit and not spec.stages:
        return rolled
    columns = company_columns(spec, keys, contacts, companies, list(rolled.accounts))
    return with_fit(spec, rolled, columns)


def account_fields(
    spec: Accounts, keys: CategoricalColumn, own: Own, rollups: Rollups | None
) -> dict[str, Column]:
    """The account fields of the contacts of `keys` (missing where no account)."""
    if rollups is None:
        raise InputError(
            "accounts: the roll-ups are the population's; compute them over it "
            "(scoring.accounts.population_rollups) and pass them in"
        )
    if rollups.names != tuple(spec.counts):
        raise InputError("accounts: the roll-ups count other activities than the rules name")
    size, width = len(keys.codes), len(ROLLUP_HEAD) + len(spec.counts)
    if isinstance(rollups, ContactRollups):
        if rollups.values.shape != (size, width):
            raise InputError(f"accounts: {len(rollups.values)} roll-ups given for {size} contacts")
        given = np.full((size, width), np.nan, order="F")  # a column per field, contiguous
        some = keys.codes >= 0
        given[some] = rollups.values[some]
        fit = np.where(some, rollups.fit, np.nan)
        placed = np.where(some, rollups.stage.codes, -1).astype(np.int32)
        stage = CategoricalColumn(placed, rollups.stage.categories)
        return _fields(spec, keys, own, [given[:, i] for i in range(width)], fit, stage)
    distinct, codes = keys.categories, keys.codes
    if rollups.table is not None and rollups.table.keys is keys:  # rolled up over this frame
        per_account = rollups.table.values
    else:
        missing = (np.nan,) * width
        found_of = map(rollups.accounts.get, distinct.tolist(), itertools.repeat(missing))
        per_account = np.array(list(found_of), np.float64).reshape(len(distinct), width)
    # per field, each contact's account's value (code -1, no account: the last, NaN)
    padded = np.full((width, len(distinct) + 1), np.nan)
    padded[:, :-1] = per_account.T
    values = [padded[i][codes] for i in range(width)]
    alone = np.flatnonzero((codes >= 0) & np.isnan(values[0]))
    if len(alone):  # new since the roll-ups: its account's only person
        engagement = own.engagement[alone]
        mine = [np.ones(len(alone)), (engagement > 0).astype(np.float64), engagement, engagement]
        for column, value in zip(values, mine + list(own.counts[alone].T), strict=True):
            column[alone] = value
    # fit and stage are the account's own (none for an account the roll-ups lack), looked
    # up once per account at C speed
    names = distinct.tolist() if rollups.fit or rollups.stage else []
    fit = np.full(size, np.nan)
    if rollups.fit:
        found_fit = map(rollups.fit.get, names, itertools.repeat(np.nan))
        fit = _spread(np.fromiter(found_fit, np.float64, len(names)), codes)
    stage = CategoricalColumn(np.full(size, -1, dtype=np.int32), np.empty(0, dtype=object))
    if rollups.stage:
        stages = factorize(list(map(rollups.stage.get, names)))
        spread = _spread(stages.codes.astype(np.float64), codes)
        stage = CategoricalColumn(
            np.where(np.isnan(spread), -1, spread).astype(np.int32), stages.categories
        )
    return _fields(spec, keys, own, values, fit, stage)


def _fields(
    spec: Accounts,
    keys: CategoricalColumn,
    own: Own,
    values: list[FloatArray],
    fit: FloatArray,
    stage: CategoricalColumn,
) -> dict[str, Column]:
    """The account fields from each contact's roll-up values (a column per value, NaN: no
    account), its account's fit and its account's stage."""
    out: dict[str, Column] = {
        f"account_{name}": NumericColumn(values[i])
        for i, name in enumerate(("people", "engaged_people", "engagement", "engagement_max"))
    }
    for index, name in enumerate(spec.counts):
        others = values[len(ROLLUP_HEAD) + index] - own.counts[:, index]
        out[f"account_{name}"] = NumericColumn(np.maximum(others, 0.0))  # NaN stays
    out["account"] = keys
    out["account_fit"] = NumericColumn(fit)
    # the account's score as written to its company record: fit (0 without fit rules)
    # plus engagement; NaN for a contact without an account
    out["account_score"] = NumericColumn(np.where(np.isnan(fit), 0.0, fit) + values[2])
    out["account_stage"] = stage
    return out


def _spread(per_account: FloatArray, codes: npt.NDArray[Any]) -> FloatArray:
    """Per contact its account's value (NaN without an account)."""
    return np.append(per_account, np.nan)[np.where(codes >= 0, codes, len(per_account))]


def account_columns(
    spec: Accounts,
    contacts: ContactFrame,
    group: Callable[[list[ActivityType]], Grouped],
    rollups: Rollups | None,
    memo: dict[str, object] | None = None,
) -> dict[str, Column]:
    """The account fields of `contacts`, their usable activities by type from `group`."""
    own = own_counts(spec, len(contacts), group, memo)
    domains = None if rollups is None else rollups.domains
    return account_fields(spec, account_keys(spec, contacts, domains), own, rollups)
