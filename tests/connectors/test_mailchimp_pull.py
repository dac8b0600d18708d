"""The Mailchimp connector's member pull, fetch and setup, over the sandbox and the real SDK."""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.attributes import AttributeMap
from connectors.errors import RejectedError
from connectors.mailchimp.collections_walk import walk_collection
from connectors.mailchimp.connector import MailchimpConnector
from connectors.mailchimp.keys import member_hash
from connectors.mailchimp.pull import OVERLAP, OVERLAP_MEMBERS, PAGE, pull_members
from connectors.mailchimp.settings import MailchimpSettings
from connectors.mailchimp.system import MAILCHIMP_CAPABILITIES, MAILCHIMP_SYSTEM
from connectors.protocol import FieldSpec, Page
from connectors.system import BuildOptions
from sandbox.clock import SandboxClock
from sandbox.mailchimp import MailchimpSandbox
from sandbox.world.tables import MAILCHIMP, World, WorldBuilder
from scoring.loader import default_rules_text, parse_rules
from scoring.records import ActivityType as T
from sync.fields import FieldMap
from tests.sandbox.mailchimp_helpers import add_activity, reset

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
MEMBERS = PAGE + 7


class FrozenClock(SandboxClock):
    """Vendor time that moves only when a test moves it."""

    def __init__(self) -> None:
        super().__init__()
        self.offset = 0.0

    def now(self) -> float:
        return self.offset


def big_world() -> World:
    """More members than one page holds; one signed up an hour ago, the rest long before."""
    b = WorldBuilder(NOW)
    acme = b.company("Acme", "acme.io")
    people = [
        b.person(
            f"P{n}",
            "Lee",
            f"p{n:04}@acme.io",
            acme,
            systems=MAILCHIMP,
            created_at=NOW - timedelta(days=400 - n % 300),
        )
        for n in range(MEMBERS)
    ]
    b.event(people[3], T.NEWSLETTER_SIGNUP, NOW - timedelta(hours=1))
    return b.build(seed=5)


@pytest.fixture(scope="module")
def server() -> Iterator[MailchimpSandbox]:
    emulator = MailchimpSandbox(big_world(), api_key="pullkey-us1", clock=FrozenClock())
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def sandbox(server: MailchimpSandbox) -> MailchimpSandbox:
    reset(server)
    clock = server.clock
    assert isinstance(clock, FrozenClock)
    clock.offset = 0.0
    return server


def later(sandbox: MailchimpSandbox, seconds: float) -> None:
    clock = sandbox.clock
    assert isinstance(clock, FrozenClock)
    clock.offset += seconds


def connector(sandbox: MailchimpSandbox, **options: object) -> MailchimpConnector:
    return MailchimpConnector(api_key=sandbox.api_key, base_url=sandbox.base_url, **options)  # type: ignore[arg-type]


def pulled(c: MailchimpConnector, cursor: str | None) -> tuple[list[Page], str | None]:
    pages = list(c.pull("contacts", cursor))
    cursors = [p.cursor for p in pages if p.cursor is not None]
    return pages, cursors[-1] if cursors else cursor


def test_a_full_pull_pages_past_a_thousand_members(sandbox: MailchimpSandbox) -> None:
    c = connector(sandbox)
    pages, cursor = pulled(c, None)
    assert [len(p.contacts) for p in pages] == [PAGE, 7]
    assert [p.cursor is not None for p in pages] == [False, True]
    ids = [contact.id for p in pages for contact in p.contacts]
    assert len(set(ids)) == MEMBERS
    # keyed by contact id, which outlives an address change (`keys`)
    first = sandbox.audience.row_of(member_hash("p0000@acme.io"))
    assert first is not None
    assert ids[0] == f"{sandbox.list_id}:{sandbox.audience.contact_id(first)}"
    emails = {contact.email for p in pages for contact in p.contacts}
    assert "p1006@acme.io" in emails
    signups = [a for p in pages for a in p.activities if a.type is T.NEWSLETTER_SIGNUP]
    assert signups and all(a.contact_id in ids for a in signups)
    marks = json.loads(cursor or "{}")["audiences"]
    newest = datetime.fromisoformat(marks[sandbox.list_id])
    assert newest == NOW - timedelta(hours=1)
    # one look at the newest change, then two pages
    assert c.calls() == {"lists.get_all_lists": 1, "lists.get_list_members_info": 3}


def test_an_incremental_pull_reads_what_changed_after_the_cursor(sandbox: MailchimpSandbox) -> None:
    c = connector(sandbox, audiences=[sandbox.list_id])
    _, cursor = pulled(c, None)
    later(sandbox, 2 * 3600)
    add_activity(sandbox, "p0005@acme.io", T.EMAIL_UNSUBSCRIBE)
    add_activity(sandbox, "new@acme.io", T.NEWSLETTER_SIGNUP)
    pages, after = pulled(c, cursor)
    found = {contact.email: contact for p in pages for contact in p.contacts}
    # the change and the new member, and what lies within the overlap before the mark
    assert set(found) == {"p0005@acme.io", "new@acme.io", "p0003@acme.io"}
    assert found["p0005@acme.io"].attributes["status"] == "unsubscribed"
    assert after is not None and after != cursor
    # nothing changed since: only the overlap is read again
    pages, _ = pulled(c, after)
    again = {contact.email for p in pages for contact in p.contacts}
    assert "p0003@acme.io" not in again and again <= {"p0005@acme.io", "new@acme.io"}


def test_a_change_during_the_walk_is_read_by_the_next_pull(sandbox: MailchimpSandbox) -> None:
    c = connector(sandbox, audiences=[sandbox.list_id])
    walk = c.pull("contacts", None)
    first = next(walk)
    assert first.cursor is None and len(first.contacts) == PAGE
    later(sandbox, 60)
    add_activity(sandbox, "p0002@acme.io", T.EMAIL_UNSUBSCRIBE)  # already passed
    later(sandbox, 2 * OVERLAP.total_seconds())
    add_activity(sandbox, "p1003@acme.io", T.EMAIL_UNSUBSCRIBE)  # still ahead, changed later
    rest = list(walk)
    assert "p1003@acme.io" in {contact.email for p in rest for contact in p.contacts}
    cursor = rest[-1].cursor
    pages, _ = pulled(c, cursor)
    assert "p0002@acme.io" in {contact.email for p in pages for contact in p.contacts}


def test_a_configured_attribute_mapping_applies(sandbox: MailchimpSandbox) -> None:
    mapping = AttributeMap({"COMPANY": "account_name"}, derive_roles=False)
    c = connector(sandbox, audiences=[sandbox.list_id], attributes=mapping)
    page = c.fetch(email="P0001@acme.io")
    assert page.contacts[0].attributes["account_name"] == "Acme"


def test_fetch_by_id_or_email(sandbox: MailchimpSandbox) -> None:
    c = connector(sandbox, audiences=[sandbox.list_id])
    by_mail = c.fetch(email=" P0003@Acme.io")
    [contact] = by_mail.contacts
    assert contact.email == "p0003@acme.io"
    # signed up an hour ago, not yet confirmed: pending, no signup yet
    assert contact.attributes["status"] == "pending" and by_mail.activities == []
    confirmed = c.fetch(email="p0010@acme.io")
    assert [a.type for a in confirmed.activities] == [T.NEWSLETTER_SIGNUP]
    assert c.fetch(contact.id).contacts[0].id == contact.id
    with pytest.raises(RejectedError) as caught:
        c.fetch(email="nobody@acme.io")
    assert caught.value.status == 404
    with pytest.raises(ValueError, match="record id"):
        c.fetch("not-an-id")
    with pytest.raises(ValueError, match="not both"):
        c.fetch()


def specs() -> list[FieldSpec]:
    name = MAILCHIMP_CAPABILITIES.field_name
    return [
        FieldSpec("score", name("leadscore_", "score"), "Lead score", "number"),
        FieldSpec("fit", name("leadscore_", "fit"), "Lead score: fit", "number"),
        FieldSpec("activity", name("leadscore_", "activity"), "Lead score: activity", "number"),
        FieldSpec("stage", name("leadscore_", "stage"), "Lead stage", "text"),
        FieldSpec("reasons", name("leadscore_", "reasons"), "Lead score reasons", "text"),
        FieldSpec("scored_at", name("leadscore_", "scored_at"), "Lead scored at", "datetime"),
    ]


def test_setup_creates_merge_fields_once(sandbox: MailchimpSandbox) -> None:
    c = connector(sandbox)
    wanted = specs()
    dry = c.setup(wanted, dry_run=True)
    assert dry.created == [s.name for s in wanted] and not dry.existing
    assert "FNAME" in dry.available and "status" in dry.available
    assert "lists.add_list_merge_field" not in c.calls()
    made = c.setup(wanted)
    assert made.created == [s.name for s in wanted]
    again = c.setup(wanted)
    assert again.created == [] and again.existing == [s.name for s in wanted]
    assert not again.missing
    fields = c.api.call("lists.get_list_merge_fields", sandbox.list_id, count=100)
    types = {f["tag"]: f["type"] for f in fields["merge_fields"]}
    assert types["LS_SCORE"] == "number" and types["LS_REASONS"] == "text"
    assert types["LS_AT"] == "date"  # marketers segment on the day a lead was scored
    dated = next(f for f in fields["merge_fields"] if f["tag"] == "LS_AT")
    assert dated["options"]["date_format"] == "MM/DD/YYYY"
    assert c.calls()["lists.add_list_merge_field"] == len(wanted)


def test_setup_refuses_a_tag_of_another_type_or_named_twice(sandbox: MailchimpSandbox) -> None:
    c = connector(sandbox)
    body = {"tag": "LS_SCORE", "name": "Someone's score", "type": "text"}
    c.api.call("lists.add_list_merge_field", sandbox.list_id, body)
    with pytest.raises(RejectedError, match="LS_SCORE is of type text"):
        c.setup(specs())
    twice = [*specs(), FieldSpec("fit2", "LS_FIT", "Again", "number")]
    with pytest.raises(RejectedError, match="more than one value"):
        c.setup(twice)
    assert c.calls()["lists.add_list_merge_field"] == 1


def test_setup_refuses_a_date_field_of_another_format(sandbox: MailchimpSandbox) -> None:
    """A European account's date field in DD/MM/YYYY would read 02/12 as the 12th of
    February: setup says so instead of writing days that mean something else."""
    c = connector(sandbox)
    body = {"tag": "LS_AT", "name": "Scored", "type": "date",
            "options": {"date_format": "DD/MM/YYYY"}}  # fmt: skip
    c.api.call("lists.add_list_merge_field", sandbox.list_id, body)
    with pytest.raises(RejectedError, match="LS_AT takes DD/MM/YYYY, and leadscore writes"):
        c.setup(specs())


def test_the_default_rules_name_valid_distinct_merge_tags() -> None:
    fields = FieldMap.for_rules(parse_rules(default_rules_text()), MAILCHIMP_CAPABILITIES)
    names = [s.name for s in fields.specs]
    assert len(set(names)) == len(names)
    assert {"LS_SCORE", "LS_STAGE", "LS_DQ", "LS_REASONS", "LS_AT"} <= set(names)
    assert {s.kind for s in fields.specs} <= {"number", "text", "datetime"}


def test_the_system_entry_builds_a_connector_from_settings(sandbox: MailchimpSandbox) -> None:
    section = MailchimpSettings.model_validate(
        {"api_key": sandbox.api_key, "base_url": sandbox.base_url, "audiences": sandbox.list_id}
    )
    built = MAILCHIMP_SYSTEM.build(section, BuildOptions(seed=1))
    assert isinstance(built, MailchimpConnector) and built.audiences == (sandbox.list_id,)
    assert built.fetch(email="p0010@acme.io").contacts


def test_a_pull_with_nothing_new_reads_the_one_page_its_first_call_says_there_is(
    sandbox: MailchimpSandbox,
) -> None:
    c = connector(sandbox, audiences=[sandbox.list_id])
    _, cursor = pulled(c, None)
    later(sandbox, 2 * 3600)
    again = connector(sandbox, audiences=[sandbox.list_id])
    pages, after = pulled(again, cursor)
    # the newest change is within the overlap: its member, once, on the page with the cursor
    assert [([x.email for x in p.contacts], p.cursor is not None) for p in pages] == [
        (["p0003@acme.io"], True)
    ]
    assert after == cursor
    assert again.calls() == {"lists.get_list_members_info": 2}


def deleting_after_the_first_page(
    c: MailchimpConnector, list_id: str, emails: list[str], after_newest: bool = False
) -> list[dict[str, object]]:
    """Make `c`'s walks delete `emails` (permanently, through the SDK) once the first page
    of members is read and before any other is: a deletion between two page reads (or,
    `after_newest`, between the newest-change call and the page reads). Returns the log of
    member-page calls (their offsets and totals)."""
    original = c.api.call
    first_read = threading.Event()
    pages: list[dict[str, object]] = []
    pending = list(emails)  # deleted once

    def call(operation: str, *args: object, **kwargs: object) -> dict[str, Any]:
        paging = operation == "lists.get_list_members_info" and kwargs.get("count") == PAGE
        if paging and (after_newest or kwargs.get("offset") != 0):
            assert first_read.wait(30)
        answer = original(operation, *args, **kwargs)
        if paging:
            pages.append({"offset": kwargs.get("offset"), "total": answer.get("total_items")})
        newest = operation == "lists.get_list_members_info" and kwargs.get("count") == 1
        if newest if after_newest else paging and kwargs.get("offset") == 0:
            for email in pending:
                original("lists.delete_list_member_permanent", list_id, member_hash(email))
            pending.clear()
            first_read.set()
        return answer

    c.api.call = call  # type: ignore[method-assign]
    return pages


def test_a_member_deleted_between_page_reads_shifts_no_other_out_of_the_walk(
    sandbox: MailchimpSandbox,
) -> None:
    c = connector(sandbox, audiences=[sandbox.list_id])
    deleting_after_the_first_page(c, sandbox.list_id, ["p0005@acme.io"])
    pages, cursor = pulled(c, None)
    emails = [contact.email for p in pages for contact in p.contacts]
    assert "p1000@acme.io" in emails  # shifted into the first page's place after it was read
    assert len(emails) == len(set(emails)) == MEMBERS  # the overlap's repeats given once
    # a shift within the overlap moves the mark as usual
    assert json.loads(cursor or "{}")["audiences"][sandbox.list_id]


def test_a_walk_whose_set_shrank_beyond_the_overlap_keeps_the_mark(
    sandbox: MailchimpSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    c = connector(sandbox, audiences=[sandbox.list_id])
    gone = [f"p{n:04}@acme.io" for n in range(1, OVERLAP_MEMBERS + 3)]
    reads = deleting_after_the_first_page(c, sandbox.list_id, gone)
    with caplog.at_level(logging.WARNING, "connectors.mailchimp.pull"):
        pages, cursor = pulled(c, None)
    emails = {contact.email for p in pages for contact in p.contacts}
    # a first walk is walked again once: all who are left are read, the mark then moves
    assert {f"p{n:04}@acme.io" for n in range(MEMBERS)} - set(gone) <= emails
    assert [r["offset"] for r in reads] == [0, PAGE - OVERLAP_MEMBERS, 0]  # 985 left: one page
    assert "walking again" in caplog.text
    assert json.loads(cursor or "{}")["audiences"][sandbox.list_id]
    # shrinking again on the walk from the mark: the mark stays, the next pull reads again
    later(sandbox, 2 * 3600)
    for n in range(100, 100 + 3 * OVERLAP_MEMBERS):
        add_activity(sandbox, f"p{n:04}@acme.io", T.EMAIL_UNSUBSCRIBE)
    again = connector(sandbox, audiences=[sandbox.list_id])
    gone = [f"p{n:04}@acme.io" for n in range(100, 130)]
    deleting_after_the_first_page(again, sandbox.list_id, gone, after_newest=True)
    caplog.clear()
    with caplog.at_level(logging.WARNING, "connectors.mailchimp.pull"):
        _, after = pulled(again, cursor)
    marks = json.loads(after or "{}")["audiences"]
    assert marks == json.loads(cursor or "{}")["audiences"] and "its mark stays" in caplog.text


JSON = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
MEMBER = st.fixed_dictionaries(
    {},
    optional={"id": JSON | st.just(member_hash("a@b.io")), "email_address": JSON | st.just("a@b.io"),
              "last_changed": JSON | st.just("2026-11-01T12:00:00+00:00"),
              "status": JSON | st.just("subscribed"), "merge_fields": JSON, "tags": JSON,
              "timestamp_opt": JSON | st.just("2026-10-01T12:00:00+00:00")},
) | JSON  # fmt: skip
ANSWER = st.dictionaries(
    st.sampled_from(["members", "lists", "total_items"]),
    st.lists(MEMBER, max_size=5) | JSON | st.integers(0, 3000),
    max_size=3,
)


class Answers:
    """A Mailchimp client answering each call with the next of `answers` (then `{}`)."""

    def __init__(self, answers: list[dict[str, Any]]) -> None:
        self.answers = iter(answers)
        self.lock = threading.Lock()

    def call(self, operation: str, *args: object, **kwargs: object) -> dict[str, Any]:
        with self.lock:
            return next(self.answers, {})


@settings(max_examples=200, deadline=None)
@given(st.lists(ANSWER, max_size=5), st.booleans())
def test_member_pages_and_audience_lists_of_any_shape_are_read_or_counted(
    answers: list[dict[str, Any]], configured: bool
) -> None:
    skipped: Counter[str] = Counter()
    audiences = ["L1"] if configured else []
    pages = list(pull_members(Answers(answers), audiences, {}, AttributeMap({}), skipped))  # type: ignore[arg-type]
    assert (pages or not configured) and all(p.cursor is not None for p in pages[-1:])
    assert all(c.id.count(":") == 1 for p in pages for c in p.contacts)
    assert set(skipped) <= {"member", "audience"}


def test_a_member_that_is_not_an_object_is_skipped_counted_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    member = {"id": member_hash("a@b.io"), "email_address": "a@b.io", "last_changed": "x"}
    answers = [
        {"lists": [None, {"name": "no id"}, {"id": "L1"}], "total_items": 3},
        {"members": [member], "total_items": 2},  # the newest change
        {"members": [None, member], "total_items": 2},
    ]
    skipped: Counter[str] = Counter()
    with caplog.at_level(logging.WARNING, "connectors.mailchimp.pull"):
        pages = list(pull_members(Answers(answers), [], {}, AttributeMap({}), skipped))  # type: ignore[arg-type]
    assert [c.email for p in pages for c in p.contacts] == ["a@b.io"]
    assert skipped == {"member": 1, "audience": 2}
    assert "members passed over" in caplog.text and "audiences passed over" in caplog.text


def without_totals(c: MailchimpConnector) -> list[int]:
    """Make `c`'s answers lose `total_items` (as a vendor answer may); returns the offsets
    of the member pages asked for."""
    original = c.api.call
    offsets: list[int] = []

    def call(operation: str, *args: object, **kwargs: object) -> dict[str, Any]:
        answer = original(operation, *args, **kwargs)
        if operation == "lists.get_list_members_info" and kwargs.get("count") == PAGE:
            offsets.append(int(kwargs.get("offset") or 0))  # type: ignore[call-overload]
        return {k: v for k, v in answer.items() if k != "total_items"}

    c.api.call = call  # type: ignore[method-assign]
    return offsets


def test_answers_without_total_items_are_paged_until_a_short_page(
    sandbox: MailchimpSandbox,
) -> None:
    c = connector(sandbox)
    offsets = without_totals(c)
    pages, cursor = pulled(c, None)
    emails = {contact.email for p in pages for contact in p.contacts}
    assert len(emails) == MEMBERS and "p1006@acme.io" in emails
    assert sorted(offsets) == [0, PAGE - OVERLAP_MEMBERS]
    assert json.loads(cursor or "{}")["audiences"][sandbox.list_id]
    walked = walk_collection(c.api, "lists.get_list_members_info", "members", sandbox.list_id)
    assert [len(items) for items in walked] == [PAGE, MEMBERS - PAGE]


def test_members_seen_archived_are_remembered_and_those_back_are_told_apart() -> None:
    from collections import Counter

    from connectors.mailchimp.returning import Returns

    walk = Returns(None, "L1", ["a" * 32, "b" * 32], None, Counter())  # type: ignore[arg-type]
    assert walk.seen("c" * 32, "archived") is False
    assert walk.seen("a" * 32, "subscribed") is True  # back from the archive
    assert walk.seen("a" * 32, "subscribed") is False  # once
    assert walk.archived == {"b" * 32, "c" * 32}
    # a walk of every member keeps only whom it sees archived, and still tells returns apart
    full = Returns(None, "L1", ["a" * 32, "b" * 32], None, Counter(), afresh=True)  # type: ignore[arg-type]
    assert full.seen("b" * 32, "unsubscribed") is True
    assert full.seen("d" * 32, "archived") is False
    assert full.archived == {"d" * 32}
