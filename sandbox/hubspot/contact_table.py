"""Contacts as columns: each property one numpy array, one row per contact (id = row + 1)."""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np

from sandbox.hubspot.errors import Invalid
from sandbox.hubspot.properties import NUMERIC_TYPES
from sandbox.hubspot.values import Json, PropertyValue, parse_property_value, property_text
from sandbox.world.tables import Floats, Objects


class ContactTable:
    """Contact properties as columns, one row per contact (id = row + 1).

    Numbers, times (epoch ms) and booleans are float64 with NaN for empty; text
    and enumerations are object arrays with None for empty.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.defs: dict[str, Json] = {}
        self.columns: dict[str, Floats | Objects] = {}
        self._lowered: dict[str, Objects] = {}
        self._by_email: dict[str, int] | None = None

    def define(self, definition: Json, column: Floats | Objects | None = None) -> None:
        name = definition["name"]
        self.defs[name] = definition
        if column is None:
            column = (
                np.full(self.size, np.nan)
                if self.numeric(name)
                else np.full(self.size, None, dtype=object)
            )
        self.columns[name] = column

    def numeric(self, name: str) -> bool:
        return str(self.defs[name]["type"]) in NUMERIC_TYPES

    def floats(self, name: str) -> Floats:
        return cast(Floats, self.columns[name])

    def value(self, name: str, row: int) -> str | None:
        raw = self.columns[name][row]
        if not self.numeric(name):
            return None if raw is None else str(raw)
        number = float(raw)
        return None if math.isnan(number) else property_text(self.defs[name]["type"], number)

    def set(self, name: str, row: int, value: PropertyValue) -> None:
        self.columns[name][row] = (
            (np.nan if value is None else value) if self.numeric(name) else value
        )
        self._lowered.pop(name, None)
        if name == "email":
            self._by_email = None

    def coerce(self, name: str, raw: Any, *, allow_read_only: bool = False) -> PropertyValue:
        """A written value as stored; `Invalid` for unknown, read-only or bad values."""
        definition = self.defs.get(name)
        if definition is None:
            raise Invalid("PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
        if definition["modificationMetadata"]["readOnlyValue"] and not allow_read_only:
            raise Invalid("READ_ONLY_VALUE", f'"{name}" is a read only property')
        if raw is None or raw == "":
            # An empty string clears a property of any type ("Property values can be cleared
            # by passing an empty string": CRM objects API, update, as mirrored at
            # https://www.withone.ai/knowledge/hubspot/conn_mod_def%3A%3AGJ3kSct_7p0%3A%3AcqhO6PcfQoq3KFjRtp5avw).
            return None
        return parse_property_value(definition, raw)

    def lowered(self, name: str) -> Objects:
        """A text column in lower case (cached until the column is written)."""
        if name not in self._lowered:
            column = self.columns[name]
            lowered = np.empty(self.size, dtype=object)
            lowered[:] = [None if v is None else str(v).lower() for v in column]
            self._lowered[name] = lowered
        return self._lowered[name]

    def row_of_email(self, email: str) -> int | None:
        if self._by_email is None:
            emails = self.lowered("email")
            self._by_email = {str(e).strip(): r for r, e in enumerate(emails) if e is not None}
        return self._by_email.get(email.strip().lower())
