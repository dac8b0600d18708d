"""The synthetic B2B world the sandbox emulators serve.

A `World` is columnar (numpy arrays), so that a million people fit in memory
and are made in seconds: companies, people (each present in one or more of
HubSpot, Salesforce and Mailchimp, under an email spelled the way that system
holds it), email campaigns, and a time-ordered log of events typed with the
canonical activity vocabulary. Each emulator projects the same world onto its
own vendor's data model, so the three systems agree on who is who.

`WorldBuilder` makes small hand-written worlds for tests; `generate_world`
makes large seeded ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np
import numpy.typing as npt

from scoring.records import TYPE_CODES, ActivityType

HUBSPOT, SALESFORCE, MAILCHIMP = 1, 2, 4
SYSTEM_BITS = {"hubspot": HUBSPOT, "salesforce": SALESFORCE, "mailchimp": MAILCHIMP}

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Objects = npt.NDArray[np.object_]


REVENUE_PER_EMPLOYEE = 150_000.0
"""The world holds no revenue: a company's annual revenue, where a CRM shows one, is its
head count times this."""


@dataclass
class Companies:
    name: Objects
    domain: Objects
    industry: Objects
    employees: npt.NDArray[np.int32]
    country: Objects

    def __len__(self) -> int:
        return len(self.name)


@dataclass
class Persons:
    """One row per person. `email` is canonical (trimmed, lower case)."""

    first_name: Objects
    last_name: Objects
    email: Objects
    job_title: Objects
    job_function: Objects
    seniority: Objects
    country: Objects
    company: npt.NDArray[np.int32]
    """Index into `Companies`."""
    created_at: npt.NDArray[np.float64]
    """Epoch seconds (UTC) when the person first appeared."""
    systems: npt.NDArray[np.uint8]
    """Bit flags: HUBSPOT | SALESFORCE | MAILCHIMP."""
    email_as_held: dict[int, Objects] = field(default_factory=dict)
    """Per system bit, the address as that system holds it (case and spaces vary)."""
    converted: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, bool))
    converted_at: npt.NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    """Epoch seconds of the conversion (won deal), NaN when not converted."""

    def __len__(self) -> int:
        return len(self.email)

    def email_in(self, system: int, person: int) -> str:
        """The address of `person` as `system` holds it."""
        held = self.email_as_held.get(system)
        return str(self.email[person] if held is None else held[person])

    def in_system(self, system: int) -> npt.NDArray[np.intp]:
        """Rows of the people present in `system`."""
        return np.flatnonzero(self.systems & system)


@dataclass
class Campaigns:
    name: Objects
    subject: Objects
    sent_at: npt.NDArray[np.float64]
    system: npt.NDArray[np.uint8]
    """Bit of the tool that sent each campaign; only that system reports its email events."""

    def __len__(self) -> int:
        return len(self.name)


@dataclass
class Events:
    """Everything people did, in time order. Columns with -1 or NaN do not apply."""

    person: npt.NDArray[np.int32]
    type: npt.NDArray[np.int8]
    """Code of the `ActivityType` (`scoring.records.TYPE_CODES`)."""
    at: npt.NDArray[np.float64]
    campaign: npt.NDArray[np.int32]
    url: npt.NDArray[np.int32]
    """Index into `World.urls` (page views, downloads, forms)."""
    amount: npt.NDArray[np.float64]
    """Money for quotes and purchases."""

    def __len__(self) -> int:
        return len(self.person)


@dataclass
class World:
    """Companies, people, campaigns and events, as of `now` (epoch seconds)."""

    now: float
    companies: Companies
    people: Persons
    campaigns: Campaigns
    events: Events
    urls: Objects
    seed: int = 0

    def moved(self, now: float) -> World:
        """The same world with every moment moved by `now - self.now`, so that it ends at
        `now`: each event keeps its age, and rules on time score it as they did. Campaign
        names keep the send date they were made with, and office hours shift with the rest."""
        offset = now - self.now
        people = replace(
            self.people,
            created_at=self.people.created_at + offset,
            converted_at=self.people.converted_at + offset,
        )
        campaigns = replace(self.campaigns, sent_at=self.campaigns.sent_at + offset)
        events = replace(self.events, at=self.events.at + offset)
        return replace(self, now=now, people=people, campaigns=campaigns, events=events)


def objects(values: Sequence[str]) -> Objects:
    """Text values as a numpy object array."""
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


class WorldBuilder:
    """A small world written by hand, for tests."""

    def __init__(self, now: datetime) -> None:
        self.now = now.timestamp()
        self._companies: list[tuple[str, str, str, int, str]] = []
        self._people: list[dict[str, object]] = []
        self._campaigns: list[tuple[str, str, float, int]] = []
        self._events: list[tuple[int, int, float, int, int, float]] = []
        self._urls: list[str] = []

    def company(
        self,
        name: str,
        domain: str,
        industry: str = "Software",
        employees: int = 100,
        country: str = "US",
    ) -> int:
        self._companies.append((name, domain, industry, employees, country))
        return len(self._companies) - 1

    def person(
        self,
        first_name: str,
        last_name: str,
        email: str,
        company: int,
        *,
        systems: int = HUBSPOT | SALESFORCE | MAILCHIMP,
        job_title: str = "Manager",
        job_function: str = "Marketing",
        seniority: str = "Manager",
        country: str = "US",
        created_at: datetime | None = None,
        held: dict[int, str] | None = None,
        converted_at: datetime | None = None,
    ) -> int:
        self._people.append(
            {
                "first_name": first_name,
                "last_name": last_name,
                "email": email.strip().lower(),
                "job_title": job_title,
                "job_function": job_function,
                "seniority": seniority,
                "country": country,
                "company": company,
                "created_at": (created_at.timestamp() if created_at else self.now - 86_400 * 90),
                "systems": systems,
                "held": held or {},
                "converted_at": converted_at.timestamp() if converted_at else np.nan,
            }
        )
        return len(self._people) - 1

    def campaign(
        self, name: str, subject: str, sent_at: datetime, system: int = HUBSPOT | MAILCHIMP
    ) -> int:
        """A campaign; by default both HubSpot and Mailchimp report its email events."""
        self._campaigns.append((name, subject, sent_at.timestamp(), system))
        return len(self._campaigns) - 1

    def event(
        self,
        person: int,
        kind: ActivityType,
        at: datetime,
        *,
        campaign: int = -1,
        url: str | None = None,
        amount: float = np.nan,
    ) -> None:
        url_index = -1
        if url is not None:
            if url not in self._urls:
                self._urls.append(url)
            url_index = self._urls.index(url)
        self._events.append((person, TYPE_CODES[kind], at.timestamp(), campaign, url_index, amount))

    def build(self, seed: int = 0) -> World:
        people = self._people

        def column(key: str) -> Objects:
            return objects([str(p[key]) for p in people])

        held: dict[int, Objects] = {}
        for bit in (HUBSPOT, SALESFORCE, MAILCHIMP):
            held[bit] = objects(
                [str(p["held"].get(bit, p["email"])) for p in people]  # type: ignore[attr-defined]
            )
        converted_at = np.array([p["converted_at"] for p in people], dtype=np.float64)
        order = sorted(range(len(self._events)), key=lambda i: self._events[i][2])
        events = [self._events[i] for i in order]
        return World(
            now=self.now,
            companies=Companies(
                objects([c[0] for c in self._companies]),
                objects([c[1] for c in self._companies]),
                objects([c[2] for c in self._companies]),
                np.array([c[3] for c in self._companies], dtype=np.int32),
                objects([c[4] for c in self._companies]),
            ),
            people=Persons(
                first_name=column("first_name"),
                last_name=column("last_name"),
                email=column("email"),
                job_title=column("job_title"),
                job_function=column("job_function"),
                seniority=column("seniority"),
                country=column("country"),
                company=np.array([p["company"] for p in people], dtype=np.int32),
                created_at=np.array([p["created_at"] for p in people], dtype=np.float64),
                systems=np.array([p["systems"] for p in people], dtype=np.uint8),
                email_as_held=held,
                converted=~np.isnan(converted_at),
                converted_at=converted_at,
            ),
            campaigns=Campaigns(
                objects([c[0] for c in self._campaigns]),
                objects([c[1] for c in self._campaigns]),
                np.array([c[2] for c in self._campaigns], dtype=np.float64),
                np.array([c[3] for c in self._campaigns], dtype=np.uint8),
            ),
            events=Events(
                np.array([e[0] for e in events], dtype=np.int32),
                np.array([e[1] for e in events], dtype=np.int8),
                np.array([e[2] for e in events], dtype=np.float64),
                np.array([e[3] for e in events], dtype=np.int32),
                np.array([e[4] for e in events], dtype=np.int32),
                np.array([e[5] for e in events], dtype=np.float64),
            ),
            urls=objects(self._urls),
            seed=seed,
        )
