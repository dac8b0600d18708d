"""Deals and engagements as a searchable table: the properties a search may filter and sort on.

The search filters (`search_filters`) work on columns; this builds the columns
of one object type from its objects, once per change of the objects.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from sandbox.hubspot.contact_table import ContactTable
from sandbox.hubspot.crm_objects import CrmObject

Getter = Callable[[CrmObject], float | str | None]


def _start(item: CrmObject) -> float:
    return item.start if math.isfinite(item.start) else item.created


COMMON: Mapping[str, tuple[str, Getter]] = {
    "hs_object_id": ("number", lambda o: float(o.id)),
    "hs_lastmodifieddate": ("datetime", lambda o: o.updated),
    "hs_createdate": ("datetime", lambda o: o.created),
}
SEARCHABLE: Mapping[str, Mapping[str, tuple[str, Getter]]] = {
    "deals": {
        **COMMON,
        "createdate": ("datetime", lambda o: o.created),
        "closedate": ("datetime", lambda o: o.closed),
        "amount": ("number", lambda o: o.amount),
        "dealstage": ("enumeration", lambda o: o.stage),
        "pipeline": ("enumeration", lambda o: o.pipeline),
    },
    "meetings": {
        **COMMON,
        "hs_timestamp": ("datetime", _start),
        "hs_meeting_start_time": ("datetime", _start),
        "hs_meeting_outcome": ("enumeration", lambda o: o.outcome),
    },
    "calls": {**COMMON, "hs_timestamp": ("datetime", lambda o: o.created)},
    "emails": {**COMMON, "hs_timestamp": ("datetime", lambda o: o.created)},
}
"""Per object type: property -> (HubSpot type, how to read it off an object)."""


def object_table(kind: str, objects: Sequence[CrmObject]) -> ContactTable:
    """The searchable properties of `objects` as columns, one row per object (id = row + 1)."""
    table = ContactTable(len(objects))
    for name, (kind_of, read) in SEARCHABLE[kind].items():
        definition = {
            "name": name,
            "type": kind_of,
            "modificationMetadata": {"readOnlyValue": True},
        }
        values = [read(item) for item in objects]
        if kind_of in ("number", "datetime"):
            column = np.array(values, dtype=float)
        else:
            column = np.empty(len(values), dtype=object)
            column[:] = [v or None for v in values]
        table.define(definition, column)
    return table
