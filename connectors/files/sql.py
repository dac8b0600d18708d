"""Contacts and activities from a SQL database, and scores written back to one.

A source is a SQLAlchemy URL and either a table (`sql:TABLE`, `sql:SCHEMA.TABLE`) or a
query. SQLite and PostgreSQL are read and written through ADBC (`adbc-driver-sqlite`,
`adbc-driver-postgresql`): the driver hands over Arrow columns, so no Python object
is made per row or cell, and the columns are checked as a Parquet file's are
(`parquet.arrow_raw_table`), the messages naming the table or the query and the row of
its result. Any other database SQLAlchemy reaches is read through its DB-API driver,
whose rows are tuples: they become Arrow columns a batch of rows at a time.

The URL may carry a password: it is registered as a secret (`connectors.errors`), every
driver message is scrubbed of it, and a URL is only ever shown masked.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from connectors.errors import FileProblem, InputFileError, register_secret, scrub
from connectors.files.parquet import arrow_raw_table, silent_type
from connectors.files.table import RawTable

SQL_PREFIX = "sql:"
"""What names a table where a file is expected: `sql:leads`, `sql:analytics.leads`."""
SQLITE_TYPED_ROWS = 1 << 16
"""Rows SQLite's ADBC driver reads at a time, and takes the types of a batch's columns
from (apache/arrow-adbc#581; `sync.columns` meets it too)."""
BATCH_ROWS = 10_000
"""Rows fetched at a time from a driver that gives rows (neither SQLite nor PostgreSQL)."""
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?")
_STATUS = re.compile(r"^[A-Z_]+: (?=\[)")
WriteMode = Literal["replace", "append"]


class WarehouseError(InputFileError):
    """A database that cannot be reached, read or written; its problems name the source
    and never hold the URL's password."""


class WarehouseUnreachable(WarehouseError):
    """A database that refused or failed the connection itself (down, refused, a password
    it does not take): no fault of the table or query asked for, so exit 1, not 2."""


@dataclass(frozen=True, repr=False)
class SqlSource:
    """Rows of a database: a table's, or a query's result."""

    url: str
    """A SQLAlchemy URL (a secret: it may carry a password)."""
    table: str | None = None
    query: str | None = None
    label: str = ""
    """How messages name the source (`sql:leads`, `--contacts-query`)."""

    @property
    def name(self) -> str:
        return self.label or (SQL_PREFIX + self.table if self.table else "query")

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"SqlSource({self.name!r}, {masked_url(self.url)!r})"

    def statement(self) -> str:
        if self.query is not None:
            return self.query
        assert self.table is not None
        return f"SELECT * FROM {checked_table(self.table, self.name)}"


def is_sql_target(text: str | Path) -> bool:
    """Whether a `--contacts`, `--activities` or `--out` value names a table (`sql:NAME`)."""
    return str(text).startswith(SQL_PREFIX)


def checked_table(name: str, where: str, url: str | None = None) -> str:
    """A table's name as given (NAME or SCHEMA.NAME: letters, digits, `_`, `$`), else an
    error: it goes into SQL as it is, unquoted, so that the database folds its case. With
    the database's `url`, a schema a SQLite file has not (but `main` or `temp`) is said."""
    if not _NAME.fullmatch(name):
        message = f"{name!r} is not a table name: expected NAME or SCHEMA.NAME"
        raise WarehouseError([FileProblem(where, None, None, message)])
    schema, dot, table = name.rpartition(".")
    if dot and url is not None and schema.lower() not in ("main", "temp"):
        import sqlalchemy as sa

        try:
            sqlite = sa.engine.make_url(url.strip()).get_backend_name() == "sqlite"
        except (sa.exc.ArgumentError, ValueError):
            sqlite = False  # said by the URL's own check
        if sqlite:
            message = (
                f"a SQLite database has no schema {schema!r}: name the table alone (sql:{table})"
            )
            raise WarehouseError([FileProblem(where, None, None, message)])
    return name


def checked_database_url(url: str, where: str, *, create: bool = False) -> None:
    """A URL SQLAlchemy reads, and for SQLite a file that exists (or, to `create` it, its
    folder), else an error naming `where`: said before anything is read or scored."""
    import sqlalchemy as sa

    try:
        parsed = sa.engine.make_url(url.strip())
    except (sa.exc.ArgumentError, ValueError):
        message = "not a SQLAlchemy URL (such as sqlite:///leads.db or postgresql+psycopg://...)"
        raise WarehouseError([FileProblem(where, None, None, message)]) from None
    if parsed.get_backend_name() != "sqlite":
        return
    path = parsed.database or ":memory:"
    if path == ":memory:" or path.startswith("file:"):
        return
    if create and not Path(path).parent.is_dir():
        message = f"the folder {Path(path).parent} of the SQLite file does not exist"
        raise WarehouseError([FileProblem(where, None, None, message)])
    if not create and not Path(path).is_file():
        raise WarehouseError([FileProblem(where, None, None, f"no SQLite file {path}")])


def masked_url(url: str) -> str:
    """The URL as it may be shown: its password as `***`."""
    import sqlalchemy as sa

    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except (sa.exc.ArgumentError, ValueError):
        return "(a URL SQLAlchemy cannot read)"


def sql_table(source: SqlSource, wanted: Collection[str] | None = None) -> RawTable:
    """The source's columns, checked as a Parquet file's: those of `wanted` (every one when
    None) and those besides them that could hold a problem."""
    try:
        with _connection(source.url, source.name, create=False) as (kind, connection):
            table = _fetch(kind, connection, source)
    except _TypesDiffer:
        # SQLite's driver types a column by its first rows and stops at a later row of
        # another type (a column SQLite let hold both): read through the rows instead
        with _connection(source.url, source.name, create=False, rows=True) as (kind, connection):
            table = _fetch(kind, connection, source)
    names = [name.strip() for name in table.column_names]
    if wanted is not None and len(set(names)) == len(names):
        keep = [
            raw
            for raw, name, field in zip(table.column_names, names, table.schema, strict=True)
            if name in wanted or not silent_type(field.type)
        ]
        table = table.select(keep)
    return arrow_raw_table(source.name, names, table, wanted)


def write_sql_table(url: str, name: str, table: Any, mode: WriteMode = "replace") -> None:
    """Write an Arrow table to the database's table `name` in one transaction: `replace`
    drops and creates it, `append` adds the rows (creating it when missing)."""
    import pyarrow as pa

    where = SQL_PREFIX + name
    checked_table(name, where)
    plain = pa.table(
        {
            column: _plain(table.column(column))
            for column in table.column_names  # ingestion takes no dictionaries
        }
    )
    with _connection(url, where, create=True) as (kind, connection):
        schema, _, bare = name.rpartition(".")
        with _said(where):
            if kind != "sqlalchemy":
                cursor = connection.cursor()
                try:
                    cursor.adbc_ingest(
                        bare,
                        plain,
                        mode="replace" if mode == "replace" else "create_append",
                        db_schema_name=schema or None,
                    )
                finally:
                    cursor.close()
                connection.commit()
            else:
                _write_rows(connection, schema or None, bare, plain, mode)


def _plain(column: Any) -> Any:
    """A column as every driver ingests it: dictionaries spelt out, large text as text."""
    import pyarrow as pa

    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if pa.types.is_large_string(column.type):
        column = column.cast(pa.string())
    return column


@contextmanager
def _said(where: str, unreachable: bool = False) -> Iterator[None]:
    """A driver's error as a problem of `where`: its first line, scrubbed of secrets (a
    `WarehouseUnreachable` where it is the connection's own)."""
    import adbc_driver_manager  # a requirement: the SQLite driver's, always installed
    import sqlalchemy as sa

    errors: tuple[type[BaseException], ...] = (
        sa.exc.SQLAlchemyError,
        OSError,
        adbc_driver_manager.Error,
    )
    try:
        yield
    except errors as exc:
        text = str(getattr(exc, "orig", None) or exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        first = _STATUS.sub("", first)  # ADBC's status code (INVALID_ARGUMENT: ...)
        message = scrub(first)[:300]
        kind = WarehouseUnreachable if unreachable else WarehouseError
        raise kind([FileProblem(where, None, None, message)]) from None


@contextmanager
def _connection(
    url: str, where: str, *, create: bool, rows: bool = False
) -> Iterator[tuple[str, Any]]:
    """(`sqlite` or `postgresql`, an ADBC DB-API connection), else (`sqlalchemy`, a
    SQLAlchemy connection; also with `rows`); a SQLite file must exist unless `create`.
    Without `create` (a read) the connection is read-only where the backend allows
    (SQLite's `query_only`, PostgreSQL's `SET TRANSACTION READ ONLY`) and its transaction
    is rolled back, never committed: a query that writes (`DELETE ... RETURNING *`)
    fails or leaves the database as it was."""
    import sqlalchemy as sa

    checked_database_url(url, where, create=create)
    parsed = sa.engine.make_url(url.strip())
    if parsed.password:
        register_secret(str(parsed.password))
    backend = parsed.get_backend_name()
    shown = parsed.render_as_string(hide_password=True)
    with _said(f"{where} ({shown})"):
        if backend == "postgresql" and not rows:
            try:
                import adbc_driver_postgresql.dbapi  # noqa: F401
            except ImportError:  # the `postgres` extra not installed: psycopg's rows, if any
                rows = True
        if rows or backend not in ("sqlite", "postgresql"):
            try:
                engine = sa.create_engine(parsed)
            except (ImportError, sa.exc.ArgumentError) as exc:
                message = f"cannot use {shown}: {scrub(str(exc))}"
                raise WarehouseError([FileProblem(where, None, None, message)]) from None
            try:
                with _said(f"{where} ({shown})", unreachable=True):
                    connected = engine.connect()
                if create:
                    with connected as connection, connection.begin():
                        yield "sqlalchemy", connection
                else:
                    with connected as connection, connection.begin() as transaction:
                        read_only = READ_ONLY.get(backend)
                        if read_only:
                            connection.exec_driver_sql(read_only)
                        yield "sqlalchemy", connection
                        transaction.rollback()
            finally:
                engine.dispose()
            return
        with _said(f"{where} ({shown})", unreachable=True):
            if backend == "sqlite":
                adbc = _sqlite(parsed.database)
            else:
                import adbc_driver_postgresql.dbapi as postgresql

                libpq = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
                adbc = postgresql.connect(libpq)
        try:
            if not create:
                cursor = adbc.cursor()
                try:
                    cursor.execute(READ_ONLY[backend])
                finally:
                    cursor.close()
            yield backend, adbc
        finally:
            if not create:
                adbc.rollback()
            adbc.close()


READ_ONLY = {"sqlite": "PRAGMA query_only = ON", "postgresql": "SET TRANSACTION READ ONLY"}
"""What makes a read's connection (SQLite) or transaction (PostgreSQL) read-only."""


def _sqlite(database: str | None) -> Any:
    import adbc_driver_sqlite.dbapi as sqlite

    return sqlite.connect(database or ":memory:")


class _TypesDiffer(Exception):
    """SQLite's ADBC driver met a value of another type than a column's first ones."""


def _fetch(kind: str, connection: Any, source: SqlSource) -> Any:
    """The statement's result as an Arrow table."""
    statement = source.statement()
    with _said(source.name):
        if kind != "sqlalchemy":
            cursor = connection.cursor()
            try:
                if kind == "sqlite":
                    # the rows it takes a column's type from (a batch): as many as we may
                    options = {"adbc.sqlite.query.batch_rows": str(SQLITE_TYPED_ROWS)}
                    cursor.adbc_statement.set_options(**options)
                cursor.execute(statement)
                return cursor.fetch_arrow_table()
            except OSError as exc:
                if "Type mismatch" in str(exc):
                    raise _TypesDiffer() from None
                raise
            finally:
                cursor.close()
        result = connection.exec_driver_sql(statement)
        return _rows_table(list(result.keys()), result)


def _rows_table(names: list[str], result: Any) -> Any:
    """A DB-API result's rows as an Arrow table, a batch of rows at a time; a column whose
    cells Arrow cannot type together, within a batch or across batches (integers, then
    'lots' 66,000 rows on), becomes text, as a CSV file's column is."""
    import pyarrow as pa

    batches = []
    while rows := result.fetchmany(BATCH_ROWS):
        columns = list(zip(*rows, strict=True))
        arrays = []
        for cells in columns:
            try:
                arrays.append(pa.array(cells))
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
                arrays.append(pa.array([None if c is None else str(c) for c in cells], pa.string()))
        batches.append(pa.table(arrays, names=names))
    if not batches:
        return pa.table([pa.array([], pa.string()) for _ in names], names=names)
    try:
        return pa.concat_tables(batches, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # batches whose types disagree
        return pa.table(
            [_joined([b.column(at) for b in batches]) for at in range(len(names))], names=names
        )


def _joined(parts: list[Any]) -> Any:
    """One column's batches as one column: their types promoted where Arrow can (integers
    and floats, nulls), else every cell as text, written as Python writes it."""
    import pyarrow as pa

    try:
        tables = [pa.table({"c": p}) for p in parts]
        return pa.concat_tables(tables, promote_options="permissive").column(0)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        cells = [None if c is None else str(c) for p in parts for c in p.to_pylist()]
        return pa.chunked_array([pa.array(cells, pa.string())])


def _write_rows(connection: Any, schema: str | None, name: str, table: Any, mode: str) -> None:
    """Rows through SQLAlchemy, for a database no ADBC driver here reaches."""
    import pyarrow as pa
    import sqlalchemy as sa

    def column_type(kind: Any) -> Any:
        if pa.types.is_floating(kind):
            return sa.Float
        if pa.types.is_integer(kind):
            return sa.BigInteger
        if pa.types.is_boolean(kind):
            return sa.Boolean
        if pa.types.is_timestamp(kind):
            return sa.DateTime(timezone=True)
        return sa.Text

    target = sa.Table(
        name,
        sa.MetaData(),
        *(sa.Column(field.name, column_type(field.type)) for field in table.schema),
        schema=schema,
    )
    if mode == "replace":
        target.drop(connection, checkfirst=True)
    target.create(connection, checkfirst=True)
    for batch in table.to_batches(BATCH_ROWS):
        connection.execute(sa.insert(target), batch.to_pylist())
