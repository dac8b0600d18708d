"""Reading contacts and activities: CSV and Parquet as columns, JSON Lines row by row.

`read_contact_columns` and `read_activity_columns` (or `activity_reader`, which reads the
activities file while the contacts are read) give the columns `leadscore score` builds
its frames from; `read_contacts` and `read_activities` give records (the
`Contact` and `Activity` of every connector), made from the same columns.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from connectors.errors import InputFileError
from connectors.files.activities import (
    REQUIRED_ACTIVITY,
    RESERVED_ACTIVITY,
    TIME_COLUMNS,
    ActivitiesRead,
    activities_from_records,
    activities_from_table,
    no_activities,
)
from connectors.files.contacts import ContactsRead, contacts_from_records, contacts_from_table
from connectors.files.csv_columns import ReadByRows, csv_table, rows_table
from connectors.files.moments import moment_at, moment_problem, parse_activity_type, parse_moment
from connectors.files.parquet import parquet_table
from connectors.files.problems import Problems, file_format
from connectors.files.rows import cell, file_rows
from connectors.files.sql import SqlSource, sql_table
from connectors.files.table import RawTable, use_system_memory
from scoring.records import ACTIVITY_TYPES, Activity, Contact, normalize_email


def read_contact_columns(
    path: str | Path | SqlSource, fields: Collection[str] | None = None, *, later: bool = False
) -> ContactsRead:
    """Contacts from a CSV, JSONL or Parquet file or a SQL source, as columns; `fields`
    (when given) are the only attribute columns kept. Raises `InputFileError` if the file
    is malformed; with `later`, for ids repeated in a file with no other problem, only
    when `ContactsRead.check` is called."""
    if isinstance(path, SqlSource):
        wanted = None if fields is None else {"id", "email", *fields}
        return contacts_from_table(sql_table(path, wanted), fields, later=later)
    name = str(path)
    kind = file_format(name)
    if kind == "jsonl":
        return contacts_from_records(_jsonl_contacts(name))
    wanted = None if fields is None else {"id", "email", *fields}
    table = _table(name, kind, [["id"]], "contacts", wanted, set(fields or ()))
    assert table is not None
    read = _or_by_rows(
        table, [["id"]], "contacts", lambda cells: contacts_from_table(cells, fields, later=later)
    )
    assert read is not None  # (the row reader says so of a contacts file with no rows)
    return read


def read_activity_columns(
    path: str | Path | SqlSource,
    contacts: ContactsRead,
    fields: Collection[str] | None = None,
    *,
    with_ids: bool = False,
) -> ActivitiesRead:
    """Activities from a CSV, JSONL or Parquet file or a SQL source, tied to `contacts` by
    `contact_id` or `email`, as columns. Raises `InputFileError` if the file is malformed."""
    wanted = _wanted(fields, with_ids)
    if isinstance(path, SqlSource):
        return activities_from_table(sql_table(path, wanted), contacts, fields, with_ids=with_ids)
    name = str(path)
    kind = file_format(name)
    if kind == "jsonl":
        activities, unmatched = _jsonl_activities(name, contacts)
        return activities_from_records(activities, contacts, unmatched)
    table = _table(
        name, kind, REQUIRED_ACTIVITY, None, wanted, {"type", *(fields or ())}, TIME_COLUMNS
    )
    return _tied(table, contacts, fields, with_ids)


def activity_reader(
    path: str | Path | SqlSource,
    fields: Collection[str] | None = None,
    *,
    with_ids: bool = False,
) -> Callable[[ContactsRead], ActivitiesRead]:
    """`read_activity_columns` in two steps: a CSV or Parquet file starts being read from
    disk now, in a thread (pyarrow's readers let go of the GIL), while the caller reads
    its contacts; the function returned ties the activities to them. The file's problems
    are raised by that function, so that the contacts' are said first, as when the two
    are read one after the other. pyarrow's readers cannot be stopped midway: where the
    contacts fail, their problems are said at once, but the process ends only once the
    activities file is read (a second or two at 10M activities)."""
    try:
        kind = None if isinstance(path, SqlSource) else file_format(str(path))
    except InputFileError:
        kind = None  # said when the function is called
    if kind not in ("csv", "parquet"):
        return lambda contacts: read_activity_columns(path, contacts, fields, with_ids=with_ids)
    pool = ThreadPoolExecutor(max_workers=1)
    later = pool.submit(
        _table, str(path), kind, REQUIRED_ACTIVITY, None, _wanted(fields, with_ids),
        {"type", *(fields or ())}, TIME_COLUMNS,
    )  # fmt: skip
    pool.shutdown(wait=False)

    def tied(contacts: ContactsRead) -> ActivitiesRead:
        return _tied(later.result(), contacts, fields, with_ids)

    return tied


_Read = TypeVar("_Read")


def _tied(
    table: RawTable | None,
    contacts: ContactsRead,
    fields: Collection[str] | None,
    with_ids: bool,
) -> ActivitiesRead:
    """The activities of a table read from a file, tied to `contacts`; the row reader's
    where its unread columns cannot be read as columns (`ReadByRows`)."""
    if table is None:
        return no_activities()
    read = _or_by_rows(
        table,
        REQUIRED_ACTIVITY,
        None,
        lambda cells: activities_from_table(cells, contacts, fields, with_ids=with_ids),
    )
    return no_activities() if read is None else read


def _or_by_rows(
    table: RawTable,
    required: list[list[str]],
    records: str | None,
    made: Callable[[RawTable], _Read],
) -> _Read | None:
    """`made` of a table, or of the row reader's cells of its file where the table's
    columns not read at first cannot be read as columns (`ReadByRows`; None: the file
    holds nothing now)."""
    try:
        return made(table)
    except ReadByRows:
        by_rows = _by_rows(table.path, required, records)
        return None if by_rows is None else made(by_rows)


def _wanted(fields: Collection[str] | None, with_ids: bool) -> set[str] | None:
    """The columns of an activities file that are read (None: all of them)."""
    if fields is None:
        return None
    return {*RESERVED_ACTIVITY[1:], *(["id"] if with_ids else []), *fields}


def _table(
    path: str,
    kind: str,
    required: list[list[str]],
    records: str | None,
    wanted: Collection[str] | None = None,
    coded: Collection[str] = (),
    times: Collection[str] = (),
) -> RawTable | None:
    """The file's columns (of Parquet, those `wanted` and the ones that must be checked,
    `coded` ones as dictionaries, of CSV `times` as timestamps where they all are); None
    for a CSV file with nothing in it (no activities)."""
    use_system_memory()
    if kind == "parquet":
        return parquet_table(path, wanted, coded)
    table = csv_table(path, coded, times, wanted)
    if table is not None:
        return table
    return _by_rows(path, required, records)


def _by_rows(path: str, required: list[list[str]], records: str | None) -> RawTable | None:
    """A CSV file's cells as the row reader reads them (None: nothing in it)."""
    columns, rows = file_rows(path, required, records)
    if not columns and not rows:
        return None
    return rows_table(path, columns, rows)


def read_contacts(path: str | Path) -> list[Contact]:
    """Contacts from a CSV, JSONL or Parquet file; raises `InputFileError` if malformed."""
    if file_format(path) == "jsonl":
        return _jsonl_contacts(str(path))
    read = read_contact_columns(path)
    emails = _values(read.emails, len(read))
    columns = {name: _values(column, len(read)) for name, column in read.attributes.items()}
    return [
        Contact(
            str(ident),
            email=emails[row],
            attributes={k: v[row] for k, v in columns.items() if v[row] is not None},
        )
        for row, ident in enumerate(read.ids.tolist())
    ]


@dataclass(frozen=True)
class ActivityRead:
    """Activities read from a file, and how many referred to no known contact."""

    activities: list[Activity]
    unmatched: int


def read_activities(path: str | Path, contacts: Sequence[Contact]) -> ActivityRead:
    """Activities from a CSV, JSONL or Parquet file, tied to `contacts` by `contact_id` or
    `email`, as records."""
    known = contacts_from_records(contacts)
    read = read_activity_columns(path, known, with_ids=True)
    columns = {name: _values(column, len(read)) for name, column in read.attributes.items()}
    ids = read.ids.tolist() if read.ids is not None else [None] * len(read)
    activities = [
        Activity(
            str(known.ids[row]),
            ACTIVITY_TYPES[kind],
            moment_at(micros),
            id=None if ids[i] is None else str(ids[i]),
            attributes={k: v[i] for k, v in columns.items() if v[i] is not None},
        )
        for i, (row, kind, micros) in enumerate(
            zip(
                read.contact_rows.tolist(),
                read.type_codes.tolist(),
                read.micros.tolist(),
                strict=True,
            )
        )
    ]
    return ActivityRead(activities, read.unmatched)


def _values(column: Any, rows: int) -> list[Any]:
    """A column's cells as Python values, None where missing."""
    if isinstance(column, tuple):
        codes, categories = column
        table = [*categories.tolist(), None]
        return [table[c] for c in codes.tolist()]
    if column.dtype.kind == "f":
        return [None if v != v else v for v in column.tolist()]
    return list(column.tolist())


def _jsonl_contacts(path: str) -> list[Contact]:
    _, rows = file_rows(path, [["id"]], records="contacts")
    problems = Problems(path)
    contacts: list[Contact] = []
    seen: dict[str, int] = {}
    for row in rows:
        ident = cell(row.values.get("id"))
        if ident is None:
            problems.add(row.number, "id", "the contact id is empty")
            continue
        ident = str(ident)
        if ident in seen:
            problems.add(row.number, "id", f"duplicate id {ident!r} (first on line {seen[ident]})")
            continue
        seen[ident] = row.number
        email = cell(row.values.get("email"))
        if email is not None and not isinstance(email, str):
            problems.add(row.number, "email", f"expected text, found {email!r}")
            continue
        contacts.append(
            Contact(id=ident, email=email, attributes=_attributes(row.values, ("id", "email")))
        )
    problems.raise_if_any()
    return contacts


def _attributes(values: Mapping[str, Any], reserved: Sequence[str]) -> dict[str, Any]:
    return {
        k: v
        for k, v in ((k, cell(v)) for k, v in values.items() if k not in reserved)
        if v is not None
    }


def _jsonl_activities(path: str, contacts: ContactsRead) -> tuple[list[Activity], int]:
    columns, rows = file_rows(path, REQUIRED_ACTIVITY)
    by_id = {str(ident): str(ident) for ident in contacts.ids.tolist()}
    by_email: dict[str, str] = {}
    codes, categories = contacts.emails
    for at in np.flatnonzero(codes >= 0).tolist():
        key = normalize_email(str(categories[codes[at]]))
        if key is not None:
            by_email.setdefault(key, str(contacts.ids[at]))
    problems = Problems(path)
    activities: list[Activity] = []
    unmatched = 0
    valid = ", ".join(t.value for t in ACTIVITY_TYPES)
    for row in rows:
        raw_type = cell(row.values.get("type"))
        kind = parse_activity_type(raw_type) if isinstance(raw_type, str) else None
        if kind is None:
            message = f"unknown activity type {raw_type!r} (expected one of: {valid})"
            problems.add(row.number, "type", message)
        raw_time = cell(row.values.get("occurred_at"))
        moment = parse_moment(raw_time)
        if moment is None:
            problems.add(row.number, "occurred_at", moment_problem(raw_time))
        contact_ref = cell(row.values.get("contact_id"))
        email_ref = cell(row.values.get("email"))
        if contact_ref is None and email_ref is None:
            column = "contact_id" if "contact_id" in columns else "email"
            problems.add(row.number, column, "no contact: contact_id and email are both empty")
            continue
        if kind is None or moment is None:
            continue
        contact_id = by_id.get(str(contact_ref)) if contact_ref is not None else None
        if contact_id is None and email_ref is not None:
            contact_id = by_email.get(normalize_email(str(email_ref)) or "")
        if contact_id is None:
            unmatched += 1
            continue
        ident = cell(row.values.get("id"))
        activities.append(
            Activity(
                contact_id=contact_id,
                type=kind,
                occurred_at=moment,
                id=None if ident is None else str(ident),
                attributes=_attributes(row.values, RESERVED_ACTIVITY),
            )
        )
    problems.raise_if_any()
    return activities, unmatched
