"""Describe results: sObject Describe, Describe Global and sObject Basic Information.

Their shape follows the "sObject Describe" resource of the REST API Developer
Guide; layouts, child relationships and record types are left out.
"""

from __future__ import annotations

from typing import Any

from sandbox.salesforce.schema import FieldDef, SObjectType

SOAP_TYPES = {"id": "tns:ID", "reference": "tns:ID", "boolean": "xsd:boolean", "int": "xsd:int"}
SOAP_TYPES |= {"double": "xsd:double", "currency": "xsd:double", "percent": "xsd:double"}
SOAP_TYPES |= {"date": "xsd:date", "datetime": "xsd:dateTime"}


def describe_field(definition: FieldDef) -> dict[str, Any]:
    kind = definition.type
    filterable = kind != "textarea"
    return {
        "aggregatable": filterable, "autoNumber": False,
        "byteLength": definition.length * 3, "calculated": False, "calculatedFormula": None,
        "cascadeDelete": False, "caseSensitive": False, "createable": definition.updateable,
        "custom": definition.custom, "defaultValue": False if kind == "boolean" else None,
        "defaultValueFormula": None, "defaultedOnCreate": kind == "boolean",
        "dependentPicklist": False, "externalId": False, "filterable": filterable,
        "groupable": filterable and kind not in ("double", "currency", "percent"),
        "htmlFormatted": False, "idLookup": kind == "id" or kind == "email",
        "inlineHelpText": None, "label": definition.label, "length": definition.length,
        "name": definition.name, "nameField": definition.name == "Name",
        "namePointing": len(definition.reference_to) > 1, "nillable": definition.nillable,
        "picklistValues": [
            {"active": True, "defaultValue": False, "label": v, "validFor": None, "value": v}
            for v in definition.picklist
        ],
        "polymorphicForeignKey": len(definition.reference_to) > 1,
        "precision": definition.precision, "referenceTo": [*definition.reference_to],
        "relationshipName": definition.relationship_name, "restrictedPicklist": False,
        "scale": definition.scale, "soapType": SOAP_TYPES.get(kind, "xsd:string"),
        "sortable": filterable, "type": kind, "unique": False,
        "updateable": definition.updateable,
    }  # fmt: skip


def sobject_urls(sobject: SObjectType, version: str) -> dict[str, str]:
    base = f"/services/data/{version}/sobjects/{sobject.name}"
    return {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"}


def describe_basics(sobject: SObjectType, version: str) -> dict[str, Any]:
    """The sObject properties shared by describe, describe global and basic information."""
    return {
        "activateable": False, "createable": True, "custom": False, "customSetting": False,
        "deletable": True, "keyPrefix": sobject.prefix, "label": sobject.name,
        "labelPlural": sobject.label_plural, "layoutable": True, "mergeable": False,
        "name": sobject.name, "queryable": True, "replicateable": True, "retrieveable": True,
        "searchable": True, "triggerable": True, "undeletable": True, "updateable": True,
        "urls": sobject_urls(sobject, version),
    }  # fmt: skip


def describe_sobject(sobject: SObjectType, version: str) -> dict[str, Any]:
    return {
        **describe_basics(sobject, version),
        "childRelationships": [],
        "fields": [describe_field(f) for f in sobject.fields.values()],
        "recordTypeInfos": [],
    }
