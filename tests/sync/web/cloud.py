"""What the serverless adapters' tests share: an endpoint that answers with the request it
was given, a Lambda context, a core on the HubSpot sandbox, and the sample events."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from connectors.protocol import Page
from sandbox import Sandbox
from scoring import RuleSet
from sync import Leadscore
from sync.demo import sandbox_settings
from sync.settings import Settings
from sync.web import serverless
from sync.web.core import WebhookCore
from sync.web.endpoint import Ask, Context, Outcome
from sync.web.messages import Refused, WebhookRequest, WebhookResponse, json_response

EVENTS = Path(__file__).parent / "events"


def event(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text("utf-8"))
    return loaded


@dataclass
class EchoEndpoint:
    """Answers with what the core was handed: the adapter's work, laid bare."""

    name: str = "echo"
    path: str = "/echo"
    methods: frozenset[str] = frozenset({"GET", "POST"})
    system: str = "hubspot"
    timeout: float = 5.0

    def configured(self, settings: Settings) -> bool:
        return True

    def ask(self, request: WebhookRequest, context: Context) -> Ask | WebhookResponse:
        return json_response(
            200,
            {
                "method": request.method,
                "path": request.path,
                "query": request.query,
                "params": request.params(),
                "headers": dict(request.headers),
                "body": base64.b64encode(request.body).decode(),
                "size": len(request.body),
                "tail": request.body[-8:].decode("latin-1"),
                "url": request.url,
            },
            {"x-echo": "1"},
        )

    def answer(self, ask: Ask, outcomes: Sequence[Outcome]) -> WebhookResponse:
        raise AssertionError("the echo endpoint answers at once")

    def refused(self, refused: Refused) -> WebhookResponse:
        return refused.response()


@dataclass
class LambdaContext:
    """The one method of Lambda's context object the handler reads."""

    remaining_ms: int

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


@pytest.fixture
def echo_core(tmp_path: Path) -> Iterator[WebhookCore]:
    """A core serving the echo endpoint, installed as the process's; it never opens an app."""

    def no_app(settings: Settings) -> Leadscore:
        raise AssertionError("the echo core opens no application")

    settings = Settings(state_url=f"sqlite:///{tmp_path / 'unused.db'}")
    core = WebhookCore(settings, endpoints=[EchoEndpoint()], open_app=no_app)
    serverless.use_core(core)
    yield core
    serverless.use_core(None)
    core.close()


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox(people=30, seed=7) as sandbox:
        yield sandbox


@contextmanager
def opened_on(
    box: Sandbox, rules: RuleSet, state: Path, settings: Settings | None = None, **open_with: Any
) -> Iterator[Leadscore]:
    """A `Leadscore` on the sandbox (its own settings unless given), set up, over `state`."""
    chosen = settings or sandbox_settings(box, f"sqlite:///{state}")
    with Leadscore.open(chosen, rules=rules, pace=box.clock, **open_with) as app:
        app.setup()
        yield app


@pytest.fixture
def opened(box: Sandbox, rules: RuleSet, tmp_path: Path) -> Iterator[Leadscore]:
    with opened_on(box, rules, tmp_path / "state.db") as app:
        yield app


class Counting:
    """A connector that logs its fetches, can hold them until let go, and fails on demand:
    every fetch (`fail_all`) or a record's (`fail`)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.fetched: list[str] = []
        self.fail: dict[str, Exception] = {}
        self.fail_all: Exception | None = None
        self.hold: threading.Event | None = None
        self.lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @property
    def fetches(self) -> int:
        return len(self.fetched)

    def fetch(self, record_id: str | None = None, *, email: str | None = None) -> Page:
        with self.lock:
            self.fetched.append(str(record_id))
        if self.hold is not None:
            assert self.hold.wait(30)
        if self.fail_all is not None:
            raise self.fail_all
        if record_id in self.fail:
            raise self.fail[record_id]
        return self.inner.fetch(record_id, email=email)

    @classmethod
    def installed(cls, app: Leadscore) -> Counting:
        """Wraps `app`'s first connector, in place."""
        counting = cls(app.job.connectors[0])
        app.job.connectors[0] = counting  # type: ignore[call-overload]
        return counting


def install_core(app: Leadscore, **settings: Any) -> WebhookCore:
    """A core on `app` (its settings changed by `settings`), installed as the process's."""
    changed = app.settings.model_copy(update=settings)
    core = WebhookCore(changed, endpoints=[EchoEndpoint()], open_app=lambda s: app)
    serverless.use_core(core)
    return core


@pytest.fixture
def sandbox_core(opened: Leadscore) -> Iterator[WebhookCore]:
    core = install_core(opened)
    yield core
    serverless.use_core(None)
    core._pool.shutdown(wait=True)
