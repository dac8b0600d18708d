"""The sObject types the Salesforce sandbox holds: their fields, and custom fields added to them.

Field names, types and labels follow the Object Reference (Lead, Contact,
Account, Campaign, CampaignMember, Task, Opportunity, OpportunityContactRole);
only the fields the leadscore connector can use are declared.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any

from sandbox.salesforce.errors import SalesforceError
from sandbox.salesforce.ids import PREFIXES


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
CAMPAIGN_TYPES = ("Advertisement", "Banner Ads", "Conference", "Direct Mail", "Email", "Partners",
                  "Public Relations", "Referral Program", "Telemarketing", "Trade Show",
                  "Webinar", "Other")  # fmt: skip
"""The standard values of Campaign.Type (Salesforce Help, "Campaign Fields")."""
TASK_SUBTYPES = ("Task", "Email", "ListEmail", "Cadence", "Call", "LinkedIn")
TASK_TYPES = ("Call", "Email", "Meeting", "Other")
CURRENCIES = ("USD", "EUR", "GBP")
"""The org's active currencies, the corporate one first: a multi-currency org, whose records
carry `CurrencyIsoCode` ("If an org has multicurrency enabled, the standard field
CurrencyIsoCode is available on every object. It will default to a user's default
currency": docs/sandbox.md)."""
OPPORTUNITY_STAGES = (
    "Prospecting",
    "Qualification",
    "Proposal/Price Quote",
    "Closed Won",
    "Closed Lost",
)

_DEFINITIONS: dict[str, tuple[str, list[FieldDef]]] = {
    "Lead": ("Leads", [
        _f("FirstName", length=40), _f("LastName", length=80, nillable=False),
        _read_only("Name", length=121, label="Full Name"), _f("Email", "email"),
        _f("Company", nillable=False), _f("Title", length=128),
        _f("Industry", "picklist"), _f("NumberOfEmployees", "int", label="Employees"),
        _f("Country", length=80), _f("Status", "picklist", picklist=LEAD_STATUSES,
                                     nillable=False, label="Lead Status"),
        _f("LeadSource", "picklist", picklist=LEAD_SOURCES),
        _f("HasOptedOutOfEmail", "boolean", nillable=False, label="Email Opt Out"),
        _read_only("IsConverted", "boolean", nillable=False, label="Converted"),
        _ref("ConvertedContactId", "Contact", relationship="ConvertedContact", updateable=False),
        _ref("ConvertedAccountId", "Account", relationship="ConvertedAccount", updateable=False),
        _read_only("ConvertedDate", "date"),
        _ref("MasterRecordId", "Lead", relationship="MasterRecord", updateable=False),
    ]),
    "Contact": ("Contacts", [
        _f("FirstName", length=40), _f("LastName", length=80, nillable=False),
        _read_only("Name", length=121, label="Full Name"), _f("Email", "email"),
        _f("Title", length=128), _f("Department", length=80),
        _ref("AccountId", "Account", relationship="Account"),
        _f("MailingCountry", length=80), _f("LeadSource", "picklist", picklist=LEAD_SOURCES),
        _f("HasOptedOutOfEmail", "boolean", nillable=False, label="Email Opt Out"),
        _ref("MasterRecordId", "Contact", relationship="MasterRecord", updateable=False),
    ]),
    "Account": ("Accounts", [
        _f("Name", nillable=False, label="Account Name"), _f("Website", "url"),
        _f("Industry", "picklist"), _f("NumberOfEmployees", "int", label="Employees"),
        _f("AnnualRevenue", "currency"), _f("BillingCountry", length=80),
        _f("Type", "picklist", picklist=("Prospect", "Customer")),
        _ref("MasterRecordId", "Account", relationship="MasterRecord", updateable=False),
    ]),
    "Campaign": ("Campaigns", [
        _f("Name", length=80, nillable=False), _f("Type", "picklist", picklist=CAMPAIGN_TYPES),
        _f("Status", "picklist", picklist=("Planned", "In Progress", "Completed", "Aborted")),
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
        _read_only("TaskSubtype", "picklist", picklist=TASK_SUBTYPES),
        _f("Type", "picklist", picklist=TASK_TYPES),
        _f("CallType", "picklist", picklist=("Internal", "Inbound", "Outbound")),
        _f("CallDisposition", label="Call Result"),
        _f("CallDurationInSeconds", "int", label="Call Duration"),
        _f("Description", "textarea"),
        _read_only("CompletedDateTime", "datetime", label="Completed Date/Time"),
    ]),
    "Event": ("Events", [
        _f("Subject"), _ref("WhoId", "Contact", "Lead", relationship="Who"),
        _f("StartDateTime", "datetime", label="Start"), _f("EndDateTime", "datetime", label="End"),
        _f("ActivityDateTime", "datetime", label="Due Date Time"),
        _f("ActivityDate", "date", label="Due Date Only"),
        _f("DurationInMinutes", "int", label="Duration"),
        _f("IsAllDayEvent", "boolean", nillable=False, label="All-Day Event"),
        _read_only("EventSubtype", "picklist", picklist=("Event",)),
        _f("Type", "picklist", picklist=TASK_TYPES), _f("Description", "textarea"),
    ]),
    "Opportunity": ("Opportunities", [
        _f("Name", length=120, nillable=False),
        _ref("AccountId", "Account", relationship="Account"),
        _f("StageName", "picklist", picklist=OPPORTUNITY_STAGES, nillable=False, label="Stage"),
        _f("Amount", "currency", scale=2), _f("CloseDate", "date", nillable=False),
        # a multi-currency org's: the currency of the record's amounts
        _f("CurrencyIsoCode", "picklist", picklist=CURRENCIES, label="Opportunity Currency"),
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
    _read_only("IsDeleted", "boolean", nillable=False, label="Deleted"),
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
