"""The webhook core against the HubSpot sandbox, through an endpoint made for the tests.

The endpoint takes `{"ids": [...]}` and answers each record's result, so what is
checked here is the core's own work: sizes, routes, methods, the rescores side by
side, bursts, timeouts, refusals and the metrics. Real SDK, real store, real HTTP
to the emulator.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from connectors.errors import RateLimited
from sandbox import Sandbox
from scoring import RuleSet
from sync import Leadscore
from sync.demo import sandbox_settings
from sync.errors import NotConfigured
from sync.settings import Settings
from sync.trigger import queued_entries
from sync.web import core as core_module
from sync.web.core import WebhookCore
from sync.web.endpoint import Ask, Context, Outcome, score_payload
from sync.web.messages import BODY_LIMIT, Refused, WebhookRequest, WebhookResponse, json_response
from tests.sync.web.cloud import Counting, opened_on


@dataclass
class IdsEndpoint:
    name: str = "ids"
    path: str = "/ids"
    methods: frozenset[str] = frozenset({"POST"})
    system: str = "hubspot"
    timeout: float = 30.0
    asks: list[Ask] = field(default_factory=list)

    def configured(self, settings: Settings) -> bool:
        return True

    def ask(self, request: WebhookRequest, context: Context) -> Ask | WebhookResponse:
        try:
            ids = json.loads(request.body)["ids"]
        except (ValueError, KeyError, TypeError):
            raise Refused(400, 'expected {"ids": [...]}') from None
        ask = Ask(self.system, tuple(str(i) for i in ids))
        self.asks.append(ask)
        return ask

    def answer(self, ask: Ask, outcomes: Sequence[Outcome]) -> WebhookResponse:
        return json_response(
            200,
            [
                score_payload(o.result) if o.result else {"refused": o.refused.status}
                for o in outcomes
                if o.result or o.refused
            ],
        )

    def refused(self, refused: Refused) -> WebhookResponse:
        return refused.response()


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox(people=40, seed=5) as sandbox:
        yield sandbox


@pytest.fixture
def opened(box: Sandbox, rules: RuleSet, tmp_path: Path) -> Iterator[tuple[Leadscore, Counting]]:
    with opened_on(box, rules, tmp_path / "state.db") as app:
        yield app, Counting.installed(app)


def core_for(app: Leadscore, endpoint: IdsEndpoint, opens: list[int] | None = None) -> WebhookCore:
    def open_app(settings: Settings) -> Leadscore:
        if opens is not None:
            opens.append(1)
        return app

    return WebhookCore(app.settings, endpoints=[endpoint], open_app=open_app)


def post(core: WebhookCore, ids: Sequence[str], path: str = "/ids") -> WebhookResponse:
    return core.handle(
        WebhookRequest.of("POST", path, body=json.dumps({"ids": list(ids)}).encode())
    )


def ids_of(box: Sandbox, n: int) -> list[str]:
    return [str(row + 1) for row in range(n)]


def held_score(box: Sandbox, record: str) -> str | None:
    return box.hubspot.contacts.value("leadscore_score", int(record) - 1)


def test_health_sizes_routes_and_methods_never_open_the_application(opened: Any) -> None:
    app, _ = opened
    opens: list[int] = []
    core = core_for(app, IdsEndpoint(), opens)
    assert core.handle(WebhookRequest.of("GET", "/healthz")).json() == {"status": "ok"}
    assert core.handle(WebhookRequest.of("HEAD", "/healthz/")).status == 200
    wrong = core.handle(WebhookRequest.of("POST", "/healthz"))
    assert (wrong.status, wrong.headers["allow"]) == (405, "GET, HEAD")
    assert core.handle(WebhookRequest.of("GET", "/ids")).status == 405
    assert core.handle(WebhookRequest.of("POST", "/nowhere")).status == 404
    big = core.handle(WebhookRequest.of("POST", "/ids", body=b"x" * (BODY_LIMIT + 1)))
    assert big.status == 413 and "1 MB" in big.json()["error"]
    assert core.handle(WebhookRequest.of("POST", "/ids", body=b"{not json")).status == 400
    assert opens == []


def test_records_are_rescored_written_and_counted(opened: Any, box: Sandbox) -> None:
    app, _ = opened
    core = core_for(app, IdsEndpoint())
    ids = ids_of(box, 3)
    answer = post(core, ids)
    assert answer.status == 200
    results = answer.json()
    assert [r["record"] for r in results] == ids
    assert all(r["status"] == "done" and isinstance(r["score"], int) for r in results)
    for record, result in zip(ids, results, strict=True):
        assert held_score(box, record) == str(result["score"])
    metrics = core.handle(WebhookRequest.of("GET", "/metrics"))
    assert metrics.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = metrics.body.decode()
    assert 'leadscore_requests_total{endpoint="ids",status="200"} 1' in text
    written = sum(r["written"] for r in results)
    assert f'leadscore_scores_written_total{{system="hubspot"}} {written}' in text
    assert 'leadscore_request_seconds_count{endpoint="ids"} 1' in text
    assert 'le="+Inf"} 1' in text


def test_an_unknown_contact_is_a_404_and_writes_nothing(opened: Any, box: Sandbox) -> None:
    app, _ = opened
    core = core_for(app, IdsEndpoint())
    updates = box.hubspot.calls["contacts.batch_update"]
    answer = post(core, ["987654321"])
    assert answer.json() == [{"refused": 404}]
    assert box.hubspot.calls["contacts.batch_update"] == updates


def test_a_burst_for_one_record_fetches_twice_and_writes_once(opened: Any, box: Sandbox) -> None:
    # The first ask's fetch is held; 19 more arrive meanwhile. They must not take its
    # result (it fetched before they asked), so they share one more rescore.
    app, counting = opened
    core = core_for(app, IdsEndpoint())
    record = ids_of(box, 1)[0]
    counting.hold = threading.Event()
    answers: list[WebhookResponse] = []

    def ask() -> None:
        answers.append(post(core, [record]))

    first = threading.Thread(target=ask)
    first.start()
    while counting.fetches == 0:
        first.join(0.01)
    others = [threading.Thread(target=ask) for _ in range(19)]
    for thread in others:
        thread.start()
    while core._flights.waiting(("hubspot", record)) < 19:
        first.join(0.01)
    counting.hold.set()
    for thread in [first, *others]:
        thread.join(60)
    assert len(answers) == 20 and all(a.status == 200 for a in answers)
    assert counting.fetches == 2
    results = [a.json()[0] for a in answers]
    assert sum(r["written"] for r in results) == 1
    assert len({r["score"] for r in results}) == 1


def test_work_past_the_callers_timeout_is_queued_and_fetched_once(
    opened: Any, box: Sandbox
) -> None:
    app, counting = opened
    core = core_for(app, IdsEndpoint(timeout=1.0))
    counting.hold = threading.Event()
    record = ids_of(box, 1)[0]
    try:
        answer = post(core, [record])
        assert [e.record_id for e in queued_entries(app.store, ["hubspot"])] == [record]
    finally:
        counting.hold.set()
    assert answer.json() == [{"record": record, "status": "queued"}]
    core.close()  # the late rescore ends and writes; its fetch began after the ask
    assert counting.fetches == 1
    assert queued_entries(app.store, ["hubspot"]) == []
    assert held_score(box, record) is not None


def test_rescores_not_begun_by_the_callers_timeout_are_called_off(
    opened: Any, box: Sandbox
) -> None:
    app, counting = opened
    core = WebhookCore(
        app.settings, endpoints=[IdsEndpoint(timeout=1.0)], open_app=lambda s: app, workers=1
    )
    counting.hold = threading.Event()
    records = ids_of(box, 3)
    try:
        answer = post(core, records)
    finally:
        counting.hold.set()
    assert [r["status"] for r in answer.json()] == ["queued"] * 3
    core.close()
    assert counting.fetches == 1  # the two not begun never ran; the queue has them
    queued = {e.record_id for e in queued_entries(app.store, ["hubspot"])}
    assert queued == set(records[1:])


def test_the_callers_time_counts_from_its_arrival_and_a_failed_opening_is_remembered(
    opened: Any, box: Sandbox
) -> None:
    app, counting = opened
    opens: list[float] = []
    stop = threading.Event()

    def slow_open(settings: Settings) -> Leadscore:
        opens.append(1)
        stop.wait(0.6)
        return app

    core = WebhookCore(app.settings, endpoints=[IdsEndpoint(timeout=1.2)], open_app=slow_open)
    counting.hold = threading.Event()
    began = time.monotonic()
    try:
        answer = post(core, ids_of(box, 1))
    finally:
        counting.hold.set()
    assert answer.json()[0]["status"] == "queued"
    assert time.monotonic() - began < 1.2  # the opening's 0.6 s came out of the 0.9 s
    core.close()

    def broken_open(settings: Settings) -> Leadscore:
        opens.append(1)
        raise NotConfigured("no system is configured")

    opens.clear()
    failing = WebhookCore(app.settings, endpoints=[IdsEndpoint()], open_app=broken_open)
    answers = [post(failing, ids_of(box, 1)) for _ in range(3)]
    assert [a.status for a in answers] == [503] * 3
    assert "no system is configured" in answers[0].json()["error"]
    assert len(opens) == 1


def test_a_rate_limited_system_asks_the_caller_to_come_back(opened: Any, box: Sandbox) -> None:
    app, counting = opened
    core = core_for(app, IdsEndpoint())
    counting.fail_all = RateLimited(
        "hubspot", "contacts.get", "slow down", status=429, retry_after=7
    )
    assert post(core, ids_of(box, 1)).json() == [{"refused": 429}]


def test_an_endpoint_refusal_is_answered_and_logged_without_the_body(
    opened: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app, _ = opened
    core = core_for(app, IdsEndpoint())
    answer = core.handle(WebhookRequest.of("POST", "/ids", body=b'{"secret-ish": "hunter2"}'))
    assert answer.status == 400
    assert "hunter2" not in caplog.text
    assert any(getattr(r, "status", None) == 400 for r in caplog.records)


def test_a_portal_that_lacks_the_fields_is_told_until_set_up_and_nothing_is_written(
    box: Sandbox, rules: RuleSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = sandbox_settings(box, f"sqlite:///{tmp_path / 'state.db'}")
    with Leadscore.open(settings, rules=rules, pace=box.clock) as app:  # never set up
        core = core_for(app, IdsEndpoint())
        answers = [post(core, ["1"]).json() for _ in range(2)]
        checks = box.hubspot.calls["properties.list"]
        fetched = box.hubspot.calls["contacts.get"]
        stored = app.store.counts()
        app.setup()
        after_setup = post(core, ["1"]).json()  # within the check's memory: still told
        monkeypatch.setattr(core_module, "OPEN_FAILED_FOR", 0.0)
        checked_again = post(core, ["1"]).json()
        core.close()

    assert answers == [[{"refused": 503}]] * 2 and after_setup == [{"refused": 503}]
    assert checks == 1 and fetched == 2  # one check for the process, beside each fetch
    assert stored["identities"] == stored["written"] == 0
    assert box.hubspot.calls["contacts.batch_update"] == 1  # only once set up and checked
    assert checked_again[0]["status"] == "done" and checked_again[0]["record"] == "1"
