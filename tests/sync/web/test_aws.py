"""The Lambda handler on the documented sample events: API Gateway HTTP API (2.0), REST API
(1.0), Function URL, EventBridge schedules. HTTP events reach `/healthz` and an endpoint
that answers with the request the core was handed; scheduled ones run a sync on the
HubSpot sandbox, cut short when Lambda's time is short."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox import Sandbox
from sync import Leadscore
from sync.settings import Settings
from sync.web import serverless
from sync.web.aws import handler
from sync.web.core import WebhookCore
from tests.sync.web.cloud import (
    LambdaContext,
    box,
    echo_core,
    event,
    install_core,
    opened,
    sandbox_core,
)

__all__ = ["box", "echo_core", "opened", "sandbox_core"]  # fixtures used here

LONG = LambdaContext(900_000)


def v2(name: str, method: str, path: str, query: str = "", body: str = "") -> dict[str, Any]:
    sample = event(name)
    sample["rawPath"], sample["rawQueryString"] = path, query
    sample["requestContext"]["http"].update(method=method, path=path)
    sample["body"] = body
    return sample


def v1(method: str, path: str, body: str | None = None) -> dict[str, Any]:
    """The REST API sample (a `/{proxy+}` resource) for `path`, its path parameter with it."""
    sample = event("apigw_rest_v1")
    sample.update(path=path, httpMethod=method, body=body)
    sample["pathParameters"] = {"proxy": path.lstrip("/")}
    sample["requestContext"]["httpMethod"] = method
    return sample


def echoed(answer: dict[str, Any]) -> dict[str, Any]:
    assert answer["statusCode"] == 200, answer
    assert answer["isBase64Encoded"] is False and answer["headers"]["x-echo"] == "1"
    shown: dict[str, Any] = json.loads(answer["body"])
    shown["body"] = base64.b64decode(shown["body"])
    return shown


@pytest.mark.parametrize("name", ["apigw_http_v2", "lambda_function_url"])
def test_payload_2_events_reach_health_and_endpoints(name: str, echo_core: WebhookCore) -> None:
    health = handler(v2(name, "GET", "/healthz"), LONG)
    assert health["statusCode"] == 200 and json.loads(health["body"]) == {"status": "ok"}
    assert health["headers"]["content-type"] == "application/json"

    shown = echoed(handler(v2(name, "POST", "/echo", "a=1&a=2&b=%20x", "Hello"), LONG))

    host = event(name)["requestContext"]["domainName"]
    assert shown["url"] == f"https://{host}/echo?a=1&a=2&b=%20x"
    assert (shown["method"], shown["path"], shown["body"]) == ("POST", "/echo", b"Hello")
    assert shown["params"] == {"a": "2", "b": " x"}
    assert shown["headers"]["header2"] == "value1,value2"
    assert shown["headers"]["cookie"] == "cookie1; cookie2"


def test_a_named_stage_of_an_http_api_is_routed_without_it(echo_core: WebhookCore) -> None:
    """An HTTP API's stage other than `$default` leads `rawPath` (`/prod/echo`): the
    route is read without it, the URL a caller signed keeps it."""
    sample = v2("apigw_http_v2", "POST", "/prod/echo", "a=1", "Hello")
    sample["requestContext"]["stage"] = "prod"
    shown = echoed(handler(sample, LONG))
    assert shown["path"] == "/echo"
    assert shown["url"] == "https://id.execute-api.us-east-1.amazonaws.com/prod/echo?a=1"
    health = v2("apigw_http_v2", "GET", "/prod/healthz")
    health["requestContext"]["stage"] = "prod"
    assert handler(health, LONG)["statusCode"] == 200
    # A custom domain maps a stage to its own paths: nothing is taken off them.
    mapped = v2("apigw_http_v2", "POST", "/prod/echo")
    mapped["requestContext"].update(stage="prod", domainName="hooks.example.com")
    assert handler(mapped, LONG)["statusCode"] == 404


def test_a_custom_domains_base_path_before_a_route_is_taken_off_by_the_public_url(
    tmp_path: Any,
) -> None:
    """An HTTP API on a custom domain whose mapping key is `leadscore` may hand over
    `/leadscore/echo`: with `LEADSCORE_PUBLIC_URL` naming that path, it is routed to
    `/echo`, whose signature covers the public URL and the route; without it, 404."""
    from tests.sync.web.cloud import EchoEndpoint

    def no_app(settings: Settings) -> Leadscore:
        raise AssertionError("the echo core opens no application")

    mapped = v2("apigw_http_v2", "POST", "/leadscore/echo", "a=1", "Hello")
    mapped["requestContext"]["domainName"] = "hooks.example.com"
    for public_url, status in (("https://hooks.example.com/leadscore/", 200), (None, 404)):
        settings = Settings(state_url=f"sqlite:///{tmp_path / 'unused.db'}", public_url=public_url)
        core = WebhookCore(settings, endpoints=[EchoEndpoint()], open_app=no_app)
        serverless.use_core(core)
        try:
            answer = handler(mapped, LONG)
            other = handler(v2("apigw_http_v2", "POST", "/elsewhere/echo"), LONG)
        finally:
            serverless.use_core(None)
            core.close()
        assert answer["statusCode"] == status and other["statusCode"] == 404
        if status == 200:
            assert echoed(answer)["path"] == "/echo"


def test_a_base64_body_is_decoded(echo_core: WebhookCore) -> None:
    sample = v2("apigw_http_v2", "POST", "/echo", body=base64.b64encode(b"\x00\xffbin").decode())
    sample["isBase64Encoded"] = True
    assert echoed(handler(sample, LONG))["body"] == b"\x00\xffbin"
    sample["body"] = "not base64!"
    unreadable = handler(sample, LONG)
    assert unreadable["statusCode"] == 400 and "cannot read" in unreadable["body"]


def test_a_rest_api_event_keeps_its_stage_in_the_url_and_every_value(
    echo_core: WebhookCore,
) -> None:
    health = handler(v1("GET", "/healthz"), LONG)
    assert health["statusCode"] == 200 and json.loads(health["body"]) == {"status": "ok"}

    shown = echoed(handler(v1("POST", "/echo", '{\r\n\t"a": 1\r\n}'), LONG))

    assert shown["url"] == (
        "https://gy415nuibc.execute-api.us-east-1.amazonaws.com/testStage/echo"
        "?name=me&multivalueName=you&multivalueName=me"
    )
    assert shown["path"] == "/echo" and shown["body"] == b'{\r\n\t"a": 1\r\n}'
    assert shown["headers"]["content-type"] == "application/json"
    assert shown["headers"]["x-forwarded-for"] == "54.240.196.186, 54.182.214.83"


def test_a_rest_api_on_a_custom_domain_routes_without_its_base_path(
    echo_core: WebhookCore,
) -> None:
    """A custom domain's base path mapping (`hooks.example.com/leadscore` -> the API) puts
    its base path in `path`: the route is the resource with its path parameters."""
    sample = v1("POST", "/leadscore/echo", "Hello")
    sample["pathParameters"] = {"proxy": "echo"}
    sample["requestContext"].update(domainName="hooks.example.com", path="/leadscore/echo")
    shown = echoed(handler(sample, LONG))
    assert shown["path"] == "/echo"
    assert shown["url"].startswith("https://hooks.example.com/leadscore/echo?")
    literal = v1("GET", "/leadscore/healthz")
    literal.update(resource="/healthz", pathParameters=None)
    assert handler(literal, LONG)["statusCode"] == 200
    unfilled = v1("GET", "/healthz")
    unfilled["pathParameters"] = {"other": 1}
    assert handler(unfilled, LONG)["statusCode"] == 200  # the path, as it came


def test_refusals_and_odd_bodies_keep_their_status(echo_core: WebhookCore) -> None:
    missing = handler(v2("apigw_http_v2", "POST", "/nowhere"), LONG)
    assert missing["statusCode"] == 404 and json.loads(missing["body"]) == {
        "error": "no such endpoint"
    }
    wrong = handler(v1("DELETE", "/healthz"), LONG)
    assert wrong["statusCode"] == 405 and wrong["headers"]["allow"] == "GET, HEAD"
    metrics = handler(v2("apigw_http_v2", "GET", "/metrics"), LONG)
    assert metrics["statusCode"] == 200 and not metrics["isBase64Encoded"]
    assert "leadscore_requests_total" in metrics["body"]


def test_an_unknown_event_is_a_400_logged_by_its_keys(
    echo_core: WebhookCore, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, "leadscore.web"):
        answer = handler({"Records": [{"body": "sk-secret-value"}]}, LONG)
        handler(["a", "list"], LONG)
    assert answer["statusCode"] == 400 and "sk-secret-value" not in answer["body"]
    assert [getattr(r, "keys", None) for r in caplog.records] == [["Records"], ["list"]]
    assert "sk-secret-value" not in caplog.text


def test_settings_that_cannot_be_read_answer_without_their_values(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    serverless.use_core(None)
    monkeypatch.setenv("LEADSCORE_STATE_URL", "postgresql://u:hunter2@db.example/x")
    monkeypatch.setenv("LEADSCORE_LOG_LEVEL", "LOUD")
    with caplog.at_level(logging.INFO):
        answer = handler(v2("apigw_http_v2", "GET", "/healthz"), LONG)
        run = handler(event("eventbridge_scheduled"), LONG)
    assert answer["statusCode"] == 503
    assert run["status"] == "failed" and "LEADSCORE_LOG_LEVEL" in run["error"]
    assert "hunter2" not in json.dumps([answer, run]) + caplog.text


def test_a_store_that_cannot_be_opened_fails_the_run_by_its_kind_only(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    serverless.use_core(None)
    monkeypatch.setenv("LEADSCORE_STATE_URL", "postgresql+psycopg://u:hunter2@127.0.0.1:1/x")
    try:
        with caplog.at_level(logging.INFO):
            run = handler(event("eventbridge_scheduled"), LONG)
    finally:
        serverless.use_core(None)
    assert run["status"] == "failed" and run["error"]
    assert "hunter2" not in json.dumps(run) + caplog.text


def test_a_scheduled_event_runs_a_sync(sandbox_core: WebhookCore, box: Sandbox) -> None:
    run = handler(event("eventbridge_scheduled"), LONG)

    assert (run["mode"], run["status"], run["error"]) == ("incremental", "ok", None)
    written = run["systems"]["hubspot"]["written"]
    assert run["persons"] > 0 and written == run["changed"] > 0
    contacts = box.hubspot.contacts
    held = [
        contacts.value("leadscore_score", row)
        for row in range(len(contacts.columns["leadscore_score"]))
    ]
    assert sum(score is not None for score in held) == written
    again = handler(
        {"source": "aws.scheduler", "detail-type": "Scheduled Event", "detail": "{}"}, LONG
    )
    assert again["status"] == "ok" and again["systems"]["hubspot"]["written"] == 0
    full = handler({"mode": "full"}, None)
    assert (full["mode"], full["status"]) == ("full", "ok")


def test_a_short_remaining_time_cuts_the_run_short(opened: Leadscore, box: Sandbox) -> None:
    core = install_core(opened)
    try:
        cut = handler(event("eventbridge_scheduled"), LambdaContext(0))
        assert cut["status"] == "partial" and cut["warnings"]
        assert cut["systems"]["hubspot"]["written"] == 0
        assert opened.store.runs(1)[0].status == "partial"
        whole = handler(event("eventbridge_scheduled"), LONG)
        assert whole["status"] == "ok" and whole["systems"]["hubspot"]["written"] > 0
    finally:
        serverless.use_core(None)
        core._pool.shutdown(wait=True)


def test_the_margin_kept_back_is_a_tenth_up_to_a_minute() -> None:
    assert serverless.stop_margin(900) == 60 and serverless.stop_margin(100) == 10
    assert serverless.stop_margin(-5) == 0


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kind=st.sampled_from(["apigw_http_v2", "apigw_rest_v1", "lambda_function_url", "none"]),
    changes=st.dictionaries(
        st.sampled_from(
            [
                "rawPath",
                "path",
                "httpMethod",
                "body",
                "isBase64Encoded",
                "headers",
                "multiValueHeaders",
                "rawQueryString",
                "multiValueQueryStringParameters",
                "cookies",
                "requestContext",
                "version",
                "source",
                "detail-type",
                "mode",
            ]
        ),
        JSON,
        max_size=4,
    ),
)
def test_any_event_gets_an_answer_and_never_an_exception(
    echo_core: WebhookCore, kind: str, changes: dict[str, Any]
) -> None:
    sample = {} if kind == "none" else event(kind)
    sample.update(changes)
    if "mode" in sample and set(sample) == {"mode"}:
        sample["mode"] = "weekly"  # never a run here: the echo core has no application
    if sample.get("source") in ("aws.events", "aws.scheduler"):
        sample["detail-type"] = "something else"
    answer = handler(sample, LONG)
    assert isinstance(answer, dict) and answer["statusCode"] in (200, 400, 404, 405, 413)
    assert isinstance(answer["body"], str) and isinstance(answer["headers"], dict)


def test_the_real_endpoints_answer_through_the_handler(tmp_path: Any) -> None:
    # Mailchimp's validator GET and a POST with the wrong secret: answered without opening
    # the application, through the endpoints every deployment serves.
    secret = "s" * 24
    settings = Settings(
        state_url=f"sqlite:///{tmp_path / 'unused.db'}",
        mailchimp={"api_key": "0" * 32 + "-us1", "webhook_secret": secret},
    )
    core = WebhookCore(settings)
    serverless.use_core(core)
    try:
        check = handler(v2("lambda_function_url", "GET", "/mailchimp"), LONG)
        wrong = handler(v2("lambda_function_url", "POST", "/mailchimp", "secret=nope"), LONG)
        unset = handler(v1("POST", "/salesforce/flow"), LONG)
    finally:
        serverless.use_core(None)
        core.close()
    assert check["statusCode"] == 200
    assert wrong["statusCode"] == 403 and secret not in json.dumps(wrong)
    assert unset["statusCode"] == 404


def test_a_gateway_in_front_caps_the_wait_and_a_function_url_does_not() -> None:
    from sync.web.aws import time_allowed

    class Context:
        def __init__(self, millis: int) -> None:
            self.millis = millis

        def get_remaining_time_in_millis(self) -> int:
            return self.millis

    http_api = {
        "version": "2.0",
        "requestContext": {"domainName": "id.execute-api.x.amazonaws.com"},
    }
    rest_api = {"requestContext": {"domainName": "id.execute-api.x.amazonaws.com"}}
    url = {"version": "2.0", "requestContext": {"domainName": "u.lambda-url.x.on.aws"}}
    assert time_allowed(http_api, None) == 27.0
    assert time_allowed(rest_api, None) == 26.0
    assert time_allowed(url, None) is None
    assert time_allowed(url, Context(20_000)) == 17.0
    assert time_allowed(http_api, Context(10_000)) == 7.0
