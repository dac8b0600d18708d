"""The world's events as HubSpot saw them: those of its contacts, up to the world's `now`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sandbox.hubspot.values import Mask, Positions
from sandbox.world.tables import HUBSPOT, Floats, World
from scoring.records import TYPE_CODES, ActivityType


@dataclass(frozen=True)
class ContactEvents:
    """The world's events that happened to HubSpot contacts by the world's `now`."""

    row: Positions
    """The contact's row (id - 1)."""
    code: npt.NDArray[np.int8]
    at: Floats
    """Epoch milliseconds."""
    index: Positions
    """Index into `World.events`."""

    def of(self, kinds: Iterable[ActivityType]) -> Mask:
        return np.isin(self.code, [TYPE_CODES[k] for k in kinds])


def contact_events(world: World, row_of: Positions) -> ContactEvents:
    """The events of the people at contact rows `row_of` (-1: not a contact), by `now`."""
    events = world.events
    rows = row_of[events.person] if len(events) else np.zeros(0, dtype=np.intp)
    # email events of campaigns another tool sent are that tool's to report
    sender = np.append(world.campaigns.system, np.uint8(HUBSPOT))[events.campaign]
    index = np.flatnonzero((rows >= 0) & (events.at <= world.now) & ((sender & HUBSPOT) > 0))
    return ContactEvents(rows[index], events.type[index], events.at[index] * 1000.0, index)
