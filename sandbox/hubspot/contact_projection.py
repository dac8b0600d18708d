"""The world's people as HubSpot contacts: names, company, counters, lifecycle stage."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from sandbox.hubspot.companies import primary_companies
from sandbox.hubspot.contact_events import ContactEvents
from sandbox.hubspot.contact_table import ContactTable
from sandbox.hubspot.properties import (
    EMPLOYEE_EDGES,
    EMPLOYEE_RANGES,
    LIFECYCLE_STAGES,
    STAGE_RANK,
    built_in_definitions,
    property_definition,
)
from sandbox.hubspot.values import DAY_MS, Positions
from sandbox.hubspot.web_logs import BOOKINGS, FORM_KINDS, conversion_name
from sandbox.values import last_per_row
from sandbox.world.tables import HUBSPOT, Floats, Objects, World
from scoring.records import ACTIVITY_TYPES, ActivityType

CONVERSION_EVENTS = (*FORM_KINDS, *BOOKINGS)
"""The activity HubSpot counts as conversion events: form submissions and meetings booked."""
COUNTED: tuple[tuple[str, tuple[ActivityType, ...]], ...] = (
    ("hs_email_delivered", (ActivityType.EMAIL_SENT,)),
    ("hs_email_open", (ActivityType.EMAIL_OPEN,)),
    ("hs_email_click", (ActivityType.EMAIL_CLICK,)),
    ("hs_email_bounce", (ActivityType.EMAIL_BOUNCE,)),
    ("hs_analytics_num_page_views", (ActivityType.PAGE_VIEW,)),
    ("num_conversion_events", CONVERSION_EVENTS),
)
"""Counter properties and the activity each counts."""
LATEST: tuple[tuple[str, tuple[ActivityType, ...]], ...] = (
    ("hs_email_last_send_date", (ActivityType.EMAIL_SENT,)),
    ("hs_email_last_open_date", (ActivityType.EMAIL_OPEN,)),
    ("hs_email_last_click_date", (ActivityType.EMAIL_CLICK,)),
    ("hs_analytics_last_visit_timestamp", (ActivityType.PAGE_VIEW,)),
    ("recent_conversion_date", CONVERSION_EVENTS),
)
"""Date properties and the activity whose latest time each holds."""
OPT_OUTS = (ActivityType.EMAIL_UNSUBSCRIBE, ActivityType.EMAIL_SPAM_REPORT)
STAGE_EVIDENCE: tuple[tuple[str, tuple[ActivityType, ...]], ...] = (
    ("lead", FORM_KINDS),
    (
        "salesqualifiedlead",
        (ActivityType.MEETING, ActivityType.SALES_TOUCH, ActivityType.DEMO_REQUEST),
    ),
    ("opportunity", (ActivityType.QUOTE_SENT,)),
    ("customer", (ActivityType.PURCHASE,)),
)
"""The lifecycle stages, lowest first, and the activity that earns each."""


def company_values(values: Objects, company: npt.NDArray[np.int32]) -> Objects:
    """One company column for each contact's company index; None where it has none."""
    out = np.full(len(company), None, dtype=object)
    valid = (company >= 0) & (company < len(values))
    out[valid] = values[company[valid]]
    return out


def employee_ranges(employees: npt.NDArray[np.int32], index: npt.NDArray[np.int32]) -> Objects:
    out = np.full(len(index), None, dtype=object)
    valid = (index >= 0) & (index < len(employees))
    buckets = np.searchsorted(EMPLOYEE_EDGES, employees[index[valid]], side="left")
    out[valid] = np.array(EMPLOYEE_RANGES, dtype=object)[buckets]
    return out


def counter_columns(events: ContactEvents, size: int) -> dict[str, Floats]:
    """The counter, latest-date, opt-out and sessions properties of every contact."""
    columns: dict[str, Floats] = {}
    for name, kinds in COUNTED:
        rows = events.row[events.of(kinds)]
        columns[name] = np.bincount(rows, minlength=size).astype(np.float64)
    for name, kinds in LATEST:
        column = np.full(size, np.nan)
        mask = events.of(kinds)
        np.fmax.at(column, events.row[mask], events.at[mask])
        columns[name] = column
    opted_out = np.bincount(events.row[events.of(OPT_OUTS)], minlength=size) > 0
    columns["hs_email_optout"] = opted_out.astype(np.float64)
    columns["hs_analytics_num_visits"] = session_counts(events, size)
    return columns


def session_counts(events: ContactEvents, size: int) -> Floats:
    """Sessions (hs_analytics_num_visits), counted as distinct days with page views."""
    mask = events.of((ActivityType.PAGE_VIEW,))
    days = np.floor(events.at[mask] / DAY_MS).astype(np.int64)
    pairs = np.unique(events.row[mask].astype(np.int64) * 10_000_000 + days)
    return np.bincount(pairs // 10_000_000, minlength=size).astype(np.float64)


def latest_per_row(rows: Positions, at: Floats) -> Positions:
    """Positions of the latest entry of each distinct row (the later one of a tie)."""
    order = np.argsort(at, kind="stable")
    _, last = last_per_row(rows[order])
    return order[last]


def recent_conversions(
    world: World, events: ContactEvents, size: int, urls: Sequence[str]
) -> Objects:
    """recent_conversion_event_name: the name of each contact's latest conversion."""
    names = np.full(size, None, dtype=object)
    mask = events.of(CONVERSION_EVENTS)
    rows, indices = events.row[mask], events.index[mask]
    for position in latest_per_row(rows, events.at[mask]):
        event = int(indices[position])
        url = int(world.events.url[event])
        kind = ACTIVITY_TYPES[int(world.events.type[event])]
        names[rows[position]] = conversion_name(kind, urls[url] if 0 <= url < len(urls) else None)
    return names


def lifecycle_stage_column(world: World, rows: Positions, events: ContactEvents) -> Objects:
    """Each contact's stage: the highest its activity earns, customer once converted."""
    rank = np.zeros(len(rows), dtype=np.intp)
    for stage, kinds in STAGE_EVIDENCE:
        np.maximum.at(rank, events.row[events.of(kinds)], STAGE_RANK[stage])
    people = world.people
    if len(people.converted) == len(people):
        won = people.converted[rows] & (people.converted_at[rows] <= world.now)
        rank[won] = np.maximum(rank[won], STAGE_RANK["customer"])
    return np.array(LIFECYCLE_STAGES, dtype=object)[rank]


QUALIFYING = (ActivityType.DEMO_REQUEST, ActivityType.MEETING, ActivityType.SALES_TOUCH)
"""Activity after which a portal's demo form or a rep has filled in the BANT fields."""
BANT_PROPERTIES = (
    ("budget", "Yearly budget", "number", "number"),
    ("pain_point", "Main pain point", "string", "text"),
    ("timeframe", "Buying timeframe", "string", "text"),
)
"""Custom properties a portal's demo-request form adds (HubSpot has no BANT fields)."""
PAINS = ("none", "lead routing", "scoring by hand", "no attribution", "stale data")
TIMEFRAMES = ("0-3 months", "3-6 months", "6-12 months", "no plans")


def bant_columns(events: ContactEvents, size: int, seed: int) -> dict[str, Floats | Objects]:
    """Budget, pain point and timeframe for the contacts who asked for a demo or talked
    to sales (seeded; blank for everyone else, as in a real portal)."""
    asked = np.bincount(events.row[events.of(QUALIFYING)], minlength=size) > 0
    rng = np.random.default_rng(seed)
    budget = np.where(asked, rng.choice([2_000, 8_000, 15_000, 40_000, 90_000], size), np.nan)
    pain = np.array(PAINS, dtype=object)[rng.integers(0, len(PAINS), size)]
    when = np.array(TIMEFRAMES, dtype=object)[rng.integers(0, len(TIMEFRAMES), size)]
    pain[~asked] = None
    when[~asked] = None
    return {"budget": budget.astype(np.float64), "pain_point": pain, "timeframe": when}


def project_contacts(
    world: World, rows: Positions, events: ContactEvents, urls: Sequence[str]
) -> ContactTable:
    """The contact table of the world's people at `rows`, with the built-in properties."""
    people, companies = world.people, world.companies
    company = people.company[rows]
    held = people.email_as_held.get(HUBSPOT, people.email)
    created = people.created_at[rows] * 1000.0
    modified = created.copy()
    np.fmax.at(modified, events.row, events.at)
    columns: dict[str, Floats | Objects] = {
        "email": held[rows],
        "firstname": people.first_name[rows],
        "lastname": people.last_name[rows],
        "jobtitle": people.job_title[rows],
        "country": people.country[rows],
        "company": company_values(companies.name, company),
        "industry": company_values(companies.industry, company),
        "numemployees": employee_ranges(companies.employees, company),
        "createdate": created,
        "lastmodifieddate": modified,
        "hs_object_id": np.arange(1, len(rows) + 1, dtype=np.float64),
        "associatedcompanyid": primary_companies(world, rows),
        "lifecyclestage": lifecycle_stage_column(world, rows, events),
        "recent_conversion_event_name": recent_conversions(world, events, len(rows), urls),
        **counter_columns(events, len(rows)),
    }
    table = ContactTable(len(rows))
    for definition in built_in_definitions():
        table.define(definition, columns.get(definition["name"]))
    bant = bant_columns(events, len(rows), len(rows))
    for name, label, kind, field_type in BANT_PROPERTIES:
        custom = property_definition(
            name, label, kind, field_type, "contactinformation", hubspot_defined=False
        )
        table.define(custom, bant[name])
    return table
