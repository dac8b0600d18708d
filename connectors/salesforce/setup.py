"""leadscore's custom fields on Lead and Contact, made through the Tooling API, and their
field-level security.

A field is made with `POST /tooling/sobjects/CustomField` (`FullName`
`Lead.Leadscore_Score__c` and its `Metadata`, Tooling API Reference "CustomField";
the types and their attributes as the Metadata API's CustomField: Number with
precision and scale, Picklist with a valueSet, LongTextArea with length and
visibleLines for every text of ours, DateTime, Checkbox with a defaultValue). The
same fields go on Lead and Contact: two objects, whose fields a conversion can map
in Setup. Fields the org has already (by describe) are left as they are, so setup
is idempotent. Our picklists are unrestricted, so that a stage or grade added to
the rules later is written before anyone adds it to the list of values.

A field made through the API is visible to no profile (only the Metadata API's
profiles or a permission set grant it), so each one gets a FieldPermissions record
(read and edit) on the permission set named in the settings, made first when the
org has none by that name (Object Reference "FieldPermissions", "PermissionSet"),
and the permission set is assigned to the user leadscore logs in as (found through
the UserInfo endpoint; PermissionSetAssignment). Assigning it to the people who
should see scores is left to an admin.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from connectors.errors import ApiError, AuthError, RejectedError
from connectors.protocol import FieldSpec, SetupReport
from connectors.salesforce.client import SalesforceApi
from connectors.salesforce.describe import Schema
from connectors.salesforce.soql import select, soql_quote

PEOPLE = ("Lead", "Contact")
LONG_TEXT = 32_768
"""Characters of a Long Text Area we make (Salesforce allows up to 131,072)."""
LABEL, DESCRIPTION = 40, 1000
NEEDS = {
    "tooling.customfield.create": ("Customize Application", "to make our custom fields"),
    "permissionset.create": ("Manage Profiles and Permission Sets", "to make the permission set"),
    "fieldpermissions.create": (
        "Manage Profiles and Permission Sets",
        "to grant field-level security on our fields",
    ),
    "assignment.create": ("Assign Permission Sets", "to assign the permission set to itself"),
}
"""The user permission each setup call takes, as Setup names it, and what it is for."""


def post(api: SalesforceApi, operation: str, path: str, body: dict[str, Any]) -> Any:
    """One create of setup's (a Tooling API `CustomField`, else a REST sObject); a refusal
    for want of access names the user permission it takes."""
    try:
        if operation.startswith("tooling."):
            return api.tooling(operation, path, body)
        return api.rest(operation, path, method="POST", json=body)
    except ApiError as refused:
        if "INSUFFICIENT_ACCESS" not in refused.detail or operation not in NEEDS:
            raise
        permission, purpose = NEEDS[operation]
        message = (
            f'the user leadscore logs in as lacks the permission "{permission}" {purpose}: '
            "give it that permission (a permission set), or have an admin run "
            "`leadscore setup` once"
        )
        raise AuthError(refused.system, operation, message, status=refused.status) from None


def field_metadata(spec: FieldSpec) -> dict[str, Any]:
    """The Tooling API `Metadata` of one of our fields."""
    metadata: dict[str, Any] = {"label": spec.label[:LABEL]}
    if spec.description:
        metadata["description"] = spec.description[:DESCRIPTION]
    if spec.kind == "number":
        metadata |= {"type": "Number", "precision": 18, "scale": 0}
    elif spec.kind == "enumeration":
        values = [{"fullName": o, "label": o, "default": False} for o in spec.options]
        metadata |= {
            "type": "Picklist",
            "valueSet": {
                "restricted": False,
                "valueSetDefinition": {"sorted": False, "value": values},
            },
        }
    elif spec.kind == "datetime":
        metadata["type"] = "DateTime"
    elif spec.kind == "boolean":
        metadata |= {"type": "Checkbox", "defaultValue": "false"}
    else:
        # Every text (the reasons above all) may be as long as `max_text_length`, which a
        # Text field's 255 characters would refuse.
        metadata |= {"type": "LongTextArea", "length": LONG_TEXT, "visibleLines": 5}
    return metadata


def setup_fields(
    api: SalesforceApi,
    schema: Schema,
    fields: Sequence[FieldSpec],
    permission_set: str,
    *,
    dry_run: bool = False,
    sobjects: Sequence[str] = PEOPLE,
) -> SetupReport:
    """Our fields on each of `sobjects` (Lead and Contact; Account for accounts' values),
    granted on the permission set."""
    report = SetupReport()
    made = False
    for sobject in sobjects:
        have = schema.fields(sobject) or {}
        for spec in fields:
            full = f"{sobject}.{spec.name}"
            if spec.name.lower() in have:
                report.existing.append(full)
                continue
            if dry_run:
                report.created.append(full)
                continue
            body = {"FullName": full, "Metadata": field_metadata(spec)}
            try:
                post(api, "tooling.customfield.create", "sobjects/CustomField", body)
            except RejectedError as refused:
                if "DUPLICATE_DEVELOPER_NAME" not in refused.detail:
                    raise
                # There, but hidden from us by field-level security: the grant shows it.
                report.existing.append(full)
                continue
            report.created.append(full)
            made = True
    if permission_set:
        names = [s.name for s in fields]
        grants = grant_fields(api, permission_set, names, dry_run=dry_run, sobjects=sobjects)
        report.created.extend(grants)
        # What is granted and assigned (by this setup, or one cut short before it) shows
        # in describe from now on.
        made = made or not dry_run
    if made:
        schema.forget()
    report.available.extend(available(schema))
    return report


def grant_fields(
    api: SalesforceApi,
    name: str,
    fields: Sequence[str],
    *,
    dry_run: bool = False,
    sobjects: Sequence[str] = PEOPLE,
) -> list[str]:
    """Read and edit on each of our fields of `sobjects` (Lead and Contact) for the
    permission set `name` (made when missing); what was (or would be) granted."""
    found = api.query_page(
        "permissionsets.query",
        select("PermissionSet", ["Id"], [f"Name = {soql_quote(name)}"]),
        None,
    )
    records = found.get("records") or []
    wanted = [f"{sobject}.{field}" for sobject in sobjects for field in fields]
    if not records:
        if dry_run:
            return [f"{name}: {full} (field permission)" for full in wanted]
        new = {"Name": name, "Label": name.replace("_", " ")}
        made = post(api, "permissionset.create", "sobjects/PermissionSet", new)
        parent = str(made["id"])
        granted: set[str] = set()
    else:
        parent = str(records[0]["Id"])
        types = ", ".join(soql_quote(sobject) for sobject in sobjects)
        where = [f"ParentId = {soql_quote(parent)}", f"SobjectType IN ({types})"]
        soql = select("FieldPermissions", ["Field"], where)
        answer = api.query_page("fieldpermissions.query", soql, None)
        # A field granted already (even read-only, as an admin chose) is left as it is.
        granted = {str(r["Field"]).lower() for r in answer.get("records") or []}
    missing = [full for full in wanted if full.lower() not in granted]
    if dry_run:
        return [f"{name}: {full} (field permission)" for full in missing]
    for full in missing:
        body = {
            "ParentId": parent,
            "SobjectType": full.partition(".")[0],
            "Field": full,
            "PermissionsRead": True,
            "PermissionsEdit": True,
        }
        try:
            post(api, "fieldpermissions.create", "sobjects/FieldPermissions", body)
        except RejectedError as refused:
            # Granted already: by a create whose answer was lost and which was sent again.
            if "DUPLICATE_VALUE" not in refused.detail:
                raise
    assign_to_self(api, parent)
    return [f"{name}: {full} (field permission)" for full in missing]


def assign_to_self(api: SalesforceApi, permission_set: str) -> None:
    """The permission set assigned to the user leadscore logs in as (who the UserInfo
    endpoint says it is), so that it reads and writes the fields it made; an assignment
    already there answers DUPLICATE_VALUE and is left as it is."""
    try:
        who = api.call("userinfo", lambda sf: sf.oauth2("userinfo"))
    except AuthError as refused:
        if refused.status != 403:
            raise
        message = (
            "the app may not read who leadscore logs in as: give it the OAuth scope "
            '"Access the identity URL service (id, profile, email, address, phone)" '
            "beside api, or leave LEADSCORE_SALESFORCE__PERMISSION_SET empty and assign "
            "the fields' permissions yourself"
        )
        raise AuthError(refused.system, "userinfo", message, status=403) from None
    user = who.get("user_id") if isinstance(who, dict) else None
    if not user:
        return
    body = {"AssigneeId": str(user), "PermissionSetId": permission_set}
    try:
        post(api, "assignment.create", "sobjects/PermissionSetAssignment", body)
    except RejectedError as refused:
        if "DUPLICATE_VALUE" not in refused.detail:
            raise


def available(schema: Schema) -> list[str]:
    """Every Lead and Contact field, and the Account's through a Contact (`Account.Industry`)."""
    names = [*schema.names("Lead"), *schema.names("Contact")]
    names += [f"Account.{n}" for n in schema.names("Account")]
    return list(dict.fromkeys(names))


def lead_statuses(schema: Schema) -> list[str]:
    """Lead Status values, in the org's order."""
    status = (schema.fields("Lead") or {}).get("status")
    return list(status.picklist) if status is not None else []
