"""Per rule of a rule set, the column of its dimension in the engine's arrays, worked out
once per (frozen) rule set: a trigger scores one person at a time with the same rules."""

from __future__ import annotations

from scoring.rules import RuleSet

_COLUMNS: dict[int, tuple[RuleSet, tuple[int, ...]]] = {}
COLUMNS_KEPT = 64


def dimension_columns(rules: RuleSet) -> tuple[int, ...]:
    """Each rule's dimension (`RuleSet.dimension_of`) as its index in `rules.dimensions`,
    in the order of the rules; kept with the rule set, so that an id reused is told apart."""
    kept = _COLUMNS.get(id(rules))
    if kept is not None and kept[0] is rules:
        return kept[1]
    names = list(rules.dimensions)
    found = tuple(names.index(rules.dimension_of(rule)) for rule in rules.rules)
    if len(_COLUMNS) >= COLUMNS_KEPT:  # rule sets come and go (shadow rules, a changed file)
        _COLUMNS.clear()
    _COLUMNS[id(rules)] = (rules, found)
    return found
