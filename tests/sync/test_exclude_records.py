"""`exclude` reads each record of a person, not only their merged values (where the first
system's value stands): an objection recorded in any system that knows the person excludes
them, and a system without the field says nothing either way."""

from __future__ import annotations

import textwrap
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import Contact, ContactFrame, RuleSet, excluded, included, parse_rules, take_contacts
from sync.backtest_command import KnownOutcomes
from sync.people import People
from sync.readback import activity_columns

RULES = """
rules:
  - {id: saas, contact: {industry: SaaS}, points: 20}
exclude:
  contact: {opted_out: true}
  any:
    - {legal_basis: {exists: false}, country: DE}
"""
SYSTEMS = ("hubspot", "mailchimp", "salesforce")  # the store's order: the first one's value stands


def ruleset() -> RuleSet:
    return parse_rules(textwrap.dedent(RULES), "rules.yaml")


def people_of(persons: list[list[dict[str, Any]]]) -> People:
    """Persons from their records' own attributes (record i of a person is in SYSTEMS[i]),
    merged as the store merges them: the first system's value standing."""
    contacts: list[Contact] = []
    records: dict[str, list[tuple[str, str]]] = {}
    own: dict[tuple[str, str], dict[str, Any]] = {}
    for number, held in enumerate(persons, start=1):
        pid = str(number)
        merged: dict[str, Any] = {}
        for system, attributes in zip(SYSTEMS, held, strict=False):
            key = (system, f"{system[:2]}{number}")
            records.setdefault(pid, []).append(key)
            own[key] = attributes
            for name, value in attributes.items():
                merged.setdefault(name, value)
        contacts.append(Contact(pid, email=f"p{number}@example.com", attributes=merged))
    return People(contacts, activity_columns([]), records, own)


def excluded_ids(rules: RuleSet, people: People) -> set[str]:
    frame, _ = people.frames(rules.contact_fields(), [], exclude=rules.exclude)
    return {str(i) for i in frame.ids[excluded(rules, frame)].tolist()}


def test_an_objection_in_the_second_system_excludes_the_person() -> None:
    people = people_of(
        [
            [{"opted_out": False}, {"opted_out": True}],  # opted out in the second only
            [{"opted_out": False}, {"opted_out": False}],
            [{"opted_out": "true"}],  # one record: its values are the merged ones
            [{}, {"opted_out": "TRUE"}],  # the first system has no such field
        ]
    )
    rules = ruleset()
    assert excluded_ids(rules, people) == {"1", "3", "4"}
    # without the records' own values, only the merged ones decide (the gap this closes)
    merged, _ = people.frames(rules.contact_fields(), [])
    assert {str(i) for i in merged.ids[excluded(rules, merged)].tolist()} == {"3", "4"}


def test_a_system_without_the_field_says_nothing() -> None:
    people = people_of(
        [
            # HubSpot records the legal basis; the other system has no such field
            [{"legal_basis": "consent", "country": "DE"}, {"country": "DE"}],
            # no system records one: the merged values say so
            [{"country": "DE"}, {"country": "DE"}],
            # a legal basis in the second system only
            [{"country": "DE"}, {"legal_basis": "contract", "country": "DE"}],
        ]
    )
    assert excluded_ids(ruleset(), people) == {"2"}


def test_the_records_follow_the_contacts_taken() -> None:
    people = people_of(
        [
            [{"opted_out": False}, {"opted_out": False}],
            [{"opted_out": False}, {"opted_out": True}],
            [{"opted_out": False}, {"opted_out": False}, {"opted_out": True}],
        ]
    )
    rules = ruleset()
    frame, activities = people.frames(rules.contact_fields(), [], exclude=rules.exclude)
    kept = included(rules, frame, activities)
    assert kept.excluded_ids == ("2", "3") and kept.contacts.records is not None
    assert len(kept.contacts.records) == 2 and not excluded(rules, kept.contacts).any()
    reordered = take_contacts(frame, np.array([2, 0, 1], dtype=np.intp))
    assert excluded(rules, reordered).tolist() == [True, False, True]


VALUES = st.sampled_from([None, True, False, "true", "false", "TRUE", "yes", 1.0, 0.0])


def record_values() -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda value: {} if value is None else {"opted_out": value},
        VALUES,
    )


def alone(rules: RuleSet, attributes: dict[str, Any]) -> bool:
    """Whether the rules exclude a contact holding these values alone (no records)."""
    frame = ContactFrame.from_records([Contact("1", email="a@example.com", attributes=attributes)])
    return bool(excluded(rules, frame)[0])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(record_values(), min_size=1, max_size=3), min_size=1, max_size=12))
def test_a_person_is_excluded_when_any_record_holds(persons: list[list[dict[str, Any]]]) -> None:
    people = people_of(persons)
    rules = ruleset()
    # a record's objection alone excludes its person, whatever the other records hold
    expected = {
        str(number)
        for number, held in enumerate(persons, start=1)
        if any(alone(rules, attributes) for attributes in held)
    }
    assert excluded_ids(rules, people) == expected
    frame, activities = people.frames(rules.contact_fields(), [], exclude=rules.exclude)
    kept = included(rules, frame, activities)
    assert set(kept.excluded_ids) == expected
    assert not excluded(rules, kept.contacts).any()


def test_from_store_frames_keep_each_records_values() -> None:
    """backtest, calibrate and report --from-store rebuild the store's frame with the
    columns they read: a person opted out in their second system only stays excluded."""
    rules = ruleset()
    people = people_of([[{"opted_out": False}, {"opted_out": True}], [{"opted_out": False}]])
    frame, acts = people.frames(None, rules.activity_fields(), exclude=rules.exclude)
    assert excluded(rules, frame).tolist() == [True, False]
    known = KnownOutcomes(frame, np.array([True, False]), np.zeros(2), "its 'x'", acts)
    for rebuilt in (known.frame(set(rules.contact_fields())), known.frame(leaving=("x",))):
        assert excluded(rules, rebuilt).tolist() == [True, False]
