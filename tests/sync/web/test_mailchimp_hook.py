"""The Mailchimp audience webhook through `WebhookCore.handle`, against the Mailchimp
sandbox with the real mailchimp-marketing SDK and a SQLite store: the validator, the
secret, each event's rescore (merge fields checked in the emulator), refusals that
write nothing and log no secret, and a bounded fuzz that never gets a 500."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.mailchimp.keys import member_key
from sandbox import Sandbox
from scoring import RuleSet
from sync import Leadscore
from sync.settings import Settings, isolated_settings
from sync.web.core import WebhookCore
from sync.web.mailchimp import MailchimpEndpoint
from sync.web.messages import BODY_LIMIT, WebhookRequest, WebhookResponse
from tests.sync.web.cloud import opened_on

SECRET = "mc-hook-0123456789abcdef"


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    with Sandbox(people=40, seed=5) as sandbox:
        yield sandbox


def settings_for(box: Sandbox, state: Path, **more: Any) -> Settings:
    section = {**box.connection_settings()["mailchimp"], "webhook_secret": SECRET, **more}
    return isolated_settings(state_url=f"sqlite:///{state}", mailchimp=section)


@pytest.fixture(scope="module")
def app(
    box: Sandbox, rules: RuleSet, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Leadscore]:
    state = tmp_path_factory.mktemp("mailchimp-hook") / "state.db"
    with opened_on(box, rules, state, settings_for(box, state)) as opened:
        yield opened


@pytest.fixture
def core(app: Leadscore) -> Iterator[tuple[WebhookCore, list[int]]]:
    opens: list[int] = []

    def open_app(settings: Settings) -> Leadscore:
        opens.append(1)
        return app

    webhook = WebhookCore(app.settings, endpoints=[MailchimpEndpoint()], open_app=open_app)
    yield webhook, opens
    webhook._pool.shutdown(wait=True)  # the app is the module's: not closed here


def event(kind: str, box: Sandbox, **data: str) -> bytes:
    fields = {
        "type": kind,
        "fired_at": "2026-03-01 12:00:00",
        "data[list_id]": box.mailchimp.list_id,
    }
    fields.update({f"data[{k}]": v for k, v in data.items()})
    return urlencode(fields).encode()


def post(core: WebhookCore, body: bytes, query: str = f"secret={SECRET}") -> WebhookResponse:
    return core.handle(WebhookRequest.of("POST", "/mailchimp", query=query, body=body))


def subscribed_rows(box: Sandbox) -> list[int]:
    audience = box.mailchimp.audience
    return [r for r in range(audience.size) if audience.status(r) == "subscribed"]


def merge_fields(box: Sandbox, row: int) -> dict[str, Any]:
    return dict(box.mailchimp.audience.member(row).merge_fields)


def test_the_validators_get_is_answered_without_the_secret_or_the_store(core: Any) -> None:
    webhook, opens = core
    assert webhook.handle(WebhookRequest.of("GET", "/mailchimp")).status == 200
    assert post(webhook, b"").status == 200  # a validator that POSTs (with the URL's secret)
    assert opens == []


@pytest.mark.parametrize("kind", ["subscribe", "profile"])
def test_an_event_rescores_the_member_and_writes_its_merge_fields(
    core: Any, box: Sandbox, kind: str
) -> None:
    webhook, _ = core
    row = subscribed_rows(box)[0 if kind == "subscribe" else 1]
    email = box.mailchimp.audience.emails[row]
    answer = post(webhook, event(kind, box, email=email, **{"merges][FNAME": "Ada"}))
    assert answer.status == 200
    body = answer.json()
    assert body["event"] == kind
    [result] = body["results"]
    assert result["status"] == "done"
    assert result["record"] == member_key(box.mailchimp.list_id, email)
    fields = merge_fields(box, row)
    assert str(fields["LS_SCORE"]) == str(result["score"])
    assert fields["LS_GRADE"] == result["grade"]


def test_unsubscribe_cleaned_and_upemail_rescore_the_member(core: Any, box: Sandbox) -> None:
    webhook, _ = core
    rows = subscribed_rows(box)[2:5]
    audience = box.mailchimp.audience
    unsub = post(webhook, event("unsubscribe", box, action="unsub", email=audience.emails[rows[0]]))
    cleaned = post(webhook, event("cleaned", box, reason="hard", email=audience.emails[rows[1]]))
    old = audience.emails[rows[2]]
    audience.readdress(rows[2], "moved." + old)
    moved = post(webhook, event("upemail", box, old_email=old, new_email="moved." + old))
    for answer in (unsub, cleaned, moved):
        assert answer.status == 200 and answer.json()["results"][0]["status"] == "done"
    assert moved.json()["results"][0]["record"] == member_key(box.mailchimp.list_id, "moved." + old)
    assert all(merge_fields(box, r).get("LS_SCORE") not in (None, "") for r in rows)


def test_a_campaign_and_another_audience_rescore_nobody(
    core: Any, box: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    webhook, opens = core
    row = subscribed_rows(box)[5]
    email = box.mailchimp.audience.emails[row]
    other = urlencode(
        {
            "type": "subscribe",
            "fired_at": "2026-03-01 12:00:00",
            "data[list_id]": "ffff000011",
            "data[email]": email,
        }
    ).encode()
    caplog.set_level(logging.INFO, "leadscore.web")
    answers = [
        post(webhook, event("campaign", box, id="c0ffee1234", status="sent", subject="Hi")),
        post(webhook, other),
    ]
    assert [a.status for a in answers] == [200, 200]
    assert [a.json()["status"] for a in answers] == ["ignored"] * 2
    assert not merge_fields(box, row).get("LS_SCORE")
    assert opens == []
    assert "another audience" in caplog.text or "not synced" in caplog.text
    assert email not in caplog.text


def test_a_gone_member_is_answered_200_so_mailchimp_keeps_the_webhook(
    core: Any, box: Sandbox
) -> None:
    webhook, _ = core
    answer = post(webhook, event("profile", box, email="nobody.here@example.invalid"))
    assert answer.status == 200
    assert answer.json()["results"][0]["error"].startswith("404")


def test_refusals_write_nothing_and_log_no_secret(
    core: Any, box: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    webhook, opens = core
    row = subscribed_rows(box)[6]
    body = event("subscribe", box, email=box.mailchimp.audience.emails[row])
    calls = sum(box.mailchimp.calls.values())
    wrong = "mc-hook-wrong-0123456789"
    statuses = [
        post(webhook, body, query="").status,
        post(webhook, body, query="secret=").status,
        post(webhook, body, query=f"secret={wrong}").status,
        post(webhook, body, query=f"secret={SECRET[:-1]}").status,
        post(webhook, b"\xff\xfe not utf-8").status,
        post(webhook, b"a=1&" * 600).status,
        post(webhook, b"type=subscribe&" + b"a" * 70_000).status,
        post(webhook, b"x" * (BODY_LIMIT + 1)).status,
    ]
    assert statuses == [401, 401, 403, 403, 400, 400, 413, 413]
    assert sum(box.mailchimp.calls.values()) == calls
    assert not merge_fields(box, row).get("LS_SCORE")
    assert opens == []
    assert SECRET not in caplog.text and wrong not in caplog.text


def test_a_form_the_parser_does_not_read_is_ignored_with_200_and_its_reason_logged(
    core: Any, box: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    # Mailchimp turns off a webhook that keeps failing: a form that came with the secret
    # but is no event leadscore reads is answered 200, not 400, and changes nothing.
    webhook, opens = core
    row = subscribed_rows(box)[7]
    email = box.mailchimp.audience.emails[row]
    iso = event("subscribe", box, email=email).replace(
        b"2026-03-01+12%3A00%3A00", b"2026-03-01T12%3A00%3A00Z"
    )
    assert b"T12" in iso
    bodies = {
        "type": event("open", box, email=email),
        "fired_at": iso,
        "data[...] fields are missing": urlencode(
            {"type": "subscribe", "fired_at": "2026-03-01 12:00:00"}
        ).encode(),
        "both a value and a group": b"type=subscribe&data=1&data[email]=" + email.encode(),
        "fired_at is missing": b"type=subscribe&data[email]=x",
        "not an email address": event("subscribe", box, email="nobody"),
    }
    calls = sum(box.mailchimp.calls.values())
    caplog.set_level(logging.INFO, "leadscore.web")
    for said, body in bodies.items():
        answer = post(webhook, body)
        assert answer.status == 200, (said, answer.body)
        assert answer.json()["status"] == "ignored", said
        assert said in answer.json()["reason"], said
        assert any(said in str(getattr(r, "reason", "")) for r in caplog.records), said
    assert sum(box.mailchimp.calls.values()) == calls
    assert not merge_fields(box, row).get("LS_SCORE")
    assert opens == []
    assert email not in caplog.text and SECRET not in caplog.text
    assert not any(email in str(vars(r)) for r in caplog.records)


def test_an_endpoint_without_its_secret_is_not_there(
    app: Leadscore, box: Sandbox, tmp_path: Path
) -> None:
    settings = settings_for(box, tmp_path / "s.db", webhook_secret="")
    webhook = WebhookCore(settings, endpoints=[MailchimpEndpoint()], open_app=lambda s: app)
    assert webhook.handle(WebhookRequest.of("GET", "/mailchimp")).status == 404
    assert post(webhook, b"").status == 404


FIELD_NAMES = st.sampled_from(
    [
        "type",
        "fired_at",
        "data[list_id]",
        "data[email]",
        "data[action]",
        "data[reason]",
        "data[old_email]",
        "data[new_email]",
        "data[id]",
        "data[merges][FNAME]",
        "data",
        "data[]",
        "data[email][x]",
        "type[]",
        "data[campaign_id]",
    ]
)
VALUES = st.one_of(
    st.sampled_from(
        [
            "subscribe",
            "unsubscribe",
            "profile",
            "upemail",
            "cleaned",
            "campaign",
            "delete",
            "hard",
            "abuse",
            "2026-03-01 12:00:00",
            "2026-13-40 99:99:99",
            "a@b.c",
            "not-an-email",
            "",
        ]
    ),
    st.text(max_size=40),
)


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    fields=st.lists(st.tuples(FIELD_NAMES, VALUES), max_size=8),
    ours=st.booleans(),
    noise=st.binary(max_size=64),
)
def test_the_endpoint_never_fails_on_what_a_caller_sends(
    core: Any, box: Sandbox, fields: list[tuple[str, str]], ours: bool, noise: bytes
) -> None:
    webhook, _ = core
    # `ours`: a valid event of the audience, some of its fields then overwritten
    valid = [("type", "subscribe"), ("fired_at", "2026-03-01 12:00:00"), ("data[email]", "n@x.io")]
    pairs = [*valid, ("data[list_id]", box.mailchimp.list_id), *fields] if ours else fields
    for body in (urlencode(pairs).encode(), noise, urlencode(pairs).encode() + noise):
        answer = post(webhook, body)
        # a form (any UTF-8 text of few fields) with the secret: 200, an event or ignored;
        # only bytes that are no text are refused (Mailchimp sends forms alone)
        assert answer.status == (200 if utf8(body) else 400), answer.body
        assert SECRET.encode() not in answer.body


def utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def test_leadscores_own_trouble_is_answered_200_to_mailchimp() -> None:
    from sync.web.mailchimp import MailchimpEndpoint
    from sync.web.messages import Refused

    endpoint = MailchimpEndpoint()
    for status in (429, 503):
        answer = endpoint.refused(Refused(status, "leadscore is not ready: x"))
        assert answer.status == 200
        assert answer.json() == {"status": "not rescored", "reason": "leadscore is not ready: x"}
    assert endpoint.refused(Refused(403, "the secret is wrong")).status == 403
