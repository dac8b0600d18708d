"""The HubSpot sandbox's companies, through the real SDK: list, batch read, batch update,
company properties and groups, and a contact's primary company."""

from __future__ import annotations

import pytest
from hubspot.crm.companies import ApiException as CompaniesError
from hubspot.crm.companies import (
    BatchInputSimplePublicObjectBatchInput,
    BatchReadInputSimplePublicObjectId,
    SimplePublicObjectBatchInput,
    SimplePublicObjectId,
)
from hubspot.crm.properties import PropertyCreate, PropertyGroupCreate

from tests.sandbox.test_hubspot import ANN, DEE, client, fast, small_world


def test_companies_list_and_read_in_batches_with_the_properties_asked() -> None:
    with fast(small_world()) as sandbox:
        api = client(sandbox)
        page = api.crm.companies.basic_api.get_page(limit=10)
        assert [c.id for c in page.results] == ["1", "2"]
        assert page.results[0].properties["name"] == "Acme"
        assert page.results[0].properties["domain"] == "acme.io"
        read = api.crm.companies.batch_api.read(
            BatchReadInputSimplePublicObjectId(
                properties=["industry", "numberofemployees", "country"],
                inputs=[SimplePublicObjectId(id="2"), SimplePublicObjectId(id="9")],
            )
        )
        assert [c.properties["industry"] for c in read.results] == ["Manufacturing"]
        assert read.results[0].properties["numberofemployees"] == "3000"
        assert read.results[0].properties["country"] == "DE"
        assert "name" not in read.results[0].properties
        assert read.errors[0].category == "OBJECT_NOT_FOUND"
        assert read.errors[0].context["ids"] == ["9"]


def test_a_contact_names_its_primary_company() -> None:
    with fast(small_world()) as sandbox:
        api = client(sandbox)
        ann = api.crm.contacts.basic_api.get_by_id(ANN, properties=["associatedcompanyid"])
        dee = api.crm.contacts.basic_api.get_by_id(DEE, properties=["associatedcompanyid"])
        assert ann.properties["associatedcompanyid"] == "1"
        assert dee.properties["associatedcompanyid"] == "2"


def test_company_properties_are_created_in_a_group_and_written_in_batches() -> None:
    with fast(small_world()) as sandbox:
        api = client(sandbox)
        groups = api.crm.properties.groups_api
        groups.create("companies", PropertyGroupCreate(name="leadscore", label="Lead score"))
        create = PropertyCreate(
            name="leadscore_account_score",
            label="Account score",
            type="number",
            field_type="number",
            group_name="leadscore",
        )
        api.crm.properties.core_api.create("companies", create)
        names = {p.name for p in api.crm.properties.core_api.get_all("companies").results}
        assert {"leadscore_account_score", "industry", "numberofemployees"} <= names
        contacts = {p.name for p in api.crm.properties.core_api.get_all("contacts").results}
        assert "leadscore_account_score" not in contacts
        batch = api.crm.companies.batch_api.update(
            BatchInputSimplePublicObjectBatchInput(
                inputs=[
                    SimplePublicObjectBatchInput(
                        id="1", properties={"leadscore_account_score": "42"}
                    ),
                    SimplePublicObjectBatchInput(
                        id="7", properties={"leadscore_account_score": "1"}
                    ),
                ]
            )
        )
        # an unknown id: left out of `results`, named nowhere (docs/sandbox.md)
        assert [c.id for c in batch.results] == ["1"]
        assert not batch.errors and batch.num_errors == 0
        read = api.crm.companies.basic_api.get_by_id("1", properties=["leadscore_account_score"])
        assert read.properties["leadscore_account_score"] == "42"
        with pytest.raises(CompaniesError) as refused:
            api.crm.companies.batch_api.update(
                BatchInputSimplePublicObjectBatchInput(
                    inputs=[SimplePublicObjectBatchInput(id="1", properties={"nope": "1"})]
                )
            )
        assert refused.value.status == 400
        too_many = [
            SimplePublicObjectBatchInput(id=str(i), properties={"name": "x"}) for i in range(101)
        ]
        with pytest.raises(CompaniesError) as over:
            api.crm.companies.batch_api.update(
                BatchInputSimplePublicObjectBatchInput(inputs=too_many)
            )
        assert over.value.status == 400
