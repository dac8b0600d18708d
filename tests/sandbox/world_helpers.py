"""Questions the world tests ask of a generated world that the emulators never ask."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from sandbox.world import vocabulary as vocab
from sandbox.world.tables import Events
from scoring.records import TYPE_CODES, ActivityType


def of_type(events: Events, kind: ActivityType) -> npt.NDArray[np.intp]:
    """Positions of the events of one activity type, in time order."""
    return np.flatnonzero(events.type == TYPE_CODES[kind])


def campaign_system(name: str) -> int:
    """The system bit of the tool that sent a generated campaign, read from its name.

    Generated campaigns are named after their kind, and each kind is sent by one
    tool; `Campaigns.system` records the same bit for every campaign.
    """
    for kind in vocab.CAMPAIGN_KINDS:
        if name.startswith(kind.name + " "):
            return kind.system
    raise ValueError(f"not a generated campaign name: {name!r}")
