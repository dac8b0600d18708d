"""The order and the distinct values of the entries of a block of reasons
(`scoring.reasons`): each contact's entries from the largest, and the distinct texts
they are written with, found without a Python step per entry."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

_Ints = npt.NDArray[np.int64]
_Floats = npt.NDArray[np.float64]


def largest_first(groups: _Ints, sizes: _Floats) -> _Ints:
    """`np.lexsort((-sizes, groups))`: the order by group, then by size from the largest,
    stably, for sizes of at least +0.0 (`abs`, `x - floor(x)`). A finite double's bits
    so, read as an integer, rise with it. Groups of 16 bits (a block's) and sizes cut to
    their top 48 bits make one integer key, which a stable sort puts in order at once:
    the entries come grouped already, so the sort finds long runs. Sizes that differ only
    below the cut are checked for afterwards; where two came out of order, the two sorts
    below are made instead."""
    if len(groups) and _one_key(groups, sizes):
        low = np.uint64(0x7FFF_FFFF_FFFF_FFFF)
        descending = (_TOP - (sizes.view(np.uint64) & low)) >> np.uint64(64 - _KEY_BITS)
        order = np.argsort((groups.astype(np.uint64) << np.uint64(_KEY_BITS)) | descending,
                           kind="stable")  # fmt: skip
        grouped, sized = groups[order], sizes[order]
        if not ((grouped[1:] == grouped[:-1]) & (sized[1:] > sized[:-1])).any():
            return order
    if np.isfinite(sizes).all():
        by_key = np.argsort(-sizes.view(np.int64), kind="stable")
    else:  # (NaN's bits are no size)
        by_key = np.argsort(-sizes, kind="stable")
    narrow = groups[by_key]
    if len(narrow) and int(narrow.max()) < 1 << 16 and int(narrow.min()) >= 0:
        narrow = narrow.astype(np.uint16)
    return by_key[np.argsort(narrow, kind="stable")]


_KEY_BITS = 48
"""The bits of a size kept in `largest_first`'s one key, below 16 of its group."""
_TOP = np.uint64(0x7FF0_0000_0000_0000)
"""The bits of +infinity: those of every finite size of at least 0 are below."""


def _one_key(groups: _Ints, sizes: _Floats) -> bool:
    """Whether `largest_first` can sort by one key: groups of 16 bits, sizes finite and
    at least 0."""
    return (
        int(groups.min()) >= 0
        and int(groups.max()) < 1 << (64 - _KEY_BITS)
        and bool(np.isfinite(sizes).all())
        and bool((sizes >= 0).all())
    )


def distinct_entries(parts: list[_Ints]) -> tuple[_Ints, _Ints]:
    """Distinct rows of the columns `parts` (one length): the first entry of each, and
    each entry's distinct row (numbered in the order of their first entries where there
    are many entries, `_first_seen`; else in the order of their values)."""
    if not len(parts[0]):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    low = np.array([part.min() for part in parts], dtype=np.int64)
    spans = np.array([part.max() for part in parts], dtype=np.int64) - low + 1
    if float(np.prod(spans.astype(np.float64))) < 2.0**62:
        packed = np.zeros(len(parts[0]), dtype=np.int64)
        for k, part in enumerate(parts):
            packed = packed * spans[k] + (part - low[k])
        if len(packed) >= HASHED:
            return _first_seen(packed)
        _, first, inverse = np.unique(packed, return_index=True, return_inverse=True)
    else:
        keys = np.stack(parts, axis=1)
        _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    return first.astype(np.int64), inverse.reshape(-1).astype(np.int64)


HASHED = 1 << 14
"""Entries from which `distinct_entries` finds the distinct ones by Arrow's hashing, which
takes a sixth of the time of numpy's sort (`np.unique`) at a block's 200,000 entries."""


def _first_seen(keys: _Ints) -> tuple[_Ints, _Ints]:
    """The distinct `keys` numbered in the order they first occur (Arrow's dictionary
    encoding): the first entry of each, and each entry's number. A number first occurs
    where the running largest number rises."""
    import pyarrow as pa
    import pyarrow.compute as pc

    numbers = pc.dictionary_encode(pa.array(keys)).indices.to_numpy().astype(np.int64)
    highest = np.maximum.accumulate(numbers)
    first = np.flatnonzero(np.concatenate(([True], highest[1:] > highest[:-1])))
    return first.astype(np.int64), numbers
