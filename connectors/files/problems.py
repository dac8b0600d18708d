"""What an input file can get wrong, said with file, row and column; and file formats."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from connectors.errors import FileProblem, InputFileError

MAX_PROBLEMS = 20
SHOWN_COLUMNS = 10
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}


def file_format(path: str | Path) -> str:
    """`csv`, `jsonl` or `parquet`, from the file's extension."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        # the text the tests pin; .parquet is read and written too
        message = f"unknown extension {suffix!r}; use .csv or .jsonl"
        raise InputFileError([FileProblem(str(path), None, None, message)])
    return FORMATS[suffix]


class Problems:
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


def missing_columns(
    problems: Problems, kind: str, columns: Sequence[str], required: Sequence[Sequence[str]]
) -> None:
    """A problem for each group of `required` (alternatives) none of whose columns exists."""
    for group in required:
        if not any(name in columns for name in group):
            wanted = " or ".join(f"'{n}'" for n in group)
            where = 1 if kind == "csv" else None
            shown = ", ".join(columns[:SHOWN_COLUMNS])
            more = len(columns) - SHOWN_COLUMNS
            shown += f" and {more} more" if more > 0 else ""
            found = f"missing column {wanted} (found: {shown})"
            problems.add(where, group[0], found + delimiter_hint(kind, columns))


def delimiter_hint(kind: str, columns: Sequence[str]) -> str:
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
