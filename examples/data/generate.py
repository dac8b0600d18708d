"""Sample data for leadscore: fictional B2B contacts and six months of what they did.

Writes, next to this file:

* contacts.csv: about 400 people at 40 fictional companies, with the fields the
  default rules read (industry, employees, country, job_function, seniority and
  the BANT fields budget, pain_point, timeframe) and a `stage` column that the
  CRM already holds for a few of them;
* activities.csv: about 5,000 activities over the 180 days before 2026-11-01:
  campaign emails, opens and clicks (a few by security scanners), site visits,
  downloads, questions, unsubscribes and bounces, and for the keenest leads
  demo requests, meetings, quotes and purchases.

Behaviour follows fit, so the ranking looks like a real one. Seeded and
standard-library only: `python examples/data/generate.py` rewrites identical
files. Score them with

    leadscore score -c examples/data/contacts.csv -a examples/data/activities.csv \\
        --as-of 2026-11-01T00:00:00Z
"""

from __future__ import annotations

import csv
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).parent
AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
START = AS_OF - timedelta(days=180)
rng = random.Random(20261101)

CORE = ["Software", "Financial services", "Professional services"]
ADJACENT = ["Manufacturing", "Healthcare", "Retail", "Logistics"]
OTHER = ["Education", "Government", "Nonprofit", "Media"]
SUFFIX = {
    "Software": "Labs",
    "Financial services": "Capital",
    "Professional services": "Partners",
    "Manufacturing": "Industries",
    "Healthcare": "Health",
    "Retail": "Stores",
    "Logistics": "Freight",
    "Education": "Academy",
    "Government": "Agency",
    "Nonprofit": "Foundation",
    "Media": "Media",
}
IN_MARKET = ["US"] * 6 + ["GB"] * 3 + ["DE"] * 3 + ["FR", "FR", "NL", "NL", "SE", "ES", "IT", "CA"]
OUT_OF_MARKET = ["BR", "IN", "SG", "ZA", "MX"]
FIRST = (
    ["Anna", "Ben", "Chloe", "David", "Emma", "Felix", "Grace", "Hugo", "Ines", "Jonas", "Kara", "Liam", "Maya", "Noah", "Olga", "Pablo", "Quinn", "Rosa", "Sam", "Tara", "Umar", "Vera", "Will", "Yara", "Zoe", "Lucas", "Mia", "Omar", "Lena", "Marco"]
)
LAST = (
    ["Schmidt", "Martin", "Rossi", "Smith", "Dubois", "Jansen", "Berg", "Garcia", "Novak", "Weber", "Moreau", "Bianchi", "Clarke", "Fischer", "Laurent", "Visser", "Lindqvist", "Costa", "Murphy", "Meyer", "Bernard", "Kowalski", "Haas", "Roux"]
)
FREE_MAIL = ["gmail.com", "outlook.com", "yahoo.com", "hotmail.co.uk", "gmx.de", "web.de"]
FUNCTIONS = {
    "Marketing": 25,
    "Sales": 18,
    "Revenue operations": 7,
    "IT": 12,
    "Operations": 10,
    "Finance": 8,
    "HR": 6,
    "Engineering": 10,
    "Legal": 4,
}
SENIORITY = {"C-level": 6, "VP": 8, "Director": 15, "Manager": 30, "Individual contributor": 41}
PAINS = [
    "manual lead routing",
    "low MQL to SQL conversion",
    "no single view of the customer",
    "reporting takes days",
    "none",
]
TIMEFRAMES = ["0-3 months", "3-6 months", "6-12 months", "12+ months"]
PAGES = [
    "/",
    "/product",
    "/integrations",
    "/customers",
    "/blog/scoring-101",
    "/blog/mql-vs-sql",
    "/blog/bant-in-practice",
    "/about",
    "/careers",
]
CAMPAIGNS = [  # one every 20 days, sent to about half the list
    (f"2026-{(START + timedelta(days=5 + 20 * i)).month:02d}-{slug}", subject, 5 + 20 * i)
    for i, (slug, subject) in enumerate(
        [
            ("newsletter", "What we learned scoring 1M leads"),
            ("webinar", "Live: fixing lead routing"),
            ("guide", "The lead scoring playbook"),
            ("newsletter", "New: Salesforce sync"),
            ("case-study", "How Bluepeak doubled SQLs"),
            ("newsletter", "Benchmarks for your funnel"),
            ("event", "Meet us in Berlin"),
            ("guide", "BANT without the busywork"),
            ("newsletter", "Autumn product update"),
        ]
    )
]


def competitor(record: dict) -> bool:
    return record.get("domain", "") in ("rivalscore.example", "funnelforge.example")


def pick(weights: dict[str, int]) -> str:
    return rng.choices(list(weights), list(weights.values()))[0]


def companies() -> list[dict]:
    """38 prospects plus 2 competitors, each with industry, size and country."""
    names = [
        a + b
        for a in ["Blue", "North", "Iron", "Bright", "Silver", "Copper", "Red", "Oak", "Stone", "Clear"]
        for b in ["peak", "wind", "wood", "line", "field", "gate", "bridge", "water", "ridge", "leaf"]
    ]
    result = []
    for name in rng.sample(names, 38):
        industry = rng.choice(CORE * 3 + ADJACENT * 2 + OTHER)
        full = f"{name} {SUFFIX[industry]}"
        country = rng.choice(IN_MARKET) if rng.random() < 0.85 else rng.choice(OUT_OF_MARKET)
        result.append(
            {
                "company": full,
                "domain": full.lower().replace(" ", "") + ".example",
                "industry": industry,
                "employees": int(10 ** rng.uniform(0.7, 4.0)),
                "country": country,
            }
        )
    for full, employees in (("RivalScore", 140), ("FunnelForge", 320)):
        result.append(
            {
                "company": full,
                "domain": full.lower() + ".example",
                "industry": "Software",
                "employees": employees,
                "country": "US",
            }
        )
    return result


def fitness(person: dict) -> float:
    """Roughly what the default rules think of the profile, from 0 to 1."""
    size = int(person["employees"] or 0)
    return (
        0.25 * (person["industry"] in CORE)
        + 0.1 * (person["industry"] in ADJACENT)
        + 0.25 * (50 <= size <= 1000)
        + 0.15 * (size > 1000)
        + 0.2 * (person["job_function"] in ("Marketing", "Sales", "Revenue operations"))
        + 0.2 * (person["seniority"] in ("C-level", "VP", "Director"))
        + 0.1 * (person["country"] in IN_MARKET)
        - 0.2 * (person["email"].partition("@")[2] in FREE_MAIL)
    )


def people(firms: list[dict]) -> list[dict]:
    """About 10 people per company, plus a few students and job seekers."""
    result, taken = [], set()
    for firm in firms:
        for _ in range(3 if competitor(firm) else rng.randint(4, 16)):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            local = f"{first}.{last}".lower()
            domain = rng.choice(FREE_MAIL) if rng.random() < 0.1 else firm["domain"]
            while f"{local}@{domain}" in taken:
                local += str(rng.randint(1, 9))
            taken.add(f"{local}@{domain}")
            person = {
                "first_name": first,
                "last_name": last,
                "email": f"{local}@{domain}",
                "job_function": pick(FUNCTIONS),
                "seniority": pick(SENIORITY),
            } | firm
            result.append(person)
    for index in range(8):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        result.append(
            {
                "first_name": first,
                "last_name": last,
                "company": "",
                "industry": "",
                "employees": "",
                "country": rng.choice(IN_MARKET + OUT_OF_MARKET),
                "email": f"{first}.{last}{index}@{rng.choice(FREE_MAIL)}".lower(),
                "job_function": "Student" if index < 5 else "Job seeker",
                "seniority": "",
            }
        )
    for number, person in enumerate(result, 1):
        person["id"] = f"c{number:04d}"
        score = 1.0 if competitor(person) else 0.5 * fitness(person) + 0.5 * rng.random()
        # a few students binge on guides; everyone else's interest follows fit
        person["interest"] = 0.7 if person["job_function"] == "Student" else score
        hot = person["interest"]
        person["budget"] = (
            rng.choice([5000, 8000, 12000, 20000, 35000, 60000])
            if rng.random() < 0.1 + 0.5 * hot
            else ""
        )
        person["pain_point"] = rng.choice(PAINS) if rng.random() < 0.1 + 0.6 * hot else ""
        person["timeframe"] = (
            rng.choice(TIMEFRAMES[: 2 if hot > 0.6 else 4])
            if rng.random() < 0.1 + 0.5 * hot
            else ""
        )
        person["stage"] = ""
    return result


def moment(hot: float) -> datetime:
    """A time in the window, later on average for keener people (their interest is recent)."""
    day = 180 * rng.random() ** (1.2 - hot)
    return START + timedelta(days=day, seconds=rng.randint(8 * 3600, 19 * 3600))


def behaviour(person: dict, log: list[tuple]) -> None:
    """Append the person's activities as (time, contact_id, type, campaign, url, subject)."""
    pid, hot = person["id"], person["interest"]

    def add(when: datetime, kind: str, campaign: str = "", url: str = "", subject: str = ""):
        if when < AS_OF:
            log.append((when, pid, kind, campaign, url, subject))

    if person["email"]:
        fate = rng.random()  # a few bounce, unsubscribe or complain, then get nothing more
        for campaign, subject, day in CAMPAIGNS:
            if rng.random() > 0.55:
                continue
            sent = START + timedelta(days=day, hours=9, seconds=rng.randint(0, 1800))
            add(sent, "email_sent", campaign, "", subject)
            if fate < 0.015 and hot < 0.5:
                add(sent + timedelta(seconds=4), "email_bounce", campaign, "", subject)
                break
            if person.get("scanner") and rng.random() < 0.4:
                # a security gateway follows the links on delivery, or all in one second
                burst = rng.random() < 0.5
                for link in PAGES[: 3 if burst else 1]:
                    delay = 300 if burst else rng.uniform(0.5, 2)
                    add(sent + timedelta(seconds=delay), "email_click", campaign, link, subject)
            if rng.random() > 0.08 + 0.6 * hot:
                continue
            opened = sent + timedelta(seconds=60 + rng.expovariate(1 / 20000))
            add(opened, "email_open", campaign, "", subject)
            if 0.015 <= fate < 0.035 and hot < 0.45:
                add(opened + timedelta(seconds=40), "email_unsubscribe", campaign, "", subject)
                break
            if 0.035 <= fate < 0.045 and hot < 0.4:
                add(opened + timedelta(seconds=30), "email_spam_report", campaign, "", subject)
                break
            if rng.random() < 0.1 + 0.5 * hot:
                clicked = opened + timedelta(seconds=rng.randint(20, 900))
                add(clicked, "email_click", campaign, rng.choice(PAGES[:7]), subject)

    for _ in range(round(rng.expovariate(1 / (0.5 + 10 * hot**2)))):
        when = moment(hot)
        add(when, "page_view", "", rng.choice(PAGES))
        if rng.random() < 0.35 * hot:
            add(when + timedelta(minutes=2), "page_view", "", "/pricing")
    for _ in range(sum(rng.random() < 0.3 * hot for _ in range(3))):
        add(moment(hot), "social_click", "linkedin-autumn", "/blog/mql-vs-sql")
    for _ in range(
        sum(
            rng.random() < (0.9 if person["job_function"] == "Student" else 0.3 * hot)
            for _ in range(4)
        )
    ):
        add(
            moment(hot),
            "content_download",
            "",
            rng.choice(["/guides/playbook.pdf", "/guides/bant.pdf", "/guides/benchmarks-2026.pdf"]),
        )
    if rng.random() < 0.1 + 0.3 * hot:
        add(moment(hot), "newsletter_signup", "", "/newsletter")
    if rng.random() < 0.15 * hot:
        add(moment(hot), "form_submission", "", "/webinars/lead-routing")
    if rng.random() < 0.3 * hot**2:
        add(moment(hot), "question", "", "/chat", "Does it sync with HubSpot?")


def pipeline(person: dict, depth: int, log: list[tuple]) -> None:
    """The sales journey of a strong lead: demo, then as far as `depth` allows."""
    pid = person["id"]
    demo = START + timedelta(
        days=rng.randint(30, 70) if depth >= 4 else rng.randint(100, 160), hours=rng.randint(8, 17)
    )
    steps = [
        ("demo_request", 0, "/demo", ""),
        ("meeting", 4, "", "Discovery call"),
        ("sales_touch", 6, "", "Follow-up call"),
        ("quote_sent", 15, "", "Quote"),
        ("purchase", 30, "", "Order signed"),
    ][: depth + 1]
    for kind, days, url, subject in steps:
        when = demo + timedelta(days=days, minutes=rng.randint(0, 600))
        if when < AS_OF:
            log.append((when, pid, kind, "", url, subject))


def main() -> None:
    contacts = people(companies())
    prospects = [p for p in contacts if p["job_function"] not in ("Student", "Job seeker")]
    ranked = sorted(prospects, key=lambda p: -p["interest"])
    keen = [p for p in ranked if not competitor(p) and p["domain"] in p["email"]]
    for person in rng.sample(ranked, 4):
        person["scanner"] = True
    # messy CRM data: a few addresses missing, a few in odd case with spaces
    for person in rng.sample(ranked[40:], 10):
        person["email"] = ""
    for person in rng.sample(keen[:40], 4):
        person["email"] = f" {person['email'].title()} "
    # stages the CRM already holds: a few earlier ones, and one set by sales
    for person in rng.sample(ranked[60:200], 5):
        person["stage"] = "Lead"
    for person in rng.sample(ranked[30:90], 3):
        person["stage"] = "Marketing qualified"
    keen[12]["stage"] = "Opportunity"

    log: list[tuple] = []
    for person in contacts:
        behaviour(person, log)
    # demo requests for the keenest; fewer go on to meetings, quotes and purchases
    for depth, person in zip([4, 4, 3, 3, 2, 2, 2, 1, 1, 1, 0, 0, 0, 0], keen, strict=False):
        pipeline(person, depth, log)
    pipeline(next(p for p in ranked if competitor(p)), 0, log)  # a competitor snooping

    columns = [
        "id",
        "email",
        "first_name",
        "last_name",
        "company",
        "industry",
        "employees",
        "country",
        "job_function",
        "seniority",
        "budget",
        "pain_point",
        "timeframe",
        "stage",
    ]
    with open(HERE / "contacts.csv", "w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(contacts)
    with open(HERE / "activities.csv", "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["id", "contact_id", "type", "occurred_at", "campaign", "url", "subject"])
        for number, (when, *rest) in enumerate(sorted(log), 1):
            stamp = when.strftime("%Y-%m-%dT%H:%M:%S") + f".{when.microsecond // 1000:03d}Z"
            writer.writerow([f"a{number:05d}", rest[0], rest[1], stamp, *rest[2:]])
    print(f"wrote {len(contacts)} contacts and {len(log)} activities to {HERE}")


if __name__ == "__main__":
    main()
