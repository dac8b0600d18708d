"""JSON logs: one object per record, with the record's structured details as fields."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from sync.logs import JsonFormatter


class Lines(logging.Handler):
    """Keeps each formatted record, as a log shipper would receive it."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def record(
    message: str, *args: object, level: int = logging.INFO, **extra: object
) -> logging.LogRecord:
    made = logging.LogRecord("leadscore.sync", level, __file__, 1, message, args, None)
    made.created = datetime(2026, 11, 1, 12, 0, 0, 250000, tzinfo=UTC).timestamp()
    made.__dict__.update(extra)
    return made


def test_a_record_is_one_json_object_with_time_level_logger_message_and_extras() -> None:
    line = JsonFormatter().format(
        record("synced %d contacts", 12, system="hubspot", summary={"written": 3})
    )

    assert "\n" not in line
    assert json.loads(line) == {
        "time": "2026-11-01T12:00:00.250+00:00",
        "level": "info",
        "logger": "leadscore.sync",
        "message": "synced 12 contacts",
        "system": "hubspot",
        "summary": {"written": 3},
    }


def test_an_extra_json_cannot_hold_is_written_as_text() -> None:
    moment = datetime(2026, 11, 1, tzinfo=UTC)

    entry = json.loads(JsonFormatter().format(record("run", level=logging.WARNING, at=moment)))

    assert (entry["level"], entry["at"]) == ("warning", str(moment))


def test_a_logged_exception_is_written_with_its_traceback() -> None:
    logger = logging.getLogger("leadscore.test_logs")
    handler = Lines()
    logger.addHandler(handler)
    try:
        try:
            raise ValueError("bad page")
        except ValueError:
            logger.exception("pull failed", extra={"system": "hubspot"})
    finally:
        logger.removeHandler(handler)

    (entry,) = map(json.loads, handler.lines)
    assert (entry["message"], entry["level"], entry["system"]) == (
        "pull failed",
        "error",
        "hubspot",
    )
    assert "ValueError: bad page" in entry["exception"]
