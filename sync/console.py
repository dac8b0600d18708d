"""What the commands share: the consoles, failing with a message and an exit code, and
settings and rules read or failed on (every problem a line, no traceback)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from sync.errors import EXIT_BAD_INPUT, ConfigError

if TYPE_CHECKING:
    from scoring import RuleSet
    from sync.settings import Settings

RulesOption = Annotated[
    Path | None,
    typer.Option(
        "--rules", "-r", help="Rule file (default: $LEADSCORE_RULES, else leadscore.yaml)."
    ),
]
out = Console()
err = Console(stderr=True)


def fail(lines: list[str] | str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print what is wrong on stderr and stop with `code` (2: bad input)."""
    for line in [lines] if isinstance(lines, str) else lines:
        # The line may quote a path or an address with brackets: never read it as markup.
        # It wraps at words to the terminal's width (80 columns when piped).
        err.print(f"[red]error:[/red] {escape(line)}", highlight=False, soft_wrap=False)
    raise typer.Exit(code)


def settings() -> Settings:
    from sync.config import read_settings

    try:
        return read_settings()
    except ConfigError as exc:
        fail(exc.lines)


def rules_from(path: Path) -> RuleSet:
    from sync.rulefile import read_rules

    try:
        return read_rules(path)
    except ConfigError as exc:
        fail(exc.lines)
