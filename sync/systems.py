"""The connectors a set of settings names, built lazily so each pays only for its own SDK."""

from __future__ import annotations

from connectors.policy import Clock
from connectors.protocol import Connector
from scoring import RuleSet
from sync.settings import Settings


class NotConfigured(Exception):
    """No system has credentials: nothing to sync."""


def build_connectors(
    settings: Settings, rules: RuleSet, clock: Clock | None = None
) -> list[Connector]:
    """One connector per system with credentials in `settings`."""
    found: list[Connector] = []
    hubspot = settings.hubspot
    if hubspot.access_token is not None:
        from connectors.hubspot import HubSpotConnector

        found.append(
            HubSpotConnector(
                hubspot.access_token.get_secret_value(),
                host=hubspot.host,
                tier=hubspot.tier,
                properties=rules.contact_fields(),
                clock=clock,
            )
        )
    if not found:
        raise NotConfigured(
            "no system is configured: set LEADSCORE_HUBSPOT__ACCESS_TOKEN (see .env.example), "
            "or run `leadscore demo` to try the local sandbox"
        )
    return found
