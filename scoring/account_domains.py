"""Accounts by email domain: a contact keyed by its address's domain joins the one account
keyed otherwise (a company record's id) whose people's addresses, or whose company
record's `domain`, have that domain (`scoring.accounts`). The map is the population's; a
sync keeps, per person, the domain it ties to its account (`domain_pairs`), so that it can
work the map out again for some domains without reading everyone (`domain_owners`).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from scoring.account_rules import Accounts
from scoring.accounts import DOMAIN, _texts, account_keys
from scoring.addresses import web_domain
from scoring.frames import (
    BoolArray,
    CategoricalColumn,
    ContactFrame,
    ObjectArray,
    free_email_domains,
)


def domain_accounts(
    spec: Accounts,
    contacts: ContactFrame,
    companies: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, str]:
    """Email domain -> the one account keyed otherwise (by a company record's id) that it
    belongs to: the domain of some of the account's people's addresses, or its company
    record's `domain` (in `companies`, by account key, where read). A domain of two such
    accounts, or a free-mail domain, belongs to none. Empty when `email_domain` is no key."""
    if DOMAIN not in spec.key:
        return {}
    pairs: set[tuple[str, str]] = set()
    found = _paired(spec, contacts)
    if found is not None:
        values, rows, keys, usable = found
        width = len(keys.categories) + 1
        codes = np.unique(rows[usable] * width + keys.codes[usable])  # (domain, key) pairs
        texts, categories = values.tolist(), keys.categories.tolist()
        at, code = (part.tolist() for part in divmod(codes, width))
        pairs.update((texts[d], categories[k]) for d, k in zip(at, code, strict=True))
    return domain_owners(pairs, companies)


def domain_key(domain: str) -> str:
    """The account key of the people of a domain the map joins to no other account."""
    return f"{DOMAIN}:{domain}"


def keyed_by_domain(spec: Accounts) -> bool:
    """Whether a domain map can join people to accounts (`domain_accounts`)."""
    return DOMAIN in spec.key


def domain_owners(
    pairs: Iterable[tuple[str, str]], companies: Mapping[str, Mapping[str, Any]] | None
) -> dict[str, str]:
    """The domain map (`domain_accounts`) of (domain, account) pairs of people and of the
    company records' `domain` in `companies`."""
    owners: dict[str, set[str]] = {}
    for domain, key in itertools.chain(pairs, company_domains(companies)):
        owners.setdefault(domain, set()).add(key)
    return {d: next(iter(k)) for d, k in sorted(owners.items()) if len(k) == 1}


def company_domains(companies: Mapping[str, Mapping[str, Any]] | None) -> set[tuple[str, str]]:
    """The (domain, account key) pairs of company records' `domain` (by account key)."""
    free = free_email_domains()
    found = ((web_domain(record.get("domain")), key) for key, record in (companies or {}).items())
    return {(d, k) for d, k in found if d and not k.startswith(f"{DOMAIN}:") and d not in free}


def domain_pairs(spec: Accounts, contacts: ContactFrame) -> ObjectArray:
    """Per contact, the domain it ties to its account in the domain map (`domain_accounts`):
    its address's, where its account is keyed otherwise than by a domain (None: none)."""
    found = _paired(spec, contacts) if DOMAIN in spec.key else None
    if found is None:
        return np.full(len(contacts), None, dtype=object)
    values, rows, _, usable = found
    padded = np.append(values, np.array([None], dtype=object))  # row -1: none
    out: ObjectArray = padded[np.where(usable, rows, len(values))]
    return out


def _paired(
    spec: Accounts, contacts: ContactFrame
) -> tuple[ObjectArray, npt.NDArray[np.int64], CategoricalColumn, BoolArray] | None:
    """The distinct domains, each contact's, its account key, and which contacts tie their
    domain to their account (None: no accounts keyed otherwise than by a domain)."""
    column = contacts.column(DOMAIN)
    # accounts keyed otherwise than by a domain exist only where the key has another field
    if column is None or all(name == DOMAIN for name in spec.key):
        return None
    keys = account_keys(spec, contacts)
    values, rows = _texts(column)
    free = contacts.column("email_free")
    named = np.array([not str(k).startswith(f"{DOMAIN}:") for k in keys.categories.tolist()])
    usable = (rows >= 0) & (keys.codes >= 0)
    usable[usable] = np.append(named, False)[keys.codes[usable]]
    if isinstance(free, CategoricalColumn):
        usable &= free.codes != 1
    return values, rows, keys, usable
