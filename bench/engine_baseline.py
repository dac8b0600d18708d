"""The engine bench's baseline: the realistic rules written once by hand in plain numpy.

It reads the same input files as the engine's side of the bench (`load`, `Inputs`)
and imports numpy alone, not the engine. It is the "physical limit" of plain numpy,
written straightforwardly: it groups the usable rows by activity type once (as the
engine does), and drops machine clicks with the same two tests as the engine's
filter, sorting only the sends to contacts who clicked (as the engine does). It uses
no knowledge of how the data were generated, and computes only what the totals
need, plus the disqualification flag: no per-rule detail for reasons, no stages,
no grades.

The rules are those of bench/rules_realistic.yaml, as a table of plain values with
the conditions as Python tests (`REALISTIC`); `variant` derives more rules from
them, the same way for this table and for the rule file (`bench/engine.py` writes
the 100-rule file with it), and the totals check holds the two to each other.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import engine_population as population
import numpy as np
import numpy.typing as npt

DAY = 86_400.0
IntArray = npt.NDArray[np.int32]
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
Text = tuple[IntArray, npt.NDArray[np.object_]]
"""A text field: codes into categories, -1 where missing."""

FREE_DOMAINS = Path(__file__).parents[1] / "scoring" / "data" / "free_email_domains.txt"


# --- the input files, for both sides -------------------------------------------------------


def load(folder: Path, name: str) -> Any:
    """One input array: numbers memory-mapped from the page cache, text unpickled."""
    path = folder / f"{name}.npy"
    try:
        return np.load(path, mmap_mode="r").view(np.ndarray)
    except ValueError:  # an object array (text categories, ids): pickled
        return np.load(path, allow_pickle=True)


def load_field(folder: Path, prefix: str, name: str) -> Any:
    """A field as `from_arrays` takes it: (codes, categories) for text, else an array."""
    if (folder / f"{prefix}.{name}.codes.npy").exists():
        return load(folder, f"{prefix}.{name}.codes"), load(folder, f"{prefix}.{name}.categories")
    return load(folder, f"{prefix}.{name}")


@dataclass(frozen=True)
class Inputs:
    """What the baseline reads of the input files."""

    who: IntArray
    types: npt.NDArray[np.int8]
    when: Floats
    campaign: Text
    url: Text
    amount: Floats
    contacts: dict[str, Text]
    employees: Floats
    emails: Text
    type_codes: dict[str, int]
    now: float

    @classmethod
    def read(cls, folder: Path) -> Inputs:
        meta = json.loads((folder / "meta.json").read_text("utf-8"))
        return cls(
            load(folder, "a.person"),
            load(folder, "a.type"),
            load(folder, "a.at"),
            load_field(folder, "a", "campaign"),
            load_field(folder, "a", "url"),
            load(folder, "a.amount"),
            {
                name: load_field(folder, "c", name)
                for name in ("industry", "country", "job_function", "seniority")
            },
            load(folder, "c.employees"),
            (load(folder, "email_codes"), load(folder, "email_categories")),
            meta["type_codes"],
            meta["now"],
        )

    @property
    def size(self) -> int:
        return len(self.employees)


# --- the rules -----------------------------------------------------------------------------

Rule = dict[str, Any]
"""A rule as plain values, keyed as in the rule file: `activity` (a type's name) or
`contact` (a test of the contacts, here a function), `where` (a test of a lower-cased
URL), `points`, `cap`, `window_days`, `half_life_days`, `once`, `disqualify`, and the
`dimension` it counts in."""


def variant(rule: Rule, k: int) -> Rule:
    """The k-th (1 or 2) variant of a rule: half (k=1) or a quarter (k=2) of its points and
    cap, its window and half-life twice (k=1) or half (k=2) as long (windows at most a
    year), never disqualifying."""
    scale, stretch = (0.5, 2.0) if k == 1 else (0.25, 0.5)
    out = {**rule, "id": f"{rule['id']}_v{k}", "points": rule["points"] * scale}
    if rule.get("cap") is not None:
        out["cap"] = rule["cap"] * scale
    if rule.get("window_days") is not None:
        out["window_days"] = min(365.0, rule["window_days"] * stretch)
    if rule.get("half_life_days") is not None:
        out["half_life_days"] = rule["half_life_days"] * stretch
    out.pop("disqualify", None)
    return out


def with_variants(rules: list[Rule], count: int) -> list[Rule]:
    """`count` rules: `rules`, then their first variants, then their second, in order."""
    extra = [variant(rule, k) for k in (1, 2) for rule in rules]
    return rules + extra[: max(0, count - len(rules))]


def text_in(field: str, *values: str) -> Callable[[Inputs], Bools]:
    wanted = {v.casefold() for v in values}

    def test(inputs: Inputs) -> Bools:
        codes, categories = inputs.contacts[field]
        table = np.array([str(c).casefold() in wanted for c in categories] + [False])
        return table[codes]

    return test


def contains(*needles: str) -> Callable[[str], bool]:
    return lambda url: any(needle in url for needle in needles)


def employees(low: float, high: float) -> Callable[[Inputs], Bools]:
    return lambda inputs: (inputs.employees >= low) & (inputs.employees <= high)


def _b(activity: str, rule_id: str, points: float, **more: Any) -> Rule:
    dimension = "engagement" if activity.startswith("email_") else "activity"
    return {"id": rule_id, "activity": activity, "points": points, "dimension": dimension} | more


def _f(rule_id: str, points: float, contact: Callable[[Inputs], Bools], **more: Any) -> Rule:
    return {"id": rule_id, "contact": contact, "points": points, "dimension": "fit"} | more


def _p(rule_id: str, points: float, field: str, **more: Any) -> Rule:
    """A rule on a field of the population's (RFM, accounts): a `test` of its values
    (NaN: none) or `per` unit."""
    return {"id": rule_id, "field": field, "points": points, "dimension": "activity"} | more


_PRODUCT = re.compile("/(product|demo)(/|$)")
_INF = float("inf")

REALISTIC: list[Rule] = [
    _b("email_open", "email_opened", 1, cap=10, window_days=180, half_life_days=60),
    _b("email_click", "email_clicked", 3, cap=15, window_days=180, half_life_days=45),
    _b(
        "email_click",
        "email_pricing_click",
        5,
        where=contains("/pricing"),
        once=True,
        window_days=90,
        half_life_days=30,
    ),
    _b("email_unsubscribe", "unsubscribed", -15, once=True, window_days=365),
    _b("email_bounce", "bounced", -10, once=True, window_days=365),
    _b("email_spam_report", "spam_report", -40, disqualify=True),
    _b("page_view", "site_visit", 1, cap=20, window_days=90, half_life_days=30),
    _b(
        "page_view",
        "pricing_page",
        10,
        where=contains("/pricing"),
        cap=30,
        window_days=30,
        half_life_days=14,
    ),
    _b(
        "page_view",
        "enterprise_pricing",
        5,
        where=contains("/pricing/enterprise"),
        contact=employees(1000, _INF),
        cap=15,
        window_days=30,
        half_life_days=14,
    ),
    _b(
        "page_view",
        "product_pages",
        3,
        where=lambda url: _PRODUCT.search(url) is not None,
        cap=15,
        window_days=60,
        half_life_days=30,
    ),
    _b(
        "page_view",
        "customer_stories",
        4,
        where=contains("/customers"),
        cap=12,
        window_days=90,
        half_life_days=30,
    ),
    _b(
        "page_view",
        "docs_integrations",
        2,
        where=contains("/docs/", "/integrations/"),
        cap=10,
        window_days=60,
        half_life_days=30,
    ),
    _b(
        "page_view",
        "blog_reader",
        0.5,
        where=contains("/blog/"),
        cap=5,
        window_days=60,
        half_life_days=30,
    ),
    _b("page_view", "job_seeker", -5, where=contains("/careers"), once=True, window_days=90),
    _b("content_download", "content_download", 8, cap=24, window_days=180, half_life_days=60),
    _b(
        "content_download",
        "buying_guide",
        5,
        where=contains("playbook", "benchmarks"),
        once=True,
        window_days=180,
        half_life_days=60,
    ),
    _b("form_submission", "form_submitted", 15, cap=30, window_days=180, half_life_days=90),
    _b(
        "form_submission",
        "webinar_signup",
        5,
        where=contains("/webinars/"),
        cap=10,
        window_days=120,
        half_life_days=60,
    ),
    _b("demo_request", "demo_requested", 40, once=True, window_days=90, half_life_days=30),
    _b("question", "question_asked", 20, cap=40, window_days=90, half_life_days=30),
    _b("social_click", "social_click", 2, cap=10, window_days=60, half_life_days=30),
    _b("newsletter_signup", "newsletter", 5, once=True, dimension="engagement"),
    _b("meeting", "sales_meeting", 30, cap=60, window_days=120, half_life_days=45),
    _f(
        "core_industry",
        15,
        text_in("industry", "Software", "Financial services", "Professional services"),
    ),
    _f(
        "adjacent_industry",
        5,
        text_in("industry", "Healthcare", "Manufacturing", "Retail", "Logistics"),
    ),
    _f("low_fit_industry", -5, text_in("industry", "Education", "Government", "Nonprofit")),
    _f("mid_market", 15, employees(50, 1000)),
    _f("enterprise", 10, employees(1001, 10000)),
    _f("micro_company", -10, lambda inputs: inputs.employees < 10),
    _f("core_market", 10, text_in("country", "US", "CA", "GB", "DE", "FR", "NL")),
    _f("unserved_market", -30, text_in("country", "IN", "BR", "MX", "ZA", "AE")),
    _f("buyer_function", 10, text_in("job_function", "Marketing", "Sales", "Revenue operations")),
    _f("senior_title", 10, text_in("seniority", "C-level", "VP", "Director")),
    _f("non_buyer", -20, text_in("job_function", "Student", "Job seeker")),
    _f("free_email", -10, lambda inputs: _email_domains(inputs)[1]),
    _f("competitor", -50, lambda inputs: _email_domains(inputs)[2], disqualify=True),
    _p("rfm_points", 1, "rfm_score", per=1, cap=15),
    _p("rfm_champion", 10, "rfm_segment", test=lambda segment: segment == 0),
    _p("colleague_demo", 10, "account_demo_requests", test=lambda asked: asked >= 1),
    _p("engaged_colleagues", 2, "account_engaged_people", per=1, cap=10),
]
"""bench/rules_realistic.yaml, rule by rule."""

DIMENSIONS = {"fit": (-60.0, 60.0), "activity": (None, 100.0), "engagement": (-40.0, 40.0)}
"""Floor and cap of each dimension, in the order of the rule file."""

COMPETITORS = {"rivalscore.example", "funnelforge.example"}

_domain_cache: dict[int, tuple[Bools, Bools, Bools, npt.NDArray[np.int64]]] = {}


def _email_domains(inputs: Inputs) -> tuple[Bools, Bools, Bools, npt.NDArray[np.int64]]:
    """Per contact: has an address, at a free-mail domain, at a competitor's domain, and
    its account: a number per domain, -1 for none or a free-mail one."""
    found = _domain_cache.get(id(inputs))
    if found is None:
        free = {
            line.strip().lower()
            for line in FREE_DOMAINS.read_text("utf-8").splitlines()
            if line.strip() and not line.startswith("#")
        }
        codes, addresses = inputs.emails
        domains = [str(a).strip().lower().rpartition("@")[2] for a in addresses]
        is_free = np.array([d in free for d in domains] + [False])
        rival = np.array([d in COMPETITORS for d in domains] + [False])
        numbered: dict[str, int] = {}
        account = np.array(
            [-1 if d in free else numbered.setdefault(d, len(numbered)) for d in domains] + [-1]
        )
        found = (codes >= 0, is_free[codes], rival[codes], account[codes])
        _domain_cache.clear()
        _domain_cache[id(inputs)] = found
    return found


# --- the arithmetic ------------------------------------------------------------------------


def machine_clicks(inputs: Inputs, usable: Bools) -> Bools:
    """Email clicks < 10 s after a send of the same campaign, or > 2 in one second."""
    types, who, when = inputs.types, inputs.who, inputs.when
    is_click = usable & (types == inputs.type_codes["email_click"])
    clicks = np.flatnonzero(is_click)
    machine = np.zeros(len(types), dtype=bool)
    # bursts: three clicks of one contact within one second flag all three
    by_contact = clicks[np.lexsort((when[clicks], who[clicks]))]
    c, t = who[by_contact], when[by_contact]
    third = (c[2:] == c[:-2]) & (t[2:] - t[:-2] < 1.0)
    burst = np.zeros(len(by_contact), dtype=bool)
    burst[:-2] |= third
    burst[1:-1] |= third
    burst[2:] |= third
    machine[by_contact[burst]] = True
    # right after delivery: only sends to contacts who clicked can explain a click
    clicked = np.zeros(inputs.size, dtype=bool)
    clicked[who[clicks]] = True
    is_send = usable & (types == inputs.type_codes["email_sent"])
    sends = np.flatnonzero(is_send & clicked[who])
    # merge sends and clicks by (contact, campaign, time), sends first at equal times,
    # and compare each click with the last send before it
    codes, categories = inputs.campaign
    both = np.concatenate((sends, clicks))
    key = who[both].astype(np.int64) * (len(categories) + 1) + codes[both] + 1
    is_later_click = np.arange(len(both)) >= len(sends)
    order = np.lexsort((is_later_click, when[both], key))
    both, key, is_later_click = both[order], key[order], is_later_click[order]
    last_send = np.maximum.accumulate(np.where(is_later_click, -1, np.arange(len(both))))
    early = is_later_click & (last_send >= 0)
    src = last_send[early]
    early[early] = (key[src] == key[early]) & (when[both[early]] - when[both[src]] < 10.0)
    machine[both[early]] = True
    return machine


def baseline(
    inputs: Inputs, rules: list[Rule]
) -> tuple[Floats, Floats, Bools, dict[str, npt.NDArray[Any]]]:
    """Totals, dimensions (in the order of `DIMENSIONS`), disqualification, and for the
    check the RFM digits and the top interest with its score."""
    n, now = inputs.size, inputs.now
    usable = inputs.when <= now
    usable &= ~machine_clicks(inputs, usable)
    url_codes, urls = inputs.url
    lowered = [str(u).casefold() for u in urls]
    by_type: dict[str, tuple[IntArray, Floats]] = {}

    def group(kinds: tuple[str, ...]) -> tuple[IntArray, Floats]:
        """Usable rows of some types, and their ages: each type's found once."""
        for kind in kinds:
            if kind not in by_type:
                rows = np.flatnonzero(usable & (inputs.types == inputs.type_codes[kind]))
                by_type[kind] = rows, now - inputs.when[rows]
        if len(kinds) == 1:
            return by_type[kinds[0]]
        parts = [by_type[kind] for kind in kinds]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    rfm_score, segment, digits = population.rfm(inputs, group(("purchase",)))
    engaged, asked = population.accounts(inputs, _email_domains(inputs)[3], group)
    fields = {
        "rfm_score": rfm_score,
        "rfm_segment": segment,
        "account_engaged_people": engaged,
        "account_demo_requests": asked,
    }
    dims = {name: np.zeros(n) for name in DIMENSIONS}
    disqualified = np.zeros(n, dtype=bool)
    for rule in rules:
        if "field" in rule:
            values = fields[rule["field"]]
            with np.errstate(invalid="ignore"):  # NaN: no value, never a match
                if rule.get("per") is not None:
                    units = np.floor(values / rule["per"])
                    matched = units >= 1
                    points = np.where(matched, units * rule["points"], 0.0)
                else:
                    matched = rule["test"](values)
                    points = np.where(matched, float(rule["points"]), 0.0)
            counts = matched
        elif "activity" not in rule:
            matched = rule["contact"](inputs)
            points, counts = np.where(matched, float(rule["points"]), 0.0), matched
        else:
            rows, age = group((rule["activity"],))
            keep = np.ones(len(rows), dtype=bool)
            if rule.get("where") is not None:
                table = np.array([bool(rule["where"](u)) for u in lowered] + [False])
                keep &= table[url_codes[rows]]
            if rule.get("window_days") is not None:
                keep &= age <= rule["window_days"] * DAY
            who = inputs.who[rows]
            if rule.get("contact") is not None:
                keep &= rule["contact"](inputs)[who]
            points, counts = _sums(rule, who[keep], age[keep], n)
        if rule.get("cap") is not None:
            np.clip(points, -rule["cap"], rule["cap"], out=points)
        dims[rule["dimension"]] += points
        if rule.get("disqualify"):
            disqualified |= counts > 0
    out = np.empty((n, len(DIMENSIONS)))
    for column, (name, (floor, cap)) in enumerate(DIMENSIONS.items()):
        out[:, column] = np.clip(dims[name], floor, cap)
    total = out[:, 0] + out[:, 1] + out[:, 2]
    top, top_score = population.interests(inputs, group)
    return total, out, disqualified, {"rfm": digits, "top": top, "top_score": top_score}


def _sums(rule: Rule, who: IntArray, age: Floats, n: int) -> tuple[Floats, npt.NDArray[Any]]:
    """A behaviour rule's points and match counts per contact."""
    points, half_life = float(rule["points"]), rule.get("half_life_days")
    counts = np.bincount(who, minlength=n)
    if rule.get("once") and half_life is not None:
        youngest = np.full(n, np.inf)
        np.minimum.at(youngest, who, age)
        return np.where(counts > 0, points * np.exp2(-youngest / (half_life * DAY)), 0.0), counts
    if rule.get("once"):
        return np.where(counts > 0, points, 0.0), counts
    if half_life is not None:
        weights = points * np.exp2(-age / (half_life * DAY))
        # bincount returns integers for an empty input, even with weights
        return np.bincount(who, weights=weights, minlength=n).astype(float, copy=False), counts
    return counts * points, counts
