"""The k-th smallest value of many multisets at once, each a stretch of one sequence of
insertions and removals: a wavelet matrix with weights, on whole columns.

A population's values move with time (a contact's purchases, its engagement): each
change is a removal of the old value (weight -1) and an insertion of the new (+1), laid
out in time order. The values alive at a moment are then the weighted sum of a prefix of
that sequence (or, per account, of a stretch from the account's first change), and the
k-th smallest of them is found for every query at once in one descent per bit of the
values: a few numpy passes per bit, never a loop per query or per change.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Whole = npt.NDArray[np.int64]
"""Whole numbers: codes, places, weights and counts."""


@dataclass(frozen=True, eq=False)
class _Level:
    zeros: Whole
    """How many of the first i entries have this bit 0, for i = 0 .. n."""
    weight: Whole
    """The summed weights of those entries."""
    total: int
    """How many entries have the bit 0 (they come first at the next level)."""


def kth_smallest(codes: Whole, weights: Whole, starts: Whole, ends: Whole, k: Whole) -> Whole:
    """For each query, the k-th smallest (0-based) of the codes in `codes[start:end]`, each
    counted its summed weight there.

    Whole are whole numbers from 0 up; a removal in a stretch must follow its insertion in
    it, so no code is counted below 0. `k` must be below the stretch's count; a query
    beyond it gets a code of no meaning.
    """
    codes = np.asarray(codes, dtype=np.int64)
    top = int(codes.max()) if codes.size else 0
    bits = max(1, top.bit_length())
    levels: list[_Level] = []
    current, weighed = codes, np.asarray(weights, dtype=np.int64)
    for bit in range(bits - 1, -1, -1):
        zero = ((current >> bit) & 1) == 0
        zeros = np.concatenate(([0], np.cumsum(zero, dtype=np.int64)))
        weight = np.concatenate(([0], np.cumsum(np.where(zero, weighed, 0), dtype=np.int64)))
        levels.append(_Level(zeros, weight, int(zeros[-1])))
        order = np.concatenate((np.flatnonzero(zero), np.flatnonzero(~zero)))  # stable
        current, weighed = current[order], weighed[order]
    start, end = np.asarray(starts, np.int64), np.asarray(ends, np.int64)
    left = np.asarray(k, dtype=np.int64).copy()
    found = np.zeros(len(left), dtype=np.int64)
    for bit, level in zip(range(bits - 1, -1, -1), levels, strict=True):
        below = level.weight[end] - level.weight[start]
        up = left >= below
        left = np.where(up, left - below, left)
        found |= up.astype(np.int64) << bit
        start = np.where(up, level.total + start - level.zeros[start], level.zeros[start])
        end = np.where(up, level.total + end - level.zeros[end], level.zeros[end])
    return found
