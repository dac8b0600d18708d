"""The store's JSON text of values and attributes: the same as the standard encoder's."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from sync.schema import dumps


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
