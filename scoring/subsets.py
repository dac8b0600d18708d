"""Some of the contacts of a frame, with their activities: the parts a fit is trained
and checked on."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from scoring.frames import (
    ActivityFrame,
    CategoricalColumn,
    Column,
    ContactFrame,
    NumericColumn,
    SourceRecords,
)


def take_column(column: Column, rows: Any) -> Column:
    """The column's cells at `rows` (indexes or a mask)."""
    if isinstance(column, CategoricalColumn):
        return CategoricalColumn(column.codes[rows], column.categories, column.folded)
    return NumericColumn(column.values[rows])


def take_contacts(frame: ContactFrame, rows: npt.NDArray[np.intp]) -> ContactFrame:
    """The contacts at `rows`, in that order."""
    columns = {name: take_column(column, rows) for name, column in frame.columns.items()}
    records = frame.records
    if records is not None:  # the records of the contacts taken, pointing at their new rows
        taken = np.flatnonzero(rows) if np.asarray(rows).dtype == bool else np.asarray(rows)
        position = np.full(len(frame), -1, dtype=np.int32)
        position[taken] = np.arange(len(taken), dtype=np.int32)
        moved = position[records.owners]
        keep = moved >= 0
        records = SourceRecords(
            moved[keep], {name: take_column(c, keep) for name, c in records.columns.items()}
        )
    return ContactFrame(frame.ids[rows], columns, records)


def take_activities(
    activities: ActivityFrame, rows: npt.NDArray[np.intp], contacts: int
) -> ActivityFrame:
    """The activities of the contacts at `rows` (of a frame of `contacts`), pointing at
    their rows in `take_contacts(frame, rows)`."""
    position = np.full(contacts, -1, dtype=np.int32)
    position[rows] = np.arange(len(rows), dtype=np.int32)
    moved = position[activities.contact_rows]
    keep = moved >= 0
    return ActivityFrame(
        moved[keep],
        activities.type_codes[keep],
        activities.occurred_at[keep],
        {name: take_column(column, keep) for name, column in activities.columns.items()},
    )
