"""A trigger's fetch of one HubSpot contact: its rounds of calls, and its patience.

Rounds are counted from the emulator's own log (`sandbox.http.sequential_rounds`: the
longest chain of calls each served after the one before it ended), every answer 200 ms
late, so calls made side by side overlap whatever the machine's load does to our
threads. The fetch gives what the one-call-at-a-time fetch gave (the other HubSpot
tests hold it to that); here it must take two rounds, and a trigger three with its
write, in a warm process.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.errors import RateLimited
from connectors.hubspot import HubSpotConnector
from connectors.hubspot.client import OBJECT_KINDS
from connectors.policy import patience
from sandbox import FaultPlan, Latency, Sandbox
from sandbox.http import LoggedCall, sequential_rounds
from scoring import load_rules
from sync import Leadscore
from sync.demo import sandbox_settings
from sync.trigger import rescore_record

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


def served_during(box: Sandbox, call: object) -> list[LoggedCall]:
    before = len(box.hubspot.log)
    assert callable(call)
    call()
    return box.hubspot.log[before:]


def test_a_warm_fetch_takes_two_rounds_whatever_the_contact_holds(box: Sandbox) -> None:
    hubspot = HubSpotConnector(box.hubspot.token, host=box.hubspot.base_url, tier="enterprise")
    first, *others = busiest(box, 4)
    cold = served_during(box, lambda: hubspot.fetch(first))
    for record in others:
        calls = served_during(box, lambda r=record: hubspot.fetch(r))
        operations = {c.operation for c in calls}
        # the contact, its views and submissions; its events and objects by batch read
        assert {"contacts.get", "web_events.list", "contacts.profile"} <= operations
        assert {"email.events", "objects.batch_read"} <= operations
        assert not operations & {"forms.list", "pipelines.list", "objects.get"}  # kept
        assert sequential_rounds(calls) == 2, [c.operation for c in calls]
    assert {"forms.list", "pipelines.list"} <= {c.operation for c in cold}  # read once


def test_a_warm_trigger_takes_three_rounds_with_its_write(box: Sandbox, tmp_path: Path) -> None:
    settings = sandbox_settings(box, f"sqlite:///{tmp_path / 'state.db'}")
    first, *others = busiest(box, 3)
    with Leadscore.open(settings, rules=load_rules(RULES), pace=box.clock) as app:
        app.setup()
        app.rescore(f"hubspot:{first}")
        for record in others:
            done = None

            def trigger(r: str = record) -> None:
                nonlocal done
                done = rescore_record(app.job, "hubspot", r)

            calls = served_during(box, trigger)
            assert done is not None and done.written == {"hubspot": [record]}
            assert sequential_rounds(calls) == 3, [c.operation for c in calls]


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
