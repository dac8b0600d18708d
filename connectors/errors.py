"""Errors of the connectors.

    ConnectorError
    └── InputFileError     a contacts or activities file is malformed; carries every `FileProblem`

Messages say which system or file, which record and which field, and never
carry a credential.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FileProblem:
    """One thing wrong in an input file: where (row, column) and what was expected."""

    file: str
    row: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.row is None else f"{self.file}:{self.row}"
        column = f" column {self.column!r}:" if self.column else ""
        return f"{where}:{column} {self.message}"


class ConnectorError(Exception):
    """Base of the connectors' errors."""


class InputFileError(ConnectorError):
    """A contacts or activities file that cannot be used; `problems` lists what was found."""

    def __init__(self, problems: list[FileProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
