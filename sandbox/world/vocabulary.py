"""The words of the synthetic world: industries, countries, roles, names, pages and campaigns.

Plain tables, read by `sandbox.world.generate`. Weights are relative. The
spellings of industries, job functions, seniorities and countries are those the
default rule set (`scoring/rulesets/default.yaml`) tests, so that a world scored
with it exercises every profile rule.
"""

from __future__ import annotations

import unicodedata
from typing import NamedTuple

from sandbox.world.tables import HUBSPOT, MAILCHIMP

SITE = "https://www.leadflow.example"


class Industry(NamedTuple):
    name: str
    weight: float
    fit: float
    """How well the seller's product suits companies of this industry, 0 to 1."""
    suffixes: tuple[str, ...]
    """Last words of company names in this industry."""


# fmt: off
INDUSTRIES = (
    Industry("Software", 14, 1.0, ("Labs", "Software", "Systems", "Technologies")),
    Industry("Financial services", 9, 1.0, ("Capital", "Financial", "Bank", "Payments")),
    Industry("Professional services", 9, 1.0, ("Partners", "Consulting", "Advisory", "Group")),
    Industry("Manufacturing", 11, 0.5, ("Industries", "Manufacturing", "Works", "Components")),
    Industry("Healthcare", 8, 0.5, ("Health", "Medical", "Care", "Clinics")),
    Industry("Retail", 8, 0.5, ("Stores", "Retail", "Brands", "Goods")),
    Industry("Logistics", 5, 0.5, ("Freight", "Logistics", "Shipping", "Transport")),
    Industry("Education", 6, 0.1, ("Academy", "University", "Learning", "Institute")),
    Industry("Government", 3, 0.1, ("Agency", "Authority", "Council", "Office")),
    Industry("Nonprofit", 3, 0.1, ("Foundation", "Trust", "Alliance", "Society")),
    Industry("Media", 5, 0.2, ("Media", "Studios", "Publishing", "News")),
    Industry("Telecommunications", 3, 0.3, ("Telecom", "Networks", "Mobile", "Connect")),
    Industry("Energy", 3, 0.2, ("Energy", "Power", "Renewables", "Utilities")),
    Industry("Real estate", 3, 0.2, ("Properties", "Realty", "Estates", "Homes")),
    Industry("Hospitality", 3, 0.1, ("Hotels", "Hospitality", "Resorts", "Dining")),
    Industry("Construction", 3, 0.2, ("Construction", "Builders", "Contractors", "Engineering")),
)


class Country(NamedTuple):
    code: str
    weight: float
    tld: str
    in_market: bool
    """Whether the seller sells there (the default rule set's `markets`)."""


COUNTRIES = (
    Country("US", 34, ".com", True), Country("GB", 9, ".co.uk", True),
    Country("DE", 8, ".de", True), Country("FR", 6, ".fr", True), Country("CA", 4, ".ca", True),
    Country("NL", 3, ".nl", True), Country("ES", 3, ".es", True), Country("IT", 3, ".it", True),
    Country("SE", 2, ".se", True), Country("IE", 1, ".ie", True), Country("BE", 1, ".be", True),
    Country("CH", 1.5, ".ch", True), Country("AT", 1, ".at", True), Country("DK", 1, ".dk", True),
    Country("NO", 1, ".no", True), Country("FI", 1, ".fi", True),
    Country("AU", 3, ".com.au", False), Country("IN", 5, ".in", False),
    Country("BR", 4, ".com.br", False), Country("SG", 1.5, ".sg", False),
    Country("MX", 2, ".com.mx", False), Country("JP", 2, ".jp", False),
    Country("ZA", 1, ".co.za", False), Country("AE", 1, ".ae", False),
    Country("PL", 2, ".pl", False),
)


class Function(NamedTuple):
    name: str
    weight: float
    fit: float
    titles: tuple[tuple[str, str], ...]
    """Two job titles per seniority, in the order of `SENIORITIES`."""


def _titles(area: str, chief: str, ic: str, manager: str = "") -> tuple[tuple[str, str], ...]:
    return (
        (chief, chief),
        (f"VP of {area}", f"Vice President, {area}"),
        (f"Director of {area}", f"{area} Director"),
        (manager or f"{area} Manager", f"Head of {area}"),
        (ic, f"Senior {ic}"),
    )


FUNCTIONS = (
    Function("Marketing", 20, 1.0, _titles(
        "Marketing", "Chief Marketing Officer", "Marketing Specialist",
        "Marketing Operations Manager")),
    Function("Sales", 16, 1.0, _titles("Sales", "Chief Sales Officer", "Account Executive")),
    Function("Revenue operations", 5, 1.0, _titles(
        "Revenue Operations", "Chief Revenue Officer", "Revenue Operations Analyst",
        "RevOps Manager")),
    Function("Executive", 5, 0.8, (
        ("Chief Executive Officer", "Founder & CEO"), ("General Manager", "Managing Director"),
        ("Managing Director", "Director of Strategy"), ("Chief of Staff", "Business Manager"),
        ("Executive Assistant", "Strategy Associate"))),
    Function("IT", 11, 0.4, _titles(
        "IT", "Chief Information Officer", "Systems Administrator")),
    Function("Operations", 10, 0.4, _titles(
        "Operations", "Chief Operating Officer", "Operations Analyst")),
    Function("Customer success", 5, 0.4, _titles(
        "Customer Success", "Chief Customer Officer", "Customer Success Manager",
        "Customer Success Lead")),
    Function("Product", 6, 0.4, _titles(
        "Product", "Chief Product Officer", "Product Manager", "Group Product Manager")),
    Function("Engineering", 10, 0.2, _titles(
        "Engineering", "Chief Technology Officer", "Software Engineer",
        "Engineering Manager")),
    Function("Finance", 6, 0.2, _titles(
        "Finance", "Chief Financial Officer", "Financial Analyst", "Finance Manager")),
    Function("HR", 4, 0.2, _titles(
        "People", "Chief People Officer", "HR Generalist", "HR Manager")),
    Function("Legal", 2, 0.2, _titles("Legal", "General Counsel", "Paralegal", "Legal Counsel")),
)
# people who read everything and never buy; the default rules disqualify them
NON_BUYERS = (
    Function("Student", 0, 0.0, (("Student", "Graduate Student"),) * 5),
    Function("Job seeker", 0, 0.0, (("Open to work", "Looking for new opportunities"),) * 5),
)
SENIORITIES = (  # (name, weight, fit)
    ("C-level", 5, 1.0), ("VP", 7, 1.0), ("Director", 13, 1.0), ("Manager", 30, 0.65),
    ("Individual contributor", 45, 0.3),
)

FIRST_NAMES = (
    "Anna", "Ben", "Chloé", "David", "Emma", "Felix", "Grace", "Hugo", "Inès", "Jonas",
    "Kara", "Liam", "Maya", "Noah", "Olga", "Pablo", "Quinn", "Rosa", "Sam", "Tara",
    "Umar", "Vera", "Will", "Yara", "Zoe", "Lucas", "Mia", "Omar", "Lena", "Marco",
    "Sofia", "James", "Olivia", "Mateo", "Aisha", "Priya", "Arjun", "Wei", "Mei", "Hiroshi",
    "Yuki", "Lars", "Ingrid", "Sven", "Astrid", "Pierre", "Camille", "Julien", "Léa", "Matteo",
    "Giulia", "Lorenzo", "Carmen", "Javier", "Lucía", "Diego", "Fatima", "Youssef", "Amira",
    "Kwame", "Ama", "Tom", "Sarah", "Michael", "Jennifer", "Robert", "Linda", "Daniel",
    "Laura", "Chris", "Kate", "Peter", "Hannah", "Max", "Sophie", "Paul", "Julia", "Mark",
    "Nina", "Oscar", "Eva", "Leon", "Clara", "Erik", "Freya", "Rahul", "Ananya", "Thiago",
    "Beatriz", "Isabel", "Nadia", "Ivan", "Katarzyna", "Piotr", "Zofia", "Ahmed", "Layla",
    "Ethan", "Ava", "Noor", "Sean", "Aoife", "Connor", "Niamh", "Daan", "Sanne", "Thibault",
)
LAST_NAMES = (
    "Schmidt", "Martin", "Rossi", "Smith", "Dubois", "Jansen", "Berg", "Garcia", "Novak",
    "Weber", "Moreau", "Bianchi", "Clarke", "Fischer", "Laurent", "Visser", "Lindqvist",
    "Costa", "Murphy", "Meyer", "Bernard", "Kowalski", "Haas", "Roux", "Johnson", "Williams",
    "Brown", "Jones", "Miller", "Davis", "Rodriguez", "Martinez", "Hernandez", "Lopez",
    "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "White", "Harris",
    "Thompson", "Lee", "Walker", "Young", "King", "Wright", "Scott", "Green", "Baker",
    "Adams", "Nelson", "Müller", "Schneider", "Wagner", "Becker", "Hoffmann", "Schulz",
    "Koch", "Richter", "Klein", "Wolf", "Petit", "Durand", "Leroy", "Simon", "Michel",
    "Ferrari", "Esposito", "Romano", "Colombo", "Ricci", "Marino", "Greco", "Bruno",
    "Fernández", "González", "Sánchez", "Pérez", "Gómez", "Díaz", "Silva", "Santos",
    "Oliveira", "Souza", "Pereira", "Kumar", "Sharma", "Singh", "Patel", "Gupta", "Tanaka",
    "Suzuki", "Sato", "Watanabe", "Chen", "Wang", "Zhang", "Liu", "Kim", "Park", "Nguyen",
    "Tran", "Andersson", "Johansson", "Nielsen", "Hansen", "Larsen", "Virtanen", "O'Brien",
    "Kelly", "Byrne", "de Vries", "van Dijk", "Bakker", "Nowak", "Wiśniewska", "Haddad",
)
FREE_MAIL = (  # (domain, weight); every one is in scoring/data/free_email_domains.txt
    ("gmail.com", 50), ("outlook.com", 10), ("yahoo.com", 8), ("hotmail.com", 7),
    ("icloud.com", 5), ("gmx.de", 4), ("web.de", 3), ("orange.fr", 3), ("hotmail.co.uk", 2),
    ("yahoo.co.uk", 2), ("live.com", 2), ("protonmail.com", 2), ("free.fr", 1), ("libero.it", 1),
)
COMPETITORS = (  # (name, domain); the default rule set disqualifies these domains
    ("RivalScore", "rivalscore.example"), ("FunnelForge", "funnelforge.example"),
)
ROOT_STARTS = (
    "Blue", "North", "Iron", "Bright", "Silver", "Oak", "Stone", "Clear", "Red", "Green",
    "Swift", "High", "Deep", "Wild", "Gold", "Star", "Sun", "Moon", "Cloud", "River", "Lake",
    "Pine", "Cedar", "Maple", "Eagle", "Fox", "Wolf", "Bear", "Crest", "Summit", "Harbor",
    "Ever", "True", "Prime", "Nova", "Terra", "Aero", "Quantum", "Vertex", "Apex", "Polar",
    "Atlas", "Echo", "Lumen", "Orbit", "Pixel", "Vector", "Copper",
)
ROOT_ENDS = (
    "peak", "wind", "wood", "line", "field", "gate", "bridge", "ridge", "stone", "brook",
    "point", "light", "works", "wave", "path", "forge", "port", "stack", "craft", "view",
    "rock", "vale", "leaf", "spring", "haven", "mark", "shore", "grid", "loop", "bay",
    "hill", "way",
)

# --- the seller's website ------------------------------------------------------------------
PRODUCTS = ("scoring", "sync", "analytics", "workflows", "api", "routing")
INTEGRATIONS = ("hubspot", "salesforce", "mailchimp", "slack", "zapier", "snowflake")
STORIES = ("bluepeak", "northwind", "ironbridge", "clearfield", "oakline", "stonegate")
BLOG = (
    "what-is-lead-scoring", "mql-vs-sql", "bant-in-practice", "scoring-decay-explained",
    "lead-routing-101", "fit-vs-intent", "email-engagement-is-noisy", "apple-mail-privacy-opens",
    "abm-for-small-teams", "revops-stack-2026", "sales-and-marketing-sla", "lead-grading",
    "hubspot-vs-salesforce-scoring", "predictive-scoring-myths", "content-that-converts",
    "webinar-playbook", "pricing-page-signals", "intent-data-primer", "crm-hygiene",
    "dedupe-your-crm", "lifecycle-stages", "pipeline-reviews", "cold-email-benchmarks",
    "newsletter-growth", "demo-request-forms", "chatbots-that-qualify", "win-loss-analysis",
    "forecasting-basics", "churn-signals", "customer-marketing",
)
DOCS = (
    "getting-started", "rules", "dimensions", "decay", "stages", "grades", "bant",
    "connect-hubspot", "connect-salesforce", "connect-mailchimp", "webhooks", "api",
    "backtesting", "calibration", "faq", "troubleshooting",
)
GUIDES = (
    "lead-scoring-playbook.pdf", "bant-without-the-busywork.pdf", "funnel-benchmarks-2026.pdf",
    "revops-handbook.pdf", "abm-checklist.pdf", "email-deliverability-guide.pdf",
)
WEBINARS = ("fixing-lead-routing", "scoring-that-sales-trusts", "from-mql-to-revenue")
EVENTS = ("berlin-summit", "london-roadshow", "new-york-meetup")
JOBS = ("account-executive", "solutions-engineer", "backend-engineer", "product-marketer")
# fmt: on

PAGES = {
    "home": ("/",),
    "pricing": ("/pricing", "/pricing/enterprise"),
    "product": ("/product", *(f"/product/{p}" for p in PRODUCTS)),
    "integrations": tuple(f"/integrations/{i}" for i in INTEGRATIONS),
    "customers": ("/customers", *(f"/customers/{s}" for s in STORIES)),
    "blog": tuple(f"/blog/{b}" for b in BLOG),
    "docs": tuple(f"/docs/{d}" for d in DOCS),
    "careers": ("/careers", *(f"/careers/{j}" for j in JOBS)),
    "company": ("/about", "/security", "/partners"),
    "demo": ("/demo",),
    "contact": ("/contact",),
    "newsletter": ("/newsletter",),
    "guides": tuple(f"/resources/{g}" for g in GUIDES),
    "webinars": tuple(f"/webinars/{w}" for w in WEBINARS),
    "events": tuple(f"/events/{e}" for e in EVENTS),
}
"""Groups of site paths; the world's `urls` are `SITE` + each path, in this order."""

# How a visitor spreads page views over the groups, by what they came for.
VISIT_MIXES = {
    "browse": {"home": 20, "blog": 40, "product": 10, "integrations": 5, "docs": 5,
               "customers": 4, "pricing": 3, "company": 6, "careers": 4, "guides": 3},
    "buy": {"pricing": 24, "product": 24, "customers": 14, "integrations": 10, "demo": 6,
            "company": 6, "home": 8, "docs": 5, "blog": 3},
    "career": {"careers": 55, "home": 15, "company": 15, "blog": 15},
    "customer": {"docs": 65, "integrations": 10, "product": 10, "home": 5, "pricing": 2,
                 "blog": 8},
}  # fmt: skip


class CampaignKind(NamedTuple):
    name: str
    system: int
    """The system bit of the tool that sends campaigns of this kind."""
    audience: float
    """Share of that system's reachable members a campaign of this kind goes to."""
    links: tuple[str, ...]
    """Page groups its links point to; the first is the main call to action."""
    subjects: tuple[str, ...]


CAMPAIGN_KINDS = (
    CampaignKind("Newsletter", MAILCHIMP, 0.30, ("blog", "blog", "blog", "product"), (
        "This month in revenue operations", "5 reads for better lead scoring",
        "What we learned scoring 1M leads", "Your funnel, benchmarked")),
    CampaignKind("Product update", MAILCHIMP, 0.15, ("product", "docs", "integrations"), (
        "New: two-way Salesforce sync", "Scores now explain themselves",
        "Decay, grades and stages, in one place")),
    CampaignKind("Pricing offer", MAILCHIMP, 0.05, ("pricing", "product", "demo"), (
        "Annual plans: two months on us", "Pricing that grows with your team")),
    CampaignKind("Webinar invitation", HUBSPOT, 0.08, ("webinars", "blog", "product"), (
        "Live: fixing lead routing", "Webinar: scoring that sales trusts")),
    CampaignKind("Guide", HUBSPOT, 0.06, ("guides", "blog", "product"), (
        "The lead scoring playbook", "BANT without the busywork")),
    CampaignKind("Customer story", HUBSPOT, 0.06, ("customers", "pricing", "demo"), (
        "How Bluepeak doubled its SQLs", "Northwind's sales team stopped guessing")),
    CampaignKind("Event invitation", HUBSPOT, 0.04, ("events", "contact", "blog"), (
        "Meet us in Berlin", "See you at the London roadshow")),
)  # fmt: skip
NEWSLETTER = 0
"""Index in `CAMPAIGN_KINDS` of the newsletter, sent every other week."""


def site_paths() -> list[str]:
    """Every path of the site, group after group, in the order of `PAGES`."""
    return [path for group in PAGES.values() for path in group]


def email_form(name: str) -> str:
    """A name as it appears in an email address: ASCII lower case letters only."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(c for c in ascii_name.lower() if c.isalpha())
