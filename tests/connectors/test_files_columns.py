"""The columnar readers against the row reader they replace (`old_files_reader`): any CSV
file it read gives the same frames, any file it refused the same located messages."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import connectors.files.activities as activities_module
import connectors.files.parts as parts_module
from connectors.errors import InputFileError
from connectors.files import (
    parse_moment,
    read_activities,
    read_activity_columns,
    read_contact_columns,
    read_contacts,
)
from connectors.files.contacts import contacts_from_records
from connectors.files.moments import FIRST, LAST, fast_moments, micros_of
from connectors.files.table import rows_at, string_buffers
from scoring import ActivityFrame, ContactFrame
from tests.connectors import old_files_reader as old

# --- what the old reader made of a file, and what the new one makes --------------------


def outcome(call, *args) -> Any:
    try:
        return call(*args)
    except InputFileError as exc:
        return [str(p) for p in exc.problems]


def cells(frame: Any) -> dict[str, list[Any]]:
    """A frame's columns as per-row values (category order aside)."""
    return {name: [column.value(i) for i in range(len(column))] for name, column in
            frame.columns.items()}  # fmt: skip


def same_contacts(path: Path) -> list | None:
    """The old reader's contacts, after checking the new one reads the file the same."""
    before = outcome(old.read_contacts, path)
    after = outcome(read_contact_columns, path)
    # the attributes the rules read, coded by the parser itself
    coded = outcome(read_contact_columns, path, FIELDS)
    if isinstance(before, list) and before and isinstance(before[0], str):
        assert after == before, (before, after)
        assert coded == before, (before, coded)
        return None
    assert not isinstance(after, list), after
    expected = ContactFrame.from_records(before)
    got = ContactFrame.from_arrays(after.ids, after.emails, after.attributes)
    assert list(got.ids) == list(expected.ids)
    assert cells(got) == cells(expected)
    some = ContactFrame.from_arrays(coded.ids, coded.emails, coded.attributes)
    assert list(some.ids) == list(expected.ids)
    assert {k: v for k, v in cells(some).items() if k in {"email", *FIELDS}} == {
        k: v for k, v in cells(expected).items() if k in {"email", *FIELDS}
    }
    # as `leadscore score` builds it: the reader's normalized addresses, taken as they are
    normalized = ContactFrame.from_arrays(
        after.ids, after.addresses, after.attributes, normalized=True
    )
    assert cells(normalized) == cells(expected)
    assert read_contacts(path) == before
    return before


def same_activities(path: Path, contacts: list) -> None:
    """Check the new reader reads the activities file as the old one did."""
    before = outcome(old.read_activities, path, contacts)
    coded = outcome(read_activity_columns, path, contacts_from_records(contacts), FIELDS)
    if isinstance(before, list):
        assert outcome(read_activities, path, contacts) == before
        assert coded == before
        return
    known = ContactFrame.from_records(contacts)
    after = read_activities(path, contacts)
    assert (after.activities, after.unmatched) == (before.activities, before.unmatched)
    columns = read_activity_columns(path, contacts_from_records(contacts))
    expected = ActivityFrame.from_records(before.activities, known.ids)
    got = ActivityFrame.from_arrays(
        columns.contact_rows, columns.type_codes, columns.seconds, columns.attributes
    )
    assert columns.unmatched == before.unmatched
    assert got.contact_rows.tolist() == expected.contact_rows.tolist()
    assert got.type_codes.tolist() == expected.type_codes.tolist()
    assert got.occurred_at.tolist() == expected.occurred_at.tolist()
    assert cells(got) == cells(expected)
    some = ActivityFrame.from_arrays(
        coded.contact_rows, coded.type_codes, coded.seconds, coded.attributes
    )
    assert cells(some) == {k: v for k, v in cells(expected).items() if k in FIELDS}


FIELDS = ["industry", "url", "x"]
"""Attribute columns a rule set might read (the files' others are let go of)."""


# --- CSV text, well and badly formed -----------------------------------------------------

CELL = st.one_of(
    st.sampled_from(["", " ", "a", "A@B.io", " x@y.io ", "1", "c1", "page_view", "Email Open",
                     "webinar", "2026-10-01T10:00:00Z", "2026-10-01 10:00", "2026-10-01",
                     "2026-10-01T10:00:00.5+02:00", "9999-12-31T23:30:00-01:00", "yesterday",
                     "1,200", "İ", "\u00a0", "inf"]),
    st.text(alphabet=st.sampled_from('ab ,"\r\n\t1-:Z'), max_size=6),
)  # fmt: skip
SEPARATORS = st.sampled_from([",", ",", ",", ", ", ";"])
ENDINGS = st.sampled_from(["\n", "\r\n", "\r"])


def quoted(text: str, always: bool) -> str:
    if always or any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


@st.composite
def csv_files(draw, header: list[str]) -> str:
    names = list(header) + draw(st.lists(st.sampled_from(["url", "note", " x ", "id"]), max_size=2))
    ending = draw(ENDINGS)
    rows = draw(st.lists(st.lists(CELL, min_size=len(names) - 1, max_size=len(names) + 1),
                         max_size=6))  # fmt: skip
    raw = draw(st.booleans())  # cells written as they are, quotes and all
    always = draw(st.booleans())
    lines = [",".join(names)]
    for row in rows:
        lines.append(",".join(c if raw else quoted(c, always) for c in row))
    text = ending.join(lines) + (ending if draw(st.booleans()) else "")
    if draw(st.booleans()):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(['"', "\n", ",", "\ufeff", " "])) + text[at:]
    return text


@settings(max_examples=300, deadline=None)
@given(csv_files(["id", "email", "industry"]))
def test_any_contacts_csv_gives_the_old_frames_or_the_old_messages(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("c") / "c.csv"
    path.write_bytes(text.encode("utf-8"))
    same_contacts(path)


CONTACTS = [
    old.Contact("1", email="Ann@Acme.io"),
    old.Contact("2", email="bob@beta.io"),
    old.Contact("c1", email=" x@y.io "),
]


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(
        [["contact_id", "type", "occurred_at"], ["email", "type", "occurred_at"],
         ["id", "contact_id", "email", "type", "occurred_at"], ["type", "occurred_at"]]
    ),
    st.data(),
)  # fmt: skip
def test_any_activities_csv_gives_the_old_frames_or_the_old_messages(
    tmp_path_factory, header, data
):
    text = data.draw(csv_files(header))
    path = tmp_path_factory.mktemp("a") / "a.csv"
    path.write_bytes(text.encode("utf-8"))
    same_activities(path, CONTACTS)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=60), st.sampled_from(["c.csv", "a.csv"]))
def test_any_bytes_read_as_before(tmp_path_factory, data, name):
    path = tmp_path_factory.mktemp("b") / name
    path.write_bytes(b"id,email,contact_id,type,occurred_at\n" + data)
    contacts = same_contacts(path)
    same_activities(path, contacts or CONTACTS)


def test_the_examples_give_the_old_frames() -> None:
    data = Path(__file__).parents[2] / "examples" / "data"
    contacts = same_contacts(data / "contacts.csv")
    assert contacts
    same_activities(data / "activities.csv", contacts)


def test_a_row_with_a_problem_far_down_is_located_on_its_line(tmp_path: Path) -> None:
    body = "".join(f"c{i},page_view,2026-10-01T10:00:00Z\n" for i in range(5000))
    body += 'c1,"page\nview",someday\n'
    path = tmp_path / "a.csv"
    path.write_text("contact_id,type,occurred_at\n" + body, "utf-8")
    assert outcome(read_activities, path, CONTACTS) == outcome(old.read_activities, path, CONTACTS)
    assert "a.csv:5002: column 'type'" in outcome(read_activities, path, CONTACTS)[0]


# --- moments --------------------------------------------------------------------------------

MOMENT_SHAPES = [
    "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y-%m-%dT%H:%M",
    "%Y-%m-%dT%H:%M:%S%z", "%Y%m%dT%H%M%S", "%Y-%m-%dT%H",
]  # fmt: skip


@st.composite
def moment_texts(draw) -> str:
    moment = draw(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)))
    shape = draw(st.sampled_from(MOMENT_SHAPES))
    zone = draw(st.sampled_from(["", "Z", "+02:00", "-23:59", "+00:00", "+05:75", "+01"]))
    text = moment.strftime(shape)
    if "%z" not in shape and shape != "%Y-%m-%d":
        text += zone
    if draw(st.booleans()):  # a fraction of another length
        digits = draw(st.integers(1, 8))
        text = text.replace(f".{moment.microsecond:06d}", "." + "7" * digits)
    return text


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(moment_texts(), st.text(alphabet="0123456789-:T Z+.", max_size=26)),
                min_size=1, max_size=20))  # fmt: skip
def test_fast_moments_agree_with_parse_moment(texts: list[str]) -> None:
    offsets, data = string_buffers(pa.array(texts, type=pa.string()))
    micros, ok = fast_moments(offsets, data)
    for text, value, fast in zip(texts, micros.tolist(), ok.tolist(), strict=True):
        if fast:  # what is read here is what Python reads; the rest is left to it
            parsed = parse_moment(text)
            assert parsed is not None and micros_of(parsed) == value, text


def test_the_common_shapes_are_read_fast() -> None:
    texts = ["2026-03-01", "2026-03-01T09:30", "2026-03-01 09:30:00.123", "2026-03-01T09:30:00Z",
             "2026-03-01T09:30:00.123456+01:00", "2024-02-29T23:59:59-23:59"]  # fmt: skip
    micros, ok = fast_moments(*string_buffers(pa.array(texts)))
    assert ok.all()
    assert micros.tolist() == [micros_of(parse_moment(t)) for t in texts]


def test_epoch_seconds_are_the_timestamps_of_the_old_frames() -> None:
    from connectors.files.moments import float_seconds

    moments = [datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, 999_999,
               tzinfo=UTC), datetime(2026, 3, 1, 9, 30, 0, 123_457, tzinfo=UTC)]  # fmt: skip
    moments += [
        datetime(2200, 1, 1, tzinfo=UTC) + timedelta(microseconds=k * 7919) for k in range(50)
    ]
    micros = np.array([micros_of(m) for m in moments], dtype=np.int64)
    assert float_seconds(micros).tolist() == [m.timestamp() for m in moments]


# --- Parquet --------------------------------------------------------------------------------


def test_parquet_gives_the_frames_csv_gives(tmp_path: Path) -> None:
    data = Path(__file__).parents[2] / "examples" / "data"
    for name in ("contacts", "activities"):
        table = pacsv.read_csv(data / f"{name}.csv")
        # row groups of a few rows: a dictionary each, unified on reading
        pq.write_table(table, tmp_path / f"{name}.parquet", row_group_size=97)
    people_csv = read_contact_columns(data / "contacts.csv")
    people_pq = read_contact_columns(tmp_path / "contacts.parquet")
    frame_csv = ContactFrame.from_arrays(people_csv.ids, people_csv.emails, people_csv.attributes)
    frame_pq = ContactFrame.from_arrays(people_pq.ids, people_pq.emails, people_pq.attributes)
    assert list(frame_pq.ids) == list(frame_csv.ids)
    numbers = {"employees", "budget"}
    assert {k: v for k, v in cells(frame_pq).items() if k not in numbers} == {
        k: v for k, v in cells(frame_csv).items() if k not in numbers
    }
    acts_csv = read_activity_columns(data / "activities.csv", people_csv)
    acts_pq = read_activity_columns(tmp_path / "activities.parquet", people_pq)
    assert acts_pq.contact_rows.tolist() == acts_csv.contact_rows.tolist()
    assert acts_pq.micros.tolist() == acts_csv.micros.tolist()
    assert acts_pq.type_codes.tolist() == acts_csv.type_codes.tolist()


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        ({"email": ["a@b.io"]}, "c.parquet: column 'id': missing column 'id' (found: email)"),
        ({"id": ["1", "1"]}, "c.parquet:2: column 'id': duplicate id '1' (first on line 1)"),
        ({"id": ["1"], "n": [math.nan]}, "c.parquet:1: column 'n': a number out of range for the rules: nan"),
        ({"id": ["1"], "n": [[1, 2]]}, "c.parquet:1: column 'n': nested objects and lists are not supported"),
        ({"id": ["1", None]}, "c.parquet:2: column 'id': the contact id is empty"),
    ],
)  # fmt: skip
def test_malformed_parquet_contacts(tmp_path: Path, columns, expected) -> None:
    pq.write_table(pa.table(columns), tmp_path / "c.parquet")
    found = outcome(read_contact_columns, tmp_path / "c.parquet")
    assert [m.replace(str(tmp_path) + "/", "") for m in found] == [expected]


def test_a_file_that_is_not_parquet_is_said_so(tmp_path: Path) -> None:
    (tmp_path / "c.parquet").write_text("id\n1\n")
    [message] = outcome(read_contact_columns, tmp_path / "c.parquet")
    assert "c.parquet: not a Parquet file" in message


def test_parquet_times_may_be_timestamps_dates_or_text(tmp_path: Path) -> None:
    pq.write_table(pa.table({"id": ["1"]}), tmp_path / "c.parquet")
    people = read_contact_columns(tmp_path / "c.parquet")
    at = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    for column in (
        pa.array([at], pa.timestamp("ms", tz="UTC")),
        pa.array([at.replace(tzinfo=None)], pa.timestamp("us")),
        pa.array(["2026-03-01T10:30:00+01:00"]),
    ):
        table = pa.table({"contact_id": ["1"], "type": ["page_view"], "occurred_at": column})
        pq.write_table(table, tmp_path / "a.parquet")
        read = read_activity_columns(tmp_path / "a.parquet", people)
        assert read.micros.tolist() == [micros_of(at)]
    table = pa.table({"contact_id": [1], "type": ["page_view"], "occurred_at": [None]},
                     schema=pa.schema([("contact_id", pa.int64()), ("type", pa.string()),
                                       ("occurred_at", pa.timestamp("s"))]))  # fmt: skip
    pq.write_table(table, tmp_path / "a.parquet")
    [message] = outcome(read_activity_columns, tmp_path / "a.parquet", people)
    assert message.endswith("a.parquet:1: column 'occurred_at': expected an ISO-8601 date and "
                            "time such as 2026-03-01T09:30:00Z, got None")  # fmt: skip


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_parquet_timestamps_of_each_unit_are_read_to_the_edge_of_the_years(
    tmp_path: Path, unit: str
) -> None:
    """A timestamp column without nulls is read from its numbers as they are (scaled);
    the first and last moments of the years 1 to 9999 are read, one step beyond is said."""
    pq.write_table(pa.table({"id": ["1"]}), tmp_path / "c.parquet")
    people = read_contact_columns(tmp_path / "c.parquet")
    step = {"s": 10**6, "ms": 10**3, "us": 1, "ns": 1}[unit]
    per = {"s": 1, "ms": 1, "us": 1, "ns": 1000}[unit]
    first = -(-FIRST // step) * per
    last = LAST // step * per
    at = micros_of(datetime(2026, 3, 1, 9, 30, tzinfo=UTC)) // step * per
    numbers = [first, at, last]
    kind = pa.timestamp(unit, tz="UTC")

    def written(values: list[int]) -> Path:
        table = pa.table({"contact_id": ["1"] * len(values), "type": ["page_view"] * len(values),
                          "occurred_at": pa.array(values, pa.int64()).cast(kind)})  # fmt: skip
        pq.write_table(table, tmp_path / "a.parquet")
        return tmp_path / "a.parquet"

    if unit != "ns":  # nanoseconds reach the years 1677 to 2262 only
        read = read_activity_columns(written(numbers), people)
        assert read.micros.tolist() == [n // per * step for n in numbers]
        assert read.seconds.tolist() == [n // per * step / 1e6 for n in numbers]
        beyond = [first - per, at, last + per]
        found = outcome(read_activity_columns, written(beyond), people)
        said = "column 'occurred_at': a timestamp out of range: in UTC it falls outside the years"
        assert [m.split("a.parquet:")[1] for m in found] == [f"1: {said} 1 to 9999",
                                                             f"3: {said} 1 to 9999"]  # fmt: skip
    else:
        read = read_activity_columns(written([at, at + 999]), people)
        assert read.micros.tolist() == [at // 1000, at // 1000]


def test_jsonl_lone_surrogates_are_located(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps({"id": "1", "email": "\ud800@x.io"}) + "\n")
    [message] = outcome(read_contact_columns, path)
    assert message.endswith("c.jsonl:1: invalid JSON: a lone surrogate (\\ud800-\\udfff)")


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d",
                     "%Y-%m-%dT%H:%M:%S+05:30", "%Y-%m-%dT%H:%M:%S-23:59", "%Y-%m-%dT%H:%M:%S.%f"]),
    st.lists(st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31)),
             min_size=1, max_size=30),
    st.lists(st.tuples(st.integers(0, 29), st.integers(0, 25), st.sampled_from("9/T :xZ+-0")),
             max_size=4),
)  # fmt: skip
def test_moments_of_one_width_agree_with_parse_moment(shape, moments, changes) -> None:
    texts = [m.strftime(shape) for m in moments]
    for row, at, char in changes:  # a character changed here and there, the width kept
        if row < len(texts) and at < len(texts[row]):
            texts[row] = texts[row][:at] + char + texts[row][at + 1 :]
    micros, ok = fast_moments(*string_buffers(pa.array(texts, type=pa.string())))
    for text, value, fast in zip(texts, micros.tolist(), ok.tolist(), strict=True):
        parsed = parse_moment(text)
        if fast:
            assert parsed is not None and micros_of(parsed) == value, text
    assert ok[[i for i, t in enumerate(texts) if t == texts[0]]].all() == bool(ok[0])
    if not changes:  # the shapes exports write are all read here
        assert ok.all()


def test_pyarrow_is_loaded_only_to_read_or_write_a_file() -> None:
    import subprocess
    import sys

    code = "import sys, sync.cli, connectors.files; print('pyarrow' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_parquet_text_is_trimmed_and_blank_is_missing_across_row_groups(tmp_path: Path) -> None:
    ids = [" 1", "2 ", "3", "4"]
    pq.write_table(
        pa.table(
            {"id": ids, "email": [" A@b.io", "a@B.io ", "  ", None], "tier": ["x", " x", "", "y "]}
        ),
        tmp_path / "c.parquet",
        row_group_size=2,
    )
    people = read_contact_columns(tmp_path / "c.parquet")
    assert people.ids.tolist() == ["1", "2", "3", "4"]
    frame = ContactFrame.from_arrays(
        people.ids, people.addresses, people.attributes, normalized=True
    )
    assert cells(frame)["email"] == ["a@b.io", "a@b.io", None, None]
    assert cells(frame)["tier"] == ["x", "x", None, "y"]
    table = pa.table({"contact_id": ["1", " 2", "", "9"], "email": [None, None, "A@B.IO", None],
                      "type": ["page_view", " Page View", "email_open", "page_view"],
                      "occurred_at": ["2026-01-01T00:00:00Z"] * 4})  # fmt: skip
    pq.write_table(table, tmp_path / "a.parquet", row_group_size=3)
    read = read_activity_columns(tmp_path / "a.parquet", people)
    assert read.contact_rows.tolist() == [0, 1, 0] and read.unmatched == 1


def test_parquet_dictionary_columns_read_as_text(tmp_path: Path) -> None:
    ids = pa.array(["1", "2", "3"]).dictionary_encode()
    tier = pa.array(["x", " x", None]).dictionary_encode()
    pq.write_table(pa.table({"id": ids, "tier": tier}), tmp_path / "c.parquet")
    people = read_contact_columns(tmp_path / "c.parquet")
    assert people.ids.tolist() == ["1", "2", "3"]
    codes, categories = people.attributes["tier"]
    assert [None if c < 0 else categories[c] for c in codes] == ["x", "x", None]


def test_parquet_read_for_some_fields_gives_those_columns_alike(tmp_path: Path) -> None:
    data = Path(__file__).parents[2] / "examples" / "data"
    for name in ("contacts", "activities"):
        table = pacsv.read_csv(data / f"{name}.csv")
        pq.write_table(table, tmp_path / f"{name}.parquet", row_group_size=97)
    every = read_contact_columns(tmp_path / "contacts.parquet")
    text = next(k for k, v in every.attributes.items() if isinstance(v, tuple))
    some = read_contact_columns(tmp_path / "contacts.parquet", [text])
    assert list(some.attributes) == [text]
    codes, categories = some.attributes[text]
    old_codes, old_categories = every.attributes[text]
    assert [None if c < 0 else categories[c] for c in codes] == [
        None if c < 0 else old_categories[c] for c in old_codes
    ]
    acts_all = read_activity_columns(tmp_path / "activities.parquet", every)
    acts_none = read_activity_columns(tmp_path / "activities.parquet", some, [])
    assert acts_none.attributes == {}
    assert acts_none.contact_rows.tolist() == acts_all.contact_rows.tolist()
    assert acts_none.type_codes.tolist() == acts_all.type_codes.tolist()
    assert acts_none.micros.tolist() == acts_all.micros.tolist()


def test_parquet_columns_the_rules_do_not_read_are_still_checked(tmp_path: Path) -> None:
    columns = {"id": ["1"], "note": ["x"], "n": [math.nan], "tags": [[1, 2]]}
    pq.write_table(pa.table(columns), tmp_path / "c.parquet")
    found = outcome(read_contact_columns, tmp_path / "c.parquet", [])
    assert [m.replace(str(tmp_path) + "/", "") for m in found] == [
        "c.parquet:1: column 'n': a number out of range for the rules: nan",
        "c.parquet:1: column 'tags': nested objects and lists are not supported",
    ]
    pq.write_table(pa.table({"id": ["1"], "note": ["x"], "n": [1.5]}), tmp_path / "c.parquet")
    assert read_contact_columns(tmp_path / "c.parquet", []).attributes == {}


@given(
    st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "B", "c", "é", ""])), max_size=12),
    st.lists(st.sampled_from(["a", "b", "c", "d", "é", "", "x"]), unique=True, max_size=7),
)
def test_positions_in_a_distinct_set_either_way_round(values, distinct) -> None:
    """Each value's place in a set of distinct texts, -1 where absent or missing: the set
    built of the values or of the distinct texts, or the two looked up a part at a time
    (`SPLIT_ROWS` lowered to reach that way with a few)."""
    from connectors.files.activities import positions_in

    expected = [distinct.index(v) if v in distinct else -1 for v in values]
    half = len(values) // 2
    for split in (activities_module.SPLIT_ROWS, 4):
        for asked in (
            pa.array(values, pa.string()),
            pa.chunked_array([values[:half], values[half:]], pa.large_string()),
        ):
            with mock.patch.object(activities_module, "SPLIT_ROWS", split):
                found = positions_in(asked, pa.array(distinct, pa.string()))
            assert found.tolist() == expected


@given(
    st.lists(st.lists(st.one_of(st.none(), st.text(max_size=4)), max_size=6), max_size=6),
    st.data(),
)
def test_rows_at_gives_the_rows_take_gives(chunks: list[list[str | None]], data: Any) -> None:
    column = pa.chunked_array([pa.array(chunk, type=pa.string()) for chunk in chunks], pa.string())
    rows = sorted(data.draw(st.sets(st.integers(0, max(0, len(column) - 1)), max_size=10)))
    rows = [row for row in rows if row < len(column)]
    expected = column.take(pa.array(rows, type=pa.int64())).to_pylist()
    assert rows_at(column, np.array(rows, dtype=np.int64)).to_pylist() == expected
    assert rows_at(column.combine_chunks(), np.array(rows, dtype=np.int64)).to_pylist() == expected


def test_activities_are_placed_by_address_where_the_id_is_empty_blank_or_unknown(
    tmp_path: Path,
) -> None:
    """Rows with an empty id are placed by address beside the ids' lookup, those with an
    id of spaces or an unknown one after it: all as the old reader placed them."""
    lines = ["contact_id,email,type,occurred_at"]
    for i in range(40):
        ident = ["", "   ", "nobody", "c1", ""][i % 5]
        address = ["ann@acme.io", " BOB@beta.io", "", "x@y.io", "zed@nowhere.io"][i % 5]
        lines.append(f"{ident},{address},page_view,2026-10-01T10:00:{i:02d}Z")
    path = tmp_path / "a.csv"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    same_activities(path, CONTACTS)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.text(max_size=4)), min_size=1, max_size=30),
    st.lists(st.one_of(st.none(), st.text(max_size=4)), min_size=2, max_size=80),
    st.integers(1, 5),
    st.booleans(),
)
def test_a_large_column_is_looked_up_as_one_lookup_finds_it(
    known: list[str | None], cells: list[str | None], pieces: int, wide: bool
) -> None:
    """`_rows_of` (the column on two threads, by parts or by halves of its chunks) gives
    each cell's first place among the ids, as one Arrow lookup does; missing cells and
    ids, empty texts, repeated ids and `large_string` columns included."""
    kind = pa.large_string() if wide else pa.string()
    ids = pa.array(known, type=kind)
    cuts = sorted({len(cells) * k // (pieces + 1) for k in range(1, pieces + 1)} - {0})
    bounds = [0, *cuts, len(cells)]
    column = pa.chunked_array(
        [pa.array(cells[a:b], type=kind) for a, b in pairwise(bounds) if b > a], type=kind
    )
    expected = pc.index_in(column, value_set=ids).fill_null(-1).to_numpy(zero_copy_only=False)
    with mock.patch.object(activities_module, "SPLIT_ROWS", 1):
        found = activities_module._rows_of(column, ids)
    assert found.tolist() == expected.tolist()
    parts = parts_module.text_parts(column)
    by_parts = parts_module.looked_up_by_parts(column, ids, parts)
    assert by_parts.tolist() == expected.tolist()
    assert len(parts) == len(cells)
    assert int(parts.max()) < parts_module.TEXT_PARTS
    part_of: dict[str, int] = {}
    for text, part in zip(cells, parts.tolist(), strict=True):
        if not text:
            assert part == 0
        else:  # equal texts share a part, wherever they are in the chunks
            assert part_of.setdefault(text, part) == part
    for text, part in zip(known, parts_module.text_parts(ids).tolist(), strict=True):
        if text:
            assert part_of.setdefault(text, part) == part


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.none(), st.sampled_from(["a", "b", "ab", "é", "", "ba", "x"]), st.text(max_size=3)
        ),
        max_size=60,
    ),
    st.integers(1, 4),
    st.booleans(),
)
def test_a_column_coded_by_parts_is_coded_as_one_coding_codes_it(
    cells: list[str | None], pieces: int, wide: bool
) -> None:
    """`coded_by_parts` gives the codes and distinct texts of one `dictionary_encode`:
    missing cells -1, the distinct texts in the order they first occur, repeats and
    empty texts included, chunked or not."""
    kind = pa.large_string() if wide else pa.string()
    cuts = sorted({len(cells) * k // (pieces + 1) for k in range(1, pieces + 1)} - {0})
    bounds = [0, *cuts, len(cells)]
    column = pa.chunked_array(
        [pa.array(cells[a:b], type=kind) for a, b in pairwise(bounds) if b > a], type=kind
    )
    whole = pc.dictionary_encode(column.combine_chunks())
    for least in (parts_module.CODED_ROWS, 0):  # in one coding, and a part at a time
        with mock.patch.object(parts_module, "CODED_ROWS", least):
            codes, distinct = parts_module.coded_by_parts(column)
        assert codes.tolist() == whole.indices.fill_null(-1).to_pylist()
        assert distinct.to_pylist() == whole.dictionary.to_pylist()


def test_a_missing_cell_that_spans_bytes_is_looked_up_as_missing() -> None:
    """Arrow lets a missing text span bytes: `_parts` puts it in part 0, as an empty one, and
    `_rows_of` finds it nowhere, as one lookup does."""
    data = b"abac"  # "a", a missing cell over "ba", "c"
    offsets = np.array([0, 1, 3, 4], dtype=np.int32)
    valid = pa.py_buffer(np.packbits([1, 0, 1], bitorder="little").tobytes())
    chunk = pa.Array.from_buffers(
        pa.string(), 3, [valid, pa.py_buffer(offsets), pa.py_buffer(data)], null_count=1
    )
    column = pa.chunked_array([chunk] * 4)
    ids = pa.array(["a", None, "c", "ba"])
    expected = pc.index_in(column, value_set=ids).fill_null(-1).to_numpy(zero_copy_only=False)
    assert parts_module.text_parts(column).tolist()[1] == 0
    with mock.patch.object(activities_module, "SPLIT_ROWS", 1):
        assert activities_module._rows_of(column, ids).tolist() == expected.tolist()
