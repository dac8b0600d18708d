"""Conditions by value, as keys: rules that repeat conditions share what they evaluate."""

from __future__ import annotations

from scoring.conditions import Conditions
from scoring.records import ActivityType


def where_key(
    conditions: Conditions, types: list[ActivityType]
) -> tuple[str, frozenset[ActivityType]]:
    """Conditions on activities of some types, by value (rules may repeat them)."""
    return conditions_key(conditions), frozenset(types)


_KEYS: dict[int, tuple[Conditions, str]] = {}
"""Conditions of loaded rules -> their key, kept with them so an id reused is told apart:
a trigger scores one person, and writing out every rule's conditions on each score
was a sixth of its time."""
KEYS_KEPT = 4096


def conditions_key(conditions: Conditions) -> str:
    """Conditions by value (rules may repeat them), worked out once per rule's conditions."""
    kept = _KEYS.get(id(conditions))
    if kept is not None and kept[0] is conditions:
        return kept[1]
    key = repr(list(conditions.items()))
    if len(_KEYS) < KEYS_KEPT:
        _KEYS[id(conditions)] = (conditions, key)
    return key
