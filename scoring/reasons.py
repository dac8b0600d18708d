"""The reasons of a whole batch at once, as one packed column of text.

`ScoreBatch.reasons_text(row)` is the definition; `reasons_column` gives the same text
for every contact of a batch without a Python loop over contacts:

1. every (contact, rule) that fired and every dimension limit that bit is an entry,
   with its points, count and label;
2. one sort puts each contact's entries in the order `ScoreBatch.reasons` gives
   (disqualifying rules, other rules, limits; larger points first), another
   apportions whole points by largest remainder (`explain.apportion`);
3. an entry's text depends on its label, whole points, shown count and note only, so
   each distinct one is written once by `Reason.describe`;
4. each contact's text is its entries' texts joined, copied into one buffer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from scoring.explain import SEPARATOR, Reason, number

if TYPE_CHECKING:
    from scoring.explain import ScoreBatch

_Ints = npt.NDArray[np.int64]
_Floats = npt.NDArray[np.float64]
_Bools = npt.NDArray[np.bool_]
_DISQUALIFIED = "DISQUALIFIED"


@dataclass(frozen=True, eq=False)
class PackedText:
    """Text per row as Arrow lays it out: row i is `data[offsets[i]:offsets[i + 1]]`, UTF-8."""

    offsets: _Ints
    data: bytes

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def value(self, row: int) -> str:
        return self.data[int(self.offsets[row]) : int(self.offsets[row + 1])].decode("utf-8")

    def tolist(self) -> list[str]:
        return [self.value(row) for row in range(len(self))]


@dataclass(frozen=True)
class _Entries:
    row: _Ints
    """Position of the contact in the output."""
    label: _Ints
    """Rule index; R + dimension for a cap, R + D + dimension for a floor."""
    points: _Floats
    count: _Ints
    group: _Ints
    """0 a disqualifying rule, 1 another rule, 2 a dimension's limit."""


def _entries(batch: ScoreBatch, position: _Ints) -> _Entries:
    rules = batch.rules.rules
    contact, slot = np.nonzero(batch.rule_counts)
    excess = batch.dimensions - batch.uncapped
    limited, dimension = np.nonzero(excess != 0.0)
    rule_count, dims = len(rules), batch.dimensions.shape[1]
    disqualifies = np.array([r.disqualify for r in rules] + [False], dtype=bool)
    extra = excess[limited, dimension]
    return _Entries(
        row=np.concatenate((position[contact], position[limited])),
        label=np.concatenate((slot, rule_count + dimension + np.where(extra > 0, dims, 0))).astype(
            np.int64
        ),
        points=np.concatenate((batch.rule_points[contact, slot], extra)),
        count=np.concatenate(
            (batch.rule_counts[contact, slot], np.ones(len(limited), np.int32))
        ).astype(np.int64),
        group=np.concatenate((np.where(disqualifies[slot], 0, 1), np.full(len(limited), 2))).astype(
            np.int64
        ),
    )


def _labels(batch: ScoreBatch) -> list[tuple[str, str, str, float, float | None, bool, bool]]:
    """Per label: rule id, label, dimension, points each, cap, disqualify, once."""
    facts = [
        (r.id, r.text, batch.rules.dimension_of(r), r.points, r.cap, r.disqualify, r.once)
        for r in batch.rules.rules
    ]
    for bound in ("capped at", "floored at"):
        for name, dim in batch.rules.dimensions.items():
            limit = dim.cap if bound == "capped at" else dim.floor
            text = f"{dim.label or name} {bound} {number(limit or 0)}"
            facts.append((f"{name}_limit", text, name, 0.0, None, False, False))
    return facts


def _isclose(a: _Floats, b: _Floats, rel: float, absolute: float) -> _Bools:
    """`math.isclose` elementwise (finite values)."""
    scale = np.maximum(rel * np.maximum(np.abs(a), np.abs(b)), absolute)
    return np.asarray((a == b) | (np.abs(a - b) <= scale), dtype=bool)


def reasons_column(batch: ScoreBatch, order: npt.NDArray[np.integer]) -> PackedText:
    """`batch.reasons_text(int(c))` for each contact c of `order`, in that order."""
    n = len(order)
    if n == 0:
        return PackedText(np.zeros(1, dtype=np.int64), b"")
    position = np.empty(len(batch), dtype=np.int64)
    position[np.asarray(order, dtype=np.int64)] = np.arange(n)
    e = _entries(batch, position)
    rank = np.lexsort((-np.abs(e.points), e.group, e.row))
    row, label, points, count = e.row[rank], e.label[rank], e.points[rank], e.count[rank]
    limit = e.group[rank] == 2
    # whole points by largest remainder, within each contact
    floors = np.floor(points)
    per_row = np.bincount(row, minlength=n)
    starts = np.concatenate(([0], np.cumsum(per_row)[:-1]))
    total = np.floor(batch.total[np.asarray(order)] + 0.5)
    missing = np.clip(total - np.bincount(row, weights=floors, minlength=n), 0, per_row)
    by_remainder = np.lexsort((floors - points, row))
    extra = np.zeros(len(row), dtype=bool)
    extra[by_remainder] = (np.arange(len(row)) - starts[row[by_remainder]]) < missing[
        row[by_remainder]
    ]
    whole = (floors + extra).astype(np.int64)
    # the distinct texts of entries
    facts = _labels(batch)
    each = np.array([f[3] for f in facts])
    cap = np.array([math.nan if f[4] is None else f[4] for f in facts])
    once = np.array([f[6] for f in facts], dtype=bool)[label]
    base = each[label] * np.where(once, 1, count)
    capped = ~limit & ~np.isnan(cap[label]) & _isclose(np.abs(points), cap[label], 1e-9, 0.0)
    decayed = ~limit & ~_isclose(points, base, 1e-9, 0.05)
    note = np.where(capped, 1, np.where(decayed & (whole != np.floor(base + 0.5)), 2, 0))
    shown = np.where(once | limit, 0, count)
    keys = np.stack((label, whole, shown, note), axis=1)
    first, inverse = _distinct_rows(keys)
    texts = []
    for at in first.tolist():
        rule_id, text, dimension, _, rule_cap, disqualify, is_once = facts[int(label[at])]
        reason = Reason(
            rule_id,
            text,
            dimension,
            float(points[at]),
            int(count[at]),
            float(base[at]),
            rule_cap if bool(capped[at]) else None,
            disqualify,
            limit=bool(limit[at]),
            once=is_once,
        )
        texts.append(reason.describe(int(whole[at])))
    return _joined(texts, inverse, row, per_row, batch.disqualified[np.asarray(order)], n)


_MIXERS = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x27D4EB2F165667C5)


def _distinct_rows(keys: _Ints) -> tuple[_Ints, _Ints]:
    """Distinct rows of `keys`: the first entry of each, and each entry's distinct row."""
    if not len(keys):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    mixed = np.zeros(len(keys), dtype=np.uint64)
    for column, factor in zip(keys.T, _MIXERS, strict=True):
        mixed = (mixed ^ column.astype(np.uint64)) * np.uint64(factor)
        mixed ^= mixed >> np.uint64(29)
    _, first, inverse = np.unique(mixed, return_index=True, return_inverse=True)
    if not np.array_equal(keys[first][inverse], keys):  # two keys share a hash
        _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    return first.astype(np.int64), inverse.reshape(-1).astype(np.int64)


def _joined(
    texts: list[str], inverse: _Ints, row: _Ints, per_row: _Ints, disqualified: _Bools, n: int
) -> PackedText:
    """Each row's texts joined by the separator, after DISQUALIFIED where it is."""
    count = len(texts)
    pieces = [t.encode() for t in texts] + [(SEPARATOR + t).encode() for t in texts]
    pieces.append(_DISQUALIFIED.encode())
    sizes = np.array([len(p) for p in pieces], dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(per_row)[:-1]))
    first_of_row = np.zeros(len(row), dtype=bool)
    first_of_row[starts[per_row > 0]] = True
    plain = first_of_row & ~disqualified[row]
    piece = np.where(plain, inverse, inverse + count)
    # a DISQUALIFIED piece opens each disqualified row, before its entries
    lead = disqualified.astype(np.int64)
    slots = per_row + lead
    slot_start = np.concatenate(([0], np.cumsum(slots)))
    sequence = np.empty(int(slot_start[-1]), dtype=np.int64)
    sequence[slot_start[:-1][disqualified]] = 2 * count
    sequence[slot_start[row] + lead[row] + (np.arange(len(row)) - starts[row])] = piece
    lengths = np.bincount(
        np.repeat(np.arange(n), slots), weights=sizes[sequence], minlength=n
    ).astype(np.int64)
    offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    data = b"".join(map(pieces.__getitem__, sequence.tolist()))
    return PackedText(offsets, data)


def exact_round(values: _Floats, digits: int = 2) -> _Floats:
    """`round(x, digits)` for each value, as Python rounds (the exact decimal value, half
    to even): numpy's scaled rounding, with Python's own for the values near a half."""
    scale = 10.0**digits
    with np.errstate(over="ignore", invalid="ignore"):
        scaled = values * scale
        rounded = np.round(scaled) / scale
        fraction = np.abs(scaled - np.floor(scaled) - 0.5)
        doubt = (fraction <= 4 * np.abs(np.spacing(scaled))) | ~(np.abs(scaled) < 2.0**51)
    if doubt.any():
        rows = np.flatnonzero(doubt)
        rounded[rows] = [round(v, digits) for v in values[rows].tolist()]
    return rounded
