"""Many rows in one statement, through the database driver.

The pull stores a few hundred thousand rows a run, from the thread that also
hands the fetch threads the interpreter lock. SQLAlchemy's Core, for each row
of an `executemany`, checks and binds parameters by name, and for each
statement built anew compiles or looks up a cache key: three times the work of
the database itself. The save paths therefore send rows prepared as tuples
straight to the driver's `executemany`, with SQL written once per table. The
SQL is what SQLite (3.24 and later) and PostgreSQL both take (`ON CONFLICT`,
`excluded`); only the placeholder differs, `?` here, `%s` for psycopg.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def driver_sql(connection: Connection, sql: str) -> str:
    """`sql` written with `?` placeholders, in the placeholders of the connection's driver."""
    if connection.dialect.paramstyle in ("format", "pyformat"):
        return sql.replace("?", "%s")
    return sql


def insert_sql(table: sa.Table, columns: Sequence[str], tail: str = "") -> str:
    """An INSERT of `columns` into `table` with one placeholder each, then `tail`."""
    names = ", ".join(columns)
    marks = ", ".join("?" for _ in columns)
    return f"INSERT INTO {table.name} ({names}) VALUES ({marks}){tail}"


def update_sql(table: sa.Table, columns: Sequence[str], keys: Sequence[str]) -> str:
    """An UPDATE of `columns` of the one row of `table` these `keys` select, placeholders in
    that order: the new values, then the keys."""
    values = ", ".join(f"{c} = ?" for c in columns)
    where = " AND ".join(f"{k} = ?" for k in keys)
    return f"UPDATE {table.name} SET {values} WHERE {where}"


def execute_many(connection: Connection, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """`sql` (with `?` placeholders) once per row, in one `executemany` of the driver."""
    if not rows:
        return
    statement = driver_sql(connection, sql)
    if len(rows) == 1:
        connection.exec_driver_sql(statement, rows[0])
    else:
        connection.exec_driver_sql(statement, list(rows))


def execute_in(
    connection: Connection, sql: str, values: Sequence[Any], *before: Any, tail: str = ""
) -> list[tuple[Any, ...]]:
    """`sql`, a statement whose `IN` list comes last (added here, one placeholder per value,
    then `tail`), for these `values`; `before` are the parameters of any placeholders ahead
    of the list. Returns the rows a query gives (none for an UPDATE)."""
    if not values:
        return []
    marks = ", ".join("?" for _ in values)
    statement = driver_sql(connection, f"{sql} ({marks}){tail}")
    result = connection.exec_driver_sql(statement, (*before, *values))
    return [tuple(row) for row in result] if result.returns_rows else []
