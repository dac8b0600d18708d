"""Interest (appetence) scores in the rule file: topics, their patterns, and glob matching.

A topic (a product, a theme) is recognised in the activities by glob patterns on their
fields: URLs, campaign names, form names, content titles. Each matching activity gives
the topic its points, decayed by the topic's half-life, up to its cap. The arrays live
in `scoring.interests`; this module loads no numpy, so that validating a rule file
stays light.

Patterns are globs, not regular expressions: `*` is any run of characters (slashes
included), `?` one character, everything else itself, ignoring case, and the pattern
matches the whole value (`*/product/analytics*` finds the page wherever the site is).
A URL is matched without its query string, fragment and trailing slash
(`scoring.interests.url_key`), so `*/pricing` finds `/pricing/?utm_source=a`.
A glob is matched in time linear in the value times the pattern, whatever either holds,
so a pattern can never stall scoring on a long URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, model_validator

from scoring.records import ActivityType
from scoring.ruletypes import ActivityTypes, Amount, Days, LocatedError, Strict

MAX_PATTERN = 300
"""The longest pattern, in characters."""

PATTERN_FIELDS: Mapping[str, tuple[str, ...]] = {
    "urls": ("url",),
    "campaigns": ("campaign", "campaign_title"),
    "forms": ("form",),
    "titles": ("title", "page_title"),
}
"""Each pattern list of a topic -> the activity fields it is matched against (HubSpot
page views, form submissions and email clicks carry `url`; Mailchimp clicks a `url`
and the campaign's title in `campaign_title`; forms their name in `form`, and HubSpot's
conversions the page title in `page_title`)."""
TAG_FIELD = "tags"
"""The contact field of a person's tags (Mailchimp member tags, by name) that a topic's
`tags` globs read; tags are no activity, so a tagged contact counts once, undecayed."""

INTEREST_TYPES: tuple[ActivityType, ...] = tuple(
    t
    for t in ActivityType
    if t
    not in (
        ActivityType.EMAIL_SENT,
        ActivityType.EMAIL_OPEN,
        ActivityType.EMAIL_BOUNCE,
        ActivityType.EMAIL_UNSUBSCRIBE,
        ActivityType.EMAIL_SPAM_REPORT,
    )
)
"""The activity types a topic reads unless it names its own: everything a person does,
not what is done to them (a send), a sign of no interest (a bounce, an unsubscribe) nor
an open (mail apps and privacy proxies open messages themselves)."""


def _pattern(text: str) -> str:
    if not text.strip():
        raise ValueError("a pattern must not be blank")
    if any(ord(c) < 32 for c in text):
        raise ValueError("a pattern must not hold control characters")
    if text.strip("*") == "":
        raise ValueError(f"pattern {text!r} matches everything; name what the topic is about")
    return text


Pattern = Annotated[str, Field(min_length=1, max_length=MAX_PATTERN), AfterValidator(_pattern)]
Patterns = Annotated[list[Pattern], Field(max_length=200)]


class Topic(Strict):
    """One product or topic someone can show interest in."""

    id: str = Field(
        pattern=r"^[a-z][a-z0-9_]*$",
        max_length=40,
        description="lower_snake_case; written as the top interest and in column names.",
    )
    label: str | None = Field(None, max_length=80, description="What people read; default: id.")
    urls: Patterns = Field(default_factory=list, description="Globs on the activity's `url`.")
    campaigns: Patterns = Field(
        default_factory=list, description="Globs on the campaign (`campaign`, `campaign_title`)."
    )
    forms: Patterns = Field(default_factory=list, description="Globs on the form's name.")
    titles: Patterns = Field(
        default_factory=list, description="Globs on the content's title (`title`, `page_title`)."
    )
    tags: Patterns = Field(
        default_factory=list,
        description="Globs on the contact's tags (Mailchimp member tags): a contact with a "
        "matching tag counts once, with the topic's points, undecayed.",
    )
    activity: ActivityTypes | None = Field(
        None, description="Activity types read (default: all but sends, opens and departures)."
    )
    points: Amount = Field(1, gt=0, description="Points per matching activity.")
    half_life_days: Days | None = Field(
        None, description="A match's points halve every N days since the activity."
    )
    window_days: Days | None = Field(
        None, description="Only activities of the last N days count (default: all)."
    )
    cap: Amount | None = Field(None, gt=0, description="Most points of this topic.")

    @model_validator(mode="after")
    def _some_pattern(self) -> Self:
        if not any(getattr(self, name) for name in (*PATTERN_FIELDS, TAG_FIELD)):
            raise ValueError(
                f"topic {self.id!r} needs at least one pattern in "
                f"{', '.join(f'`{n}`' for n in (*PATTERN_FIELDS, TAG_FIELD))}"
            )
        return self

    @property
    def text(self) -> str:
        return self.label or self.id.replace("_", " ")

    @cached_property
    def types(self) -> list[ActivityType]:
        """The activity types it reads (none for a topic of tags alone: none is pulled for
        it); worked out once per (frozen) model: not to be changed by its readers."""
        if not any(getattr(self, name) for name in PATTERN_FIELDS):
            return []
        return list(self.activity) if self.activity is not None else list(INTEREST_TYPES)

    @cached_property
    def patterns(self) -> dict[str, tuple[str, ...]]:
        """Activity field -> the globs matched against it (a field only once); worked out
        once per (frozen) model: not to be changed by its readers."""
        found: dict[str, list[str]] = {}
        for name, fields in PATTERN_FIELDS.items():
            for field in fields:
                found.setdefault(field, []).extend(getattr(self, name))
        return {field: tuple(dict.fromkeys(p)) for field, p in found.items() if p}


class Interests(Strict):
    """The `interests:` block: topics, and which of their scores are written back."""

    topics: list[Topic] = Field(min_length=1, max_length=50)
    write: Literal["none", "top", "each"] = Field(
        "top",
        description="none: nothing written; top: the top interest and its score; "
        "each: those and every topic's score.",
    )

    @model_validator(mode="after")
    def _unique(self) -> Self:
        seen: set[str] = set()
        for index, topic in enumerate(self.topics):
            if topic.id in seen:
                raise LocatedError(("topics", index, "id"), f"topic id {topic.id!r} appears twice")
            seen.add(topic.id)
        return self

    def fields(self) -> list[str]:
        """Every activity field a topic reads."""
        return list(dict.fromkeys(f for t in self.topics for f in t.patterns))

    def types(self) -> set[ActivityType]:
        return {kind for topic in self.topics for kind in topic.types}

    def columns(self) -> list[str]:
        """The columns of scored output they add: the top interest, its score, each topic's."""
        return [TOP_INTEREST, INTEREST_SCORE, *(topic_column(t.id) for t in self.topics)]


TOP_INTEREST = "top_interest"
INTEREST_SCORE = "interest_score"


def topic_column(topic_id: str) -> str:
    """The output column (and written field key) of one topic's score."""
    return f"interest_{topic_id}"


def interest_clashes(
    interests: Interests | None, taken: Mapping[str, object]
) -> list[LocatedError]:
    """Topics whose column would take the name of a dimension (`taken`)."""
    if interests is None:
        return []
    return [
        LocatedError(
            ("interests", "topics", index, "id"),
            f"topic {topic.id!r}: its column {topic_column(topic.id)!r} is a dimension's name",
        )
        for index, topic in enumerate(interests.topics)
        if topic_column(topic.id) in taken
    ]


def glob_match(pattern: str, text: str) -> bool:
    """Whether `text` matches the glob `pattern` as a whole (`*` any run, `?` one
    character), both already case-folded. Greedy with one point to come back to (the
    last `*`), so the time is at most the product of their lengths."""
    p = t = 0
    star = resume = -1
    while t < len(text):
        if p < len(pattern) and pattern[p] == "*":
            star, resume = p, t
            p += 1
        elif p < len(pattern) and (pattern[p] == "?" or pattern[p] == text[t]):
            p += 1
            t += 1
        elif star >= 0:
            resume += 1
            p, t = star + 1, resume
        else:
            return False
    while p < len(pattern) and pattern[p] == "*":
        p += 1
    return p == len(pattern)
