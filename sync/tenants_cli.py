"""`leadscore tenants`: each tenant of the tenants file with its systems, rule file, state
and the last run of each system; and the reset that makes every other command read the
environment's settings unless it says `--tenant NAME` (`sync.console.choose`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sync.console import choose


def each_command() -> None:
    """Before each command: the environment's settings, but where it says --tenant."""
    choose(None)


def tenants_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the tenants as JSON.")] = False,
    file: Annotated[
        Path | None,
        typer.Option("--file", help="The tenants file (default: $LEADSCORE_TENANTS_FILE)."),
    ] = None,
) -> None:
    """List the tenants, their systems and last runs.

    List the tenants of the tenants file: their systems, rule file, state, and each
    system's last run (when, status, records written) and whether a run holds it now."""
    import json

    from rich.markup import escape
    from rich.table import Table

    from sync.console import fail, out
    from sync.errors import SyncError
    from sync.tenant_status import tenant_status
    from sync.tenants import read_tenants

    try:
        tenants = read_tenants(file)
    except SyncError as exc:
        fail(exc.lines, code=exc.exit_code)
    found = [tenant_status(t) for t in tenants.values()]
    if as_json:
        typer.echo(json.dumps({"tenants": [s.as_dict() for s in found]}, indent=2))
        return
    # the short columns in a table; each tenant's rule file, state and problem below it,
    # whole (a long line left to the terminal to wrap, never cut): 80 columns read as 200
    table = Table("tenant", "system", "last run", "status", "written")
    for column in table.columns:
        column.no_wrap = column.header != "last run"
    for status in found:
        rows = status.systems or []
        if not rows:
            table.add_row(escape(status.name), "none", "", "", "")
        for i, system in enumerate(rows):
            state = "running now" if system.running else (system.status or "never run")
            table.add_row(
                escape(status.name) if i == 0 else "",
                system.system,
                (system.last_run or "").replace("+00:00", " UTC"),
                state,
                "" if system.written is None else f"{system.written:,}",
            )
    out.print(table)
    for status in found:
        out.print(f"[bold]{escape(status.name)}[/bold]", soft_wrap=True)
        out.print(f"  rules  {escape(status.rules)}", soft_wrap=True, highlight=False)
        out.print(f"  state  {escape(status.state)}", soft_wrap=True, highlight=False)
        if status.problem:
            out.print(f"  [red]{escape(status.problem)}[/red]", soft_wrap=True, highlight=False)
