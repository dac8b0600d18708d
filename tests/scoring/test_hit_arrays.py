"""One contact's rule hits, read as Python values, are the arrays the numpy passes give."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from scoring.hit_arrays import every_contact_hits, one_contact_hits

POINTS = st.one_of(
    st.sampled_from([0.0, 5.0, -15.0, 12.5, 0.1, 1e308, -1e-320, np.inf, np.nan]),
    st.floats(allow_nan=True, allow_infinity=True),
)
COUNTS = st.sampled_from([np.uint8, np.int64, np.intp])


@given(
    POINTS,
    st.integers(0, 70_000),
    COUNTS,
    st.one_of(st.none(), st.floats(allow_nan=True)),
    st.one_of(st.none(), st.floats(allow_nan=True)),
)
def test_one_contacts_hits_are_the_general_paths(
    point: float, count: int, kind: type, held: float | None, measure: float | None
) -> None:
    if kind is np.uint8:
        count = min(count, 1)  # a contact rule's counts: its mask viewed as uint8
    points = np.array([point])
    counts = np.array([count], dtype=kind)
    helds = None if held is None else np.array([held])
    measures = None if measure is None else np.array([measure])
    with np.errstate(over="ignore"):  # a float64 beyond float32's range, on either path
        fast = one_contact_hits(points.copy(), counts.copy(), helds, measures)
        general = every_contact_hits(points.copy(), counts.copy(), helds, measures)
    for mine, theirs in zip(fast, general, strict=True):
        if theirs is None:
            assert mine is None
            continue
        assert mine is not None
        assert mine.dtype == theirs.dtype
        assert mine.shape == theirs.shape
        assert mine.flags.writeable == theirs.flags.writeable
        assert mine.tobytes() == theirs.tobytes()


def test_a_contact_rule_matched_keeps_one_read_only_point() -> None:
    rows, counts, points, held, measure = one_contact_hits(
        np.array([20.0]), np.array([True]).view(np.uint8), None, None
    )
    assert rows.tolist() == [0] and counts.tolist() == [1] and points.tolist() == [20.0]
    assert points.dtype == np.float32 and not points.flags.writeable
    assert held is None and measure is None
