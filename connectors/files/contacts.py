"""Contacts from a file as plain columns, each cell checked where the old reader did.

Text is trimmed once per distinct value (Arrow's dictionary), and problems are found
with masks over whole columns; only the rows with a problem, the first twenty of
them, are looked at one by one, to say where they are.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from connectors.files.parts import coded_by_parts
from connectors.files.problems import Problems, missing_columns
from connectors.files.table import (
    PlainCells,
    RawTable,
    TextCodes,
    any_row,
    as_text,
    blank_everywhere,
    chunkless,
    coded_text,
    encoded,
    first_rows,
    indices_of,
    is_text,
    lowered,
    object_cells,
    plain_text,
    present_codes,
    rows_at,
    trimmed,
)
from scoring.records import Contact

_Objects = npt.NDArray[np.object_]
RESERVED_CONTACT = ("id", "email")


@dataclass(frozen=True, eq=False)
class ContactsRead:
    """Contacts read from a file: ids, addresses and attributes, the columns a frame is
    built from (`ContactFrame.from_arrays`, with `addresses` already normalized)."""

    ids: _Objects
    email: Any
    """Per contact, its address as written, trimmed (null where blank): an Arrow text
    array, or a dictionary (Parquet's, untrimmed: trimmed once per distinct value)."""
    attributes: dict[str, PlainCells] = field(default_factory=dict)
    """The columns besides `id` and `email` that hold a value in some row."""
    id_column: Any = None
    """The ids as an Arrow array, when read from one (for matching activities)."""
    unchecked: Callable[[], None] | None = None
    """The check for repeated ids, where the reader was told to leave it for later
    (`check`)."""

    def check(self) -> None:
        """Raise `InputFileError` for ids repeated in the file, where that check was left
        for later (`contacts_from_table`'s `later`); else nothing."""
        if self.unchecked is not None:
            self.unchecked()
            object.__setattr__(self, "unchecked", None)  # passed: its columns let go of

    def __len__(self) -> int:
        return len(self.ids)

    @cached_property
    def emails(self) -> TextCodes:
        """The addresses as written (trimmed): codes and distinct values."""
        return encoded(self.email)

    @cached_property
    def _normalized(self) -> tuple[npt.NDArray[np.int32], Any]:
        import pyarrow as pa
        import pyarrow.compute as pc

        if not pa.types.is_dictionary(self.email.type):  # one coding, of the rows' own text
            return coded_by_parts(lowered(chunkless(self.email)))
        codes, text = coded_text(self.email)
        merged = pc.dictionary_encode(lowered(text))
        return np.append(indices_of(merged), np.int32(-1))[codes], merged.dictionary

    @property
    def addresses(self) -> TextCodes:
        """The addresses normalized (`normalize_email`): codes and distinct values, which
        a frame takes as they are."""
        codes, distinct = self._normalized
        return codes, object_cells(distinct)

    def address_codes(self) -> tuple[npt.NDArray[np.int32], Any]:
        """`addresses` with the distinct values as the Arrow array they are (a frame's
        `TextCategories`), not made into Python strings."""
        return self._normalized

    def address_text(self) -> Any:
        """The distinct normalized addresses (`addresses`) as the Arrow array they are."""
        return self._normalized[1]

    def id_array(self) -> Any:
        import pyarrow as pa

        if self.id_column is not None:
            return chunkless(self.id_column)
        return pa.array(self.ids.tolist(), type=pa.string())

    def address_rows(self) -> tuple[Any, npt.NDArray[np.int64]]:
        """The normalized addresses (an Arrow array of distinct values) and, for each, the
        first contact holding it: the one an activity given by email belongs to."""
        codes, distinct = self._normalized
        return distinct, first_rows(codes, len(distinct))


def contacts_from_table(
    table: RawTable, fields: Collection[str] | None = None, *, later: bool = False
) -> ContactsRead:
    """The contacts of a CSV or Parquet file; `InputFileError` names each problem. With
    `later`, ids repeated in a file with no other problem are looked for only when
    `ContactsRead.check` is called (`leadscore score` does it while the engine runs)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    problems = Problems(table.path)
    missing_columns(problems, table.kind, table.names, [["id"]])
    if problems.found:
        if not any_row(table):
            problems.add(None, None, "the file holds a header but no rows: expected contacts")
        problems.raise_if_any()
    email = table.columns.get("email")
    pool = ThreadPoolExecutor(max_workers=2)  # Arrow and numpy let go of the GIL: 2 cores
    addresses_later = (
        pool.submit(_addresses, email) if email is not None and is_text(email) else None
    )
    attributes_later = pool.submit(encoded_attributes, table, RESERVED_CONTACT, fields)
    pool.shutdown(wait=False)
    ident = trimmed(plain_text(table.columns["id"]))
    empty = pc.is_null(ident).to_numpy(zero_copy_only=False)
    keep = np.ones(table.rows, dtype=bool)
    if table.blank_rows and empty.any():
        candidates = np.flatnonzero(empty)
        blank = candidates[blank_everywhere(table, candidates, ("id",))]
        keep[blank] = False
        empty[blank] = False
    if not keep.any():
        problems.add(None, None, "the file holds a header but no rows: expected contacts")
        problems.raise_if_any()
    found: dict[int, tuple[str, str]] = {int(r): ("id", "the contact id is empty") for r in
                                         np.flatnonzero(empty)[:20]}  # fmt: skip
    named = ~empty & keep
    odd: dict[int, tuple[str, str]] = {}
    if email is not None and not is_text(email):
        values = chunkless(email)
        for row in np.flatnonzero(values.is_valid().to_numpy(False) & named)[:20].tolist():
            odd[row] = ("email", f"expected text, found {values[row].as_py()!r}")

    lines = table.lines  # (not the table: its columns are let go of once read)

    def repeats() -> None:
        """The problems found said, ids repeated among them (none: nothing)."""
        try:
            said = found | _repeated(lines, ident, named)
            said |= {row: problem for row, problem in odd.items() if row not in said}
            if said:
                rows = sorted(said)[:20]
                for row, line in zip(rows, lines(np.array(rows)).tolist(), strict=True):
                    problems.add(int(line), *said[row])
        except OSError as exc:  # (gone since it was read, when the check was left for later)
            problems.add(None, None, f"cannot read the file again: {exc.strerror or exc}")
        problems.raise_if_any()

    if found or odd or not later:
        repeats()
    at = np.flatnonzero(keep)
    ids_text = ident if len(at) == table.rows else rows_at(ident, at)
    ids = np.asarray(ids_text.to_numpy(zero_copy_only=False), dtype=object)
    if addresses_later is not None:
        addresses = addresses_later.result()
        addresses = addresses if len(at) == table.rows else rows_at(addresses, at)
    else:
        addresses = pa.nulls(len(at), pa.string())
    attributes = attributes_at(attributes_later.result(), at)
    unchecked = repeats if later and not (found or odd) else None
    return ContactsRead(ids, addresses, attributes, id_column=ids_text, unchecked=unchecked)


def _repeated(
    lines: Callable[[Any], Any], ident: Any, named: npt.NDArray[np.bool_]
) -> dict[int, tuple[str, str]]:
    """The first twenty rows whose id an earlier row holds, with their problem."""
    import pyarrow.compute as pc

    found: dict[int, tuple[str, str]] = {}
    if int(pc.count_distinct(ident).as_py()) < int(named.sum()):
        codes = indices_of(pc.dictionary_encode(ident))
        first = first_rows(codes.astype(np.int32), int(codes.max()) + 1)
        again = np.flatnonzero(named & (first[np.maximum(codes, 0)] < np.arange(len(codes))))
        at = lines(first[codes[again[:20]]])
        for row, line in zip(again[:20].tolist(), at.tolist(), strict=True):
            text = ident[row].as_py()
            found[row] = ("id", f"duplicate id {text!r} (first on line {line})")
    return found


def _addresses(email: Any) -> Any:
    """A contacts file's addresses trimmed (`ContactsRead.email`): text row by row, which
    is coded once, lowered, where it is normalized (nearly every address is distinct: a
    coding of the text as written, and another of its distinct values lowered, took
    twice as long); a dictionary as it is."""
    import pyarrow as pa

    return email if pa.types.is_dictionary(email.type) else trimmed(email)


def encoded_attributes(
    table: RawTable, reserved: Sequence[str], fields: Collection[str] | None
) -> dict[str, PlainCells]:
    """The columns besides `reserved` (only `fields`, when given), every row: text as
    codes, numbers as float64 with NaN where missing (integers beyond float64's exact
    range, keys rather than measures, as text: exact, as a CSV file's are)."""
    import pyarrow as pa

    columns: dict[str, PlainCells] = {}
    for name in table.names:
        if name in reserved or (fields is not None and name not in fields):
            continue
        column = table.columns[name]
        if pa.types.is_floating(column.type) or exact_numbers(column):
            columns[name] = chunkless(column).to_numpy(zero_copy_only=False).astype(np.float64)
        else:
            columns[name] = encoded(as_text(column))
    return columns


def exact_numbers(column: Any) -> bool:
    """Whether a column of integers is exact as float64 (every value within 2**53)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not pa.types.is_integer(column.type):
        return False
    bounds = pc.min_max(column)
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    return low is None or (low >= -(2**53) and high <= 2**53)


def attributes_at(
    columns: dict[str, PlainCells], at: npt.NDArray[Any] | None
) -> dict[str, PlainCells]:
    """The columns at rows `at` (None: every row), those that hold a value in one of them."""
    kept: dict[str, PlainCells] = {}
    for name, column in columns.items():
        if isinstance(column, tuple):
            codes, categories = column
            found = present_codes(codes if at is None or len(at) == len(codes) else codes[at],
                                  categories)  # fmt: skip
            if found is not None:
                kept[name] = found
        elif not np.isnan(
            values := column if at is None or len(at) == len(column) else column[at]
        ).all():
            kept[name] = values
    return kept


def contacts_from_records(contacts: Sequence[Contact]) -> ContactsRead:
    """Contacts read as records (JSON Lines) as the same columns."""
    ids = np.empty(len(contacts), dtype=object)
    ids[:] = [c.id for c in contacts]
    names: dict[str, None] = {}
    for contact in contacts:
        names.update(dict.fromkeys(contact.attributes))
    attributes: dict[str, PlainCells] = {}
    for name in names:
        cells = np.empty(len(contacts), dtype=object)
        cells[:] = [c.attributes.get(name) for c in contacts]
        attributes[name] = cells
    import pyarrow as pa

    emails = trimmed(pa.array([c.email for c in contacts], type=pa.string()))
    return ContactsRead(ids, emails, attributes)
