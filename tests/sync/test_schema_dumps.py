"""The store's JSON text of values and attributes: the same as the standard encoder's; an
activity's attributes split into its columns the same whether remembered or not."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sync.activity_rows import _split, split_attributes
from sync.json_text import dumps


def standard(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))


@given(st.dictionaries(st.text(), st.text()))
def test_text_values_are_encoded_as_the_standard_encoder_does(value: dict[str, str]) -> None:
    assert dumps(value) == standard(value)


@given(
    st.dictionaries(
        st.text(),
        st.one_of(st.none(), st.booleans(), st.integers(), st.text(), st.lists(st.text())),
    )
)
def test_other_values_go_through_the_standard_encoder(value: dict[str, Any]) -> None:
    assert dumps(value) == standard(value)


ALIKE = [0, 0.0, -0.0, False, 1, 1.0, True, None, Decimal("1.0"), Decimal("1.00"), "1"]
"""Values equal to another of them, or printed alike, but stored differently."""
VALUES = st.one_of(
    st.sampled_from(ALIKE), st.integers(), st.floats(), st.text(max_size=3), st.lists(st.none())
)
ATTRIBUTES = st.dictionaries(st.sampled_from(["url", "amount", "n"]), VALUES, max_size=2)


@settings(max_examples=300)  # an equal pair must meet in one run: 100 examples miss it
@given(st.lists(ATTRIBUTES, max_size=8))
def test_attributes_remembered_split_as_when_first_seen(batch: list[dict[str, Any]]) -> None:
    # equal values stored differently (0.0 and -0.0, 1 and True) never share a memo entry
    for attributes in batch + batch[::-1]:
        assert split_attributes(attributes) == _split(attributes)
        assert repr(split_attributes(attributes)) == repr(_split(attributes))
