"""`leadscore score` from and to a warehouse: its options read into sources and a target.

`--contacts sql:TABLE` (or `--contacts-query "SELECT ..."`) and the same for activities
read from the database `--from-url` names (else the `LEADSCORE_WAREHOUSE_URL` setting);
`--out sql:TABLE` writes to `--to-url` (else the one read from, else the setting),
replacing the table or, with `--append`, adding the run's rows to it. What is scored
and written is what a file gives (`sync.score_command`); a table written, like a
Parquet file, also has `run_id` (a UUID of the run: appended runs told apart),
`rules_version` (the SHA-256 of the rule file's text, as the store's history keeps it) and
`scored_at` (the moment scored as of) on every row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from connectors.errors import InputFileError
from connectors.files import (
    SqlSource,
    WriteMode,
    checked_database_url,
    checked_table,
    columns_table,
    file_format,
    is_sql_target,
    masked_url,
    write_sql_table,
)
from sync.console import fail, settings

URL_SETTING = "LEADSCORE_WAREHOUSE_URL"


@dataclass(frozen=True, repr=False)
class SqlOutput:
    """A database table the scores are written to."""

    url: str
    table: str
    mode: WriteMode

    def __str__(self) -> str:
        return f"sql:{self.table} ({masked_url(self.url)})"

    __repr__ = __str__


ScoreInput = Path | SqlSource
ScoreOutput = Path | SqlOutput


def score_options(
    contacts: Path | None,
    contacts_query: str | None,
    activities: Path | None,
    activities_query: str | None,
    output: Path | None,
    from_url: str | None,
    to_url: str | None,
    append: bool,
) -> tuple[ScoreInput, ScoreInput | None, ScoreOutput | None]:
    """The contacts, activities and output the options name; a bad combination, table name
    or output format fails with exit 2 before anything is read."""
    people = _source("contacts", contacts, contacts_query, from_url)
    if people is None:
        fail("--contacts FILE, --contacts sql:TABLE or --contacts-query SQL is required")
    acts = _source("activities", activities, activities_query, from_url)
    if output is None:
        if append:
            fail("--append adds to a table: give --out sql:TABLE")
        return people, acts, None
    if not is_sql_target(output):
        if append:
            fail("--append adds to a table: give --out sql:TABLE")
        try:
            file_format(output)
        except InputFileError as exc:
            fail([str(p) for p in exc.problems])
        return people, acts, output
    name = str(output).removeprefix("sql:")
    url = to_url or from_url or _setting_url("--out", "--to-url")
    try:
        checked_database_url(url, f"--out {output}", create=True)
        checked_table(name, str(output), url)
    except InputFileError as exc:
        fail([str(p) for p in exc.problems])
    return people, acts, SqlOutput(url, name, "append" if append else "replace")


def _source(
    option: str, given: Path | None, query: str | None, url: str | None
) -> ScoreInput | None:
    if given is not None and query is not None:
        fail(f"--{option} and --{option}-query name the same input: give one")
    if query is not None:
        if not query.strip():
            fail(f"--{option}-query: the query is empty")
        where = url or _setting_url(f"--{option}-query", "--from-url")
        return SqlSource(where, query=query, label=f"--{option}-query")
    if given is not None and is_sql_target(given):
        table = str(given).removeprefix("sql:")
        where = url or _setting_url(f"--{option} {given}", "--from-url")
        try:
            checked_table(table, str(given), where)
        except InputFileError as exc:
            fail([str(p) for p in exc.problems])
        return SqlSource(where, table=table)
    return given


def _setting_url(what: str, flag: str) -> str:
    found = settings().warehouse_url
    if found is None:
        fail(f"{what} reads a database: give {flag} URL or set {URL_SETTING}")
    return found.get_secret_value()


def run_columns(rows: int, version: str, moment: datetime, run: str) -> dict[str, Any]:
    """`run_id`, `rules_version` and `scored_at` for each of `rows` written rows, as Arrow
    arrays: `run` tells apart two runs appended to one table, even of one rule file as of
    one moment."""
    import numpy as np
    import pyarrow as pa

    # (from numpy: a Python list of a million zeros took a tenth of a second a column)
    codes = pa.array(np.zeros(rows, dtype=np.int32))
    versions = pa.DictionaryArray.from_arrays(codes, pa.array([version], pa.string()))
    stamp = pa.scalar(moment, type=pa.timestamp("us", tz="UTC"))
    return {
        "run_id": pa.DictionaryArray.from_arrays(codes, pa.array([run], pa.string())),
        "rules_version": versions,
        "scored_at": pa.array(np.full(rows, stamp.value, dtype=np.int64)).cast(stamp.type),
    }


def write_table(target: SqlOutput, columns: dict[str, Any], extra: dict[str, Any]) -> None:
    """The scored columns and the run's into the target table, in one transaction; a
    database that refuses fails with exit 1, its message scrubbed of the password."""
    try:
        write_sql_table(target.url, target.table, columns_table(columns | extra), target.mode)
    except InputFileError as exc:
        fail([str(p) for p in exc.problems], code=1)
