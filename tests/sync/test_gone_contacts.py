"""Merged and deleted HubSpot contacts: reported by the connector, never written again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from connectors.protocol import Gone, Write
from sandbox import Sandbox
from scoring import load_rules
from sync import StateStore, SyncOptions
from sync.schema import written
from sync.vanished import gone_records
from tests.sync.test_sync_hubspot import RULES, connector, make_sync


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox(people=60, seed=5) as sandbox:
        yield sandbox


def test_a_write_to_a_merged_or_deleted_contact_reports_it_gone(box: Sandbox) -> None:
    hubspot = connector(box, load_rules(RULES))
    box.hubspot.merge_contacts("1", "2")
    box.hubspot.archive_contact("3")
    outcome = hubspot.write([Write(i, {"firstname": "x"}) for i in ("1", "2", "3", "4")])

    assert sorted(outcome.written) == ["1", "4"]
    assert outcome.failed == []
    assert sorted(outcome.gone, key=lambda g: g.record_id) == [Gone("2", "1"), Gone("3", None)]


def test_the_sync_stops_writing_to_a_gone_contact(box: Sandbox, tmp_path: Path) -> None:
    rules = load_rules(RULES)
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    make_sync(box, rules, store).run()
    box.hubspot.merge_contacts("4", "5")
    with store.engine.begin() as connection:  # as if the last write to 5 had not landed
        connection.execute(sa.delete(written).where(written.c.record_id == "5"))
    make_sync(box, rules, store).run()
    assert gone_records(store, "hubspot") == {"5": "4"}

    again = make_sync(box, rules, store).run(SyncOptions(full=True))
    assert "5" not in {f.record_id for f in store.failures("hubspot")}
    assert again.systems["hubspot"].failed == 0
