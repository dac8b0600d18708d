"""Scores written from columns are the bytes written from rows, in every format."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.files import write_columns, write_rows
from scoring.reasons import PackedText

texts = st.one_of(
    st.none(),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12),
    st.sampled_from(["a,b", 'say "hi"', "two\nlines", "cr\r", "·", "\x00\x1f\x7f", "\\", "\u2028"]),
)
numbers = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-(10**7), 10**7).map(lambda i: i / 100),
    st.sampled_from([0.0, -0.0, 1e16, 1.5e-7, 123456789012.34, 110.0]),
)


def packed(values: list[str]) -> PackedText:
    data = [v.encode() for v in values]
    offsets = np.concatenate(([0], np.cumsum([len(d) for d in data]))).astype(np.int64)
    return PackedText(offsets, b"".join(data))


@st.composite
def tables(draw) -> tuple[dict, list[dict]]:
    n = draw(st.integers(0, 8))
    ids = [draw(st.text(max_size=5)) for _ in range(n)]
    emails = [draw(texts) for _ in range(n)]
    scores = [draw(numbers) for _ in range(n)]
    flags = [draw(st.booleans()) for _ in range(n)]
    counts = [draw(st.integers(0, 4)) for _ in range(n)]
    reasons = [draw(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30))
               for _ in range(n)]  # fmt: skip
    categories = sorted({e for e in emails if e is not None})
    codes = np.array([-1 if e is None else categories.index(e) for e in emails], dtype=np.int32)
    columns = {
        "id": np.array(ids, dtype=object),
        "email": (codes, np.array(categories, dtype=object)),
        "score": np.array(scores, dtype=np.float64),
        "disqualified": np.array(flags, dtype=bool),
        "bant": np.array(counts, dtype=np.int64),
        "reasons": packed(reasons),
    }
    rows = [
        {"id": i, "email": e, "score": s, "disqualified": f, "bant": c, "reasons": r}
        for i, e, s, f, c, r in zip(ids, emails, scores, flags, counts, reasons, strict=True)
    ]
    return columns, rows


@settings(max_examples=300, deadline=None)
@given(tables(), st.sampled_from(["csv", "jsonl"]))
def test_columns_are_written_as_rows_are(tmp_path_factory, table, kind) -> None:
    columns, rows = table
    folder = tmp_path_factory.mktemp("w")
    write_rows(folder / f"rows.{kind}", rows, list(columns))
    write_columns(folder / f"columns.{kind}", columns)
    assert (folder / f"columns.{kind}").read_bytes() == (folder / f"rows.{kind}").read_bytes()


def test_parquet_holds_the_values(tmp_path: Path) -> None:
    columns = {
        "id": np.array(["1", "2"], dtype=object),
        "email": (np.array([0, -1], np.int32), np.array(["a@b.io"], dtype=object)),
        "score": np.array([12.5, -3.0]),
        "lead": np.array([True, False]),
        "reasons": packed(["+12 x · +1 y", ""]),
    }
    write_columns(tmp_path / "out.parquet", columns)
    assert pq.read_table(tmp_path / "out.parquet").to_pylist() == [
        {"id": "1", "email": "a@b.io", "score": 12.5, "lead": True, "reasons": "+12 x · +1 y"},
        {"id": "2", "email": None, "score": -3.0, "lead": False, "reasons": ""},
    ]


def test_parquet_dictionary_pages_only_for_coded_columns_whose_values_repeat(
    tmp_path: Path,
) -> None:
    rows = 1000
    columns = {
        "email": (np.arange(rows, dtype=np.int32), np.array([f"p{n}@b.io" for n in range(rows)])),
        "grade": (np.arange(rows, dtype=np.int32) % 3, np.array(["A", "B", "C"], dtype=object)),
        "id": np.array([str(n) for n in range(rows)], dtype=object),
    }
    write_columns(tmp_path / "out.parquet", columns)
    meta = pq.ParquetFile(tmp_path / "out.parquet").metadata.row_group(0)
    encodings = {meta.column(n).path_in_schema: meta.column(n).encodings for n in range(3)}
    assert "RLE_DICTIONARY" in encodings["grade"]
    assert "RLE_DICTIONARY" not in encodings["email"] and "RLE_DICTIONARY" not in encodings["id"]
    table = pq.read_table(tmp_path / "out.parquet")
    assert table.column("email")[999].as_py() == "p999@b.io"
    assert table.column("grade").to_pylist()[:4] == ["A", "B", "C", "A"]


@pytest.mark.parametrize("kind", ["csv", "jsonl", "parquet"])
def test_a_column_write_keeps_the_mode_rules(tmp_path: Path, kind: str) -> None:
    previous = os.umask(0o077)
    try:
        write_columns(tmp_path / f"out.{kind}", {"id": np.array(["1"], dtype=object)})
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / f"out.{kind}").stat().st_mode) == 0o600
    target = tmp_path / f"old.{kind}"
    target.write_text("old")
    target.chmod(0o640)
    write_columns(target, {"id": np.array(["1"], dtype=object)})
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"old.{kind}", f"out.{kind}"]


def test_jsonl_lines_are_json(tmp_path: Path) -> None:
    write_columns(tmp_path / "o.jsonl", {"a": np.array(['"x"\n'], dtype=object)})
    assert json.loads((tmp_path / "o.jsonl").read_text()) == {"a": '"x"\n'}


def test_csv_text_quoted_in_its_lines_is_the_csv_modules(tmp_path: Path) -> None:
    """Plain text columns are quoted as parts of the lines (an opening mark, the text with
    quotes doubled, a closing mark): a quote, a comma or a line break quotes a cell, no
    other, beside a column of one shape, blanks and an ordered packed column."""
    cells = ['say "hi"', "a,b", "plain", None, "two\nlines", "", "cr\r", '"', "·,"]
    texts = ["x · y", "no, more", "", 'a "b"', "z", "", "q", "r\n", "s"]
    order = np.array([8, 0, 3, 1, 2, 5, 4, 7, 6])
    columns = {
        "id": np.array(cells, dtype=object),
        "same": np.array(["k"] * len(cells), dtype=object),
        "reasons": PackedText(packed(texts).offsets, packed(texts).data, order),
    }
    rows = [
        {"id": c, "same": "k", "reasons": texts[o]}
        for c, o in zip(cells, order.tolist(), strict=True)
    ]
    write_rows(tmp_path / "rows.csv", rows, list(columns))
    write_columns(tmp_path / "columns.csv", columns)
    assert (tmp_path / "columns.csv").read_bytes() == (tmp_path / "rows.csv").read_bytes()


@settings(max_examples=100, deadline=None)
@given(tables(), st.sampled_from(["csv", "jsonl"]), st.integers(1, 3))
def test_lines_joined_a_slice_at_a_time_are_the_rows_bytes(
    tmp_path_factory, table, kind, rows_at_a_time
) -> None:
    from connectors.files import write

    columns, rows = table
    folder = tmp_path_factory.mktemp("s")
    write_rows(folder / f"rows.{kind}", rows, list(columns))
    kept = write.WRITE_ROWS
    write.WRITE_ROWS = rows_at_a_time  # slices of one to three lines, the last one shorter
    try:
        write_columns(folder / f"columns.{kind}", columns)
    finally:
        write.WRITE_ROWS = kept
    assert (folder / f"columns.{kind}").read_bytes() == (folder / f"rows.{kind}").read_bytes()


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20),
             min_size=1, max_size=12),
    st.randoms(use_true_random=False),
    st.sampled_from(["csv", "jsonl"]),
    st.integers(1, 4),
)  # fmt: skip
def test_packed_text_in_an_order_is_written_in_that_order(
    tmp_path_factory, values: list[str], rng, kind: str, rows_at_a_time: int
) -> None:
    from connectors.files import write

    order = list(range(len(values)))
    rng.shuffle(order)
    text = packed(values)
    ordered = PackedText(text.offsets, text.data, np.array(order, dtype=np.int64))
    folder = tmp_path_factory.mktemp("o")
    write_rows(folder / f"rows.{kind}", [{"reasons": values[i]} for i in order], ["reasons"])
    kept = write.WRITE_ROWS
    write.WRITE_ROWS = rows_at_a_time
    try:
        write_columns(folder / f"columns.{kind}", {"reasons": ordered})
    finally:
        write.WRITE_ROWS = kept
    assert (folder / f"columns.{kind}").read_bytes() == (folder / f"rows.{kind}").read_bytes()


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_missing_flags_and_counts_are_written_as_rows_write_none(tmp_path: Path, kind: str) -> None:
    import pyarrow as pa

    columns = {
        "id": np.array(["a", "b", "c"], dtype=object),
        "ok": pa.array([True, None, False]),
        "n": pa.array([1, 2, None], type=pa.int64()),
    }
    rows = [{"id": "a", "ok": True, "n": 1}, {"id": "b", "ok": None, "n": 2},
            {"id": "c", "ok": False, "n": None}]  # fmt: skip
    write_rows(tmp_path / f"rows.{kind}", rows, list(columns))
    write_columns(tmp_path / f"columns.{kind}", columns)
    assert (tmp_path / f"columns.{kind}").read_bytes() == (tmp_path / f"rows.{kind}").read_bytes()


@pytest.mark.parametrize("kind", ["csv", "jsonl", "parquet"])
def test_columns_of_different_lengths_are_refused(tmp_path: Path, kind: str) -> None:
    out = tmp_path / f"out.{kind}"
    with pytest.raises(ValueError, match="different lengths"):
        write_columns(out, {"a": np.arange(4), "b": np.arange(5)})
    assert not out.exists()


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_a_dictionary_column_in_chunks_is_written_as_rows_are(tmp_path: Path, kind: str) -> None:
    import pyarrow as pa

    coded = pa.chunked_array(
        [
            pa.array(["x", "y,z", None]).dictionary_encode(),
            pa.array(['q"', "x"]).dictionary_encode(),
        ]
    )
    rows = [{"a": v, "n": i} for i, v in enumerate(["x", "y,z", None, 'q"', "x"])]
    write_rows(tmp_path / f"rows.{kind}", rows, ["a", "n"])
    write_columns(tmp_path / f"columns.{kind}", {"a": coded, "n": np.arange(5)})
    assert (tmp_path / f"columns.{kind}").read_bytes() == (tmp_path / f"rows.{kind}").read_bytes()


@settings(max_examples=200, deadline=None)
@given(
    st.lists(numbers, min_size=1, max_size=6),
    st.lists(st.integers(0, 5), min_size=64, max_size=300),
    st.sets(st.integers(0, 299), max_size=20),
)
def test_floats_of_few_distinct_values_are_written_as_each_alone(
    few: list[float], picks: list[int], missing: set[int]
) -> None:
    import pyarrow as pa

    from connectors.files import write

    values = [few[i % len(few)] for i in picks]  # 64 rows and more, a handful of values
    mask = np.array([row in missing for row in range(len(values))])
    array = pa.array(np.array(values, dtype=np.float64), mask=mask)
    assert write._numbers(array).to_pylist() == write._number_text(array).to_pylist()
    assert write._numbers(array).to_pylist() == [
        None if gone else repr(v) for v, gone in zip(values, mask.tolist(), strict=True)
    ]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(numbers, min_size=1, max_size=6),
    st.lists(st.integers(0, 5), min_size=64, max_size=200),
    st.sets(st.integers(0, 199), max_size=10),
    st.integers(1, 100),
)
def test_a_float_column_of_few_values_is_written_to_csv_as_rows_write_it(
    tmp_path_factory, few: list[float], picks: list[int], missing: set[int], rows_at_a_time: int
) -> None:
    """A float column of few distinct values has each written once for the file (a
    dictionary of their text, `write._number_codes`), its slices taking their cells from
    it: the same bytes as rows written by the csv module, missing values included."""
    from connectors.files import write

    values = [few[i % len(few)] for i in picks]
    mask = np.array([row in missing for row in range(len(values))])
    column = np.ma.MaskedArray(np.array(values, dtype=np.float64), mask=mask)
    folder = tmp_path_factory.mktemp("f")
    rows = [{"score": None if gone else v} for v, gone in zip(values, mask.tolist(), strict=True)]
    write_rows(folder / "rows.csv", rows, ["score"])
    kept = write.WRITE_ROWS
    write.WRITE_ROWS = rows_at_a_time
    try:
        write_columns(folder / "columns.csv", {"score": column})
    finally:
        write.WRITE_ROWS = kept
    assert (folder / "columns.csv").read_bytes() == (folder / "rows.csv").read_bytes()
