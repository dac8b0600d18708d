"""Moments of a CSV column by Arrow's own parse (`text_moments`) against `parse_moment`,
the definition: what is read there is what Python reads, the rest is left to it. And
the allocator Arrow is moved to when a file is read (`table.use_system_memory`)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.errors import InputFileError
from connectors.files import parse_moment, read_activity_columns
from connectors.files.contacts import contacts_from_records
from connectors.files.moments import (
    _NAIVE,
    _ZONED,
    _arrow_moments,
    _shaped,
    micros_of,
    text_moments,
)
from scoring.records import Contact
from tests.connectors.test_files_columns import moment_texts

EDGES = [
    "0000-12-31T23:30:00-01:00",  # the year 0 (Arrow reads it) in year 1 once in UTC
    "0001-01-01T00:00:00Z", "0001-01-01T00:30:00+01:00", "9999-12-31T23:59:59-01:00",
    "9999-12-31T23:59:59.999999Z", "2025-02-29T00:00:00Z", "2024-02-29T00:00:00Z",
    "2025-04-31", "2025-11-01T24:00:00Z", "2025-11-01T23:59:60Z", "2025-11-01T00:60",
    "2025-11-01T00:00:00+24:00", "2025-11-01T00:00:00+23:60", "2025-11-01T00:00:00-00:00",
    "2025-11-01T00:00:00z", "2025-11-01T00:00:00.1234567Z", " 2025-11-01", "2025-11-01T00",
    "2025-11-01 09:30:00.5", "",
]  # fmt: skip


def agree(texts: list[str], sizes: list[int]) -> tuple[list[int], list[bool]]:
    """`text_moments` of `texts` in chunks of `sizes`, checked against `parse_moment`."""
    chunks, at = [], 0
    for size in [*sizes, len(texts)]:
        chunks.append(pa.array(texts[at : at + size], type=pa.string()))
        at += size
    micros, ok = text_moments(pa.chunked_array([c for c in chunks if len(c)], pa.string()))
    assert len(micros) == len(ok) == len(texts)
    for text, value, read in zip(texts, micros.tolist(), ok.tolist(), strict=True):
        if read:
            parsed = parse_moment(text)
            assert parsed is not None and micros_of(parsed) == value, text
    return micros.tolist(), ok.tolist()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.one_of(moment_texts(), st.sampled_from(EDGES)), min_size=1, max_size=30),
    st.lists(st.integers(0, 8), max_size=4),
)
def test_text_moments_agree_with_parse_moment(texts: list[str], sizes: list[int]) -> None:
    agree(texts, sizes)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d",
                     "%Y-%m-%dT%H:%M:%S+05:30", "%Y-%m-%dT%H:%M:%S-23:59"]),
    st.lists(st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 30)),
             min_size=1, max_size=30),
)  # fmt: skip
def test_a_column_of_one_common_shape_is_read_by_arrow(shape: str, moments: list) -> None:
    texts = [m.strftime(shape) for m in moments]
    column = pa.array(texts, type=pa.string())
    assert _arrow_moments(column) is not None
    micros, ok = agree(texts, [])
    assert all(ok)
    assert micros == [micros_of(parse_moment(t)) for t in texts]  # type: ignore[arg-type]


def test_each_edge_is_read_as_python_reads_it_or_left_to_it() -> None:
    micros, ok = agree(EDGES, [1] * len(EDGES))  # a chunk each: Arrow tries every one
    assert ok[EDGES.index("0000-12-31T23:30:00-01:00")] is False
    assert ok[EDGES.index("2025-11-01T00:00:00-00:00")] is True
    wanted = parse_moment("2025-11-01 09:30:00.5")
    assert micros[EDGES.index("2025-11-01 09:30:00.5")] == micros_of(wanted)  # type: ignore[arg-type]


def test_a_column_arrow_refuses_is_read_chunk_by_chunk() -> None:
    good = ["2026-03-01T09:30:00Z"] * 5
    texts = [*good, "2025-02-29T00:00:00Z", *good]  # one day Arrow refuses: its chunk falls back
    assert _arrow_moments(pa.array(texts)) is None
    micros, ok = agree(texts, [5])
    assert ok == [True] * 5 + [False] + [True] * 5
    assert micros[0] == micros_of(parse_moment(good[0]))  # type: ignore[arg-type]


def test_bad_times_in_a_large_csv_are_said_on_their_lines(tmp_path: Path) -> None:
    lines = ["id,contact_id,type,occurred_at"]
    lines += [f"a{i},c1,page_view,2026-03-01T09:30:{i % 60:02d}.5Z" for i in range(30_000)]
    lines[12_001] = "a12000,c1,page_view,2026-02-30T09:30:00Z"
    lines[25_001] = "a25000,c1,page_view,0000-12-31T23:30:00-01:00"
    path = tmp_path / "activities.csv"
    path.write_text("\n".join(lines) + "\n")
    contacts = contacts_from_records([Contact("c1", email=None)])
    try:
        read_activity_columns(path, contacts)
    except InputFileError as exc:
        said = [str(p) for p in exc.problems]
    else:
        raise AssertionError("the bad times were not said")
    assert said == [
        f"{path}:12002: column 'occurred_at': expected an ISO-8601 date and time such as "
        "2026-03-01T09:30:00Z, got '2026-02-30T09:30:00Z'",
        f"{path}:25002: column 'occurred_at': expected an ISO-8601 date and time such as "
        "2026-03-01T09:30:00Z, got '0000-12-31T23:30:00-01:00'",
    ]


def test_reading_a_file_moves_arrow_to_the_system_allocator(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "contacts.csv"
    path.write_text("id,email\nc1,a@example.com\n")
    code = (
        "import pyarrow as pa; from connectors.files import read_contact_columns; "
        "before = pa.default_memory_pool().backend_name; "
        f"read = read_contact_columns({str(path)!r}); "
        "print(before, pa.default_memory_pool().backend_name, len(read))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, after, rows = done.stdout.split()
    assert (after, rows) == ("system", "1")
    assert before in {"mimalloc", "jemalloc", "system"}


TEMPLATES = ["2026-03-01T09:30:00Z", "2026-03-01T09:30:00.123Z", "2026-03-01T09:30:00+05:30",
             "2026-03-01 09:30", "2026-03-01", "2026-03-01T09:30:00.5-01:00"]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(TEMPLATES),
    st.lists(st.lists(st.tuples(st.integers(0, 30), st.sampled_from("0795T:-+Z .a/é")),
                      max_size=2), min_size=1, max_size=25),
    st.lists(st.integers(0, 8), max_size=4),
    st.booleans(),
)  # fmt: skip
def test_a_column_is_seen_to_have_one_shape_as_the_regular_expression_sees_it(
    template: str, edits: list[list[tuple[int, str]]], sizes: list[int], wide: bool
) -> None:
    """`_shaped`'s byte check (texts of the first's length and shape) answers as Arrow's
    regular expression over the whole column, whatever the texts, chunks and offsets."""
    import pyarrow.compute as pc

    texts = []
    for changes in edits:
        text = template
        for at, char in changes:
            text = text[:at] + char + text[at + 1 :] if at < len(text) else text + char
        texts.append(text)
    kind = pa.large_string() if wide else pa.string()
    chunks, at = [], 0
    for size in [*sizes, len(texts)]:
        chunks.append(pa.array(["x", *texts[at : at + size]], type=kind).slice(1))
        at += size
    column = pa.chunked_array(chunks, kind)
    for pattern in (_ZONED, _NAIVE):
        expected = pc.all(pc.match_substring_regex(column, pattern)).as_py() is not False
        assert _shaped(column, pattern) is expected, texts


def test_a_text_of_another_length_or_letter_is_not_taken_for_the_shape() -> None:
    good = ["2026-03-01T09:30:00Z"] * 4
    assert _shaped(pa.chunked_array([pa.array(good)]), _ZONED)
    for odd in ("2026-03-01T09:30:0xZ", "2026-03-01T09:30:00+", "2026-03-01T09:30:000",
                "2026-03-01t09:30:00Z", "2026-03-01T09:3Z", "2026-03-01T09:30:00ZZ"):  # fmt: skip
        assert not _shaped(pa.chunked_array([pa.array([*good, odd])]), _ZONED), odd


def activities_file(folder: Path, times: list[str]) -> Path:
    """An activities CSV file with one page view of contact c1 at each of `times`."""
    import csv

    path = folder / "activities.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["contact_id", "type", "occurred_at"])
        out.writerows(["c1", "page_view", text] for text in times)
    return path


def read_times(path: Path) -> list[int] | list[str]:
    """The microseconds `read_activity_columns` gives, or the problems it names."""
    contacts = contacts_from_records([Contact("c1", email=None)])
    try:
        read = read_activity_columns(path, contacts)
    except InputFileError as exc:
        return [str(p) for p in exc.problems]
    return read.micros.tolist()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(moment_texts(), st.sampled_from(EDGES)), min_size=1, max_size=12))
def test_a_csv_time_column_reads_as_parse_moment_whether_typed_or_not(
    tmp_path_factory: pytest.TempPathFactory, texts: list[str]
) -> None:
    """Read as timestamps by the parser or again as text, a file's moments are
    `parse_moment`'s, and a file with a time Python refuses names its line."""
    path = activities_file(tmp_path_factory.mktemp("times"), texts)
    parsed = [parse_moment(text) for text in texts]
    found = read_times(path)
    if all(p is not None for p in parsed):
        assert found == [micros_of(p) for p in parsed if p is not None], texts
    else:
        first = next(i for i, p in enumerate(parsed) if p is None)
        assert f"{path}:{first + 2}: column 'occurred_at'" in str(found[0]), (texts, found)


@pytest.mark.parametrize(
    ("times", "typed"),
    [
        (["2026-03-01T09:30:00Z", "2026-03-01T09:30:00.25+05:30"], "UTC"),
        (["2026-03-01 09:30", "2026-03-01"], None),
        (["2026-03-01T09:30:00Z", "2026-03-01"], "text"),  # zoned, then naive
        (["2026-03-01", "2026-03-01T09:30:00Z"], "text"),  # naive, then zoned
        (["2026-03-01T09:30:00Z", ""], "UTC"),  # an empty time: a null, said as from text
        (["", "2026-03-01"], None),  # the first time that is not blank decides
        (["2026-03-01T09:30:00Z", " "], "text"),  # a space: Arrow refuses it
        (["2026-03-01T09:30:00Z", "NULL"], "text"),  # Arrow's null, Python's error
        (["2026-03-01T09:30:00Z", "0000-12-31T23:30:00-01:00"], "text"),  # the year 0
        (["2026-03-01T09:30:00Z", "9999-12-31T23:30:00Z"], "text"),  # within a day of the end
        (["2026-03-01T09:30:00.1234567Z"], "text"),  # seven digits: Python cuts, Arrow refuses
        ([" 2026-03-01T09:30:00Z"], "text"),  # a space before it
    ],
)
def test_a_time_column_is_typed_by_the_parser_only_where_every_cell_agrees(
    tmp_path: Path, times: list[str], typed: str | None
) -> None:
    from connectors.files.csv_columns import csv_table

    path = activities_file(tmp_path, times)
    table = csv_table(str(path), times=("occurred_at",))
    assert table is not None
    kind = table.columns["occurred_at"].type
    if typed == "text":
        assert pa.types.is_string(kind)
    else:
        assert kind == pa.timestamp("us", tz=typed)
    parsed = [parse_moment(text) for text in times]
    if all(p is not None for p in parsed):
        assert read_times(path) == [micros_of(p) for p in parsed if p is not None]


def test_an_empty_time_is_said_on_its_line_and_a_blank_row_passed_over(tmp_path: Path) -> None:
    path = tmp_path / "activities.csv"
    path.write_text(
        "contact_id,type,occurred_at\nc1,page_view,2026-03-01T09:30:00Z\n,,\n"
        "c1,page_view,2026-03-02T09:30:00Z\n , , \n"
    )
    assert read_times(path) == [
        micros_of(parse_moment(t))  # type: ignore[arg-type]
        for t in ("2026-03-01T09:30:00Z", "2026-03-02T09:30:00Z")
    ]
    path.write_text(
        "contact_id,type,occurred_at\nc1,page_view,2026-03-01T09:30:00Z\nc1,page_view,\n"
    )
    assert read_times(path) == [
        f"{path}:3: column 'occurred_at': expected an ISO-8601 date and time such as "
        "2026-03-01T09:30:00Z, got None"
    ]
