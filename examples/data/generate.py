"""Sample data for leadscore: fictional B2B contacts and six months of what they did.

Writes, next to this file:

* contacts.csv: about 400 people at 40 fictional companies, with the fields the
  default rules read (industry, employees, country, job_function, seniority and
  the BANT fields budget, pain_point, timeframe) and a `stage` column that the
  CRM already holds for a few of them;
* activities.csv: about 5,000 activities over the 180 days before 2026-11-01:
  campaign emails with their opens and clicks (a few by security scanners), site
  visits, downloads, questions, unsubscribes, bounces and spam reports, and for
  the keenest leads demo requests, meetings, quotes and purchases.

Interest follows fit, so the ranking looks like a real one. Seeded and
standard-library only: rerunning `python examples/data/generate.py` rewrites
identical files. Score them with

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

# fmt: off
CORE = ["Software", "Financial services", "Professional services"]
ADJACENT = ["Manufacturing", "Healthcare", "Retail", "Logistics"]
OTHER = ["Education", "Government", "Nonprofit", "Media"]
SUFFIX = {"Software": "Labs", "Financial services": "Capital", "Professional services": "Partners",
          "Manufacturing": "Industries", "Healthcare": "Health", "Retail": "Stores",
          "Logistics": "Freight", "Education": "Academy", "Government": "Agency",
          "Nonprofit": "Foundation", "Media": "Media"}
IN_MARKET = ["US"] * 6 + ["GB"] * 3 + ["DE"] * 3 + ["FR", "FR", "NL", "NL", "SE", "ES", "IT", "CA"]
OUT_OF_MARKET = ["BR", "IN", "SG", "ZA", "MX"]
COMPETITORS = {"RivalScore": "rivalscore.example", "FunnelForge": "funnelforge.example"}
FREE_MAIL = ["gmail.com", "outlook.com", "yahoo.com", "hotmail.co.uk", "gmx.de", "web.de"]
FIRST = ["Anna", "Ben", "Chloe", "David", "Emma", "Felix", "Grace", "Hugo", "Ines", "Jonas",
         "Kara", "Liam", "Maya", "Noah", "Olga", "Pablo", "Quinn", "Rosa", "Sam", "Tara",
         "Umar", "Vera", "Will", "Yara", "Zoe", "Lucas", "Mia", "Omar", "Lena", "Marco"]
LAST = ["Schmidt", "Martin", "Rossi", "Smith", "Dubois", "Jansen", "Berg", "Garcia", "Novak",
        "Weber", "Moreau", "Bianchi", "Clarke", "Fischer", "Laurent", "Visser", "Lindqvist",
        "Costa", "Murphy", "Meyer", "Bernard", "Kowalski", "Haas", "Roux"]
FUNCTIONS = {"Marketing": 22, "Sales": 16, "Revenue operations": 6, "IT": 14, "Operations": 12,
             "Finance": 10, "HR": 7, "Engineering": 10, "Legal": 3}
SENIORITY = {"C-level": 5, "VP": 7, "Director": 13, "Manager": 30, "Individual contributor": 45}
PAINS = ["manual lead routing", "low MQL to SQL conversion", "no single view of the customer",
         "reporting takes days", "none"]
TIMEFRAMES = ["0-3 months", "3-6 months", "6-12 months", "12+ months"]
PAGES = ["/", "/product", "/integrations", "/customers", "/blog/scoring-101",
         "/blog/mql-vs-sql", "/blog/bant-in-practice", "/about", "/careers"]
NAME_STARTS = ["Blue", "North", "Iron", "Bright", "Silver", "Oak", "Stone", "Clear"]
NAME_ENDS = ["peak", "wind", "wood", "line", "field", "gate", "bridge", "ridge"]
GUIDES = ["/guides/playbook.pdf", "/guides/bant.pdf", "/guides/benchmarks-2026.pdf"]
CAMPAIGNS = [  # (campaign, subject, day sent), one every 20 days to about half the list
    ("2026-05-newsletter", "What we learned scoring 1M leads", 5),
    ("2026-05-webinar", "Live: fixing lead routing", 25),
    ("2026-06-guide", "The lead scoring playbook", 45),
    ("2026-07-newsletter", "New: Salesforce sync", 65),
    ("2026-07-case-study", "How Bluepeak doubled its SQLs", 85),
    ("2026-08-newsletter", "Benchmarks for your funnel", 105),
    ("2026-09-event", "Meet us in Berlin", 125),
    ("2026-09-guide", "BANT without the busywork", 145),
    ("2026-10-newsletter", "Autumn product update", 165),
]
SALES_STEPS = [  # (type, days after the demo request, url, subject)
    ("demo_request", 0, "/demo", ""),
    ("meeting", 4, "", "Discovery call"),
    ("sales_touch", 6, "", "Follow-up call"),
    ("quote_sent", 15, "", "Quote"),
    ("purchase", 30, "", "Order signed"),
]
FATES = ["email_bounce"] * 4 + ["email_unsubscribe"] * 6 + ["email_spam_report"] * 2
CONTACT_COLUMNS = ["id", "email", "first_name", "last_name", "company", "industry", "employees",
                   "country", "job_function", "seniority", "budget", "pain_point", "timeframe",
                   "stage"]
# fmt: on


def pick(weights: dict[str, int]) -> str:
    return rng.choices(list(weights), list(weights.values()))[0]


def companies() -> list[dict]:
    """38 prospect companies and 2 competitors, with industry, size and country."""
    names = [start + end for start in NAME_STARTS for end in NAME_ENDS]
    firms = []
    for name in rng.sample(names, 38):
        industry = rng.choice(CORE * 2 + ADJACENT * 2 + OTHER * 2)
        country = rng.choice(IN_MARKET) if rng.random() < 0.85 else rng.choice(OUT_OF_MARKET)
        firms.append(
            {
                "company": f"{name} {SUFFIX[industry]}",
                "industry": industry,
                "domain": f"{name}{SUFFIX[industry]}.example".lower(),
                "country": country,
                "employees": int(10 ** rng.uniform(0.7, 4.0)),
            }
        )
    for name, domain in COMPETITORS.items():
        firms.append(
            {
                "company": name,
                "industry": "Software",
                "domain": domain,
                "country": "US",
                "employees": rng.randint(80, 400),
            }
        )
    return firms


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
    )


def people(firms: list[dict]) -> list[dict]:
    """About 10 people per company, plus a few students and job seekers."""
    found, taken = [], set()
    for firm in firms:
        for _ in range(3 if firm["company"] in COMPETITORS else rng.randint(4, 16)):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            domain = rng.choice(FREE_MAIL) if rng.random() < 0.08 else firm["domain"]
            email = f"{first}.{last}@{domain}".lower()
            while email in taken:
                email = email.replace("@", str(rng.randint(1, 9)) + "@", 1)
            taken.add(email)
            found.append(
                firm
                | {
                    "first_name": first,
                    "last_name": last,
                    "email": email,
                    "job_function": pick(FUNCTIONS),
                    "seniority": pick(SENIORITY),
                }
            )
    for index in range(8):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        found.append(
            {
                "first_name": first,
                "last_name": last,
                "industry": "",
                "employees": "",
                "email": f"{first}.{last}{index}@{rng.choice(FREE_MAIL)}".lower(),
                "country": rng.choice(IN_MARKET + OUT_OF_MARKET),
                "seniority": "",
                "job_function": "Student" if index < 5 else "Job seeker",
            }
        )
    for number, person in enumerate(found, 1):
        # interest grows with fit; competitors and students read everything
        if person.get("company") in COMPETITORS or person["job_function"] == "Student":
            interest = 0.6
        else:
            interest = (0.6 * fitness(person) + 0.4 * rng.random()) ** 2
        sales_knows = rng.random() < 0.1 + 0.8 * interest  # BANT fields are filled in by sales
        timeframes = TIMEFRAMES[:2] if interest > 0.4 else TIMEFRAMES
        person |= {
            "id": f"c{number:04d}",
            "interest": interest,
            "stage": "",
            "budget": rng.choice([5000, 8000, 15000, 25000, 60000]) if sales_knows else "",
            "pain_point": rng.choice(PAINS) if sales_knows or rng.random() < 0.1 else "",
            "timeframe": rng.choice(timeframes) if sales_knows else "",
        }
    return found


def moment(interest: float) -> datetime:
    """A time in the window; keener people are more active lately."""
    day = int(180 * rng.random() ** (1.2 - interest))
    return START + timedelta(days=day, seconds=rng.randint(7 * 3600, 20 * 3600))


def behaviour(person: dict) -> list[tuple]:
    """The person's activities as (time, contact_id, type, campaign, url, subject)."""
    acts: list[tuple] = []
    interest, fate = person["interest"], person.get("fate")

    def add(when: datetime, kind: str, campaign: str = "", url: str = "", subject: str = ""):
        acts.append((when, person["id"], kind, campaign, url, subject))

    for campaign, subject, day in CAMPAIGNS if person["email"] else []:
        if rng.random() < 0.3:  # each campaign goes to one segment of the list
            continue
        sent = START + timedelta(days=day, hours=9, seconds=rng.uniform(0, 1800))
        add(sent, "email_sent", campaign, "", subject)
        if fate == "email_bounce":  # the person left the company; nothing is sent any more
            add(sent + timedelta(seconds=3), "email_bounce", campaign, "", subject)
            break
        if person.get("scanner") and rng.random() < 0.5:
            # a mail gateway follows a link on delivery, or three in the same second
            burst = rng.random() < 0.5
            for url in PAGES[: 3 if burst else 1]:
                delay = 120.3 if burst else rng.uniform(0.5, 2)
                add(sent + timedelta(seconds=delay), "email_click", campaign, url, subject)
        if rng.random() > 0.1 + 0.7 * interest and not fate:
            continue
        opened = sent + timedelta(seconds=60 + rng.expovariate(1 / 20000))
        add(opened, "email_open", campaign, "", subject)
        if fate:  # unsubscribes or reports spam on the first email opened
            add(opened + timedelta(seconds=25), fate, campaign, "", subject)
            break
        if rng.random() < 0.1 + 0.6 * interest:
            clicked = opened + timedelta(seconds=rng.uniform(15, 900))
            add(clicked, "email_click", campaign, rng.choice(PAGES[:7]), subject)

    for _ in range(round(rng.expovariate(1 / (0.2 + 9 * interest)))):
        when = moment(interest)
        add(when, "page_view", "", rng.choice(PAGES))
        if rng.random() < 0.4 * interest:
            add(when + timedelta(minutes=2), "page_view", "", "/pricing")
    for _ in range(sum(rng.random() < 0.4 * interest for _ in range(3))):
        add(moment(interest), "social_click", "linkedin-autumn", "/blog/mql-vs-sql")
    for _ in range(sum(rng.random() < 0.05 + 0.3 * interest for _ in range(3))):
        add(moment(interest), "content_download", "guides", rng.choice(GUIDES))
    if rng.random() < 0.05 + 0.4 * interest:
        add(moment(interest), "newsletter_signup", "", "/newsletter")
    if rng.random() < 0.02 + 0.2 * interest:
        add(moment(interest), "form_submission", "", "/webinars/lead-routing")
    if rng.random() < 0.4 * interest**2:
        add(moment(interest), "question", "", "/chat", "Does it sync with HubSpot?")
    return acts


def pipeline(person: dict, depth: int) -> list[tuple]:
    """A strong lead's sales journey: a demo request, then `depth` further steps."""
    demo = START + timedelta(days=rng.randint(30, 70) if depth == 4 else rng.randint(110, 160))
    acts = []
    for kind, days, url, subject in SALES_STEPS[: depth + 1]:
        when = demo + timedelta(days=days, seconds=rng.randint(8 * 3600, 18 * 3600))
        acts.append((when, person["id"], kind, "", url, subject))
    return acts


def main() -> None:
    contacts = people(companies())
    buyers = [p for p in contacts if p["job_function"] not in ("Student", "Job seeker")]
    ranked = sorted(buyers, key=lambda p: -p["interest"])
    keen = [p for p in ranked if p["company"] not in COMPETITORS and p["domain"] in p["email"]]
    cold = [p for p in ranked[100:] if p["email"]]
    for person in rng.sample(ranked, 4):
        person["scanner"] = True
    for person, fate in zip(rng.sample(cold, len(FATES)), FATES, strict=True):
        person["fate"] = fate
    # messy CRM data: a few addresses missing, a few in odd case with spaces
    for person in rng.sample(cold, 10):
        person["email"] = ""
    for person in rng.sample(keen[:40], 4):
        person["email"] = f" {person['email'].title()} "
    # stages the CRM already holds: a few earlier ones, and one set by sales
    for person in rng.sample(ranked[60:200], 5):
        person["stage"] = "Lead"
    for person in rng.sample(ranked[30:90], 3):
        person["stage"] = "Marketing qualified"
    keen[12]["stage"] = "Opportunity"

    log = [act for person in contacts for act in behaviour(person)]
    # demo requests for the keenest; fewer go on to meetings, quotes and purchases
    for depth, person in zip([4, 4, 3, 3, 2, 2, 2, 1, 1, 0, 0, 0, 0], keen, strict=False):
        log += pipeline(person, depth)
    log += pipeline(next(p for p in ranked if p["company"] in COMPETITORS), 0)  # snooping
    log = sorted(act for act in log if act[0] < AS_OF)

    with open(HERE / "contacts.csv", "w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, CONTACT_COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(contacts)
    with open(HERE / "activities.csv", "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["id", "contact_id", "type", "occurred_at", "campaign", "url", "subject"])
        for number, (when, contact_id, kind, *rest) in enumerate(log, 1):
            stamp = when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
            writer.writerow([f"a{number:05d}", contact_id, kind, stamp, *rest])
    print(f"wrote {len(contacts)} contacts and {len(log)} activities to {HERE}")


if __name__ == "__main__":
    main()
