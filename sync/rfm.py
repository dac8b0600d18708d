"""RFM's quintile bounds over the store's population, and kept in the store.

The engine scores RFM measures by quintiles only with bounds it is given
(`scoring.rfm`). A sync computes them over every person in the store the rules do not
exclude (their purchases up to the run's moment), keeps them in the `meta` table under
`RFM_BOUNDS` with what they measured (the purchase types and amount field), and passes
them to the engine; a rescore of one record, and `explain`, read the kept ones, so that a
person scored alone gets the digits a run scoring everyone gives them. The bounds carry
what the population's purchases say (purchases no rate converts, several currencies
summed): each run says it once, counted over the store, however few it rescores. Only a purchaser's
RFM depends on the bounds: when they move, the run marks due the purchasers whose digits
differ between the kept bounds and the new ones (`moved_purchasers`), in the transaction
that keeps the new ones, and nobody else is rescored for it.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

import numpy as np
from sqlalchemy.engine import Connection

from scoring import (
    CURRENCY_FIELD,
    Measures,
    RfmBounds,
    RuleSet,
    bounds_of,
    counted_sales,
    excluded,
    measure,
    moved_digits,
    parse_number,
)
from sync.columns import column_reader
from sync.dues import meta_value, set_meta
from sync.readback import PERSON_COLUMNS, activities_query, people_of, persons_query
from sync.store import StateStore

RFM_BOUNDS = "rfm_bounds"
"""The `meta` key of the bounds the last sync computed."""


def _measured(rules: RuleSet) -> str:
    """What bounds measure: the purchase types and amount field, which purchases are one
    sale and the currency amounts are in (other bounds are void)."""
    rfm = rules.rfm
    assert rfm is not None
    counted = [rfm.same_sale_days, rfm.currency, sorted(rfm.factors.items())]
    return json.dumps([sorted(t.value for t in rfm.activity), rfm.amount, *counted])


def needs_bounds(rules: RuleSet) -> bool:
    return rules.rfm is not None and bool(rules.rfm.quintiles)


def excluded_persons(connection: Connection, rules: RuleSet) -> frozenset[int]:
    """The persons of the store the rules' `exclude` names (none without one)."""
    if rules.exclude is None:
        return frozenset()
    with column_reader(connection, adbc=False) as read:
        found = people_of(read.batches(persons_query(None, None), PERSON_COLUMNS))
    frame, _ = found.frames(rules.contact_fields(), [], exclude=rules.exclude)
    return frozenset(int(i) for i in frame.ids[excluded(rules, frame)].tolist())


class Purchasers(NamedTuple):
    """The store's purchasers: their ids (rising), measures, and what their purchases say
    of how monetary value was measured (`scoring.Sales.notes`)."""

    ids: np.ndarray
    measures: Measures
    notes: tuple[str, ...]

    def bounds(self) -> RfmBounds:
        """Their quintile bounds, with their notes."""
        return bounds_of(self.measures, self.notes)


def population(connection: Connection, rules: RuleSet, moment: float) -> RfmBounds | None:
    """The quintile bounds over every person in the store the rules do not exclude, their
    purchases up to `moment` (epoch seconds); None when the rules score no measure by
    quintiles."""
    found = purchasers(connection, rules, moment)
    return None if found is None else found.bounds()


def purchasers(connection: Connection, rules: RuleSet, moment: float) -> Purchasers | None:
    """The persons of the store with a purchase up to `moment` the rules do not exclude
    (their ids, rising) and their measures; None when the rules score no measure by
    quintiles."""
    if not needs_bounds(rules):
        return None
    assert rules.rfm is not None
    left_out = excluded_persons(connection, rules)
    field = rules.rfm.amount
    types = [t.value for t in rules.rfm.activity]
    names = ["person_id", "occurred_at", "amount", "extra", "system"]
    query = activities_query(None, None, names, types=types)
    persons: list[int] = []
    moments: list[float] = []
    amounts: list[float] = []
    systems: list[str] = []
    currencies: list[str | None] = []
    for person, at, amount, extra, system in connection.execute(query):
        if at > moment or person in left_out:
            continue
        attributes = json.loads(extra) if extra else {}
        persons.append(int(person))
        moments.append(float(at))
        amounts.append(_amount(field, amount, attributes))
        systems.append(str(system))
        held = attributes.get(CURRENCY_FIELD)
        currencies.append(None if held is None else str(held))
    ids, rows = np.unique(np.array(persons, dtype=np.int64), return_inverse=True)
    counted = counted_sales(  # each sale once, as the engine counts them
        rules.rfm,
        rows.astype(np.int32),
        np.array(moments, dtype=np.float64),
        np.array(amounts, dtype=np.float64),
        np.array(systems, dtype=object),
        np.array(currencies, dtype=object),
    )
    measures = measure(counted.who, counted.at, counted.amounts, len(ids))
    return Purchasers(ids, measures, counted.notes(rules.rfm))


def moved_purchasers(
    connection: Connection,
    rules: RuleSet,
    found: Purchasers,
    bounds: RfmBounds,
    moment: float,
) -> list[int]:
    """The purchasers (`purchasers`) whose digits differ between the bounds the store keeps
    and `bounds` (none when no bound moved; every purchaser when none are kept)."""
    assert rules.rfm is not None
    kept = kept_bounds(connection, rules)
    if kept is not None and _cuts(kept) == _cuts(bounds):
        return []
    moved = moved_digits(rules.rfm, found.measures, kept, bounds, moment)
    return [int(i) for i in found.ids[moved].tolist()]


def _cuts(bounds: RfmBounds) -> tuple[tuple[float, ...], ...]:
    """The bounds without how many purchasers they were computed over (a purchaser more
    that leaves every bound where it was moves no digit)."""
    return bounds.recency, bounds.frequency, bounds.monetary


def _amount(field: str, column: float | None, extra: dict[str, Any]) -> float:
    """A purchase's amount from the stored row: the `amount` column, else its field in the
    other attributes (NaN: none, or not a number)."""
    if field == "amount" and column is not None:
        return float(column)
    value: Any = extra.get(field)
    if isinstance(value, bool) or value is None:
        return float("nan")
    if isinstance(value, int | float):
        return float(value)
    number = parse_number(str(value))
    return float("nan") if number is None else number


def save_bounds(connection: Connection, rules: RuleSet, bounds: RfmBounds, moment: float) -> None:
    data = {"measured": _measured(rules), "as_of": moment, **bounds.as_dict()}
    set_meta(connection, RFM_BOUNDS, json.dumps(data))


def kept_bounds(connection: Connection, rules: RuleSet) -> RfmBounds | None:
    """The bounds the last sync kept, when they measured what `rules` measure."""
    if not needs_bounds(rules):
        return None
    text = meta_value(connection, RFM_BOUNDS)
    if text is None:
        return None
    data = json.loads(text)
    return RfmBounds.from_dict(data) if data.get("measured") == _measured(rules) else None


def bounds_for(store: StateStore, rules: RuleSet, moment: float) -> RfmBounds | None:
    """The bounds a rescore of a few persons scores with: those kept, or, before any sync
    kept them, the population's as of `moment`."""
    if not needs_bounds(rules):
        return None
    with store.engine.connect() as connection:
        kept = kept_bounds(connection, rules)
        return kept if kept is not None else population(connection, rules, moment)
