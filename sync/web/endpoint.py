"""What one system's webhook endpoint gives the core: how to read a request, how to answer.

    endpoint.ask(request, context)   verify the caller, parse the body:
                                     an `Ask` (records to rescore, or reported deleted)
                                     or a `WebhookResponse`
                                     (a validator's GET, a duplicate); `Refused` else
    endpoint.answer(ask, outcomes)   the answer the caller expects (JSON, a SOAP Ack)

The core does the rest for every endpoint alike: the size limit, the route, the
rescores (deduplicated, bounded by the caller's timeout), the error statuses,
the metrics. An endpoint never opens the store or calls a system itself; what
it must remember across processes (a replayed signature, a notification id
already handled) it asks of `Context.first_seen`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from sync.web.messages import Refused, WebhookRequest, WebhookResponse

if TYPE_CHECKING:
    from connectors.protocol import Gone
    from sync.settings import Settings
    from sync.trigger import Rescored


@dataclass(frozen=True)
class Ask:
    """What a verified request asks for: these records of `system` rescored now."""

    system: str
    records: tuple[str, ...]
    details: Mapping[str, Any] = field(default_factory=dict)
    """What the endpoint needs again to answer (say, the notification ids)."""
    gone: tuple[Gone, ...] = ()
    """Records the system says it deleted: retired (or erased, `for_good`) in the store
    before any rescore, as a pull that found them gone would (`sync.vanished.record_gone`)."""
    if_missing: Mapping[str, Missing] = field(default_factory=dict)
    """Per record of `records`: what goes when its rescore finds the system has no such
    record (its fetch answers 404), as a write that found it gone would retire it."""


@dataclass(frozen=True)
class Missing:
    """A record the system may have deleted for good, named the way the caller can: the
    store's records of the system holding `email` whose ids start with `prefix` (a
    Mailchimp webhook names a member by address, the store keys it by contact id)."""

    email: str
    prefix: str
    where: tuple[tuple[str, str], ...] = ()
    """Attribute values of the activities keyed by the address alone that go with them
    (`connectors.protocol.Withdrawn.where`)."""


@dataclass(frozen=True)
class Outcome:
    """One record's rescore: its result, or why there is none (a `Refused` that
    says the status the caller would get for this record alone)."""

    record_id: str
    result: Rescored | None = None
    refused: Refused | None = None


@dataclass(frozen=True)
class Context:
    """What an endpoint may use besides the request."""

    settings: Settings
    now: Callable[[], float]
    """Seconds since the epoch (injected in tests)."""
    first_seen: Callable[[Sequence[str]], list[bool]]
    """For each key (a signature, a notification id), whether this is its first
    sighting within the replay window; remembered in the store, across processes."""
    public_url: str = ""
    """The scheme and host callers reach this server by (`LEADSCORE_PUBLIC_URL`), for
    signatures that cover the URL behind a proxy or a gateway; empty: the request's."""
    forget: Callable[[Sequence[str]], None] = field(kw_only=True)
    """Keys `first_seen` took in, taken back: an ask that failed and will be sent again
    (its notification ids) is not a duplicate then."""


class Endpoint(Protocol):
    name: str
    """The label of this endpoint in metrics and logs."""
    path: str
    methods: frozenset[str]
    system: str
    timeout: float
    """Seconds the caller waits for an answer; the core answers before."""

    def configured(self, settings: Settings) -> bool:
        """Whether the settings hold what this endpoint verifies callers with; an
        endpoint without its secret refuses every request (404, as if absent)."""
        ...

    def ask(self, request: WebhookRequest, context: Context) -> Ask | WebhookResponse: ...

    def answer(self, ask: Ask, outcomes: Sequence[Outcome]) -> WebhookResponse: ...

    def refused(self, refused: Refused) -> WebhookResponse:
        """The answer to a refused request, as this caller reads it (most: `refused.response()`;
        one whose Retry-After is in another unit says so here)."""
        ...


def score_payload(result: Rescored) -> dict[str, Any]:
    """A rescore's result as the JSON a workflow branches on."""
    payload: dict[str, Any] = {"status": result.status, "record": result.record_id}
    if result.excluded:  # not scored: nothing of a score, only the fields cleared
        payload.update(
            excluded=True,
            written=sum(map(len, result.written.values())),
            failed=sum(map(len, result.failed.values())),
        )
    elif result.status == "done":
        payload.update(
            score=result.score,
            points=result.points,
            grade=result.grade,
            stage=result.stage,
            disqualified=result.disqualified,
            reasons=result.reasons,
            written=sum(map(len, result.written.values())),
            failed=sum(map(len, result.failed.values())),
        )
    return payload


def refused_first(outcomes: Sequence[Outcome]) -> Refused | None:
    """The refusal to answer a single-record ask with, if its rescore did not happen."""
    for outcome in outcomes:
        if outcome.refused is not None:
            return outcome.refused
    return None


def require(condition: bool, status: int, reason: str) -> None:
    """`Refused(status, reason)` unless `condition`."""
    if not condition:
        raise Refused(status, reason)
