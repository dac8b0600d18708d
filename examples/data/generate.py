"""Sample data for leadscore: a small synthetic B2B world as a CRM export and its activity log.

Writes, next to this file, from the sandbox's seeded world
(`sandbox.world.generate_world`: 400 people, the 180 days before 2026-11-01):

* contacts.csv: one row per person, with the fields the default rules read
  (company, industry, employees, country, job_function, seniority, the BANT
  fields budget, pain_point and timeframe) and the `stage` the CRM already
  holds. The address is spelled as the CRM holds it (Salesforce's spelling for
  people in Salesforce, else HubSpot's: a few in odd case or with spaces).
* activities.csv: every event of the world: campaign emails with their opens,
  clicks (scanner clicks among them), bounces, unsubscribes and spam reports,
  site visits, downloads, forms, questions, demo requests, meetings, quotes and
  purchases, with the campaign, its subject, the url and the amount.

The world has no BANT fields, no CRM stage and no contacts without an address;
this script derives them from each person's own values in the world, with a
seeded rng of its own:

* BANT: sales fills it in for most people it talked to (a demo request,
  meeting, sales touch or quote) and a few others. Budget is the largest
  amount quoted, else a yearly value that grows with the company's head count;
  the pain point is never "none" for people who asked for a demo or a quote;
  the timeframe is short for people with a demo request, meeting or quote in
  the last 90 days.
* stage: Customer for the world's buyers (the CRM records won deals),
  Opportunity for a third of the other quoted people (sales set it), Marketing
  qualified for a quarter of the remaining demo requesters and Lead for a few
  people in HubSpot (set by earlier marketing runs).
* a third of the people only in Salesforce (where no campaign reaches them)
  have no address: leads sales typed in without one.

Seeded: rerunning `python examples/data/generate.py` rewrites identical files.
Score them with

    leadscore score -c examples/data/contacts.csv -a examples/data/activities.csv \\
        --as-of 2026-11-01T00:00:00Z
"""

from __future__ import annotations

import csv
import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from sandbox.world import HUBSPOT, SALESFORCE, generate_world
from scoring.records import ACTIVITY_TYPES, TYPE_CODES, ActivityType

HERE = Path(__file__).parent
AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
PEOPLE, DAYS, SEED = 400, 180, 25
"""Seed 25 gives a world with competitors, students and a spam report in it."""
DAY = 86_400.0
A = ActivityType
PAINS = ["manual lead routing", "low MQL to SQL conversion", "no single view of the customer",
         "reporting takes days"]  # fmt: skip
TIMEFRAMES = ["0-3 months", "3-6 months", "6-12 months", "12+ months"]
CONTACT_COLUMNS = ["id", "email", "first_name", "last_name", "company", "industry", "employees",
                   "country", "job_function", "seniority", "budget", "pain_point", "timeframe",
                   "stage"]  # fmt: skip
ACTIVITY_COLUMNS = ["id", "contact_id", "type", "occurred_at", "campaign", "url", "subject",
                    "amount"]  # fmt: skip
SALES_STEPS = (A.DEMO_REQUEST, A.MEETING, A.SALES_TOUCH, A.QUOTE_SENT)
Bools = npt.NDArray[np.bool_]


def text(value: float) -> str:
    """A number as a CRM exports it: 15000, not 15000.0; blank when missing."""
    return "" if math.isnan(value) else str(int(value)) if value == int(value) else str(value)


def main() -> None:
    world = generate_world(PEOPLE, seed=SEED, now=AS_OF, days=DAYS)
    people, firms, events = world.people, world.companies, world.events
    rng = np.random.default_rng([SEED, 2026])
    n = len(people)

    def who_did(kinds: tuple[ActivityType, ...], since: float = -math.inf) -> Bools:
        rows = np.isin(events.type, [TYPE_CODES[k] for k in kinds]) & (events.at >= since)
        did = np.zeros(n, dtype=bool)
        did[events.person[rows]] = True
        return did

    talked = who_did(SALES_STEPS)
    asked = who_did((A.DEMO_REQUEST, A.QUOTE_SENT))
    recent = who_did((A.DEMO_REQUEST, A.MEETING, A.QUOTE_SENT), since=world.now - 90 * DAY)
    quotes = events.type == TYPE_CODES[A.QUOTE_SENT]
    quoted = np.full(n, np.nan)
    np.fmax.at(quoted, events.person[quotes], events.amount[quotes])
    employees = firms.employees[people.company].astype(np.float64)

    # BANT, as sales (and now and then a form) fills it in
    known = rng.random(n) < np.where(talked, 0.85, 0.05)
    estimate = np.round(6_000 * (employees / 50) ** 0.45 * rng.lognormal(0, 0.5, n), -3)
    budget = np.where(known, np.where(np.isnan(quoted), estimate, np.round(quoted, -3)), np.nan)
    pain = rng.integers(0, len(PAINS), n)
    no_pain = ~asked & (rng.random(n) < 0.3)
    has_pain = known | (rng.random(n) < 0.05)
    short = rng.integers(0, 2, n)
    timeframe = np.where(recent, short, 1 + rng.integers(0, 3, n))

    # the stage the CRM already holds
    stage = np.full(n, "", dtype=object)
    quoted_only = ~np.isnan(quoted) & ~people.converted
    stage[quoted_only & (rng.random(n) < 1 / 3)] = "Opportunity"
    demo = who_did((A.DEMO_REQUEST,)) & (stage == "") & ~people.converted
    stage[demo & (rng.random(n) < 0.25)] = "Marketing qualified"
    in_hubspot = (people.systems & HUBSPOT > 0) & (stage == "") & ~people.converted
    stage[in_hubspot & (rng.random(n) < 0.03)] = "Lead"
    stage[people.converted] = "Customer"

    # the address as the CRM holds it; some leads typed in by sales have none
    email = np.where(
        people.systems & SALESFORCE > 0,
        people.email_as_held[SALESFORCE],
        people.email_as_held[HUBSPOT],
    )
    email[(people.systems == SALESFORCE) & (rng.random(n) < 1 / 3)] = ""

    with open(HERE / "contacts.csv", "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CONTACT_COLUMNS)
        for i in range(n):
            firm = int(people.company[i])
            writer.writerow(
                [
                    f"c{i + 1:04d}",
                    email[i],
                    people.first_name[i],
                    people.last_name[i],
                    firms.name[firm],
                    firms.industry[firm],
                    int(firms.employees[firm]),
                    people.country[i],
                    people.job_function[i],
                    people.seniority[i],
                    text(float(budget[i])),
                    ("none" if no_pain[i] else PAINS[pain[i]]) if has_pain[i] else "",
                    TIMEFRAMES[timeframe[i]] if known[i] else "",
                    stage[i],
                ]
            )
    with open(HERE / "activities.csv", "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(ACTIVITY_COLUMNS)
        for row in range(len(events)):
            at = datetime.fromtimestamp(float(events.at[row]), UTC)
            campaign, url = int(events.campaign[row]), int(events.url[row])
            writer.writerow(
                [
                    f"a{row + 1:05d}",
                    f"c{int(events.person[row]) + 1:04d}",
                    ACTIVITY_TYPES[int(events.type[row])].value,
                    at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                    world.campaigns.name[campaign] if campaign >= 0 else "",
                    world.urls[url] if url >= 0 else "",
                    world.campaigns.subject[campaign] if campaign >= 0 else "",
                    text(float(events.amount[row])),
                ]
            )
    print(f"wrote {n} contacts and {len(events)} activities to {HERE}")


if __name__ == "__main__":
    main()
