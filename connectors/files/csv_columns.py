"""CSV files read by pyarrow into Arrow columns of text: a large file in pieces side by
side (`csv_pieces`), any other by pyarrow's multi-threaded reader.

Python's csv module (the excel dialect: commas, double quotes, quotes doubled inside
quotes, any of \\r, \\n and \\r\\n ending a record) is the definition of what a file
says. pyarrow's parser agrees with it on every shape of quoting; where the two could
part, the file is read by the row reader (`connectors/files/rows.py`) instead, as it
always was: a first record that is not the header pyarrow sees (a blank first line), a
header with a duplicate or empty name, a row of the wrong length that is not blank, a
field longer than the csv module takes, text that is not UTF-8. Those are the files
with a problem to report, or odd enough to be rare, so the row reader's pace is the
price of an exact message, never of a good file.

The columns that are to be coded (attributes, activity types) are read as Arrow
dictionaries by the parser itself, a chunk's distinct text once, never a string per
cell; the other columns as text. A time column (`occurred_at`) is first read as
timestamps by the parser itself, zoned or naive as its first value is: Arrow's ISO-8601
parse agrees with `moments.parse_moment` on every text it takes, away from the ends of
the years 1 to 9999 (Arrow takes the year 0, which Python refuses). An empty cell is a
null there, as an empty text is to `parse_moment` (said on its line, or its row passed
over when the whole row is blank). Where Arrow refuses a cell (any other text, `NULL`
among them), or a moment falls within a day of those ends, the file is read again with
the column as text, and read so each cell is held to `parse_moment` and a bad one named
on its line, as before.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Collection
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from connectors.files.csv_pieces import PIECE_BYTES, pieces_table, utf8
from connectors.files.moments import FIRST, LAST, SLACK
from connectors.files.rows import FileRow
from connectors.files.table import RawTable, chunk_text

_Ints = npt.NDArray[np.int64]

HEAD = 1 << 20
"""Bytes read to find the header; a longer header goes to the row reader."""
FIELD_LIMIT = 131_072
"""The csv module's default limit on a field's length, in characters."""
FIRST_RECORDS = 100
"""Records looked at for a time column's first value (past rows left blank)."""
BLOCK_BYTES = 8 << 20
"""The bytes pyarrow reads and parses at a time where a file is read whole (one smaller
than two pieces, `csv_pieces.PIECE_BYTES`, or one its pieces do not prove): each is a
chunk of every column, so a larger block means fewer chunks for every step after the
parse to go through (at 1M contacts / 10M activities, 1.2 GB, `leadscore score` took
0.9 s less with 4 MB than with pyarrow's 1 MB in four pairs of runs; 8 and 16 MB were
as fast as 4 MB, 8 MB peaking up to 300 MB higher and 16 MB about 350 MB)."""


class ReadByRows(Exception):
    """A CSV file's columns not read at first could not be read as columns after all (a
    field beyond the csv module's limit, say): the row reader reads the file."""


def csv_table(
    path: str,
    coded: Collection[str] = (),
    times: Collection[str] = (),
    wanted: Collection[str] | None = None,
) -> RawTable | None:
    """The file's columns (those named in `coded` as dictionaries, their chunks sharing
    one; those named in `times` as timestamps where every cell is one, see the module),
    or None when the row reader must read it (see the module). Of columns not `wanted`
    (when given) no cell is converted: they are read only if asked (`RawTable.unread`,
    which raises `ReadByRows` where they cannot be read as columns)."""
    header = _header(path)
    if header is None:
        return None
    import pyarrow as pa

    seen = _stamp(path)
    include = None
    if wanted is not None:
        include = [raw for raw in header if raw.strip() in wanted]
        if len(include) in (0, len(header)):  # (Arrow reads every column for none)
            include = None
    codes = pa.dictionary(pa.int32(), pa.string())
    types = {raw: codes if raw.strip() in coded else pa.string() for raw in header}
    stamped = _time_types(path, header, times)
    table = None
    if stamped:
        table = _arrow_csv(path, header, types | stamped, include)
        if table is not None and not all(_usable_times(table.column(raw)) for raw in stamped):
            table = None
    if table is None:
        table = _arrow_csv(path, header, types, include)
    columns = None if table is None else _checked(table, include or header)
    if columns is None:
        return None
    del table
    unread = None
    if include is not None:
        rest = [raw for raw in header if raw not in include]

        def unread() -> dict[str, Any]:
            found = None
            if _stamp(path) == seen:  # (a file changed since is read again, by rows)
                found = _arrow_csv(path, header, {raw: pa.string() for raw in rest}, rest)
            checked = None if found is None else _checked(found, rest)
            if checked is None or len(next(iter(checked.values()))) != rows:
                raise ReadByRows(path)
            return checked

    names = [h.strip() for h in header]
    rows = len(next(iter(columns.values()))) if columns else 0
    return RawTable(
        path,
        "csv",
        names,
        columns,
        rows=rows,
        lines=lambda rows: record_lines(path, len(names), rows),
        blank_rows=True,
        unread=unread,
    )


def _stamp(path: str) -> tuple[int, int] | None:
    """A file's size and time of its last change (None where it cannot be read)."""
    try:
        status = Path(path).stat()
    except OSError:
        return None
    return status.st_size, status.st_mtime_ns


def _checked(table: Any, read: list[str]) -> dict[str, Any] | None:
    """The columns `read` of pyarrow's table by their trimmed names, or None where the row
    reader must read the file: a field beyond the csv module's limit, or a carriage
    return in a value the reader keeps (`_holds_return`)."""
    import pyarrow as pa

    if table.column_names != read:
        return None
    columns = {}
    for raw in read:
        column = table.column(raw)
        if column.num_chunks and _longest(column) > FIELD_LIMIT:
            return None
        if pa.types.is_dictionary(column.type):
            column = column.unify_dictionaries()
        if (pa.types.is_dictionary(column.type) or raw.strip() in KEYS) and _holds_return(column):
            return None
        columns[raw.strip()] = column
    return columns


def _arrow_csv(
    path: str, header: list[str], types: dict[str, Any], include: list[str] | None = None
) -> Any:
    """pyarrow's read of the file with these column types (in pieces where it is large,
    `csv_pieces`), of the columns `include` only (all when None), or None where it fails
    or a row has another length and is not blank (the row reader reads such a file)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    odd: list[str] = []

    def invalid(row: Any) -> str:
        # a row of another length: the row reader passes over it when it is blank
        text = row.text if isinstance(row.text, str) else "?"
        records = csv.reader(io.StringIO(text, newline=""))
        if any(cell.strip() for record in records for cell in record):
            odd.append(text)
            return "error"
        return "skip"

    try:
        table = pieces_table(path, header, types, invalid, include=include)
        if table is not None:
            return None if odd else table
        odd.clear()
        if include is not None and not _whole_utf8(path):
            return None
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=BLOCK_BYTES),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=invalid),
            # a typed column's null is an empty cell only ("NULL" and the like are refused,
            # to be read as text and said as Python says them); text is never null
            convert_options=pacsv.ConvertOptions(
                column_types=types,
                strings_can_be_null=False,
                null_values=[""],
                include_columns=include,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowException, UnicodeDecodeError, csv.Error):
        return None
    return None if odd else table


_ZONE = re.compile(r"(?:Z|[+-]\d\d(?::?\d\d)?)$")
"""A moment's zone at its end (after the hour): `Z`, `+01:00`, `+0100` or `+01`."""


def _whole_utf8(path: str) -> bool:
    """Whether a file is UTF-8 text (`csv_pieces.utf8`), checked a piece at a time, each
    cut before a character its end leaves unfinished (a file read in pieces is checked
    by its pieces)."""
    try:
        with Path(path).open("rb") as handle:
            carry = b""
            while chunk := handle.read(PIECE_BYTES):
                data = carry + chunk if carry else chunk
                cut = _finished(data)
                if not utf8(data[:cut]):
                    return False
                carry = data[cut:]
            return utf8(carry)  # (a character left unfinished at the end is not UTF-8)
    except OSError:
        return False


def _finished(data: bytes) -> int:
    """The length of the bytes' start that ends where a UTF-8 character ends: all of them
    but a character their last three bytes begin and do not finish."""
    for back in range(1, min(3, len(data)) + 1):
        byte = data[-back]
        if byte < 0x80:  # ASCII: every character before it is finished
            return len(data)
        if byte >= 0xC0:  # a character's first byte: of 2, 3 or 4 bytes
            size = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return len(data) - back if size > back else len(data)
    return len(data)


def _time_types(path: str, header: list[str], times: Collection[str]) -> dict[str, Any]:
    """The timestamp type to read each of the `times` columns as: zoned or naive as its
    first value that is not blank is (among the first `FIRST_RECORDS`; a file of the other
    kind, or of both, is read again as text). None for a column whose value so found is
    not a date."""
    import pyarrow as pa

    wanted = [at for at, raw in enumerate(header) if raw.strip() in times]
    firsts: dict[int, str] = {}
    try:
        with Path(path).open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            next(reader, None)
            for record in islice(reader, FIRST_RECORDS):
                for at in wanted:
                    if at not in firsts and at < len(record) and record[at].strip():
                        firsts[at] = record[at]
                if len(firsts) == len(wanted):
                    break
    except (OSError, UnicodeDecodeError, csv.Error):
        return {}
    found = {}
    for at, value in firsts.items():
        if len(value) < 10 or not value[:4].isdigit():
            continue
        zoned = len(value) > 13 and value[10] in "T " and _ZONE.search(value, 13) is not None
        found[header[at]] = pa.timestamp("us", tz="UTC" if zoned else None)
    return found


def _usable_times(column: Any) -> bool:
    """Whether a column read as timestamps holds a moment `parse_moment` takes in every
    cell that is not empty (an empty one is said, or its blank row passed over, as from
    text): none within a day of either end of the years 1 to 9999."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if column.null_count == len(column):
        return True
    bounds = pc.min_max(column.cast(pa.int64()))
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    return bool(low >= FIRST + SLACK and high <= LAST - SLACK)


KEYS = frozenset({"id", "contact_id", "email"})
"""The text columns besides the coded ones whose values the reader keeps."""
_RETURN = re.compile(b"\r")


def _holds_return(column: Any) -> bool:
    """Whether a value holds a carriage return. pyarrow drops the line feed of a quoted
    value's `\\r\\n` when its read of the file's bytes ends between the two (`a\\r\\nb`
    becomes `a\\rb`, `a\\r\\n\\nb` becomes `a\\r\\nb`), so a value the reader keeps (an
    id, an address, a value the rules read) that holds one may not be the file's: such a
    file goes to the row reader. A dictionary's distinct texts are searched, a text
    column's bytes (a byte search, about 3 GB/s)."""
    import pyarrow as pa

    chunks = column.chunks
    if pa.types.is_dictionary(column.type):  # (unified: every chunk has the one dictionary)
        chunks = [chunks[0].dictionary] if chunks else []
    for chunk in chunks:
        if not len(chunk):
            continue
        bounds, raw = chunk_text(chunk)
        if _RETURN.search(raw[int(bounds[0]) : int(bounds[-1])].data):
            return True
    return False


def _longest(column: Any) -> int:
    import pyarrow as pa
    import pyarrow.compute as pc

    if not (pa.types.is_dictionary(column.type) or pa.types.is_string(column.type)):
        return 0  # a column the parser typed: no text of any length
    if pa.types.is_dictionary(column.type):
        return max((_longest(chunk.dictionary) for chunk in column.chunks), default=0)
    longest = pc.max(pc.binary_length(column)).as_py()
    return int(longest or 0)


def _header(path: str) -> list[str] | None:
    """The header as the csv module reads it, or None for a file the row reader takes:
    missing, not UTF-8 at its start, blank at its start, or with a header pyarrow would
    read otherwise (a blank first line, a name repeated once trimmed, an empty name)."""
    try:
        with Path(path).open("rb") as handle:
            head = handle.read(HEAD)
            rest = bool(handle.read(1))
    except OSError:
        return None
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    cut = max(head.rfind(b"\n"), head.rfind(b"\r")) if rest else len(head)
    if cut <= 0:
        return None
    try:
        text = head[:cut].decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text.strip() or text[0] in "\r\n":
        return None
    source = io.StringIO(text, newline="")
    reader = csv.reader(source)
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        return None
    if source.tell() >= len(text) and rest:
        return None  # the header may go on past what was read
    names = [name.strip() for name in header]
    if not names or "" in names or len(Counter(names)) != len(names):
        return None
    if any(len(name) > FIELD_LIMIT for name in header):
        return None
    return header


def record_lines(path: str, width: int, rows: _Ints) -> _Ints:
    """The line on which each of `rows` (counted as pyarrow counts them: the records of
    `width` fields after the header) starts, read again with the csv module."""
    wanted = np.asarray(rows, dtype=np.int64)
    if not len(wanted):
        return wanted
    last = int(wanted.max())
    starts = np.zeros(last + 1, dtype=np.int64)
    with Path(path).open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        found, start = 0, reader.line_num + 1
        for record in reader:
            if len(record) == width:
                starts[found] = start
                found += 1
                if found > last:
                    break
            start = reader.line_num + 1
    return starts[wanted]


def rows_table(path: str, columns: list[str], rows: list[FileRow]) -> RawTable:
    """The rows the row reader read, as a `RawTable` of text columns."""
    import pyarrow as pa

    cells = {
        name: pa.array([row.values[name] for row in rows], type=pa.string()) for name in columns
    }
    numbers = np.array([row.number for row in rows], dtype=np.int64)
    return RawTable(path, "csv", list(columns), cells, rows=len(rows), lines=lambda at: numbers[at])
