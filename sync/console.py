"""What the commands share: the consoles, failing with a message and an exit code, and
settings and rules read or failed on (every problem a line, no traceback)."""

from __future__ import annotations

from contextvars import ContextVar
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
TenantOption = Annotated[
    str | None,
    typer.Option(
        "--tenant",
        help="A tenant of the tenants file (LEADSCORE_TENANTS_FILE): its own settings, "
        "secrets, rule file and state store, none of the environment's.",
    ),
]
CHOSEN: ContextVar[tuple[str | None, str | None]] = ContextVar("chosen", default=(None, None))
"""The tenant and the one system a command was given (`--tenant`, `--system`)."""
out = Console()
err = Console(stderr=True)


def fail(lines: list[str] | str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print what is wrong on stderr and stop with `code` (2: bad input)."""
    for line in [lines] if isinstance(lines, str) else lines:
        # The line may quote a path or an address with brackets: never read it as markup.
        # It wraps at words to the terminal's width (80 columns when piped).
        err.print(f"[red]error:[/red] {escape(line)}", highlight=False, soft_wrap=False)
    raise typer.Exit(code)


def choose(tenant: str | None, system: str | None = None) -> None:
    """The settings commands read are the tenant's (`sync.tenants`), of `system` alone."""
    CHOSEN.set((tenant, system))


def settings() -> Settings:
    """The settings from the environment, or those of the chosen tenant (and system)."""
    from sync.config import read_settings

    tenant, system = CHOSEN.get()
    try:
        if tenant is not None:
            from sync.tenants import tenant as named

            return named(tenant).settings(system)
        config = read_settings()
        if system is None:
            return config
        from sync.tenants import one_system

        return one_system(config, system)
    except ConfigError as exc:
        fail(exc.lines)


def elsewhere() -> frozenset[str]:
    """The systems other runs sync when this one syncs one system alone (`Sync.elsewhere`)."""
    tenant, system = CHOSEN.get()
    if system is None:
        return frozenset()
    from connectors.registry import SYSTEMS
    from sync.config import read_settings

    try:
        if tenant is not None:
            from sync.tenants import tenant as named

            return frozenset(named(tenant).systems) - {system}
        config = read_settings()
    except ConfigError as exc:
        fail(exc.lines)
    return frozenset(e.name for e in SYSTEMS if config.section(e.name).configured) - {system}


def rules_from(path: Path) -> RuleSet:
    from sync.rulefile import read_rules

    try:
        return read_rules(path)
    except ConfigError as exc:
        fail(exc.lines)
