"""Score velocity in the rule file: the stage condition, the bucket block and the buckets.

Kept apart from `scoring.velocity` (the arrays) so that reading a rule file never loads
numpy."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Self

from pydantic import Field, model_validator

from scoring.ruletypes import Amount, Days, Strict

HEATING, STEADY, COOLING = "heating up", "steady", "cooling"
VELOCITY_BUCKETS = (HEATING, STEADY, COOLING)


class VelocityCondition(Strict):
    """A stage condition on how far the total moved over the last `days` days."""

    days: Days = Field(description="The window: the total now against the total then.")
    min: Amount | None = Field(None, description="The total rose by at least this many points.")
    max: Amount | None = Field(None, description="The total rose by at most this (or fell).")

    @model_validator(mode="after")
    def _bounded(self) -> Self:
        if self.min is None and self.max is None:
            raise ValueError("`velocity` needs `min`, `max` or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"`velocity`: min {self.min:g} is above max {self.max:g}")
        return self


class VelocityBuckets(Strict):
    """How velocity is bucketed for people to read (and, with `write`, written back)."""

    days: Days = Field(14, description="The window the bucket is measured over.")
    heating: Amount = Field(gt=0, description="A rise of at least this many points: heating up.")
    cooling: Amount = Field(lt=0, description="A fall of at least this (negative): cooling.")
    write: bool = Field(False, description="Write the bucket back to the CRMs (a field).")


def velocity_bucket(moved: float, buckets: VelocityBuckets) -> str | None:
    """One contact's velocity as a bucket; None without a velocity."""
    if math.isnan(moved):
        return None
    if moved >= buckets.heating:
        return HEATING
    return COOLING if moved <= buckets.cooling else STEADY


def windows(
    conditions: Iterable[VelocityCondition], buckets: VelocityBuckets | None
) -> list[float]:
    """The windows (days) a rule set's velocity conditions and bucket need, sorted."""
    days = {c.days for c in conditions}
    if buckets is not None:
        days.add(buckets.days)
    return sorted(days)
