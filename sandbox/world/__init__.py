"""The synthetic B2B world the emulators serve: its tables, and the seeded generator.

`tables` holds the columnar `World` and the `WorldBuilder` for small hand-made
worlds; `generate` puts the generator's parts together: `vocabulary` (industries,
roles, names, pages, campaign kinds), `population` (who is in the world and
their hidden traits), `activity` (the event log, the site, what people do off
email), `sales` (the sales process) and `mailing` (campaign email).
"""

from __future__ import annotations

from sandbox.world.generate import generate_world
from sandbox.world.tables import HUBSPOT, MAILCHIMP, SALESFORCE, SYSTEM_BITS, World, WorldBuilder

__all__ = [
    "HUBSPOT",
    "MAILCHIMP",
    "SALESFORCE",
    "SYSTEM_BITS",
    "World",
    "WorldBuilder",
    "generate_world",
]
