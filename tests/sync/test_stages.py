"""Stages across runs: reached stages stay reached; a mapped CRM stage moves forward only."""

from __future__ import annotations

import pytest

from scoring import Contact
from sync.stages import StageMap, StageMapError, with_reached_stages
from tests.helpers import rules

LADDER = rules(
    """
    rules:
      - {id: visit, activity: page_view, points: 10}
    stages:
      current_field: stage
      ladder:
        - name: Prospect
        - name: Lead
          when: {min: {total: 10}}
        - name: Customer
          when: {has_activity: purchase}
    """
)
ORDER = ["subscriber", "lead", "marketingqualifiedlead", "customer"]


def mapping(**pairs: str) -> StageMap:
    return StageMap.checked(LADDER, "hubspot", "lifecyclestage", pairs, ORDER, "SETTING")


def test_the_mapped_value_is_written_only_when_it_moves_forward() -> None:
    stages = StageMap.checked(
        LADDER, "hubspot", "lifecyclestage", {"Lead": "lead", "Customer": "customer"}, ORDER, "S"
    )

    assert stages.value("Lead", None) == "lead"
    assert stages.value("Lead", "") == "lead"
    assert stages.value("Lead", "subscriber") == "lead"
    assert stages.value("Lead", "lead") is None
    assert stages.value("Lead", "customer") is None  # never backwards
    assert stages.value("Customer", "marketingqualifiedlead") == "customer"
    assert stages.value("Prospect", None) is None  # unmapped stages leave the field alone


def test_a_mapping_to_an_unknown_stage_or_value_names_the_setting() -> None:
    with pytest.raises(StageMapError) as bad:
        StageMap.checked(
            LADDER, "hubspot", "lifecyclestage", {"Hot": "lead", "Lead": "sql"}, ORDER, "SETTING"
        )

    text = str(bad.value)
    assert "SETTING: 'Hot' is not a stage" in text and "Prospect, Lead, Customer" in text
    assert "'sql' is not a hubspot lifecyclestage value" in text


def test_the_highest_stage_written_anywhere_counts_as_reached() -> None:
    people = [
        Contact("1", "a@x.io"),
        Contact("2", "b@x.io"),
        Contact("3", "c@x.io", {"stage": "Lead"}),
    ]
    records = {
        "1": [("hubspot", "h1"), ("mailchimp", "m1")],
        "2": [("hubspot", "h2")],
        "3": [("hubspot", "h3")],
    }
    written = {
        "hubspot": {"h1": {"ls_stage": "Lead"}, "h3": {"ls_stage": "Customer"}},
        "mailchimp": {"m1": {"ls_stage": "Customer"}},
    }
    out = with_reached_stages(LADDER, people, records, written, "ls_stage")

    assert [c.attributes.get("stage") for c in out] == ["Customer", None, "Lead"]
