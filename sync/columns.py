"""Reading the store straight into Arrow columns, and Arrow columns into the engine's.

A query built with SQLAlchemy is compiled to SQL text with positional parameters for the
store's dialect and run over ADBC (`adbc-driver-sqlite`, `adbc-driver-postgresql`), whose
cursors hand back an Arrow table: no Python object per row. PostgreSQL is read in this
process; a SQLite file by a worker process (`sync/arrow_worker.py` says why) that sends
the tables back as Arrow IPC streams. Where ADBC cannot reach the database (an in-memory
SQLite store is private to its SQLAlchemy connection; another backend; a driver not
installed), the rows come through SQLAlchemy and are turned into the same Arrow table,
so that everything after the read is one code path.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scoring import CategoricalColumn, Column, NumericColumn, column_from_values

ArrowSchema = Mapping[str, pa.DataType]
"""The Arrow type of each column a query selects, in its order."""
BatchReader = Callable[[sa.Select[Any], ArrowSchema], Iterator[pa.RecordBatch]]


class TableReader:
    """Reads a query into Arrow with the schema given: as one table (`reader(query,
    schema)`), or batch by batch (`reader.batches`), each batch read to its end before
    the next query. `infers`: the types come from the values read (the SQLite worker),
    so a query that may begin with a column of NULLs only begins with a row of its
    types (`WORKER_BATCH_ROWS`)."""

    def __init__(self, batches: BatchReader, infers: bool = False) -> None:
        self.batches = batches
        self.infers = infers

    def __call__(self, query: sa.Select[Any], schema: ArrowSchema) -> pa.Table:
        found = list(self.batches(query, schema))
        return pa.Table.from_batches(found, schema=pa.schema(list(schema.items())))


WORKER = Path(__file__).with_name("arrow_worker.py")
WORKER_BATCH_ROWS = 1 << 17
"""Rows per batch the worker sends, as the driver reads them. The driver takes a column's
type from the values of its first batch (a column of NULLs only it takes as integers:
apache/arrow-adbc#581) and fails on a later batch whose values differ; the worker
answers in one batch when a full first batch has a column of NULLs only, and the
activities query, which would most often, leads with a row of its types."""


def compiled(query: sa.Select[Any], dialect: str) -> tuple[str, list[Any]]:
    """The query as SQL text with positional parameters (`?` on SQLite, `$n` on
    PostgreSQL, as the ADBC drivers take them), and the parameters in order."""
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        target: sa.Dialect = postgresql.dialect(paramstyle="numeric_dollar")  # type: ignore[no-untyped-call]
    else:
        from sqlalchemy.dialects import sqlite

        target = sqlite.dialect(paramstyle="qmark")
    done = query.compile(dialect=target, compile_kwargs={"render_postcompile": True})
    names = done.positiontup or []
    return str(done), [done.params[name] for name in names]


def adbc_target(connection: Connection) -> tuple[str, str] | None:
    """The ADBC driver and the database it opens for this connection's store, or None
    where ADBC cannot read it (in memory, a URI file name, another backend, no driver)."""
    url = connection.engine.url
    name = connection.dialect.name
    try:
        if name == "sqlite":
            database = url.database
            if not database or database == ":memory:" or database.startswith("file:"):
                return None
            import adbc_driver_sqlite  # noqa: F401

            return "sqlite", database
        if name == "postgresql":
            import adbc_driver_postgresql  # noqa: F401

            plain = url.set(drivername="postgresql")
            return "postgresql", plain.render_as_string(hide_password=False)
    except ImportError:
        return None
    return None


@contextmanager
def column_reader(connection: Connection, adbc: bool = True) -> Iterator[TableReader]:
    """A function from a query and its schema to an Arrow table, over one ADBC connection
    to the connection's store while the block runs (through `connection` itself where
    ADBC cannot reach the store, or `adbc` is False). ADBC reads what is committed."""
    target = adbc_target(connection) if adbc else None
    if target is None:

        def through_rows(query: sa.Select[Any], schema: ArrowSchema) -> Iterator[pa.RecordBatch]:
            yield from rows_to_table(plain_rows(connection, query), schema).to_batches()

        yield TableReader(through_rows)
        return
    driver, database = target
    if driver == "sqlite":
        with sqlite_worker(database) as read:
            yield read
        return
    import adbc_driver_postgresql.dbapi

    opened = adbc_driver_postgresql.dbapi.connect(database)

    def read_here(query: sa.Select[Any], schema: ArrowSchema) -> Iterator[pa.RecordBatch]:
        text, parameters = compiled(query, driver)
        with opened.cursor() as cursor:
            cursor.execute(text, parameters or None)
            for batch in cursor.fetch_record_batch():
                yield conformed(batch, schema)

    try:
        yield TableReader(read_here)
    finally:
        opened.close()


@contextmanager
def sqlite_worker(database: str) -> Iterator[TableReader]:
    """Reads of a SQLite file by ADBC in a worker process (`sync/arrow_worker.py`); its
    reads share one transaction. What it says on error goes to a file, never a pipe
    that could fill while nobody reads it."""
    with tempfile.TemporaryFile() as said:
        worker = subprocess.Popen(
            [sys.executable, str(WORKER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=said,
        )
        assert worker.stdin is not None and worker.stdout is not None
        asks, answers = worker.stdin, pa.PythonFile(worker.stdout, mode="r")

        def read(query: sa.Select[Any], schema: ArrowSchema) -> Iterator[pa.RecordBatch]:
            text, parameters = compiled(query, "sqlite")
            try:
                asks.write(
                    (json.dumps([database, text, parameters, WORKER_BATCH_ROWS]) + "\n").encode()
                )
                asks.flush()
                stream = pa.ipc.open_stream(answers)
                while True:
                    try:
                        batch = stream.read_next_batch()
                    except StopIteration:
                        return
                    yield conformed(batch, schema)
            except (OSError, pa.ArrowInvalid) as error:
                worker.kill()
                worker.wait()
                said.seek(0)
                problem = said.read().decode(errors="replace").strip()
                raise RuntimeError(f"reading the store failed: {problem or error}") from error

        try:
            yield TableReader(read, infers=True)
        finally:
            with contextlib.suppress(OSError):
                asks.close()  # the end of its input ends it
            # and an answer left unread (the reader stopped by an error) ends its writing
            worker.stdout.close()
            worker.wait()


def plain_rows(connection: Connection, query: sa.Select[Any]) -> Sequence[Sequence[Any]]:
    """The query's rows as the driver's tuples. On SQLite they are read from the driver's
    own cursor (on the connection's transaction): SQLAlchemy's `Row` per row would cost
    more than the rest of the read, and SQLite's integers, floats and texts need no
    processing (`rows_to_table` gives each column its type); elsewhere, `Row`s."""
    if connection.dialect.name != "sqlite":
        return connection.execute(query).all()
    text, parameters = compiled(query, "sqlite")
    cursor = connection.connection.cursor()
    try:
        cursor.execute(text, parameters)
        return cursor.fetchall()
    finally:
        cursor.close()


def safe_cast(kind: pa.DataType) -> Any:
    """The options of a cast to `kind` that fails rather than lose a value."""
    from pyarrow._compute import CastOptions

    return CastOptions.safe(kind)


def conformed(batch: pa.RecordBatch, schema: ArrowSchema) -> pa.RecordBatch:
    """The batch with the schema's names and types (a driver may answer an all-NULL
    column as integers, or an integer column as 32 bits)."""
    arrays = [
        column if column.type == kind else compute("cast", column, options=safe_cast(kind))
        for column, kind in zip(batch.columns, schema.values(), strict=True)
    ]
    return pa.RecordBatch.from_arrays(arrays, names=list(schema))


def compute(name: str, *args: Any, options: Any = None) -> Any:
    """Arrow's compute function `name` on `args`, called through Arrow's registry of them.
    Importing `pyarrow.compute` (which the arrays' `cast`, `take`, `fill_null`, `is_null`
    and `dictionary_encode` do) first wraps each of its several hundred functions in
    Python: 30-50 ms of a trigger's cold start, for the few the store's read calls."""
    from pyarrow._compute import call_function

    return call_function(name, list(args), options)


def fill_null(values: Any, fill: Any) -> Any:
    """`pyarrow.compute.fill_null` through `compute`: each NULL of `values` as `fill`."""
    return compute("coalesce", values, pa.scalar(fill, values.type))


def rows_to_table(rows: Sequence[Sequence[Any]], schema: ArrowSchema) -> pa.Table:
    """Rows (from SQLAlchemy) as the Arrow table ADBC would have given."""
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
    arrays = [pa.array(c, kind) for c, kind in zip(columns, schema.values(), strict=True)]
    return pa.table(arrays, names=list(schema))


def dictionary_codes(array: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, list[Any]]:
    """Dictionary codes (int32, -1 where null) and the distinct values of a column."""
    encoded = compute("dictionary_encode", array)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.unify_dictionaries().combine_chunks() if encoded.num_chunks else None
    if encoded is None:
        return np.zeros(0, dtype=np.int32), []
    codes = fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int32)
    return codes, encoded.dictionary.to_pylist()


class Distinct:
    """A text column read batch by batch, kept as codes over its distinct texts in the
    order they first appear: what `dictionary_codes` gives for the whole column."""

    def __init__(self) -> None:
        self.index: dict[Any, int] = {}
        self.parts: list[np.ndarray] = []

    def add(self, array: pa.Array | pa.ChunkedArray) -> None:
        codes, values = dictionary_codes(array)
        index = self.index
        mapped = [index.setdefault(value, len(index)) for value in values]
        self.parts.append(np.array([*mapped, -1], dtype=np.int32)[codes])

    def codes(self) -> np.ndarray:
        """Every row's code (-1: NULL); the batches' own codes are let go."""
        if len(self.parts) != 1:
            self.parts = [np.concatenate(self.parts) if self.parts else np.zeros(0, np.int32)]
        return self.parts[0]

    @property
    def distinct(self) -> list[Any]:
        return list(self.index)

    def cells(self) -> pa.Array:
        """Every row's text, NULL where it was."""
        codes = self.codes()
        return compute("take", pa.array(self.distinct, pa.string()), masked(codes, codes < 0))


def masked(values: np.ndarray, missing: np.ndarray) -> pa.Array:
    """`pa.array(values, mask=missing)` of a numeric array, built from its buffers: given a
    NumPy array, `pa.array` checks it against `numpy.ma.MaskedArray`, and that import
    alone (numpy.ma, 10-40 ms) is more than a trigger's whole read of one person."""
    values = np.ascontiguousarray(values)
    valid = pa.py_buffer(np.packbits(~missing, bitorder="little"))
    kind = pa.from_numpy_dtype(values.dtype)
    nulls = int(np.count_nonzero(missing))
    return pa.Array.from_buffers(kind, len(values), [valid, pa.py_buffer(values)], nulls)


def text_column(array: pa.Array | pa.ChunkedArray) -> CategoricalColumn:
    """A text column as the engine's: each distinct text stripped, blank ones missing
    (as `scoring.column_from_values` makes it), found by Arrow at C speed."""
    return text_column_of(*dictionary_codes(array))


def text_column_of(codes: np.ndarray, distinct: list[Any]) -> CategoricalColumn:
    """`text_column` of a column given as codes over its distinct texts."""
    per_distinct = column_from_values(distinct)
    assert isinstance(per_distinct, CategoricalColumn)
    spread_out = spread(per_distinct, codes)
    assert isinstance(spread_out, CategoricalColumn)
    return spread_out


def spread(column: Column, codes: np.ndarray) -> Column:
    """A column over distinct values, given to every row by its code (-1: missing)."""
    if isinstance(column, NumericColumn):
        values = np.append(column.values, np.nan)
        return NumericColumn(values[codes])
    mapped = np.append(column.codes, np.int32(-1))
    return CategoricalColumn(mapped[codes], column.categories, column.folded)


def number_column(array: pa.Array | pa.ChunkedArray) -> Column:
    """A float column (NULL missing) as the engine's: NaN where missing or not finite."""
    values = fill_null(array, np.nan).to_numpy(zero_copy_only=False).astype(np.float64)
    finite = np.isfinite(values)
    if not finite.any() and not np.isinf(values).any():
        # no number present at all: `column_from_values` makes such a column text
        return column_from_values([None] * len(values))
    return NumericColumn(np.where(finite, values, np.nan))


def json_columns(array: pa.Array | pa.ChunkedArray) -> dict[str, Column]:
    """The keys of a column of JSON objects, each as a column: every distinct text is
    parsed once (most rows share a few texts), and each key's column is made over the
    distinct texts, then given to the rows."""
    return json_columns_of(*dictionary_codes(array))


def json_columns_of(codes: np.ndarray, distinct: list[Any]) -> dict[str, Column]:
    """`json_columns` of a column given as codes over its distinct texts."""
    parsed = [{} if text == "{}" else json.loads(text) for text in distinct]
    keys = dict.fromkeys(key for found in parsed for key in found)
    return {
        key: spread(column_from_values([found.get(key) for found in parsed]), codes) for key in keys
    }


def values_of(column: Column) -> list[Any]:
    """A column's cells as Python values (None where missing), for the few places that
    show them."""
    return [column.value(row) for row in range(len(column))]
