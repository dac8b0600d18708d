"""The CRMs' own deletions erase on the next sync or trigger: a HubSpot privacy (GDPR)
deletion (found by a write, or from the app webhook), a HubSpot contact archived (found by the
pull), a Salesforce deleted record, a Mailchimp member deleted for good. What stays is each deleted
record's `gone` row (its id, when it was reported, no address), so it is never written again;
a merged record is re-pointed, not erased."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from sandbox import Sandbox
from sync.schema import activities, identities, persons, written
from sync.store import StateStore
from sync.summary import SyncOptions
from sync.vanished import gone_records
from sync.web.core import WebhookCore
from sync.web.hubspot_events import DELETION, PRIVACY_DELETION, HubSpotEventsEndpoint
from sync.web.messages import WebhookRequest
from tests.sync.privacy_helpers import open_app, person_in_every_system, traces
from tests.sync.web.test_hubspot_hook import NOW, SECRET, signed_v3


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


def hubspot_only_person(store: StateStore) -> tuple[int, str, str]:
    """(person id, address, record id) of a person held by one HubSpot record alone."""
    with store.engine.connect() as connection:
        rows = connection.execute(
            sa.select(identities.c.person_id, identities.c.system, identities.c.record_id)
        ).all()
        systems: dict[int, list[tuple[str, str]]] = {}
        for pid, system, record in rows:
            systems.setdefault(int(pid), []).append((system, str(record)))
        for pid in sorted(systems):
            [(system, record), *more] = systems[pid]
            if system == "hubspot" and not more:
                email = connection.execute(
                    sa.select(persons.c.email).where(persons.c.id == pid)
                ).scalar_one()
                return pid, str(email), record
    raise AssertionError("the sandbox world has no person held by one HubSpot record alone")


def test_a_contact_archived_in_hubspot_is_retired_on_the_next_incremental_sync(
    box: Sandbox, url: str
) -> None:
    with open_app(box, url) as app:
        app.setup()
        app.sync(SyncOptions(full=True))
        pid, email, record = hubspot_only_person(app.store)
        others = set(app.store.records_by_person()) - {pid}
        box.hubspot.archive_contact(record)

        app.sync()  # incremental, and nothing is written to the contact: the pull finds it

        assert gone_records(app.store, "hubspot").get(record, "kept") is None
        assert app.store.person_of(record) is None
        left = traces(app.store, email, frozenset({("hubspot", record)}))
        # The record's id only in its gone row; the address only where HubSpot keeps it of an
        # archived contact (restorable for 90 days): its email events, keyed by address alone.
        assert {t.split(" (")[0] for t in left} <= {
            "gone.record_id",
            "activities.email",
            "persons.email",
        }
        assert f"gone.record_id (record_id) = {record}" in left
        with app.store.engine.connect() as connection:
            kept = connection.execute(
                sa.select(activities.c.system, activities.c.record_id).where(
                    activities.c.email == email
                )
            ).all()
        assert {(s, r) for s, r in kept} <= {("hubspot", None)}
        assert others <= set(app.store.records_by_person())


def events_request(events: list[dict[str, Any]], secret: str = SECRET) -> WebhookRequest:
    """HubSpot's app webhook: a JSON array of events, signed (v3) with the app's secret."""
    body = json.dumps(events).encode()
    url = "https://leadscore.example.com/hubspot/events"
    headers = signed_v3(body, url=url, secret=secret)
    return WebhookRequest.of("POST", "/hubspot/events", headers=headers, body=body, url=url)


PORTAL = 62515


def deletion(kind: str, record: str, event: int, portal: int = PORTAL) -> dict[str, Any]:
    """One event as HubSpot's webhooks API sends it (docs/api/webhooks, "Payloads")."""
    return {
        "eventId": event,
        "subscriptionId": 4072,
        "portalId": portal,
        "appId": 1160452,
        "occurredAt": int(NOW * 1000),
        "subscriptionType": kind,
        "attemptNumber": 0,
        "objectId": int(record),
        "changeFlag": "DELETED",
        "changeSource": "CRM",
    }


def test_hubspot_deletion_webhooks_retire_and_erase_through_the_store(
    box: Sandbox, url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with open_app(box, url) as app:
        app.setup()
        app.sync(SyncOptions(full=True))
        pid, email, record = hubspot_only_person(app.store)
        deleted = next(r for s, r in identities_of(app.store) if s == "hubspot" and r != record)
        others = set(app.store.records_by_person()) - {pid, app.store.person_of(deleted)}
        section = app.settings.hubspot  # type: ignore[attr-defined]
        secret = section.model_copy(
            update={"webhook_client_secret": SecretStr(SECRET), "portal_id": PORTAL}
        )
        settings = app.settings.model_copy(update={"hubspot": secret})
        core = WebhookCore(
            settings, endpoints=[HubSpotEventsEndpoint()], open_app=lambda s: app, now=lambda: NOW
        )
        try:
            forged = events_request([deletion(PRIVACY_DELETION, record, 1)], "not-the-secret")
            assert core.handle(forged).status == 401
            assert app.store.person_of(record) is not None  # nothing retired
            # another portal that installed the app: signed with the same secret, left alone
            elsewhere = events_request([deletion(PRIVACY_DELETION, record, 6, portal=777)])
            with caplog.at_level(logging.INFO, logger="leadscore"):
                answer = core.handle(elsewhere)
            assert answer.status == 200, answer.body
            assert answer.json() == {"retired": [], "erased": [], "ignored": 0, "other_portal": 1}
            assert app.store.person_of(record) is not None
            [warned] = [r for r in caplog.records if "another portal" in r.getMessage()]
            assert (warned.__dict__["system"], warned.__dict__["events"]) == ("hubspot", 1)
            for logged in caplog.records:  # no id of the event's in any text logged
                assert not {record, "777"} & set(logged.getMessage().split())
                assert not {"record", "records", "portal", "portalId"} & set(logged.__dict__)

            events = [
                deletion(DELETION, record, 2),  # a privacy deletion sends the plain one too
                deletion(PRIVACY_DELETION, record, 3),
                deletion(DELETION, deleted, 4),
                {"subscriptionType": "contact.propertyChange", "objectId": 9, "eventId": 5},
            ]
            answer = core.handle(events_request(events))
            assert answer.status == 200, answer.body
            assert answer.json() == {
                "retired": [deleted],
                "erased": [record],
                "ignored": 1,
                "other_portal": 0,
            }
        finally:
            core.close()

        assert gone_records(app.store, "hubspot").get(record, "kept") is None
        assert gone_records(app.store, "hubspot").get(deleted, "kept") is None
        assert app.store.person_of(deleted) is None
        assert app.store.person_of(email) is None
        assert traces(app.store, email, frozenset()) == []  # the address: nowhere
        left = traces(app.store, email, frozenset({("hubspot", record)}))
        assert {t.split(" (")[0] for t in left} == {"gone.record_id"}, left
        assert others <= set(app.store.records_by_person())


def identities_of(store: StateStore) -> list[tuple[str, str]]:
    with store.engine.connect() as connection:
        rows = connection.execute(sa.select(identities.c.system, identities.c.record_id))
        return sorted((str(s), str(r)) for s, r in rows)
