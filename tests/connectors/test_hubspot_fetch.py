"""A trigger's fetch of one HubSpot contact: its rounds of calls, and its patience.

Rounds are counted by cause, not by time (`Rounds`): each call made is one round after
the calls made before it in its own thread of work, and a step of calls side by side
ends at its longest branch, so the count is the same however the machine's load moves
our threads. The fetch gives what the one-call-at-a-time fetch gave (the other HubSpot
tests hold it to that); here it must take two rounds, and a trigger three with its
write, in a warm process. The emulator answers 200 ms late, as a real portal would be.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

import connectors.hubspot.connector as connector_module
import connectors.hubspot.fetch as hubspot_fetch
from connectors.errors import RateLimited
from connectors.hubspot import HubSpotConnector
from connectors.hubspot.client import OBJECT_KINDS
from connectors.paging import side_by_side
from connectors.policy import CallPolicy, patience
from sandbox import FaultPlan, Latency, Sandbox
from sandbox.http import LoggedCall, sequential_rounds
from scoring import load_rules
from sync import Leadscore
from sync.demo import sandbox_settings
from sync.trigger import Rescored, rescore_record

RULES = Path(__file__).parents[2] / "scoring" / "rulesets" / "default.yaml"
LATE = 0.2


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    with Sandbox(people=60, seed=5, latency=Latency(LATE), hubspot_tier="enterprise") as sandbox:
        yield sandbox


def busiest(box: Sandbox, count: int) -> list[str]:
    """The contacts with the most kinds of associated objects, most first."""
    objects = box.hubspot.objects
    ids = range(1, box.hubspot.contacts.size + 1)
    kinds = {i: sum(bool(objects.linked(i, k)) for k in OBJECT_KINDS) for i in ids}
    return [str(i) for i in sorted(kinds, key=lambda i: -kinds[i])[:count]]


def served_during(box: Sandbox, call: Callable[[], object]) -> list[LoggedCall]:
    before = len(box.hubspot.log)
    call()
    return box.hubspot.log[before:]


class Rounds:
    """The calls of a policy counted by cause: a call is one round after the last one
    its context made, and `side_by_side` ends at its calls' longest chain."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, policy: CallPolicy) -> None:
        self.depth: contextvars.ContextVar[int] = contextvars.ContextVar("rounds", default=0)
        inner = policy.call

        def call(operation: str, *args: object, **kwargs: object) -> object:
            after = self.depth.get() + 1
            answer = inner(operation, *args, **kwargs)  # type: ignore[arg-type]
            self.depth.set(after)
            return answer

        def at_once(calls: Sequence[Callable[[], object]], workers: int = 4) -> list[object]:
            def ended(call: Callable[[], object]) -> Callable[[], tuple[object, int]]:
                return lambda: (call(), self.depth.get())

            answers = side_by_side([ended(c) for c in calls], workers)
            self.depth.set(max([self.depth.get(), *(depth for _, depth in answers)]))
            return [answer for answer, _ in answers]

        monkeypatch.setattr(policy, "call", call)
        monkeypatch.setattr(hubspot_fetch, "side_by_side", at_once)
        self.depth_of_fetch = 0
        fetch = hubspot_fetch.fetch_contact

        def fetch_contact(*args: object) -> object:
            answer = fetch(*args)  # type: ignore[arg-type]
            self.depth_of_fetch = self.depth.get()
            return answer

        monkeypatch.setattr(connector_module, "fetch_contact", fetch_contact)

    def of(self, call: Callable[[], object]) -> int:
        """The rounds `call` takes, run in a context of its own."""

        def counted() -> int:
            self.depth.set(0)
            call()
            return self.depth.get()

        return contextvars.copy_context().run(counted)


def test_a_warm_fetch_takes_two_rounds_whatever_the_contact_holds(
    box: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    hubspot = HubSpotConnector(box.hubspot.token, host=box.hubspot.base_url, tier="enterprise")
    rounds = Rounds(monkeypatch, hubspot.policy)
    first, *others = busiest(box, 4)
    cold = served_during(box, lambda: hubspot.fetch(first))
    for record in others:
        calls = served_during(box, lambda r=record: rounds.of(lambda: hubspot.fetch(r)))
        operations = {c.operation for c in calls}
        # the contact, its views and submissions; its events and objects by batch read
        assert {"contacts.get", "web_events.list", "contacts.profile"} <= operations
        assert {"email.events", "objects.batch_read"} <= operations
        assert not operations & {"forms.list", "pipelines.list", "objects.get"}  # kept
        assert rounds.of(lambda r=record: hubspot.fetch(r)) == 2, sorted(operations)
    assert {"forms.list", "pipelines.list"} <= {c.operation for c in cold}  # read once


def test_a_warm_trigger_takes_three_rounds_with_its_write(
    box: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = sandbox_settings(box, f"sqlite:///{tmp_path / 'state.db'}")
    first, *others = busiest(box, 3)
    with Leadscore.open(settings, rules=load_rules(RULES), pace=box.clock) as app:
        app.setup()
        app.rescore(f"hubspot:{first}")
        rounds = Rounds(monkeypatch, app.job.connectors[0].policy)
        for record in others:
            done: list[Rescored] = []

            def trigger(r: str = record, into: list[Rescored] = done) -> None:
                into.append(rescore_record(app.job, "hubspot", r))

            calls = served_during(box, lambda: rounds.of(trigger))
            fetched = [c for c in calls if c.operation != "contacts.batch_update"]
            [write] = [c for c in calls if c.operation == "contacts.batch_update"]
            assert done[0].written == {"hubspot": [record]}
            # two rounds in the trigger's own thread (the sync's write path has threads
            # of its own), then one write, asked once every read was answered: three
            assert rounds.depth_of_fetch == 2
            assert write.began >= max(c.at for c in fetched)


def test_patience_holds_in_the_fetchs_worker_threads(box: Sandbox) -> None:
    hubspot = HubSpotConnector(box.hubspot.token, host=box.hubspot.base_url, tier="enterprise")
    first, second = busiest(box, 2)
    hubspot.fetch(first)
    # Round 2 runs in the pool's threads: a 429 asking for 30 s must give up there at once.
    box.hubspot.faults = FaultPlan(
        rate_limited=1.0, retry_after=30, operations=frozenset({"email.events"})
    )
    try:
        began = time.monotonic()
        with patience(5.0), pytest.raises(RateLimited) as refused:
            hubspot.fetch(second)
        took = time.monotonic() - began
    finally:
        box.hubspot.faults = FaultPlan()
    assert refused.value.retry_after == 30
    assert took < 4.0  # two rounds of 200 ms, not the 30 s the vendor asked for


def test_rounds_are_the_longest_chain_of_calls_each_after_the_last() -> None:
    def call(began: float, ended: float) -> LoggedCall:
        return LoggedCall(ended, "GET", "/", "op", 200, began)

    side_by_side = [call(0.0, 1.0), call(0.1, 1.1), call(0.2, 0.9)]
    assert sequential_rounds(side_by_side) == 1
    assert sequential_rounds([*side_by_side, call(1.2, 2.0), call(2.0, 3.0)]) == 3
    assert sequential_rounds([call(0.0, 1.0), call(0.5, 1.5), call(1.2, 2.0)]) == 2
    assert sequential_rounds([]) == 0


def test_a_cold_fetch_reads_the_forms_list_once_as_its_probe(box: Sandbox) -> None:
    hubspot = HubSpotConnector(box.hubspot.token, host=box.hubspot.base_url, tier="enterprise")
    records = busiest(box, 8)
    cold = [c.operation for c in served_during(box, lambda: hubspot.fetch(records[0]))]
    assert cold.count("forms.list") == 1  # the list itself tells that forms can be read
    pages = [hubspot.fetch(r) for r in records]
    submitted = [a for p in pages for a in p.activities if a.id and a.id.startswith("form:")]
    assert submitted and all(a.attributes.get("form") for a in submitted)
