"""The Mailchimp connector's writes, over the sandbox and the real SDK: merge fields and
stage tags of existing members only, call by call for a few, through /batches for more."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.errors import TransportError
from connectors.mailchimp.batch import (
    LONGEST_WAIT,
    SUBMIT_SLACK,
    WRITE_GIVE_UP,
    WRITE_GRACE,
    parse_archive,
)
from connectors.mailchimp.connector import MailchimpConnector
from connectors.mailchimp.keys import member_hash
from connectors.protocol import FieldSpec, Write
from sandbox.clock import SandboxClock
from sandbox.faults import FaultPlan
from sandbox.mailchimp import MailchimpSandbox
from sandbox.mailchimp.audience import member_contact_id
from sandbox.mailchimp.client import sandbox_client
from sandbox.mailchimp.state import BATCH_START_DELAY
from sandbox.world.tables import MAILCHIMP, World, WorldBuilder
from tests.sandbox.mailchimp_helpers import reset

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
MEMBERS = 60
FIELDS = [
    FieldSpec("score", "LS_SCORE", "Lead score", "number"),
    FieldSpec("stage", "LS_STAGE", "Stage", "text"),
    FieldSpec("reasons", "LS_REASONS", "Reasons", "text"),
]


def world() -> World:
    b = WorldBuilder(NOW)
    acme = b.company("Acme", "acme.io")
    for n in range(MEMBERS):
        b.person(f"P{n}", "Lee", f"p{n:03}@acme.io", acme, systems=MAILCHIMP,
                 created_at=NOW - timedelta(days=100))  # fmt: skip
    return b.build(seed=3)


@pytest.fixture(scope="module")
def server() -> Iterator[MailchimpSandbox]:
    # vendor time 500 times real time: a batch's start delay and pace pass in milliseconds
    emulator = MailchimpSandbox(
        world(), api_key="writekey-us1", clock=SandboxClock(500), archived_share=0.0,
        transactional_share=0.0,
    )  # fmt: skip
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def sandbox(server: MailchimpSandbox) -> MailchimpSandbox:
    reset(server)
    server.faults = FaultPlan()
    connector(server).setup(FIELDS)
    server.peak_connections = 0
    return server


class VendorClock:
    """The sandbox's clock, and its vendor time as Mailchimp's wall clock (`wall`)."""

    def __init__(self, sandbox: MailchimpSandbox) -> None:
        self.sandbox = sandbox

    def now(self) -> float:
        return self.sandbox.clock.now()

    def sleep(self, seconds: float) -> None:
        self.sandbox.clock.sleep(seconds)

    def wall(self) -> float:
        return self.sandbox.epoch + self.sandbox.clock.now()


def connector(sandbox: MailchimpSandbox, **options: object) -> MailchimpConnector:
    options.setdefault("clock", VendorClock(sandbox))
    return MailchimpConnector(
        api_key=sandbox.api_key, base_url=sandbox.base_url, seed=1,
        **options,  # type: ignore[arg-type]
    )  # fmt: skip


def rid(sandbox: MailchimpSandbox, email: str) -> str:
    """The record id the pull gives the member: its contact id (`keys`), as the sandbox
    makes it from the address a member joined with."""
    return f"{sandbox.list_id}:{member_contact_id(email)}"


def write_of(sandbox: MailchimpSandbox, n: int, stage: str = "MQL", score: str = "42") -> Write:
    email = f"p{n:03}@acme.io"
    values = {"LS_SCORE": score, "LS_STAGE": stage, "LS_REASONS": "+42 guide"}
    return Write(rid(sandbox, email), values, email)


def member(sandbox: MailchimpSandbox, n: int) -> dict[str, object]:
    client = sandbox_client(sandbox)
    return client.lists.get_list_member(sandbox.list_id, member_hash(f"p{n:03}@acme.io"))  # type: ignore[no-any-return]


def tags_of(m: dict[str, object]) -> set[str]:
    return {str(t["name"]) for t in m["tags"]}  # type: ignore[attr-defined]


@pytest.mark.parametrize("above", [100, 0], ids=["direct", "batches"])
def test_writes_set_merge_fields_and_the_stage_tag_and_nothing_else(
    sandbox: MailchimpSandbox, above: int
) -> None:
    c = connector(sandbox, batch_write_above=above)
    before = {n: member(sandbox, n) for n in range(3)}

    outcome = c.write([write_of(sandbox, n) for n in range(3)])

    assert sorted(outcome.written) == sorted(rid(sandbox, f"p{n:03}@acme.io") for n in range(3))
    assert not outcome.failed and not outcome.gone
    for n in range(3):
        after = member(sandbox, n)
        assert after["merge_fields"]["LS_SCORE"] == "42"  # type: ignore[index]
        assert after["status"] == before[n]["status"]
        assert tags_of(after) - tags_of(before[n]) == {"leadscore: MQL"}
    assert sandbox.audience.size == MEMBERS  # nobody created
    assert sandbox.peak_connections <= 10


@pytest.mark.parametrize("above", [100, 0], ids=["direct", "batches"])
def test_a_new_stage_makes_the_old_stage_tag_inactive(
    sandbox: MailchimpSandbox, above: int
) -> None:
    c = connector(sandbox, batch_write_above=above)
    c.write([write_of(sandbox, 1, "MQL")])

    c.write([write_of(sandbox, 1, "SQL")])

    tags = tags_of(member(sandbox, 1))
    assert "leadscore: SQL" in tags and "leadscore: MQL" not in tags


@pytest.mark.parametrize("above", [100, 0], ids=["direct", "batches"])
def test_archived_and_deleted_members_are_not_brought_back(
    sandbox: MailchimpSandbox, above: int
) -> None:
    client = sandbox_client(sandbox)
    client.lists.delete_list_member(sandbox.list_id, member_hash("p004@acme.io"))
    client.lists.delete_list_member_permanent(sandbox.list_id, member_hash("p005@acme.io"))
    c = connector(sandbox, batch_write_above=above)

    outcome = c.write([write_of(sandbox, n) for n in (3, 4, 5)])

    assert [g.record_id for g in outcome.gone] == [rid(sandbox, "p005@acme.io")]
    assert sorted(outcome.written) == sorted(rid(sandbox, f"p00{n}@acme.io") for n in (3, 4))
    assert member(sandbox, 4)["status"] == "archived"
    assert sandbox.audience.row_of(member_hash("p005@acme.io")) is None
    assert sandbox.audience.size == MEMBERS


@pytest.mark.parametrize("above", [100, 0], ids=["direct", "batches"])
def test_a_refused_member_fails_alone_with_mailchimps_detail(
    sandbox: MailchimpSandbox, above: int
) -> None:
    c = connector(sandbox, batch_write_above=above)
    bad = write_of(sandbox, 7, score="forty")

    outcome = c.write([write_of(sandbox, 6), bad])

    assert outcome.written == [rid(sandbox, "p006@acme.io")]
    [failure] = outcome.failed
    assert failure.record_id == bad.record_id and not failure.retryable
    assert "merge fields were invalid" in failure.reason and "LS_SCORE" in failure.reason


def test_many_members_go_through_batches_with_few_calls(sandbox: MailchimpSandbox) -> None:
    c = connector(sandbox, batch_write_above=20)

    outcome = c.write([write_of(sandbox, n) for n in range(50)])

    assert len(outcome.written) == 50
    calls = c.calls()
    assert calls.get("lists.update_list_member", 0) == 0
    assert calls["batches.start"] == 1 and calls["batches.download"] == 1
    assert calls["lists.list_segments"] == 1 and calls["batches.status"] <= 3
    assert len(sandbox.batches) == 1 and outcome.stamps


def test_a_lost_batch_start_is_found_not_repeated(sandbox: MailchimpSandbox) -> None:
    sandbox.faults = FaultPlan(lost=1.0, operations=frozenset({"batches.start"}))
    c = connector(sandbox, batch_write_above=0)

    outcome = c.write([write_of(sandbox, n) for n in range(4)])

    assert len(outcome.written) == 4
    assert len(sandbox.batches) == 1  # found in the list, not started twice
    assert c.calls()["batches.start"] == 1 and c.calls()["batches.list"] == 1


def test_a_start_refused_by_a_5xx_does_not_follow_an_older_batch_of_its_size(
    sandbox: MailchimpSandbox,
) -> None:
    connector(sandbox, batch_write_above=0).write([write_of(sandbox, n) for n in range(4)])
    sandbox.clock.sleep(2 * SUBMIT_SLACK)  # an earlier run's batch of 8 operations
    # seed 1: the first start answers a 5xx (it did not reach Mailchimp), the next one works
    sandbox.faults = FaultPlan(server_error=0.5, seed=1, operations=frozenset({"batches.start"}))
    c = connector(sandbox, batch_write_above=0)

    outcome = c.write([write_of(sandbox, n, stage="SQL") for n in range(10, 14)])

    assert len(outcome.written) == 4 and not outcome.failed
    assert c.calls()["batches.start"] == 2 and len(sandbox.batches) == 2
    assert member(sandbox, 10)["merge_fields"]["LS_STAGE"] == "SQL"  # type: ignore[index]


def test_a_batch_found_after_a_5xx_that_is_not_ours_is_started_again(
    sandbox: MailchimpSandbox,
) -> None:
    hashes = [member_hash(f"p{n:03}@acme.io") for n in range(20, 28)]
    others = [{"method": "GET", "path": f"/lists/{sandbox.list_id}/members/{h}"} for h in hashes]
    sandbox_client(sandbox).batches.start({"operations": others})  # someone else's, just now
    sandbox.faults = FaultPlan(server_error=0.5, seed=1, operations=frozenset({"batches.start"}))
    c = connector(sandbox, batch_write_above=0)

    outcome = c.write([write_of(sandbox, n, stage="SQL") for n in range(10, 14)])

    assert len(outcome.written) == 4 and not outcome.failed
    assert c.calls()["batches.start"] == 2 and c.calls()["batches.list"] == 1
    assert len(sandbox.batches) == 2  # the other batch, and ours started once more
    assert member(sandbox, 13)["merge_fields"]["LS_STAGE"] == "SQL"  # type: ignore[index]


def test_a_stalled_batch_queue_holds_a_write_for_the_grace_only(sandbox: MailchimpSandbox) -> None:
    clock = Ticking()
    sandbox.batch_start_delay = 1e12  # Mailchimp's queue does not move
    try:
        c = connector(sandbox, batch_write_above=0, clock=clock)
        outcome = c.write([write_of(sandbox, n) for n in range(4)])
    finally:
        sandbox.batch_start_delay = BATCH_START_DELAY

    assert not outcome.written and len(outcome.failed) == 4
    assert all(f.retryable and "not finished" in f.reason for f in outcome.failed)
    assert WRITE_GRACE <= clock.at <= WRITE_GRACE + LONGEST_WAIT
    assert c.calls()["batches.status"] <= 30


def test_many_batches_are_waited_for_an_hour_at_most_in_all() -> None:
    from types import SimpleNamespace

    from connectors.mailchimp.batch import write_batched
    from connectors.mailchimp.write import MemberWrite

    clock = Ticking()
    begun: dict[str, float] = {}

    def call(operation: str, *args: object, **kwargs: object) -> dict[str, object]:
        if operation == "batches.start":
            begun[f"b{len(begun)}"] = clock.at
            return {"id": f"b{len(begun) - 1}"}
        # every batch of 10,000 pending for ever but the first, which moves 1 operation a second
        done = int(clock.at) if args[0] == "b0" else 0
        return {"status": "started", "total_operations": 10_000, "finished_operations": done}

    api = SimpleNamespace(policy=SimpleNamespace(clock=clock), call=call)
    tags = [{"name": "leadscore: A", "status": "active"}]
    members = [MemberWrite(f"L1:{i:032x}", "L1", f"{i:032x}", {"LS_SCORE": "1"}, tags)
               for i in range(20_000)]  # fmt: skip

    outcome = write_batched(api, members)  # type: ignore[arg-type]

    assert len(begun) == 4 and len(outcome.failed) == 20_000 and not outcome.written
    assert clock.at <= WRITE_GIVE_UP + LONGEST_WAIT


def test_failed_operations_inside_a_batch_are_kept_for_the_next_run(
    sandbox: MailchimpSandbox,
) -> None:
    sandbox.faults = FaultPlan(record_failure=0.5, seed=2)
    c = connector(sandbox, batch_write_above=0)

    outcome = c.write([write_of(sandbox, n) for n in range(20)])

    assert outcome.failed and outcome.written
    assert len(outcome.written) + len(outcome.failed) == 20
    assert all(f.retryable for f in outcome.failed)


def test_a_member_holding_its_stage_tag_gets_no_tag_operation(sandbox: MailchimpSandbox) -> None:
    c = connector(sandbox, batch_write_above=100)
    c.write([write_of(sandbox, 8, "MQL")])
    list(c.pull("contacts", None))

    c.write([write_of(sandbox, 8, "MQL", score="50")])

    assert c.calls()["lists.update_list_member_tags"] == 1
    assert member(sandbox, 8)["merge_fields"]["LS_SCORE"] == "50"  # type: ignore[index]


def test_tags_off_writes_merge_fields_only(sandbox: MailchimpSandbox) -> None:
    c = connector(sandbox, batch_write_above=100, tags=False)

    c.write([write_of(sandbox, 9)])

    assert "lists.update_list_member_tags" not in c.calls()
    assert not any(t.startswith("leadscore: ") for t in tags_of(member(sandbox, 9)))


def archive(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_a_results_archive_is_read_safely() -> None:
    good = json.dumps([{"status_code": 200, "operation_id": "a", "response": "{}"}]).encode()
    assert parse_archive(archive({"b/0.json": good, "../x.txt": b"ignored"})) == {"a": (200, "{}")}
    with pytest.raises(TransportError, match="not the JSON expected"):
        parse_archive(archive({"b/0.json": b"[{oops"}))
    with pytest.raises(TransportError, match="unreadable archive"):
        parse_archive(b"not a tar.gz")


class Ticking:
    """A clock that moves only when slept on."""

    def __init__(self) -> None:
        self.at = 0.0

    def now(self) -> float:
        return self.at

    def sleep(self, seconds: float) -> None:
        self.at += seconds


JSON = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
ITEM = st.fixed_dictionaries(
    {},
    optional={"id": JSON | st.text(min_size=1, max_size=6), "name": JSON | st.just("leadscore: MQL"),
              "total_operations": JSON | st.just("many") | st.just(8),
              "submitted_at": JSON | st.just("2026-11-01T12:00:00+00:00")},
) | JSON  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["batches", "segments", "total_items"]),
                       st.lists(ITEM, max_size=5) | JSON, max_size=3))  # fmt: skip
def test_listed_batches_and_segments_of_any_shape_are_read_or_counted(answer: dict) -> None:
    from collections import Counter
    from types import SimpleNamespace

    from connectors.mailchimp.batch import find_started
    from connectors.mailchimp.write import audience_stage_tags

    answers = iter([answer])
    api = SimpleNamespace(call=lambda *a, **k: next(answers, {}))
    skipped: Counter[str] = Counter()
    found = find_started(api, 8, set(), 0.0, skipped)  # type: ignore[arg-type]
    assert found is None or isinstance(found, str)
    listed = answer.get("batches")
    if isinstance(listed, list):
        assert skipped["batch"] <= len(listed)
    answers = iter([answer])
    tags = audience_stage_tags(api, "L1", skipped)  # type: ignore[arg-type]
    assert all(t.startswith("leadscore: ") for t in tags)


def test_a_triggers_write_uses_the_stage_tags_its_fetch_read_beside_the_member(
    sandbox: MailchimpSandbox,
) -> None:
    c = connector(sandbox)
    c.write([write_of(sandbox, 2, "MQL")])
    record = rid(sandbox, "p002@acme.io")
    before = sandbox.calls["lists.list_segments"]

    c.fetch(record)  # the member and the audience's stage tags, side by side
    assert sandbox.calls["lists.list_segments"] == before + 1
    c.write([write_of(sandbox, 2, "SQL")])

    assert sandbox.calls["lists.list_segments"] == before + 1  # not read again by the write
    tags = tags_of(member(sandbox, 2))
    assert "leadscore: SQL" in tags and "leadscore: MQL" not in tags
    c.stage_tags.FRESH_FOR = 0.0  # read too long ago: the write reads them again
    c.write([write_of(sandbox, 2, "MQL")])
    assert sandbox.calls["lists.list_segments"] == before + 2
    tags = tags_of(member(sandbox, 2))
    assert "leadscore: MQL" in tags and "leadscore: SQL" not in tags
