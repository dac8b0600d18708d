"""The purchases RFM measures: one sale held by several systems counted once, and their
amounts in the one currency monetary value is measured in.

Every path that feeds RFM (the engine's per-contact measures, the population's quintile
bounds, the sync's bounds over the store, the bounds as of each moment of a backtest)
reads purchases through `counted_sales`, so that they all count the same sales.

- **One sale, several systems.** A won HubSpot deal, a won Salesforce opportunity and a
  Mailchimp e-commerce order of the same sale are three purchase activities of one person.
  A purchase joins a sale of its contact when it comes from a system the sale holds none
  of yet, its amount agrees with the sale's first purchase and it is at most
  `rfm.same_sale_days` after that first purchase (7 by default: close dates are typed in
  by hand and set to the day a contract was signed, an invoice sent or a payment
  received, which lie days apart; one person's two distinct sales of the same amount
  through two systems within a week are rare). The window runs from the sale's first
  purchase, so a sale never spans more than one window. Amounts agree
  when both are known and, in the same currency, the same once rounded to the cent; in different
  currencies, converted (below), within 1% (two systems convert on different days);
  without `rfm.currency`, a purchase that names no currency (a single-currency Salesforce
  org names none) is in the currency of the one it is compared with. Two
  purchases of one system are never one sale: two equal orders are two orders. Purchases
  are taken in time order (then amount, then system); each joins the earliest sale of its
  contact it may join, else starts a sale; a sale keeps
  its first purchase's moment and amount. Whether a purchase joins a sale depends only on
  the purchases up to it, so a prefix of time sees the sales it would alone (`scoring.as_of`).
  With `same_sale_days: null`, every purchase counts.
- **Currency.** A purchase's currency is its `currency` attribute (ISO 4217 code: Mailchimp's
  `currency_code`, HubSpot's `deal_currency_code`, Salesforce's `CurrencyIsoCode` in a
  multi-currency org), none meaning `rfm.currency`. With `rfm.currency` set, an amount in
  another currency is multiplied by its `rfm.rates` factor; one without a rate is left out
  of monetary value (still counted in recency and frequency) and said in a note. Without
  `rfm.currency`, amounts are summed as they are; purchases in several currencies are said
  in a note.

The systems are the activities' `system` field: the store's system of each activity (the
sync puts it in the frame, `sync.people`), or a file's `system` column; without one, every
purchase is of one system, and none is merged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scoring.frames import ActivityFrame, CategoricalColumn, Column, FloatArray
from scoring.measuring import numeric_values
from scoring.rfm_rules import CURRENCY_FIELD, SYSTEM_FIELD, Rfm

_DAY = 86_400.0
_CONVERTED = 0.01
"""How far two amounts converted from different currencies may lie apart and be one sale."""


@dataclass(frozen=True, eq=False)
class Sales:
    """The purchases that count, each once: their contact rows, moments and amounts in
    `rfm.currency` (NaN: unknown, or a currency without a rate)."""

    who: npt.NDArray[np.int32]
    at: FloatArray
    amounts: FloatArray
    merged: int = 0
    """Purchases found to be another system's record of a sale, left out."""
    unconverted: tuple[tuple[str, int], ...] = ()
    """Currencies without a rate and how many purchases in each (left out of monetary)."""
    currencies: tuple[str, ...] = ()
    """The currencies the purchases were in, sorted."""

    def notes(self, rfm: Rfm) -> tuple[str, ...]:
        """What a person should know of how monetary value was measured, each said once."""
        if self.unconverted:
            held = ", ".join(f"{count} in {code}" for code, count in self.unconverted)
            return (
                f"rfm: purchases without a rate to {rfm.currency} ({held}) are left out of "
                "monetary value; add them to rfm.rates",
            )
        if rfm.currency is None and len(self.currencies) > 1:
            return (
                f"rfm: purchases in {len(self.currencies)} currencies "
                f"({', '.join(self.currencies)}) are summed as one; set rfm.currency and rfm.rates",
            )
        return ()


def frame_sales(rfm: Rfm, activities: ActivityFrame, rows: npt.NDArray[np.intp]) -> Sales:
    """`counted_sales` of the purchase `rows` of `activities`: amounts from `rfm.amount`, systems
    from the `system` field, currencies from the `currency` field."""
    size = len(activities)
    return counted_sales(
        rfm,
        activities.contact_rows[rows],
        activities.occurred_at[rows],
        numeric_values(activities.column(rfm.amount), size, rows),
        _texts(activities.column(SYSTEM_FIELD), rows),
        _texts(activities.column(CURRENCY_FIELD), rows),
    )


def _texts(column: Column | None, rows: npt.NDArray[np.intp]) -> npt.NDArray[np.object_]:
    """A field's values at `rows` as text (None: missing)."""
    out = np.full(len(rows), None, dtype=object)
    if isinstance(column, CategoricalColumn):
        codes = column.codes[rows]
        present = codes >= 0
        out[present] = column.categories[codes[present]]
    elif column is not None:
        values = column.values[rows]
        present = np.isfinite(values)
        out[present] = [f"{v:g}" for v in values[present].tolist()]
    return out


def counted_sales(
    rfm: Rfm,
    who: npt.NDArray[np.integer],
    at: FloatArray,
    amounts: FloatArray,
    systems: npt.NDArray[np.object_],
    currencies: npt.NDArray[np.object_],
) -> Sales:
    """The purchases (contact row, moment, amount, system and currency text of each) that
    count, each sale once, with their amounts in `rfm.currency` (module docstring)."""
    rows = np.asarray(who, dtype=np.int32)
    codes = _codes(rfm, currencies)
    values, unconverted = _converted(rfm, amounts, codes)
    keep = _firsts(rfm, rows, at, amounts, values, systems, codes)
    seen = sorted({str(c) for c in codes.tolist() if c is not None})
    return Sales(
        rows[keep],
        at[keep],
        values[keep],
        merged=int(len(keep) - keep.sum()),
        unconverted=unconverted,
        currencies=tuple(seen),
    )


def _codes(rfm: Rfm, currencies: npt.NDArray[np.object_]) -> npt.NDArray[np.object_]:
    """Each purchase's currency code, upper-case; a missing one is `rfm.currency`."""
    out = np.full(len(currencies), rfm.currency, dtype=object)
    for text in {c for c in currencies.tolist() if c is not None}:
        code = str(text).strip().upper()
        out[currencies == text] = code or rfm.currency
    return out


def _converted(
    rfm: Rfm, amounts: FloatArray, codes: npt.NDArray[np.object_]
) -> tuple[FloatArray, tuple[tuple[str, int], ...]]:
    """The amounts in `rfm.currency` (NaN where no rate converts them), and how many
    purchases with an amount each currency without a rate held."""
    if rfm.currency is None:
        return np.asarray(amounts, dtype=np.float64), ()
    out = np.full(len(amounts), np.nan)
    unconverted: list[tuple[str, int]] = []
    for code in sorted({str(c) for c in codes.tolist()}):
        at = codes == code
        rate = 1.0 if code == rfm.currency else rfm.factors.get(code)
        if rate is None:
            count = int(np.isfinite(amounts[at]).sum())
            if count:
                unconverted.append((code, count))
            continue
        out[at] = amounts[at] * rate
    return out, tuple(unconverted)


def _firsts(
    rfm: Rfm,
    who: npt.NDArray[np.int32],
    at: FloatArray,
    amounts: FloatArray,
    values: FloatArray,
    systems: npt.NDArray[np.object_],
    codes: npt.NDArray[np.object_],
) -> npt.NDArray[np.bool_]:
    """Per purchase, whether it counts (not another system's record of an earlier one).

    On sorted arrays: a purchase may join only a sale whose first purchase is of its
    contact, agrees with it and lies within the window before it. Where amounts agree only
    when equal to the cent (a contact's purchases in one currency, or, without
    `rfm.currency`, in one named currency and none), the purchases of one contact and
    amount (a group) meet no other's; and a group's purchases after a gap longer than the
    window meet none before it: each run between such gaps (a stretch) is decided alone.
    A stretch of one system merges nothing; one whose systems are all distinct and which
    lies within one window is one sale. The others (a system twice among several, a
    contact's two currencies converted) are taken one by one (`_joined`)."""
    keep = np.ones(len(who), dtype=bool)
    if rfm.same_sale_days is None or len(who) < 2 or _alike(systems):
        return keep
    window = rfm.same_sale_days * _DAY
    named, currency = _ranks(systems), _ranks(codes)
    cents = np.round(amounts * 100)
    known = np.flatnonzero(np.isfinite(cents))  # an amount unknown agrees with none
    order = known[np.lexsort((named[known], at[known], cents[known], who[known]))]
    w, m, t, s, c = who[order], cents[order], at[order], named[order], currency[order]
    count = len(order)
    if count < 2:
        return keep
    group = np.ones(count, dtype=bool)
    group[1:] = (w[1:] != w[:-1]) | (m[1:] != m[:-1])
    stretch = group.copy()
    stretch[1:] |= t[1:] - t[:-1] > window
    starts = np.flatnonzero(stretch)
    ids = np.cumsum(stretch) - 1
    size = np.diff(np.append(starts, count))
    span = t[np.append(starts[1:], count) - 1] - t[starts]
    by_system = np.lexsort((s, ids))
    seen = np.ones(count, dtype=bool)  # a stretch's first purchase of each system
    seen[1:] = (ids[by_system][1:] != ids[by_system][:-1]) | (s[by_system][1:] != s[by_system][:-1])
    held = np.bincount(ids[by_system], weights=seen, minlength=len(starts))
    one_sale = (held > 1) & (held == size) & (span <= window)
    if rfm.currency is None:  # two named currencies never agree, none agrees with either
        high = np.maximum.reduceat(c, starts)
        low = np.minimum.reduceat(np.where(c >= 0, c, high.max()), starts)
        one_sale &= (high < 0) | (low == high)
        decided = one_sale | (held == 1)
    else:  # a contact's purchases in two currencies may agree once converted, any amounts
        first = np.append(True, w[1:] != w[:-1])
        contact, firsts = np.cumsum(first) - 1, np.flatnonzero(first)
        several = np.minimum.reduceat(c, firsts) != np.maximum.reduceat(c, firsts)
        decided = (one_sale | (held == 1)) & ~several[contact[starts]]
        one_sale &= decided
    keep[order[one_sale[ids] & ~stretch]] = False
    rest = order[~decided[ids]]
    if len(rest):  # in the rule's order: contact, moment, amount, system
        rest = rest[np.lexsort((named[rest], cents[rest], at[rest], who[rest]))]
        _joined(rfm, rest, keep, who, at, cents, values, named, currency, window)
    return keep


def _joined(
    rfm: Rfm,
    rows: npt.NDArray[np.intp],
    keep: npt.NDArray[np.bool_],
    who: npt.NDArray[np.int32],
    at: FloatArray,
    cents: FloatArray,
    values: FloatArray,
    named: npt.NDArray[np.int64],
    currency: npt.NDArray[np.int64],
    window: float,
) -> None:
    """The purchases `rows` (by contact, then moment, amount and system) taken one by one:
    each joins the earliest open sale of its contact it agrees with (`keep` False), within
    the window of its first purchase and holding none of its system's, else starts one.
    `rows` hold every purchase any of them may be one sale with."""
    open_: list[tuple[int, set[int]]] = []  # a contact's sales: (first row, systems)
    contact = -1
    for row in rows.tolist():
        if who[row] != contact:
            contact, open_ = int(who[row]), []
        open_ = [sale for sale in open_ if at[row] - at[sale[0]] <= window]
        system = int(named[row])
        for first, held in open_:
            if system not in held and _agree(first, row, cents, values, currency, rfm):
                held.add(system)
                keep[row] = False
                break
        else:
            open_.append((row, {system}))


def _alike(texts: npt.NDArray[np.object_]) -> bool:
    """Whether every purchase names the same system (or none does): nothing to merge."""
    return bool(np.equal(texts, texts[0]).all()) if texts[0] is not None else not any(texts)


def _ranks(texts: npt.NDArray[np.object_]) -> npt.NDArray[np.int64]:
    """Each text's place among the distinct ones in sorted order (None: -1): codes that
    order the same whichever reading of the purchases made them."""
    if _alike(texts):
        return np.full(len(texts), 0 if texts[0] is not None else -1, dtype=np.int64)
    distinct = {t for t in set(texts.tolist()) if t is not None}
    place = {t: i for i, t in enumerate(sorted({str(t) for t in distinct}))}
    out = np.full(len(texts), -1, dtype=np.int64)
    for text in distinct:  # a few systems or currencies: a comparison per one
        out[texts == text] = place[str(text)]
    return out


def _agree(
    a: int,
    b: int,
    cents: FloatArray,
    values: FloatArray,
    currency: npt.NDArray[np.int64],
    rfm: Rfm,
) -> bool:
    """Whether two purchases' amounts are one sale's: in one currency, equal to the cent;
    in two, within 1% once turned into `rfm.currency` (never without one). Without
    `rfm.currency`, a purchase that names no currency (rank -1) is in any other's."""
    unnamed = rfm.currency is None and min(currency[a], currency[b]) < 0
    if currency[a] == currency[b] or unnamed:
        return bool(cents[a] == cents[b])  # NaN: an amount unknown agrees with none
    first, second = values[a], values[b]
    if rfm.currency is None or not (np.isfinite(first) and np.isfinite(second)):
        return False
    return bool(abs(first - second) <= _CONVERTED * max(abs(first), abs(second)))
