"""`/report` of the webhook core: 404 without a token configured, 401 without the token,
the store's page with it (bearer header or `?token=`), through the core and the Lambda
handler alike."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from sync import Leadscore
from sync.summary import SyncOptions
from sync.web import report as report_module
from sync.web import serverless
from sync.web.aws import handler
from sync.web.core import WebhookCore
from sync.web.messages import WebhookRequest
from tests.sync.web.cloud import LambdaContext, box, event, install_core, opened

__all__ = ["box", "opened"]  # fixtures used here

TOKEN = "s3cret-report-token"


@pytest.fixture
def synced(opened: Leadscore) -> Leadscore:
    opened.sync(SyncOptions(full=True))
    return opened


@pytest.fixture
def core(synced: Leadscore) -> Iterator[WebhookCore]:
    made = install_core(synced, report_token=SecretStr(TOKEN))
    yield made
    serverless.use_core(None)
    made._pool.shutdown(wait=True)


def get(core: WebhookCore, query: str = "", **headers: str):
    return core.handle(WebhookRequest.of("GET", "/report", query=query, headers=headers))


def test_without_a_token_configured_the_report_does_not_exist(synced: Leadscore) -> None:
    core = WebhookCore(synced.settings, open_app=lambda s: synced)
    for method in ("GET", "POST"):
        answer = core.handle(WebhookRequest.of(method, "/report", query=f"token={TOKEN}"))
        assert answer.status == 404
    core.close()


def test_a_request_without_the_token_is_401_and_opens_nothing(core: WebhookCore) -> None:
    for answer in (
        get(core),
        get(core, "token=wrong"),
        get(core, authorization=f"Basic {TOKEN}"),
        get(core, authorization="Bearer " + TOKEN[:-1]),
        get(core, "token="),
    ):
        assert answer.status == 401
        assert answer.headers["www-authenticate"] == 'Bearer realm="leadscore"'
        assert TOKEN.encode() not in answer.body
    wrong = core.handle(WebhookRequest.of("POST", "/report", query=f"token={TOKEN}"))
    assert (wrong.status, wrong.headers["allow"]) == (405, "GET, HEAD")


def test_the_token_opens_the_stores_page_read_only(
    core: WebhookCore, synced: Leadscore, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = synced.store.counts()
    answer = get(core, authorization=f"Bearer {TOKEN}")
    assert answer.status == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert answer.headers["cache-control"] == "no-store"
    page = answer.body.decode()
    assert page.startswith("<!DOCTYPE html>") and 'id="chart-movement"' in page
    assert (
        re.search(r"the state store \(\d+ persons\)", page)
        and "The rules set no `capacity`" in page
    )
    assert synced.store.counts() == before
    built: list[int] = []
    real = report_module.build_page
    monkeypatch.setattr(report_module, "build_page", lambda *a: built.append(1) or real(*a))
    again = get(core, f"token={TOKEN}")
    assert again.status == 200 and again.body == answer.body and built == []  # kept FRESH s
    text = core.handle(WebhookRequest.of("GET", "/metrics")).body.decode()
    assert 'leadscore_requests_total{endpoint="report",status="200"} 2' in text
    assert 'leadscore_requests_total{endpoint="report",status="401"}' not in text


def test_the_lambda_handler_serves_the_report(core: WebhookCore) -> None:
    sample = event("apigw_http_v2")
    sample["rawPath"], sample["rawQueryString"] = "/report", f"token={TOKEN}"
    sample["requestContext"]["http"].update(method="GET", path="/report")
    sample["body"] = ""
    answer = handler(sample, LambdaContext(900_000))
    assert answer["statusCode"] == 200 and "chart-scores" in answer["body"]
    sample["rawQueryString"] = ""
    assert handler(sample, LambdaContext(900_000))["statusCode"] == 401


def test_an_outcome_in_the_address_adds_the_backtest_as_the_command_does(
    core: WebhookCore,
) -> None:
    plain = get(core, f"token={TOKEN}").body.decode()
    assert "outcome=won, customer or stage:NAME in the address" in plain
    assert "pass --outcome" not in plain
    answer = get(core, f"token={TOKEN}&outcome=won&within_days=120")
    assert answer.status == 200, answer.body
    page = answer.body.decode()
    assert "outcome &#x27;won&#x27; in the 120 days after the score date" in page
    assert "Against outcomes" in page and "No outcomes were given" not in page
    for query, reason in (
        ("outcome=nope", "outcome 'nope': with --from-store, give one of"),
        ("outcome=stage:Nowhere", "no such stage in the rules"),
        ("outcome=won&within_days=0", "within_days '0': expected a whole number, 1 to 3650"),
        ("outcome=won&within_days=ten", "within_days 'ten'"),
        ("within_days=30", "within_days needs outcome"),
    ):
        refused = get(core, f"token={TOKEN}&{query}")
        assert refused.status == 400, query
        assert reason in refused.body.decode(), refused.body


def test_a_browser_is_refused_with_a_page_and_head_builds_nothing(
    core: WebhookCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = get(core, accept="text/html,application/xhtml+xml")
    assert refused.status == 401 and refused.headers["content-type"].startswith("text/html")
    assert refused.headers["www-authenticate"] == 'Bearer realm="leadscore"'
    assert b"<h1>401</h1><p>a report token is needed</p>" in refused.body
    assert get(core).headers["content-type"] == "application/json"  # a script: JSON
    monkeypatch.setattr(report_module, "build_page", lambda *a: pytest.fail("built on HEAD"))
    head = core.handle(WebhookRequest.of("HEAD", "/report", query=f"token={TOKEN}"))
    assert head.status == 200 and head.headers["content-type"] == "text/html; charset=utf-8"
    assert head.body == b""


def test_without_plotly_the_report_is_503_naming_the_extra(
    core: WebhookCore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "sync.report_html", None)  # as if Plotly were missing
    answer = get(core, f"token={TOKEN}")
    assert answer.status == 503 and b"install leadscore[report]" in answer.body


def test_an_empty_store_is_refused_as_the_command_refuses_it(opened: Leadscore) -> None:
    made = install_core(opened, report_token=SecretStr(TOKEN))
    try:
        answer = get(made, f"token={TOKEN}", accept="text/html")
        assert answer.status == 503
        assert b"the state store holds nobody yet: run `leadscore sync` first" in answer.body
    finally:
        serverless.use_core(None)
        made._pool.shutdown(wait=True)
