"""Field-level security: a new custom field stays hidden from the API user until granted.

Follows the Object Reference: "To grant a user access to a field, associate a
FieldPermissions record with a PermissionSet that's assigned to a user." A
custom field created through the Tooling API is held here, absent from describe,
queries and writes, until a FieldPermissions record with `PermissionsRead` (and
`PermissionsEdit` for writes) on a PermissionSet assigned to the user
(PermissionSetAssignment) grants it. The three are created as sObjects over
REST (`POST .../sobjects/PermissionSet`, ...), whose answers and errors follow
the REST API's sObject create, and queried with SOQL (each is a table of the
org, which the query engine reads as any other; their records are not found by
id). Grants are never taken back (no updates or deletes). Sources:
docs/sandbox.md (Salesforce).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sandbox.salesforce.errors import SalesforceError
from sandbox.salesforce.org import Org
from sandbox.salesforce.schema import FieldDef, SObjectType
from sandbox.salesforce.table import Table

SECURITY_TYPES = {
    "PermissionSet": ("0PS", ("Name", "Label"), ("Description",)),
    "FieldPermissions": ("01k", ("ParentId", "SobjectType", "Field"),
                         ("PermissionsRead", "PermissionsEdit")),
    "PermissionSetAssignment": ("0Pa", ("AssigneeId", "PermissionSetId"), ()),
}  # fmt: skip
"""Each sObject served here: its key prefix, its required fields and its other fields."""

DUPLICATE = "duplicate value found: <unknown> duplicates value on record with id: <unknown>"


def security_type(name: str) -> SObjectType:
    """The describe of PermissionSet, FieldPermissions or PermissionSetAssignment: its Id
    and the fields of `SECURITY_TYPES`."""
    prefix, required, optional = SECURITY_TYPES[name]
    sobject = SObjectType(name, f"{name}s", prefix)
    sobject.add(FieldDef("Id", "id", f"{name} ID", updateable=False, nillable=False, length=18))
    for field_name in required + optional:
        if field_name.startswith("Permissions"):
            sobject.add(FieldDef(field_name, "boolean", field_name, nillable=False))
        elif field_name.endswith("Id"):
            sobject.add(FieldDef(field_name, "reference", field_name, length=18))
        else:
            sobject.add(FieldDef(field_name, "string", field_name, length=255))
    return sobject


def _same_id(a: object, b: str) -> bool:
    """Ids compare on their first 15 characters (18-character ids add a case-safe suffix)."""
    return isinstance(a, str) and len(a) in (15, 18) and a[:15] == b[:15]


class FieldSecurity:
    """Custom fields held back from the API, the permission sets and their grants."""

    def __init__(self, org: Org, user_id: str) -> None:
        self.org = org
        self.user_id = user_id
        self.fields: dict[str, tuple[SObjectType, FieldDef]] = {}
        """Each custom field created through the Tooling API, by lower-case full name."""
        self.permission_sets: dict[str, str] = {}
        """Permission set id -> Name."""
        self.grants: dict[tuple[str, str], tuple[bool, bool]] = {}
        """(permission set id, lower-case full field name) -> (read, edit)."""
        self.assigned: set[str] = set()
        """The permission sets assigned to the user."""
        for name in SECURITY_TYPES:
            sobject = security_type(name)
            org.types[name.lower()] = sobject
            org.tables[name.lower()] = Table(sobject, 0, lambda row: {})

    # -- custom fields ---------------------------------------------------------------------

    def check_new(self, sobject: SObjectType | None, name: str) -> None:
        """Refuse a custom field that exists already, hidden or not."""
        if sobject is not None and f"{sobject.name}.{name}".lower() in self.fields:
            message = f"There is already a field named {name[:-3]} on {sobject.name}."
            raise SalesforceError(400, "DUPLICATE_DEVELOPER_NAME", message, [])

    def hold(self, sobject: SObjectType, definition: FieldDef) -> None:
        """Keep a new custom field hidden until permissions reach the user."""
        key = f"{sobject.name}.{definition.name}".lower()
        self.fields[key] = (sobject, definition)
        self._apply(key)

    def _apply(self, key: str) -> None:
        sobject, definition = self.fields[key]
        granted = [self.grants.get((ps, key), (False, False)) for ps in self.assigned]
        if any(read for read, _ in granted):
            editable = any(read and edit for read, edit in granted)
            self.org.add_custom_field(sobject, replace(definition, updateable=editable))

    # -- sObject create ----------------------------------------------------------------------

    def create(self, name: str, body: Any) -> dict[str, Any]:
        """Create a PermissionSet, FieldPermissions or PermissionSetAssignment record."""
        _, required, optional = SECURITY_TYPES[name]
        if not isinstance(body, dict):
            raise SalesforceError(400, "JSON_PARSER_ERROR", "Expected a JSON object")
        values = {k: v for k, v in body.items() if k != "attributes"}
        for field_name in values:
            if field_name not in required + optional:
                message = f"No such column '{field_name}' on sobject of type {name}"
                raise SalesforceError(400, "INVALID_FIELD", message)
        missing = [f for f in required if values.get(f) in (None, "")]
        if missing:
            message = f"Required fields are missing: [{', '.join(missing)}]"
            raise SalesforceError(400, "REQUIRED_FIELD_MISSING", message, missing)
        table = self.org.table(name)
        record_id = table.id(len(table))
        if name == "PermissionSet":
            self.permission_sets[record_id] = str(values["Name"])
        elif name == "FieldPermissions":
            self._field_permissions(values)
        else:
            self._assignment(values)
        table.added.append(values)  # checked: queries find it from now on
        return {"id": record_id, "success": True, "errors": []}

    def _permission_set(self, value: object, field_name: str) -> str:
        found = next((ps for ps in self.permission_sets if _same_id(value, ps)), None)
        if found is None:
            raise SalesforceError(
                400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [field_name]
            )
        return found

    def _field_permissions(self, values: dict[str, Any]) -> None:
        parent = self._permission_set(values["ParentId"], "ParentId")
        sobject = self.org.sobject(str(values["SobjectType"]))
        full_name = str(values["Field"])
        object_name, _, field_name = full_name.partition(".")
        known = f"{object_name}.{field_name}".lower() in self.fields or (
            sobject is not None and sobject.field(field_name) is not None
        )
        if sobject is None or object_name.lower() != sobject.name.lower() or not known:
            message = f"bad value for restricted picklist field: {full_name}"
            raise SalesforceError(
                400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", message, ["Field"]
            )
        read, edit = values.get("PermissionsRead") is True, values.get("PermissionsEdit") is True
        if edit and not read:
            message = "Permission Edit depends on permission(s): Read"
            raise SalesforceError(400, "FIELD_INTEGRITY_EXCEPTION", message, ["PermissionsEdit"])
        key = full_name.lower()
        if (parent, key) in self.grants:
            raise SalesforceError(400, "DUPLICATE_VALUE", DUPLICATE, [])
        self.grants[(parent, key)] = (read, edit)
        if key in self.fields:
            self._apply(key)

    def _assignment(self, values: dict[str, Any]) -> None:
        if not _same_id(values["AssigneeId"], self.user_id):
            raise SalesforceError(
                400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ["AssigneeId"]
            )
        permission_set = self._permission_set(values["PermissionSetId"], "PermissionSetId")
        if permission_set in self.assigned:
            raise SalesforceError(400, "DUPLICATE_VALUE", DUPLICATE, [])
        self.assigned.add(permission_set)
        for key in self.fields:
            self._apply(key)
