"""The rule set: the schema of a `leadscore.yaml` file, validated with pydantic.

A rule set names dimensions (sub-scores whose sum is the total), rules that
add points to one dimension, an optional BANT block, a stage ladder, letter
grades on one dimension and the filters applied to activities before scoring.
`docs/rules.md` is the reference for users; `leadscore schema` prints the
JSON Schema for editors.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from typing import Literal, Self

from pydantic import Field, model_validator

from scoring.account_rules import Accounts
from scoring.capacity_rules import Capacity, handover_problem
from scoring.conditions import Conditions
from scoring.exclude_rules import Exclusion
from scoring.interest_rules import (
    INTEREST_SCORE,
    TAG_FIELD,
    TOP_INTEREST,
    Interests,
    interest_clashes,
)
from scoring.measures import Absent, Bucket, measure_problems
from scoring.records import ActivityType
from scoring.rfm_rules import CURRENCY_FIELD, RFM_FIELDS, SYSTEM_FIELD, Rfm
from scoring.ruletypes import ActivityTypes, Amount, Days, Filters, LocatedError, Strict
from scoring.velocity_rules import VelocityBuckets, VelocityCondition, windows

IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")
RESERVED_DIMENSIONS = frozenset({"total"})
OUTPUT_COLUMNS = frozenset(
    {"id", "email", "score", "stage", "grade", "reasons", "disqualified", "bant", "lead"}
    | {"rfm", "rfm_score", "rfm_segment"}
    | {TOP_INTEREST, INTEREST_SCORE}
)
"""Columns of scored output besides the dimensions: no dimension or rule may take a name
of these, or its column would overwrite one of them."""


class Dimension(Strict):
    """A named sub-score; `cap` and `floor` bound it after its rules are summed."""

    label: str | None = None
    cap: Amount | None = Field(None, gt=0, description="Highest value the dimension can reach.")
    floor: Amount | None = Field(None, description="Lowest value the dimension can fall to.")

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if self.cap is not None and self.floor is not None and self.floor > self.cap:
            raise ValueError(f"floor {self.floor} is above cap {self.cap}")
        return self


class Rule(Strict):
    """Points for an activity (behaviour) or for who the contact is (fit)."""

    id: str = Field(description="Unique name, lower_snake_case; shown in explanations.")
    label: str | None = Field(None, description="Short text for a sales rep, e.g. 'guide'.")
    dimension: str | None = Field(
        None,
        description="Dimension the points go to (default: fit for profile rules, "
        "engagement for email activities, activity for the rest).",
    )
    activity: ActivityTypes | None = Field(
        None, description="Activity type(s) this behaviour rule counts."
    )
    where: Conditions = Field(
        default_factory=dict, description="Conditions on the activity's attributes."
    )
    contact: Conditions | None = Field(
        None, description="Conditions on the contact's attributes (a profile rule on its own)."
    )
    points: Amount = Field(0, description="Points per match; negative to subtract.")
    once: bool = Field(False, description="Count only the most recent matching activity.")
    cap: Amount | None = Field(
        None, gt=0, description="Most points (in absolute value) this rule gives one contact."
    )
    window_days: Days | None = Field(None, description="Only activities of the last N days count.")
    half_life_days: Days | None = Field(
        None, description="Points halve every N days since the activity."
    )
    disqualify: bool = Field(False, description="A match disqualifies the contact.")
    value: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="Numeric contact field this rule measures, with `per` or `buckets` "
        "(e.g. time_on_site); a missing or non-numeric value gives no points.",
    )
    unit: str | None = Field(
        None, min_length=1, max_length=12, description="Unit shown after `value`, e.g. s."
    )
    per: Amount | None = Field(
        None,
        gt=0,
        description="`points` for every whole `per` units of `value`, or for every whole "
        "`per` matching activities; needs `cap`.",
    )
    buckets: list[Bucket] | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="[low, high, points] from low to high: a value (or activity count) from "
        "low (included) up to high (excluded) gets the points; low == high is that one "
        "value; null leaves an end open; a value in no bucket gets 0.",
    )
    min_count: int | None = Field(
        None,
        strict=True,
        ge=1,
        le=1_000_000,
        description="The points, once, when at least this many activities match.",
    )
    absent: Absent | None = Field(
        None, description="The points when no activity of these types falls in the last days."
    )
    since: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="Contact date field (e.g. created_at): `window_days` then counts "
        "activities 0 to N days after it, instead of back from the scoring moment.",
    )

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if not IDENTIFIER.match(self.id):
            raise ValueError(f"id {self.id!r} must be lower_snake_case (a-z, 0-9, _)")
        if self.activity is None and self.absent is None and self.value is None:
            if self.contact is None:
                raise ValueError(
                    "a rule needs `activity` (behaviour), `contact` (profile), "
                    "`value` (a number) or `absent`"
                )
            for name in ("where", "window_days", "half_life_days"):
                if name in self.model_fields_set:
                    raise ValueError(f"`{name}` applies only to activity rules")
            if self.once:
                raise ValueError("`once` applies only to activity rules")
        problems = measure_problems(self)
        if problems:
            raise LocatedError.all_of(problems)
        return self

    @property
    def is_behaviour(self) -> bool:
        return self.activity is not None or self.absent is not None

    @property
    def measured(self) -> bool:
        """Whether the rule turns a number per contact into points (`scoring.measures`)."""
        return (
            self.value is not None
            or self.per is not None
            or self.buckets is not None
            or self.min_count is not None
            or self.absent is not None
        )

    @property
    def types(self) -> list[ActivityType] | None:
        """The activity types the rule reads: its own, or those whose absence it rewards."""
        return self.activity if self.absent is None else self.absent.activity

    def default_dimension(self) -> str:
        types = self.types
        if types is None:
            return "fit"
        if all(t.value.startswith("email_") for t in types):
            return "engagement"
        return "activity"

    @property
    def text(self) -> str:
        return self.label or self.id.replace("_", " ")


class StageCondition(Strict):
    """Entry conditions of a stage; every field given must hold."""

    min: dict[str, Amount] = Field(
        default_factory=dict,
        description="Minimum per dimension, or `total`, e.g. {fit: 25, total: 50}.",
    )
    has_email: bool | None = Field(None, description="The contact has (or lacks) an email.")
    has_activity: ActivityTypes | None = Field(
        None, description="The contact has at least one activity of one of these types."
    )
    within_days: Days | None = Field(None, description="Limits `has_activity` to the last N days.")
    where: Conditions | None = Field(
        None,
        description="Limits `has_activity` to activities whose fields match, e.g. "
        "{outcome: {equals: completed, or_missing: true}} for meetings held.",
    )
    bant_min: int | None = Field(
        None, ge=0, le=4, description="At least N of the BANT criteria are met."
    )
    contact: Conditions | None = Field(None, description="Conditions on contact attributes.")
    velocity: VelocityCondition | None = Field(
        None, description="The total moved by `min`..`max` points over the last `days` days."
    )
    any: list[StageCondition] | None = Field(None, description="At least one of these holds.")
    all: list[StageCondition] | None = Field(None, description="Every one of these holds.")

    @model_validator(mode="after")
    def _window_needs_activity(self) -> Self:
        if self.within_days is not None and self.has_activity is None:
            raise ValueError("`within_days` needs `has_activity`")
        if self.where is not None and self.has_activity is None:
            raise ValueError("`where` needs `has_activity`")
        return self


class Stage(Strict):
    """One rung of the ladder."""

    name: str = Field(min_length=1)
    when: StageCondition | None = Field(
        None, description="Entry conditions; a stage without them is the ladder's floor."
    )
    owner: Literal["marketing", "sales"] = Field(
        "marketing", description="Sales-owned stages, once reached, are never changed by scoring."
    )
    lead: bool = Field(
        True,
        description="Whether contacts on this stage are leads; false (customers, say) keeps "
        "them out of the lead ranking, below every lead.",
    )


class StageLadder(Strict):
    """Ordered stages, lowest first; a contact sits on the highest stage whose conditions hold."""

    current_field: str | None = Field(
        None,
        description="Contact attribute holding the stage already reached; stages never "
        "move below it, and a sales-owned one is kept as it is.",
    )
    ladder: list[Stage] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Self:
        seen: set[str] = set()
        for stage in self.ladder:
            key = stage.name.casefold()
            if key in seen:
                raise ValueError(f"stage {stage.name!r} appears twice")
            seen.add(key)
        return self


class GradeBand(Strict):
    grade: str = Field(min_length=1, max_length=3)
    min: Amount | None = Field(None, description="Lowest dimension value for this grade.")


class Grades(Strict):
    """Letter grades from one dimension's value, best band first."""

    dimension: str = "fit"
    bands: list[GradeBand] = Field(min_length=1)

    @model_validator(mode="after")
    def _descending(self) -> Self:
        mins = [b.min for b in self.bands]
        if any(m is None for m in mins[:-1]):
            raise ValueError("only the last band may omit `min`")
        bounds = [m for m in mins if m is not None]
        if bounds != sorted(bounds, reverse=True):
            raise ValueError("bands must be listed from the highest `min` to the lowest")
        return self


class Bant(Strict):
    """Budget, authority, need and timeframe, each met when its conditions hold."""

    budget: Conditions | None = None
    authority: Conditions | None = None
    need: Conditions | None = None
    timeframe: Conditions | None = None

    def criteria(self) -> dict[str, Conditions]:
        return {k: v for k, v in self if v is not None}


DEFAULT_DIMENSIONS = {"fit": Dimension(), "activity": Dimension(), "engagement": Dimension()}


class RuleSet(Strict):
    """A whole rule file."""

    version: Literal[1] = 1
    name: str | None = None
    dimensions: dict[str, Dimension] = Field(default_factory=lambda: dict(DEFAULT_DIMENSIONS))
    rules: list[Rule] = Field(min_length=1)
    bant: Bant | None = None
    stages: StageLadder | None = None
    grades: Grades | None = None
    filters: Filters = Field(default_factory=Filters)
    velocity: VelocityBuckets | None = None
    rfm: Rfm | None = None
    capacity: Capacity | None = Field(
        None, description="How many leads the hand-over stage takes per week (`sync.capacity`)."
    )
    exclude: Exclusion | None = Field(
        None, description="Contacts never scored: their fields are cleared, reports omit them."
    )
    interests: Interests | None = None
    accounts: Accounts | None = Field(
        None, description="People's accounts and roll-ups over them (account_* fields)."
    )

    @model_validator(mode="after")
    def _references(self) -> Self:
        from scoring.references import reference_problems  # it reads this module's models

        problems = reference_problems(
            self.dimensions, list(enumerate(self.rules)), self.bant, self.stages, self.grades
        ) + interest_clashes(self.interests, self.dimensions)
        if self.rfm is None:
            problems += self._rfm_unset()
        if self.capacity is not None:
            found = handover_problem(self.capacity, self.stages)
            problems += [found] if isinstance(found, LocatedError) else []
        if problems:
            raise LocatedError.all_of(problems)
        return self

    def _rfm_unset(self) -> list[LocatedError]:
        """RFM's fields read without an `rfm` block: at the rule that reads one, else at the
        part (stages, BANT) that does."""
        found, rest = [], set(RFM_FIELDS) & set(self.contact_fields())
        why = "is RFM's, which needs an `rfm` block"
        for index, rule in enumerate(self.rules):
            for name in [*(rule.contact or {}), rule.value]:
                if name in RFM_FIELDS:
                    at = ("value",) if name == rule.value else ("contact", name)
                    found.append(LocatedError(("rules", index, *at), f"{name} {why}"))
                    rest.discard(name)
        for name in sorted(rest):
            part = "stages" if name in _all_stage_fields(self.stages) else "bant"
            found.append(LocatedError((part,), f"{name} {why}"))
        return found

    def velocity_windows(self) -> list[float]:
        """The windows (days) over which the stages and the velocity bucket read velocity."""
        ladder = self.stages.ladder if self.stages is not None else []
        conditions = [c for s in ladder for c in stage_conditions(s.when)]
        return windows([c.velocity for c in conditions if c.velocity], self.velocity)

    def dimension_of(self, rule: Rule) -> str:
        return rule.dimension or rule.default_dimension()

    def activity_fields(self) -> list[str]:
        """Every activity attribute the rules and the bot-click filter read."""
        names = ["campaign"]  # the filter ties clicks to the send of the same campaign
        if self.rfm is not None:  # a purchase's system and currency: one sale counted once
            names += [self.rfm.amount, SYSTEM_FIELD, CURRENCY_FIELD]
        for rule in self.rules:
            names += list(rule.where)
        if self.stages is not None:
            for stage in self.stages.ladder:
                names += _stage_fields(stage.when, "where")
        names += self.interests.fields() if self.interests is not None else []
        return list(dict.fromkeys(names))

    def horizon_days(self, types: Collection[ActivityType]) -> float | None:
        """How many days back the rules read activities of `types`: the longest window of
        the rules, stage conditions, interest topics and account roll-ups counting any of
        them; None when
        one of those has no window (a half-life alone never stops counting, and a window
        `since` a contact's date may lie far back), 0 when none counts them. A connector
        need not read activities of `types` older than that."""
        wanted, longest = set(types), 0.0
        if self.rfm is not None and wanted & set(self.rfm.activity):
            return None  # every purchase counts, however old
        windows: list[float | None] = [
            rule.absent.days if rule.absent else None if rule.since else rule.window_days
            for rule in self.rules
            if set(rule.types or ()) & wanted
        ]
        topics = self.interests.topics if self.interests is not None else []
        windows += [t.window_days for t in topics if set(t.types) & wanted]
        if self.accounts is not None:
            spec = self.accounts
            counted = [(spec.engagement.activity, spec.engagement.window_days)]
            counted += [(c.activity, c.window_days) for c in spec.counts.values()]
            windows += [days for types, days in counted if set(types) & wanted]
        for stage in self.stages.ladder if self.stages is not None else []:
            windows += [
                cond.within_days
                for cond in stage_conditions(stage.when)
                if set(cond.has_activity or ()) & wanted
            ]
        for days in windows:
            if days is None:
                return None
            longest = max(longest, days)
        return longest

    def contact_fields(self) -> list[str]:
        """Every contact attribute the rules read, so connectors pull those fields too."""
        names: list[str] = []
        for rule in self.rules:
            names += list(rule.contact or {})
            names += [name for name in (rule.value, rule.since) if name is not None]
        if self.bant is not None:
            for conditions in self.bant.criteria().values():
                names += list(conditions)
        if self.stages is not None:
            if self.stages.current_field:
                names.append(self.stages.current_field)
            for stage in self.stages.ladder:
                names += _stage_fields(stage.when, "contact")
        names += self.exclude.contact_fields() if self.exclude is not None else []
        names += [self.capacity.by] if self.capacity is not None and self.capacity.by else []
        if self.interests is not None and any(t.tags for t in self.interests.topics):
            names.append(TAG_FIELD)
        own = set(RFM_FIELDS) if self.rfm is not None else set()  # computed, not pulled
        if self.accounts is not None:
            names += self.accounts.key + self.accounts.company_fields()  # no company: people's
            own |= set(self.accounts.fields())
        return [name for name in dict.fromkeys(names) if name not in own]


def stage_conditions(cond: StageCondition | None) -> Iterator[StageCondition]:
    """A stage condition and every condition nested in it (`any`, `all`)."""
    if cond is None:
        return
    yield cond
    for child in [*(cond.any or []), *(cond.all or [])]:
        yield from stage_conditions(child)


def _all_stage_fields(stages: StageLadder | None) -> set[str]:
    ladder = stages.ladder if stages is not None else []
    return {name for stage in ladder for name in _stage_fields(stage.when, "contact")}


def _stage_fields(condition: StageCondition | None, part: Literal["contact", "where"]) -> list[str]:
    """The fields a stage condition reads of the contact, or of its activities (`where`)."""
    if condition is None:
        return []
    names = list(getattr(condition, part) or {})
    for child in [*(condition.any or []), *(condition.all or [])]:
        names += _stage_fields(child, part)
    return names
