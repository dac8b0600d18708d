"""Contact properties as HubSpot's properties API defines them: built-ins, options, groups."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sandbox.hubspot.errors import Invalid
from sandbox.hubspot.values import Json

LIFECYCLE_STAGES = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)
STAGE_LABELS = (
    "Subscriber",
    "Lead",
    "Marketing Qualified Lead",
    "Sales Qualified Lead",
    "Opportunity",
    "Customer",
    "Evangelist",
    "Other",
)
STAGE_RANK = {stage: rank for rank, stage in enumerate(LIFECYCLE_STAGES)}
EMPLOYEE_RANGES = ("1-5", "5-25", "25-50", "50-100", "100-500", "500-1000", "1000+")
EMPLOYEE_EDGES = (5, 25, 50, 100, 500, 1000)
DEFAULT_CONTACT_PROPERTIES = (
    "createdate",
    "email",
    "firstname",
    "hs_object_id",
    "lastmodifieddate",
    "lastname",
)
ALWAYS_RETURNED = ("createdate", "hs_object_id", "lastmodifieddate")
NUMERIC_TYPES = frozenset({"number", "datetime", "date", "bool"})
"""Data types a property stores as a float (times in epoch ms, booleans 0 and 1)."""
DATA_TYPES = frozenset({"string", "number", "date", "datetime", "enumeration", "bool"})
"""The values of a property's `type`: HubSpot's data types."""
FIELD_TYPES_OF_TYPE = {
    "bool": frozenset({"booleancheckbox", "calculation_equation"}),
    "enumeration": frozenset(
        {"booleancheckbox", "checkbox", "radio", "select", "calculation_equation"}
    ),
    "date": frozenset({"date"}),
    "datetime": frozenset({"date"}),
    "string": frozenset(
        {"file", "text", "textarea", "calculation_equation", "html", "phonenumber"}
    ),
    "number": frozenset({"number", "calculation_equation"}),
}
"""Each data type's valid `fieldType`s (how HubSpot's forms and UI show it), as the
properties guide lists them; v3 refuses any other pair since 2021-02-01."""
PROPERTY_NAME = re.compile(r"[a-z][a-z0-9_]*")
GROUPS = (
    ("contactinformation", "Contact information"),
    ("emailinformation", "Email information"),
    ("analyticsinformation", "Web analytics history"),
    ("conversioninformation", "Conversion information"),
)
"""The built-in contact property groups: (name, label)."""
BUILT_IN_AT = "2019-08-06T02:41:52.000Z"

# The built-in contact properties: name | label | type | group (+ "information") | ro = value
# read-only. HubSpot's field type follows from the type (lifecyclestage is a radio).
CONTACT_PROPERTY_TABLE = """
email                             | Email                           | string      | contact    | rw
firstname                         | First Name                      | string      | contact    | rw
lastname                          | Last Name                       | string      | contact    | rw
jobtitle                          | Job Title                       | string      | contact    | rw
company                           | Company Name                    | string      | contact    | rw
industry                          | Industry                        | string      | contact    | rw
country                           | Country/Region                  | string      | contact    | rw
numemployees                      | Number of Employees             | enumeration | contact    | rw
lifecyclestage                    | Lifecycle Stage                 | enumeration | contact    | rw
createdate                        | Create Date                     | datetime    | contact    | ro
lastmodifieddate                  | Last Modified Date              | datetime    | contact    | ro
hs_object_id                      | Record ID                       | number      | contact    | ro
hs_merged_object_ids              | Merged Record IDs               | string      | contact    | ro
associatedcompanyid               | Primary Associated Company ID   | number      | contact    | ro
hs_email_delivered                | Marketing emails delivered      | number      | email      | ro
hs_email_open                     | Marketing emails opened         | number      | email      | ro
hs_email_click                    | Marketing emails clicked        | number      | email      | ro
hs_email_bounce                   | Marketing emails bounced        | number      | email      | ro
hs_email_optout                   | Unsubscribed from all email     | bool        | email      | ro
hs_email_last_send_date           | Last marketing email send date  | datetime    | email      | ro
hs_email_last_open_date           | Last marketing email open date  | datetime    | email      | ro
hs_email_last_click_date          | Last marketing email click date | datetime    | email      | ro
hs_analytics_num_page_views       | Number of Pageviews             | number      | analytics  | ro
hs_analytics_num_visits           | Number of Sessions              | number      | analytics  | ro
hs_analytics_last_visit_timestamp | Time of last session            | datetime    | analytics  | ro
num_conversion_events             | Number of Form Submissions      | number      | conversion | ro
recent_conversion_date            | Recent Conversion Date          | datetime    | conversion | ro
recent_conversion_event_name      | Recent Conversion               | string      | conversion | ro
"""
FIELD_TYPE_OF = {
    "string": "text",
    "number": "number",
    "datetime": "date",
    "bool": "booleancheckbox",
    "enumeration": "select",
}


def property_definition(
    name: str,
    label: str,
    kind: str,
    field_type: str,
    group: str,
    *,
    read_only: bool = False,
    hubspot_defined: bool = True,
    options: Sequence[Json] = (),
    description: str = "",
    order: int = -1,
    at: str = BUILT_IN_AT,
) -> Json:
    """A property as the properties API returns it."""
    return {
        "name": name,
        "label": label,
        "type": kind,
        "fieldType": field_type,
        "description": description,
        "groupName": group,
        "options": [dict(option) for option in options],
        "displayOrder": order,
        "calculated": read_only and hubspot_defined,
        "externalOptions": False,
        "hasUniqueValue": False,
        "hidden": False,
        "hubspotDefined": hubspot_defined,
        "modificationMetadata": {
            "archivable": not hubspot_defined,
            "readOnlyDefinition": hubspot_defined,
            "readOnlyValue": read_only,
        },
        "formField": not read_only,
        "archived": False,
        "createdAt": at,
        "updatedAt": at,
    }


def option(value: str, label: str, order: int) -> Json:
    return {
        "label": label,
        "value": value,
        "displayOrder": order,
        "hidden": False,
        "description": "",
    }


def property_options(raw: Any) -> list[Json]:
    """The options of an enumeration as a create or update gives them, as stored."""
    if not isinstance(raw, list) or not all(isinstance(given, dict) for given in raw):
        raise Invalid("INVALID_OPTIONS", "options must be a list of objects")
    options = []
    for i, given in enumerate(raw):
        if given.get("value") in (None, "") or given.get("label") in (None, ""):
            raise Invalid("INVALID_OPTIONS", f"Option {i} needs a label and a value")
        order = given.get("displayOrder")
        entry = option(str(given["value"]), str(given["label"]), i if order is None else int(order))
        entry["hidden"] = bool(given.get("hidden", False))
        entry["description"] = str(given.get("description") or "")
        options.append(entry)
    values = [entry["value"] for entry in options]
    repeated = sorted({value for value in values if values.count(value) > 1})
    if repeated:
        raise Invalid("DUPLICATE_OPTIONS", f"Option values must be unique; repeated: {repeated}")
    return options


def built_in_definitions() -> list[Json]:
    options: dict[str, list[Json]] = {
        "lifecyclestage": [
            option(value, label, i)
            for i, (value, label) in enumerate(zip(LIFECYCLE_STAGES, STAGE_LABELS, strict=True))
        ],
        "numemployees": [option(value, value, i) for i, value in enumerate(EMPLOYEE_RANGES)],
    }
    rows = [line.split("|") for line in CONTACT_PROPERTY_TABLE.strip().splitlines()]
    definitions = []
    for order, (name, label, kind, group, access) in enumerate(rows):
        name, kind = name.strip(), kind.strip()
        field_type = "radio" if name == "lifecyclestage" else FIELD_TYPE_OF[kind]
        definition = property_definition(
            name,
            label.strip(),
            kind,
            field_type,
            f"{group.strip()}information",
            read_only=access.strip() == "ro",
            options=options.get(name, ()),
            order=order,
        )
        definitions.append(definition)
    return definitions
