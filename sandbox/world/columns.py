"""The world as plain columns: one row per person and one per event, ready to score.

`world_columns(world)` flattens the world into numpy arrays, without importing
the scoring engine's frames (the sandbox depends on `scoring.records` only): a
text field is a pair `(codes, categories)`, codes -1 where missing; a number is
a float64 array. Person row i is person i, and each event's `person` is its
row. `ContactFrame.from_arrays` and `ActivityFrame.from_arrays` (in
`scoring.frames`) turn these into the engine's input in one call each.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sandbox.world.tables import Objects, World

Codes = tuple[npt.NDArray[np.int32], Objects]
"""A text column: codes into categories, -1 where the value is missing."""
Plain = Codes | npt.NDArray[np.float64]

PERSON_FIELDS = ("country", "job_function", "seniority", "job_title")
"""Text fields of `Persons` that are contact attributes as they are."""


@dataclass(frozen=True)
class WorldColumns:
    ids: Objects
    """`person-<row>`, one per person."""
    emails: Codes
    """The canonical address of each person."""
    people: dict[str, Plain]
    """Profile fields: industry, employees and company (of the employer), and PERSON_FIELDS."""
    person: npt.NDArray[np.int32]
    """Per event, the row of its person."""
    type: npt.NDArray[np.int8]
    """Per event, the code of its `ActivityType` (`scoring.records.TYPE_CODES`)."""
    at: npt.NDArray[np.float64]
    """Per event, epoch seconds (UTC)."""
    events: dict[str, Plain]
    """Event fields: campaign (name), url and amount."""


def codes_of(values: Iterable[object]) -> Codes:
    """Codes and categories of text values, in order of first appearance (None is missing)."""
    index: dict[object, int] = {}
    codes = [-1 if v is None else index.setdefault(v, len(index)) for v in values]
    categories = np.empty(len(index), dtype=object)
    categories[:] = [str(v) for v in index]
    return np.asarray(codes, dtype=np.int32), categories


def world_columns(world: World) -> WorldColumns:
    """The world's people and events as plain columns (events share the world's arrays)."""
    people, firms, events = world.people, world.companies, world.events
    company = people.company

    def via_company(values: Objects) -> Codes:
        codes, categories = codes_of(values.tolist())
        return codes[company], categories

    profile: dict[str, Plain] = {
        "industry": via_company(firms.industry),
        "employees": firms.employees[company].astype(np.float64),
        "company": via_company(firms.name),
    }
    for name in PERSON_FIELDS:
        profile[name] = codes_of(getattr(people, name).tolist())
    ids = np.empty(len(people), dtype=object)
    ids[:] = [f"person-{i}" for i in range(len(people))]
    return WorldColumns(
        ids=ids,
        emails=(np.arange(len(people), dtype=np.int32), people.email),
        people=profile,
        person=events.person.astype(np.int32, copy=False),
        type=events.type.astype(np.int8, copy=False),
        at=events.at.astype(np.float64, copy=False),
        events={
            "campaign": (events.campaign.astype(np.int32, copy=False), world.campaigns.name),
            "url": (events.url.astype(np.int32, copy=False), world.urls),
            "amount": events.amount.astype(np.float64, copy=False),
        },
    )
