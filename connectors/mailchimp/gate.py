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

    gate = connection_gate(key)
    with gate:               # waits while the allowance is in use
        answer = sdk_call()
    gate.refused(...)        # after a 429 for connections
"""

from __future__ import annotations

import hashlib
import threading
from types import TracebackType

CONNECTIONS = 10
"""Mailchimp's simultaneous connections per user or API key."""
GROW_AFTER = 20
"""Answers in a row after which the gate allows one more connection again."""


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

    def __enter__(self) -> ConnectionGate:
        with self._ready:
            while self.in_flight >= self.limit:
                self._ready.wait()
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        with self._ready:
            self.in_flight -= 1
            self._ready.notify()

    def refused(self, in_flight: int) -> None:
        """A request was refused for connections while `in_flight` were open (itself
        among them): the account has fewer than that left to us."""
        with self._ready:
            self.limit = max(1, min(self.limit, in_flight - 1))
            self._answered = 0

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
