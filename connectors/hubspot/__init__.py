"""HubSpot: contacts and their email, web and sales activity in; scores out as contact properties.

`client` wraps the SDK under the shared call policy; `pull` the streams and
`fetch`; `write` the batch updates; `setup` the properties; `records` turns
HubSpot's answers into `Contact` and `Activity` records; `limits` the rate
limits per tier; `settings` the `LEADSCORE_HUBSPOT__*` section; `system` the
registry entry; `connector` puts them together.
"""

from __future__ import annotations

from connectors.hubspot.connector import HubSpotConnector
from connectors.hubspot.limits import hubspot_daily_budget, hubspot_limits
from connectors.hubspot.settings import HubSpotSettings
from connectors.hubspot.system import CAPABILITIES, HUBSPOT_SYSTEM

__all__ = [
    "CAPABILITIES",
    "HUBSPOT_SYSTEM",
    "HubSpotConnector",
    "HubSpotSettings",
    "hubspot_daily_budget",
    "hubspot_limits",
]
