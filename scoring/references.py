"""Names one part of a rule set uses that another part does not declare: dimensions of
rules, stages and grades, and `bant_min` without BANT.

Apart from `scoring.rules` (the models), which calls it once a whole file is read; the
loader calls it on the raw parts of a file whose other parts are malformed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from scoring.rules import (
    IDENTIFIER,
    OUTPUT_COLUMNS,
    RESERVED_DIMENSIONS,
    Bant,
    Dimension,
    Grades,
    Rule,
    StageCondition,
    StageLadder,
)
from scoring.ruletypes import LocatedError


def reference_problems(
    dimensions: Mapping[str, Dimension] | None,
    rules: Sequence[tuple[int, Rule]],
    bant: Bant | None,
    stages: StageLadder | None,
    grades: Grades | None,
) -> list[LocatedError]:
    """Every name one part of a rule set uses that another part does not declare.

    `rules` are (index in the file, rule); `dimensions` None when they could not be
    read, which skips the checks against them, so a file whose other parts are
    malformed still has its cross-references reported.
    """
    problems: list[LocatedError] = []
    declared = list(dimensions or {})
    for name in declared:
        if not IDENTIFIER.match(name) or name in RESERVED_DIMENSIONS:
            problems.append(
                LocatedError(
                    ("dimensions", name), f"dimension name {name!r} must be lower_snake_case"
                )
            )
        elif name in OUTPUT_COLUMNS:
            problems.append(LocatedError(("dimensions", name), _taken("dimension name", name)))
    if dimensions is not None and not dimensions:
        problems.append(LocatedError(("dimensions",), "at least one dimension is needed"))
    seen: set[str] = set()
    for index, rule in rules:
        if rule.id in seen:
            problems.append(
                LocatedError(("rules", index, "id"), f"rule id {rule.id!r} appears twice")
            )
        seen.add(rule.id)
        if rule.id in OUTPUT_COLUMNS:
            problems.append(LocatedError(("rules", index, "id"), _taken("rule id", rule.id)))
        dimension = rule.dimension or rule.default_dimension()
        if dimensions is not None and dimension not in dimensions:
            field = "dimension" if rule.dimension else "id"
            problems.append(
                LocatedError(
                    ("rules", index, field),
                    f"rule {rule.id!r} adds to dimension {dimension!r}, which is not declared "
                    f"(declared: {', '.join(declared)})",
                )
            )
    if dimensions is not None and grades is not None and grades.dimension not in dimensions:
        problems.append(
            LocatedError(
                ("grades", "dimension"),
                f"grades use undeclared dimension {grades.dimension!r}",
            )
        )
    if stages is not None:
        for index, stage in enumerate(stages.ladder):
            if stage.when is not None:
                path = ("stages", "ladder", index, "when")
                problems += _stage_problems(path, stage.when, dimensions, bant)
    return problems


def _taken(what: str, name: str) -> str:
    return (
        f"{what} {name!r} is a column of the scores written out "
        f"({', '.join(sorted(OUTPUT_COLUMNS))}); choose another name"
    )


def _stage_problems(
    path: tuple[str | int, ...],
    condition: StageCondition,
    dimensions: Mapping[str, Dimension] | None,
    bant: Bant | None,
) -> list[LocatedError]:
    problems = []
    for key in condition.min:
        if dimensions is not None and key != "total" and key not in dimensions:
            problems.append(
                LocatedError(
                    (*path, "min", key),
                    f"unknown dimension {key!r} (declared: {', '.join(dimensions)}, total)",
                )
            )
    if condition.bant_min is not None and bant is None:
        problems.append(LocatedError((*path, "bant_min"), "`bant_min` needs a `bant` block"))
    for group in ("any", "all"):
        for index, child in enumerate(getattr(condition, group) or []):
            problems += _stage_problems((*path, group, index), child, dimensions, bant)
    return problems
