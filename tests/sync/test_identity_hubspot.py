"""Identities end to end: a HubSpot contact whose email changes between two syncs keeps
the email events HubSpot keyed by its old address."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox import Sandbox
from scoring import load_rules
from sync import StateStore
from tests.sandbox.hubspot_helpers import touch
from tests.sync.test_sync_hubspot import RULES, held, make_sync


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox(people=60, seed=5) as sandbox:
        yield sandbox


def test_a_contact_whose_email_changes_keeps_its_email_event_points(
    box: Sandbox, tmp_path: Path
) -> None:
    rules = load_rules(RULES)
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    at = box.now()
    make_sync(box, rules, store, at).run()
    before = held(box, rules)
    # The contact with the most points from what it did with our emails.
    record = max(before, key=lambda c: int(before[c]["leadscore_engagement"] or 0))
    assert int(before[record]["leadscore_engagement"] or 0) > 0
    old = box.hubspot.contacts.value("email", int(record) - 1)
    assert old is not None
    new = "renamed." + old

    touch(box.hubspot, record, email=new)
    summary = make_sync(box, rules, store, at).run()
    after = held(box, rules)

    assert summary.systems["hubspot"].contacts_changed == 1
    assert store.person_of(record) == store.person_of(new)
    assert store.person_of(old) is None  # no one is left behind under the old address
    assert after[record] == before[record]  # the same score, reasons and all
    store.close()
