"""One sObject's records: rows made on demand from the world, rows added, and writes.

A row can be hidden (added by a write not yet committed, see `Org.settle`) or
deleted (in the Recycle Bin, with `IsDeleted` true). Fields Salesforce computes
from others are derived when a row is read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from sandbox.salesforce.ids import make_id
from sandbox.salesforce.schema import SObjectType

Row = dict[str, Any]
QUOTED, WON = "Proposal/Price Quote", "Closed Won"


class Table:
    """The records of one sObject type: rows made on demand, rows added, and writes."""

    def __init__(
        self,
        sobject: SObjectType,
        count: int,
        make: Callable[[int], Row],
        stamps: npt.NDArray[np.float64] | None = None,
        known: Mapping[str, Callable[[int], Any]] | None = None,
    ) -> None:
        self.sobject = sobject
        self._count = count
        self._make = make
        self.added: list[Row] = []
        self.changes: dict[int, Row] = {}
        self._stamps = stamps
        """SystemModstamp (epoch seconds) of the rows made from the world, when known."""
        self._known = known or {}
        """Fields of the rows made from the world that can be read without making the row
        (a write checks a Lead's IsConverted)."""
        self.hidden: set[int] = set()
        """Added rows whose creating write is not committed yet: no query sees them."""
        self.deleted: dict[int, datetime] = {}
        """Rows in the Recycle Bin, and when they were deleted."""

    def __len__(self) -> int:
        return self._count + len(self.added)

    def id(self, row: int) -> str:
        return make_id(self.sobject.prefix, row)

    def record(self, row: int) -> Row:
        record = self._make(row) if row < self._count else dict(self.added[row - self._count])
        record.update(self.changes.get(row, ()))
        record["Id"] = self.id(row)
        for definition in self.sobject.fields.values():
            record.setdefault(definition.name, False if definition.type == "boolean" else None)
        _derive(self.sobject.name, record)
        return record

    def value(self, row: int, name: str) -> Any:
        """One stored field of a row (not a derived one), without reading the whole record."""
        changed = self.changes.get(row, {})
        if name in changed:
            return changed[name]
        if row < self._count:
            read = self._known.get(name)
            return read(row) if read is not None else self._make(row).get(name)
        return self.added[row - self._count].get(name)

    def rows_stamped_after(self, moment: datetime) -> list[int]:
        """The rows whose SystemModstamp may be at or after `moment`'s second (a superset, in
        order). The stamps of the rows made from the world are read once, then kept: those
        rows only change through `changes`, whose rows are always included.
        """
        if self._stamps is None:
            made = (self._make(row)["SystemModstamp"].timestamp() for row in range(self._count))
            self._stamps = np.fromiter(made, dtype=np.float64, count=self._count)
        floor = moment.timestamp() - moment.microsecond / 1e6 - 0.001
        rows = set(np.flatnonzero(self._stamps >= floor).tolist())
        rows |= set(self.changes) | set(range(self._count, len(self)))
        return sorted(rows)

    def write(self, row: int, values: Row) -> None:
        self.changes.setdefault(row, {}).update(values)


def _derive(name: str, record: Row) -> None:
    """Fields Salesforce computes from others."""
    if name in ("Lead", "Contact"):
        record["Name"] = f"{record.get('FirstName') or ''} {record.get('LastName') or ''}".strip()
    elif name == "Opportunity":
        record["IsWon"] = record["StageName"] == WON
        record["IsClosed"] = record["StageName"] in (WON, "Closed Lost")
    elif name == "CampaignMember":
        record["HasResponded"] = record["Status"] == "Responded"
