"""Parquet files read by pyarrow into Arrow columns.

Columns keep their types: text (string, large string, dictionary of strings) is read
as a CSV cell is, trimmed and blank as missing; numbers (integers, floats, decimals)
are numbers for the rules, and NaN or an infinity is an error, as in JSON Lines;
integers stay exact int64 until then, so that an id, a `contact_id` or an account key
above 2**53 keeps its digits (a column of integers beyond float64's exact range is read
as text, as a CSV file's is);
booleans are the text `true` / `false`; `occurred_at` may be a timestamp (a naive one
is UTC) or a date as well as ISO-8601 text. Rows are numbered from 1, the first row
of data.

Only the columns asked for are read, and those besides them that could hold a problem
(numbers that may be NaN, binary text, nested values), which are checked and let go of;
the text columns that are to be coded (attributes, activity types) are read as Arrow
dictionaries straight from the file's own dictionary pages.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from typing import Any

import numpy as np

from connectors.errors import FileProblem, InputFileError
from connectors.files.problems import Problems
from connectors.files.table import RawTable, chunkless


def parquet_table(
    path: str, wanted: Collection[str] | None = None, coded: Collection[str] = ()
) -> RawTable:
    """The file's columns: those of `wanted` (trimmed names; every column when None),
    the text ones of `coded` as dictionaries, and every column checked as it would be
    if it were read."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
        raw_names = list(schema.names)
        names = [name.strip() for name in raw_names]
        read: list[str] | None = [
            raw
            for raw, name, kind in zip(raw_names, names, schema.types, strict=True)
            if wanted is None or name in wanted or not silent_type(kind)
        ]
        as_codes = [
            raw
            for raw, name, kind in zip(raw_names, names, schema.types, strict=True)
            if name in coded and (pa.types.is_string(kind) or pa.types.is_large_string(kind))
        ]
        if len(set(raw_names)) != len(raw_names):
            read, as_codes = None, []  # repeated names: said below, before any reading
        table = pq.read_table(path, columns=read, read_dictionary=as_codes or None)
    except FileNotFoundError:
        raise InputFileError([FileProblem(path, None, None, "file not found")]) from None
    except OSError as exc:
        if exc.strerror:
            message = f"cannot read: {exc.strerror}"
            raise InputFileError([FileProblem(path, None, None, message)]) from None
        raise InputFileError([FileProblem(path, None, None, _not_parquet(exc))]) from None
    except (pa.ArrowException, ValueError) as exc:
        raise InputFileError([FileProblem(path, None, None, _not_parquet(exc))]) from None
    return arrow_raw_table(path, names, table, wanted)


def arrow_raw_table(
    path: str, names: list[str], table: Any, wanted: Collection[str] | None = None
) -> RawTable:
    """An Arrow table's columns checked as a Parquet file's are (`names`: every column of
    the source, trimmed; `path` names the source in messages): those of `wanted` kept
    (every column when None), rows numbered from 1."""
    problems = Problems(path)
    for name in [n for n, count in Counter(names).items() if count > 1 and n]:
        problems.add(None, name, "column appears more than once")
    if "" in names:
        problems.add(None, None, f"column {names.index('') + 1} has no name")
    problems.raise_if_any()
    columns: dict[str, Any] = {}
    for raw in table.column_names:
        name = raw.strip()
        column = _column(problems, name, table.column(raw))
        if wanted is None or name in wanted:
            columns[name] = column
    problems.raise_if_any()
    return RawTable(
        path, "parquet", names, columns, rows=table.num_rows, lines=lambda rows: rows + 1
    )


def silent_type(kind: Any) -> bool:
    """Whether a column of this Arrow type can hold no problem (so need not be read when
    it is not wanted): text, integers, booleans, times, or a dictionary of those."""
    import pyarrow as pa

    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return bool(
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_integer(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_null(kind)
        or pa.types.is_timestamp(kind)
        or pa.types.is_date(kind)
    )


def _not_parquet(exc: BaseException) -> str:
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"not a Parquet file pyarrow can read ({first[:200]})"


def _column(problems: Problems, name: str, column: Any) -> Any:
    """The column as it is read on: text, int64 integers, float64 numbers, or a
    timestamp/date as is."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type
    if pa.types.is_dictionary(kind):
        if pa.types.is_string(kind.value_type) or pa.types.is_large_string(kind.value_type):
            return column.unify_dictionaries() if column.num_chunks > 1 else column
        column = column.cast(kind.value_type)
        kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return column
    if pa.types.is_null(kind):
        return pa.nulls(len(column), pa.string())
    if pa.types.is_boolean(kind):
        return pc.if_else(column, "true", "false")
    if pa.types.is_integer(kind):
        # exact: an id, a contact_id or an account key above 2**53 keeps its digits
        # (float64 would not); `encoded_attributes` makes numbers of the others
        try:
            return column.cast(pa.int64())
        except pa.ArrowInvalid:  # an unsigned 64-bit value beyond int64
            return column.cast(pa.string())
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        numbers = column.cast(pa.float64(), safe=False)
        values = numbers.to_numpy(zero_copy_only=False)
        valid = pc.is_valid(numbers).to_numpy(zero_copy_only=False)
        bad = np.flatnonzero(~np.isfinite(values) & valid)
        for row in bad[:20].tolist():
            found = repr(float(values[row]))
            problems.add(row + 1, name, f"a number out of range for the rules: {found}")
        return numbers
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        return column
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        try:
            return column.cast(pa.string())
        except pa.ArrowInvalid:
            problems.add(None, name, "not UTF-8 text; save the file with text as UTF-8")
            return column
    first = int(np.flatnonzero(chunkless(column).is_valid().to_numpy(False))[:1].sum())
    problems.add(first + 1, name, "nested objects and lists are not supported")
    return column
