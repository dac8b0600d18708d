"""The connectors a set of settings names, built lazily so each pays only for its own SDK."""

from __future__ import annotations

from collections.abc import Sequence

from connectors.policy import Clock
from connectors.protocol import Connector
from scoring import RuleSet
from sync.fields import FieldMap
from sync.settings import Settings
from sync.stages import StageMap


class NotConfigured(Exception):
    """No system has credentials: nothing to sync."""


def build_connectors(
    settings: Settings, rules: RuleSet, fields: FieldMap, clock: Clock | None = None
) -> list[Connector]:
    """One connector per system with credentials in `settings`, reading the fields they need."""
    found: list[Connector] = []
    hubspot = settings.hubspot
    if hubspot.access_token is not None:
        from connectors.hubspot import HubSpotConnector

        found.append(
            HubSpotConnector(
                hubspot.access_token.get_secret_value(),
                host=hubspot.host,
                tier=hubspot.tier,
                properties=fields.pulled(rules),
                clock=clock,
            )
        )
    if not found:
        raise NotConfigured(
            "no system is configured: set LEADSCORE_HUBSPOT__ACCESS_TOKEN (see .env.example), "
            "or run `leadscore demo` to try the local sandbox"
        )
    return found


def stage_maps_for(
    settings: Settings, rules: RuleSet, connectors: Sequence[Connector]
) -> list[StageMap]:
    """The configured forward-only stage mappings, checked against each system's own values.

    Reads each mapped system's lifecycle values (one call each); raises
    `StageMapError` naming the setting when a stage or value does not exist.
    """
    wanted = {"hubspot": (settings.hubspot.lifecycle_stages, "LEADSCORE_HUBSPOT__LIFECYCLE_STAGES")}
    maps = []
    for connector in connectors:
        mapping, setting = wanted.get(connector.system, ({}, ""))
        if not mapping or connector.stage_field is None:
            continue
        maps.append(
            StageMap.checked(
                rules,
                connector.system,
                connector.stage_field,
                mapping,
                connector.stage_values(),
                setting,
            )
        )
    return maps
