"""`leadscore demo`: the whole product on the sandbox, as a first-time user runs it."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from scoring import RuleSet, parse_rules
from scoring.loader import default_rules_text
from sync.demo import DemoResult, run_demo
from tests.helpers import unwrapped


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return parse_rules(default_rules_text(), "default.yaml")


@pytest.fixture(scope="module")
def demo(rules: RuleSet) -> tuple[DemoResult, str]:
    screen = io.StringIO()
    console = Console(file=screen, width=80)
    result = run_demo(console, rules, people=300, seed=2, touched=6, top=5)
    return result, screen.getvalue()


def test_the_demo_syncs_in_full_then_writes_only_the_contacts_that_changed(
    demo: tuple[DemoResult, str],
) -> None:
    result, text = demo

    full, incremental = result.full.systems["hubspot"], result.incremental.systems["hubspot"]
    assert full.written == full.contacts > 0 and full.failed == 0
    assert 0 < incremental.written <= len(result.touched)  # the new activity, nobody else
    assert incremental.calls.get("contacts.batch_update") == 1
    assert "Top 5 of" in text and "stages: Prospect" in text
    assert "lifecyclestage moved forward for" in unwrapped(text)
    assert "and back for 0" in unwrapped(text)


def test_the_demo_writes_one_score_per_person_to_hubspot_and_salesforce(
    demo: tuple[DemoResult, str],
) -> None:
    result, text = demo
    shared = result.shared
    assert shared is not None

    salesforce = result.full.systems["salesforce"]
    assert salesforce.written == salesforce.contacts > 0 and salesforce.failed == 0
    assert len(shared.both) > 20  # the world's people overlap between the two systems
    for person in shared.both:  # as read from the two emulators, after the incremental sync
        scores = shared.scores[person]
        assert set(scores) == {"hubspot", "salesforce"}
        held = {value for values in scores.values() for value in values}
        assert len(held) == 1 and None not in held, (person, scores)
    assert shared.agreeing == shared.both
    both = len(shared.both)
    line = f"{both:,} people in both: same score in HubSpot and Salesforce for all {both:,}"
    assert line in unwrapped(text)
    assert f"records: HubSpot {shared.records['hubspot']:,}, Salesforce" in unwrapped(text)
    assert "HubSpot · Salesforce" in text  # the top leads say which systems hold them
    hubspot, salesforce = (result.incremental.systems[s].written for s in ("hubspot", "salesforce"))
    wrote = f"incremental sync wrote {hubspot} HubSpot and {salesforce} Salesforce records"
    assert wrote in unwrapped(text)


def test_the_first_screen_fits_80_columns_and_names_both_sandboxes(
    demo: tuple[DemoResult, str],
) -> None:
    _, text = demo
    lines = text.splitlines()

    assert max(len(line) for line in lines) <= 80
    first = unwrapped("\n".join(lines[:40]))
    assert "HubSpot sandbox at http://127.0.0.1:" in first
    assert "Salesforce sandbox at http://127.0.0.1:" in first
    assert "setup Salesforce: created 18 fields (9 on Lead, 9 on Contact), granted 18" in first
    assert "people in both: same score in HubSpot and Salesforce" in first
