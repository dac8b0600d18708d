"""The sandbox's world as the scoring engine's input, for tests that score a generated world."""

from __future__ import annotations

import numpy as np

from sandbox.world.population import Objects, objects
from sandbox.world.tables import World
from scoring.frames import (
    ActivityFrame,
    CategoricalColumn,
    Column,
    ContactFrame,
    NumericColumn,
    factorize,
)


def world_frames(world: World) -> tuple[ContactFrame, ActivityFrame]:
    """The world as the scoring engine's input: contact row i is person i."""
    people, firms = world.people, world.companies
    company = people.company

    def via_company(values: Objects) -> CategoricalColumn:
        column = factorize(values.tolist())
        return CategoricalColumn(column.codes[company], column.categories)

    attributes: dict[str, Column] = {
        "industry": via_company(firms.industry),
        "employees": NumericColumn(firms.employees[company].astype(np.float64)),
        "company": via_company(firms.name),
    }
    for name in ("country", "job_function", "seniority", "job_title"):
        attributes[name] = factorize(getattr(people, name).tolist())
    ids = objects([f"person-{i}" for i in range(len(people))])
    emails = CategoricalColumn(np.arange(len(people), dtype=np.int32), people.email)
    events = world.events
    activities = ActivityFrame(
        events.person.astype(np.int32, copy=False),
        events.type.astype(np.int8, copy=False),
        events.at.astype(np.float64, copy=False),
        {
            "campaign": CategoricalColumn(
                events.campaign.astype(np.int32, copy=False), world.campaigns.name
            ),
            "url": CategoricalColumn(events.url.astype(np.int32, copy=False), world.urls),
            "amount": NumericColumn(events.amount.astype(np.float64, copy=False)),
        },
    )
    return ContactFrame.from_columns(ids, emails, attributes), activities
