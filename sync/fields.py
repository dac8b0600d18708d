"""What is written back: one field per value, named and shaped for each system.

A `FieldMap` is one rule set's fields in one system: their names follow the
system's naming rule from a prefix (or a rename), their types what the system
can hold (`Capabilities`), and the values are text the system accepts. The
values are rounded to what a rep reads (whole points, reasons with whole
points that add up to the score), so that decay moves a written value only
when it crosses a whole point; `scored_at` is written along with a change but
never causes one. The reasons text is written along with every change, and causes
one on its own only when its substance changes (`REASONS_KEY`, `scoring.due`): a
rule starts or stops counting, its count or its own whole points change, or a
dimension's limit takes off other whole points. A shift of the apportioned points
between reasons, the score unchanged, writes nothing: the reasons written last
still add up to the score beside them. `scoring.due.due_in` bounds when any value
`FieldMap.differs` compares may change by time alone.

A disqualified contact's written score is `DISQUALIFIED_SCORE`, below every
qualified contact's (whose written score never goes below `LOWEST_SCORE`), so
that a view sorted by score and a workflow on it never take it for a good
lead; the `disqualified` field says so, and the reasons open with why and
with the points it had: `DISQUALIFIED: reported spam (score -1000; 73 points
before) · -50 reported spam (disqualifies) · ...`, the rest adding up to 73.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from connectors.attributes import AttributeMap
from connectors.protocol import Capabilities, FieldKind, FieldSpec, Held, Write
from scoring import (
    INTEREST_SCORE,
    SEPARATOR,
    TOP_INTEREST,
    VELOCITY_BUCKETS,
    Interests,
    RuleSet,
    ScoreBatch,
    VelocityBuckets,
    ensure_utc,
    format_reasons,
    number,
    reasons_key,
    topic_column,
    velocity_bucket,
    whole_points,
)

if TYPE_CHECKING:
    from scoring import InterestScores

SCORED_AT = "scored_at"
VELOCITY = "velocity"
"""The velocity bucket's field, written only when the rules' `velocity` block says `write`."""
DISQUALIFIED = "disqualified"
RFM, RFM_SCORE, RFM_SEGMENT = "rfm", "rfm_score", "rfm_segment"
"""RFM's digits, their sum and segment, written only when the rules' `rfm` block says `write`."""
REASONS_SHOWN = 3
REASONS_MAX_CHARS = 1000
DISQUALIFIED_SCORE = -1000
"""The score written for every disqualified contact."""
LOWEST_SCORE = DISQUALIFIED_SCORE + 1
"""The lowest score written for a qualified contact, however negative its points."""
REASONS_KEY = "~reasons"
"""Kept beside the values written, never sent (no system names a field so): the
substance of the reasons (`scoring.reasons_key`), which `differs` compares instead of
their text."""


ACCOUNT_SPECS = (
    ("account_score", "Account score", "The account's fit plus its engagement."),
    ("account_fit", "Account fit", "Points of the rules' account fit rules its attributes meet."),
    ("account_engagement", "Account engagement", "Engagement activities of its people."),
)
"""The number fields of an account's company record: key, label, description."""


@functools.lru_cache(maxsize=8)
def timestamp(moment: datetime) -> str:
    """A moment as written back: UTC to the second, with a Z."""
    return ensure_utc(moment).isoformat(timespec="seconds").replace("+00:00", "Z")


class FieldNameError(ValueError):
    """A field name the system cannot hold (too long, or against its naming rule)."""


def field_spec(
    capabilities: Capabilities,
    key: str,
    name: str,
    label: str,
    kind: FieldKind,
    about: str,
    options: tuple[str, ...] = (),
) -> FieldSpec:
    """One field as `capabilities`' system holds it: its name checked against the system's
    rule (`FieldNameError`), its kind shaped to what the system has, enumeration options
    kept only for an enumeration."""
    problem = capabilities.name_problem(name)
    if problem is not None:
        raise FieldNameError(f"field for {key}: {problem}")
    shaped = capabilities.kind(kind)
    kept = options if shaped == "enumeration" else ()
    return FieldSpec(key, name, label, shaped, kept, about)


@dataclass(frozen=True)
class FieldMap:
    """The fields of one rule set in one system, with their names and types there."""

    specs: tuple[FieldSpec, ...]
    capabilities: Capabilities
    buckets: VelocityBuckets | None = None
    """The rules' velocity buckets, when their field is written."""
    accounts: tuple[FieldSpec, ...] = ()
    """The fields of the accounts' company records (`sync.account_sync`), when written."""

    @classmethod
    def for_rules(
        cls,
        rules: RuleSet,
        capabilities: Capabilities,
        prefix: str = "leadscore_",
        names: Mapping[str, str] | None = None,
    ) -> FieldMap:
        """The fields `rules` writes, named by the system's rule from `prefix` unless
        `names` renames them; raises `FieldNameError` for a name the system refuses."""
        renamed = dict(names or {})

        def spec(
            key: str, label: str, kind: FieldKind, about: str, options: tuple[str, ...] = ()
        ) -> FieldSpec:
            name = renamed.get(key) or capabilities.field_name(prefix, key)
            return field_spec(capabilities, key, name, label, kind, about, options)

        about = descriptions(rules)
        specs = [spec("score", "Lead score", "number", about["score"])]
        for name, dimension in rules.dimensions.items():
            label = dimension.label or name.replace("_", " ")
            specs.append(spec(name, f"Lead score: {label}", "number", about[name]))
        if rules.grades is not None:
            grades = tuple(band.grade for band in rules.grades.bands)
            specs.append(spec("grade", "Lead grade", "enumeration", about["grade"], grades))
        if rules.stages is not None:
            stages = tuple(stage.name for stage in rules.stages.ladder)
            kind: FieldKind = "enumeration" if capabilities.stage_ordered else "text"
            specs.append(spec("stage", "Lead stage", kind, about["stage"], stages))
        if rules.velocity is not None and rules.velocity.write:
            label, text = "Lead score velocity", about[VELOCITY]
            specs.append(spec(VELOCITY, label, "enumeration", text, VELOCITY_BUCKETS))
        if rules.rfm is not None and rules.rfm.write:
            specs.append(spec(RFM, "RFM", "text", about[RFM]))
            specs.append(spec(RFM_SCORE, "RFM score", "number", about[RFM_SCORE]))
            if rules.rfm.segments:
                named = tuple(s.name for s in rules.rfm.segments)
                label, text = "RFM segment", about[RFM_SEGMENT]
                specs.append(spec(RFM_SEGMENT, label, "enumeration", text, named))
        interests = rules.interests
        if interests is not None and interests.write != "none":
            ids = tuple(topic.id for topic in interests.topics)
            specs.append(
                spec(TOP_INTEREST, "Top interest", "enumeration", about[TOP_INTEREST], ids)
            )
            specs.append(
                spec(INTEREST_SCORE, "Top interest score", "number", about[INTEREST_SCORE])
            )
            for topic in interests.topics if interests.write == "each" else []:
                key = topic_column(topic.id)
                specs.append(spec(key, f"Interest: {topic.text}", "number", about[key]))
        specs.append(spec(DISQUALIFIED, "Lead disqualified", "boolean", about[DISQUALIFIED]))
        specs.append(spec("reasons", "Lead score reasons", "text", about["reasons"]))
        specs.append(spec(SCORED_AT, "Lead scored at", "datetime", about[SCORED_AT]))
        sharing: dict[str, list[FieldSpec]] = {}
        for made in specs:  # field names compare without case in every system we know
            sharing.setdefault(made.name.lower(), []).append(made)
        for same in sharing.values():
            if len(same) > 1:
                raise FieldNameError(
                    f"fields for {' and '.join(f.key for f in same)}: both would be named "
                    f"{same[0].name!r} in {capabilities.system}"
                )
        written = rules.velocity if rules.velocity is not None and rules.velocity.write else None
        accounts = []
        if rules.accounts is not None and rules.accounts.write:
            for key, label, what in ACCOUNT_SPECS:
                accounts.append(spec(key, label, "number", what))
            if rules.accounts.stages:
                ladder = tuple(stage.name for stage in rules.accounts.stages)
                kind = "enumeration" if capabilities.stage_ordered else "text"
                what = "The account's stage, the last of the rules' account stages it meets."
                accounts.append(spec("account_stage", "Account stage", kind, what, ladder))
        return cls(tuple(specs), capabilities, written, tuple(accounts))

    @property
    def system(self) -> str:
        return self.capabilities.system

    @cached_property
    def names(self) -> dict[str, str]:
        """Field key (score, a dimension, grade, stage, reasons, scored_at) -> its name here."""
        return {s.key: s.name for s in self.specs}

    def pulled(
        self, rules: RuleSet, attributes: AttributeMap | None = None, also: Sequence[str] = ()
    ) -> list[str]:
        """The contact fields a connector reads: those giving the rules' attributes and
        `also` (the extra models' and their conditions', `sync.models`) (by
        `attributes`, the system's mapping), what it reads back of ours (the stage the CRM
        holds is a floor for the next one, even when the store forgot it) and the
        system's lifecycle field (a mapped stage moves it forward only)."""
        wanted = list(dict.fromkeys([*rules.contact_fields(), *also]))
        own = attributes.sources(wanted) if attributes is not None else wanted
        stage = [self.names["stage"]] if "stage" in self.names else []
        lifecycle = self.capabilities.lifecycle_field
        held = [*stage, *([lifecycle] if lifecycle else [])]
        return list(dict.fromkeys([*own, *held]))

    def held(self, attributes: Mapping[str, Any]) -> Held:
        """What a record pulled from this system holds of ours (see `Capabilities.held`)."""
        return self.capabilities.held(attributes, self.names)

    def values(self, batch: ScoreBatch, row: int, scored_at: datetime) -> dict[str, str]:
        """The text of every field for one scored contact, keyed by field name (of those
        the map has: an extra model's, `sync.shadow_write`, has fewer)."""
        names = self.names
        limit = self.capabilities.max_text_length
        disqualified = bool(batch.disqualified[row])
        written = written_score(batch, row)
        out = {names["score"]: str(written)}
        for dimension, dimension_points in zip(
            batch.dimension_names, batch.whole_dimensions(row), strict=True
        ):
            if dimension in names:  # an extra model's fields may leave them out
                out[names[dimension]] = str(dimension_points)
        if "grade" in names:
            out[names["grade"]] = batch.grade(row) or ""
        if "stage" in names:
            out[names["stage"]] = batch.stage(row) or ""
        if VELOCITY in names and batch.velocity is not None and self.buckets is not None:
            out[names[VELOCITY]] = velocity_bucket(float(batch.velocity[row]), self.buckets) or ""
        if RFM in names and batch.rfm is not None:  # empty without a purchase
            out[names[RFM]] = batch.rfm.code(row) or ""
            out[names[RFM_SCORE]] = str(int(batch.rfm.total[row]) or "")
            if RFM_SEGMENT in names:
                out[names[RFM_SEGMENT]] = batch.rfm.segment(row) or ""
        if TOP_INTEREST in names and batch.interests is not None:
            out.update(interest_values(batch.interests, row, names))
        if DISQUALIFIED in names:
            out[names[DISQUALIFIED]] = "true" if disqualified else "false"
        if "reasons" in names:
            chars = min(REASONS_MAX_CHARS, limit)
            out[names["reasons"]] = written_reasons(batch, row, written, chars)
        if SCORED_AT in names:
            moment_text = self.capabilities.moment_text or timestamp
            out[names[SCORED_AT]] = moment_text(scored_at)
        for name, value in out.items():
            if len(value) > limit:
                out[name] = value[:limit]
        if "reasons" in names:
            out[REASONS_KEY] = reasons_key(batch, row)
        return out

    def cleared(self) -> dict[str, str]:
        """Every field emptied: what an excluded contact's record is written once, and a
        forgotten person's records with `forget --clear-crm` (each connector writes "" as
        its system clears a field: Salesforce null, or an unchecked box)."""
        return {spec.name: "" for spec in self.specs}

    def differs(self, values: Mapping[str, str], before: Mapping[str, str] | None) -> bool:
        """Whether a value a reader sees changed since the last write: any field but the
        scoring time and the reasons text, or the reasons' substance (`REASONS_KEY`; a
        write recorded before it was kept compares no reasons)."""
        if before is None:
            return True
        skip = {self.names.get(SCORED_AT), self.names.get("reasons"), REASONS_KEY}
        if any(before.get(k) != v for k, v in values.items() if k not in skip):
            return True
        return REASONS_KEY in before and before[REASONS_KEY] != values.get(REASONS_KEY)

    def same(self, values: Mapping[str, str], other: Mapping[str, str]) -> bool:
        """Whether two writes set the same fields to the same values, scoring time aside."""
        stamp = self.names.get(SCORED_AT)
        return {k: v for k, v in values.items() if k != stamp} == {
            k: v for k, v in other.items() if k != stamp
        }


def sent(values: Mapping[str, str]) -> dict[str, str]:
    """The values as a system receives and a person reads them: without `REASONS_KEY`."""
    out = dict(values)
    out.pop(REASONS_KEY, None)
    return out


def sent_writes(writes: Sequence[Write]) -> list[Write]:
    """The writes as a system receives them (`sent`)."""
    return [Write(w.record_id, sent(w.values), w.email) for w in writes]


def interest_values(
    interests: InterestScores, row: int, names: Mapping[str, str]
) -> dict[str, str]:
    """The interest fields of one contact: its top topic's id ("" without one) and that
    topic's whole points, and each topic's whole points where those are written."""
    topic = interests.topic(row)
    out = {
        names[TOP_INTEREST]: "" if topic is None else topic.id,
        names[INTEREST_SCORE]: str(whole_points(float(interests.top_score[row]))),
    }
    for index, each in enumerate(interests.interests.topics):
        key = topic_column(each.id)
        if key in names:
            out[names[key]] = str(whole_points(float(interests.rounded[row, index])))
    return out


def written_score(batch: ScoreBatch, row: int) -> int:
    """The score written for one scored contact: its whole points, never below
    `LOWEST_SCORE`, or `DISQUALIFIED_SCORE` for a disqualified contact."""
    if batch.disqualified[row]:
        return DISQUALIFIED_SCORE
    return max(whole_points(float(batch.total[row])), LOWEST_SCORE)


def written_reasons(batch: ScoreBatch, row: int, written: int, max_chars: int) -> str:
    """The reasons text written beside `written`: the reasons as every view shows them,
    which add up to the points; when the written score is not the points (disqualified,
    or below the lowest score written), a first line says which score was written and
    how many points the reasons below add up to."""
    points = whole_points(float(batch.total[row]))
    if written == points and not batch.disqualified[row]:
        return batch.reasons_text(row, limit=REASONS_SHOWN, max_chars=max_chars)
    if batch.disqualified[row]:
        why = ", ".join(dict.fromkeys(r.label for r in batch.reasons(row) if r.disqualifies))
        head = f"DISQUALIFIED: {why}" if why else "DISQUALIFIED"
    else:
        head = f"LOWEST SCORE {LOWEST_SCORE}"
    head += f" (score {written}; {number(points)} points before)"
    room = max(0, max_chars - len(head) - len(SEPARATOR))
    body = format_reasons(batch.explained(row), shown=REASONS_SHOWN, max_chars=room)
    return (head + SEPARATOR + body)[:max_chars] if body else head[:max_chars]


def descriptions(rules: RuleSet) -> dict[str, str]:
    """What each field holds, as a rep reads it in the CRM (HubSpot shows a property's
    description as its help text)."""
    dims = list(rules.dimensions.items())
    names = ", ".join(d.label or n for n, d in dims)
    out = {
        "score": (
            f"Lead score: the sum of the dimension scores ({names}). Each dimension is the sum "
            "of its rules' points (recent activity counts more, old activity decays) up to "
            f"its cap. A disqualified contact gets {DISQUALIFIED_SCORE}, below every "
            "qualified contact (see Lead disqualified). Written by leadscore."
        ),
        DISQUALIFIED: (
            "Yes when a disqualifying rule matched (e.g. a spam report, a competitor, a "
            "student): not a lead, whatever its points. Lead score is then "
            f"{DISQUALIFIED_SCORE} and the reasons start with why and the points it had."
        ),
        "reasons": (
            "Why the contact has its score: the rules that gave the most points, then the "
            "others together ('+12 from 4 more'); the whole points add up to Lead score. "
            "'decayed from 30': older activity lost points over time; 'capped at 45': a rule "
            "or dimension reached its most; 'x3': three matching activities."
        ),
        SCORED_AT: "When leadscore last scored this contact (UTC).",
    }
    for name, dimension in dims:
        cap = f", at most {number(dimension.cap)}" if dimension.cap is not None else ""
        out[name] = (
            f"Lead score from the {dimension.label or name} rules: their points after decay"
            f"{cap}. The dimensions add up to Lead score (unless disqualified)."
        )
    if rules.grades is not None:
        bands = ", ".join(
            f"{b.grade} {number(b.min)}+" if b.min is not None else f"{b.grade} below"
            for b in rules.grades.bands
        )
        out["grade"] = f"A letter for {rules.grades.dimension} alone: {bands}."
    if rules.velocity is not None:
        v = rules.velocity
        out[VELOCITY] = (
            f"How Lead score moved over the last {number(v.days)} days: heating up (up "
            f"{number(v.heating)} or more), cooling (down {number(-v.cooling)} or more) or "
            "steady; empty until a score that old is known."
        )
    if rules.rfm is not None:
        how = "by fixed bounds" if not rules.rfm.quintiles else "by quintiles over all contacts"
        kinds = ", ".join(t.value for t in rules.rfm.activity)
        out[RFM] = (
            f"Recency, frequency and monetary value of purchases ({kinds}), each 1 (low) to 5 "
            f"(high) {how}: 543 is R5 F4 M3. Empty without a purchase."
        )
        out[RFM_SCORE] = "The sum of the three RFM digits, 3 to 15; empty without a purchase."
        out[RFM_SEGMENT] = "The first RFM segment of the rule file the digits match."
    if rules.interests is not None:
        out |= interest_descriptions(rules.interests)
    if rules.stages is not None:
        ladder = " > ".join(s.name for s in rules.stages.ladder)
        out["stage"] = (
            f"Where the contact stands: {ladder}. Scoring never moves it back; stages owned "
            "by sales are left as sales set them."
        )
    return out


def interest_descriptions(interests: Interests) -> dict[str, str]:
    """What the interest fields hold (`descriptions`)."""
    topics = ", ".join(t.id for t in interests.topics)
    out = {
        TOP_INTEREST: (
            f"The topic this contact showed most interest in ({topics}), from the pages, "
            "campaigns and forms they engaged with; empty when none. A tie goes to the topic "
            "listed first in the rule file."
        ),
        INTEREST_SCORE: "The top interest's points (recent activity counts more).",
    }
    for topic in interests.topics:
        cap = f", at most {number(topic.cap)}" if topic.cap is not None else ""
        out[topic_column(topic.id)] = f"Interest in {topic.text}: its points after decay{cap}."
    return out
