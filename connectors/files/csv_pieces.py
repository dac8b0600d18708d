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
starts at a record's start. When a piece is not proven good, or fails for any reason
(its end may be the cause: a record cut short by the cut is a row of the wrong length),
the pieces after it that have not started are not read, and the caller reads the whole
file as before, which says what is wrong with a bad file. The pieces are read from one
open file, so a file replaced meanwhile is read as the file that was opened.
"""

from __future__ import annotations

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
    include: list[str] | None = None,
    piece_bytes: int | None = None,
) -> Any | None:
    """The file read in pieces (an Arrow table whose columns have a chunk per piece), as
    one read of the whole file with these `types`, handler of rows of the wrong length
    (`invalid`) and columns (`include`, all when None) would read it; None when the file
    is small, or a piece is not proven to end at a record's end, or fails (the caller then
    reads the file whole)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        handle = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        spans = _spans(handle, piece_bytes or PIECE_BYTES)
        if len(spans) < 2:
            return None
        sentinel = f"\x00{secrets.token_hex(8)}" + "," * len(header)
        seen = [0] * len(spans)

        def piece(index: int) -> Any:
            first, end = spans[index]
            ending = b"\n" if index == len(spans) - 1 else b""  # the last line may lack one
            tail = ending + sentinel.encode() + b"\n"
            buffer = bytearray(end - first + len(tail))
            if os.preadv(handle, [memoryview(buffer)[: end - first]], first) != end - first:
                raise _Unproven("the file changed while it was read")
            if index and buffer.startswith(_BOM):  # (pyarrow passes over one where it starts)
                raise _Unproven("a piece starts as a byte-order mark does")
            if include is not None and not utf8(buffer):  # (columns left out go unchecked)
                raise _Unproven("not UTF-8")
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
                parse_options=pacsv.ParseOptions(
                    newlines_in_values=True, invalid_row_handler=handler
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types=types,
                    strings_can_be_null=False,
                    null_values=[""],
                    include_columns=include,
                ),
            )

        return _in_turn(piece, len(spans), seen)
    finally:
        os.close(handle)


def _in_turn(piece: Callable[[int], Any], count: int, seen: list[int]) -> Any | None:
    """The pieces read side by side, looked at in turn: their table, or None at the first
    that fails or is not proven (those not started then are not read)."""
    import pyarrow as pa

    tables = []
    with ThreadPoolExecutor(max_workers=min(count, os.cpu_count() or 1)) as pool:
        later = [pool.submit(piece, index) for index in range(count)]
        try:
            for index, future in enumerate(later):
                try:
                    tables.append(future.result())
                except (_Unproven, OSError, ValueError, pa.ArrowException):
                    return None  # (pyarrow's errors are ValueErrors; the end may be why)
                if seen[index] != 1:
                    return None
        finally:
            for future in later:
                future.cancel()
    try:
        return pa.concat_tables(tables)
    except pa.ArrowException:
        return None


def utf8(data: bytes | bytearray) -> bool:
    """Whether bytes are UTF-8 text (pyarrow checks the text of the columns it converts
    only): ASCII at once, else by Arrow's check, a few GB a second. A piece cut at a line
    feed never cuts a character of several bytes."""
    import numpy as np
    import pyarrow as pa

    if data.isascii():
        return True
    bounds = pa.py_buffer(np.array([0, len(data)], dtype=np.int64))
    whole = pa.Array.from_buffers(pa.large_binary(), 1, [None, bounds, pa.py_buffer(data)])
    try:
        whole.cast(pa.large_string())
    except pa.ArrowInvalid:
        return False
    return True


class _Unproven(Exception):
    """A piece that may not start where a record starts: the file is read whole."""


def _spans(handle: int, piece_bytes: int) -> list[tuple[int, int]]:
    """The open file's pieces as (first byte, end): cut after the first line feed at or
    past each multiple of about `piece_bytes`, looked for within a piece's length of it
    (no cut there otherwise); one piece for a file of fewer than two."""
    size = os.fstat(handle).st_size
    count = size // piece_bytes
    if count < 2:
        return [(0, size)]
    cuts = [0]
    for k in range(1, count):
        at = max(k * size // count, cuts[-1])
        stop = min(size, at + piece_bytes)
        while at < stop:
            window = os.pread(handle, min(1 << 16, stop - at), at)
            if not window:
                break
            found = window.find(b"\n")
            if found >= 0:
                if at + found + 1 < size:
                    cuts.append(at + found + 1)
                break
            at += len(window)
    cuts.append(size)
    return list(pairwise(cuts))
