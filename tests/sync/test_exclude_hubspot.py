"""Contacts the rules exclude, synced to the HubSpot sandbox: their leadscore properties
are cleared once, never written again while excluded, and written again once they are
not; the other contacts are not touched."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox import Sandbox
from scoring import RuleSet, load_rules
from scoring.exclude_rules import Exclusion
from sync import StateStore, SyncOptions
from sync.errors import NotInStore
from sync.web.endpoint import score_payload
from tests.sync.test_sync_hubspot import RULES, held, make_sync, open_app, writes


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox(people=60, seed=5) as sandbox:
        yield sandbox


def excluding(rules: RuleSet, emails: list[str]) -> RuleSet:
    return rules.model_copy(update={"exclude": Exclusion(emails=emails)})


def test_excluded_contacts_are_cleared_once_and_written_again_when_lifted(
    box: Sandbox, either_store: StateStore
) -> None:
    store = either_store
    rules = load_rules(RULES)
    make_sync(box, rules, store).run(SyncOptions(full=True))
    before = held(box, rules)
    table = box.hubspot.contacts
    emails = {str(row + 1): table.value("email", row) for row in range(table.size)}
    chosen = sorted(r for r, e in emails.items() if e)[:5]
    assert all(before[r]["leadscore_score"] not in (None, "") for r in chosen)

    ruled = excluding(rules, [str(emails[r]).upper() for r in chosen])
    cleared = make_sync(box, ruled, store).run()
    after = held(box, rules)
    assert cleared.changed == len(chosen) and cleared.systems["hubspot"].written == len(chosen)
    for record, values in after.items():
        if record in chosen:
            assert set(values.values()) <= {"", None}, values
        else:
            assert values == before[record]
    assert all(table.value("leadscore_scored_at", int(r) - 1) in ("", None) for r in chosen)

    again = make_sync(box, ruled, store).run(SyncOptions(full=True))
    assert again.changed == 0 and writes(again) == 0
    assert held(box, rules) == after

    lifted = make_sync(box, rules, store).run()
    assert lifted.changed == len(chosen)
    assert held(box, rules) == before


def test_a_rescore_of_an_excluded_contact_answers_without_a_score(
    box: Sandbox, store: StateStore
) -> None:
    rules = load_rules(RULES)
    make_sync(box, rules, store).run(SyncOptions(full=True))
    email = str(box.hubspot.contacts.value("email", 0))
    app = open_app(box, excluding(rules, [email]), store)

    first = app.rescore("hubspot:1")
    again = app.rescore("hubspot:1")

    assert first.excluded and first.score is None and first.written == {"hubspot": ["1"]}
    assert score_payload(first) == {
        "status": "done",
        "record": "1",
        "excluded": True,
        "written": 1,
        "failed": 0,
    }
    assert again.excluded and again.written == {}
    assert set(held(box, rules)["1"].values()) <= {"", None}
    with pytest.raises(NotInStore, match="excluded from scoring by the rules"):
        app.explain(email)
    other = app.rescore("hubspot:2")
    assert not other.excluded and score_payload(other)["score"] is not None
