"""Identities end to end: a Mailchimp member whose address changes between two syncs (its
subscriber hash with it) stays one record, keyed by its contact id, with its history."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from connectors.mailchimp.keys import member_hash
from sandbox.clock import SandboxClock
from sandbox.mailchimp import MailchimpSandbox
from sandbox.mailchimp.client import sandbox_client
from sandbox.world.generate import generate_world
from scoring import RuleSet
from sync import StateStore
from sync.schema import identities
from tests.sync.test_sync_mailchimp import rules, run

__all__ = ["rules"]


@pytest.fixture
def mailchimp() -> Iterator[MailchimpSandbox]:
    with MailchimpSandbox(generate_world(300, seed=4), clock=SandboxClock(500)) as emulator:
        yield emulator


def records(store: StateStore) -> dict[str, str | None]:
    with store.engine.connect() as connection:
        query = sa.select(identities.c.record_id, identities.c.email)
        return dict(connection.execute(query.where(identities.c.system == "mailchimp")).all())


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_a_member_whose_address_changes_stays_one_record_with_its_score(
    mailchimp: MailchimpSandbox, rules: RuleSet, tmp_path: Path, method: str
) -> None:
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    at = datetime.fromtimestamp(mailchimp.epoch).astimezone()
    run(mailchimp, rules, store, at, full=True)
    audience = mailchimp.audience

    def score(row: int) -> float:
        return float(audience.member(row).merge_fields.get("LS_SCORE") or 0)

    subscribed = [r for r in range(audience.size) if audience.status(r) == "subscribed"]
    row = max(subscribed, key=score)
    before, stored = score(row), records(store)
    assert before > 0
    record = f"{mailchimp.list_id}:{audience.contact_id(row)}"
    old = audience.emails[row]
    new = "renamed." + old
    assert stored[record] == old.lower()

    client = sandbox_client(mailchimp)
    if method == "PATCH":
        answer = client.lists.update_list_member(
            mailchimp.list_id, member_hash(old), {"email_address": new}
        )
    else:
        answer = client.lists.set_list_member(
            mailchimp.list_id, member_hash(old), {"email_address": new, "status_if_new": "pending"}
        )
    # Mailchimp's member id is the new address's hash; its contact id stays
    assert (answer["id"], answer["contact_id"]) == (member_hash(new), audience.contact_id(row))
    run(mailchimp, rules, store, at, full=False)

    after = records(store)
    assert after.keys() == stored.keys()  # no new record, none lost
    assert after[record] == new.lower()
    assert store.person_of(record) == store.person_of(new)
    assert store.person_of(old) is None  # nothing left behind under the old address
    assert score(row) == before  # the same score: its history came with it
    store.close()
