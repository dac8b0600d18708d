"""Parquet files read by pyarrow into Arrow columns.

Columns keep their types: text (string, large string, dictionary of strings) is read
as a CSV cell is, trimmed and blank as missing; numbers (integers, floats, decimals)
are numbers for the rules, and NaN or an infinity is an error, as in JSON Lines;
booleans are the text `true` / `false`; `occurred_at` may be a timestamp (a naive one
is UTC) or a date as well as ISO-8601 text. Rows are numbered from 1, the first row
of data.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from connectors.errors import FileProblem, InputFileError
from connectors.files.problems import Problems
from connectors.files.table import RawTable, chunkless


def parquet_table(path: str) -> RawTable:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except FileNotFoundError:
        raise InputFileError([FileProblem(path, None, None, "file not found")]) from None
    except OSError as exc:
        if exc.strerror:
            message = f"cannot read: {exc.strerror}"
            raise InputFileError([FileProblem(path, None, None, message)]) from None
        raise InputFileError([FileProblem(path, None, None, _not_parquet(exc))]) from None
    except (pa.ArrowException, ValueError) as exc:
        raise InputFileError([FileProblem(path, None, None, _not_parquet(exc))]) from None
    problems = Problems(path)
    names = [name.strip() for name in table.column_names]
    for name in [n for n, count in Counter(names).items() if count > 1 and n]:
        problems.add(None, name, "column appears more than once")
    if "" in names:
        problems.add(None, None, f"column {names.index('') + 1} has no name")
    problems.raise_if_any()
    columns: dict[str, Any] = {}
    for name, raw in zip(names, table.column_names, strict=True):
        columns[name] = _column(problems, name, table.column(raw))
    problems.raise_if_any()
    return RawTable(
        path, "parquet", names, columns, rows=table.num_rows, lines=lambda rows: rows + 1
    )


def _not_parquet(exc: BaseException) -> str:
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"not a Parquet file pyarrow can read ({first[:200]})"


def _column(problems: Problems, name: str, column: Any) -> Any:
    """The column as it is read on: text, float64 numbers, or a timestamp/date as is."""
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
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
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
