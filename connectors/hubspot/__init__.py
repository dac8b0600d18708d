"""HubSpot: contacts and their email, web and sales activity in; scores out as contact properties.

`client` wraps the SDK under the shared call policy; `pull` the streams and
`fetch`; `write` the batch updates; `setup` the properties; `records` turns
HubSpot's answers into `Contact` and `Activity` records; `limits` the rate
limits per tier; `settings` the `LEADSCORE_HUBSPOT__*` section; `system` the
registry entry; `connector` puts them together.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from connectors.hubspot.settings import HubSpotSettings
from connectors.hubspot.system import CAPABILITIES, HUBSPOT_SYSTEM

if TYPE_CHECKING:
    from connectors.hubspot.connector import HubSpotConnector
    from connectors.hubspot.limits import hubspot_daily_budget, hubspot_limits

_HOMES = {
    "HubSpotConnector": "connectors.hubspot.connector",
    "hubspot_daily_budget": "connectors.hubspot.limits",
    "hubspot_limits": "connectors.hubspot.limits",
}
"""Names imported when first used: the registry reads the settings and capabilities of
this package, and only a connector being built loads the client and its SDK."""


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'connectors.hubspot' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)


__all__ = [
    "CAPABILITIES",
    "HUBSPOT_SYSTEM",
    "HubSpotConnector",
    "HubSpotSettings",
    "hubspot_daily_budget",
    "hubspot_limits",
]
