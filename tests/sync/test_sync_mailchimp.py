"""A Mailchimp-only sync end to end: the real mailchimp-marketing SDK against the sandbox,
a SQLite store. Writes set merge fields and stage tags of members that exist, nothing else."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from connectors.mailchimp.connector import MailchimpConnector
from connectors.mailchimp.system import MAILCHIMP_CAPABILITIES, STAGE_TAG
from sandbox.clock import SandboxClock
from sandbox.mailchimp import MailchimpSandbox
from sandbox.mailchimp.client import sandbox_client
from sandbox.world.generate import generate_world
from scoring import RuleSet
from scoring.loader import default_rules_text, parse_rules
from sync import StateStore, Sync, SyncOptions
from sync.fields import FieldMap
from sync.schema import activities

SIGNUP = """  - id: newsletter_signup
    label: newsletter signup
    activity: newsletter_signup
    points: 20
    once: true
"""


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    """The default rules, but a signup (all Mailchimp gives here) decays: a later run
    rewrites everyone's score."""
    text = default_rules_text()
    assert SIGNUP in text
    decaying = SIGNUP.replace("once: true", "once: true\n    half_life_days: 30")
    return parse_rules(text.replace(SIGNUP, decaying), "decaying.yaml")


@pytest.fixture
def mailchimp() -> Iterator[MailchimpSandbox]:
    # vendor time 500 times real time: batches start and run in milliseconds
    with MailchimpSandbox(generate_world(300, seed=4), clock=SandboxClock(500)) as emulator:
        yield emulator


def run(
    box: MailchimpSandbox, rules: RuleSet, store: StateStore, at: datetime, full: bool
) -> tuple[MailchimpConnector, int, int, int]:
    fields = FieldMap.for_rules(rules, MAILCHIMP_CAPABILITIES)
    connector = MailchimpConnector(
        api_key=box.api_key, base_url=box.base_url, clock=box.clock, seed=0
    )
    connector.setup(fields.specs)
    sync = Sync(rules, store, [connector], {"mailchimp": fields}, clock=lambda: at)
    summary = sync.run(SyncOptions(full=full, workers=2))
    stats = summary.systems["mailchimp"]
    return connector, stats.planned, stats.written, stats.failed


def statuses(box: MailchimpSandbox) -> Counter[str]:
    return Counter(box.audience.counts())


def stage_tags(box: MailchimpSandbox) -> dict[int, set[str]]:
    audience = box.audience
    return {
        row: {t for t in audience.member(row).tags if t.startswith(STAGE_TAG)}
        for row in range(audience.size)
        if row not in audience.deleted
    }


def test_a_full_then_incremental_sync_writes_fields_and_tags_and_creates_nobody(
    mailchimp: MailchimpSandbox, rules: RuleSet, tmp_path: Path
) -> None:
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    at = datetime.fromtimestamp(mailchimp.epoch).astimezone()
    size, before = mailchimp.audience.size, statuses(mailchimp)

    connector, planned, written, failed = run(mailchimp, rules, store, at, full=True)

    assert planned > 20 and written == planned and failed == 0
    assert mailchimp.audience.size == size and statuses(mailchimp) == before
    tagged = stage_tags(mailchimp)
    assert sum(1 for t in tagged.values() if len(t) == 1) == written
    assert connector.calls().get("lists.update_list_member", 0) == 0  # all in batches
    assert mailchimp.peak_connections <= 10
    scored = {mailchimp.audience.member(r).merge_fields.get("LS_AT") for r in tagged}
    assert f"{at.astimezone(UTC):%m/%d/%Y}" in scored  # the date field, in its own format

    # members archived and deleted since: a later run (scores decayed) never brings them back
    client = sandbox_client(mailchimp)
    rows = [r for r, t in tagged.items() if t][:6]
    hashes = [mailchimp.audience.emails[r] for r in rows]
    for email in hashes[:3]:
        client.lists.delete_list_member(mailchimp.list_id, email)
    for email in hashes[3:]:
        client.lists.delete_list_member_permanent(mailchimp.list_id, email)
    archived = statuses(mailchimp)["archived"]

    _, planned, written, failed = run(mailchimp, rules, store, at + timedelta(days=120), full=False)

    # the deleted members planned are gone (a 404 inside the batch), not failed
    assert planned > 20 and failed == 0 and written < planned
    assert mailchimp.audience.size == size  # nobody created
    assert statuses(mailchimp)["archived"] == archived  # nobody unarchived
    assert all(mailchimp.audience.row_of(e) is None for e in hashes[3:])
    assert all(len(t) <= 1 for t in stage_tags(mailchimp).values())  # old stage tags removed
    assert mailchimp.peak_connections <= 10
    store.close()


def campaign_activity(store: StateStore, address: str) -> list[str]:
    """The ids of the Mailchimp activities the store keys by this address alone."""
    with store.engine.connect() as connection:
        query = sa.select(activities.c.activity_id).where(
            activities.c.system == "mailchimp",
            activities.c.record_id.is_(None),
            activities.c.email == address,
        )
        return sorted(connection.execute(query).scalars())


def test_an_archived_member_withdraws_its_activity_and_its_score_follows(
    mailchimp: MailchimpSandbox, rules: RuleSet, tmp_path: Path
) -> None:
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    at = datetime.fromtimestamp(mailchimp.epoch).astimezone()
    run(mailchimp, rules, store, at, full=True)
    audience = mailchimp.audience
    live = [r for r in range(audience.size) if audience.status(r) != "archived"]
    row = max(live, key=lambda r: (len(campaign_activity(store, audience.emails[r].lower())), r))
    address = audience.emails[row].lower()
    held = campaign_activity(store, address)
    before = float(audience.member(row).merge_fields["LS_SCORE"])
    assert held and before > 0

    sandbox_client(mailchimp).lists.delete_list_member(mailchimp.list_id, address)
    _, planned, written, failed = run(mailchimp, rules, store, at, full=False)

    assert campaign_activity(store, address) == []
    assert audience.status(row) == "archived"  # written to, and still archived
    after = float(audience.member(row).merge_fields["LS_SCORE"])
    assert after < before and failed == 0 and 1 <= written == planned
    record = next(r for r, v in store.written_values("mailchimp").items() if r.startswith(
        f"{mailchimp.list_id}:") and audience.row_of(r.split(":")[1]) == row)  # fmt: skip
    assert float(store.written_values("mailchimp")[record]["LS_SCORE"]) == after
    store.close()


def test_a_member_deleted_for_good_is_found_by_the_next_write_and_takes_its_activity(
    mailchimp: MailchimpSandbox, rules: RuleSet, tmp_path: Path
) -> None:
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    at = datetime.fromtimestamp(mailchimp.epoch).astimezone()
    run(mailchimp, rules, store, at, full=True)
    audience = mailchimp.audience
    live = [r for r in range(audience.size) if audience.status(r) == "subscribed"]
    row = max(live, key=lambda r: (len(campaign_activity(store, audience.emails[r].lower())), r))
    address = audience.emails[row].lower()
    assert campaign_activity(store, address) and store.person_of(address) is not None

    sandbox_client(mailchimp).lists.delete_list_member_permanent(mailchimp.list_id, address)
    # scores decayed: a write is planned for the member, and finds it gone (404)
    _, planned, written, failed = run(mailchimp, rules, store, at + timedelta(days=120), False)

    assert failed == 0 and written == planned - 1
    assert campaign_activity(store, address) == []
    assert store.person_of(address) is None  # in Mailchimp alone: no one left to score
    store.close()


def test_a_member_archived_before_the_first_sync_brings_no_activity_whatever_the_order(
    mailchimp: MailchimpSandbox, rules: RuleSet, tmp_path: Path
) -> None:
    audience = mailchimp.audience
    first = StateStore(f"sqlite:///{tmp_path / 'first.db'}")
    at = datetime.fromtimestamp(mailchimp.epoch).astimezone()
    run(mailchimp, rules, first, at, full=True)
    live = [r for r in range(audience.size) if audience.status(r) == "subscribed"]
    row = max(live, key=lambda r: (len(campaign_activity(first, audience.emails[r].lower())), r))
    address = audience.emails[row].lower()
    assert campaign_activity(first, address)
    sandbox_client(mailchimp).lists.delete_list_member(mailchimp.list_id, address)

    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    run(mailchimp, rules, store, at, full=True)

    # the campaign reports still name the address: the activity streams pass it over
    assert campaign_activity(store, address) == []
    archived = [audience.emails[r].lower() for r in range(audience.size)
                if audience.status(r) == "archived"]  # fmt: skip
    assert len(archived) > 1 and not any(campaign_activity(store, a) for a in archived)
    first.close()
    store.close()


def test_a_topic_of_tags_reads_the_members_tags_mailchimp_holds(
    mailchimp: MailchimpSandbox, store: StateStore
) -> None:
    """Mailchimp's member tags are a contact's `tags`: a topic of tags scores the members
    tagged so, as pulled, kept in the store and scored from it."""
    from scoring.interest_rules import Interests

    base = parse_rules(default_rules_text(), "default.yaml")
    topic = {"id": "subscriber", "tags": ["newsletter"], "points": 5}
    rules = base.model_copy(update={"interests": Interests.model_validate({"topics": [topic]})})
    at = datetime.fromtimestamp(mailchimp.epoch).astimezone()
    run(mailchimp, rules, store, at, full=True)
    fields = FieldMap.for_rules(rules, MAILCHIMP_CAPABILITIES)
    connector = MailchimpConnector(
        api_key=mailchimp.api_key, base_url=mailchimp.base_url, clock=mailchimp.clock, seed=0
    )
    batch, _ = Sync(rules, store, [connector], {"mailchimp": fields}, clock=lambda: at).score()
    assert batch.interests is not None
    audience = mailchimp.audience
    tagged = {
        audience.member(row).email.casefold()
        for row in range(audience.size)
        if row not in audience.deleted and "newsletter" in audience.member(row).tags
    }
    scored = {
        str(batch.emails.categories[batch.emails.codes[row]]).casefold(): batch.interests.row(row)
        for row in range(len(batch))
        if batch.emails.codes[row] >= 0
    }
    assert tagged and tagged & set(scored)
    for email, row in scored.items():
        assert row["interest_subscriber"] == (5 if email in tagged else 0), email
