"""The Cloud Functions entry points under the real functions-framework: the HTTP function
through Flask's test client, the scheduled one fed Pub/Sub CloudEvents (structured and
binary) that run a sync on the HubSpot sandbox."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from functions_framework import create_app

from sandbox import Sandbox
from sync import Leadscore
from sync.web import serverless
from sync.web.core import WebhookCore
from sync.web.gcp import pubsub_mode
from sync.web.messages import BODY_LIMIT
from tests.sync.web.cloud import box, echo_core, event, install_core, opened

__all__ = ["box", "echo_core", "opened"]  # fixtures used here

SOURCE = str(Path(__file__).parents[3] / "sync" / "web" / "gcp.py")
STRUCTURED = {"Content-Type": "application/cloudevents+json"}


FRAMEWORK_VARIABLES = ("FUNCTION_TARGET", "FUNCTION_SIGNATURE_TYPE", "FUNCTION_TRIGGER_TYPE",
                       "FUNCTION_NAME")  # fmt: skip
"""What functions-framework's `create_app` sets in the process's environment for good."""


@pytest.fixture(autouse=True)
def framework_variables_undone() -> Iterator[None]:
    """The test's app leaves no platform variable behind for later tests and the children
    they start (`sync.entry.cold_start` reads FUNCTION_TARGET)."""
    before = {name: os.environ.get(name) for name in FRAMEWORK_VARIABLES}
    yield
    for name, value in before.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def client(target: str, signature: str) -> FlaskClient:
    return create_app(target=target, source=SOURCE, signature_type=signature).test_client()


def published(payload: bytes) -> dict[str, Any]:
    """The documented Pub/Sub CloudEvent, its message's data replaced by `payload`."""
    sample = event("gcp_pubsub_cloudevent_structured")
    sample["data"]["message"]["data"] = base64.b64encode(payload).decode()
    return sample


def test_the_http_function_answers_health_and_endpoints(echo_core: WebhookCore) -> None:
    http = client("http", "http")
    health = http.get("/healthz")
    assert (health.status_code, health.get_json()) == (200, {"status": "ok"})
    assert http.post("/healthz").headers["allow"] == "GET, HEAD"
    assert http.post("/nowhere").status_code == 404

    shown = http.post(
        "/echo?a=1&a=2", data=b"\x00raw", headers={"X-Leadscore-Secret": "s", "X-Two": "b"}
    )

    assert shown.status_code == 200 and shown.headers["x-echo"] == "1"
    got = shown.get_json()
    assert (got["method"], got["path"], got["query"]) == ("POST", "/echo", "a=1&a=2")
    assert got["url"] == "http://localhost/echo?a=1&a=2"
    assert base64.b64decode(got["body"]) == b"\x00raw"
    assert got["headers"]["x-leadscore-secret"] == "s" and got["headers"]["x-two"] == "b"
    big = http.post("/echo", data=b"x" * (BODY_LIMIT + 10))
    assert big.status_code == 413


def test_the_url_is_the_one_the_caller_used_behind_googles_front_end(
    echo_core: WebhookCore,
) -> None:
    """Google's front end ends TLS and hands the function plain HTTP, saying the caller's
    scheme in X-Forwarded-Proto: the URL a HubSpot signature covers is the https one."""
    http = client("http", "http")
    got = http.post(
        "/echo?a=%20b",
        base_url="http://leadscore-webhooks-12345.europe-west1.run.app",
        headers={"X-Forwarded-Proto": "https"},
    ).get_json()
    assert got["url"] == "https://leadscore-webhooks-12345.europe-west1.run.app/echo?a=%20b"
    plain = http.post("/echo", headers={"X-Forwarded-Proto": "http, https"}).get_json()
    assert plain["url"] == "http://localhost/echo"


def test_the_http_function_without_usable_settings_says_so_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    serverless.use_core(None)
    monkeypatch.setenv("LEADSCORE_STATE_URL", "postgresql://u:hunter2@db.example/x")
    monkeypatch.setenv("LEADSCORE_LOG_FORMAT", "xml")
    answer = client("http", "http").get("/healthz")
    assert answer.status_code == 503 and b"hunter2" not in answer.data
    assert answer.get_json() == {"error": "leadscore is not configured"}


def test_a_scheduler_message_runs_a_sync(opened: Leadscore, box: Sandbox) -> None:
    core = install_core(opened, schedule_seconds=300.0)
    try:
        scheduled = client("scheduled", "cloudevent")
        answer = scheduled.post(
            "/", data=json.dumps(published(b'{"mode": "incremental"}')), headers=STRUCTURED
        )
        assert answer.status_code == 200
        first = opened.store.runs(1)[0]
        assert (first.mode, first.status) == ("incremental", "ok")

        binary = published(b"")
        answer = scheduled.post(
            "/",
            json=binary["data"],
            headers={
                "ce-specversion": "1.0",
                "ce-type": binary["type"],
                "ce-source": binary["source"],
                "ce-id": "2",
            },
        )
        assert answer.status_code == 200 and opened.store.runs(1)[0].id != first.id
    finally:
        serverless.use_core(None)
        core._pool.shutdown(wait=True)


def test_a_short_schedule_cuts_the_run_short(opened: Leadscore) -> None:
    core = install_core(opened, schedule_seconds=0.001)
    try:
        client("scheduled", "cloudevent").post(
            "/", data=json.dumps(published(b"")), headers=STRUCTURED
        )
        assert opened.store.runs(1)[0].status == "partial"
    finally:
        serverless.use_core(None)
        core._pool.shutdown(wait=True)


def test_a_message_not_understood_runs_nothing(opened: Leadscore) -> None:
    core = install_core(opened)
    try:
        # the documented sample's own data: "test message 3"
        sample = event("gcp_pubsub_cloudevent_structured")
        answer = client("scheduled", "cloudevent").post(
            "/", data=json.dumps(sample), headers=STRUCTURED
        )
        assert answer.status_code == 200 and opened.store.runs(1) == []
    finally:
        serverless.use_core(None)
        core._pool.shutdown(wait=True)


@pytest.mark.parametrize(
    ("data", "full"),
    [
        ({"message": {}}, False),
        ({"message": {"data": ""}}, False),
        ({"message": {"data": base64.b64encode(b'{"mode": "full"}').decode()}}, True),
        ({"message": {"data": base64.b64encode(b" {} \n").decode()}}, False),
        ({"message": {"data": base64.b64encode(b'{"mode": "weekly"}').decode()}}, None),
        ({"message": {"data": base64.b64encode(b'{"mode": "full", "x": 1}').decode()}}, None),
        ({"message": {"data": base64.b64encode(b"[1]").decode()}}, None),
        ({"message": {"data": "%%%"}}, None),
        ({"message": {"data": base64.b64encode(b"\xff").decode()}}, None),
        ({"message": "x"}, None),
        (None, None),
        ("text", None),
    ],
)
def test_pubsub_messages_name_the_mode(data: Any, full: bool | None) -> None:
    assert pubsub_mode(data) is full
