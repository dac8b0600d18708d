"""Compact JSON with sorted keys, as the store keeps written values and attributes.

The write phase's recorder encodes every record a batch wrote (`written.values`),
some ten text fields each, with the same keys record after record: the keys'
order and their encoded names are worked out once per set of keys, and each
value encoded as `json.dumps` would (`encode_basestring_ascii`). Anything else
(a value that is not text) goes to the standard encoder, which gives the same
text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from json.encoder import encode_basestring_ascii as quoted
from typing import Any

_ENCODER = json.JSONEncoder(sort_keys=True, default=str, separators=(",", ":"))
_ORDERS: dict[tuple[Any, ...], list[tuple[Any, str]]] = {}
"""Per set of keys (in the order a mapping holds them): the keys sorted, each with its
encoded name and colon."""
MOST_ORDERS = 1024


def dumps(value: Mapping[str, Any]) -> str:
    """`value` as compact JSON with sorted keys: a mapping of text to text (written values,
    most attributes) encoded here as the encoder would, without its set-up; else by it."""
    keys = tuple(value)
    order = _ORDERS.get(keys)
    if order is None and len(_ORDERS) < MOST_ORDERS and all(type(k) is str for k in keys):
        order = _ORDERS[keys] = [(k, quoted(k) + ":") for k in sorted(keys)]
    if order is not None:
        try:  # a value that is not text is refused by `quoted`: the encoder's then
            return "{" + ",".join([name + quoted(value[k]) for k, name in order]) + "}"
        except TypeError:
            pass
    return _ENCODER.encode(value)
