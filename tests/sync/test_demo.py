"""`leadscore demo`: the whole product on the sandbox, as a first-time user runs it."""

from __future__ import annotations

import io

from rich.console import Console

from scoring import parse_rules
from scoring.loader import default_rules_text
from sync.demo import run_demo


def test_the_demo_syncs_in_full_then_writes_only_the_contacts_that_changed() -> None:
    screen = io.StringIO()
    console = Console(file=screen, width=160)
    rules = parse_rules(default_rules_text(), "default.yaml")
    result = run_demo(console, rules, people=300, seed=2, touched=6, top=5)
    text = screen.getvalue()

    full, incremental = result.full.systems["hubspot"], result.incremental.systems["hubspot"]
    assert full.written == full.contacts > 0 and full.failed == 0
    assert 0 < incremental.written <= len(result.touched)  # the new activity, nobody else
    assert incremental.calls.get("contacts.batch_update") == 1
    assert "Top 5 of" in text and "stages: Prospect" in text
    assert "lifecyclestage moved forward for" in text and "and back for 0" in text
