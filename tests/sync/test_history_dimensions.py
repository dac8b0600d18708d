"""The history's whole points per dimension, many rows at once, are `apportion`'s."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from scoring.explain import apportion, whole_points
from sync.history import whole_dimensions_of

# quarters and tenths: exact halves, ties between remainders, and values a float rounds
POINTS = st.one_of(
    st.integers(-400, 400).map(lambda n: n / 4),
    st.integers(-1000, 1000).map(lambda n: n / 10),
    st.floats(-100, 100, allow_nan=False),
)


@given(
    st.integers(0, 6).flatmap(
        lambda width: st.lists(st.lists(POINTS, min_size=width, max_size=width), max_size=8)
    ),
    st.lists(st.floats(-5, 5, allow_nan=False), min_size=8, max_size=8),
)
def test_every_row_is_apportioned_as_one_row_at_a_time(
    rows: list[list[float]], offsets: list[float]
) -> None:
    width = len(rows[0]) if rows else 0
    dimensions = np.array(rows, dtype=np.float64).reshape(len(rows), width)
    # the total is the dimensions' sum, or off it (capped, disqualified, a floor)
    total = dimensions.sum(axis=1) + np.array(offsets[: len(rows)])
    batch = cast(Any, SimpleNamespace(dimensions=dimensions, total=total))
    picked = list(range(len(rows)))[::-1]  # in any order
    expected = [
        apportion(dimensions[row].tolist(), whole_points(float(total[row]))) for row in picked
    ]
    assert whole_dimensions_of(batch, picked) == expected
