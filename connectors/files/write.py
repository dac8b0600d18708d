"""Scores out: rows (`write_rows`) or whole columns (`write_columns`), to CSV, JSON Lines or
Parquet, atomically: the file appears whole or not at all, with the mode of the file it
replaces or the one the umask gives.

`write_columns` writes the bytes `write_rows` would for the same values (the csv
module's excel dialect, `json.dumps` with `ensure_ascii=False`), built a column at a
time with Arrow's string functions: numbers as `repr` writes them, text quoted where
the csv module quotes it and escaped where `json.dumps` escapes it.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import stat
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from connectors.files.arrow_columns import arrow_column, later, repeats
from connectors.files.problems import file_format


def write_rows(path: str | Path, rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """Write rows to a CSV or JSONL file atomically: the file appears whole or not at all."""
    kind = file_format(path)

    def fill(out: IO[bytes]) -> None:
        for text in _serialize(kind, rows, columns):
            out.write(text.encode("utf-8"))

    _atomically(Path(path), fill)


def write_columns(
    path: str | Path, columns: Mapping[str, Any], extra: Mapping[str, Any] | None = None
) -> None:
    """Write columns (numpy arrays of numbers, booleans or text; `(codes, categories)`
    pairs; text packed as `offsets` and UTF-8 `data`) to a CSV, JSONL or Parquet file,
    atomically, in the order given; `extra` columns (Arrow arrays too) after them in
    Parquet only, whose columns are typed (CSV and JSON Lines keep their columns)."""
    kind = file_format(path)
    # a packed column is put in order a slice of rows at a time, as it is written
    arrays = {name: arrow_column(column, lazy=True) for name, column in columns.items()}
    if kind == "parquet" and extra:
        arrays |= {name: arrow_column(column) for name, column in extra.items()}
    lengths = {name: len(array) for name, array in arrays.items()}
    if len(set(lengths.values())) > 1:  # (lines made a slice at a time would cut the rest)
        raise ValueError(f"columns of different lengths: {lengths}")

    def fill(out: IO[bytes]) -> None:
        if kind == "parquet":
            _parquet_groups(out, arrays)
        elif kind == "csv":
            _csv_bytes(out, arrays)
        else:
            _jsonl_bytes(out, arrays)

    _atomically(Path(path), fill)


ROW_GROUP = 1 << 17
"""Rows of a Parquet file written at a time, as a row group: a column made a block at a time
(the reasons) is written as its blocks are made, not after the last."""


def _parquet_groups(out: IO[bytes], arrays: Mapping[str, Any]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    # dictionary pages for the coded columns only, and only where values repeat: on a
    # column of distinct values (ids, addresses, reasons) the writer would fill one, then
    # fall back to plain pages (0.2 s for a million addresses)
    coded = [name for name, array in arrays.items() if not later(array) and repeats(array)]
    rows = len(next(iter(arrays.values()))) if arrays else 0

    def group(first: int) -> Any:
        return pa.table({name: array.slice(first, ROW_GROUP) for name, array in arrays.items()})

    first_group = group(0)  # (no rows: an empty table, as `pq.write_table` writes one)
    with pq.ParquetWriter(out, first_group.schema, use_dictionary=coded or False) as writer:
        for first in range(0, max(rows, 1), ROW_GROUP):
            writer.write_table(first_group if first == 0 else group(first), ROW_GROUP)


def columns_table(columns: Mapping[str, Any]) -> Any:
    """The columns `write_columns` takes (Arrow arrays too) as an Arrow table, in order."""
    import pyarrow as pa

    return pa.table({name: arrow_column(column) for name, column in columns.items()})


def _atomically(target: Path, fill: Callable[[IO[bytes]], None]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = _mode_for(target)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        os.fchmod(handle, mode)
        with os.fdopen(handle, "wb") as out:
            fill(out)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _mode_for(target: Path) -> int:
    """The mode of the file being replaced, or the one `open()` would create it with."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        return 0o666 & ~_umask()


def _umask() -> int:
    """The process's umask, read without changing it where Linux says it."""
    with contextlib.suppress(OSError, ValueError):  # not Linux: set it and set it back
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o22)
    os.umask(mask)
    return mask


def _serialize(
    kind: str, rows: Iterable[Mapping[str, Any]], columns: Sequence[str]
) -> Iterator[str]:
    if kind == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        yield buffer.getvalue()
        for row in rows:
            buffer.seek(0)
            buffer.truncate()
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
            yield buffer.getvalue()
    else:
        for row in rows:
            yield json.dumps({k: row.get(k) for k in columns}, ensure_ascii=False) + "\n"


# -- columns --------------------------------------------------------------------------------


def _text(array: Any, quote: Callable[[Any], Any], null: str) -> Any:
    """Text cells quoted by `quote`, `null` where missing (a dictionary array's values are
    quoted once by `_sliced`, before its slices reach here)."""
    import pyarrow as pa

    return quote(array.cast(pa.large_string())).fill_null(null)


def _numbers(array: Any) -> Any:
    """Floats as `repr` writes them (`_number_text`). A column of few distinct values (a
    score rounded to hundredths, a dimension, an interest) has each distinct one written
    once and its cells taken from those (`_number_codes`). Nulls stay null."""
    import pyarrow.compute as pc

    coded = _number_codes(array)
    return _number_text(array) if coded is None else pc.take(coded.dictionary, coded.indices)


def _number_codes(array: Any) -> Any:
    """A float column of few distinct values as a dictionary of their text (`repr`'s):
    the distinct values by their bits, so that -0.0 keeps its sign, each written once;
    None for any other column."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not (isinstance(array, pa.Array) and pa.types.is_float64(array.type)):
        return None
    if len(array) < FEW_ROWS:
        return None
    values = np.ascontiguousarray(array.to_numpy(zero_copy_only=False), dtype=np.float64)
    coded = pc.dictionary_encode(pa.array(values.view(np.int64)))
    if len(coded.dictionary) * 4 > len(values):  # (each is written as it is)
        return None
    distinct = coded.dictionary.to_numpy(zero_copy_only=False).view(np.float64)
    indices = coded.indices
    if array.null_count:
        indices = pc.if_else(array.is_valid(), indices, pa.scalar(None, indices.type))
    return pa.DictionaryArray.from_arrays(indices, _number_text(pa.array(distinct)))


FEW_ROWS = 64
"""Floats in a slice below this many are written one by one, never by distinct values."""


def _number_text(array: Any) -> Any:
    """Floats as `repr` writes them: Arrow's shortest digits, with `.0` on whole numbers;
    the few beyond Arrow's plain notation (1e16 and up, under 1e-4) by `repr` itself."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values = array.to_numpy(zero_copy_only=False)
    text = pc.cast(array, pa.large_string())
    size = np.abs(values)
    with np.errstate(invalid="ignore"):
        whole = pa.array((values == np.floor(values)) & (size < 1e16))
    text = pc.if_else(whole, pc.binary_join_element_wise(text, _lit(".0"), _lit("")), text)
    odd = (size >= 1e16) | ((size < 1e-4) & (size > 0))
    # Arrow writes an exponent where it is shorter (1e+10); repr only from 1e16 on
    exponent = pc.match_substring(text, "e").fill_null(False)
    odd = np.flatnonzero(odd | exponent.to_numpy(zero_copy_only=False))
    if len(odd):
        cells = text.to_pylist()
        for row in odd.tolist():
            cells[row] = repr(float(values[row]))
        text = pa.array(cells, type=pa.large_string())
    return text


def _cells(array: Any, json_style: bool) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = array.type
    null = "null" if json_style else ""  # a missing value, as write_rows writes None
    if pa.types.is_boolean(kind):
        true, false = ("true", "false") if json_style else ("True", "False")
        return pc.if_else(array, _lit(true), _lit(false)).fill_null(null)
    if pa.types.is_floating(kind):
        text = _numbers(array)
        if json_style:  # json.dumps writes NaN and the infinities as JavaScript does
            for plain, js in (("nan", "NaN"), ("inf", "Infinity"), ("-inf", "-Infinity")):
                text = pc.if_else(pc.equal(text, _lit(plain)), _lit(js), text)
        return text.fill_null(null)  # a masked cell: no value
    if pa.types.is_integer(kind):
        return pc.cast(array, pa.large_string()).fill_null(null)
    return _text(array, _json_quoted if json_style else _csv_quoted, null)


def _csv_quoted(values: Any) -> Any:
    """Text as the csv module writes it: in quotes, with quotes doubled, when it holds a
    comma, a quote, a carriage return or a line feed."""
    import pyarrow.compute as pc

    parts = _csv_parts(values)
    if len(parts) == 1:
        return parts[0]
    return pc.binary_join_element_wise(*parts, _lit(""))


def _csv_parts(values: Any) -> list[Any]:
    """`_csv_quoted` of text without nulls, as the parts whose join is that text: the text
    alone, or an opening quote (or nothing) per row, the text with its quotes doubled, and
    the same closing quote; so that a long column is copied once, into its lines."""
    import pyarrow as pa
    import pyarrow.compute as pc

    spans = _byte_spans(values)
    blobs = [raw.tobytes() for raw, _ in spans]  # (a search of bytes finds a byte fastest)
    held = [c for c in ',"\r\n' if any(blob.find(c.encode()) >= 0 for blob in blobs)]
    if not held:
        return [values]
    needs = np.concatenate([_rows_holding(raw, bounds, held) for raw, bounds in spans])
    mark = pc.if_else(pa.array(needs), _lit('"'), _lit(""))
    # a cell holding a quote is always quoted, so doubling every quote changes no other
    doubled = pc.replace_substring(values, '"', '""') if '"' in held else values
    return [mark, doubled, mark]


def _json_quoted(values: Any) -> Any:
    """Text as `json.dumps(ensure_ascii=False)` writes it."""
    import pyarrow as pa
    import pyarrow.compute as pc

    plain = pc.binary_join_element_wise(_lit('"'), values, _lit('"'), _lit(""))
    if not _holds_any(values, b'"\\') and not _holds_control(values):
        return plain
    needs = pc.match_substring_regex(values, r'[\x00-\x1f"\\]').fill_null(False)
    odd = np.flatnonzero(needs.to_numpy(zero_copy_only=False))
    if not len(odd):
        return plain
    cells = plain.to_pylist()
    for row in odd.tolist():
        cells[row] = json.dumps(values[row].as_py(), ensure_ascii=False)
    return pa.array(cells, type=pa.large_string())


def _holds_any(values: Any, characters: bytes) -> bool:
    """Whether any value of an Arrow text array holds one of `characters` (ASCII)."""
    data = _text_bytes(values)
    return any(data.find(bytes([c])) >= 0 for c in characters)


def _holds_control(values: Any) -> bool:
    """Whether any value of an Arrow text array holds a control character (below 0x20)."""
    data = _text_bytes(values)
    return bool(data.translate(None, bytes(range(32))) != data) if data else False


def _text_bytes(values: Any) -> bytes:
    """The UTF-8 bytes of every value of an Arrow text array, one after another."""
    return b"".join(raw.tobytes() for raw, _ in _byte_spans(values))


def _byte_spans(values: Any) -> list[tuple[npt.NDArray[np.uint8], npt.NDArray[np.int64]]]:
    """Per chunk of an Arrow text array: its values' UTF-8 bytes one after another (a view
    of the chunk's own buffer, not a copy), and where each value starts and ends in them."""
    import pyarrow as pa

    values = values.cast(pa.large_string())
    spans = []
    for chunk in values.chunks if isinstance(values, pa.ChunkedArray) else [values]:
        if not len(chunk):
            continue
        _, offsets, data = chunk.buffers()
        bounds = np.frombuffer(offsets, np.int64)[chunk.offset : chunk.offset + len(chunk) + 1]
        raw = np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8)
        spans.append((raw[int(bounds[0]) : int(bounds[-1])], bounds - bounds[0]))
    return spans


def _rows_holding(
    raw: npt.NDArray[np.uint8], bounds: npt.NDArray[np.int64], characters: list[str]
) -> npt.NDArray[np.bool_]:
    """Whether each value (bytes `raw[bounds[i]:bounds[i + 1]]`) holds one of the ASCII
    `characters`: every byte compared, and the value of each byte found by its place (a
    UTF-8 character of several bytes never holds an ASCII byte)."""
    hit = raw == ord(characters[0])
    for character in characters[1:]:
        hit |= raw == ord(character)
    # the last value starting at or before the byte: an empty value holds none
    rows = np.searchsorted(bounds, np.flatnonzero(hit), side="right") - 1
    found = np.zeros(len(bounds) - 1, dtype=bool)
    found[rows] = True
    return found


def _csv_bytes(out: IO[bytes], arrays: Mapping[str, Any]) -> None:

    header = io.StringIO()
    csv.writer(header).writerow(list(arrays))
    out.write(header.getvalue().encode("utf-8"))
    if not arrays or not len(next(iter(arrays.values()))):
        return
    # a float column of few values has them written once for the file, not once a slice
    coded = [_number_codes(array) for array in arrays.values()]
    columns = [
        _sliced(array if codes is None else codes, _csv_cells, _csv_quoted, "")
        for array, codes in zip(arrays.values(), coded, strict=True)
    ]

    def line_parts(first: int, count: int) -> list[Any]:
        # cells of one part each, side by side, are joined with commas at once (a join
        # with a separator takes half the time of one with a literal comma between each
        # two); a cell in parts (the quotes it takes, its text) is joined as it is
        groups: list[list[Any]] = []
        run: list[Any] = []
        for made in (cells(first, count) for cells in columns):
            if len(made) == 1:
                run.append(made[0])
                continue
            groups += [[_comma_joined(run)]] if run else []
            groups.append(made)
            run = []
        groups += [[_comma_joined(run)]] if run else []
        parts: list[Any] = []
        for group in groups:
            parts += [*([_lit(",")] if parts else []), *group]
        if len(columns) == 1:  # the csv module writes a lone empty field as "" (no blank line)
            import pyarrow.compute as pc

            line = pc.binary_join_element_wise(*parts, _lit(""))
            parts = [pc.if_else(pc.equal(line, _lit("")), _lit('""'), line)]
        return [*parts, _lit("\r\n")]

    _write_lines(out, len(next(iter(arrays.values()))), line_parts)


def _comma_joined(cells: list[Any]) -> Any:
    """Text arrays of one length, row by row, with a comma between each two."""
    import pyarrow.compute as pc

    return cells[0] if len(cells) == 1 else pc.binary_join_element_wise(*cells, _lit(","))


def _csv_cells(array: Any) -> list[Any]:
    """A column's cells as parts of the CSV lines (`_csv_parts`); plain text is quoted in
    its lines, a dictionary's values once."""
    import pyarrow as pa

    kind = array.type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        return [_cells(array, json_style=False)]
    return _csv_parts(array.cast(pa.large_string()).fill_null(""))


def _jsonl_bytes(out: IO[bytes], arrays: Mapping[str, Any]) -> None:

    if not arrays or not len(next(iter(arrays.values()))):
        return
    openings = [
        ("{" if position == 0 else ", ") + json.dumps(name, ensure_ascii=False) + ": "
        for position, name in enumerate(arrays)
    ]
    columns = [
        _sliced(array, lambda values: [_cells(values, json_style=True)], _json_quoted, "null")
        for array in arrays.values()
    ]

    def line_parts(first: int, count: int) -> list[Any]:
        parts: list[Any] = []
        for opening, cells in zip(openings, columns, strict=True):
            parts += [_lit(opening), *cells(first, count)]
        return [*parts, _lit("}\n")]

    _write_lines(out, len(next(iter(arrays.values()))), line_parts)


def _sliced(
    array: Any, cells: Callable[[Any], list[Any]], quote: Callable[[Any], Any], null: str
) -> Callable[[int, int], list[Any]]:
    """A column's cells (`cells` of its values) a slice of rows at a time, so that no
    column's text is made whole before its lines are; a dictionary's values are made
    into cells once (`quote`, `null` where missing), for every slice to take from."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(array, pa.DictionaryArray):
        values, indices = quote(array.dictionary.cast(pa.large_string())), array.indices
        return lambda first, count: [pc.take(values, indices.slice(first, count)).fill_null(null)]
    return lambda first, count: cells(array.slice(first, count))


def _lit(text: str) -> Any:
    """A text literal of the type the columns' text has."""
    import pyarrow as pa

    return pa.scalar(text, type=pa.large_string())


WRITE_ROWS = 1 << 16
"""Lines made and joined at a time: a slice's cells and text are a few MB the allocator
hands back to the next slice, not columns of the whole file in fresh pages. Half as
many slices as at 32,768 (each column's cells made in one call a slice): 1M contacts'
CSV 6.68 to 6.47 s, faster in five pairs of six, 20 MB more at peak; 131,072 was no
faster than 65,536."""


def _write_lines(out: IO[bytes], rows: int, line_parts: Callable[[int, int], list[Any]]) -> None:
    """The `rows` lines, a slice of rows at a time: `line_parts(first, count)` gives the
    parts of that slice's lines (text arrays of one length, and literals), joined row by
    row and written."""
    import pyarrow.compute as pc

    def joined(first: int) -> Any:
        return pc.binary_join_element_wise(*line_parts(first, WRITE_ROWS), _lit(""))

    # two slices made ahead (Arrow lets go of the GIL) while one is written (so does the
    # file's write): three slices at most in memory
    firsts = iter(range(0, rows, WRITE_ROWS))
    with ThreadPoolExecutor(max_workers=2) as pool:
        ahead = deque(pool.submit(joined, first) for first in islice(firsts, 2))
        while ahead:
            text = ahead.popleft().result()
            ahead.extend(pool.submit(joined, first) for first in islice(firsts, 1))
            _write_text(out, text)


def _write_text(out: IO[bytes], text: Any) -> None:
    """The UTF-8 bytes of every cell of an Arrow text array, one after the other."""
    import pyarrow as pa

    text = text.cast(pa.large_string())
    chunks = text.chunks if isinstance(text, pa.ChunkedArray) else [text]
    for chunk in chunks:
        if not len(chunk):
            continue
        _, offsets, data = chunk.buffers()
        bounds = np.frombuffer(offsets, dtype=np.int64)[
            chunk.offset : chunk.offset + len(chunk) + 1
        ]
        out.write(memoryview(data)[int(bounds[0]) : int(bounds[-1])])
