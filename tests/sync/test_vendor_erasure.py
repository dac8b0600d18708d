"""The CRMs' own deletions erase on the next sync: a HubSpot privacy (GDPR) deletion, a
Salesforce deleted record, a Mailchimp member deleted for good. What stays is each deleted
record's `gone` row (its id, when it was reported, no address), so it is never written again;
a merged record is re-pointed, not erased."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from sandbox import Sandbox
from sync.schema import identities, persons, written
from sync.store import StateStore
from sync.summary import SyncOptions
from sync.vanished import gone_records
from tests.sync.privacy_helpers import open_app, person_in_every_system, traces


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox(people=60, seed=5) as sandbox:
        yield sandbox


def unlanded(store: StateStore, record: str) -> None:
    """As if the last write to the record had not landed, so the next run writes it and
    learns that it is gone (HubSpot and Mailchimp say so to a write)."""
    with store.engine.begin() as connection:
        connection.execute(sa.delete(written).where(written.c.record_id == record))
        owner = sa.select(identities.c.person_id).where(identities.c.record_id == record)
        connection.execute(sa.update(persons).where(persons.c.id.in_(owner)).values(due=None))


def test_deletions_in_every_crm_erase_the_person_on_the_next_sync(box: Sandbox, url: str) -> None:
    with open_app(box, url) as app:
        app.setup()
        app.sync(SyncOptions(full=True))
        person = person_in_every_system(app.store)
        live = {s: r for s, r in person.records if app.store.person_of(r) == person.id}
        others = set(app.store.records_by_person()) - {person.id}

        box.hubspot.privacy_delete(live["hubspot"])
        box.salesforce.delete(live["salesforce"])
        audience = box.mailchimp.audience
        with box.mailchimp.lock:
            row = audience.row_of(live["mailchimp"].partition(":")[2])
            assert row is not None
            audience.delete(row)
        for system in ("hubspot", "mailchimp"):
            unlanded(app.store, live[system])

        app.sync()

        assert {s: gone_records(app.store, s).get(r, "kept") for s, r in live.items()} == {
            s: None for s in live
        }
        assert app.store.person_of(person.email) is None
        assert traces(app.store, person.email, frozenset()) == []  # the address: nowhere
        left = traces(app.store, person.email, person.records)
        # record ids only in `gone` rows: the deleted records', and a converted lead's, merged
        # into a deleted contact (both never to be written again)
        assert {t.split(" = ")[1] for t in left if t.startswith("gone.record_id")} >= set(
            live.values()
        )
        assert all(t.startswith(("gone.record_id ", "gone.merged_into ")) for t in left), left
        assert others <= set(app.store.records_by_person())
