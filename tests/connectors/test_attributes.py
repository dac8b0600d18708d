"""Rule attributes from a system's fields: the mapping, the roles read from titles, gaps."""

from __future__ import annotations

import pytest

from connectors.attributes import AttributeMap, derive_role, number_or_range
from connectors.hubspot.attributes import HUBSPOT_ATTRIBUTES


@pytest.mark.parametrize(
    ("title", "function", "seniority"),
    [
        ("Chief Marketing Officer", "Marketing", "C-level"),
        ("VP of Sales", "Sales", "VP"),
        ("Head of Revenue Operations", "Revenue operations", "Director"),
        ("RevOps Manager", "Revenue operations", "Manager"),
        ("Senior Account Executive", "Sales", "Individual contributor"),
        ("Director of IT", "IT", "Director"),
        ("Graduate Student", "Student", "Individual contributor"),
        ("Open to work", "Job seeker", "Individual contributor"),
        ("Executive Assistant", None, "Individual contributor"),
    ],
)
def test_job_function_and_seniority_are_read_from_title_words(
    title: str, function: str | None, seniority: str
) -> None:
    assert derive_role(title) == (function, seniority)


def test_no_title_gives_no_role() -> None:
    assert derive_role("  ") == (None, None)


@pytest.mark.parametrize(
    ("raw", "value"), [("100-500", 100.0), ("1000+", 1000.0), ("1,200", 1200.0), ("n/a", None)]
)
def test_counts_and_ranges_read_as_their_lower_end(raw: str, value: float | None) -> None:
    assert number_or_range(raw) == value


def test_a_users_mapping_wins_over_the_default_for_the_same_attribute() -> None:
    mapping = HUBSPOT_ATTRIBUTES.merged({"company_size_c": "employees"})

    found = mapping.apply({"numemployees": "1000+", "company_size_c": "80"})

    assert found["employees"] == 80.0
    assert "numemployees" not in mapping.fields


def test_the_fields_to_read_cover_mapped_and_derived_attributes() -> None:
    sources = HUBSPOT_ATTRIBUTES.sources(["employees", "seniority", "budget", "email_free"])

    assert sources == [
        "numemployees",
        "employees",
        "hs_seniority",
        "seniority",
        "budget",
        "jobtitle",
        "job_title",
    ]


def test_attributes_no_field_gives_are_the_missing_ones() -> None:
    rules_read = ["job_function", "seniority", "employees", "budget", "email_domain"]

    assert HUBSPOT_ATTRIBUTES.missing(rules_read, ["jobtitle", "numemployees"]) == ["budget"]
    assert HUBSPOT_ATTRIBUTES.missing(rules_read, ["numemployees"]) == [
        "job_function",
        "seniority",
        "budget",
    ]
    plain = AttributeMap({}, derive_roles=False)
    assert plain.missing(["job_function"], ["job"]) == ["job_function"]


def test_salesforce_fields_match_in_any_case_and_hubspot_properties_as_written() -> None:
    from connectors.salesforce.attributes import SALESFORCE_ATTRIBUTES

    salesforce = SALESFORCE_ATTRIBUTES.merged({"budget__C": "budget"})
    hubspot = HUBSPOT_ATTRIBUTES.merged({"Budget_C": "budget"})

    assert salesforce.apply({"Budget__c": 5, "title": "CTO"})["budget"] == 5
    assert salesforce.apply({"title": "CTO"})["job_title"] == "CTO"
    assert salesforce.missing(["budget", "job_title"], ["Budget__c", "TITLE"]) == []
    assert "budget" not in hubspot.apply({"budget_c": 5})
    assert hubspot.missing(["budget"], ["budget_c"]) == ["budget"]
