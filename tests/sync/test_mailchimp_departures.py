"""Mailchimp members leaving and coming back, end to end through the real SDK against the
sandbox, on a SQLite store: what an archived or deleted member takes with it (its campaign
activity and its store's orders), counted in the run's summary; what a member unarchived
gets back from an incremental pull."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from rich.console import Console

from connectors.mailchimp.connector import MailchimpConnector
from connectors.mailchimp.system import MAILCHIMP_CAPABILITIES
from sandbox.clock import SandboxClock
from sandbox.mailchimp import MailchimpSandbox
from sandbox.mailchimp.client import sandbox_client
from sandbox.world.generate import generate_world
from scoring import RuleSet
from scoring.loader import default_rules_text, parse_rules
from sync import StateStore, Sync, SyncOptions
from sync.fields import FieldMap
from sync.report import print_summary
from sync.schema import activities
from sync.summary import SyncSummary


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return parse_rules(default_rules_text(), "default.yaml")


@pytest.fixture
def box() -> Iterator[MailchimpSandbox]:
    # vendor time 500 times real time: batches start and run in milliseconds
    with MailchimpSandbox(generate_world(300, seed=4), clock=SandboxClock(500)) as emulator:
        yield emulator


@pytest.fixture
def store(tmp_path: Path) -> Iterator[StateStore]:
    opened = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    yield opened
    opened.close()


def synced(
    box: MailchimpSandbox, rules: RuleSet, store: StateStore, at: datetime, *, full: bool
) -> tuple[MailchimpConnector, SyncSummary]:
    fields = FieldMap.for_rules(rules, MAILCHIMP_CAPABILITIES)
    connector = MailchimpConnector(
        api_key=box.api_key, base_url=box.base_url, clock=box.clock, seed=0
    )
    connector.setup(fields.specs)
    sync = Sync(rules, store, [connector], {"mailchimp": fields}, clock=lambda: at)
    return connector, sync.run(SyncOptions(full=full, workers=2))


def held(store: StateStore, address: str, prefix: str = "") -> list[str]:
    """The ids of the Mailchimp activities the store holds keyed by this address alone
    (those starting with `prefix`)."""
    with store.engine.connect() as connection:
        query = sa.select(activities.c.activity_id).where(
            activities.c.system == "mailchimp",
            activities.c.record_id.is_(None),
            activities.c.email == address,
            activities.c.activity_id.like(prefix + "%"),
        )
        return sorted(connection.execute(query).scalars())


def printed(summary: SyncSummary) -> str:
    console = Console(record=True, width=200)
    print_summary(console, summary)
    return console.export_text()


def busiest(box: MailchimpSandbox, store: StateStore, prefix: str = "") -> str:
    """The address of the subscribed member the store holds most activity of."""
    audience = box.audience
    live = [r for r in range(audience.size) if audience.status(r) == "subscribed"]
    row = max(live, key=lambda r: (len(held(store, audience.emails[r].lower(), prefix)), r))
    address = audience.emails[row].lower()
    assert held(store, address, prefix)
    return address


def test_withdrawals_are_counted_per_system_and_printed_when_there_are_some(
    box: MailchimpSandbox, rules: RuleSet, store: StateStore
) -> None:
    at = datetime.fromtimestamp(box.epoch).astimezone()
    _, first = synced(box, rules, store, at, full=True)
    assert first.systems["mailchimp"].withdrawn == 0
    assert "withdrew" not in printed(first)
    archived, deleted = busiest(box, store), busiest(box, store, "mcorder:")
    taken = len(held(store, archived)) + len(held(store, deleted))
    client = sandbox_client(box)
    client.lists.delete_list_member(box.list_id, archived)
    client.lists.delete_list_member_permanent(box.list_id, deleted)

    # scores decayed: every member is written to, and the deleted one found gone (a 404)
    _, later = synced(box, rules, store, at + timedelta(days=120), full=False)

    assert held(store, archived) == [] and held(store, deleted) == []
    stats = later.systems["mailchimp"]
    assert taken <= stats.withdrawn <= taken + 2  # and their signups, keyed by their records
    assert later.as_dict()["systems"]["mailchimp"]["activities_withdrawn"] == stats.withdrawn
    assert f"mailchimp withdrew {stats.withdrawn:,} activities" in printed(later)


def test_a_member_unarchived_gets_its_activity_back_from_an_incremental_pull(
    box: MailchimpSandbox, rules: RuleSet, store: StateStore
) -> None:
    at = datetime.fromtimestamp(box.epoch).astimezone()
    synced(box, rules, store, at, full=True)
    address = busiest(box, store)
    before = held(store, address)
    client = sandbox_client(box)
    client.lists.delete_list_member(box.list_id, address)
    synced(box, rules, store, at, full=False)
    assert held(store, address) == []

    client.lists.update_list_member(box.list_id, address, {"status": "subscribed"})
    connector, back = synced(box, rules, store, at, full=False)

    # its campaign activity again, with the ids the campaign stream gave it (its orders
    # come back with the orders stream, which reads every order each time)
    assert held(store, address) == before
    calls = connector.calls()
    campaigns = len(box.campaigns)  # the default rules' window holds every one
    assert calls["reports.get_email_activity_for_subscriber"] == campaigns  # one member
    assert back.systems["mailchimp"].activities_new >= len(before)

    connector, _ = synced(box, rules, store, at, full=False)
    assert "reports.get_email_activity_for_subscriber" not in connector.calls()  # once only


@pytest.mark.parametrize("leaving", ["archived", "deleted for good"])
def test_a_members_orders_leave_with_its_other_activity_in_the_audience_and_stay_out(
    box: MailchimpSandbox, rules: RuleSet, store: StateStore, leaving: str
) -> None:
    at = datetime.fromtimestamp(box.epoch).astimezone()
    synced(box, rules, store, at, full=True)
    address = busiest(box, store, "mcorder:")  # orders of the audience's store
    client = sandbox_client(box)
    if leaving == "archived":
        client.lists.delete_list_member(box.list_id, address)
    else:
        client.lists.delete_list_member_permanent(box.list_id, address)

    # scores decayed: a write is planned for every member (a deleted one answers 404)
    synced(box, rules, store, at + timedelta(days=120), full=False)
    assert held(store, address) == []
    # the next pulls read every order again (the orders stream has no cursor)
    synced(box, rules, store, at + timedelta(days=121), full=False)
    assert held(store, address) == []
    synced(box, rules, store, at + timedelta(days=122), full=True)
    assert held(store, address) == []
