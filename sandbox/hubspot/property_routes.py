"""Routes for contact properties and property groups: list, read, create, update."""

from __future__ import annotations

from collections.abc import Mapping

from sandbox.http import Request, Response
from sandbox.hubspot.arguments import flag, int_value, request_body
from sandbox.hubspot.contact_table import ContactTable
from sandbox.hubspot.crm_objects import OBJECT_ALIASES
from sandbox.hubspot.errors import HubSpotError, Invalid
from sandbox.hubspot.properties import (
    DATA_TYPES,
    FIELD_TYPES_OF_TYPE,
    PROPERTY_NAME,
    property_definition,
    property_options,
)
from sandbox.hubspot.state import HubSpotState
from sandbox.hubspot.values import Json, iso_millis

REQUIRED_FIELDS = ("name", "label", "type", "fieldType", "groupName")


def check_new_property(body: Json, groups: Mapping[str, Json]) -> None:
    """HubSpot's 400 for a property create with a bad name, type, field type or group."""
    if not PROPERTY_NAME.fullmatch(str(body["name"])):
        raise HubSpotError(
            400, f"Invalid property name {body['name']}: use lower case, digits and _"
        )
    if body["type"] not in DATA_TYPES:
        raise HubSpotError(400, f"Invalid type {body['type']}; one of {sorted(DATA_TYPES)}")
    mismatch = field_type_mismatch(str(body["type"]), str(body["fieldType"]))
    if mismatch:
        raise HubSpotError(400, mismatch)
    if body["groupName"] not in groups:
        raise HubSpotError(400, f"Unable to find property group {body['groupName']}")


def field_type_mismatch(kind: str, field_type: str) -> str:
    """Why a property of data type `kind` cannot show as `field_type` ("" when it can)."""
    valid = FIELD_TYPES_OF_TYPE.get(kind, frozenset())
    if field_type in valid:
        return ""
    return f"Invalid fieldType {field_type} for a property of type {kind}; one of {sorted(valid)}"


def property_changes(definition: Json, body: Json, groups: Mapping[str, Json]) -> Json:
    """The fields of a property update as stored; `Invalid` for what we refuse."""
    changes: Json = {}
    for key in ("label", "description", "groupName", "fieldType"):
        if body.get(key) is not None:
            changes[key] = str(body[key])
    for key in ("hidden", "formField"):
        if body.get(key) is not None:
            changes[key] = bool(body[key])
    if body.get("displayOrder") is not None:
        changes["displayOrder"] = int_value(body["displayOrder"], "displayOrder", -1)
    if changes.get("label") == "":
        raise Invalid("INVALID_LABEL", "A property needs a label")
    if changes.get("groupName", definition["groupName"]) not in groups:
        raise Invalid("INVALID_GROUP", f"Unable to find property group {body['groupName']}")
    mismatch = field_type_mismatch(
        str(definition["type"]), str(changes.get("fieldType", definition["fieldType"]))
    )
    if mismatch:
        raise Invalid("INVALID_FIELD_TYPE", mismatch)
    kind = body.get("type")
    if kind is not None and kind != definition["type"]:
        raise Invalid(
            "INVALID_TYPE",
            f"The sandbox cannot change the type of {definition['name']} "
            f"from {definition['type']} to {kind}",
        )
    if body.get("options") is not None:
        if definition["type"] != "enumeration":
            raise Invalid(
                "INVALID_OPTIONS",
                f"{definition['name']} is a {definition['type']} property; "
                "only enumerations have options",
            )
        changes["options"] = property_options(body["options"])
    return changes


class PropertyRoutes(HubSpotState):
    """/crm/v3/properties/{objectType} and its /groups, for contacts and companies."""

    def _owner(self, request: Request) -> tuple[ContactTable, dict[str, Json]]:
        """The table and the property groups of the object type a path names; 400 for a
        type the sandbox keeps no property definitions of."""
        raw = request.params["objectType"]
        kind = OBJECT_ALIASES.get(raw.lower(), raw.lower())
        if kind == "contacts":
            return self.contacts, self.groups
        if kind in ("companies", "company", "0-2"):
            return self.companies, self.company_groups
        raise HubSpotError(400, f"Unable to infer object type from: {raw}")

    def _list_properties(self, request: Request) -> Response:
        table, _ = self._owner(request)
        archived = flag(request.arg("archived"))
        return Response.json({"results": [] if archived else list(table.defs.values())})

    def _get_property(self, request: Request) -> Response:
        table, _ = self._owner(request)
        name = request.params["propertyName"]
        if name not in table.defs:
            raise HubSpotError(404, f"Property {name} does not exist", "OBJECT_NOT_FOUND")
        return Response.json(table.defs[name])

    def _create_property(self, request: Request) -> Response:
        table, groups = self._owner(request)
        body = request_body(request)
        missing = [k for k in REQUIRED_FIELDS if not body.get(k)]
        if missing:
            raise HubSpotError(400, f"Missing required fields: {missing}")
        name = str(body["name"])
        if name in table.defs:
            message = f"A property named '{name}' already exists."
            raise HubSpotError(409, message, "OBJECT_ALREADY_EXISTS")
        check_new_property(body, groups)
        options = property_options(body.get("options") or [])
        definition = property_definition(
            name,
            str(body["label"]),
            str(body["type"]),
            str(body["fieldType"]),
            str(body["groupName"]),
            hubspot_defined=False,
            options=options,
            description=str(body.get("description", "")),
            order=int(body.get("displayOrder", -1)),
            at=iso_millis(self._vendor_ms()),
        )
        table.define(definition)
        return Response.json(definition, 201)

    def _update_property(self, request: Request) -> Response:
        """A partial update of a property: the fields given replace the stored ones."""
        table, groups = self._owner(request)
        name = request.params["propertyName"]
        definition = table.defs.get(name)
        if definition is None:
            raise HubSpotError(404, f"Property {name} does not exist", "OBJECT_NOT_FOUND")
        if definition["modificationMetadata"]["readOnlyDefinition"]:
            message = f"{name} is a HubSpot defined property; its definition is read only"
            raise HubSpotError(400, message)
        changes = property_changes(definition, request_body(request), groups)
        definition.update(changes, updatedAt=iso_millis(self._vendor_ms()))
        return Response.json(definition)

    def _list_groups(self, request: Request) -> Response:
        _, groups = self._owner(request)
        return Response.json({"results": list(groups.values())})

    def _create_group(self, request: Request) -> Response:
        _, groups = self._owner(request)
        body = request_body(request)
        if not body.get("name") or not body.get("label"):
            raise HubSpotError(400, "Missing required fields: name and label")
        name = str(body["name"])
        if name in groups:
            message = f"A property group named '{name}' already exists."
            raise HubSpotError(409, message, "OBJECT_ALREADY_EXISTS")
        group = {
            "name": name,
            "label": str(body["label"]),
            "displayOrder": int(body.get("displayOrder", -1)),
            "archived": False,
        }
        groups[name] = group
        return Response.json(group, 201)
