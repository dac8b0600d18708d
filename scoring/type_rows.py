"""Which activity types a small frame holds, so that the engine groups the types it lacks
without passes over it: a person scored alone (a webhook trigger) has a few activities of
a few types, and the rules read a dozen or more."""

from __future__ import annotations

from collections.abc import Container

import numpy as np
import numpy.typing as npt

from scoring.filters import ActivityGroup
from scoring.frames import ActivityFrame

LISTED = 4096
"""Up to this many activities the types present are listed; above, every type is taken
to be there (the group's own pass finds out, as listing them would)."""


def usable_type_codes(types: npt.NDArray[np.int8]) -> Container[int]:
    """The codes among `types` (-1: an activity that does not count), or every code for a
    frame of more than `LISTED` activities."""
    if len(types) > LISTED:
        return range(-128, 128)
    return frozenset(types.tolist())


def empty_group(acts: ActivityFrame) -> ActivityGroup:
    """The group of a type none of the frame's usable activities has: the empty arrays a
    pass over the frame would give (rows as `np.flatnonzero` gives them)."""
    return ActivityGroup(
        np.empty(0, dtype=np.intp),
        np.empty(0, dtype=acts.contact_rows.dtype),
        np.empty(0, dtype=acts.occurred_at.dtype),
    )
