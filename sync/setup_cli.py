"""`leadscore setup`: the fields created in each configured system, the shadow rules' too
when asked (`sync.shadow_write`); `sync.cli` registers it with one line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sync.console import RulesOption, TenantOption


def setup_command(
    rules: RulesOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what is missing only.")
    ] = False,
    shadow: Annotated[
        Path | None,
        typer.Option(
            help="Also create the fields `sync --shadow FILE --shadow-write` writes this rule "
            "file's score, stage and grade to (LEADSCORE_SHADOW_FIELD_PREFIX).",
        ),
    ] = None,
    tenant: TenantOption = None,
) -> None:
    """Create the leadscore fields in each configured system (idempotent)."""
    from sync.cli import opened
    from sync.console import choose, err, out, rules_from

    choose(tenant)
    shadow_rules = None if shadow is None else rules_from(shadow)  # exit 2 before any call
    with opened(rules) as application:
        maps = None if shadow_rules is None else application.shadow_fields(shadow_rules)
        reports = application.setup(dry_run=dry_run, shadow=maps)
        warnings = application.warnings(reports)
        notes = application.notes()
    verb, added = ("would create", "would add") if dry_run else ("created", "added")
    for system, report in reports.items():
        updated = f"; {added} options to {', '.join(report.updated)}" if report.updated else ""
        if report.described:
            updated += f"; {'would update' if dry_run else 'updated'} the descriptions of "
            updated += ", ".join(report.described)
        out.print(
            f"{system}: {verb} {len(report.created)} "
            f"({', '.join(report.created) or 'nothing'}){updated}; "
            f"{len(report.existing)} already there",
            highlight=False,
        )
    for note in notes:
        out.print(f"note: {note}", highlight=False)
    for warning in warnings:
        err.print(f"warning: {warning}", highlight=False)
