"""The HubSpot emulator takes the type and fieldType pairs HubSpot's v3 properties API takes,
and refuses the others, through the real SDK."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hubspot import HubSpot
from hubspot.crm.properties import ApiException as PropertiesError
from hubspot.crm.properties import PropertyCreate, PropertyUpdate
from urllib3.util.retry import Retry

from sandbox.clock import SandboxClock
from sandbox.hubspot import HubSpotSandbox

VALID = [
    ("bool", "booleancheckbox"),
    ("bool", "calculation_equation"),
    ("enumeration", "booleancheckbox"),
    ("enumeration", "checkbox"),
    ("enumeration", "radio"),
    ("enumeration", "select"),
    ("date", "date"),
    ("datetime", "date"),
    ("string", "text"),
    ("string", "textarea"),
    ("string", "file"),
    ("string", "html"),
    ("string", "phonenumber"),
    ("string", "calculation_equation"),
    ("number", "number"),
    ("number", "calculation_equation"),
]
INVALID = [
    ("number", "text"),
    ("string", "number"),
    ("string", "select"),
    ("enumeration", "text"),
    ("bool", "checkbox"),
    ("datetime", "text"),
    ("number", "phonenumber"),
    ("enumeration", "html"),
]


@pytest.fixture(scope="module")
def portal() -> Iterator[HubSpotSandbox]:
    with HubSpotSandbox(None, clock=SandboxClock(scale=10_000)) as sandbox:
        yield sandbox


def properties(portal: HubSpotSandbox) -> Any:
    client = HubSpot(access_token=portal.token, host=portal.base_url, retry=Retry(total=0))
    return client.crm.properties.core_api


def create(portal: HubSpotSandbox, kind: str, field_type: str) -> Any:
    options = (
        [{"label": "Yes", "value": "true"}, {"label": "No", "value": "false"}]
        if kind in ("enumeration", "bool")
        else None
    )
    prop = PropertyCreate(
        name=f"p_{kind}_{field_type}",
        label=f"{kind} as {field_type}",
        type=kind,
        field_type=field_type,
        group_name="contactinformation",
        options=options,
    )
    return properties(portal).create("contacts", prop)


@pytest.mark.parametrize(("kind", "field_type"), VALID)
def test_a_pair_the_reference_lists_is_created(
    portal: HubSpotSandbox, kind: str, field_type: str
) -> None:
    created = create(portal, kind, field_type)
    assert (created.type, created.field_type) == (kind, field_type)


@pytest.mark.parametrize(("kind", "field_type"), INVALID)
def test_a_pair_the_reference_does_not_list_is_400_naming_both(
    portal: HubSpotSandbox, kind: str, field_type: str
) -> None:
    with pytest.raises(PropertiesError) as refused:
        create(portal, kind, field_type)
    answer = json.loads(refused.value.body)
    assert refused.value.status == 400 and answer["category"] == "VALIDATION_ERROR"
    assert field_type in answer["message"] and kind in answer["message"]
    assert f"p_{kind}_{field_type}" not in {
        p.name for p in properties(portal).get_all("contacts").results
    }


def test_an_update_may_change_the_field_type_within_the_type_only(
    portal: HubSpotSandbox,
) -> None:
    api = properties(portal)
    api.create(
        "contacts",
        PropertyCreate(
            name="mobile",
            label="Mobile",
            type="string",
            field_type="text",
            group_name="contactinformation",
        ),
    )
    shown = api.update("contacts", "mobile", PropertyUpdate(field_type="phonenumber"))
    with pytest.raises(PropertiesError) as refused:
        api.update("contacts", "mobile", PropertyUpdate(field_type="number"))

    assert shown.field_type == "phonenumber"
    assert refused.value.status == 400
    assert api.get_by_name("contacts", "mobile").field_type == "phonenumber"
