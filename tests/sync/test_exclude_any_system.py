"""An objection recorded in any system excludes the person: one held by HubSpot and
Salesforce, opted out in Salesforce only (the store merges a person's attributes with
HubSpot's value standing), is excluded by the sync, the trigger and `explain`, and their
leadscore fields are cleared in both systems."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from sandbox import Sandbox
from scoring import RuleSet, default_rules_text, parse_rules
from sync.app import Leadscore
from sync.errors import NotInStore
from sync.schema import identities
from sync.settings import isolated_settings
from sync.store import StateStore
from sync.summary import SyncOptions
from tests.sync.privacy_helpers import held_value

OPTED_OUT = "email_opted_out"  # Salesforce's HasOptedOutOfEmail by default
SCORES = {"hubspot": "leadscore_score", "salesforce": "Leadscore_Score__c"}


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox(people=60, seed=5) as sandbox:
        yield sandbox


def excluding_opt_outs() -> RuleSet:
    text = default_rules_text() + f"\nexclude:\n  contact: {{{OPTED_OUT}: true}}\n"
    return parse_rules(text, "rules.yaml")


def open_app(box: Sandbox, url: str, rules: RuleSet) -> Leadscore:
    sections = {
        name: dict(values)
        for name, values in box.connection_settings().items()
        if name in ("hubspot", "salesforce")
    }
    # HubSpot's own opt-out property, under the name Salesforce's opt-out field is read as
    sections["hubspot"]["attributes"] = {"hs_email_optout": OPTED_OUT}
    settings = isolated_settings(state_url=url, **sections)
    return Leadscore.open(settings, rules=rules, clock=box.now, pace=box.clock, http=box.sessions())


def shared_people(store: StateStore) -> dict[int, dict[str, str]]:
    """Persons held by one HubSpot and one Salesforce record: system -> record id."""
    with store.engine.connect() as connection:
        rows = connection.execute(
            sa.select(identities.c.person_id, identities.c.system, identities.c.record_id)
        ).all()
    found: dict[int, dict[str, list[str]]] = {}
    for pid, system, record in rows:
        found.setdefault(int(pid), {}).setdefault(system, []).append(record)
    return {
        pid: {s: rs[0] for s, rs in held.items()}
        for pid, held in found.items()
        if set(held) == {"hubspot", "salesforce"} and all(len(rs) == 1 for rs in held.values())
    }


def opted_out(box: Sandbox, system: str, record: str) -> object:
    name = "hs_email_optout" if system == "hubspot" else "HasOptedOutOfEmail"
    return held_value(box, system, record, name)


def test_an_opt_out_in_the_second_system_excludes_and_clears_both(box: Sandbox, url: str) -> None:
    rules = excluding_opt_outs()
    with open_app(box, url, rules) as app:
        app.setup()
        app.sync(SyncOptions(full=True))
        shared = shared_people(app.store)
        scored = {
            pid: records
            for pid, records in shared.items()
            if all(held_value(box, s, r, SCORES[s]) not in (None, "") for s, r in records.items())
            and not any(opted_out(box, s, r) in (True, 1.0, "true") for s, r in records.items())
        }
        assert len(scored) >= 2, "the sandbox world shares too few scored people"
        (_, records), (_, bystander) = sorted(scored.items())[:2]
        before = {s: held_value(box, s, r, SCORES[s]) for s, r in bystander.items()}

        with box.salesforce.org_lock:
            located = box.salesforce.org.locate(records["salesforce"])
            assert located is not None
            box.salesforce.org.apply(*located, {"HasOptedOutOfEmail": True})
        summary = app.sync()

        assert summary.status == "ok"
        for system, record in records.items():
            assert held_value(box, system, record, SCORES[system]) in (None, ""), system
        assert {s: held_value(box, s, r, SCORES[s]) for s, r in bystander.items()} == before
        with pytest.raises(NotInStore, match="excluded from scoring by the rules"):
            app.explain(records["hubspot"])
        rescored = app.rescore(f"salesforce:{records['salesforce']}")
        assert rescored.excluded and rescored.score is None and rescored.written == {}
        again = app.sync(SyncOptions(full=True))
        assert again.changed == 0
