"""The sandbox's world as the scoring engine's input, for tests that score a generated world."""

from __future__ import annotations

from sandbox.world.columns import world_columns
from sandbox.world.tables import World
from scoring.frames import ActivityFrame, ContactFrame


def world_frames(world: World) -> tuple[ContactFrame, ActivityFrame]:
    """The world as the scoring engine's input: contact row i is person i."""
    c = world_columns(world)
    contacts = ContactFrame.from_arrays(c.ids, c.emails, c.people)
    return contacts, ActivityFrame.from_arrays(c.person, c.type, c.at, c.events)
