"""A file's cells as Arrow columns, before they are checked and typed.

`RawTable` is what the CSV and Parquet readers hand on: the columns by their
(trimmed) names, as Arrow arrays of the file's own cells, and a way to say on which
line of the file any row starts, asked only when there is a problem to report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from scoring.records import WHITESPACE

_Ints = npt.NDArray[np.int64]


@dataclass(frozen=True)
class RawTable:
    path: str
    kind: str
    """`csv` or `parquet`."""
    names: list[str]
    """Every column of the file, trimmed, in the file's order."""
    columns: dict[str, Any]
    """The columns read: pyarrow arrays (a reader lets go of those it no longer needs)."""
    rows: int
    lines: Callable[[_Ints], _Ints]
    """Line (CSV) or row (Parquet) number of each of the given rows, for messages."""
    blank_rows: bool = False
    """Whether rows whose every cell is blank may be among the rows (CSV: the old reader
    passed over them; they are found where a required cell is blank)."""
    unread: Callable[[], dict[str, Any]] | None = None
    """The columns of `names` that were not read (a CSV file's columns no command asked
    for), read when asked: only to tell a blank row from one that is not."""

    def every_column(self) -> dict[str, Any]:
        """The columns read and, read now, those that were not."""
        return self.columns if self.unread is None else self.columns | self.unread()


def use_system_memory() -> None:
    """Arrow's buffers from the C library's allocator from now on, in this process (set
    when a CSV or Parquet file is first read).

    pyarrow's default (mimalloc) hands freed pages back to the system after a few
    milliseconds and takes fresh ones for the next buffer: on reading a large file that
    was as much time in the kernel as in the reader itself; malloc keeps them for reuse."""
    import pyarrow as pa

    if pa.default_memory_pool().backend_name != "system":
        pa.set_memory_pool(pa.system_memory_pool())


def chunkless(column: Any) -> Any:
    """One Arrow array for a column that may be chunked (a copy when it has chunks)."""
    import pyarrow as pa

    if isinstance(column, pa.ChunkedArray):
        return column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    return column


def chunks_of(column: Any) -> list[Any]:
    """The arrays a column is made of, without copying them."""
    import pyarrow as pa

    return list(column.chunks) if isinstance(column, pa.ChunkedArray) else [column]


def rows_at(column: Any, rows: _Ints) -> Any:
    """The cells of `rows` (ascending) of a column that may be chunked: each chunk's own
    rows taken from it. (Arrow's `take` on a column of many chunks places each row among
    the chunks first: 0.25 s for half a million rows of a CSV file's 141 chunks, against
    6 ms so.)"""
    import pyarrow as pa

    if not isinstance(column, pa.ChunkedArray) or column.num_chunks < 2:
        return column.take(pa.array(rows, type=pa.int64()))
    rows = np.asarray(rows, dtype=np.int64)
    ends = np.cumsum([len(chunk) for chunk in column.chunks])
    cuts = np.searchsorted(rows, ends).tolist()
    parts, low = [], 0
    for chunk, end, high in zip(column.chunks, ends.tolist(), cuts, strict=True):
        if high > low:
            parts.append(chunk.take(pa.array(rows[low:high] - (end - len(chunk)))))
        low = high
    return pa.chunked_array(parts, type=column.type)


def string_buffers(array: Any) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8]]:
    """The offsets (one more than the rows) and UTF-8 bytes of an Arrow string array."""
    import pyarrow as pa

    array = chunkless(array)
    if len(array) == 0:
        return np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.uint8)
    if array.type != pa.large_string():
        array = array.cast(pa.large_string())
    _, offsets, data = array.buffers()
    starts = np.frombuffer(offsets, dtype=np.int64)[array.offset : array.offset + len(array) + 1]
    raw = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
    return starts, raw


def chunk_text(chunk: Any) -> tuple[npt.NDArray[np.integer[Any]], npt.NDArray[np.uint8]]:
    """A string or large_string array's own buffers, not copied (`string_buffers` copies
    to large strings): where each text starts and ends in the bytes (one more than the
    texts, from where the array starts in them), and the bytes."""
    import pyarrow as pa

    _, offsets, data = chunk.buffers()
    wide = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
    bounds: npt.NDArray[np.integer[Any]] = np.frombuffer(offsets, dtype=wide)
    raw = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)
    return bounds[chunk.offset : chunk.offset + len(chunk) + 1], raw


def trimmed(array: Any) -> Any:
    """Text with what `str.strip()` removes removed, blank text as null."""
    import pyarrow.compute as pc

    text = pc.utf8_trim(array, characters=WHITESPACE)
    return pc.if_else(pc.equal(pc.binary_length(text), 0), None, text)


def indices_of(coded: Any) -> npt.NDArray[np.int32]:
    """The codes of a dictionary-encoded (maybe chunked) array, -1 where null."""
    parts = [c.indices.fill_null(-1).to_numpy(zero_copy_only=False) for c in chunks_of(coded)]
    if not parts:
        return np.zeros(0, dtype=np.int32)
    return np.concatenate(parts).astype(np.int32, copy=False)


def coded_text(array: Any) -> tuple[npt.NDArray[np.int32], Any]:
    """Codes into the distinct values (in order of first appearance) of trimmed text, -1
    for blank or null cells, and those values as an Arrow array; each distinct raw value
    is trimmed once."""
    import pyarrow as pa
    import pyarrow.compute as pc

    # a dictionary read from Parquet is used as it is (its chunks share one dictionary)
    coded = array if pa.types.is_dictionary(array.type) else pc.dictionary_encode(array)
    indices = indices_of(coded)
    chunks = chunks_of(coded)
    distinct = chunks[0].dictionary if chunks else pa.array([], pa.string())
    clean = trimmed(distinct)
    if not pc.all(pc.equal(clean, distinct).fill_null(False)).as_py():
        # some distinct values change when trimmed: blank ones go, and values that
        # become equal merge into the first of them
        merged = pc.dictionary_encode(clean)
        remap = indices_of(merged)
        indices = np.append(remap, np.int32(-1))[indices]
        distinct = merged.dictionary
    return indices, distinct


def object_cells(array: Any) -> npt.NDArray[np.object_]:
    """An Arrow array's values as a numpy object array (None where null)."""
    values = np.empty(len(array), dtype=object)
    values[:] = array.to_pylist() if len(array) else []
    return values


def encoded(array: Any) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.object_]]:
    """`coded_text`, with the distinct values as a numpy object array."""
    indices, distinct = coded_text(array)
    return indices, object_cells(distinct)


def lowered(text: Any) -> Any:
    """`str.lower()` of each value of trimmed Arrow text: Arrow's for ASCII text, Python's
    for the rest (whose case rules Arrow's tables may not share)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    ascii_only = pc.string_is_ascii(text)
    if pc.all(ascii_only).as_py() is not False:
        return pc.ascii_lower(text)
    values = text.to_pylist()
    flags = ascii_only.to_pylist()
    lower = pc.ascii_lower(text).to_pylist()
    return pa.array(
        [low if flag else (None if v is None else v.lower()) for v, low, flag in
         zip(values, lower, flags, strict=True)],
        type=pa.string(),
    )  # fmt: skip


TextCodes = tuple[npt.NDArray[np.int32], npt.NDArray[np.object_]]
"""A text column: codes into distinct values, -1 where the value is missing."""
PlainCells = TextCodes | npt.NDArray[Any]
"""A column as the frames take it: `TextCodes` for text, float64 for numbers (NaN where
missing), or an object array of raw cells (JSON Lines: text, numbers and None)."""


def is_text(column: Any) -> bool:
    """Whether a column holds text: strings, or a dictionary of strings (Parquet's)."""
    import pyarrow as pa

    kind = column.type
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))


def plain_text(column: Any) -> Any:
    """The column as Arrow strings, a dictionary's values spelled out."""
    import pyarrow as pa

    text = as_text(column)
    return text.cast(pa.string()) if pa.types.is_dictionary(text.type) else text


def as_text(column: Any) -> Any:
    """The column as Arrow text (numbers as Arrow writes them, times as ISO text)."""
    import pyarrow as pa

    return column if is_text(column) else column.cast(pa.string())


def blank_everywhere(table: RawTable, rows: _Ints, besides: tuple[str, ...]) -> npt.NDArray[Any]:
    """Whether every cell of each of `rows` is blank, in the columns other than `besides`
    (which the caller knows are blank there)."""
    import pyarrow.compute as pc

    blank = np.ones(len(rows), dtype=bool)
    for name, column in (table.every_column() if len(rows) else {}).items():
        if name in besides:
            continue
        cells = trimmed(plain_text(rows_at(column, rows)))
        blank &= pc.is_null(cells).to_numpy(zero_copy_only=False)
    return blank


def first_rows(codes: npt.NDArray[np.int32], count: int) -> _Ints:
    """Per code 0..count-1, the first row that holds it (len(codes) where none does)."""
    first = np.full(count, len(codes), dtype=np.int64)
    present = np.flatnonzero(codes >= 0)
    np.minimum.at(first, codes[present], present)
    return first


def present_codes(
    codes: npt.NDArray[np.int32], categories: npt.NDArray[np.object_]
) -> TextCodes | None:
    """The column, or None when no row holds a value (such a column is not an attribute)."""
    return (codes, categories) if bool((codes >= 0).any()) else None


def any_row(table: RawTable) -> bool:
    """Whether the table holds a row that is not blank."""
    import pyarrow.compute as pc

    if not table.blank_rows:
        return table.rows > 0
    return any(
        pc.any(pc.is_valid(trimmed(plain_text(column)))).as_py()
        for column in table.every_column().values()
    )
