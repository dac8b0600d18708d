"""Reads a SQLite store into Arrow for another process: run as a script by
`sync.columns.column_reader`, never imported by the product.

The ADBC SQLite driver carries its own copy of SQLite. Two copies in one process
(Python's `sqlite3` holds the store open too) do not see each other's locks on the same
file, and the second to open a store in WAL mode may reset its shared index, losing the
writes the WAL holds (SQLite's "How To Corrupt" names this: multiple copies of SQLite in
one application). In a process of its own, the driver is one more reader, as safe as any.

Each line on standard input is a JSON request, `[database, sql, parameters, rows]`
(`rows`: per batch, `sync.columns.WORKER_BATCH_ROWS`); each
answer is an Arrow IPC stream on standard output, in order, sent batch by batch as the
driver reads them, so that neither process holds a whole answer it does not need.
End of input ends it.
"""

from __future__ import annotations

import json
import sys
from typing import Any, BinaryIO

WHOLE = str(2**30)
"""One batch for the whole answer: for a first batch with a column of NULLs only, whose
type its first batch cannot tell."""


def answer(connection: Any, text: str, parameters: list[Any], rows: int, out: BinaryIO) -> None:
    """One query's answer as an IPC stream, batch by batch."""
    import pyarrow as pa

    with connection.cursor() as cursor:
        cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(rows)})
        cursor.execute(text, parameters or None)
        reader = cursor.fetch_record_batch()
        try:
            first = reader.read_next_batch()
        except StopIteration:
            first = None
        unsure = first is not None and first.num_rows >= rows
        if unsure and any(c.null_count == len(c) for c in first.columns):
            reader.close()
            cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": WHOLE})
            cursor.execute(text, parameters or None)
            reader = cursor.fetch_record_batch()
            first = None
        with pa.ipc.new_stream(out, reader.schema) as writer:
            if first is not None:
                writer.write_batch(first)
            del first
            for batch in reader:
                writer.write_batch(batch)
    out.flush()


def serve() -> None:
    import adbc_driver_sqlite.dbapi

    out = sys.stdout.buffer
    opened: dict[str, adbc_driver_sqlite.dbapi.Connection] = {}
    for line in sys.stdin:
        database, text, parameters, rows = json.loads(line)
        if database not in opened:
            opened[database] = adbc_driver_sqlite.dbapi.connect(database)
        answer(opened[database], text, parameters, rows, out)  # one worker's reads: one moment
    for connection in opened.values():
        connection.close()


if __name__ == "__main__":
    serve()
