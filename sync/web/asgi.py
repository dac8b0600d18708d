"""The webhook core as a plain ASGI 3 application, for uvicorn (`leadscore serve`).

    http      read the body chunk by chunk, refusing with 413 the moment it passes
              `BODY_LIMIT` (a Content-Length over it: before reading any), build a
              `WebhookRequest`, run `WebhookCore.handle` (it blocks) in a worker thread,
              send its answer
    lifespan  startup: nothing to open (the core opens the application on first use);
              shutdown: the core closed, its late rescores finished

No framework: the ASGI messages are few (https://asgi.readthedocs.io/en/latest/specs/www.html,
https://asgi.readthedocs.io/en/latest/specs/lifespan.html). The URL a signature covers is
the configured public URL (`LEADSCORE_PUBLIC_URL`) with the request's path and query,
else the request's scheme, Host header, raw path and query. `/healthz` and `/metrics`
are answered on the event loop (they touch neither the store nor a system), so a
server whose handler threads all wait on rescores still answers its health check.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from sync.web.messages import BODY_LIMIT, Refused, WebhookRequest, WebhookResponse

if TYPE_CHECKING:
    from sync.web.core import WebhookCore

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

log = logging.getLogger("leadscore.web")

HANDLERS = 64
"""Requests handled at once (each holds a thread while its rescores run); more wait."""
ON_THE_LOOP = frozenset({"/healthz", "/metrics"})


class TooLarge(Exception):
    """The body passed `BODY_LIMIT` while it was read."""


class CallerGone(Exception):
    """The caller went away before its body was all sent: nothing to handle, no one to answer."""


class WebhookApp:
    """`WebhookCore` behind the ASGI 3 interface: `await app(scope, receive, send)`."""

    def __init__(self, core: WebhookCore, *, handlers: int = HANDLERS) -> None:
        self.core = core
        self.public_url = core.context.public_url.rstrip("/")
        self._threads = ThreadPoolExecutor(handlers, thread_name_prefix="leadscore-web")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1003})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    await asyncio.get_running_loop().run_in_executor(None, self.close)
                except Exception as exc:
                    await send({"type": "lifespan.shutdown.failed", "message": type(exc).__name__})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                return

    def close(self) -> None:
        """Finish the requests under way, then the core's late rescores."""
        self._threads.shutdown(wait=True)
        self.core.close()

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        began = time.perf_counter()
        path = _routed_path(scope)
        try:
            body = await read_body(scope, receive)
        except TooLarge:
            refused = Refused(413, "the body is over 1 MB")
            endpoint = self.core.endpoints.get(path.rstrip("/") or "/")
            name = endpoint.name if endpoint is not None else "none"
            log.warning(
                "webhook refused",
                extra={"endpoint": name, "status": 413, "reason": refused.reason},
            )
            self.core.metrics.answered(name, 413, time.perf_counter() - began)
            response = refused.response() if endpoint is None else endpoint.refused(refused)
            await send_response(send, response, scope, close=True)
            return
        except CallerGone:
            return
        request = self.request(scope, path, body)
        if request.path.rstrip("/") in ON_THE_LOOP:
            response = self.core.handle(request)
        else:
            loop = asyncio.get_running_loop()
            response = await loop.run_in_executor(self._threads, self.core.handle, request)
        await send_response(send, response, scope)

    def request(self, scope: Scope, path: str, body: bytes) -> WebhookRequest:
        """The core's request of an ASGI scope (header bytes read as Latin-1, as HTTP has them)."""
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        query = bytes(scope.get("query_string", b"")).decode("latin-1")
        raw = scope.get("raw_path")
        target = raw.decode("latin-1").split("?", 1)[0] if raw else scope["path"]
        tail = target + (f"?{query}" if query else "")
        if self.public_url:
            root = scope.get("root_path", "")
            url = self.public_url + (tail[len(root) :] if root and tail.startswith(root) else tail)
        else:
            host = next((v for k, v in headers if k.lower() == "host"), "")
            if not host and scope.get("server"):
                host = "{}:{}".format(*scope["server"])
            url = f"{scope.get('scheme', 'http')}://{host}{tail}"
        return WebhookRequest.of(
            scope["method"], path, query=query, headers=headers, body=body, url=url
        )


def _routed_path(scope: Scope) -> str:
    """The path the core routes on: the request's, less the mount point (`root_path`)."""
    path = str(scope.get("path") or "/")
    root = str(scope.get("root_path") or "")
    if root and path.startswith(root):
        path = path[len(root) :] or "/"
    return path


async def read_body(scope: Scope, receive: Receive, limit: int = BODY_LIMIT) -> bytes:
    """The request's body, read chunk by chunk; `TooLarge` as soon as it passes `limit`
    (at once when its Content-Length says it will), never holding more than that."""
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                continue
            if declared > limit:
                raise TooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise CallerGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def send_response(
    send: Send, response: WebhookResponse, scope: Scope, *, close: bool = False
) -> None:
    """The answer, its length said; no body to a HEAD; `close` when the body was not read
    (the connection cannot carry another request)."""
    headers = [
        (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.items()
    ]
    headers.append((b"content-length", str(len(response.body)).encode()))
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    body = b"" if scope.get("method") == "HEAD" else response.body
    await send({"type": "http.response.body", "body": body})
