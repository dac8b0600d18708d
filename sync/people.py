"""Everyone in the store, read back as scoring input: persons, their records, activity columns."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from scoring import (
    SYSTEM_FIELD,
    ActivityFrame,
    CategoricalColumn,
    Column,
    Contact,
    ContactFrame,
    Exclusion,
    SourceRecords,
    column_from_values,
    is_missing,
)


@dataclass(frozen=True)
class ActivityColumns:
    """Stored activities as columns, in a stable order (time, then system and id)."""

    person: npt.NDArray[np.int64]
    type_codes: npt.NDArray[np.int8]
    occurred_at: npt.NDArray[np.float64]
    systems: CategoricalColumn
    attributes: dict[str, Column]
    """Attribute name -> its column, as the engine takes it (missing where absent)."""
    ids: list[str] | None = None
    """Each activity's `system:id`, where the reading asked for them."""

    def __len__(self) -> int:
        return len(self.person)


@dataclass(frozen=True)
class People:
    """Everyone the store knows, as scoring input: contact ids are person ids."""

    contacts: list[Contact]
    columns: ActivityColumns
    records: dict[str, list[tuple[str, str]]]
    """Person id -> the (system, record id) pairs that person has."""
    record_attributes: dict[tuple[str, str], Mapping[str, Any]] = field(default_factory=dict)
    """(system, record id) -> that record's own attributes, as last pulled."""

    def record_emails(self) -> dict[str, dict[str, str]]:
        """Per system, the email of each record (to show a plan by)."""
        emails = {contact.id: contact.email for contact in self.contacts}
        out: dict[str, dict[str, str]] = {}
        for person, records in self.records.items():
            email = emails.get(person)
            for system, record in records:
                if email:
                    out.setdefault(system, {})[record] = email
        return out

    def frames(
        self,
        contact_fields: Sequence[str] | None = None,
        activity_fields: Sequence[str] | None = None,
        *,
        exclude: Exclusion | None = None,
    ) -> tuple[ContactFrame, ActivityFrame]:
        """Columnar frames for the engine, built without a record object per activity.

        Given the fields a rule set reads, only those become columns: the others cannot
        change a score, and a CRM's hundred properties would cost more than the scoring.
        Given the rules' `exclude`, the contact frame carries the own values of the fields
        it reads of every record of a person who has several (`ContactFrame.records`), so
        that an objection recorded in any system excludes the person.
        """
        people = self.contacts
        wanted = None if contact_fields is None else set(contact_fields)
        # the fields present, in order of first appearance (as `ContactFrame.from_records`;
        # `from_columns` makes the address's own fields)
        names = dict.fromkeys(
            key for c in people for key in c.attributes if wanted is None or key in wanted
        )
        contacts = ContactFrame.from_columns(
            [c.id for c in people],
            [c.email for c in people],
            {name: column_from_values([c.attributes.get(name) for c in people]) for name in names},
        )
        if exclude is not None and exclude.contact_fields():
            contacts = replace(contacts, records=self.source_records(exclude.contact_fields()))
        cols = self.columns
        rows = rows_of(np.array([int(c.id) for c in self.contacts], dtype=np.int64), cols.person)
        keep = rows >= 0
        index = np.flatnonzero(keep)
        whole = len(index) == len(rows)
        held = cols.attributes
        if activity_fields is not None and SYSTEM_FIELD in activity_fields:
            held = {**held, SYSTEM_FIELD: cols.systems}  # whose a purchase is (RFM's one sale)
        attributes = {
            name: column if whole else take(column, index)
            for name, column in held.items()
            if activity_fields is None or name in activity_fields
        }
        if whole:
            frame = ActivityFrame(rows, cols.type_codes, cols.occurred_at, attributes)
        else:
            frame = ActivityFrame(
                rows[index], cols.type_codes[index], cols.occurred_at[index], attributes
            )
        return contacts, frame

    def some(self, person_ids: Collection[int]) -> People:
        """The persons of `person_ids` among these, with their records and activities, as
        a read of only them gives them: an activity attribute none of theirs holds is left
        out (the activities' ids kept where these have them)."""
        wanted = {str(p) for p in person_ids}
        contacts = [c for c in self.contacts if c.id in wanted]
        records = {p: held for p, held in self.records.items() if p in wanted}
        own = self.record_attributes
        kept = {r: own[r] for held in records.values() for r in held if r in own}
        cols = self.columns
        ids = np.array(sorted(int(p) for p in wanted), dtype=np.int64)
        index = np.flatnonzero(rows_of(ids, cols.person) >= 0)
        attributes = {
            name: taken
            for name, column in cols.attributes.items()
            if not all_missing(taken := take(column, index))
        }
        systems = take(cols.systems, index)
        assert isinstance(systems, CategoricalColumn)
        columns = ActivityColumns(
            cols.person[index],
            cols.type_codes[index],
            cols.occurred_at[index],
            systems,
            attributes,
            None if cols.ids is None else [cols.ids[i] for i in index.tolist()],
        )
        return People(contacts, columns, records, kept)

    def source_records(self, fields: Sequence[str]) -> SourceRecords:
        """The `fields` of each record of the persons who have several, as columns: the
        record's own value, the person's merged one where the record holds none (a
        person's one record is what their contact's columns hold already)."""
        owners: list[int] = []
        cells: dict[str, list[Any]] = {name: [] for name in fields}
        several = [(pid, rs) for pid, rs in self.records.items() if len(rs) > 1]
        row_of = {c.id: row for row, c in enumerate(self.contacts)} if several else {}
        own_of = self.record_attributes
        for pid, records in several:
            row = row_of.get(pid)
            if row is None:
                continue
            merged = self.contacts[row].attributes
            for record in records:
                own = own_of.get(record, {})
                owners.append(row)
                for name, values in cells.items():
                    value = own.get(name)
                    if value is None or is_missing(value):
                        value = merged.get(name)
                    values.append(value)
        columns = {name: column_from_values(values) for name, values in cells.items()}
        return SourceRecords(np.array(owners, dtype=np.int32), columns)


def rows_of(ids: npt.NDArray[np.int64], wanted: npt.NDArray[np.int64]) -> npt.NDArray[np.int32]:
    """The row of each of `wanted` in `ids` (-1 where absent), by a sorted search."""
    if not len(ids):
        return np.full(len(wanted), -1, dtype=np.int32)
    order = np.argsort(ids, kind="stable")
    at = np.searchsorted(ids, wanted, sorter=order).clip(max=len(ids) - 1)
    found = order[at]
    return np.where(ids[found] == wanted, found, -1).astype(np.int32)


def take(column: Column, index: npt.NDArray[np.intp]) -> Column:
    """The rows `index` of a column."""
    if isinstance(column, CategoricalColumn):
        return CategoricalColumn(column.codes[index], column.categories, column.folded)
    return type(column)(column.values[index])


def all_missing(column: Column) -> bool:
    """Whether no row of the column holds a value."""
    if isinstance(column, CategoricalColumn):
        return not bool((column.codes >= 0).any())
    return bool(np.isnan(column.values).all())


def moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
