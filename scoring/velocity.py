"""Score velocity: how far a contact's total moved over the last N days.

The velocity over `days` is the total scored now minus the score in force `days` before
the scoring moment; a contact with no score then has none (NaN). The engine never looks
history up itself: the caller passes, per window, the score each contact had then
(`PastScores`, from the store's history), so a batch of one scores as a batch of many.
A rule file uses velocity in stage conditions (`velocity: {days: 14, min: 20}`) and, with
a `velocity` block, as a bucket (heating up, steady, cooling) that may be written back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Self

import numpy as np
from pydantic import Field, model_validator

from scoring.errors import InputError
from scoring.frames import BoolArray, FloatArray
from scoring.ruletypes import Amount, Days, Strict

PastScores = Mapping[float, FloatArray]
"""Per window in days, the score each contact row had that many days before its scoring
moment (NaN: no score then)."""

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


def velocity(total: FloatArray, past: PastScores | None, days: float) -> FloatArray:
    """Per contact, `total` minus its score `days` before (NaN where none is known)."""
    then = None if past is None else past.get(days)
    if then is None:
        return np.full(len(total), np.nan)
    return total - then


def moved_within(moved: FloatArray, condition: VelocityCondition) -> BoolArray:
    """Contacts whose velocity meets the condition (none without a velocity)."""
    known = ~np.isnan(moved)
    out = known.copy()
    if condition.min is not None:
        out[known] &= moved[known] >= condition.min
    if condition.max is not None:
        out[known] &= moved[known] <= condition.max
    return out


def velocity_bucket(moved: float, buckets: VelocityBuckets) -> str | None:
    """One contact's velocity as a bucket; None without a velocity."""
    if np.isnan(moved):
        return None
    if moved >= buckets.heating:
        return HEATING
    return COOLING if moved <= buckets.cooling else STEADY


def check_past(past: PastScores | None, contacts: int) -> None:
    """Raise `InputError` unless every window holds one score (or NaN) per contact; a
    window the rules use may be missing (nobody then has a velocity over it)."""
    if past is None:
        return
    for days, then in past.items():
        if np.shape(then) != (contacts,):
            raise InputError(
                f"past scores for {days:g} days: {np.size(then)} given for {contacts} "
                "contacts; one per contact (NaN: none)"
            )


def windows(
    conditions: Iterable[VelocityCondition], buckets: VelocityBuckets | None
) -> list[float]:
    """The windows (days) a rule set's velocity conditions and bucket need, sorted."""
    days = {c.days for c in conditions}
    if buckets is not None:
        days.add(buckets.days)
    return sorted(days)


def past_from(
    rows: Mapping[float, Mapping[int, float]], order: Iterable[int]
) -> dict[float, FloatArray]:
    """Past scores (`PastScores`) from, per window, a mapping of contact key -> score then,
    in the contacts' `order` (a contact missing from a window: NaN)."""
    keys = list(order)
    return {
        days: np.fromiter((found.get(k, np.nan) for k in keys), np.float64, len(keys))
        for days, found in rows.items()
    }
