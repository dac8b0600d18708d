"""Rule attributes from a system's own fields: one mapping per system, shared vocabulary.

A rule set reads attributes such as `job_title`, `employees`, `job_function` and
`seniority`; each CRM holds them under its own names (HubSpot `jobtitle`,
`numemployees`) or not at all. An `AttributeMap` says, for one system, which of
its fields gives which attribute and how its value is read (HubSpot's employee
ranges become a number). The system's fields themselves stay on the contact as
well, so a rule may name either.

Two attributes are derived when no field gives them: `job_function` and
`seniority` from the words of `job_title` (`derive_role`). Titles are free text,
so the derivation is a keyword table, not a model: it knows the common English
titles ("VP of Marketing", "Head of Sales", "RevOps Manager", "Student") and
leaves a title it does not recognise without a function. A portal that keeps
job function or seniority in a field of its own maps that field instead, and
the derivation steps aside for every contact that has a value there.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Reader = Callable[[Any], Any]
"""How a system's value becomes the attribute's value (None: the value says nothing)."""

DERIVED_FROM_EMAIL = frozenset({"email", "email_domain", "email_free"})
"""Attributes every contact has from its address (see `scoring.frames`)."""

ROLE_SOURCE = "job_title"
ROLE_ATTRIBUTES = ("job_function", "seniority")


def number_or_range(raw: Any) -> float | None:
    """A number of employees from a count or a range: the lower end of "100-500" (100),
    "1000+" (1000), "1,200" (1200); None when the text holds no number."""
    if raw is None or isinstance(raw, bool):
        return None
    if isinstance(raw, int | float):
        return float(raw) if math.isfinite(raw) else None
    text = str(raw).strip().replace(",", "").replace("\u202f", "").replace(" ", "")
    head = text.rstrip("+").split("-", 1)[0]
    try:
        value = float(head)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


SENIORITY_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "C-level",
        (
            "chief",
            "ceo",
            "cfo",
            "cto",
            "cmo",
            "cro",
            "coo",
            "cio",
            "founder",
            "president",
            "owner",
            "general counsel",
        ),
    ),
    ("VP", ("vp", "vice president", "general manager")),
    ("Director", ("director", "head of")),
    ("Manager", ("manager", "lead", "counsel")),
)
"""Seniority from title words, highest first; a title with none is an individual contributor."""

FUNCTION_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Student", ("student", "intern")),
    ("Job seeker", ("open to work", "looking for", "job seeker", "seeking")),
    (
        "Revenue operations",
        ("revenue operations", "revops", "revenue officer", "cro", "sales operations"),
    ),
    ("Marketing", ("marketing", "cmo", "growth", "demand generation", "brand")),
    ("Sales", ("sales", "account executive", "business development", "account manager")),
    (
        "Executive",
        (
            "chief executive",
            "ceo",
            "founder",
            "managing director",
            "general manager",
            "chief of staff",
            "president",
            "strategy",
        ),
    ),
    ("IT", ("information", "cio", "systems", " it ", "infrastructure")),
    ("Operations", ("operations", "operating", "coo")),
    ("Customer success", ("customer success", "customer")),
    ("Product", ("product",)),
    ("Engineering", ("engineer", "engineering", "cto", "technology", "developer")),
    ("Finance", ("finance", "financial", "cfo", "accounting")),
    ("HR", ("people", "human resources", "hr ")),
    ("Legal", ("legal", "counsel", "paralegal")),
)
"""Job function from title words, first match wins (so "Sales Operations Manager" is
revenue operations, "Chief Revenue Officer" too, and "Chief Marketing Officer" marketing)."""

_WORD_CACHE: dict[str, tuple[str | None, str | None]] = {}


def _has(text: str, word: str) -> bool:
    if word.startswith(" ") or word.endswith(" "):
        return word in text
    return re.search(rf"\b{re.escape(word)}\b", text) is not None


def derive_role(title: Any) -> tuple[str | None, str | None]:
    """(job function, seniority) read from a job title's words; (None, None) for no title."""
    if title is None or not str(title).strip():
        return None, None
    key = str(title)
    cached = _WORD_CACHE.get(key)
    if cached is not None:
        return cached
    text = f" {re.sub(r'[^a-z0-9&]+', ' ', key.lower())} "
    function = next(
        (name for name, words in FUNCTION_WORDS if any(_has(text, w) for w in words)), None
    )
    seniority = next(
        (name for name, words in SENIORITY_WORDS if any(_has(text, w) for w in words)),
        "Individual contributor",
    )
    if function in ("Student", "Job seeker"):
        seniority = "Individual contributor"
    if len(_WORD_CACHE) < 100_000:  # titles repeat; a bound keeps a long run's memory flat
        _WORD_CACHE[key] = (function, seniority)
    return function, seniority


@dataclass(frozen=True)
class AttributeMap:
    """One system's fields -> rule attributes, with how each value is read."""

    fields: Mapping[str, str]
    """System field -> rule attribute."""
    readers: Mapping[str, Reader] = field(default_factory=dict)
    """Rule attribute -> how its value is read (default: as it is)."""
    derive_roles: bool = True
    """Whether `job_function` and `seniority` come from `job_title` where no field gives them."""
    any_case: bool = False
    """Whether the system's field names match in any case (Salesforce's `title` is its
    `Title`); HubSpot's property names are case-sensitive, and match as written."""

    def merged(self, fields: Mapping[str, str]) -> AttributeMap:
        """This map with `fields` (a user's setting) added; they win over the defaults."""
        kept = {k: v for k, v in self.fields.items() if v not in set(fields.values())}
        return AttributeMap({**kept, **fields}, self.readers, self.derive_roles, self.any_case)

    def in_any_case(self) -> AttributeMap:
        """This map, its field names matched in any case."""
        return AttributeMap(self.fields, self.readers, self.derive_roles, any_case=True)

    def _key(self, name: str) -> str:
        return name.lower() if self.any_case else name

    def sources(self, attributes: Iterable[str]) -> list[str]:
        """The system fields to read for `attributes` (the rules'), mapped ones and the
        attributes' own names (a custom field may carry the attribute's very name)."""
        wanted = list(dict.fromkeys(attributes))
        if self.derive_roles and any(a in ROLE_ATTRIBUTES for a in wanted):
            wanted.append(ROLE_SOURCE)
        names: list[str] = []
        for attribute in wanted:
            names += [f for f, a in self.fields.items() if a == attribute]
            names.append(attribute)
        return [n for n in dict.fromkeys(names) if n not in DERIVED_FROM_EMAIL]

    def apply(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """A record's fields with the attributes they give added (mapped fields win over a
        field that merely shares the attribute's name; derived roles fill only gaps)."""
        out = dict(values)
        given = {k.lower(): v for k, v in values.items()} if self.any_case else values
        for source, attribute in self.fields.items():
            raw = given.get(self._key(source))
            if raw is None or raw == "":
                continue
            reader = self.readers.get(attribute)
            value = reader(raw) if reader is not None else raw
            if value is not None:
                out[attribute] = value
        if self.derive_roles:
            function, seniority = derive_role(out.get(ROLE_SOURCE))
            if function is not None:
                out.setdefault("job_function", function)
            if seniority is not None:
                out.setdefault("seniority", seniority)
        return out

    def missing(self, attributes: Iterable[str], available: Iterable[str]) -> list[str]:
        """The attributes no field of `available` (a system's field names) can give."""
        have = set(available)
        keys = {self._key(name) for name in have}
        given = {a for f, a in self.fields.items() if self._key(f) in keys}
        given |= have | DERIVED_FROM_EMAIL
        if self.derive_roles and ROLE_SOURCE in given:
            given |= set(ROLE_ATTRIBUTES)
        return [a for a in dict.fromkeys(attributes) if a not in given]

    def hint(self, attribute: str) -> str:
        """Which fields give `attribute`, for a warning ("" when none is mapped)."""
        return ", ".join(f for f, a in self.fields.items() if a == attribute)
