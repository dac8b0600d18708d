"""Routes for contact properties and property groups: list, read, create, update."""

from __future__ import annotations

from collections.abc import Mapping

from sandbox.http import Request, Response
from sandbox.hubspot.arguments import flag, int_value, request_body
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


def contacts_only(request: Request) -> None:
    """Property definitions exist for contacts only: 400 for any other object type."""
    raw = request.params["objectType"]
    if OBJECT_ALIASES.get(raw, raw) != "contacts":
        raise HubSpotError(400, f"Unable to infer object type from: {raw}")


class PropertyRoutes(HubSpotState):
    """/crm/v3/properties/{objectType} and its /groups."""

    def _list_properties(self, request: Request) -> Response:
        contacts_only(request)
        archived = flag(request.arg("archived"))
        return Response.json({"results": [] if archived else list(self.contacts.defs.values())})

    def _get_property(self, request: Request) -> Response:
        contacts_only(request)
        name = request.params["propertyName"]
        if name not in self.contacts.defs:
            raise HubSpotError(404, f"Property {name} does not exist", "OBJECT_NOT_FOUND")
        return Response.json(self.contacts.defs[name])

    def _create_property(self, request: Request) -> Response:
        contacts_only(request)
        body = request_body(request)
        missing = [k for k in REQUIRED_FIELDS if not body.get(k)]
        if missing:
            raise HubSpotError(400, f"Missing required fields: {missing}")
        name = str(body["name"])
        if name in self.contacts.defs:
            message = f"A property named '{name}' already exists."
            raise HubSpotError(409, message, "OBJECT_ALREADY_EXISTS")
        check_new_property(body, self.groups)
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
        self.contacts.define(definition)
        return Response.json(definition, 201)

    def _update_property(self, request: Request) -> Response:
        """A partial update of a property: the fields given replace the stored ones."""
        contacts_only(request)
        name = request.params["propertyName"]
        definition = self.contacts.defs.get(name)
        if definition is None:
            raise HubSpotError(404, f"Property {name} does not exist", "OBJECT_NOT_FOUND")
        if definition["modificationMetadata"]["readOnlyDefinition"]:
            message = f"{name} is a HubSpot defined property; its definition is read only"
            raise HubSpotError(400, message)
        changes = property_changes(definition, request_body(request), self.groups)
        definition.update(changes, updatedAt=iso_millis(self._vendor_ms()))
        return Response.json(definition)

    def _list_groups(self, request: Request) -> Response:
        contacts_only(request)
        return Response.json({"results": list(self.groups.values())})

    def _create_group(self, request: Request) -> Response:
        contacts_only(request)
        body = request_body(request)
        if not body.get("name") or not body.get("label"):
            raise HubSpotError(400, "Missing required fields: name and label")
        name = str(body["name"])
        if name in self.groups:
            message = f"A property group named '{name}' already exists."
            raise HubSpotError(409, message, "OBJECT_ALREADY_EXISTS")
        group = {
            "name": name,
            "label": str(body["label"]),
            "displayOrder": int(body.get("displayOrder", -1)),
            "archived": False,
        }
        self.groups[name] = group
        return Response.json(group, 201)
