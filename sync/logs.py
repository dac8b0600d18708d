"""Logging: readable lines on a terminal, one JSON object per line everywhere else.

Records carry their structured details in `extra=` (a run summary, a system,
an error text); the JSON formatter writes them as fields. Nothing here reads
settings, so no secret can reach a log through it.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message and the record's extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is when a record is emitted, not when it was built."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        """Ignored: the stream is always the current `sys.stderr` (test runners swap it)."""


def configure(log_format: str = "auto", level: str = "INFO") -> None:
    """Send leadscore's logs to stderr in the chosen format ('auto': text on a terminal)."""
    use_json = log_format == "json" or (log_format == "auto" and not sys.stderr.isatty())
    handler = StderrHandler()
    if use_json:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("leadscore")
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False
    # On a terminal the summary table says it all; JSON consumers want the summary record.
    if not use_json:
        logging.getLogger("leadscore.sync").setLevel(max(logging.WARNING, logger.level))
