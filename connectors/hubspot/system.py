"""HubSpot in the registry: how its fields are named, what they hold, how it is built.

Property internal names are lower-case letters, digits and underscores,
starting with a letter (HubSpot's Properties API guide); we keep them to 100
characters. Text properties take up to 65,536 characters. Our stage is an
ordered dropdown, and HubSpot's own lifecycle field is `lifecyclestage`.
Records are updated by their id, 100 to a batch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from connectors.hubspot.attributes import HUBSPOT_ATTRIBUTES
from connectors.hubspot.settings import HubSpotSettings
from connectors.protocol import Capabilities
from connectors.system import BuildOptions, System

if TYPE_CHECKING:
    from connectors.protocol import Connector


def property_name(prefix: str, key: str) -> str:
    return f"{prefix}{key}".lower()


CAPABILITIES = Capabilities(
    system="hubspot",
    field_name=property_name,
    name_pattern=r"[a-z][a-z0-9_]*",
    max_name_length=100,
    max_text_length=65_536,
    kinds=frozenset({"number", "enumeration", "text", "datetime", "boolean"}),
    stage_ordered=True,
    record_key="id",
    write_batch_size=100,
    lifecycle_field="lifecyclestage",
)


def build(settings: HubSpotSettings, options: BuildOptions) -> Connector:
    from connectors.hubspot.connector import HubSpotConnector

    assert settings.access_token is not None  # only configured sections are built
    return HubSpotConnector(
        settings.access_token.get_secret_value(),
        host=settings.host,
        tier=settings.tier,
        budget_shares=(settings.budget_per_run, settings.budget_in_all),
        properties=options.properties,
        attributes=options.attributes,
        clock=options.pace,
        seed=options.seed,
    )


HUBSPOT_SYSTEM = System(
    "hubspot", "HubSpot", HubSpotSettings, CAPABILITIES, build, HUBSPOT_ATTRIBUTES
)
