"""Salesforce in the registry: how its fields are named, what they hold, how it is built.

Custom field API names are letters, digits and single underscores, start with a
letter, do not end with an underscore, hold at most 40 characters, and end in
`__c` (Salesforce Help, "Custom Field Attributes"); ours read `Leadscore_Score__c`.
A Long Text Area takes up to 131,072 characters; ours are made with 32,768. Our
stage is a picklist, and the lifecycle field our stage may be mapped onto is the
Lead's `Status`. Records are updated by id, 200 to an sObject Collections call.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from connectors.protocol import Capabilities
from connectors.salesforce.attributes import SALESFORCE_ATTRIBUTES
from connectors.salesforce.settings import SalesforceSettings
from connectors.system import BuildOptions, System

if TYPE_CHECKING:
    from connectors.protocol import Connector


def custom_field_name(prefix: str, key: str) -> str:
    """`Leadscore_Score__c` of ("leadscore_", "score")."""
    words = [w for w in re.split(r"[^A-Za-z0-9]+", f"{prefix}{key}") if w]
    return "_".join(w[:1].upper() + w[1:] for w in words) + "__c"


SF_CAPABILITIES = Capabilities(
    system="salesforce",
    field_name=custom_field_name,
    name_pattern=r"[A-Za-z](?:_?[A-Za-z0-9])*__c",
    max_name_length=43,
    max_text_length=32_768,
    kinds=frozenset({"number", "enumeration", "text", "datetime", "boolean"}),
    stage_ordered=True,
    record_key="id",
    write_batch_size=200,
    lifecycle_field="Status",
)


def build_salesforce(settings: SalesforceSettings, options: BuildOptions) -> Connector:
    from connectors.salesforce.connector import SalesforceConnector

    return SalesforceConnector(
        settings,
        properties=options.properties,
        attributes=options.attributes,
        http=options.http,
        clock=options.pace,
        seed=options.seed,
    )


SALESFORCE_SYSTEM = System(
    "salesforce",
    "Salesforce",
    SalesforceSettings,
    SF_CAPABILITIES,
    build_salesforce,
    SALESFORCE_ATTRIBUTES,
)
