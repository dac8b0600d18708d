"""The systems leadscore knows: for each, its settings, its capabilities and how to build it.

The sync reads this list and never names a system: `Settings` gains one nested
section per entry (`LEADSCORE_<NAME>__...`), connectors are built from the
sections that are configured, and fields are named and shaped by each entry's
`Capabilities`. Adding a system is a package under `connectors/` and one line
in `SYSTEMS`.
"""

from __future__ import annotations

from connectors.hubspot.system import HUBSPOT_SYSTEM
from connectors.mailchimp.system import MAILCHIMP_SYSTEM
from connectors.salesforce.system import SALESFORCE_SYSTEM
from connectors.system import System

SYSTEMS: tuple[System, ...] = (HUBSPOT_SYSTEM, SALESFORCE_SYSTEM, MAILCHIMP_SYSTEM)


def system(name: str) -> System:
    """The registered system called `name`."""
    for entry in SYSTEMS:
        if entry.name == name:
            return entry
    known = ", ".join(e.name for e in SYSTEMS)
    raise KeyError(f"no system {name!r}; leadscore knows {known}")
