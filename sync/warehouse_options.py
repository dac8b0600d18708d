"""The options of `leadscore score` that read from and write to a database (their use is
in `sync.warehouse_command`), apart so that the command line stays short."""

from __future__ import annotations

from typing import Annotated

import typer

_PANEL = "Warehouse"
ContactsQuery = Annotated[
    str | None,
    typer.Option(
        help="Contacts from this SQL query's result (columns as a contacts file's), "
        "instead of --contacts.",
        rich_help_panel=_PANEL,
    ),
]
ActivitiesQuery = Annotated[
    str | None,
    typer.Option(
        help="Activities from this SQL query's result, instead of --activities.",
        rich_help_panel=_PANEL,
    ),
]
FromUrl = Annotated[
    str | None,
    typer.Option(
        help="SQLAlchemy URL of the database sql:TABLE and queries are read from "
        "(default: LEADSCORE_WAREHOUSE_URL, which keeps a password out of the shell's history).",
        rich_help_panel=_PANEL,
    ),
]
ToUrl = Annotated[
    str | None,
    typer.Option(
        help="SQLAlchemy URL of the database --out sql:TABLE is written to (default: "
        "--from-url, else LEADSCORE_WAREHOUSE_URL).",
        rich_help_panel=_PANEL,
    ),
]
Append = Annotated[
    bool,
    typer.Option(
        "--append",
        help="Add this run's rows to the --out table (each row has its rules_version and "
        "scored_at) instead of replacing the table.",
        rich_help_panel=_PANEL,
    ),
]
