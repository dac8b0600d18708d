"""A call run beside the caller's own work, on a thread of its own.

The call sees the caller's context variables as they were when it began (the request's
deadline, the calls' patience: `connectors.policy.patience`), and its result or error is
taken from the `Future` returned, once the caller needs it.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

Returned = TypeVar("Returned")


def beside(call: Callable[[], Returned], name: str = "leadscore-beside") -> Future[Returned]:
    """Start `call` on a thread of its own now; its outcome is the future's."""
    future: Future[Returned] = Future()
    context = contextvars.copy_context()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(context.run(call))
        except BaseException as exc:  # taken by whoever reads the future
            future.set_exception(exc)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future
