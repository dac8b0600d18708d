"""What the serverless entry points (`sync.web.aws`, `sync.web.gcp`) share: one webhook core
per process, and a scheduled sync that returns before the platform stops the function.

The core is built on the first call, not at import: a cold start that only answers
`/healthz` reads the settings and nothing else (no SDK, no SQLAlchemy, no numpy), and
the application behind it (store, connectors, rules) is opened by the core itself on
the first request that needs it, then kept while the instance is warm. A scheduled
run uses that same application.

A scheduled run is an incremental sync with a deadline (`sync/deadline.py`): the time
the platform gives less a margin that covers one step the deadline cannot interrupt
(a page being fetched, the scoring). A run cut short ends "partial" and the next one
takes up the rest. Its answer is the run's summary; a run that could not happen
answers `failed` (or `skipped`, another run holding the lock) with a reason that never
quotes a secret, and nothing of it is a traceback.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sync.web.core import WebhookCore

log = logging.getLogger("leadscore.web")

STOP_SHARE = 0.1
"""Of the time a scheduled run is given, kept back so that it returns before the platform
stops it ..."""
STOP_MOST = 60.0
"""... yet never more than this many seconds."""
EVENT_FUNCTION_SECONDS = 540.0
"""The longest a Cloud Functions event function may run (9 minutes; HTTP functions
60 minutes): https://cloud.google.com/functions/docs/configuring/timeout"""

_shared: WebhookCore | None = None
_building = threading.Lock()


def shared_core() -> WebhookCore:
    """The process's webhook core, built from the settings on first use (and its logs set up)."""
    global _shared
    with _building:
        if _shared is None:
            from sync.config import read_settings
            from sync.logs import configure
            from sync.web.core import WebhookCore

            settings = read_settings()
            configure(settings.log_format, settings.log_level)
            _shared = WebhookCore(settings)
        return _shared


def use_core(core: WebhookCore | None) -> None:
    """Serve with `core` from now on (None: build one from the settings on next use)."""
    global _shared
    with _building:
        _shared = core


def stop_margin(seconds: float) -> float:
    """The seconds kept back from `seconds` given: a tenth, at most a minute."""
    return min(STOP_MOST, max(0.0, seconds) * STOP_SHARE)


def scheduled_sync(seconds: float | None, *, full: bool = False) -> dict[str, Any]:
    """An incremental (or full) sync that returns within `seconds` from now (None: the
    setting `schedule_seconds`, else `EVENT_FUNCTION_SECONDS`); the run's summary."""
    began = time.monotonic()
    from sync.entry import warmed

    warmed()  # a run's garbage is collected as it goes
    try:
        core = shared_core()
        from sync.summary import SyncOptions

        if seconds is None:
            seconds = core.settings.schedule_seconds or EVENT_FUNCTION_SECONDS
        deadline = began + max(0.0, seconds) - stop_margin(seconds)
        summary = core.app().sync(SyncOptions(full=full, deadline=deadline)).as_dict()
    except Exception as exc:
        from sync.locks import LockHeld

        held = isinstance(exc, LockHeld)
        summary = {"status": "skipped" if held else "failed", "error": failure_reason(exc)}
        log.error("scheduled sync not run", extra=summary)
        return summary
    log.info(
        "scheduled sync",
        extra={k: summary[k] for k in ("mode", "status", "persons", "changed", "elapsed_seconds")},
    )
    return summary


def failure_reason(error: BaseException) -> str:
    """What to say of a run that failed so: the project's own errors are written to be
    shown; anything else (a driver's text may quote a URL with its password) by its type."""
    from connectors.errors import ApiError
    from sync.errors import SyncError
    from sync.web.messages import Refused

    if isinstance(error, Refused):
        return error.reason
    if isinstance(error, SyncError):
        return "; ".join(error.lines)
    if isinstance(error, ApiError):
        return str(error)
    return f"leadscore failed ({type(error).__name__}); see its log"
