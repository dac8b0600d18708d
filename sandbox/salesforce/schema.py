"""The sObjects the Salesforce sandbox holds: their fields, ids, describe results and values.

Field names, types, key prefixes and the shape of describe results follow the
"sObject Describe" resource of the REST API Developer Guide and the Object
Reference (Lead, Contact, Account, Campaign, CampaignMember, Task, Opportunity,
OpportunityContactRole); only the fields the leadscore connector can use are
declared. Ids are 15 characters with the 3-character key prefix of their type,
plus the documented 3-character case-safe suffix.
"""

from __future__ import annotations

import math
import re
import string
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_SUFFIX = string.ascii_uppercase + "012345"
_POD = "5g0"


class SalesforceError(Exception):
    """A refused request: the HTTP status and Salesforce's error list."""

    def __init__(
        self, status: int, code: str, message: str, fields: list[str] | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        error: dict[str, Any] = {"message": message, "errorCode": code}
        if fields is not None:
            error["fields"] = fields
        self.body: Any = [error]


class RecordError(Exception):
    """Why one record of a batch write was rejected (a SaveResult error)."""

    def __init__(self, status_code: str, message: str, fields: tuple[str, ...] = ()) -> None:
        super().__init__(f"{status_code}: {message}")
        self.status_code = status_code
        self.message = message
        self.fields = fields

    def as_json(self) -> dict[str, Any]:
        return {"statusCode": self.status_code, "message": self.message, "fields": [*self.fields]}

    def as_bulk(self) -> str:
        """The `sf__Error` text of Bulk API 2.0 failed results."""
        return f"{self.status_code}:{self.message}:{' '.join(self.fields)} --"


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: str
    label: str
    updateable: bool = True
    nillable: bool = True
    length: int = 0
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    picklist: tuple[str, ...] = ()
    custom: bool = False
    precision: int = 0
    scale: int = 0


@dataclass
class SObjectType:
    name: str
    label_plural: str
    prefix: str
    fields: dict[str, FieldDef] = field(default_factory=dict)
    """By lower-case name, in declaration order."""

    def field(self, name: str) -> FieldDef | None:
        return self.fields.get(name.lower())

    def relationship(self, name: str) -> FieldDef | None:
        lowered = name.lower()
        for candidate in self.fields.values():
            if (candidate.relationship_name or "").lower() == lowered:
                return candidate
        return None

    def add(self, definition: FieldDef) -> None:
        self.fields[definition.name.lower()] = definition


TEXT_TYPES = frozenset(
    {"id", "reference", "string", "email", "picklist", "textarea", "url", "phone"}
)
NUMBER_TYPES = frozenset({"int", "double", "currency", "percent"})
SOAP_TYPES = {"id": "tns:ID", "reference": "tns:ID", "boolean": "xsd:boolean", "int": "xsd:int"}
SOAP_TYPES |= {"double": "xsd:double", "currency": "xsd:double", "percent": "xsd:double"}
SOAP_TYPES |= {"date": "xsd:date", "datetime": "xsd:dateTime"}

PREFIXES = {
    "Account": "001",
    "Contact": "003",
    "Lead": "00Q",
    "Opportunity": "006",
    "Campaign": "701",
    "CampaignMember": "00v",
    "Task": "00T",
    "OpportunityContactRole": "00K",
}
ORG_PREFIX = "00D"
USER_PREFIX = "005"
CUSTOM_FIELD_PREFIX = "00N"
JOB_PREFIX = "750"
LOCATOR_PREFIX = "01g"
"""The prefix of query locators in `nextRecordsUrl`."""


def _label(name: str) -> str:
    """`NumberOfEmployees` reads "Number Of Employees"; `AccountId` reads "Account ID"."""
    if name.endswith("Id") and len(name) > 2:
        return _label(name[:-2]) + " ID"
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name)


def _f(name: str, kind: str = "string", **options: Any) -> FieldDef:
    lengths = {"string": 255, "email": 80, "picklist": 255, "url": 255, "textarea": 32000}
    lengths |= {"id": 18, "reference": 18, "phone": 40}
    options.setdefault("length", lengths.get(kind, 0))
    if kind in ("double", "currency", "percent"):
        options.setdefault("precision", 18)
    return FieldDef(name, kind, options.pop("label", _label(name)), **options)


def _ref(name: str, *targets: str, relationship: str, updateable: bool = True) -> FieldDef:
    return _f(name, "reference", reference_to=targets, relationship_name=relationship,
              updateable=updateable)  # fmt: skip


def _read_only(name: str, kind: str = "string", **options: Any) -> FieldDef:
    return _f(name, kind, updateable=False, **options)


LEAD_STATUSES = ("Open - Not Contacted", "Working - Contacted", "Closed - Converted",
                 "Closed - Not Converted")  # fmt: skip
LEAD_SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")
STAGES = ("Prospecting", "Qualification", "Proposal/Price Quote", "Closed Won", "Closed Lost")

_DEFINITIONS: dict[str, tuple[str, list[FieldDef]]] = {
    "Lead": ("Leads", [
        _f("FirstName", length=40), _f("LastName", length=80, nillable=False),
        _read_only("Name", length=121, label="Full Name"), _f("Email", "email"),
        _f("Company", nillable=False), _f("Title", length=128),
        _f("Industry", "picklist"), _f("NumberOfEmployees", "int", label="Employees"),
        _f("Country", length=80), _f("Status", "picklist", picklist=LEAD_STATUSES,
                                     nillable=False, label="Lead Status"),
        _f("LeadSource", "picklist", picklist=LEAD_SOURCES),
        _read_only("IsConverted", "boolean", nillable=False, label="Converted"),
    ]),
    "Contact": ("Contacts", [
        _f("FirstName", length=40), _f("LastName", length=80, nillable=False),
        _read_only("Name", length=121, label="Full Name"), _f("Email", "email"),
        _f("Title", length=128), _f("Department", length=80),
        _ref("AccountId", "Account", relationship="Account"),
        _f("MailingCountry", length=80), _f("LeadSource", "picklist", picklist=LEAD_SOURCES),
    ]),
    "Account": ("Accounts", [
        _f("Name", nillable=False, label="Account Name"), _f("Website", "url"),
        _f("Industry", "picklist"), _f("NumberOfEmployees", "int", label="Employees"),
        _f("BillingCountry", length=80), _f("Type", "picklist", picklist=("Prospect", "Customer")),
    ]),
    "Campaign": ("Campaigns", [
        _f("Name", length=80, nillable=False), _f("Type", "picklist"), _f("Status", "picklist"),
        _f("StartDate", "date"), _f("IsActive", "boolean", nillable=False),
        _f("Description", "textarea"),
    ]),
    "CampaignMember": ("Campaign Members", [
        _ref("CampaignId", "Campaign", relationship="Campaign", updateable=False),
        _ref("LeadId", "Lead", relationship="Lead", updateable=False),
        _ref("ContactId", "Contact", relationship="Contact", updateable=False),
        _f("Status", "picklist", picklist=("Sent", "Responded")),
        _read_only("HasResponded", "boolean", nillable=False, label="Responded"),
        _read_only("FirstRespondedDate", "date"), _read_only("Email", "email"),
    ]),
    "Task": ("Tasks", [
        _f("Subject"), _f("ActivityDate", "date", label="Due Date Only"),
        _ref("WhoId", "Contact", "Lead", relationship="Who"),
        _f("Status", "picklist", picklist=("Not Started", "In Progress", "Completed"),
           nillable=False),
        _read_only("TaskSubtype", "picklist", picklist=("Task", "Email", "Call")),
        _f("Type", "picklist", picklist=("Call", "Email", "Meeting", "Other")),
        _f("Description", "textarea"),
    ]),
    "Opportunity": ("Opportunities", [
        _f("Name", length=120, nillable=False),
        _ref("AccountId", "Account", relationship="Account"),
        _f("StageName", "picklist", picklist=STAGES, nillable=False, label="Stage"),
        _f("Amount", "currency", scale=2), _f("CloseDate", "date", nillable=False),
        _read_only("IsWon", "boolean", nillable=False, label="Won"),
        _read_only("IsClosed", "boolean", nillable=False, label="Closed"),
    ]),
    "OpportunityContactRole": ("Opportunity Contact Role", [
        _ref("OpportunityId", "Opportunity", relationship="Opportunity", updateable=False),
        _ref("ContactId", "Contact", relationship="Contact"),
        _f("Role", "picklist", picklist=("Decision Maker", "Economic Buyer", "Influencer")),
        _f("IsPrimary", "boolean", nillable=False, label="Primary"),
    ]),
}  # fmt: skip

_SYSTEM_FIELDS = [
    _read_only("CreatedDate", "datetime", nillable=False),
    _read_only("LastModifiedDate", "datetime", nillable=False),
    _read_only("SystemModstamp", "datetime", nillable=False, label="System Modstamp"),
]

POLYMORPHIC_NAME = SObjectType("Name", "Names", "")
"""What a polymorphic relationship (Task.Who) exposes, as in SOQL's `Name` object."""
for _name in ("Id", "Name", "FirstName", "LastName", "Email", "Title", "Type"):
    POLYMORPHIC_NAME.add(_f(_name, "id" if _name == "Id" else "string", updateable=False))


def standard_types() -> dict[str, SObjectType]:
    """A fresh set of the standard sObject types (custom fields get added per sandbox)."""
    types: dict[str, SObjectType] = {}
    for name, (plural, fields) in _DEFINITIONS.items():
        sobject = SObjectType(name, plural, PREFIXES[name])
        for definition in [_read_only("Id", "id", nillable=False, label=f"{name} ID"), *fields]:
            sobject.add(definition)
        for definition in _SYSTEM_FIELDS:
            sobject.add(definition)
        types[name.lower()] = sobject
    return types


def new_custom_field(sobject: SObjectType | None, name: str, metadata: object) -> FieldDef:
    """A custom field to create from a Tooling API `FullName` and `Metadata`, once checked."""
    if sobject is None or not isinstance(metadata, dict):
        message = "Must specify the name in the CustomObject.CustomField format "
        raise SalesforceError(
            400, "FIELD_INTEGRITY_EXCEPTION", message + "(e.g. Account.MyNewCustomField)"
        )
    if not re.fullmatch(r"[A-Za-z](?:[A-Za-z0-9]|_(?!_)){0,39}__c", name):
        message = f"The API name {name} is not valid: it must end in __c and use letters, "
        raise SalesforceError(
            400, "FIELD_INTEGRITY_EXCEPTION", message + "digits and single underscores"
        )
    if sobject.field(name) is not None:
        message = f"There is already a field named {name[:-3]} on {sobject.name}."
        raise SalesforceError(400, "DUPLICATE_DEVELOPER_NAME", message, [])
    if not metadata.get("label"):
        message = "Required field is missing: label"
        raise SalesforceError(400, "REQUIRED_FIELD_MISSING", message, ["label"])
    return _custom_field(name, metadata)


def _custom_field(name: str, metadata: dict[str, Any]) -> FieldDef:
    """The describe entry of a custom field created from Tooling API `Metadata`."""
    kinds = {"Text": "string", "Number": "double", "Checkbox": "boolean", "Date": "date"}
    kinds |= {"DateTime": "datetime", "LongTextArea": "textarea", "TextArea": "textarea"}
    kinds |= {"Picklist": "picklist", "Percent": "percent", "Currency": "currency"}
    kinds |= {"Email": "email", "Url": "url", "Phone": "phone"}
    kind = kinds.get(str(metadata.get("type")))
    if kind is None:
        raise SalesforceError(
            400, "FIELD_INTEGRITY_EXCEPTION", f"Unsupported field type: {metadata.get('type')}"
        )
    length = int(metadata.get("length") or (255 if kind == "textarea" else 0))
    if kind in ("string", "textarea") and not 0 < length <= (131072 if kind == "textarea" else 255):
        raise SalesforceError(400, "FIELD_INTEGRITY_EXCEPTION", "Length: invalid length")
    return replace(
        _f(name, kind, label=str(metadata.get("label") or name), custom=True),
        length=length or _f(name, kind).length,
        precision=int(metadata.get("precision") or 0),
        scale=int(metadata.get("scale") or 0),
        nillable=kind != "boolean",
    )


# -- describe ----------------------------------------------------------------------------------


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


# -- ids ---------------------------------------------------------------------------------------


def make_id(prefix: str, number: int) -> str:
    """The 18-character id of record `number` of the type with key prefix `prefix`."""
    digits = ""
    while True:
        number, rest = divmod(number, 62)
        digits = BASE62[rest] + digits
        if not number:
            break
    body = prefix + _POD + digits.rjust(9, "0")
    return body + _suffix(body)


def parse_id(text: str) -> tuple[str, int] | None:
    """The key prefix and number of an id made by `make_id` (15 or 18 characters)."""
    if len(text) not in (15, 18) or not text.isalnum() or text[3:6] != _POD:
        return None
    if len(text) == 18 and text[15:].upper() != _suffix(text[:15]):
        return None
    number = 0
    for char in text[6:15]:
        number = number * 62 + BASE62.index(char)
    return text[:3], number


def _suffix(body: str) -> str:
    out = ""
    for chunk in range(3):
        bits = sum(1 << i for i, c in enumerate(body[chunk * 5 : chunk * 5 + 5]) if c.isupper())
        out += _SUFFIX[bits]
    return out


# -- values ------------------------------------------------------------------------------------


def format_datetime(moment: datetime) -> str:
    """Salesforce's JSON form of a dateTime: `2026-01-01T00:00:00.000+0000`."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def to_json(value: object) -> object:
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def parse_datetime(text: str) -> datetime:
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def coerce(definition: FieldDef, raw: object) -> object:
    """The stored value of `raw` written to a field, or the RecordError Salesforce gives."""
    if raw is None:
        if not definition.nillable:
            fields = (definition.name,)
            raise RecordError(
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{definition.name}]",
                fields,
            )
        return None
    try:
        value = _convert(definition.type, raw)
    except (TypeError, ValueError):
        message = f"{definition.label}: value not of required type: {raw}"
        raise RecordError("INVALID_TYPE_ON_FIELD_IN_RECORD", message, (definition.name,)) from None
    if isinstance(value, str):
        _check_text(definition, value)
    return value


def _convert(kind: str, raw: object) -> object:
    if kind == "boolean":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        raise ValueError(raw)
    if isinstance(raw, bool | dict | list):
        raise TypeError(raw)
    if kind in NUMBER_TYPES:
        number = float(raw)  # type: ignore[arg-type]
        if not math.isfinite(number):
            raise ValueError(raw)
        if kind == "int":
            if not number.is_integer():
                raise ValueError(raw)
            return int(number)
        return number
    if kind == "date":
        return date.fromisoformat(str(raw)[:10]) if isinstance(raw, str) else _fail(raw)
    if kind == "datetime":
        return parse_datetime(raw) if isinstance(raw, str) else _fail(raw)
    return raw if isinstance(raw, str) else str(raw)


def _fail(raw: object) -> object:
    raise TypeError(raw)


def _check_text(definition: FieldDef, value: str) -> None:
    if definition.length and len(value) > definition.length:
        too_large = f"{definition.label}: data value too large: {value[:40]}"
        message = f"{too_large} (max length={definition.length})"
        raise RecordError("STRING_TOO_LONG", message, (definition.name,))
    if (
        definition.type == "email"
        and value
        and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value)
    ):
        message = f"{definition.label}: invalid email address: {value}"
        raise RecordError("INVALID_EMAIL_ADDRESS", message, (definition.name,))
