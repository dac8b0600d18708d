"""The files reader as it was before the columnar one: the reference the property tests hold
the new reader to (same records, same frames, same messages). Not product code."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import stat
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from connectors.errors import FileProblem, InputFileError
from scoring.records import ACTIVITY_TYPES, Activity, ActivityType, Contact, normalize_email

MAX_PROBLEMS = 20
SHOWN_COLUMNS = 10
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def file_format(path: str | Path) -> str:
    """`csv` or `jsonl`, from the file's extension."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InputFileError(
            [
                FileProblem(
                    str(path), None, None, f"unknown extension {suffix!r}; use .csv or .jsonl"
                )
            ]
        )
    return FORMATS[suffix]


@dataclass(frozen=True)
class _Row:
    number: int
    """Line of the file where the row starts (1 is a CSV file's header)."""
    values: Mapping[str, Any]


class _Problems:
    """Collects problems up to a limit, then stops the read."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.found: list[FileProblem] = []

    def add(self, row: int | None, column: str | None, message: str) -> None:
        self.found.append(FileProblem(self.path, row, column, message))
        if len(self.found) >= MAX_PROBLEMS:
            self.raise_if_any()

    def raise_if_any(self) -> None:
        if self.found:
            raise InputFileError(self.found)


def _read_text(path: str) -> str:
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise InputFileError([FileProblem(path, None, None, "file not found")]) from None
    except OSError as exc:
        raise InputFileError(
            [FileProblem(path, None, None, f"cannot read: {exc.strerror}")]
        ) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        message = f"not UTF-8 text (byte {exc.start}); save the file as UTF-8"
        raise InputFileError([FileProblem(path, line, None, message)]) from None


def _rows(
    path: str, required: Sequence[Sequence[str]], records: str | None = None
) -> tuple[list[str], list[_Row]]:
    """Rows of a CSV or JSONL file, after checking that `required` columns exist.

    Each entry of `required` is a group of alternatives, one of which must be present.
    With `records` (what the rows are, "contacts"), a file without rows is an error;
    without it, an empty file (nothing but blanks) is no rows, in either format, and
    a CSV header alone is checked for the required columns.
    """
    kind = file_format(path)
    text = _read_text(path)
    problems = _Problems(path)
    if not text.strip():
        if records is not None:
            problems.add(None, None, f"the file is empty: expected {records}")
        problems.raise_if_any()
        return [], []
    if kind == "csv":
        columns, rows = _csv_rows(text, problems)
    else:
        columns, rows = _jsonl_rows(text, problems)
    problems.raise_if_any()
    for group in required:
        if not any(name in columns for name in group):
            wanted = " or ".join(f"'{n}'" for n in group)
            where = 1 if kind == "csv" else None
            shown = ", ".join(columns[:SHOWN_COLUMNS])
            more = len(columns) - SHOWN_COLUMNS
            shown += f" and {more} more" if more > 0 else ""
            found = f"missing column {wanted} (found: {shown})"
            problems.add(where, group[0], found + _delimiter_hint(kind, columns))
    if not rows and records is not None:
        problems.add(None, None, f"the file holds a header but no rows: expected {records}")
    problems.raise_if_any()
    return columns, rows


def _delimiter_hint(kind: str, columns: Sequence[str]) -> str:
    """A hint when a CSV header is one column holding another separator (Excel's `;`)."""
    if kind != "csv" or len(columns) != 1:
        return ""
    for separator, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "bars")):
        if separator in columns[0]:
            return (
                f"; the file seems separated by {name}: leadscore reads comma-separated CSV, "
                "so save or export it with ',' as the delimiter"
            )
    return ""


def _csv_rows(text: str, problems: _Problems) -> tuple[list[str], list[_Row]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:  # `_rows` reads no blank file
        return [], []
    except csv.Error as exc:
        problems.add(1, None, f"malformed CSV: {exc}")
        return [], []
    columns = [name.strip() for name in header]
    counts = Counter(columns)
    for name in [n for n, count in counts.items() if count > 1 and n]:
        problems.add(1, name, "column appears more than once")
    if "" in columns:
        problems.add(1, None, f"column {columns.index('') + 1} has no name")
    rows: list[_Row] = []
    start = reader.line_num + 1
    try:
        for record in reader:
            if any(cell.strip() for cell in record):
                if len(record) != len(columns):
                    problems.add(
                        start, None, f"expected {len(columns)} fields, found {len(record)}"
                    )
                else:
                    rows.append(_Row(start, dict(zip(columns, record, strict=True))))
            start = reader.line_num + 1
    except csv.Error as exc:
        problems.add(start, None, f"malformed CSV: {exc}")
    return columns, rows


def _jsonl_rows(text: str, problems: _Problems) -> tuple[list[str], list[_Row]]:
    rows: list[_Row] = []
    columns: dict[str, None] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.add(number, None, f"invalid JSON: {exc.msg} (column {exc.colno})")
            continue
        except (ValueError, RecursionError):  # an integer of thousands of digits; deep nesting
            problems.add(number, None, "invalid JSON: a number too long or nesting too deep")
            continue
        if not isinstance(value, dict):
            problems.add(number, None, f"expected a JSON object, found {type(value).__name__}")
            continue
        for key, cell in value.items():
            if isinstance(cell, dict | list):
                problems.add(number, key, "nested objects and lists are not supported")
            elif isinstance(cell, int | float) and not _finite(cell):
                found = repr(cell) if isinstance(cell, float) else f"{len(str(cell))} digits"
                problems.add(number, key, f"a number out of range for the rules: {found}")
        columns.update(dict.fromkeys(value))
        rows.append(_Row(number, value))
    return list(columns), rows


def _finite(number: float) -> bool:
    """Whether a JSON number is one the rules can compare: finite as a float."""
    try:
        return math.isfinite(number)
    except OverflowError:  # an integer beyond the largest float
        return False


def _cell(value: Any) -> Any:
    """A cell's value, or None when it is blank."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _attributes(values: Mapping[str, Any], reserved: Iterable[str]) -> dict[str, Any]:
    skip = set(reserved)
    return {
        k: v
        for k, v in ((k, _cell(v)) for k, v in values.items() if k not in skip)
        if v is not None
    }


def read_contacts(path: str | Path) -> list[Contact]:
    """Contacts from a CSV or JSONL file; raises `InputFileError` if it is malformed."""
    name = str(path)
    _, rows = _rows(name, [["id"]], records="contacts")
    problems = _Problems(name)
    contacts: list[Contact] = []
    seen: dict[str, int] = {}
    for row in rows:
        ident = _cell(row.values.get("id"))
        if ident is None:
            problems.add(row.number, "id", "the contact id is empty")
            continue
        ident = str(ident)
        if ident in seen:
            problems.add(row.number, "id", f"duplicate id {ident!r} (first on line {seen[ident]})")
            continue
        seen[ident] = row.number
        email = _cell(row.values.get("email"))
        if email is not None and not isinstance(email, str):
            problems.add(row.number, "email", f"expected text, found {email!r}")
            continue
        contacts.append(
            Contact(id=ident, email=email, attributes=_attributes(row.values, ("id", "email")))
        )
    problems.raise_if_any()
    return contacts


_TYPE_NAMES = {t.value: t for t in ACTIVITY_TYPES}


def parse_activity_type(text: str) -> ActivityType | None:
    """The canonical type for a name such as 'email_open', 'Email open' or 'email-open'."""
    return _TYPE_NAMES.get(text.strip().lower().replace("-", "_").replace(" ", "_"))


def parse_moment(value: Any) -> datetime | None:
    """An aware UTC datetime from ISO-8601 text; naive values are taken as UTC."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):  # not a date, or one that leaves years 1-9999 in UTC
        return None


def moment_problem(value: Any) -> str:
    """Why `value` is not a moment `parse_moment` accepts, for an error message."""
    example = "expected an ISO-8601 date and time such as 2026-03-01T09:30:00Z"
    if isinstance(value, str) and _iso_text(value):
        return f"{value!r} is out of range: in UTC it falls outside the years 1 to 9999"
    return f"{example}, got {value!r}"


def _iso_text(value: str) -> bool:
    """Whether `value` is written as an ISO-8601 moment (whatever its range in UTC)."""
    try:
        datetime.fromisoformat(value.strip())
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class ActivityRead:
    """Activities read from a file, and how many referred to no known contact."""

    activities: list[Activity]
    unmatched: int


def read_activities(path: str | Path, contacts: Sequence[Contact]) -> ActivityRead:
    """Activities from a CSV or JSONL file, tied to `contacts` by `contact_id` or `email`."""
    name = str(path)
    columns, rows = _rows(name, [["type"], ["occurred_at"], ["contact_id", "email"]])
    by_id = {c.id: c.id for c in contacts}
    by_email: dict[str, str] = {}
    for contact in contacts:
        key = normalize_email(contact.email)
        if key is not None:
            by_email.setdefault(key, contact.id)
    problems = _Problems(name)
    activities: list[Activity] = []
    unmatched = 0
    reserved = ("id", "contact_id", "email", "type", "occurred_at")
    for row in rows:
        raw_type = _cell(row.values.get("type"))
        kind = parse_activity_type(raw_type) if isinstance(raw_type, str) else None
        if kind is None:
            valid = ", ".join(t.value for t in ACTIVITY_TYPES)
            problems.add(
                row.number, "type", f"unknown activity type {raw_type!r} (expected one of: {valid})"
            )
        raw_time = _cell(row.values.get("occurred_at"))
        moment = parse_moment(raw_time)
        if moment is None:
            problems.add(row.number, "occurred_at", moment_problem(raw_time))
        contact_ref = _cell(row.values.get("contact_id"))
        email_ref = _cell(row.values.get("email"))
        if contact_ref is None and email_ref is None:
            column = "contact_id" if "contact_id" in columns else "email"
            problems.add(row.number, column, "no contact: contact_id and email are both empty")
            continue
        if kind is None or moment is None:
            continue
        contact_id = by_id.get(str(contact_ref)) if contact_ref is not None else None
        if contact_id is None and email_ref is not None:
            contact_id = by_email.get(normalize_email(str(email_ref)) or "")
        if contact_id is None:
            unmatched += 1
            continue
        ident = _cell(row.values.get("id"))
        activities.append(
            Activity(
                contact_id=contact_id,
                type=kind,
                occurred_at=moment,
                id=None if ident is None else str(ident),
                attributes=_attributes(row.values, reserved),
            )
        )
    problems.raise_if_any()
    return ActivityRead(activities, unmatched)


def write_rows(path: str | Path, rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """Write rows to a CSV or JSONL file atomically: the file appears whole or not at all."""
    target = Path(path)
    kind = file_format(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = _mode_for(target)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        os.fchmod(handle, mode)
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.writelines(_serialize(kind, rows, columns))
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _mode_for(target: Path) -> int:
    """The mode of the file being replaced, or the one `open()` would create it with."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        return 0o666 & ~_umask()


def _umask() -> int:
    """The process's umask, read without changing it where Linux says it."""
    with contextlib.suppress(OSError, ValueError):  # not Linux: set it and set it back
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o22)
    os.umask(mask)
    return mask


def _serialize(
    kind: str, rows: Iterable[Mapping[str, Any]], columns: Sequence[str]
) -> Iterator[str]:
    if kind == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        yield buffer.getvalue()
        for row in rows:
            buffer.seek(0)
            buffer.truncate()
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
            yield buffer.getvalue()
    else:
        for row in rows:
            yield json.dumps({k: row.get(k) for k in columns}, ensure_ascii=False) + "\n"
