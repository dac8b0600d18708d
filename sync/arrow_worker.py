"""Reads a SQLite store into Arrow for another process: run as a script by
`sync.columns.column_reader`, never imported by the product.

The ADBC SQLite driver carries its own copy of SQLite. Two copies in one process
(Python's `sqlite3` holds the store open too) do not see each other's locks on the same
file, and the second to open a store in WAL mode may reset its shared index, losing the
writes the WAL holds (SQLite's "How To Corrupt" names this: multiple copies of SQLite in
one application). In a process of its own, the driver is one more reader, as safe as any.

Each line on standard input is a JSON request, `[database, sql, parameters]`; each
answer is an Arrow IPC stream on standard output, in order. End of input ends it.
"""

from __future__ import annotations

import json
import sys

BATCH_ROWS = str(2**30)
"""One batch for the whole answer: the driver infers a column's type from its first
batch, and a text column that is NULL in its first rows would then fail on a later text."""


def serve() -> None:
    import adbc_driver_sqlite.dbapi
    import pyarrow as pa

    out = sys.stdout.buffer
    opened: dict[str, adbc_driver_sqlite.dbapi.Connection] = {}
    for line in sys.stdin:
        database, text, parameters = json.loads(line)
        if database not in opened:
            opened[database] = adbc_driver_sqlite.dbapi.connect(database)
        with opened[database].cursor() as cursor:
            cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": BATCH_ROWS})
            cursor.execute(text, parameters or None)
            table = cursor.fetch_arrow_table()
        with pa.ipc.new_stream(out, table.schema) as writer:
            writer.write_table(table)
        out.flush()  # the reads of one worker share a transaction: one moment's store
    for connection in opened.values():
        connection.close()


if __name__ == "__main__":
    serve()
