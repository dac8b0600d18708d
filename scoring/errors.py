"""Errors of the scoring core.

    ScoringError
    ├── RuleFileError      a rule file is unreadable or invalid; carries every `Problem`
    └── InputError         contacts or activities handed to the engine are inconsistent

Each `Problem` names the file, the line and the field it is about and says
what was expected, so that a person can fix it without reading code.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a file: where, which field, and what was expected."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class ScoringError(Exception):
    """Base of the scoring core's errors."""


class RuleFileError(ScoringError):
    """A rule file that cannot be used; `problems` lists every error found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class InputError(ScoringError):
    """Frames handed to the engine that do not fit together."""
