"""Sales capacity in the rule file: how many leads the hand-over stage takes per week.

    capacity: {stage: Sales qualified, per_week: 50, by: owner}

The hand-over stage (`stage`, else the ladder's first `owner: sales` stage) goes to the
best-scored eligible leads up to `per_week` per ISO week (from Monday 00:00 in the
IANA time zone `timezone`, default UTC), counted per
value of the contact field `by` when given; the others wait one stage below it, in order
of score, then of the moment they became eligible. Who waits and who was handed over is
population-level: the sync decides it from the store (`sync.capacity`), never the engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from scoring.ruletypes import LocatedError, Strict

if TYPE_CHECKING:
    from scoring.rules import StageLadder


class Capacity(Strict):
    """How many leads sales takes per week at the hand-over stage."""

    stage: str | None = Field(
        None, description="The hand-over stage; default: the ladder's first `owner: sales` stage."
    )
    per_week: int = Field(ge=1, description="Leads handed over per week (per `by` value).")
    by: str | None = Field(
        None,
        min_length=1,
        description="Contact field (an owner or team) whose each value has its own `per_week`.",
    )
    timezone: str | None = Field(
        None,
        min_length=1,
        description="IANA time zone (Europe/Paris) whose Monday 00:00 starts each week; "
        "default UTC.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}: an IANA name such as Europe/Paris or UTC"
            ) from None
        return value

    def stage_index(self, stages: StageLadder) -> int:
        """The hand-over stage's place on the ladder (validated: found, not the floor)."""
        found = handover_problem(self, stages)
        if isinstance(found, LocatedError):
            raise found
        return found


def handover_problem(capacity: Capacity, stages: StageLadder | None) -> int | LocatedError:
    """The hand-over stage's index on the ladder, or the problem that leaves it without one."""
    if stages is None:
        return LocatedError(("capacity",), "`capacity` needs a `stages` ladder to hand over on")
    names = [stage.name.casefold() for stage in stages.ladder]
    if capacity.stage is not None:
        if capacity.stage.casefold() not in names:
            known = ", ".join(stage.name for stage in stages.ladder)
            return LocatedError(
                ("capacity", "stage"), f"no stage {capacity.stage!r} on the ladder ({known})"
            )
        index = names.index(capacity.stage.casefold())
    else:
        owned = [i for i, stage in enumerate(stages.ladder) if stage.owner == "sales"]
        if not owned:
            return LocatedError(
                ("capacity",), "no `owner: sales` stage on the ladder: name the hand-over `stage`"
            )
        index = owned[0]
    if index == 0:
        return LocatedError(
            ("capacity", "stage"),
            "the hand-over stage cannot be the ladder's floor: waiting leads sit below it",
        )
    return index
