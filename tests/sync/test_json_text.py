"""The store's compact JSON (`sync.json_text.dumps`) is the standard encoder's text."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from sync.json_text import dumps

TEXT = st.text(max_size=12)
VALUES = st.one_of(TEXT, st.none(), st.integers(), st.floats(allow_nan=False), st.booleans())


def standard(value: dict[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


@given(st.dictionaries(TEXT, TEXT, max_size=8))
def test_text_values_are_encoded_as_the_standard_encoder_does(value: dict[str, str]) -> None:
    assert dumps(value) == standard(value)
    assert dumps(dict(reversed(value.items()))) == standard(value)  # keys in another order


@given(st.dictionaries(TEXT, VALUES, max_size=8))
def test_other_values_go_to_the_standard_encoder(value: dict[str, Any]) -> None:
    assert dumps(value) == standard(value)


def test_the_same_keys_with_a_value_that_is_not_text_after_text_ones() -> None:
    keys = {"b": "2", "a": "1"}
    assert dumps(keys) == '{"a":"1","b":"2"}'
    assert dumps({"b": 2, "a": "1"}) == '{"a":"1","b":2}'  # the order kept, the value not text
