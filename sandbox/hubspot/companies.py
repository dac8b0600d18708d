"""The world's companies as HubSpot company objects, and each contact's primary company.

A company's id is its row in the world's companies plus one. Its built-in properties
are those of HubSpot's default company properties that the world knows (name, domain,
industry, number of employees, annual revenue, country) and the record's dates; custom
properties are created through the properties API as for contacts (group
`companyinformation` built in). A contact's primary company is the read-only contact
property `associatedcompanyid`: HubSpot associates a contact with the company of its
email domain (the portal's default "create and associate companies with contacts"), so
the world's people at their employer's domain carry it and free-mail ones do not.
Sources in docs/sandbox.md.
"""

from __future__ import annotations

import numpy as np

from sandbox.hubspot.contact_table import ContactTable
from sandbox.hubspot.properties import FIELD_TYPE_OF, property_definition
from sandbox.hubspot.values import Json, iso_millis
from sandbox.world.tables import REVENUE_PER_EMPLOYEE, Floats, Objects, World

COMPANY_GROUPS = (("companyinformation", "Company information"),)
COMPANY_PROPERTY_TABLE = """
name                | Name                | string   | rw
domain              | Company Domain Name | string   | rw
industry            | Industry            | string   | rw
numberofemployees   | Number of Employees | number   | rw
annualrevenue       | Annual Revenue      | number   | rw
country             | Country/Region      | string   | rw
createdate          | Create Date         | datetime | ro
hs_lastmodifieddate | Last Modified Date  | datetime | ro
hs_object_id        | Record ID           | number   | ro
"""
"""The built-in company properties the sandbox holds: name | label | type | access."""
COMPANY_DEFAULTS = ("name", "domain", "createdate", "hs_lastmodifieddate", "hs_object_id")
"""What a company read without `properties` answers (HubSpot's default company set)."""
COMPANY_RETURNED = ("createdate", "hs_lastmodifieddate", "hs_object_id")


def company_definitions() -> list[Json]:
    rows = [line.split("|") for line in COMPANY_PROPERTY_TABLE.strip().splitlines()]
    return [
        property_definition(
            name.strip(),
            label.strip(),
            kind.strip(),
            FIELD_TYPE_OF[kind.strip()],
            "companyinformation",
            read_only=access.strip() == "ro",
            order=order,
        )
        for order, (name, label, kind, access) in enumerate(rows)
    ]


def project_companies(world: World) -> ContactTable:
    """The table of the world's companies (id = row + 1) with the built-in properties."""
    firms = world.companies
    size = len(firms)
    employees = firms.employees.astype(np.float64)
    created = np.full(size, world.now * 1000.0 - 400 * 86_400_000.0)
    columns: dict[str, Floats | Objects] = {
        "name": firms.name.copy(),
        "domain": firms.domain.copy(),
        "industry": firms.industry.copy(),
        "numberofemployees": employees,
        "annualrevenue": employees * REVENUE_PER_EMPLOYEE,
        "country": firms.country.copy(),
        "createdate": created,
        "hs_lastmodifieddate": created.copy(),
        "hs_object_id": np.arange(1, size + 1, dtype=np.float64),
    }
    table = ContactTable(size)
    for definition in company_definitions():
        table.define(definition, columns.get(definition["name"]))
    return table


def primary_companies(world: World, rows: np.ndarray) -> Floats:
    """`associatedcompanyid` of the contacts of the world's people at `rows`: their
    employer's id where their address is at the employer's domain, else empty."""
    people, firms = world.people, world.companies
    company = people.company[rows].astype(np.int64)
    domains = np.array([str(e).rpartition("@")[2] for e in people.email[rows]], dtype=object)
    valid = (company >= 0) & (company < len(firms))
    at_employer = np.zeros(len(rows), dtype=bool)
    at_employer[valid] = domains[valid] == firms.domain[company[valid]]
    return np.where(at_employer, company + 1.0, np.nan)


def company_json(companies: ContactTable, row: int, names: list[str]) -> Json:
    """A company as the v3 objects API returns it, with the properties asked for."""
    wanted = dict.fromkeys([*names, *COMPANY_RETURNED])
    return {
        "id": str(row + 1),
        "properties": {n: companies.value(n, row) for n in wanted if n in companies.defs},
        "createdAt": iso_millis(float(companies.floats("createdate")[row])),
        "updatedAt": iso_millis(float(companies.floats("hs_lastmodifieddate")[row])),
        "archived": False,
    }
