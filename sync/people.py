"""Everyone in the store, read back as scoring input: persons, their records, activity columns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from scoring import (
    ActivityFrame,
    Contact,
    ContactFrame,
    column_from_values,
)


@dataclass(frozen=True)
class ActivityColumns:
    """Stored activities as columns, in a stable order (time, then system and id)."""

    person: npt.NDArray[np.int64]
    type_codes: npt.NDArray[np.int8]
    occurred_at: npt.NDArray[np.float64]
    ids: list[str]
    systems: list[str]
    attributes: dict[str, list[Any]]
    """Attribute name -> one value (or None) per activity."""

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

    def frames(
        self,
        contact_fields: Sequence[str] | None = None,
        activity_fields: Sequence[str] | None = None,
    ) -> tuple[ContactFrame, ActivityFrame]:
        """Columnar frames for the engine, built without a record object per activity.

        Given the fields a rule set reads, only those become columns: the others cannot
        change a score, and a CRM's hundred properties would cost more than the scoring.
        """
        records = self.contacts
        if contact_fields is not None:
            wanted = set(contact_fields)
            records = [
                Contact(
                    c.id,
                    email=c.email,
                    attributes={k: v for k, v in c.attributes.items() if k in wanted},
                )
                for c in records
            ]
        contacts = ContactFrame.from_records(records)
        row_of = {int(c.id): row for row, c in enumerate(self.contacts)}
        cols = self.columns
        rows = np.fromiter((row_of.get(int(p), -1) for p in cols.person), np.int32, len(cols))
        keep = rows >= 0
        index = np.flatnonzero(keep)
        attributes = {
            name: column_from_values([values[i] for i in index])
            for name, values in cols.attributes.items()
            if activity_fields is None or name in activity_fields
        }
        frame = ActivityFrame(rows[keep], cols.type_codes[keep], cols.occurred_at[keep], attributes)
        return contacts, frame


def moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
