"""Rows of a CSV or JSON Lines file one by one, in Python: JSON Lines files, and the CSV
files whose shape the columnar reader (`connectors/files/csv_columns.py`) leaves to this
one (a malformed row, a header that is not one, a field beyond the csv module's limit),
so that such a file is read, or refused, exactly as it always was.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectors.errors import FileProblem, InputFileError
from connectors.files.problems import Problems, file_format, missing_columns


@dataclass(frozen=True)
class FileRow:
    number: int
    """Line of the file where the row starts (1 is a CSV file's header)."""
    values: Mapping[str, Any]


def read_text(path: str) -> str:
    """The file as text; a located problem when it is missing, unreadable or not UTF-8."""
    data = read_bytes(path)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise not_utf8(path, data, exc.start) from None


def read_bytes(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise InputFileError([FileProblem(path, None, None, "file not found")]) from None
    except OSError as exc:
        raise InputFileError(
            [FileProblem(path, None, None, f"cannot read: {exc.strerror}")]
        ) from None


def not_utf8(path: str, data: bytes, start: int) -> InputFileError:
    """The problem of a file whose byte `start` (as the UTF-8 decoder counts it: after a
    byte order mark) begins no UTF-8 character; the line is counted from the file's start."""
    line = data[:start].count(b"\n") + 1
    message = f"not UTF-8 text (byte {start}); save the file as UTF-8"
    return InputFileError([FileProblem(path, line, None, message)])


def file_rows(
    path: str, required: Sequence[Sequence[str]], records: str | None = None
) -> tuple[list[str], list[FileRow]]:
    """Rows of a CSV or JSONL file, after checking that `required` columns exist.

    Each entry of `required` is a group of alternatives, one of which must be present.
    With `records` (what the rows are, "contacts"), a file without rows is an error;
    without it, an empty file (nothing but blanks) is no rows, in either format, and
    a CSV header alone is checked for the required columns.
    """
    kind = file_format(path)
    text = read_text(path)
    problems = Problems(path)
    if not text.strip():
        if records is not None:
            problems.add(None, None, f"the file is empty: expected {records}")
        problems.raise_if_any()
        return [], []
    if kind == "csv":
        columns, rows = csv_rows(text, problems)
    else:
        columns, rows = jsonl_rows(text, problems)
    problems.raise_if_any()
    missing_columns(problems, kind, columns, required)
    if not rows and records is not None:
        problems.add(None, None, f"the file holds a header but no rows: expected {records}")
    problems.raise_if_any()
    return columns, rows


def csv_rows(text: str, problems: Problems) -> tuple[list[str], list[FileRow]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:  # `file_rows` reads no blank file
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
    rows: list[FileRow] = []
    start = reader.line_num + 1
    try:
        for record in reader:
            if any(cell.strip() for cell in record):
                if len(record) != len(columns):
                    problems.add(
                        start, None, f"expected {len(columns)} fields, found {len(record)}"
                    )
                elif not problems.found:  # a file with a problem is refused: no rows kept
                    rows.append(FileRow(start, dict(zip(columns, record, strict=True))))
            start = reader.line_num + 1
    except csv.Error as exc:
        problems.add(start, None, f"malformed CSV: {exc}")
    return columns, rows


def jsonl_rows(text: str, problems: Problems) -> tuple[list[str], list[FileRow]]:
    rows: list[FileRow] = []
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
            elif "\\u" in line and _surrogate(key, cell):
                problems.add(number, None, "invalid JSON: a lone surrogate (\\ud800-\\udfff)")
        columns.update(dict.fromkeys(value))
        rows.append(FileRow(number, value))
    return list(columns), rows


def _surrogate(key: str, cell: Any) -> bool:
    """Whether a key or a text cell holds a lone surrogate, which is no character."""
    for text in (key, cell):
        if isinstance(text, str) and not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                return True
    return False


def _finite(number: float) -> bool:
    """Whether a JSON number is one the rules can compare: finite as a float."""
    try:
        return math.isfinite(number)
    except OverflowError:  # an integer beyond the largest float
        return False


def cell(value: Any) -> Any:
    """A cell's value, or None when it is blank."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value
