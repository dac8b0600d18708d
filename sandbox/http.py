"""The HTTP server every emulator is built on.

An `Emulator` is a real HTTP/1.1 server on 127.0.0.1 (keep-alive, one thread
per connection) with a table of routes. Every request is matched to a named
operation, counted and logged, then passes the emulator's admission checks
(rate limits, concurrency) and the seeded fault plan (an injected slow answer
waits before its handler runs); the latency is the vendor's whole time to answer,
its handler's work included (a vendor serves requests side by side; this server
works them on one interpreter). Subclasses add routes with `route()` and override `admit()`
and `decorate()` for their vendor's limits and headers.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

from sandbox.clock import SandboxClock
from sandbox.faults import Fault, FaultPlan, Latency

MAX_BODY = 64 * 1024 * 1024


@dataclass
class Request:
    """One request as a handler sees it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)
    operation: str = ""
    began: float = 0.0
    """When the emulator took the request in (`time.monotonic`)."""

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def json(self) -> Any:
        if not self.body:
            return None
        return json.loads(self.body)


@dataclass
class Response:
    """What a handler returns; `drop` closes the connection without answering, `truncate`
    sends the headers and half the body, then closes it."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    truncate: bool = False

    @classmethod
    def json(cls, payload: Any, status: int = 200, **headers: str) -> Response:
        content = json.dumps(payload, separators=(",", ":"), default=str).encode()
        return cls(status, content, {"Content-Type": "application/json;charset=UTF-8", **headers})

    @classmethod
    def text(cls, text: str, status: int = 200, content_type: str = "text/plain") -> Response:
        return cls(status, text.encode(), {"Content-Type": f"{content_type};charset=UTF-8"})

    @classmethod
    def empty(cls, status: int = 204) -> Response:
        return cls(status)


Handler = Callable[[Request], Response]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    operation: str
    handler: Handler


@dataclass(frozen=True)
class LoggedCall:
    """One request served: `at` when its answer was ready, `began` when it came in
    (both on `time.monotonic`), so a client's sequential rounds can be told apart."""

    at: float
    method: str
    path: str
    operation: str
    status: int
    began: float = 0.0


class Emulator:
    """A vendor API emulator: routes, counters, faults, latency and a server thread."""

    name = "emulator"

    def __init__(
        self,
        *,
        faults: FaultPlan | None = None,
        latency: Latency | None = None,
        clock: SandboxClock | None = None,
    ) -> None:
        self.clock = clock or SandboxClock()
        self.faults = faults or FaultPlan()
        self.latency = latency or Latency()
        self.routes: list[Route] = []
        self.request_limit: float | None = None
        """Vendor seconds the vendor serves one request at most: a request delayed that long
        (latency and an injected slow answer) is ended there, unanswered, not carried out."""
        self.calls: Counter[str] = Counter()
        self.log: list[LoggedCall] = []
        self.lock = threading.RLock()
        self._active = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- routes -----------------------------------------------------------------------------

    def add_routes(self) -> None:
        """Register the emulator's routes; its state calls this once it is built."""

    def route(self, method: str, path: str, operation: str, handler: Handler) -> None:
        """Add a route; `{name}` in the path captures one segment into `request.params`."""
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path)
        self.routes.append(Route(method, re.compile(f"^{regex}$"), operation, handler))

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str]]:
        allowed = False
        for route in self.routes:
            found = route.pattern.match(path)
            if found:
                if route.method == method:
                    return route, {k: unquote(v) for k, v in found.groupdict().items()}
                allowed = True
        return None, {"allowed": "yes"} if allowed else {}

    # -- hooks for subclasses ---------------------------------------------------------------

    def admit(self, request: Request) -> Response | None:
        """A refusal (rate limit, concurrency) before the handler runs, or None."""
        return None

    def decorate(self, request: Request, response: Response) -> None:
        """Add vendor headers (limits left, request ids) to every response."""

    def fault_response(self, request: Request, fault: Fault) -> Response:
        """The vendor's answer for an injected 429 or 5xx."""
        if fault.status == 429:
            return Response.json(
                {"message": "rate limited"}, 429, **{"Retry-After": str(fault.retry_after)}
            )
        return Response.json({"message": "internal error"}, fault.status)

    def internal_error(self, request: Request, exc: Exception) -> Response:
        """The answer when a handler fails unexpectedly."""
        return Response.json({"message": f"sandbox error: {type(exc).__name__}: {exc}"}, 500)

    def not_found(self, request: Request) -> Response:
        return Response.json({"message": f"no route for {request.method} {request.path}"}, 404)

    # -- the request cycle ------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        request.began = time.monotonic()
        route, params = self.match(request.method, request.path)
        if route is None:
            request.operation = "unknown"
            response = (
                Response.json({"message": "method not allowed"}, 405)
                if params
                else self.not_found(request)
            )
            self._log_call(request, response)
            return response
        request.params = params
        request.operation = route.operation
        with self.lock:
            self.calls[route.operation] += 1
        refusal = self.admit(request)
        if refusal is not None:
            response = refusal
        else:
            fault = self.faults.draw(route.operation)
            if fault is not None and fault.drop:
                response = Response(drop=True)
            elif fault is not None and fault.status:
                response = self.fault_response(request, fault)
            else:
                latency = self.latency.draw(self.faults.random)
                slow = fault.delay if fault else 0.0
                limit = self.request_limit
                if limit is not None and latency + slow >= limit:
                    # the vendor ends a request at its limit: nothing carried out, no answer
                    self.clock.sleep(limit)
                    response = Response(drop=True)
                else:
                    if slow:
                        self.clock.sleep(slow)
                    # The latency is the vendor's whole time to answer, its own work
                    # included: the work is done, then the rest of the latency waited.
                    began = self.clock.now() if latency else 0.0
                    response = self._served(route, request)
                    if latency and (rest := latency - (self.clock.now() - began)) > 0:
                        self.clock.sleep(rest)
                # The request was carried out; only its answer is cut off or lost.
                if fault is not None and fault.truncate:
                    response.truncate = True
                if fault is not None and fault.lost:
                    response.drop = True
        self.decorate(request, response)
        self._log_call(request, response)
        return response

    def _served(self, route: Route, request: Request) -> Response:
        try:
            return route.handler(request)
        except ErrorAnswer as refused:
            return refused.response
        except Exception as exc:  # an emulator bug answers 500, it never hangs a client
            return self.internal_error(request, exc)

    def _log_call(self, request: Request, response: Response) -> None:
        with self.lock:
            self.log.append(
                LoggedCall(
                    time.monotonic(),
                    request.method,
                    request.path,
                    request.operation,
                    0 if response.drop else response.status,
                    request.began,
                )
            )

    @property
    def active(self) -> int:
        """Requests being served right now (Mailchimp limits them to 10)."""
        return self._active

    def enter(self) -> int:
        with self.lock:
            self._active += 1
            return self._active

    def leave(self) -> None:
        with self.lock:
            self._active -= 1

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError(f"{self.name} emulator is not running")
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}"

    def start(self, port: int = 0) -> Self:
        server = _Server(("127.0.0.1", port), _RequestHandler)
        server.emulator = self
        self._server = server
        self._thread = threading.Thread(
            # a short poll interval makes stop() prompt
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{self.name}-sandbox",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening, and hang up every connection still open: a client keeping its
        connections open (a pool) must not go on being answered by a stopped emulator,
        least of all when a new one listens on the same port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server.hang_up_all()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ErrorAnswer(Exception):
    """Raised inside a handler to answer with a vendor error response."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    emulator: Emulator

    def __init__(self, address: tuple[str, int], handler: Any) -> None:
        super().__init__(address, handler)
        self.open_connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def hang_up_all(self) -> None:
        """Close every connection a handler still serves (kept open between requests)."""
        with self.connections_lock:
            held = list(self.open_connections)
        for connection in held:
            with contextlib.suppress(OSError):  # already gone
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (a killed process resets its sockets) is no error of
        the server's; anything else is printed as usual."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body go out in two writes; with Nagle on, each keep-alive
    # answer would wait for the client's delayed ACK (~40 ms)
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are logged by the emulator, not on stderr."""

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.open_connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            with self.server.connections_lock:
                self.server.open_connections.discard(self.connection)

    def _serve(self) -> None:
        emulator = self.server.emulator
        emulator.enter()
        try:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._send(Response.json({"message": "body too large"}, 413))
                return
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            request = Request(
                self.command,
                parts.path,
                parse_qs(parts.query, keep_blank_values=True),
                {k.lower(): v for k, v in self.headers.items()},
                body,
            )
            response = emulator.handle(request)
            if response.drop or (response.truncate and not response.body):
                self._hang_up()
                return
            self._send(response)
            if response.truncate:
                self._hang_up()
        finally:
            emulator.leave()

    def _hang_up(self) -> None:
        self.wfile.flush()
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.status not in (204, 304):
            self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if response.body and response.status not in (204, 304):
            body = response.body[: len(response.body) // 2] if response.truncate else response.body
            self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


def sequential_rounds(calls: Sequence[LoggedCall]) -> int:
    """The longest chain of these calls each served after the one before it ended: the
    rounds a client waited for one after another (calls it made side by side overlap,
    so they count once), whatever the latency."""
    chain: list[tuple[float, int]] = []  # (end, longest chain ending with that call)
    longest = 0
    for call in sorted(calls, key=lambda c: c.began):
        before = max((n for end, n in chain if end <= call.began), default=0)
        chain.append((call.at, before + 1))
        longest = max(longest, before + 1)
    return longest
