"""Mailchimp's 10 simultaneous connections, under stress: two connectors of one key pull
members, campaign activity and orders in small pages while they write merge fields and
stage tags (call by call and through /batches), all at once, with some answers slower than
the client waits. The sandbox counts every request from its arrival to its answer and
must never see more than 10 of the key at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from connectors.errors import TransportError
from connectors.mailchimp import archived, collections_walk, gate, pull
from connectors.mailchimp.connector import MailchimpConnector
from connectors.protocol import FieldSpec, Write
from sandbox.clock import SandboxClock
from sandbox.faults import FaultPlan, Latency
from sandbox.mailchimp import MailchimpSandbox
from sandbox.mailchimp.audience import member_contact_id
from sandbox.world.generate import generate_world
from tests.connectors.test_mailchimp_write import VendorClock

FIELDS = [
    FieldSpec("score", "LS_SCORE", "Lead score", "number"),
    FieldSpec("stage", "LS_STAGE", "Stage", "text"),
]
SLOW_READS = frozenset(
    {
        "lists.get_list_members_info",
        "reports.get_email_activity_for_campaign",
        "reports.get_all_campaign_reports",
        "campaigns.list",
        "ecommerce.get_store_orders",
        "batches.status",
    }
)
PAGE = 40


@pytest.fixture
def box() -> Iterator[MailchimpSandbox]:
    # vendor time 50 times real time: Mailchimp's 120 s limit on a request is 2.4 s here,
    # a margin of a second between its end and a slot given up on (`gate.leave_later`)
    # however late a busy machine runs the sandbox's threads
    with MailchimpSandbox(generate_world(300, seed=4), clock=SandboxClock(50)) as emulator:
        yield emulator


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of 40 (members walked 20 apart), so every stream makes many calls."""
    monkeypatch.setattr(pull, "PAGE", PAGE)
    monkeypatch.setattr(pull, "STEP", PAGE - pull.OVERLAP_MEMBERS)
    monkeypatch.setattr(archived, "PAGE", PAGE)
    monkeypatch.setattr(collections_walk, "PAGE_COUNT", PAGE)


def connector(box: MailchimpSandbox, seed: int, **options: object) -> MailchimpConnector:
    return MailchimpConnector(
        api_key=box.api_key, base_url=box.base_url, clock=VendorClock(box), seed=seed,
        **options,  # type: ignore[arg-type]
    )  # fmt: skip


def writes(box: MailchimpSandbox, rows: range, stage: str) -> list[Write]:
    audience = box.audience
    return [
        Write(
            f"{box.list_id}:{member_contact_id(audience.emails[r])}",
            {"LS_SCORE": str(r), "LS_STAGE": stage},
            audience.emails[r],
        )
        for r in rows
        if audience.status(r) not in ("archived",)
    ]


def drained(pages: Iterator[object]) -> int:
    return sum(1 for _ in pages)


def test_never_more_than_ten_connections_with_pulls_writes_tags_and_slow_answers(
    box: MailchimpSandbox, small_pages: None
) -> None:
    gate._gates.clear()  # this key's allowance starts whole
    connector(box, 0).setup(FIELDS)
    box.peak_connections = 0
    box.latency = Latency(fixed=1.0)  # 20 ms a call: calls overlap
    # some reads answer after 400 vendor s: Mailchimp ends them at 120 s, and the client
    # (waiting 50 vendor s) gives up well before, then tries them again
    box.faults = FaultPlan(slow=0.04, slow_seconds=400.0, seed=7, operations=SLOW_READS)
    first = connector(box, 1, timeout=1.0, batch_write_above=20)
    second = connector(box, 2, timeout=1.0, batch_write_above=20)
    work: list[Callable[[], object]] = [
        lambda: drained(first.pull("contacts", None)),
        lambda: drained(second.pull("email_activity", None)),
        lambda: drained(first.pull("orders", None)),
        lambda: first.write(writes(box, range(0, 120), "MQL")),  # through /batches
        lambda: second.write(writes(box, range(150, 165), "SQL")),  # call by call, with tags
    ]

    with ThreadPoolExecutor(len(work)) as pool:
        done = [f.result() for f in [pool.submit(w) for w in work]]

    assert done[0] and done[1]  # pages were pulled
    slow = [c for c in box.log if c.status == 0]  # ended at Mailchimp's limit, unanswered
    assert slow, "no answer was slower than the client waits: the test tests nothing"
    assert box.peak_connections <= 10
    assert not [c for c in box.log if c.status == 429]


def test_mailchimp_ends_a_request_at_120_seconds_unanswered_and_not_carried_out(
    box: MailchimpSandbox,
) -> None:
    box.faults = FaultPlan(slow=1.0, slow_seconds=400.0, seed=1)
    api = connector(box, 3, timeout=30.0).api
    began = box.clock.now()
    before = box.audience.member(0).merge_fields.get("LS_SCORE")
    with pytest.raises(TransportError):
        api.policy.attempts = 1
        api.call("lists.update_list_member", box.list_id, box.audience.emails[0],
                 {"merge_fields": {"FNAME": "Late"}})  # fmt: skip
    assert 120 <= box.clock.now() - began < 400
    assert box.audience.member(0).merge_fields.get("FNAME") != "Late"
    assert box.audience.member(0).merge_fields.get("LS_SCORE") == before


class StepClock:
    """A clock whose sleeps wait until a test moves it past their end."""

    def __init__(self) -> None:
        self.at = 0.0
        self.moved = threading.Condition()

    def now(self) -> float:
        return self.at

    def sleep(self, seconds: float) -> None:
        with self.moved:
            end = self.at + seconds
            self.moved.wait_for(lambda: self.at >= end, timeout=5)

    def move(self, seconds: float) -> None:
        with self.moved:
            self.at += seconds
            self.moved.notify_all()


def test_a_slot_given_up_on_stays_taken_until_mailchimps_limit_has_passed() -> None:
    cap = gate.ConnectionGate(2)
    clock = StepClock()
    cap.enter()
    cap.enter()
    cap.leave_later(gate.REQUEST_LIMIT, clock)
    time.sleep(0.05)
    assert cap.in_flight == 2  # the request may still hold a connection at Mailchimp
    clock.move(gate.REQUEST_LIMIT - 1)
    time.sleep(0.05)
    assert cap.in_flight == 2
    clock.move(1)
    deadline = time.monotonic() + 5
    while cap.in_flight != 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert cap.in_flight == 1
