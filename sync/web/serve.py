"""`leadscore serve`: the webhook core under uvicorn, on one socket, until SIGTERM or Ctrl-C.

The socket is bound before uvicorn starts, so a port in use is a one-line error and
a port of 0 gets a free one the log line names. uvicorn's access log is off: a
request line carries the query, and Mailchimp's carries the webhook's secret; the
core logs each refusal without it. On SIGTERM (or SIGINT) uvicorn stops accepting,
lets the requests under way finish (at most `GRACE` seconds), then the lifespan
shutdown closes the core, whose late rescores finish too.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sync.settings import Settings
    from sync.web.core import WebhookCore

log = logging.getLogger("leadscore.web")

GRACE = 60
"""Seconds the requests under way get to finish on shutdown (Salesforce waits that long)."""


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port) and listening; `OSError` when it cannot be."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def webhook_server(core: WebhookCore) -> Any:
    """A uvicorn server of the core (h11, asyncio, no access log, leadscore's logging)."""
    import uvicorn

    from sync.web.asgi import WebhookApp

    config = uvicorn.Config(
        WebhookApp(core),
        http="h11",
        loop="asyncio",
        lifespan="on",
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=GRACE,
    )
    return uvicorn.Server(config)


def endpoints_line(core: WebhookCore) -> str:
    """The configured endpoints, as the start line names them (their paths and systems)."""
    paths = [
        f"{e.path} ({e.system})" for e in core.endpoints.values() if e.configured(core.settings)
    ]
    report = ["/report"] if core.settings.report_token is not None else []
    return ", ".join(["/healthz", "/metrics", *report, *paths])


def serve_webhooks(settings: Settings, sock: socket.socket) -> None:
    """Serve the webhooks on `sock` until SIGTERM or SIGINT (then KeyboardInterrupt)."""
    from sync.web.core import WebhookCore

    core = WebhookCore(settings)
    host, port = sock.getsockname()[:2]
    configured = [e for e in core.endpoints.values() if e.configured(settings)]
    log.info(
        f"serving webhooks on http://{host}:{port}: {endpoints_line(core)}",
        extra={"host": host, "port": port, "endpoints": [e.path for e in configured]},
    )
    if not configured:
        log.warning(
            "no webhook endpoint is configured: each needs its system's webhook secret "
            "(such as LEADSCORE_MAILCHIMP__WEBHOOK_SECRET)"
        )
    server = webhook_server(core)
    with quiet_sigterm():
        server.run(sockets=[sock])
    log.info("webhook server stopped")


@contextlib.contextmanager
def quiet_sigterm() -> Iterator[None]:
    """uvicorn raises the signal that stopped it again once it is done; a SIGTERM so
    raised then ends the command as a clean stop (exit 0), not a kill."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda *_: None)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
