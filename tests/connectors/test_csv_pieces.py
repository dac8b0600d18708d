"""A large CSV file read in pieces reads as the whole file read at once, or not at all."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any
from unittest import mock

import pyarrow as pa
import pyarrow.csv as pacsv
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.files import csv_pieces
from connectors.files.csv_columns import csv_table
from connectors.files.csv_pieces import pieces_table
from tests.connectors.test_files_columns import (
    CONTACTS,
    csv_files,
    same_activities,
    same_contacts,
)

HEADER = ["id", "note", "n"]
TYPES = {name: pa.string() for name in HEADER}


def whole(data: bytes, handler: Any = None) -> Any:
    """The file read at once, as the reader reads a file too small for pieces."""
    return pacsv.read_csv(
        io.BytesIO(data),
        read_options=pacsv.ReadOptions(block_size=1 << 20),
        parse_options=pacsv.ParseOptions(
            newlines_in_values=True, invalid_row_handler=handler or skip
        ),
        convert_options=pacsv.ConvertOptions(
            column_types=TYPES, strings_can_be_null=False, null_values=[""]
        ),
    )


def skip(row: Any) -> str:
    return "skip"


def written(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "a.csv"
    path.write_bytes(text.encode("utf-8"))
    return path


def test_a_file_cut_between_records_reads_as_the_whole_file(tmp_path: Path) -> None:
    rows = "".join(f'r{i},"a, ""b""",{i}\r\n' for i in range(200))
    path = written(tmp_path, "id,note,n\r\n" + rows)
    table = pieces_table(str(path), HEADER, TYPES, skip, piece_bytes=500)
    assert table is not None
    assert table.column("id").num_chunks > 2
    assert table.combine_chunks().equals(whole(path.read_bytes()).combine_chunks())


def test_a_cut_inside_a_quoted_line_break_gives_none(tmp_path: Path) -> None:
    # every line break but the header's is inside a quoted value: every cut is inside one
    path = written(tmp_path, "id,note,n\n" + 'r,"' + "x\n" * 300 + '",1\n')
    assert pieces_table(str(path), HEADER, TYPES, skip, piece_bytes=100) is None


def test_a_piece_that_starts_as_a_byte_order_mark_gives_none(tmp_path: Path) -> None:
    text = "id,note,n\n" + "".join(f"\ufeffr{i},a,{i}\n" for i in range(100))
    assert pieces_table(str(written(tmp_path, text)), HEADER, TYPES, skip, piece_bytes=100) is None


def test_a_small_file_is_not_cut(tmp_path: Path) -> None:
    path = written(tmp_path, "id,note,n\nr,a,1\n")
    assert pieces_table(str(path), HEADER, TYPES, skip) is None


def test_a_row_the_handler_refuses_gives_none(tmp_path: Path) -> None:
    text = "id,note,n\n" + "".join(f"r{i},a,{i}\n" for i in range(100)) + "odd\n"
    path = written(tmp_path, text)
    assert pieces_table(str(path), HEADER, TYPES, lambda row: "error", piece_bytes=100) is None


def test_a_record_cut_short_by_a_cut_gives_none_and_the_file_reads_whole(tmp_path: Path) -> None:
    # a cut after the first line of a two-line note: the piece's last record is cut
    # short (a row of the wrong length to the handler), which says nothing of the file
    rows = "".join(f'r{i},"line one\nline two",{i}\n' for i in range(300))
    path = written(tmp_path, "id,note,n\n" + rows)
    assert pieces_table(str(path), HEADER, TYPES, lambda row: "error", piece_bytes=500) is None
    with mock.patch.object(csv_pieces, "PIECE_BYTES", 500):
        table = csv_table(str(path))
    assert table is not None and table.rows == 300
    assert table.columns["note"].to_pylist() == ["line one\nline two"] * 300


def test_a_file_of_carriage_returns_alone_is_not_cut(tmp_path: Path) -> None:
    path = written(tmp_path, "id,note,n\r" + "r,a,1\r" * 2000 + "\n")
    assert pieces_table(str(path), HEADER, TYPES, skip, piece_bytes=100) is None


def blank_or_error(row: Any) -> str:
    """The reader's handler: a row of the wrong length passes only when it is blank."""
    cells = next(csv.reader(io.StringIO(row.text, newline="")), [])
    return "error" if any(cell.strip() for cell in cells) else "skip"


LINE_BREAKS = st.text(alphabet=st.sampled_from('ab ,"\r\n'), max_size=8)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(LINE_BREAKS, st.booleans()), min_size=1, max_size=30),
    st.sampled_from(["\n", "\r\n"]),
    st.integers(8, 200),
    st.sampled_from([skip, blank_or_error]),
)
def test_pieces_read_as_the_whole_file_or_give_none(
    tmp_path_factory: Any, cells: list[tuple[str, bool]], ending: str, size: int, handler: Any
) -> None:
    lines = ["id,note,n"]
    for number, (text, quote) in enumerate(cells):
        note = '"' + text.replace('"', '""') + '"' if quote else text
        lines.append(f"r{number},{note},{number}")
    path = written(tmp_path_factory.mktemp("p"), ending.join(lines) + ending)
    table = pieces_table(str(path), HEADER, TYPES, handler, piece_bytes=size)
    if table is not None:  # the whole read gives the same table, and does not fail
        assert table.to_pylist() == whole(path.read_bytes(), handler).to_pylist()


@settings(max_examples=200, deadline=None)
@given(csv_files(["id", "email", "industry"]))
def test_contacts_read_in_pieces_give_the_old_frames(tmp_path_factory: Any, text: str) -> None:
    path = tmp_path_factory.mktemp("c") / "c.csv"
    path.write_bytes(text.encode("utf-8"))
    with mock.patch.object(csv_pieces, "PIECE_BYTES", 8):
        same_contacts(path)


@settings(max_examples=200, deadline=None)
@given(csv_files(["id", "contact_id", "email", "type", "occurred_at"]))
def test_activities_read_in_pieces_give_the_old_frames(tmp_path_factory: Any, text: str) -> None:
    path = tmp_path_factory.mktemp("a") / "a.csv"
    path.write_bytes(text.encode("utf-8"))
    with mock.patch.object(csv_pieces, "PIECE_BYTES", 8):
        same_activities(path, CONTACTS)
