"""Mailchimp's connection allowance, shared by every thread of the process that uses a key.

Mailchimp counts simultaneous connections, 10 per user or API key, and answers a request
past them with a 429 "You have exceeded the limit of 10 simultaneous connections"
(https://mailchimp.com/developer/marketing/docs/fundamentals/,
https://mailchimp.com/developer/marketing/docs/errors/). The allowance is the account's,
not one app's: another integration of the same account may hold some of the 10 while a
run is at work. So the gate starts at 10 and, when a request in flight is refused for
connections, takes the number then in flight less one as what the account has left; after
`GROW_AFTER` answers in a row it tries one more again, up to 10 (additive increase,
multiplicative decrease, as TCP does). A refused request has not been carried out, and the
call policy tries it again.

A request we stop waiting for is not over at Mailchimp: a read timeout closes our side, but
Mailchimp may go on serving it, holding one of the 10, until its own limit ("Requests to
the Marketing API time out at 120 seconds", the batch guide,
https://mailchimp.com/developer/marketing/guides/run-async-requests-batch-endpoint/).
Freeing its slot at once let the retry open an eleventh connection while the first was
still counted (a peak of 11 seen in the sandbox, which counts a request from its arrival
to its answer). So such a slot is freed only `REQUEST_LIMIT` seconds after we gave up
(`leave_later`), on the call policy's clock: a slot is free only when Mailchimp is done
with its request, answered or timed out.

    gate = connection_gate(key)
    gate.enter()             # waits while the allowance is in use
    answer = sdk_call()
    gate.leave()             # answered, or the connection closed by Mailchimp
    gate.leave_later(REQUEST_LIMIT, clock)   # no answer: Mailchimp may still be at it
    gate.refused(...)        # after a 429 for connections
"""

from __future__ import annotations

import hashlib
import threading
from types import TracebackType
from typing import Any

from connectors.policy import Clock

CONNECTIONS = 10
"""Mailchimp's simultaneous connections per user or API key."""
GROW_AFTER = 20
"""Answers in a row after which the gate allows one more connection again."""
REQUEST_LIMIT = 120.0
"""Seconds Mailchimp serves one request at most (the batch guide): a request given up on
keeps its slot that long after."""


class ConnectionGate:
    """At most `limit` requests in flight; `limit` shrinks on a refusal and grows back."""

    def __init__(self, size: int = CONNECTIONS) -> None:
        if size < 1:
            raise ValueError(f"a connection gate lets at least one request through, not {size}")
        self.size = size
        self.limit = size
        self.in_flight = 0
        self.peak = 0
        self._answered = 0
        self._ready = threading.Condition()
        self._session: Any = None

    def session(self) -> Any:
        """The `requests.Session` every request under this gate is sent through
        (`connectors.mailchimp.transport`): one pool of at most `size` connections to a
        host, kept open between requests."""
        from connectors.mailchimp.transport import pooled_session

        with self._ready:
            if self._session is None:
                self._session = pooled_session(self.size)
            return self._session

    def enter(self) -> int:
        """Take a slot, waiting while none is free; how many are in flight with it."""
        with self._ready:
            while self.in_flight >= self.limit:
                self._ready.wait()
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            return self.in_flight

    def leave(self) -> None:
        """Free a slot: its request was answered, or Mailchimp closed its connection."""
        with self._ready:
            self.in_flight -= 1
            self._ready.notify()

    def leave_later(self, seconds: float, clock: Clock) -> None:
        """Free a slot `seconds` from now on `clock` (on a thread of its own): its request
        got no answer and may still hold a connection at Mailchimp until then."""
        if seconds <= 0:
            self.leave()
            return

        def free() -> None:
            try:
                clock.sleep(seconds)
            finally:
                self.leave()

        threading.Thread(target=free, name="mailchimp-held-slot", daemon=True).start()

    def __enter__(self) -> ConnectionGate:
        self.enter()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.leave()

    def refused(self, in_flight: int) -> None:
        """A request was refused for connections while `in_flight` were open (itself
        among them): the account has fewer than that left to us."""
        with self._ready:
            self.limit = max(1, min(self.limit, in_flight - 1))
            self._answered = 0
            session = self._session
        if session is not None:  # the connections kept open go too (`transport`)
            session.close()

    def answered(self) -> None:
        """A request was answered: after `GROW_AFTER` in a row, allow one more."""
        with self._ready:
            self._answered += 1
            if self._answered >= GROW_AFTER and self.limit < self.size:
                self.limit += 1
                self._answered = 0
                self._ready.notify()


_gates: dict[str, ConnectionGate] = {}
_gates_lock = threading.Lock()


def connection_gate(credential: str, host: str, size: int = CONNECTIONS) -> ConnectionGate:
    """The one gate of this process for a credential at a host (keyed by their digest):
    every thread and every client using the key shares Mailchimp's allowance."""
    digest = hashlib.sha256(f"{host}\n{credential}".encode()).hexdigest()
    with _gates_lock:
        gate = _gates.get(digest)
        if gate is None:
            gate = _gates[digest] = ConnectionGate(size)
        return gate
