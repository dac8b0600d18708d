"""The batch engine: a rule set, contacts, activities and a moment in, scores out.

Pure and columnar. Activities after `as_of` (one moment, or one per contact) and
machine clicks are set aside, the rest are grouped by type once, and each rule
then reads only the rows of its own types: a few numpy passes per rule, whatever the batch size. The
engine keeps each rule's points (after decay and caps) and match count for the
contacts it matched (`RuleHits`), so that each score can be explained and the
explanation sums to the score.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt

from scoring.accounts import Rollups, account_columns
from scoring.condition_keys import conditions_key, where_key
from scoring.conditions import Conditions, Operators
from scoring.errors import InputError
from scoring.evaluate import column_lookup, evaluate
from scoring.explain import RuleHits, ScoreBatch
from scoring.filters import ActivityGroup, ClickChecks, Grouping, shared_groups, usable_activities
from scoring.frames import ActivityFrame, BoolArray, Column, ContactFrame, FloatArray
from scoring.grading import grade_bands
from scoring.interests import interest_scores
from scoring.measuring import (
    bucket_points,
    date_values,
    decayed,
    held_at_cap,
    numeric_values,
    unit_points,
)
from scoring.records import TYPE_CODES, ActivityType, ensure_utc
from scoring.rfm import Bounds, RfmScores, rfm_scores
from scoring.rfm_rules import RFM_FIELDS
from scoring.rule_columns import dimension_columns
from scoring.rules import Rule, RuleSet, StageCondition
from scoring.type_rows import empty_group, usable_type_codes
from scoring.unmatched import unmatched
from scoring.velocity import PastScores, check_past, moved_within, velocity

_DAY = 86_400.0
Rows = npt.NDArray[np.intp]
Counts = npt.NDArray[np.integer[Any]]
"""Matches per contact: as `np.bincount` counts them, or 0 and 1 for a contact rule."""


def score(
    rules: RuleSet,
    contacts: ContactFrame,
    activities: ActivityFrame,
    as_of: datetime | FloatArray,
    *,
    reached: Sequence[str | None] | None = None,
    past: PastScores | None = None,
    rfm: Bounds | None = None,
    accounts: Rollups | None = None,
) -> ScoreBatch:
    """Score every contact of the frame as of the given moment.

    `as_of` is one moment for everyone, or one per contact row (epoch seconds, as
    `ActivityFrame.occurred_at`): each contact is then scored as of its own moment in
    the same pass, exactly as a call with that moment alone would score it (a
    backtest scores each lead as of the day it was scored). Nothing after a
    contact's moment counts, and windows and decay are measured back from it.

    `reached`, one entry per contact row, is the stage scoring gave each contact
    before (None: none): the new stage is never lower, but unlike the ladder's
    `current_field` it does not make a sales-owned stage stick.

    `past`, per window in days, is the score each contact row had that many days
    before its moment (NaN: none; `scoring.velocity`): velocity is the total minus
    it. History is the caller's to look up, never the engine's.

    `rfm`: the quintile bounds of the population (`scoring.rfm`), needed when the rules
    score an RFM measure by quintiles; the population is the caller's to measure.
    `accounts`: the roll-ups of the population's accounts (`scoring.accounts`), needed
    when the rules have an `accounts` block. Either may be one per contact, each the
    population's as of that contact's moment (`scoring.as_of`).
    """
    if reached is not None and len(reached) != len(contacts):
        raise InputError(
            f"reached stages: {len(reached)} given for {len(contacts)} contacts; one per contact"
        )
    check_past(past, len(contacts))
    moment: float | FloatArray
    if isinstance(as_of, datetime):
        moment = ensure_utc(as_of).timestamp()
    else:
        moment = np.asarray(as_of, dtype=np.float64)
        if moment.shape != (len(contacts),):
            raise InputError(
                f"as_of: {moment.size} moments given for {len(contacts)} contacts; one per contact"
            )
        if not np.isfinite(moment).all():
            raise InputError("as_of: every contact's moment must be a finite time")
    return _Run(rules, contacts, activities, moment, reached, past, rfm, accounts).result()


@dataclass(eq=False)
class _Run:
    rules: RuleSet
    contacts: ContactFrame
    activities: ActivityFrame
    as_of: float | FloatArray
    """One moment for every contact, or one per contact row (epoch seconds)."""
    reached: Sequence[str | None] | None = None
    past: PastScores | None = None
    rfm_bounds: Bounds | None = None
    account_rollups: Rollups | None = None
    _grouping: Grouping = field(default_factory=Grouping)
    _masks: dict[str, BoolArray] = field(default_factory=dict)
    _where: dict[tuple[str, frozenset[ActivityType]], BoolArray] = field(default_factory=dict)
    _where_uses: Counter[tuple[str, frozenset[ActivityType]]] = field(default_factory=Counter)
    _dates: dict[str, FloatArray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        rows = self.activities.contact_rows
        if rows.size and (int(rows.min()) < 0 or int(rows.max()) >= len(self.contacts)):
            raise InputError("activities refer to contact rows outside the contact frame")
        if isinstance(self.as_of, float):  # one moment: the groups are the frame's
            bots = self.rules.filters.bot_clicks
            self._grouping = shared_groups(self.activities, self.as_of, bots)

    @cached_property
    def n(self) -> int:
        return len(self.contacts)

    def moments(self, who: npt.NDArray[np.int32]) -> float | FloatArray:
        """The moment each of the contact rows `who` is scored as of."""
        return self.as_of if isinstance(self.as_of, float) else self.as_of[who]

    @property
    def usable(self) -> BoolArray:
        """Activities that count: not after `as_of`, not made by a machine."""
        return self._filtered[1]

    @property
    def checks(self) -> ClickChecks | None:
        """The machine-click filter's checks the activities allow (None: turned off)."""
        return self._filtered[0]

    @cached_property
    def _filtered(self) -> tuple[ClickChecks | None, BoolArray]:
        return usable_activities(self.activities, self.as_of, self.rules.filters.bot_clicks)

    @property
    def usable_types(self) -> npt.NDArray[np.int8]:
        """Each activity's type code, or -1 where it does not count (kept with the groups)."""
        if self._grouping.types is None:
            self._grouping.types = np.where(self.usable, self.activities.type_codes, np.int8(-1))
        return self._grouping.types

    @cached_property
    def _present(self) -> Container[int]:
        """The type codes of the usable activities, of a small frame (`usable_type_codes`)."""
        return usable_type_codes(self.usable_types)

    def group(self, types: list[ActivityType]) -> ActivityGroup:
        """The usable activities of some types, read once per run.

        Within one type, rows keep their input order; several types are laid
        end to end in the order of their codes, so the sums of one contact run
        in the same order whatever else is in the batch.
        """
        key = frozenset(types)
        groups = self._grouping.groups
        found = groups.get(key)
        if found is None:
            code = TYPE_CODES[next(iter(key))]
            if len(key) == 1 and code not in self._present:  # a person alone has few types
                found = empty_group(self.activities)
            elif len(key) == 1:
                acts = self.activities
                rows = np.flatnonzero(self.usable_types == code)
                who, ages = acts.contact_rows[rows], acts.occurred_at[rows]
                np.subtract(self.moments(who), ages, out=ages)  # in place: no second array
                found = ActivityGroup(rows, who, ages)
            else:
                parts = [self.group([t]) for t in sorted(key, key=TYPE_CODES.__getitem__)]
                found = ActivityGroup(
                    np.concatenate([p.rows for p in parts]),
                    np.concatenate([p.who for p in parts]),
                    np.concatenate([p.ages for p in parts]),
                )
            for array in (found.rows, found.who, found.ages):
                array.flags.writeable = False  # shared by the runs over the frame
            groups[key] = found
        return found

    def contact_mask(self, conditions: Conditions) -> BoolArray:
        # by value: rules that repeat a condition (a variant of a rule) share its mask
        key = conditions_key(conditions)
        found = self._masks.get(key)
        if found is None:
            found = self._masks[key] = evaluate(conditions, self.column, self.n)
        return found

    def activity_mask(self, conditions: Conditions, types: list[ActivityType]) -> BoolArray:
        """Which of the usable activities of some types meet the conditions: kept while
        a later rule repeats them (`_where_uses`), evaluated once for all of those."""
        key = where_key(conditions, types)
        found = self._where.pop(key, None)
        if found is None:
            rows = self.group(types).rows
            found = evaluate(conditions, self.activities.column, len(self.activities), rows)
        self._where_uses[key] -= 1
        if self._where_uses[key] > 0:
            self._where[key] = found
        return found

    @cached_property
    def rfm(self) -> RfmScores | None:
        """The contacts' RFM on their purchases (`scoring.rfm`)."""
        spec = self.rules.rfm
        if spec is None:
            return None
        rows = self.group(spec.activity).rows
        return rfm_scores(spec, self.activities, rows, self.n, self.rfm_bounds, self.as_of)

    @cached_property
    def accounts(self) -> dict[str, Column]:
        """The account fields (`scoring.accounts`): their roll-ups, the contact's own."""
        spec = self.rules.accounts
        if spec is None:
            return {}
        kept = self._grouping.counted
        return account_columns(spec, self.contacts, self.group, self.account_rollups, kept)

    def column(self, name: str) -> Column | None:
        """A contact field, RFM's and accounts' own (`rfm_r`, `account_people`, ...) among them."""
        if name in RFM_FIELDS and self.rfm is not None:
            return self.rfm.field(name)
        if name.startswith("account") and name in self.accounts:
            return self.accounts[name]
        return self.contacts.column(name)

    # -- rules ----------------------------------------------------------------------------

    def apply(self, rule: Rule) -> tuple[FloatArray, Counts, FloatArray | None, FloatArray | None]:
        """The rule's points per contact (after decay, once and cap), its match count, how
        long decay leaves a capped rule at its cap, and what a measuring rule measured."""
        counts: Counts
        measure = None
        if rule.measured:
            points, fired, measure = self._measured(rule)
            counts = fired.view(np.uint8)
        elif rule.activity is None:
            assert rule.contact is not None  # the schema requires one or the other
            matched = self.contact_mask(rule.contact)
            points = np.where(matched, rule.points, 0.0)
            counts = matched.view(np.uint8)  # 0 or 1, without a copy
        else:
            points, counts = self._behaviour(rule, rule.activity)
        held = None
        if rule.cap is not None:
            if rule.half_life_days is not None:
                held = held_at_cap(points, rule.cap, rule.half_life_days * _DAY)
            np.clip(points, -rule.cap, rule.cap, out=points)
        return points, counts, held, measure

    def _measured(self, rule: Rule) -> tuple[FloatArray, BoolArray, FloatArray]:
        """A measuring rule's points (before its cap), where it fired, and its measure:
        the value of its contact field, or the count of its matching activities."""
        if rule.value is not None:
            values = numeric_values(self.column(rule.value), self.n)
        else:
            types = rule.types
            assert types is not None  # the schema requires activity types without `value`
            window = rule.absent.days if rule.absent is not None else rule.window_days
            who, _ = self._matching(rule, types, window, with_contact=False)
            values = np.bincount(who, minlength=self.n).astype(np.float64)
        if rule.absent is not None:
            fired = values == 0
            points = np.where(fired, rule.points, 0.0)
        elif rule.min_count is not None:
            fired = values >= rule.min_count
            points = np.where(fired, rule.points, 0.0)
        elif rule.per is not None:
            points, fired = unit_points(values, rule.per, rule.points)
        else:
            assert rule.buckets is not None  # the schema requires one of them
            points, fired = bucket_points(values, rule.buckets)
        if rule.contact is not None:
            fired &= self.contact_mask(rule.contact)
            points[~fired] = 0.0
        return points, fired, values

    def _matching(
        self, rule: Rule, types: list[ActivityType], window: float | None, with_contact: bool
    ) -> tuple[npt.NDArray[np.int32], FloatArray]:
        """The contact row and age of each of the rule's matching activities: of its types,
        meeting its `where`, in its window (back from the moment, or `since` a contact
        date) and, `with_contact`, of a contact meeting its `contact` conditions."""
        group = self.group(types)
        keep: BoolArray | None = None
        if rule.where:
            keep = self.activity_mask(rule.where, types)
        if window is not None:
            if rule.since is None:
                recent = group.ages <= window * _DAY
            else:
                start = self.contact_dates(rule.since)[group.who]
                with np.errstate(invalid="ignore"):
                    after = self.activities.occurred_at[group.rows] - start
                    recent = (after >= 0) & (after <= window * _DAY)  # NaN: never
            keep = recent if keep is None else keep & recent
        if with_contact and rule.contact is not None:
            fits = self.contact_mask(rule.contact)[group.who]
            keep = fits if keep is None else keep & fits
        if keep is None:
            return group.who, group.ages
        return group.who[keep], group.ages[keep]

    def contact_dates(self, name: str) -> FloatArray:
        """A contact date field as epoch seconds (NaN: missing or unreadable), read once."""
        found = self._dates.get(name)
        if found is None:
            found = self._dates[name] = date_values(self.contacts.column(name), self.n)
        return found

    def _behaviour(self, rule: Rule, types: list[ActivityType]) -> tuple[FloatArray, Counts]:
        who, ages = self._matching(rule, types, rule.window_days, with_contact=True)
        if not who.size:  # no activity matched: a person scored alone has few
            return unmatched(rule, self.n)
        counts = np.bincount(who, minlength=self.n)
        half_life = None if rule.half_life_days is None else rule.half_life_days * _DAY
        if rule.once:
            if half_life is None:
                return np.where(counts > 0, rule.points, 0.0), counts
            youngest = np.full(self.n, np.inf)
            np.minimum.at(youngest, who, ages)
            return np.where(counts > 0, decayed(youngest, half_life, rule.points), 0.0), counts
        if half_life is None:
            return counts.astype(np.float64) * rule.points, counts
        weights = decayed(ages, half_life, rule.points)
        # bincount returns integers for an empty input, even with weights
        summed = np.bincount(who, weights=weights, minlength=self.n).astype(np.float64, copy=False)
        return summed, counts

    # -- facts for stages -------------------------------------------------------------------

    @cached_property
    def bant(self) -> tuple[list[str], BoolArray]:
        if self.rules.bant is None:
            return [], np.zeros((self.n, 0), dtype=bool)
        criteria = self.rules.bant.criteria()
        met = np.zeros((self.n, len(criteria)), dtype=bool)
        for column, conditions in enumerate(criteria.values()):
            met[:, column] = self.contact_mask(conditions)
        return list(criteria), met

    def has_activity(
        self, types: list[ActivityType], within_days: float | None, where: Conditions | None = None
    ) -> BoolArray:
        found = np.zeros(self.n, dtype=bool)
        for kind in types:  # type by type: whether any matches, not in which order
            group = self.group([kind])
            keep: BoolArray | None = None
            if within_days is not None:
                keep = group.ages <= within_days * _DAY
            if where:
                fits = evaluate(where, self.activities.column, len(self.activities), group.rows)
                keep = fits if keep is None else keep & fits
            found[group.who if keep is None else group.who[keep]] = True
        return found

    def holds(self, cond: StageCondition, levels: dict[str, FloatArray]) -> BoolArray:
        mask = np.ones(self.n, dtype=bool)
        for key, minimum in cond.min.items():
            mask &= levels[key] >= minimum
        if cond.has_email is not None:
            mask &= (self.contacts.emails.codes >= 0) == cond.has_email
        if cond.has_activity is not None:
            mask &= self.has_activity(cond.has_activity, cond.within_days, cond.where)
        if cond.bant_min is not None:
            mask &= self.bant[1].sum(axis=1) >= cond.bant_min
        if cond.contact is not None:
            mask &= self.contact_mask(cond.contact)
        if cond.velocity is not None:
            mask &= moved_within(
                velocity(levels["total"], self.past, cond.velocity.days), cond.velocity
            )
        if cond.any is not None:
            mask &= np.logical_or.reduce([self.holds(c, levels) for c in cond.any])
        for child in cond.all or []:
            mask &= self.holds(child, levels)
        return mask

    def stages(
        self, levels: dict[str, FloatArray], disqualified: BoolArray
    ) -> npt.NDArray[np.int16]:
        ladder = self.rules.stages
        assert ladder is not None
        reached = np.full(self.n, -1, dtype=np.int16)
        for index, stage in enumerate(ladder.ladder):
            met = np.ones(self.n, bool) if stage.when is None else self.holds(stage.when, levels)
            reached[met] = index
        prior = self.prior_stages(ladder.current_field)
        scored = self.reached_stages()
        sales_owned = np.array([s.owner == "sales" for s in ladder.ladder] + [False])
        # a disqualified contact is not advanced past the ladder's floor by scoring
        reached = np.where(disqualified, np.minimum(reached, 0), reached)
        # A stage scoring reached before is a floor, but only a stage someone set in the
        # CRM's own field (`current_field`) is kept as sales set it.
        forward = np.maximum(np.maximum(prior, scored), reached)
        return np.where(sales_owned[prior], prior, forward).astype(np.int16)

    def prior_stages(self, field: str | None) -> npt.NDArray[np.int16]:
        """Stage already reached per contact, from the named contact field (-1: none)."""
        ladder = self.rules.stages
        assert ladder is not None
        column = self.contacts.column(field) if field else None
        if column is None:
            return np.full(self.n, -1, dtype=np.int16)
        found = np.full(self.n, -1, dtype=np.int16)
        for index, stage in enumerate(ladder.ladder):
            table, codes = column_lookup(column, Operators(equals=stage.name))
            found[table[codes]] = index
        return found

    def reached_stages(self) -> npt.NDArray[np.int16]:
        """The `reached` argument as ladder indexes (-1: none, or not a stage of the ladder)."""
        ladder = self.rules.stages
        assert ladder is not None
        if self.reached is None:
            return np.full(self.n, -1, dtype=np.int16)
        index = {stage.name: i for i, stage in enumerate(ladder.ladder)}
        return np.fromiter((index.get(s or "", -1) for s in self.reached), np.int16, self.n)

    # -- the whole ------------------------------------------------------------------------

    def result(self) -> ScoreBatch:
        rules, dims = self.rules, list(self.rules.dimensions)
        # column-major: every per-dimension pass reads contiguous memory
        raw = np.zeros((self.n, len(dims)), dtype=np.float64, order="F")
        disqualified = np.zeros(self.n, dtype=bool)
        self._where_uses.update(
            where_key(rule.where, rule.types) for rule in rules.rules if rule.types and rule.where
        )
        hits = []
        for rule, column in zip(rules.rules, dimension_columns(rules), strict=True):
            points, counts, held, measure = self.apply(rule)
            raw[:, column] += points
            if rule.disqualify:
                disqualified |= counts > 0
            hits.append(RuleHits.matched(points, counts, held, measure))
        capped = raw.copy(order="F")
        for column, dim in enumerate(rules.dimensions.values()):
            if dim.cap is not None or dim.floor is not None:
                np.clip(capped[:, column], dim.floor, dim.cap, out=capped[:, column])
        total = np.zeros(self.n, dtype=np.float64)
        for column in range(len(dims)):
            total += capped[:, column]
        levels = {name: capped[:, i] for i, name in enumerate(dims)} | {"total": total}
        stage_codes = None if rules.stages is None else self.stages(levels, disqualified)
        grade_codes = None if rules.grades is None else grade_bands(rules, levels)
        bant_names, bant_met = self.bant
        return ScoreBatch(
            rules=rules,
            contact_ids=self.contacts.ids,
            emails=self.contacts.emails,
            total=total,
            dimensions=capped,
            uncapped=raw,
            rule_hits=tuple(hits),
            disqualified=disqualified,
            stage_codes=stage_codes,
            grade_codes=grade_codes,
            bant_names=bant_names,
            bant_met=bant_met,
            notes=(
                *(self.checks.notes if self.checks else ()),
                *(self.rfm.notes if self.rfm else ()),
            ),
            velocity=None
            if rules.velocity is None
            else velocity(total, self.past, rules.velocity.days),
            rfm=self.rfm,
            interests=None
            if rules.interests is None
            else interest_scores(rules.interests, self.activities, self.contacts, self.group),
        )


def activity_groups(
    rules: RuleSet, contacts: ContactFrame, activities: ActivityFrame, as_of: float
) -> tuple[Callable[[list[ActivityType]], ActivityGroup], dict[str, object]]:
    """The usable activities of some types as the engine reads them (for a population's
    account roll-ups, `scoring.accounts`), and where counts over them are kept (`Grouping`)."""
    run = _Run(rules, contacts, activities, as_of)
    return run.group, run._grouping.counted
