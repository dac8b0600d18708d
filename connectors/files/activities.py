"""Activities from a file as plain columns: contact rows, type codes, epoch times.

Types are parsed once per distinct name, moments by Arrow or `fast_moments` straight from
the column's bytes (and the rare other shapes once per distinct text), contacts found by
Arrow's hash lookups of ids and of normalized addresses. Problems are found with masks
and only the first twenty rows with one are described, in the order the old reader
gave them: type, then time, then contact, row by row.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from connectors.files.contacts import ContactsRead, attributes_at, encoded_attributes
from connectors.files.moments import (
    FIRST,
    LAST,
    float_seconds,
    micros_of,
    moment_problem,
    parse_activity_type,
    parse_moment,
    text_moments,
)
from connectors.files.parts import TEXT_PARTS, looked_up, looked_up_by_parts, text_parts
from connectors.files.problems import MAX_PROBLEMS, Problems, missing_columns
from connectors.files.table import (
    PlainCells,
    RawTable,
    as_text,
    blank_everywhere,
    chunkless,
    chunks_of,
    coded_text,
    encoded,
    is_text,
    lowered,
    plain_text,
    rows_at,
    trimmed,
)
from scoring.records import ACTIVITY_TYPES, TYPE_CODES, Activity

_Ints = npt.NDArray[np.int64]
_Rows = npt.NDArray[np.int32]
"""Contact rows (-1: none)."""
RESERVED_ACTIVITY = ("id", "contact_id", "email", "type", "occurred_at")
REQUIRED_ACTIVITY = [["type"], ["occurred_at"], ["contact_id", "email"]]
TIME_COLUMNS = ("occurred_at",)
"""The columns of an activities file that hold moments (a CSV reader may type them)."""


@dataclass(frozen=True, eq=False)
class ActivitiesRead:
    """Activities read from a file, tied to the rows of a `ContactsRead`; those of no
    known contact are counted in `unmatched` and left out."""

    contact_rows: npt.NDArray[np.int32]
    type_codes: npt.NDArray[np.int8]
    micros: _Ints
    """Microseconds since the Unix epoch, UTC."""
    attributes: dict[str, PlainCells] = field(default_factory=dict)
    unmatched: int = 0
    ids: npt.NDArray[np.object_] | None = None
    """The activities' own ids (None where blank), when asked for."""

    def __len__(self) -> int:
        return len(self.contact_rows)

    @property
    def seconds(self) -> npt.NDArray[np.float64]:
        """Seconds since the epoch, as `datetime.timestamp()` gives them."""
        return float_seconds(self.micros)


def no_activities() -> ActivitiesRead:
    return ActivitiesRead(np.zeros(0, np.int32), np.zeros(0, np.int8), np.zeros(0, np.int64), {}, 0)


def activities_from_table(
    table: RawTable,
    contacts: ContactsRead,
    fields: Collection[str] | None = None,
    *,
    with_ids: bool = False,
) -> ActivitiesRead:
    """The activities of a CSV or Parquet file; `InputFileError` names each problem."""

    problems = Problems(table.path)
    missing_columns(problems, table.kind, table.names, REQUIRED_ACTIVITY)
    problems.raise_if_any()
    n = table.rows
    pool = ThreadPoolExecutor(max_workers=2)  # Arrow and numpy let go of the GIL: 2 cores
    email = table.columns.get("email")
    given = as_text(table.columns["contact_id"]) if "contact_id" in table.names else None
    kinds_later = pool.submit(_types, table.columns["type"])
    moments_later = pool.submit(_moments, table.columns["occurred_at"], np.ones(n, dtype=bool))
    # the rows whose id is empty are placed by address while the ids are looked up
    early = _empty_cells(given) if given is not None and email is not None else None
    early_later = None if early is None else pool.submit(_by_mail, email, contacts, early)
    attributes_later = pool.submit(encoded_attributes, table, RESERVED_ACTIVITY, fields)
    pool.shutdown(wait=False)
    by_id, no_id = (
        _by_id(given, contacts)
        if given is not None
        else (np.full(n, -1, dtype=np.int32), np.ones(n, dtype=bool))
    )
    # the addresses of the rows no id placed, only: most rows are placed by their id
    asked = np.flatnonzero(by_id < 0)
    has_mail, by_mail = np.zeros(len(asked), dtype=bool), np.full(len(asked), -1, np.int64)
    rest = np.ones(len(asked), dtype=bool)
    if early_later is not None and early is not None:
        place = np.searchsorted(asked, early)
        if len(place) == 0 or (place[-1] < len(asked) and np.array_equal(asked[place], early)):
            has_mail[place], by_mail[place] = early_later.result()  # (each empty id asked)
            rest[place] = False
    if rest.any():
        has_mail[rest], by_mail[rest] = _by_mail(email, contacts, asked[rest])
    lost = np.zeros(n, dtype=bool)
    lost[asked] = no_id[asked] & ~has_mail
    keep = np.ones(n, dtype=bool)
    if table.blank_rows and lost.any():
        candidates = np.flatnonzero(lost)
        blank = candidates[blank_everywhere(table, candidates, ("contact_id", "email"))]
        keep[blank], lost[blank] = False, False
    wanted = {"type", "occurred_at", *(["id"] if with_ids else [])}
    for name in list(table.columns):  # what is not read on is let go of now
        if name not in wanted and (name in RESERVED_ACTIVITY or (fields is not None and
                                   name not in fields)):  # fmt: skip
            del table.columns[name]
    kinds, kind_problem = kinds_later.result()
    micros, time_problem = moments_later.result()
    attributes = attributes_later.result()
    bad_kind = (kinds < 0) & keep
    bad_time = (time_problem.index >= 0) & keep
    bad = np.flatnonzero(bad_kind | bad_time | lost)
    if len(bad):
        column = "contact_id" if "contact_id" in table.names else "email"
        shown = bad[:MAX_PROBLEMS]
        for row, line in zip(shown.tolist(), table.lines(shown).tolist(), strict=True):
            if bad_kind[row]:
                problems.add(line, "type", kind_problem(row))
            if bad_time[row]:
                problems.add(line, "occurred_at", time_problem.describe(row))
            if lost[row]:
                problems.add(line, column, "no contact: contact_id and email are both empty")
        problems.raise_if_any()
    rows = by_id  # filled in, not copied
    placed_by_mail = keep[asked]
    rows[asked[placed_by_mail]] = by_mail[placed_by_mail]
    matched = keep & (rows >= 0)
    placed = int(matched.sum())
    unmatched = int(keep.sum()) - placed
    # every row kept (the common case): the columns as they are, not gathered row by row
    at = None if placed == n else np.flatnonzero(matched)
    ids = None
    if with_ids:
        ids = np.full(placed, None, dtype=object)
        if "id" in table.columns:
            text = plain_text(table.columns["id"])
            ids[:] = trimmed(text if at is None else rows_at(text, at)).to_pylist()
    return ActivitiesRead(
        (rows if at is None else rows[at]).astype(np.int32, copy=False),
        (kinds if at is None else kinds[at]).astype(np.int8),
        micros if at is None else micros[at],
        attributes_at(attributes, at),
        unmatched,
        ids,
    )


def _types(column: Any) -> tuple[npt.NDArray[np.int16], Any]:
    """Each row's type code (-1 where unknown) and what to say of an unknown one."""
    valid = ", ".join(t.value for t in ACTIVITY_TYPES)
    if is_text(column):
        codes, names = encoded(column)
        table = np.array(
            [_code(parse_activity_type(str(name))) for name in names.tolist()] + [-1],
            dtype=np.int16,
        )
        kinds = table[codes]

        def said(row: int) -> str:
            code = int(codes[row])
            raw = None if code < 0 else str(names[code])
            return f"unknown activity type {raw!r} (expected one of: {valid})"

        return kinds, said
    values = chunkless(column)

    def other(row: int) -> str:
        return f"unknown activity type {values[row].as_py()!r} (expected one of: {valid})"

    return np.full(len(column), -1, dtype=np.int16), other


def _code(kind: Any) -> int:
    return -1 if kind is None else TYPE_CODES[kind]


class _TimeProblems:
    """Per row, -1 or the index of the text whose problem the row has."""

    def __init__(self, rows: int) -> None:
        self.index = np.full(rows, -1, dtype=np.int64)
        self.texts: list[Any] = []

    def describe(self, row: int) -> str:
        value = self.texts[int(self.index[row])]
        return value if isinstance(value, _Said) else moment_problem(value)


class _Said(str):
    """A problem already said (a timestamp of a Parquet file out of range)."""


OUT_OF_RANGE = "a timestamp out of range: in UTC it falls outside the years 1 to 9999"


def _moments(column: Any, keep: npt.NDArray[np.bool_]) -> tuple[_Ints, _TimeProblems]:
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(column)
    problems = _TimeProblems(n)
    if pa.types.is_timestamp(column.type) and column.null_count == 0:
        scale = {"s": 10**6, "ms": 10**3, "us": 1}.get(column.type.unit)
        if scale is not None:  # the stored numbers as they are, scaled: no copy but one
            return _scaled_moments(column, scale, problems), problems
    if pa.types.is_timestamp(column.type) or pa.types.is_date(column.type):
        stamps = column.cast(pa.timestamp("us", tz="UTC"), safe=False).cast(pa.int64())
        micros = stamps.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
        null = pc.is_null(stamps).to_numpy(zero_copy_only=False)
        far = (micros < FIRST) | (micros > LAST)
        problems.texts = [None, _Said(OUT_OF_RANGE)]
        problems.index[null] = 0
        problems.index[far & ~null] = 1
        return micros, problems
    if not is_text(column):
        problems.texts = column.to_pylist()
        problems.index[:] = np.arange(n)
        return np.zeros(n, np.int64), problems
    micros, ok = text_moments(column)
    ok &= column.is_valid().to_numpy(zero_copy_only=False)
    rest = np.flatnonzero(~ok & keep)
    if len(rest):
        coded = pc.dictionary_encode(chunkless(rows_at(column, rest)))
        texts = [None if v is None else v.strip() or None for v in coded.dictionary.to_pylist()]
        parsed = [parse_moment(t) for t in texts]
        found = np.array([0 if p is None else micros_of(p) for p in parsed] + [0], np.int64)
        failed = np.array([p is None for p in parsed] + [True])
        which = coded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        micros[rest] = found[which]
        problems.texts = [*texts, None]
        problems.index[rest] = np.where(failed[which], np.where(which < 0, len(texts), which), -1)
    return micros, problems


def _scaled_moments(column: Any, scale: int, problems: _TimeProblems) -> _Ints:
    """Microseconds of a timestamp column without nulls whose unit is `scale`
    microseconds (timestamps out of the years 1 to 9999 noted in `problems`)."""
    import pyarrow as pa

    micros = np.empty(len(column), dtype=np.int64)
    at = 0
    for chunk in chunks_of(column):
        micros[at : at + len(chunk)] = chunk.cast(pa.int64()).to_numpy(zero_copy_only=False)
        at += len(chunk)
    far = (micros < -(-FIRST // scale)) | (micros > LAST // scale)
    if scale != 1:
        micros *= scale
    if far.any():
        micros[far] = 0
        problems.texts = [None, _Said(OUT_OF_RANGE)]
        problems.index[far] = 1
    return micros


def _by_id(column: Any, contacts: ContactsRead) -> tuple[_Rows, npt.NDArray[np.bool_]]:
    """Each activity's contact row by its `contact_id` (-1 where none), and whether that
    cell is blank: one hash lookup a row, then the cells not found trimmed and looked up
    again, once per distinct value."""
    import pyarrow as pa
    import pyarrow.compute as pc

    ids = contacts.id_array()
    if pa.types.is_dictionary(column.type):  # Parquet's: each distinct value looked up once
        codes, text = coded_text(column)
        found = pc.index_in(text, value_set=ids).fill_null(-1).to_numpy(zero_copy_only=False)
        return np.append(found, -1).astype(np.int32)[codes], codes < 0
    rows = _rows_of(column, ids)
    blank = np.zeros(len(rows), dtype=bool)
    miss = np.flatnonzero(rows < 0)
    if len(miss):
        codes, text = coded_text(chunkless(rows_at(column, miss)))
        again = np.zeros(0, dtype=np.int32)
        if len(text):  # (the misses may all be blank: no set of the ids built for nothing)
            again = pc.index_in(text, value_set=ids).fill_null(-1).to_numpy(zero_copy_only=False)
        rows[miss] = np.append(again, -1).astype(np.int32)[codes]
        blank[miss] = codes < 0
    return rows, blank


def _rows_of(column: Any, ids: Any) -> _Rows:
    """Each cell's position in `ids` (-1 where absent). A large column is looked up a part
    at a time (`parts.looked_up_by_parts`); where one part would hold most cells, the two
    halves of its chunks instead, each looked up in all the ids on a thread of its own."""
    import pyarrow as pa

    if len(column) < SPLIT_ROWS:
        return looked_up(column, ids)
    part = text_parts(column)
    if int(np.bincount(part, minlength=TEXT_PARTS).max()) <= len(column) * 3 // TEXT_PARTS:
        return looked_up_by_parts(column, ids, part)
    chunks = chunks_of(column)
    if len(chunks) < 2:
        return looked_up(column, ids)
    sizes = np.cumsum([len(chunk) for chunk in chunks])
    half = max(1, min(len(chunks) - 1, int(np.searchsorted(sizes, sizes[-1] // 2)) + 1))
    halves = [pa.chunked_array(chunks[:half]), pa.chunked_array(chunks[half:])]
    with ThreadPoolExecutor(max_workers=2) as pool:
        return np.concatenate(list(pool.map(lambda half: looked_up(half, ids), halves)))


SPLIT_ROWS = 1 << 20
"""Cells from which `_rows_of` looks up a column a part at a time, on two threads."""


def _empty_cells(column: Any) -> _Ints | None:
    """The rows of a text column whose cell is missing or empty (not those of spaces: their
    id is trimmed before it is found empty); None for a dictionary column."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(column.type):
        return None

    empty = pc.equal(pc.binary_length(column), 0).fill_null(True)
    return np.flatnonzero(empty.to_numpy(zero_copy_only=False))


def _by_mail(
    email: Any, contacts: ContactsRead, rows: _Ints
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64]]:
    """For each of `rows`, whether its `email` cell holds an address, and the contact row
    of that address (normalized; -1 where none): each distinct address of those rows
    looked up once."""
    import pyarrow as pa

    found_at = np.full(len(rows), -1, dtype=np.int64)
    if email is None or not len(rows):
        return np.zeros(len(rows), dtype=bool), found_at
    column = as_text(email)
    if pa.types.is_dictionary(column.type) or len(rows) == len(column):
        codes, text = coded_text(column)  # a dictionary's codes are there already
        codes = codes if len(rows) == len(column) else codes[rows]
    else:
        codes, text = coded_text(rows_at(column, rows))
    present = codes >= 0
    if present.any() and len(contacts):
        addresses, first = contacts.address_rows()
        needed = np.flatnonzero(np.bincount(codes[present], minlength=len(text)))
        wanted = lowered(text.take(pa.array(needed)))
        where = positions_in(wanted, addresses)
        found = np.full(len(text), -1, dtype=np.int64)
        found[needed] = np.where(where >= 0, np.append(first, -1)[where], -1)
        found[found >= len(contacts)] = -1
        found_at[present] = found[codes[present]]
    return present, found_at


def positions_in(values: Any, distinct: Any) -> _Ints:
    """Each of `values`' position in `distinct` (text without nulls or repeats), -1 where
    absent or null: `pc.index_in`, whose cost is mostly the hash set of `distinct` it
    builds. Where `values` are the fewer, the set is built of them and `distinct` looked
    up in it; where `distinct` is large, a part of each at a time
    (`parts.looked_up_by_parts`)."""
    import pyarrow.compute as pc

    if len(distinct) >= SPLIT_ROWS // 4 and 8 * len(values) >= len(distinct):
        return looked_up_by_parts(values, distinct, text_parts(values)).astype(np.int64)
    if 2 * len(values) >= len(distinct):
        found = pc.index_in(values, value_set=distinct).fill_null(-1)
        return np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.int64)
    coded = pc.dictionary_encode(chunkless(values))  # (lowered, two addresses may be one)
    asked = pc.index_in(distinct, value_set=coded.dictionary).fill_null(-1)
    at = asked.to_numpy(zero_copy_only=False).astype(np.int64)
    hit = np.flatnonzero(at >= 0)
    where = np.full(len(coded.dictionary) + 1, -1, dtype=np.int64)
    where[at[hit]] = hit  # `distinct` repeats nothing: each value is met once at most
    codes = np.asarray(coded.indices.fill_null(-1).to_numpy(zero_copy_only=False), np.int64)
    found_at: _Ints = where[codes]
    return found_at


def activities_from_records(
    activities: Sequence[Activity], contacts: ContactsRead, unmatched: int
) -> ActivitiesRead:
    """Activities read as records (JSON Lines) as the same columns."""
    row_of = {str(cid): row for row, cid in enumerate(contacts.ids.tolist())}
    names: dict[str, None] = {}
    for activity in activities:
        names.update(dict.fromkeys(activity.attributes))
    attributes: dict[str, PlainCells] = {}
    for name in names:
        cells = np.empty(len(activities), dtype=object)
        cells[:] = [a.attributes.get(name) for a in activities]
        attributes[name] = cells
    ids = np.empty(len(activities), dtype=object)
    ids[:] = [a.id for a in activities]
    return ActivitiesRead(
        np.array([row_of[a.contact_id] for a in activities], dtype=np.int32),
        np.array([TYPE_CODES[a.type] for a in activities], dtype=np.int8),
        np.array([micros_of(a.occurred_at) for a in activities], dtype=np.int64),
        attributes,
        unmatched,
        ids,
    )
