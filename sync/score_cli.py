"""`leadscore score`: its options; the work is `sync.score_command` and, for a database,
`sync.warehouse_command`, imported when it runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sync.console import RulesOption
from sync.warehouse_options import ActivitiesQuery, Append, ContactsQuery, FromUrl, ToUrl


def score_command(
    contacts: Annotated[
        Path | None,
        typer.Option(
            "--contacts",
            "-c",
            help="Contacts: .csv, .jsonl or .parquet with an `id` column, or sql:TABLE.",
        ),
    ] = None,
    rules: RulesOption = None,
    activities: Annotated[
        Path | None,
        typer.Option(
            "--activities",
            "-a",
            help="Activities: .csv, .jsonl or .parquet with contact_id (or email), type, "
            "occurred_at; or sql:TABLE.",
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            help="Score as of this ISO-8601 moment (default: now); later activities are ignored."
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Write every contact to .csv, .jsonl, .parquet or sql:TABLE, not the ranking.",
        ),
    ] = None,
    top: Annotated[int, typer.Option(help="Rows of the table (0: all).")] = 20,
    contacts_query: ContactsQuery = None,
    activities_query: ActivitiesQuery = None,
    from_url: FromUrl = None,
    to_url: ToUrl = None,
    append: Append = False,
) -> None:
    """Score contacts and activities from files or a database.

    Prints a ranked table, or writes every contact to a file or a table (--out)."""
    from sync.entry import leave_at_once, own_command
    from sync.heap import keep_freed_memory
    from sync.score_command import score_from_files
    from sync.warehouse_command import score_options

    if own_command():  # a process that ends with the command: freed arrays serve the next
        keep_freed_memory()

    people, acts, target = score_options(
        contacts, contacts_query, activities, activities_query, output, from_url, to_url, append
    )
    score_from_files(people, rules, acts, as_of, target, top)
    leave_at_once()  # what was scored is written: the process need not free it
