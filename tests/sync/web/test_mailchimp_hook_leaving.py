"""Mailchimp audience webhooks that take a member out: an unsubscribe whose action is
delete and a cleaned event, through `WebhookCore.handle` against the Mailchimp sandbox
with the real SDK and a SQLite store synced first. The store ends as the next pull (an
archived member) or write (a member deleted for good) would leave it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from sandbox import Sandbox
from sandbox.mailchimp.client import sandbox_client
from scoring import RuleSet
from sync import Leadscore, SyncOptions
from sync.schema import activities, identities
from sync.web.core import WebhookCore
from sync.web.mailchimp import MailchimpEndpoint
from tests.sync.web.cloud import opened_on
from tests.sync.web.test_mailchimp_hook import event, post, settings_for


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox(people=60, seed=7) as sandbox:
        yield sandbox


@pytest.fixture
def synced(box: Sandbox, rules: RuleSet, tmp_path: Path) -> Iterator[Leadscore]:
    state = tmp_path / "state.db"
    with opened_on(box, rules, state, settings_for(box, state)) as app:
        app.sync(SyncOptions(full=True))
        yield app


@pytest.fixture
def core(synced: Leadscore) -> Iterator[WebhookCore]:
    webhook = WebhookCore(synced.settings, endpoints=[MailchimpEndpoint()],
                          open_app=lambda settings: synced)  # fmt: skip
    yield webhook
    webhook._pool.shutdown(wait=True)


def mailchimp_rows(app: Leadscore, address: str) -> tuple[list[str], list[str]]:
    """(the Mailchimp records holding `address`, the Mailchimp activities of the address:
    its records' and those keyed by it alone)."""
    with app.store.engine.connect() as connection:
        records = sorted(
            connection.execute(
                sa.select(identities.c.record_id).where(
                    identities.c.system == "mailchimp", identities.c.email == address
                )
            ).scalars()
        )
        done = sorted(connection.execute(sa.select(activities.c.activity_id).where(
            activities.c.system == "mailchimp",
            sa.or_(activities.c.email == address, activities.c.record_id.in_(records)),
        )).scalars())  # fmt: skip
    return records, done


def busiest(box: Sandbox, app: Leadscore) -> str:
    audience = box.mailchimp.audience
    live = [r for r in range(audience.size) if audience.status(r) == "subscribed"]
    row = max(live, key=lambda r: (len(mailchimp_rows(app, audience.emails[r].lower())[1]), r))
    address = audience.emails[row].lower()
    assert mailchimp_rows(app, address)[1]
    return address


def result(answer: Any) -> dict[str, Any]:
    assert answer.status == 200
    [found] = answer.json()["results"]
    return dict(found)


def test_an_unsubscribe_delete_of_an_archived_member_withdraws_as_the_next_pull_would(
    box: Sandbox, synced: Leadscore, core: WebhookCore
) -> None:
    address = busiest(box, synced)
    records, _ = mailchimp_rows(synced, address)
    sandbox_client(box.mailchimp).lists.delete_list_member(box.mailchimp.list_id, address)

    done = result(post(core, event("unsubscribe", box, action="delete", reason="manual",
                                   email=address)))  # fmt: skip

    assert done["status"] == "done"
    after = mailchimp_rows(synced, address)
    assert after == (records, [])  # the record kept (archived), what it did withdrawn
    summary = synced.sync(SyncOptions())  # the pull that reads it archived
    assert mailchimp_rows(synced, address) == after
    assert summary.systems["mailchimp"].withdrawn == 0  # nothing left for it to take


def test_a_cleaned_event_of_a_member_deleted_for_good_retires_it_as_a_write_would(
    box: Sandbox, synced: Leadscore, core: WebhookCore
) -> None:
    address = busiest(box, synced)
    client = sandbox_client(box.mailchimp)
    client.lists.delete_list_member_permanent(box.mailchimp.list_id, address)

    done = result(post(core, event("cleaned", box, reason="hard", email=address)))

    assert done["error"].startswith("404")
    assert mailchimp_rows(synced, address) == ([], [])
    summary = synced.sync(SyncOptions())
    assert mailchimp_rows(synced, address) == ([], [])
    assert summary.systems["mailchimp"].withdrawn == 0


def test_a_cleaned_member_still_in_the_audience_is_kept_as_the_pull_keeps_it(
    box: Sandbox, synced: Leadscore, core: WebhookCore
) -> None:
    address = busiest(box, synced)
    before = mailchimp_rows(synced, address)

    done = result(post(core, event("cleaned", box, reason="hard", email=address)))

    assert done["status"] == "done"
    assert mailchimp_rows(synced, address) == before  # a cleaned member withdraws nothing
