"""A large CSV file read by pyarrow in pieces, side by side, each piece one block.

pyarrow's multi-threaded reader cuts a file into blocks and parses them side by side;
where a quoted value may hold a line break (`newlines_in_values`, which the csv module
allows, so this reader must), it first scans every block for the quotes to find where its
last record ends, one block after another on one thread: reading 10M activities (1.2 GB)
took 0.2 s longer and 0.4 s more processor time than without.

Here the file is cut at line breaks into pieces of `PIECE_BYTES`, and each piece is read
whole, as one block, by a reader of its own, the pieces on as many threads as there are
cores: a piece's parse follows its quotes across its line breaks with no scan before it.
A cut may fall inside a quoted value, which no look at the bytes near it can rule out;
so a piece ends with a row of its own (a random text, one field too many), and a piece
is good only when its parser came to that row as a row of the wrong length: a piece that
ends inside a quoted value takes the row into the value instead. The first piece starts
at the file's start; each piece proven good ends at a record's end, so the next one
starts at a record's start. When a piece is not proven good, or fails for any reason,
the pieces after it are not read, and the caller reads the whole file as before.
"""

from __future__ import annotations

import mmap
import os
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from typing import Any

PIECE_BYTES = 8 << 20
"""The bytes of a piece; a file of fewer than two pieces is read whole. Reading the 1.2 GB
of 10M activities alone took 1.62-1.66 s (3.1-3.2 s of processor time) in pieces of 4 or
8 MB, 1.75-1.86 s in pieces of 32 MB, 2.2-2.7 s in pieces of 64 or 128 MB, against
1.93-1.96 s (3.8 s) read whole in blocks of 8 MB, and 1.70-1.75 s (3.4 s) without
`newlines_in_values`."""
_BOM = b"\xef\xbb\xbf"


def pieces_table(
    path: str,
    header: list[str],
    types: dict[str, Any],
    invalid: Callable[[Any], str],
    *,
    piece_bytes: int | None = None,
) -> Any | None:
    """The file read in pieces (an Arrow table whose columns have a chunk per piece), as
    one read of the whole file with these `types` and handler of rows of the wrong
    length (`invalid`) would read it; None when the file is small, or a piece is not
    proven to end at a record's end (the caller then reads the file whole). pyarrow's
    error where a piece fails that starts at a record's start (every piece before it
    proven good): a read of the whole file fails there too."""
    spans = _spans(path, piece_bytes or PIECE_BYTES)
    if len(spans) < 2:
        return None
    sentinel = f"\x00{secrets.token_hex(8)}" + "," * len(header)
    seen = [0] * len(spans)

    def piece(index: int) -> Any:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        first, end = spans[index]
        ending = b"\n" if index == len(spans) - 1 else b""  # the last line may lack one
        tail = ending + sentinel.encode() + b"\n"
        buffer = bytearray(end - first + len(tail))
        with open(path, "rb", buffering=0) as handle:
            handle.seek(first)
            if handle.readinto(memoryview(buffer)[: end - first]) != end - first:
                raise _NotARecordStart("the file changed while it was read")
        if index and buffer.startswith(_BOM):  # (pyarrow passes over one where it starts)
            raise _NotARecordStart("a piece starts as a byte-order mark does")
        buffer[end - first :] = tail

        def handler(row: Any) -> str:
            if row.text == sentinel:
                seen[index] += 1
                return "skip"
            return invalid(row)

        return pacsv.read_csv(
            pa.py_buffer(buffer),
            read_options=pacsv.ReadOptions(
                block_size=len(buffer) + 1,  # one block: no scan for the records' ends
                use_threads=False,
                column_names=None if index == 0 else header,
            ),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=handler),
            convert_options=pacsv.ConvertOptions(
                column_types=types, strings_can_be_null=False, null_values=[""]
            ),
        )

    import pyarrow as pa

    tables = []
    with ThreadPoolExecutor(max_workers=min(len(spans), os.cpu_count() or 1)) as pool:
        later = [pool.submit(piece, index) for index in range(len(spans))]
        try:
            for index, future in enumerate(later):
                try:
                    tables.append(future.result())
                except pa.ArrowException:  # (pyarrow's errors are ValueErrors, OSErrors)
                    raise
                except (_NotARecordStart, OSError):
                    return None
                if seen[index] != 1:  # the rest are not read: the file is read whole
                    return None
        finally:
            for future in later:
                future.cancel()
    try:
        return pa.concat_tables(tables)
    except pa.ArrowException:
        return None


class _NotARecordStart(Exception):
    """A piece that may not start where a record starts: the file is read whole."""


def _spans(path: str, piece_bytes: int) -> list[tuple[int, int]]:
    """The file's pieces as (first byte, end): cut after the first line feed at or past
    each multiple of about `piece_bytes`; one piece for a file of fewer than two."""
    try:
        size = os.path.getsize(path)
        count = size // piece_bytes
        if count < 2:
            return [(0, size)]
        cuts = [0]
        with open(path, "rb") as handle:
            view = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        with view:
            for k in range(1, count):
                at = view.find(b"\n", k * size // count)
                if at < 0:
                    break
                if at + 1 > cuts[-1]:
                    cuts.append(at + 1)
    except (OSError, ValueError):
        return [(0, 0)]
    cuts = [cut for cut in cuts if cut < size] + [size]
    return list(pairwise(cuts))
