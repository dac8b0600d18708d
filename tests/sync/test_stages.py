"""Stages across runs: reached stages stay reached; a mapped CRM stage moves forward only."""

from __future__ import annotations

from dataclasses import replace

import pytest

from connectors.hubspot import CAPABILITIES
from scoring import Contact, score_records
from sync.fields import FieldMap
from sync.stages import StageMap, StageMapError, reached_stages
from tests.helpers import NOW, act, person, rules, score_one

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
    assert stages.value("Customer", "retired-stage") is None  # a value it cannot rank


def test_a_mapping_to_an_unknown_stage_or_value_names_the_setting() -> None:
    with pytest.raises(StageMapError) as bad:
        StageMap.checked(
            LADDER, "hubspot", "lifecyclestage", {"Hot": "lead", "Lead": "sql"}, ORDER, "SETTING"
        )

    text = str(bad.value)
    assert "SETTING: 'Hot' is not a stage" in text and "Prospect, Lead, Customer" in text
    assert "'sql' is not a hubspot lifecyclestage value" in text


def test_the_highest_stage_written_anywhere_or_held_by_the_crm_is_the_floor() -> None:
    people = [Contact("1", email="a@x.io"), Contact("2", email="b@x.io"), Contact("3")]
    records = {
        "1": [("hubspot", "h1"), ("mailchimp", "m1")],
        "2": [("hubspot", "h2")],
        "3": [("hubspot", "h3")],
    }
    written = {
        "hubspot": {"h1": {"ls_stage": "Lead"}},
        "mailchimp": {"m1": {"ls_stage": "Customer"}},
    }
    held = {("hubspot", "h3"): {"ls_stage": "Lead"}}  # the CRM's copy; the store forgot it
    other = replace(CAPABILITIES, system="mailchimp")
    fields = {
        caps.system: FieldMap.for_rules(LADDER, caps, prefix="ls_")
        for caps in (CAPABILITIES, other)
    }
    out = reached_stages(LADDER, people, records, written, fields, held)

    assert out == ["Customer", None, "Lead"]


def test_a_system_without_our_stage_field_gives_no_floor() -> None:
    fields = {
        "hubspot": FieldMap.for_rules(
            rules("rules: [{id: v, activity: page_view, points: 1}]"), CAPABILITIES, prefix="ls_"
        )
    }
    written = {"hubspot": {"h1": {"ls_stage": "Customer"}}}

    assert reached_stages(LADDER, [Contact("1")], {"1": [("hubspot", "h1")]}, written, fields) == [
        None
    ]


OWNED = rules(
    """
    rules:
      - {id: visit, activity: page_view, points: 10}
    stages:
      current_field: stage
      ladder:
        - name: Prospect
        - name: Lead
          when: {min: {total: 10}}
        - name: Sales qualified
          owner: sales
          when: {has_activity: meeting}
        - name: Customer
          owner: sales
          when: {has_activity: purchase}
    """
)


def test_a_sales_owned_stage_scoring_proposed_still_moves_on() -> None:
    bought = [act("purchase", 1.0)]
    ours = score_records(OWNED, [person()], bought, NOW, reached=["Sales qualified"])
    theirs = score_one(OWNED, person(stage="Sales qualified"), bought)
    floor = score_records(OWNED, [person()], [], NOW, reached=["Lead"])

    assert ours.stage(0) == "Customer"  # our own proposal is a floor, not a rep's choice
    assert theirs.stage(0) == "Sales qualified"  # a rep set it: kept as it is
    assert floor.stage(0) == "Lead"  # never below what scoring reached before
