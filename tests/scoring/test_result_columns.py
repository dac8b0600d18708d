"""A batch's results as columns (`ScoreBatch.columns`): the values `row` gives, the reasons
`reasons_text` writes, for every contact at once."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.world import generate_world
from sandbox.world.columns import world_columns
from scoring import (
    ActivityFrame,
    ContactFrame,
    entry_order,
    load_rules,
    parse_rules,
    reasons,
    score,
    score_population,
)
from scoring.entry_order import largest_first
from scoring.reasons import exact_round

ROOT = Path(__file__).parents[2]
RULE_FILES = [
    ROOT / "scoring" / "rulesets" / "default.yaml",
    ROOT / "bench" / "rules_realistic.yaml",
    ROOT / "examples" / "thibault.yaml",
    ROOT / "examples" / "seven_stages.yaml",
    ROOT / "examples" / "three_dimensions.yaml",
]


def world_batch(rules, people: int, seed: int):
    world = generate_world(people, seed=seed, days=120)
    c = world_columns(world)
    contacts = ContactFrame.from_arrays(c.ids, c.emails, c.people)
    activities = ActivityFrame.from_arrays(c.person, c.type, c.at, c.events)
    # RFM's bounds and account roll-ups over the world's people, as `leadscore score` does
    batch, _ = score_population(rules, contacts, activities, datetime.fromtimestamp(world.now, UTC))
    return batch


def assert_columns_are_the_rows(batch) -> None:
    columns = batch.columns(ranked=True)
    rows = list(batch.rows(ranked=True))
    assert list(columns) == list(rows[0]) if rows else True
    for name, column in columns.items():
        if isinstance(column, tuple):
            codes, categories = column
            values = [None if c < 0 else categories[c] for c in codes.tolist()]
        elif hasattr(column, "tolist") and not isinstance(column, np.ndarray):
            values = column.tolist()
        else:
            values = column.tolist()
        assert values == [row[name] for row in rows], name


@pytest.mark.parametrize("path", RULE_FILES, ids=lambda p: p.stem)
def test_columns_hold_what_rows_give_for_every_rule_file(path: Path) -> None:
    assert_columns_are_the_rows(world_batch(load_rules(path), 300, seed=3))


@settings(max_examples=25, deadline=None)
@given(
    st.integers(0, 10_000),
    st.sampled_from(RULE_FILES),
    st.floats(-40, 40).filter(lambda x: x != 0),
    st.floats(0.5, 60),
)
def test_reasons_of_a_whole_batch_are_each_contacts_reasons(seed, path, points, cap) -> None:
    text = path.read_text("utf-8")
    # an extra rule with odd points and a cap near them: halves, caps and decay in play
    extra = (
        f"\n  - {{id: odd, label: 'odd, \"quoted\" rule', activity: page_view, "
        f"points: {points!r}, cap: {cap!r}, half_life_days: 7}}\n"
    )
    rules = parse_rules(text.replace("\nrules:\n", "\nrules:" + extra, 1), "x.yaml")
    assert_columns_are_the_rows(world_batch(rules, 120, seed=seed))


@pytest.mark.parametrize("hashed", [1, entry_order.HASHED])
@pytest.mark.parametrize("block", [7, 64])
@pytest.mark.parametrize("path", RULE_FILES[:3], ids=lambda p: p.stem)
def test_reasons_in_any_order_across_blocks_are_each_contacts(
    path: Path, block: int, hashed: int
) -> None:
    """Reasons made in blocks smaller than the batch, in the ranking's order, the frame's,
    a shuffled one and a part of one, are each contact's own (the distinct entries found
    by numpy's sort or Arrow's hashing); an order repeating a contact is refused."""
    batch = world_batch(load_rules(path), 300, seed=5)
    shuffled = np.random.default_rng(1).permutation(len(batch))
    orders = [batch.ranking(), np.arange(len(batch)), shuffled, shuffled[: len(batch) // 3]]
    with (
        mock.patch.object(reasons, "BLOCK", block),
        mock.patch.object(entry_order, "HASHED", hashed),
    ):
        for order in orders:
            expected = [batch.reasons_text(int(row)) for row in order]
            assert reasons.reasons_column(batch, order).tolist() == expected
        with pytest.raises(ValueError, match="repeats a row"):
            reasons.reasons_column(batch, np.array([0, 1, 1]))


def test_an_empty_batch_has_empty_columns() -> None:
    rules = load_rules(RULE_FILES[0])
    contacts = ContactFrame.from_columns([], [])
    activities = ActivityFrame.from_arrays(np.zeros(0, np.int32), np.zeros(0, np.int8), np.zeros(0))
    columns = score(rules, contacts, activities, datetime(2026, 1, 1, tzinfo=UTC)).columns()
    assert all(len(c[0]) == 0 if isinstance(c, tuple) else len(c) == 0 for c in columns.values())


@settings(max_examples=500)
@given(
    st.lists(
        st.one_of(
            st.floats(allow_nan=False, allow_infinity=False),
            st.integers(-(10**6), 10**6).map(lambda i: i / 200),
            st.integers(-(10**9), 10**9).map(lambda i: i / 1000 + 0.005),
        ),
        max_size=30,
    )
)
def test_exact_round_rounds_as_python_does(values: list[float]) -> None:
    assert exact_round(np.array(values, dtype=np.float64)).tolist() == [round(v, 2) for v in values]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 70_000),
            st.one_of(
                st.sampled_from([0.0, 1.5, 2.0, 3.25, 1e-9, 5e-324, np.inf, np.nan]),
                st.floats(min_value=0.0, allow_nan=False, allow_infinity=False),
            ),
        ),
        max_size=60,
    ),
)
def test_the_order_within_groups_is_lexsorts(entries: list[tuple[int, float]]) -> None:
    """`largest_first` (a stable sort by size's bits, then a radix sort by a narrow group)
    gives `np.lexsort`'s order by group and then by size from the largest, groups past 16
    bits included, NaN and infinity too."""
    groups = np.array(sorted(g for g, _ in entries), dtype=np.int64)
    sizes = np.array([k for _, k in entries], dtype=np.float64)
    assert largest_first(groups, sizes).tolist() == np.lexsort((-sizes, groups)).tolist()
    shuffled = np.array([g for g, _ in entries], dtype=np.int64)
    assert largest_first(shuffled, sizes).tolist() == np.lexsort((-sizes, shuffled)).tolist()


def test_sizes_that_differ_below_the_one_keys_cut_keep_their_order() -> None:
    """`largest_first` cuts sizes to their top bits for one sort key; two sizes of one
    group that differ only below the cut still come largest first."""
    base = 3.0
    near = [base, np.nextafter(base, 4.0), np.nextafter(np.nextafter(base, 4.0), 4.0)]
    groups = np.array([0, 0, 0, 1, 1, 1], dtype=np.int64)
    sizes = np.array([*near, *near[::-1]], dtype=np.float64)
    assert largest_first(groups, sizes).tolist() == np.lexsort((-sizes, groups)).tolist()
    ties = np.array([2.5, 2.5, 1.0, 2.5], dtype=np.float64)  # equal sizes: first stays first
    assert largest_first(np.zeros(4, np.int64), ties).tolist() == [0, 1, 3, 2]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(-5, 40), min_size=1, max_size=80), st.integers(1, 6))
def test_distinct_entries_by_hashing_are_numbered_as_first_seen(
    keys: list[int], width: int
) -> None:
    """`distinct_entries` on many entries (Arrow's hashing, `_first_seen`): each distinct
    row once, numbered in the order of its first entry, which `first` names."""
    column = np.array(keys, dtype=np.int64)
    parts = [column, column % width, np.zeros(len(column), np.int64)]
    with mock.patch.object(entry_order, "HASHED", 1):
        first, numbers = entry_order.distinct_entries(parts)
    seen: dict[int, int] = {}
    for at, key in enumerate(keys):
        seen.setdefault(key, at)
    assert first.tolist() == sorted(seen.values())
    assert [keys[int(first[n])] for n in numbers] == keys
