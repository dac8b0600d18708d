"""A CSV file cut into blocks at line breaks without regard to quotes (`csv_columns`'
quick read) gives the table the careful read gives, which lexes quotes from the start:
where a block was cut inside a quoted value, the rows at the cut show it and the file is
read again carefully."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.files import csv_columns
from connectors.files.csv_columns import _arrow_csv, csv_table

VALUES = ["x", "a,b", 'q"q', "", "long" * 5, "12", '"', "y\nz", "\n", "p\r\nq", '"\n"', "\n,"]


def table_of(path: Path) -> dict[str, list[str]] | None:
    found = csv_table(str(path))
    if found is None:
        return None
    return {name: column.to_pylist() for name, column in found.columns.items()}


def careful(path: Path, width: int) -> dict[str, list[str]] | None:
    import pyarrow as pa

    names = [f"c{i}" for i in range(width)]
    found = _arrow_csv(str(path), dict.fromkeys(names, pa.string()), careful=True)
    return None if found is None else {n: found.column(n).to_pylist() for n in names}


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 4).flatmap(
        lambda width: st.tuples(
            st.just(width),
            st.lists(st.lists(st.sampled_from(VALUES), min_size=width, max_size=width),
                     min_size=1, max_size=40),
        )
    ),
    st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
    st.sampled_from(["\r\n", "\n"]),
    st.integers(16, 300),
    st.integers(0, 3),
)  # fmt: skip
def test_the_quick_read_is_the_careful_reads_table(
    tmp_path_factory: pytest.TempPathFactory,
    shape: tuple[int, list[list[str]]],
    quoting: int,
    ending: str,
    block: int,
    head: int,
) -> None:
    width, rows = shape
    text = io.StringIO()
    out = csv.writer(text, quoting=quoting, lineterminator=ending)
    out.writerow([f"c{i}" for i in range(width)])
    out.writerows(rows)
    path = tmp_path_factory.mktemp("blocks") / "file.csv"
    path.write_bytes(text.getvalue().encode())
    blocks, first = csv_columns.BLOCK_BYTES, csv_columns.FIRST_RECORDS
    csv_columns.BLOCK_BYTES, csv_columns.FIRST_RECORDS = block, head  # many cuts, a short look
    try:
        found, wanted = table_of(path), careful(path, width)
    finally:
        csv_columns.BLOCK_BYTES, csv_columns.FIRST_RECORDS = blocks, first
    if found is not None:  # (None: a file the row reader reads, as a careful failure is)
        assert found == wanted


def test_a_line_break_in_a_value_past_the_first_records_is_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the cut, the file reads whole; where a block was cut inside the value,
    the quick read showed it and the file was read again carefully."""
    lines = ["id,note"] + [f"c{i},plain" for i in range(200)]
    lines[150] = 'c149,"two\nlines, quoted"'
    path = tmp_path / "contacts.csv"
    path.write_text("\n".join(lines) + "\n")
    real = csv_columns._arrow_csv
    again = set()
    for block in range(32, 200):  # (smaller blocks than a record: the careful read fails)
        monkeypatch.setattr(csv_columns, "BLOCK_BYTES", block)
        calls: list[bool] = []

        def spy(*args: object, careful: bool, calls: list[bool] = calls) -> object:
            calls.append(careful)
            return real(*args, careful=careful)  # type: ignore[arg-type]

        monkeypatch.setattr(csv_columns, "_arrow_csv", spy)
        found = table_of(path)
        assert found is not None
        assert found["note"][149] == "two\nlines, quoted", block
        assert found["id"] == [f"c{i}" for i in range(200)], block
        assert calls in ([False], [False, True]), block
        again.add(calls == [False, True])
    assert again == {False, True}  # some cuts fell inside the value, others did not


def test_a_file_with_quotes_in_its_first_records_is_read_carefully_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text('id,note\nc1,"say ""hi"""\nc2,plain\n')
    calls: list[bool] = []
    real = csv_columns._arrow_csv
    monkeypatch.setattr(
        csv_columns,
        "_arrow_csv",
        lambda *a, **k: calls.append(k.get("careful", a[-1])) or real(*a, **k),
    )
    assert table_of(path) == {"id": ["c1", "c2"], "note": ['say "hi"', "plain"]}
    assert calls == [True]
