"""The arrays a rule's hits keep (`scoring.explain.RuleHits`), from its points and counts
for every contact.

Over a population a few numpy passes per rule; for one contact (a webhook trigger scores
one person) the same arrays, read as Python values: each numpy call's fixed cost, not
the data, is then the time, and a rule set of thirty rules made it a third of a score.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from scoring.frames import FloatArray, IntArray

HitArrays = tuple[
    IntArray,
    npt.NDArray[np.integer[Any]],
    npt.NDArray[np.floating[Any]],
    FloatArray | None,
    FloatArray | None,
]
"""Rows, counts, points, held and measure, as `RuleHits` keeps them."""


def hit_arrays(
    points: FloatArray,
    counts: npt.NDArray[np.integer[Any]],
    held: FloatArray | None = None,
    measure: FloatArray | None = None,
) -> HitArrays:
    """The rows a rule matched (ascending), their counts in the narrowest of uint8, uint16
    and int32 that holds them, their points in float32 where that holds every value
    exactly (else float64), and `held` and `measure` at those rows; counts and points
    read as one value at every row (no memory) where all are equal."""
    if len(counts) == 1:
        return one_contact_hits(points, counts, held, measure)
    return every_contact_hits(points, counts, held, measure)


def every_contact_hits(
    points: FloatArray,
    counts: npt.NDArray[np.integer[Any]],
    held: FloatArray | None,
    measure: FloatArray | None,
) -> HitArrays:
    rows = np.flatnonzero(counts).astype(np.int32)
    kept = counts[rows]
    narrow = _narrowest(int(kept.max()) if kept.size else 0)
    values = points[rows]
    single = values.astype(np.float32)
    exact = bool((single == values).all())
    return (
        rows,
        one_if_same(kept.astype(narrow)),
        one_if_same(single if exact else values),
        None if held is None else held[rows],
        None if measure is None else measure[rows],
    )


def one_contact_hits(
    points: FloatArray,
    counts: npt.NDArray[np.integer[Any]],
    held: FloatArray | None,
    measure: FloatArray | None,
) -> HitArrays:
    """`every_contact_hits` for a single contact: the same arrays (dtypes, values and
    whether they can be written) with a few Python comparisons for its numpy passes."""
    count = int(counts[0])
    if count == 0:
        return (
            np.empty(0, np.int32),
            np.empty(0, np.uint8),
            np.empty(0, np.float32),
            None if held is None else np.empty(0, held.dtype),
            None if measure is None else np.empty(0, measure.dtype),
        )
    single = points.astype(np.float32)
    exact = bool(single[0] == points[0])
    return (
        np.zeros(1, np.int32),
        _one_kept(counts.astype(_narrowest(count))),
        _one_kept(single if exact else points.copy()),
        None if held is None else held.copy(),
        None if measure is None else measure.copy(),
    )


def _narrowest(most: int) -> type[np.integer[Any]]:
    return np.uint8 if most < 1 << 8 else np.uint16 if most < 1 << 16 else np.int32


def one_if_same(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """The values, or one of them read at every position (no memory) when all are equal,
    as a contact rule's counts and points are."""
    if values.size and (values == values[0]).all():
        return np.broadcast_to(values[:1], values.shape)
    return values


def _one_kept(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """`one_if_same` of a single value: read-only unless it is NaN (not the same as
    itself), without the broadcast's machinery."""
    if values[0] != values[0]:
        return values
    view = values.view()
    view.flags.writeable = False
    return view
