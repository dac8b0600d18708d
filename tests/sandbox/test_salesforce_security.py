"""Field-level security in the Salesforce sandbox, through simple-salesforce.

A custom field created through the Tooling API is invisible to the API user
until a FieldPermissions record on a PermissionSet assigned to the user grants
it; the three are created as sObjects over REST.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from sandbox.salesforce import SalesforceSandbox, connect
from sandbox.salesforce.ids import make_id
from tests.sandbox.salesforce_helpers import grant_fields
from tests.sandbox.test_salesforce import small_world

SCORE = {"FullName": "Lead.Lead_Score__c",
         "Metadata": {"label": "Lead Score", "type": "Number", "precision": 18, "scale": 0}}  # fmt: skip
BOB = make_id("00Q", 0)


@pytest.fixture
def sandbox() -> Iterator[SalesforceSandbox]:
    with SalesforceSandbox(small_world()) as running:
        yield running


@pytest.fixture
def sf(sandbox: SalesforceSandbox) -> Any:
    client = connect(sandbox)
    client.toolingexecute("sobjects/CustomField", method="POST", data=SCORE)
    return client


def refusal(call: Any, *args: Any) -> Any:
    """The error list of a refused SDK call."""
    with pytest.raises(SalesforceMalformedRequest) as refused:
        call(*args)
    return cast(Any, refused.value).content


def field_names(sf: Any) -> set[str]:
    return {f["name"] for f in sf.Lead.describe()["fields"]}


def write_score(sf: Any, score: int) -> dict[str, Any]:
    body = {"allOrNone": False,
            "records": [{"attributes": {"type": "Lead"}, "id": BOB, "Lead_Score__c": score}]}  # fmt: skip
    return cast(dict[str, Any], sf.restful("composite/sobjects", method="PATCH", json=body)[0])


def test_a_new_custom_field_is_invisible_to_the_api_until_granted(sf: Any) -> None:
    query = refusal(sf.query, "SELECT Lead_Score__c FROM Lead")
    single = refusal(sf.Lead.update, BOB, {"Lead_Score__c": 5})

    assert "Lead_Score__c" not in field_names(sf)
    assert query[0]["errorCode"] == "INVALID_FIELD"
    assert single[0]["errorCode"] == "INVALID_FIELD"
    assert write_score(sf, 5)["errors"][0]["statusCode"] == "INVALID_FIELD"


def test_read_and_edit_permissions_on_an_assigned_permission_set_open_the_field(
    sandbox: SalesforceSandbox, sf: Any
) -> None:
    grant_fields(sf, sandbox.user_id, "Lead.Lead_Score__c")

    assert write_score(sf, 87)["success"] is True
    assert (
        sf.query("SELECT Lead_Score__c FROM Lead WHERE Id = '" + BOB + "'")["records"][0][
            "Lead_Score__c"
        ]
        == 87
    )
    assert "Lead_Score__c" in field_names(sf)


def test_read_permission_alone_shows_the_field_but_refuses_writes(
    sandbox: SalesforceSandbox, sf: Any
) -> None:
    grant_fields(sf, sandbox.user_id, "Lead.Lead_Score__c", edit=False)
    described = next(f for f in sf.Lead.describe()["fields"] if f["name"] == "Lead_Score__c")

    assert described["updateable"] is False
    assert sf.query("SELECT COUNT() FROM Lead WHERE Lead_Score__c = null")["totalSize"] == 4
    assert write_score(sf, 5)["errors"][0]["statusCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"


def test_field_permissions_on_an_unassigned_permission_set_grant_nothing(sf: Any) -> None:
    permission_set = sf.PermissionSet.create({"Name": "Unused", "Label": "Unused"})["id"]
    created = sf.FieldPermissions.create({"ParentId": permission_set, "SobjectType": "Lead",
                                          "Field": "Lead.Lead_Score__c", "PermissionsRead": True})  # fmt: skip

    assert (created["success"], created["id"][:3], permission_set[:3]) == (True, "01k", "0PS")
    assert "Lead_Score__c" not in field_names(sf)


def test_creating_a_hidden_field_again_is_a_duplicate_developer_name(sf: Any) -> None:
    errors = refusal(sf.toolingexecute, "sobjects/CustomField", "POST", SCORE)

    assert errors == [{"message": "There is already a field named Lead_Score on Lead.",
                       "errorCode": "DUPLICATE_DEVELOPER_NAME", "fields": []}]  # fmt: skip


@pytest.mark.parametrize(
    ("sobject", "body", "code", "fields"),
    [("PermissionSet", {"Name": "No_Label"}, "REQUIRED_FIELD_MISSING", ["Label"]),
     ("PermissionSet", {"Name": "X", "Label": "X", "Colour": "red"}, "INVALID_FIELD", None),
     ("FieldPermissions", {"ParentId": "PS", "SobjectType": "Lead", "Field": "Lead.Nope__c",
                           "PermissionsRead": True},
      "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", ["Field"]),
     ("FieldPermissions", {"ParentId": make_id("0PS", 99), "SobjectType": "Lead",
                           "Field": "Lead.Lead_Score__c", "PermissionsRead": True},
      "INVALID_CROSS_REFERENCE_KEY", ["ParentId"]),
     ("FieldPermissions", {"ParentId": "PS", "SobjectType": "Lead", "Field": "Lead.Lead_Score__c",
                           "PermissionsEdit": True},
      "FIELD_INTEGRITY_EXCEPTION", ["PermissionsEdit"]),
     ("PermissionSetAssignment", {"AssigneeId": make_id("005", 7), "PermissionSetId": "PS"},
      "INVALID_CROSS_REFERENCE_KEY", ["AssigneeId"])],
    ids=["no label", "unknown column", "unknown field", "unknown parent", "edit without read",
         "another user"],
)  # fmt: skip
def test_bad_security_records_are_refused_as_salesforce_refuses_them(
    sf: Any, sobject: str, body: dict[str, Any], code: str, fields: list[str] | None
) -> None:
    permission_set = sf.PermissionSet.create({"Name": "Scores", "Label": "Scores"})["id"]
    filled = {k: permission_set if v == "PS" else v for k, v in body.items()}

    errors = refusal(getattr(sf, sobject).create, filled)

    assert errors[0]["errorCode"] == code
    assert errors[0].get("fields") == fields


def test_assigning_a_permission_set_twice_is_a_duplicate_value(
    sandbox: SalesforceSandbox, sf: Any
) -> None:
    permission_set = grant_fields(sf, sandbox.user_id, "Lead.Lead_Score__c")
    again = {"AssigneeId": sandbox.user_id, "PermissionSetId": permission_set}

    errors = refusal(sf.PermissionSetAssignment.create, again)

    assert errors[0]["errorCode"] == "DUPLICATE_VALUE"
    assert errors[0]["message"].startswith("duplicate value found: <unknown> duplicates value")


def test_the_user_id_to_assign_comes_from_the_userinfo_endpoint(
    sandbox: SalesforceSandbox, sf: Any
) -> None:
    url = "https://leadscore-sandbox.my.salesforce.com/services/oauth2/userinfo"
    me = sf.session.get(url, headers=sf.headers, timeout=5)
    forged = sf.session.get(url, headers={"Authorization": "Bearer nope"}, timeout=5)

    grant_fields(sf, me.json()["user_id"], "Lead.Lead_Score__c")

    assert (me.status_code, me.json()["organization_id"]) == (200, sandbox.login.org_id)
    assert (forged.status_code, forged.text) == (403, "Bad_OAuth_Token")
    assert "Lead_Score__c" in field_names(sf)
