"""Logging: readable lines on a terminal, one JSON object per line everywhere else.

Records carry their structured details in `extra=` (a run summary, a system,
an error text); the JSON formatter writes them as fields. Nothing here reads
settings, so no secret can reach a log through it.

Logs and run summaries name people by id (person, record), never by address or
attribute, at INFO and above. A vendor's error text may quote an address: such
texts pass through `without_addresses`, and the handler `configure` installs
masks any address left in a record above DEBUG (`NoAddresses`). DEBUG records
are written as they are, and may carry addresses and attributes: `configure`
says so when it turns DEBUG on.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
"""Anything shaped like an email address."""
MASK = "<address>"


def without_addresses(text: str) -> str:
    """`text` with every address in it masked."""
    return ADDRESS.sub(MASK, text) if "@" in text else text


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return without_addresses(value)
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(v) for v in value]
    return value


class NoAddresses(logging.Filter):
    """Masks the addresses in a record above DEBUG: its message and its extras."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno <= logging.DEBUG:
            return True
        message = record.getMessage()
        if "@" in message:
            record.msg, record.args = without_addresses(message), None
        for key, value in vars(record).items():
            if key not in STANDARD:
                setattr(record, key, _masked(value))
        return True


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
    handler.addFilter(NoAddresses())
    logger = logging.getLogger("leadscore")
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug("DEBUG logs may carry contact addresses and attributes: keep them private")
    # On a terminal the summary table says it all; JSON consumers want the summary record.
    if not use_json:
        logging.getLogger("leadscore.sync").setLevel(max(logging.WARNING, logger.level))
