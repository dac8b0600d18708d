"""Score velocity: how far a contact's total moved over the last N days.

The velocity over `days` is the total scored now minus the score in force `days` before
the scoring moment; a contact with no score then has none (NaN). The engine never looks
history up itself: the caller passes, per window, the score each contact had then
(`PastScores`, from the store's history), so a batch of one scores as a batch of many.
A rule file uses velocity in stage conditions (`velocity: {days: 14, min: 20}`) and, with
a `velocity` block, as a bucket (heating up, steady, cooling) that may be written back.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from scoring.errors import InputError
from scoring.frames import BoolArray, FloatArray
from scoring.velocity_rules import VelocityCondition

PastScores = Mapping[float, FloatArray]
"""Per window in days, the score each contact row had that many days before its scoring
moment (NaN: no score then)."""


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
