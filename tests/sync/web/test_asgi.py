"""The ASGI adapter under a real uvicorn on 127.0.0.1 (an ephemeral port, a thread), driven
over HTTP: health, the request the core sees, the Mailchimp endpoint end to end against
the sandbox, bodies over 1 MB refused while they stream, 405; and `leadscore serve`."""

from __future__ import annotations

import http.client
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

import pytest
from typer.testing import CliRunner

from sandbox import Sandbox
from scoring import load_rules
from sync import Leadscore
from sync.cli import app as cli
from sync.settings import isolated_settings
from sync.web.core import WebhookCore
from sync.web.mailchimp import MailchimpEndpoint
from sync.web.messages import BODY_LIMIT
from sync.web.serve import listening_socket, webhook_server
from tests.sync.web.cloud import EchoEndpoint

ROOT = Path(__file__).parents[3]
RULES = ROOT / "scoring" / "rulesets" / "default.yaml"
SECRET = "mc-hook-0123456789abcdef"
POST_ECHO = EchoEndpoint(methods=frozenset({"POST"}))


@contextmanager
def serving(core: WebhookCore) -> Iterator[int]:
    """uvicorn serving `core` in a thread; its port."""
    sock = listening_socket("127.0.0.1", 0)
    server = webhook_server(core)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive()
        time.sleep(0.01)
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()
        assert not thread.is_alive()


def call(
    port: int, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        answer = connection.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        connection.close()


@pytest.fixture
def echo_core(tmp_path: Path) -> Iterator[WebhookCore]:
    settings = isolated_settings(state_url=f"sqlite:///{tmp_path / 'state.db'}")
    core = WebhookCore(settings, endpoints=[POST_ECHO])
    yield core


@pytest.fixture
def echo_port(echo_core: WebhookCore) -> Iterator[int]:
    with serving(echo_core) as port:
        yield port


def test_health_metrics_and_the_request_the_core_is_handed(echo_port: int) -> None:
    status, headers, body = call(echo_port, "GET", "/healthz")
    assert (status, json.loads(body)) == (200, {"status": "ok"})
    assert headers["content-length"] == str(len(body))
    status, headers, body = call(echo_port, "HEAD", "/healthz")
    assert (status, body) == (200, b"")
    status, _, body = call(
        echo_port, "POST", "/echo?a=1&b=%20x", b"x" * 5000 + b"the-tail", {"X-Probe": "yes"}
    )
    seen = json.loads(body)
    assert status == 200
    assert {k: seen[k] for k in ("method", "path", "query", "url", "size", "tail")} == {
        "method": "POST",
        "path": "/echo",
        "query": "a=1&b=%20x",
        "url": f"http://127.0.0.1:{echo_port}/echo?a=1&b=%20x",
        "size": 5008,
        "tail": "the-tail",
    }
    assert seen["headers"]["x-probe"] == "yes"
    status, _, body = call(echo_port, "GET", "/metrics")
    assert status == 200 and b'leadscore_requests_total{endpoint="echo",status="200"} 1' in body


def test_the_public_url_is_the_one_a_signature_covers(tmp_path: Path) -> None:
    settings = isolated_settings(
        state_url=f"sqlite:///{tmp_path / 'state.db'}", public_url="https://hooks.example.com/"
    )
    with serving(WebhookCore(settings, endpoints=[POST_ECHO])) as port:
        _, _, body = call(port, "POST", "/echo?q=1", b"{}")
    assert json.loads(body)["url"] == "https://hooks.example.com/echo?q=1"


def test_a_wrong_method_is_405_with_allow(echo_port: int) -> None:
    status, headers, body = call(echo_port, "PUT", "/echo", b"{}")
    assert (status, headers["allow"]) == (405, "POST")
    assert json.loads(body) == {"error": "use POST"}
    assert call(echo_port, "GET", "/nowhere")[0] == 404


def read_answer(sock: socket.socket) -> bytes:
    """The answer's head and, when it declares a length, its whole body (which may come
    in a later segment than the head)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    declared = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", head)
    while declared and len(body) < int(declared.group(1)):
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def test_a_content_length_over_the_limit_is_refused_before_the_body_is_sent(
    echo_port: int,
) -> None:
    with socket.create_connection(("127.0.0.1", echo_port), timeout=10) as sock:
        sock.sendall(
            f"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {BODY_LIMIT + 1}\r\n"
            "Expect: 100-continue\r\n\r\n".encode()
        )
        answer = read_answer(sock)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:80]
    assert b"100 Continue" not in answer


def stream_until_answered(port: int, head: bytes, chunk: bytes, most: int) -> tuple[bytes, int]:
    """Send `head`, then `chunk` after chunk until the server answers (or `most` bytes
    went); the answer and how many body bytes were sent."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        while sent < most:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
            time.sleep(0.001)
        return read_answer(sock), sent


def test_a_chunked_body_passing_the_limit_is_refused_while_it_streams(echo_port: int) -> None:
    piece = b"y" * 32768
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    answer, sent = stream_until_answered(echo_port, head, chunk, 8 * BODY_LIMIT)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:80]
    assert b"connection: close" in answer.lower()
    assert sent < 4 * BODY_LIMIT  # answered while the body was still coming


def test_a_body_longer_than_its_declared_length_reaches_no_endpoint_whole(
    echo_port: int,
) -> None:
    # Content-Length says 10 and 2 MB follow: the endpoint sees 10 bytes, the rest is
    # no request (h11 refuses it), and nothing is buffered past the limit.
    head = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n"
    answer, _ = stream_until_answered(echo_port, head, b"z" * 65536, 2 * BODY_LIMIT)
    assert answer.startswith(b"HTTP/1.1 200 "), answer[:80]
    assert b'"size":10' in answer


def test_a_caller_gone_before_its_body_ends_is_not_handled(echo_port: int) -> None:
    with socket.create_connection(("127.0.0.1", echo_port), timeout=10) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + b"q" * 10)
    time.sleep(0.2)
    _, _, metrics = call(echo_port, "GET", "/metrics")
    assert b'endpoint="echo"' not in metrics


def test_an_exact_limit_body_is_read(echo_port: int) -> None:
    status, _, body = call(echo_port, "POST", "/echo", b"w" * BODY_LIMIT)
    assert status == 200 and json.loads(body)["size"] == BODY_LIMIT
    head = f"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {BODY_LIMIT + 1}\r\n\r\n"
    answer, _ = stream_until_answered(echo_port, head.encode(), b"w" * 65536, BODY_LIMIT + 1)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:80]


def test_the_mailchimp_endpoint_end_to_end(tmp_path: Path) -> None:
    with Sandbox(people=30, seed=3) as box:
        section = {**box.connection_settings()["mailchimp"], "webhook_secret": SECRET}
        settings = isolated_settings(
            state_url=f"sqlite:///{tmp_path / 'state.db'}", mailchimp=section
        )
        with Leadscore.open(settings, rules=load_rules(RULES), pace=box.clock) as app:
            app.setup()
            core = WebhookCore(settings, endpoints=[MailchimpEndpoint()], open_app=lambda s: app)
            audience = box.mailchimp.audience
            row = next(r for r in range(audience.size) if audience.status(r) == "subscribed")
            form = {
                "type": "profile",
                "fired_at": "2026-03-01 12:00:00",
                "data[list_id]": box.mailchimp.list_id,
                "data[email]": audience.emails[row],
            }
            with serving(core) as port:
                assert call(port, "GET", "/mailchimp")[0] == 200
                wrong = call(port, "POST", "/mailchimp?secret=nope", urlencode(form).encode())
                status, _, body = call(
                    port,
                    "POST",
                    f"/mailchimp?secret={SECRET}",
                    urlencode(form).encode(),
                    {"Content-Type": "application/x-www-form-urlencoded"},
                )
            assert wrong[0] == 403
            [result] = json.loads(body)["results"]
            assert status == 200 and result["status"] == "done"
            assert str(audience.member(row).merge_fields["LS_SCORE"]) == str(result["score"])


# -- leadscore serve ---------------------------------------------------------------------------


def test_serve_help_names_its_options() -> None:
    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0
    assert "--host" in result.output and "--port" in result.output


def clean_env(tmp_path: Path, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADSCORE_")}
    env.update(
        PYTHONPATH=str(ROOT),
        LEADSCORE_RULES=str(RULES),
        LEADSCORE_STATE_URL=f"sqlite:///{tmp_path / 'state.db'}",
        LEADSCORE_LOG_FORMAT="text",
        **more,
    )
    return env


def test_serve_refuses_a_bad_setting_before_listening_without_repeating_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    bad = "short secret"
    env = clean_env(
        tmp_path,
        LEADSCORE_MAILCHIMP__API_KEY="abcdef0123456789-us21",
        LEADSCORE_MAILCHIMP__WEBHOOK_SECRET=bad,
    )
    for key in [k for k in os.environ if k.startswith("LEADSCORE_")]:
        monkeypatch.delenv(key)
    result = CliRunner().invoke(cli, ["serve", "--port", "0"], env=env)
    assert result.exit_code == 2
    assert "LEADSCORE_MAILCHIMP__WEBHOOK_SECRET" in result.stderr
    assert bad not in result.output and bad not in result.stderr


def test_serve_logs_where_it_listens_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    env = clean_env(
        tmp_path,
        LEADSCORE_MAILCHIMP__API_KEY="abcdef0123456789-us21",
        LEADSCORE_MAILCHIMP__WEBHOOK_SECRET=SECRET,
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "sync", "serve", "--port", "0"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        assert "serving webhooks on http://127.0.0.1:" in line, line
        assert "/mailchimp (mailchimp)" in line and SECRET not in line
        port = int(line.split("http://127.0.0.1:")[1].split(":")[0])
        assert call(port, "GET", "/healthz")[0] == 200
        assert call(port, "POST", f"/mailchimp?secret={SECRET}x", b"type=x")[0] == 403
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "webhook server stopped" in err
    assert SECRET not in out + err + line


def test_serve_says_when_its_port_is_taken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith("LEADSCORE_")]:
        monkeypatch.delenv(key)
    with listening_socket("127.0.0.1", 0) as taken:
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["serve", "--port", str(port)], env=clean_env(tmp_path))
    assert result.exit_code == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
