"""The files connector: reading contacts and activities, and the errors for malformed files."""

from __future__ import annotations

import json
import os
import stat
import time
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.errors import InputFileError
from connectors.files import (
    activity_reader,
    csv_columns,
    csv_pieces,
    parse_activity_type,
    parse_moment,
    read_activities,
    read_activity_columns,
    read_contact_columns,
    read_contacts,
    write_rows,
)
from scoring import ActivityType, Contact


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


def errors_of(call, *args) -> list[str]:
    with pytest.raises(InputFileError) as caught:
        call(*args)
    return [str(p) for p in caught.value.problems]


def test_contacts_from_csv_keep_attributes_and_drop_blanks(tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", "id,email,industry,employees\n1, Ann@Acme.io ,SaaS,120\n2,,,\n")

    contacts = read_contacts(path)

    assert contacts == [
        Contact("1", email="Ann@Acme.io", attributes={"industry": "SaaS", "employees": "120"}),
        Contact("2"),
    ]


def test_contacts_from_jsonl_keep_numbers(tmp_path: Path) -> None:
    path = write(
        tmp_path, "c.jsonl", '{"id": 7, "email": "a@b.io", "employees": 40}\n\n{"id": "8"}\n'
    )

    assert read_contacts(path) == [
        Contact("7", email="a@b.io", attributes={"employees": 40}),
        Contact("8"),
    ]


def test_csv_with_a_byte_order_mark_reads_its_first_column(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes("id,email\n1,a@b.io\n".encode("utf-8-sig"))
    assert read_contacts(path)[0].id == "1"


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("c.csv", "email\na@b.io\n", ["c.csv:1: column 'id': missing column 'id' (found: email)"]),
        (
            "c.csv",
            "id,email\n1,a@b.io\n1,c@d.io\n",
            ["c.csv:3: column 'id': duplicate id '1' (first on line 2)"],
        ),
        ("c.csv", "id,email\n,a@b.io\n", ["c.csv:2: column 'id': the contact id is empty"]),
        ("c.csv", "id,email\n1,a@b.io,extra\n", ["c.csv:2: expected 2 fields, found 3"]),
        ("c.csv", "id,id\n1,2\n", ["c.csv:1: column 'id': column appears more than once"]),
        ("c.csv", "", ["c.csv: the file is empty: expected contacts"]),
        ("c.jsonl", "", ["c.jsonl: the file is empty: expected contacts"]),
        ("c.jsonl", "\n \n", ["c.jsonl: the file is empty: expected contacts"]),
        ("c.csv", "id,email\n", ["c.csv: the file holds a header but no rows: expected contacts"]),
        (
            "c.csv",
            "id,email\n,\n",
            ["c.csv: the file holds a header but no rows: expected contacts"],
        ),
        (
            "c.jsonl",
            '{"id": 1}\n{"id": 2\n',
            ["c.jsonl:2: invalid JSON: Expecting ',' delimiter (column 9)"],
        ),
        ("c.jsonl", "[1, 2]\n", ["c.jsonl:1: expected a JSON object, found list"]),
        (
            "c.jsonl",
            '{"id": 1, "tags": ["a"]}\n',
            ["c.jsonl:1: column 'tags': nested objects and lists are not supported"],
        ),
        ("c.txt", "id\n1\n", ["c.txt: unknown extension '.txt'; use .csv or .jsonl"]),
    ],
)
def test_malformed_contact_files(tmp_path: Path, name: str, text: str, expected: list[str]) -> None:
    path = write(tmp_path, name, text)
    assert [e.replace(str(tmp_path) + "/", "") for e in errors_of(read_contacts, path)] == expected


def test_file_in_another_encoding_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes("id,city\n1,Paris\n2,Orl\xe9ans\n".encode("latin-1"))

    [message] = errors_of(read_contacts, path)

    assert message.endswith("c.csv:3: not UTF-8 text (byte 21); save the file as UTF-8")


def test_a_header_of_40000_columns_is_checked_in_linear_time(tmp_path: Path) -> None:
    names = [f"c{i}" for i in range(40_000)]
    path = write(tmp_path, "c.csv", ",".join(["id", *names, "c7"]) + "\n1" + "," * 40_001 + "\n")
    started = time.perf_counter()
    [message] = errors_of(read_contacts, path)
    assert time.perf_counter() - started < 3
    assert message.endswith("c.csv:1: column 'c7': column appears more than once")


def test_a_missing_column_lists_only_the_first_columns_found(tmp_path: Path) -> None:
    path = write(tmp_path, "c.csv", ",".join(f"c{i}" for i in range(40_000)) + "\n1" + "," * 39_999)
    [message] = errors_of(read_contacts, path)
    assert message.endswith("(found: c0, c1, c2, c3, c4, c5, c6, c7, c8, c9 and 39990 more)")


def test_missing_file(tmp_path: Path) -> None:
    assert errors_of(read_contacts, tmp_path / "none.csv") == [
        f"{tmp_path}/none.csv: file not found"
    ]


CONTACTS = [Contact("1", email="Ann@Acme.io"), Contact("2", email="bob@beta.io")]


def test_activities_tie_to_contacts_by_id_or_email(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "a.csv",
        "id,contact_id,email,type,occurred_at,url\n"
        "e1,1,,page_view,2026-10-01T10:00:00Z,/pricing\n"
        "e2,, ANN@acme.io ,Email Open,2026-10-02T10:00:00+02:00,\n"
        "e3,99,,page_view,2026-10-03T10:00:00,\n",
    )

    read = read_activities(path, CONTACTS)

    assert [(a.id, a.contact_id, a.type, a.occurred_at) for a in read.activities] == [
        ("e1", "1", ActivityType.PAGE_VIEW, datetime(2026, 10, 1, 10, tzinfo=UTC)),
        ("e2", "1", ActivityType.EMAIL_OPEN, datetime(2026, 10, 2, 8, tzinfo=UTC)),
    ]
    assert read.activities[0].attributes == {"url": "/pricing"}
    assert read.unmatched == 1


def test_malformed_activities_report_every_row_and_column(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "a.csv",
        "contact_id,type,occurred_at\n"
        "1,page_view,yesterday\n"
        "1,webinar,2026-10-01T10:00:00Z\n"
        ",page_view,2026-10-01T10:00:00Z\n",
    )

    found = [e.replace(str(tmp_path) + "/", "") for e in errors_of(read_activities, path, CONTACTS)]

    assert found[0] == (
        "a.csv:2: column 'occurred_at': expected an ISO-8601 date and time such as "
        "2026-03-01T09:30:00Z, got 'yesterday'"
    )
    assert found[1].startswith(
        "a.csv:3: column 'type': unknown activity type 'webinar' (expected one of: email_sent,"
    )
    assert (
        found[2] == "a.csv:4: column 'contact_id': no contact: contact_id and email are both empty"
    )


def test_activities_need_a_contact_reference_column(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "type,occurred_at\npage_view,2026-10-01T10:00:00Z\n")
    [message] = errors_of(read_activities, path, CONTACTS)
    assert "missing column 'contact_id' or 'email'" in message


def test_rows_are_written_atomically_in_both_formats(tmp_path: Path) -> None:
    rows = [{"id": "1", "score": 12.5, "stage": None}, {"id": "2", "score": 3, "stage": "MQL"}]

    write_rows(tmp_path / "out.csv", rows, ["id", "score", "stage"])
    write_rows(tmp_path / "out.jsonl", rows, ["id", "score", "stage"])

    assert (tmp_path / "out.csv").read_bytes() == b"id,score,stage\r\n1,12.5,\r\n2,3,MQL\r\n"
    assert [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()] == rows
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "out.jsonl"]


def test_a_failed_write_leaves_no_file(tmp_path: Path) -> None:
    def rows():
        yield {"id": "1"}
        raise RuntimeError("scoring failed half-way")

    with pytest.raises(RuntimeError):
        write_rows(tmp_path / "out.csv", rows(), ["id"])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_a_new_output_file_gets_the_mode_the_umask_gives(tmp_path: Path, umask: int) -> None:
    previous = os.umask(umask)
    try:
        write_rows(tmp_path / "out.csv", [{"id": "1"}], ["id"])
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "out.csv").stat().st_mode) == 0o666 & ~umask


def test_an_overwritten_output_file_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    target.write_text("old\n", "utf-8")
    target.chmod(0o640)
    write_rows(target, [{"id": "1"}], ["id"])
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert target.read_text("utf-8") == '{"id": "1"}\n'


# --- parsers, property-based ------------------------------------------------------------

text_cells = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20
)


@given(st.lists(st.tuples(text_cells, text_cells), min_size=1, max_size=8))
def test_any_text_survives_a_csv_round_trip(tmp_path_factory, cells) -> None:
    folder = tmp_path_factory.mktemp("roundtrip")
    rows = [{"id": f"r{i}", "email": e, "note": n} for i, (e, n) in enumerate(cells)]
    write_rows(folder / "c.csv", rows, ["id", "email", "note"])

    back = read_contacts(folder / "c.csv")

    expected = [(r["id"], r["email"].strip() or None, r["note"].strip() or None) for r in rows]
    assert [(c.id, c.email, c.attributes.get("note")) for c in back] == expected


@given(
    st.datetimes(
        timezones=st.timezones(),
        min_value=datetime(1971, 1, 2),
        max_value=datetime(2200, 1, 1),
        allow_imaginary=False,
    )
)
def test_iso_moments_parse_to_the_same_instant(moment: datetime) -> None:
    parsed = parse_moment(moment.isoformat())
    # by instants: an aware time in a repeated hour never equals one in another zone
    assert parsed is not None and parsed.timestamp() == moment.timestamp()
    assert parsed.tzinfo == UTC


@given(
    st.sampled_from(list(ActivityType)),
    st.sampled_from([str.upper, str.title, lambda s: s.replace("_", "-")]),
)
def test_activity_type_names_parse_in_any_case_or_separator(kind: ActivityType, spell) -> None:
    assert parse_activity_type(f" {spell(kind.value)} ") is kind


@given(st.text(max_size=30))
def test_garbage_never_parses_as_a_moment_or_crashes(text: str) -> None:
    parsed = parse_moment(text)
    assert parsed is None or parsed.tzinfo == UTC


@pytest.mark.parametrize(
    "text", ["9999-12-31T23:30:00-01:00", "0001-01-01T00:30:00+01:00", "9999-12-31T23:59:59-23:59"]
)
def test_a_moment_that_leaves_the_calendar_in_utc_is_a_located_error(
    tmp_path: Path, text: str
) -> None:
    assert parse_moment(text) is None
    for name, body in [
        ("a.csv", f"contact_id,type,occurred_at\n1,page_view,{text}\n"),
        ("a.jsonl", json.dumps({"contact_id": "1", "type": "page_view", "occurred_at": text})),
    ]:
        [message] = errors_of(read_activities, write(tmp_path, name, body), CONTACTS)
        assert message.endswith(
            f"{name}:{1 + name.endswith('.csv')}: column 'occurred_at': {text!r} is out of "
            "range: in UTC it falls outside the years 1 to 9999"
        )


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("a.csv", ""),
        ("a.jsonl", ""),
        ("a.jsonl", "\n\n"),
        ("a.csv", "contact_id,type,occurred_at\n"),
    ],
)
def test_an_activities_file_without_rows_is_no_activities_in_either_format(
    tmp_path: Path, name: str, text: str
) -> None:
    read = read_activities(write(tmp_path, name, text), CONTACTS)
    assert (read.activities, read.unmatched) == ([], 0)


def test_a_header_only_activities_file_still_needs_its_columns(tmp_path: Path) -> None:
    [message] = errors_of(read_activities, write(tmp_path, "a.csv", "contact_id,type\n"), CONTACTS)
    assert message.endswith(
        "a.csv:1: column 'occurred_at': missing column 'occurred_at' (found: contact_id, type)"
    )


@pytest.mark.parametrize(
    ("line", "found"),
    [
        ('{"id": 1, "employees": NaN}', "nan"),
        ('{"id": 1, "employees": -Infinity}', "-inf"),
        ('{"id": 1, "employees": 1e400}', "inf"),
        ('{"id": 1, "employees": 1' + "0" * 400 + "}", "401 digits"),
    ],
)
def test_a_json_number_beyond_a_finite_float_is_a_located_error(
    tmp_path: Path, line: str, found: str
) -> None:
    [message] = errors_of(read_contacts, write(tmp_path, "c.jsonl", line + "\n"))
    assert message.endswith(
        f"c.jsonl:1: column 'employees': a number out of range for the rules: {found}"
    )


@pytest.mark.parametrize("line", ['{"n": 1' + "0" * 5000 + "}", "[" * 100_000 + "]" * 100_000])
def test_json_too_long_a_number_or_too_deep_is_a_located_error(tmp_path: Path, line: str) -> None:
    [message] = errors_of(read_contacts, write(tmp_path, "c.jsonl", line + "\n"))
    assert message.endswith("c.jsonl:1: invalid JSON: a number too long or nesting too deep")


# --- fuzzing: any bytes give rows or the reader's own located error -----------------------

DATA = Path(__file__).parents[2] / "examples" / "data"
HEADS = {
    name: (DATA / name).read_bytes().splitlines(keepends=True)[:4]
    for name in ("contacts.csv", "activities.csv")
}


@st.composite
def mutated_files(draw) -> tuple[str, bytes]:
    name = draw(st.sampled_from(sorted(HEADS)))
    lines = list(HEADS[name])
    if draw(st.booleans()):  # as JSON Lines, from the same rows
        header, *rows = [line.decode().rstrip("\r\n").split(",") for line in lines]
        lines = [json.dumps(dict(zip(header, row, strict=False))).encode() + b"\n" for row in rows]
        name = name.replace(".csv", ".jsonl")
    data = bytearray(b"".join(lines))
    pieces = st.sampled_from(
        [b",", b"\n", b'"', b"{", b"}", b"\xff", b"9999-12-31T23:30:00-01:00", b"1e400", b"NaN"]
    )
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(data)))
        if draw(st.booleans()):
            data[at : at + draw(st.integers(0, 8))] = b""
        else:
            data[at:at] = draw(pieces | st.binary(max_size=6))
    return name, bytes(data)


@settings(max_examples=150, deadline=2000)
@given(st.one_of(mutated_files(), st.tuples(st.sampled_from(["x.csv", "x.jsonl"]), st.binary())))
def test_any_file_reads_or_raises_a_located_error(tmp_path_factory, case) -> None:
    name, data = case
    path = tmp_path_factory.mktemp("fuzz") / name
    path.write_bytes(data)
    try:
        contacts = read_contacts(path)
        read_activities(path, contacts or CONTACTS)
    except InputFileError as exc:
        assert exc.problems and all(p.file == str(path) for p in exc.problems)


@pytest.mark.parametrize("kind", ["csv", "parquet", "jsonl"])
def test_an_activities_file_read_beside_the_contacts_says_its_problems_after_theirs(
    tmp_path: Path, kind: str
) -> None:
    """`activity_reader` starts on the activities file before the contacts are read; what
    it gives, and the order problems are said in, are those of reading one, then the other."""
    good = write(tmp_path, "c.csv", "id,email\nc1,ann@x.io\nc2,bob@x.io\n")
    twice = write(tmp_path, "twice.csv", "id,email\nc1,ann@x.io\nc1,bob@x.io\n")
    rows = [{"contact_id": "c1", "email": None, "type": "page_view",
             "occurred_at": "2026-03-01T09:30:00Z"},
            {"contact_id": None, "email": "BOB@x.io", "type": "email_open",
             "occurred_at": "2026-03-02"}]  # fmt: skip
    broken = write(tmp_path, f"broken.{kind}", "this is not a file of activities\n")
    acts = tmp_path / f"a.{kind}"
    if kind == "jsonl":
        acts.write_text("".join(json.dumps(row) + "\n" for row in rows))
    else:
        import pyarrow as pa
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist(rows)
        (pq.write_table if kind == "parquet" else pacsv.write_csv)(table, acts)

    tie = activity_reader(acts)
    read = tie(read_contact_columns(good))
    whole = read_activity_columns(acts, read_contact_columns(good))
    assert read.contact_rows.tolist() == whole.contact_rows.tolist() == [0, 1]
    assert read.micros.tolist() == whole.micros.tolist()

    tie = activity_reader(broken)
    contacts_said = errors_of(read_contact_columns, twice)
    assert contacts_said == [f"{twice}:3: column 'id': duplicate id 'c1' (first on line 2)"]
    activities_said = errors_of(tie, read_contact_columns(good))
    assert activities_said and all(str(broken) in said for said in activities_said)
    assert activities_said == errors_of(read_activity_columns, broken, read_contact_columns(good))


@pytest.mark.parametrize("block", range(8, 60))
def test_a_quoted_crlf_cut_by_the_readers_blocks_keeps_its_line_feed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block: int
) -> None:
    """pyarrow drops the line feed of a quoted `\\r\\n` when a block of the file's bytes
    ends between the two; an id, an address and a value the rules read come out as the
    csv module reads them."""
    import csv

    from connectors.files import csv_columns

    path = tmp_path / "contacts.csv"
    path.write_bytes(
        b'id,email,note\r\n"c\r\n1",a@x.io,"p\r\nq"\r\nc2,"b\r\nc@x.io",x\r\n'
        b'c3,d@x.io,"m\r\n\nn"\r\nc4,e@x.io,y\r\n'
    )
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    monkeypatch.setattr(csv_columns, "BLOCK_BYTES", block)
    read = read_contact_columns(path, ["note"])  # (blocks shorter than a record: the row reader)
    codes, values = read.attributes["note"]
    assert [values[c] for c in codes] == [row["note"] for row in rows]
    assert read.ids.tolist() == [row["id"] for row in rows]
    codes, addresses = read.addresses
    assert [addresses[c] for c in codes] == [row["email"] for row in rows]


def test_a_column_not_read_still_tells_a_blank_row_from_one_that_is_not(tmp_path: Path) -> None:
    """Of a CSV file only the columns asked for are converted; a row blank in all of them
    but not in another column is still a row with a problem, and a blank row still
    passes, as when every column is read."""
    people = write(tmp_path, "c.csv", "id,email,note\nc1,ann@x.io,\n,,hello\n")
    acts = write(
        tmp_path,
        "a.csv",
        "contact_id,type,occurred_at,note\n"
        "c1,page_view,2026-03-01T09:30:00Z,\n"
        ",,,\n"
        ",,,left by hand\n",
    )
    for fields in (["note"], []):  # the note read, or not
        said = errors_of(read_contact_columns, people, fields)
        assert said == [f"{people}:3: column 'id': the contact id is empty"]
        ok = write(tmp_path, "ok.csv", "id,email,note\nc1,ann@x.io,\n,,\n")
        contacts = read_contact_columns(ok, fields)
        assert contacts.ids.tolist() == ["c1"]
        said = errors_of(read_activity_columns, acts, contacts, fields)
        assert said == [
            f"{acts}:4: column 'type': unknown activity type None (expected one of: "
            + ", ".join(t.value for t in ActivityType)
            + ")",
            f"{acts}:4: column 'occurred_at': expected an ISO-8601 date and time such as "
            "2026-03-01T09:30:00Z, got None",
            f"{acts}:4: column 'contact_id': no contact: contact_id and email are both empty",
        ]


def test_an_unread_column_beyond_the_csv_modules_limit_sends_the_file_to_the_row_reader(
    tmp_path: Path,
) -> None:
    """A field longer than the csv module takes, in a column no one asked for, is never
    looked at; where a blank row makes the reader look at that column after all, the row
    reader reads the file and says what it says of every column read."""
    long = "x" * (csv_columns.FIELD_LIMIT + 1)
    clean = write(tmp_path, "c.csv", f"id,email,note\nc1,ann@x.io,{long}\nc2,bo@x.io,\n")
    assert read_contact_columns(clean, []).ids.tolist() == ["c1", "c2"]
    blank = write(tmp_path, "b.csv", f"id,email,note\nc1,ann@x.io,{long}\n,,\n")
    every = errors_of(read_contact_columns, blank)  # every column read: the row reader's
    assert errors_of(read_contact_columns, blank, []) == every
    acts = write(
        tmp_path,
        "a.csv",
        f"contact_id,type,occurred_at,note\nc1,page_view,2026-03-01T09:30:00Z,{long}\n,,,\n",
    )
    contacts = read_contact_columns(clean, [])
    assert errors_of(read_activity_columns, acts, contacts, []) == errors_of(
        read_activity_columns, acts, contacts
    )


def test_text_not_utf8_in_an_unread_column_is_still_said(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 in a column no one asked for are found as when every
    column is read (the row reader names the line), in a file read whole or in pieces."""
    rows = "".join(f"c{i},p{i}@x.io,some padding text\n" for i in range(3000))
    path = tmp_path / "c.csv"
    path.write_bytes(f"id,email,note\n{rows}".encode() + b"cz,z@x.io,\xff\xfe\n")
    every = errors_of(read_contact_columns, path)
    assert "not UTF-8" in every[0]
    assert errors_of(read_contact_columns, path, []) == every
    with mock.patch.object(csv_pieces, "PIECE_BYTES", 20_000):
        assert errors_of(read_contact_columns, path, []) == every
    fine = tmp_path / "fine.csv"
    fine.write_bytes(f"id,email,note\n{rows}".encode() + "cz,z@x.io,é\n".encode())
    assert len(read_contact_columns(fine, [])) == 3001


def test_a_file_changed_before_its_unread_columns_are_read_is_read_by_rows(
    tmp_path: Path,
) -> None:
    """Where a blank row makes the reader read the columns it left out, and the file has
    changed since its first read, the row reader reads the file as it is now."""
    path = write(
        tmp_path,
        "a.csv",
        "contact_id,type,occurred_at,note\n"
        "c1,page_view,2026-03-01T09:30:00Z,\nc2,page_view,2026-03-01T09:30:00Z,\n,,,\n",
    )
    wanted = {"contact_id", "type", "occurred_at"}
    table = csv_columns.csv_table(str(path), wanted=wanted)
    assert table is not None and table.rows == 3
    people = read_contact_columns(write(tmp_path, "c.csv", "id,email\nc1,a@x.io\nc2,b@x.io\n"))
    with mock.patch("connectors.files.read._table", return_value=table):
        tie = activity_reader(path, [])
        path.write_text("contact_id,type,occurred_at,note\nc1,page_view,2026-03-01T09:30:00Z,\n")
        with pytest.raises(csv_columns.ReadByRows):
            table.every_column()
        assert tie(people).contact_rows.tolist() == [0]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40), st.integers(1, 9), st.booleans())
def test_a_file_checked_for_utf8_a_piece_at_a_time_is_checked_as_a_whole(
    text: str, piece: int, broken: bool
) -> None:
    """`_whole_utf8` reads a file a few bytes at a time, each cut before a character it
    would split, and agrees with decoding the whole file, with or without line feeds."""
    import tempfile

    data = text.encode("utf-8", "surrogatepass")
    if broken:
        data = data[: len(data) // 2] + b"\xe2\x82" + data[len(data) // 2 :]
    try:
        data.decode("utf-8")
        expected = True
    except UnicodeDecodeError:
        expected = False
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "f.csv"
        path.write_bytes(data)
        with mock.patch.object(csv_columns, "PIECE_BYTES", piece):
            assert csv_columns._whole_utf8(str(path)) == expected


def test_repeated_ids_left_for_later_are_said_as_at_once(tmp_path: Path) -> None:
    """With `later`, a contacts file whose only problem is a repeated id reads, and its
    `check` says what the read says at once; other problems are said at once, repeats
    with them."""
    repeated = write(tmp_path, "c.csv", "id,email\nc1,a@x.io\nc2,b@x.io\nc1,c@x.io\n")
    at_once = errors_of(read_contact_columns, repeated)
    assert at_once == [f"{repeated}:4: column 'id': duplicate id 'c1' (first on line 2)"]
    read = read_contact_columns(repeated, None, later=True)
    assert errors_of(read.check) == at_once
    both = write(tmp_path, "b.csv", "id,email\nc1,a@x.io\n,b@x.io\nc1,c@x.io\n")
    later = errors_of(lambda path: read_contact_columns(path, None, later=True), both)
    assert later == errors_of(read_contact_columns, both)
    assert len(later) == 2  # the empty id and the repeat
    fine = read_contact_columns(write(tmp_path, "f.csv", "id,email\nc1,a@x.io\n"), None, later=True)
    fine.check()


def test_repeated_ids_left_for_later_in_a_file_gone_since_are_said_as_such(
    tmp_path: Path,
) -> None:
    """The lines of repeated ids are found in the file again; a file gone since it was
    read is said so (exit 2), not a traceback; a check passed lets go of what it held."""
    repeated = write(tmp_path, "c.csv", "id,email\nc1,a@x.io\nc1,c@x.io\n")
    read = read_contact_columns(repeated, None, later=True)
    repeated.unlink()
    said = errors_of(read.check)
    assert said == [f"{repeated}: cannot read the file again: No such file or directory"]
    fine = read_contact_columns(write(tmp_path, "f.csv", "id,email\nc1,a@x.io\n"), None, later=True)
    fine.check()
    assert fine.unchecked is None
