"""Shadow rules: a second rule file scored beside the live one in the same run, and compared.

    the run's people (loaded once, no second pull) -> the live rules -> the writes, as ever
                                                   -> the shadow rules -> nothing written
    both scores as written (whole points) -> ranks (ties share their mean rank)
        -> Spearman's rank correlation, stage and grade changes, the biggest rank moves

The shadow batch is scored from the same people, activities, moment and stage floors as
the live one; nothing of it reaches a system, a cursor, a due moment or the history. With
sales capacity (the shadow file's `capacity`, else the live one's where its stage is on
the shadow ladder), the shadow batch's hand-over is decided before the live one, against
the same week's places and queue, and rolled back (`sync.capacity.hand_over` without
`claim`): the comparison says how many the shadow rules would hand over, and the live
counts never see it. A
new rule set is so proven on the people it would score before it goes live. Asked
(`--shadow-write`, `SyncOptions.shadow_fields`), the shadow score, stage and grade are
written to fields of their own, with a diff of their own (`sync.shadow_write`).
"""

from __future__ import annotations

import textwrap
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from scoring import (
    ACTIVITY_TYPES,
    SYSTEM_FIELD,
    RuleSet,
    ScoreBatch,
    joined_exclusions,
    whole_points,
)
from sync.backtest_report import WIDTH
from sync.capacity import HandoverQueue
from sync.fields import written_score

if TYPE_CHECKING:
    from datetime import datetime

    from rich.console import Console

    from sync.people import People
    from sync.pipeline import Sync, Written


@dataclass(frozen=True)
class Mover:
    """One person whose rank moves between the live and the shadow rules."""

    person: str
    email: str | None
    live: int
    shadow: int
    """Each score as it is (or would be) written: whole points, -1000 when disqualified."""
    live_rank: float
    shadow_rank: float
    """1 for the best score; tied scores share the mean of the ranks they span."""
    live_reason: str
    shadow_reason: str
    """The top reasons of each score, as a CRM field shows them (`top_reasons`)."""

    @property
    def move(self) -> float:
        """Ranks gained under the shadow rules (negative: lost)."""
        return self.live_rank - self.shadow_rank

    def as_dict(self) -> dict[str, Any]:
        """The mover by person id, without the address: the run's summary is kept in the
        `runs` table, which an erasure leaves, and logged at INFO (docs/privacy.md)."""
        return {
            "person": self.person,
            "live_score": self.live,
            "shadow_score": self.shadow,
            "live_rank": self.live_rank,
            "shadow_rank": self.shadow_rank,
            "live_reason": self.live_reason,
            "shadow_reason": self.shadow_reason,
        }


@dataclass(frozen=True)
class ShadowComparison:
    """How the shadow rules rank the people a run scored, against the live rules."""

    name: str
    """The shadow rule file, as given."""
    people: int
    everyone: bool
    """Whether the run scored everyone in the store (else only who was due)."""
    spearman: float | None
    """Rank correlation of the two scores; None under two people or when one is constant."""
    stage_changes: int
    stage_moves: dict[str, int]
    """"live -> shadow" stage -> how many people, most first."""
    grade_changes: int
    movers: list[Mover]
    notes: list[str] = field(default_factory=list)
    """What the shadow rules read that the live run did not pull."""
    seconds: float = 0.0
    handover: dict[str, Any] | None = None
    """With sales capacity, the shadow rules' hand-over decision (`shadow_handover`)."""
    written: dict[str, dict[str, int]] | None = None
    """Per system, the shadow fields' writes planned, written and failed
    (`sync.shadow_write`); None when they are not written."""
    batch: ScoreBatch | None = field(default=None, repr=False, compare=False)
    """The shadow batch, kept until the shadow fields are written, then let go."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "rules": self.name,
            "people": self.people,
            "everyone": self.everyone,
            "spearman": None if self.spearman is None else round(self.spearman, 4),
            "stage_changes": self.stage_changes,
            "stage_moves": dict(self.stage_moves),
            "grade_changes": self.grade_changes,
            "movers": [m.as_dict() for m in self.movers],
            "notes": list(self.notes),
            "seconds": round(self.seconds, 3),
            "handover": self.handover,
            **({} if self.written is None else {"written": self.written}),
        }


def average_ranks(values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """The rank of each value, 1 for the highest; tied values share the mean of their ranks."""
    array = np.asarray(values, dtype=np.float64)
    size = len(array)
    if not size:
        return np.zeros(0, dtype=np.float64)
    order = np.argsort(-array, kind="stable")
    ordered = array[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], size]
    group = np.repeat(np.arange(len(starts)), ends - starts)
    ranks = np.empty(size, dtype=np.float64)
    ranks[order] = ((starts + 1 + ends) / 2.0)[group]
    return ranks


def spearman(a: npt.ArrayLike, b: npt.ArrayLike) -> float | None:
    """Spearman's rank correlation (ties at their mean rank); None when it is not defined:
    under two values, or one side all equal."""
    left, right = average_ranks(a), average_ranks(b)
    if len(left) < 2 or np.ptp(left) == 0 or np.ptp(right) == 0:
        return None
    left, right = left - left.mean(), right - right.mean()
    return float((left @ right) / np.sqrt((left @ left) * (right @ right)))


REASONS_WIDTH = WIDTH - len("      shadow: ")
"""The characters a line of reasons holds beside its label."""


def top_reasons(batch: ScoreBatch, row: int) -> str:
    """The two reasons that moved the score most and the rest summed, as a CRM field
    shows them (their points add up to the score; fewer reasons rather than a cut one
    where they would not fit a line), or a dash."""
    return batch.reasons_text(row, limit=2, max_chars=REASONS_WIDTH) or "-"


def labels(batch: ScoreBatch, kind: str) -> npt.NDArray[np.object_]:
    """Each contact's stage or grade name (None where it has none), on whole columns."""
    rules = batch.rules
    names: list[str] = []
    if kind == "stage":
        codes = batch.stage_codes
        names = [s.name for s in rules.stages.ladder] if rules.stages else []
    else:
        codes = batch.grade_codes
        names = [b.grade for b in rules.grades.bands] if rules.grades else []
    if codes is None or not names:
        return np.full(len(batch), None, dtype=object)
    # a code of -1 (none) reads the None put last
    return np.array([*names, None], dtype=object)[codes]


def compare(
    live: ScoreBatch,
    shadow: ScoreBatch,
    *,
    name: str,
    top: int = 10,
    everyone: bool = True,
) -> ShadowComparison:
    """The two batches of the same people compared, on those both scored: the contacts
    either rule set excludes are left out (`RuleSet.exclude`), in the live batch's order."""
    at = {str(c): row for row, c in enumerate(shadow.contact_ids.tolist())}
    mine = [str(c) for c in live.contact_ids.tolist()]
    if not (set(mine) - at.keys() <= set(shadow.excluded_ids)) or not (
        at.keys() - set(mine) <= set(live.excluded_ids)
    ):
        raise ValueError("the shadow batch must score the live batch's people")
    pairs = [(row, at[c]) for row, c in enumerate(mine) if c in at]
    ours = np.array([p[0] for p in pairs], dtype=np.intp)
    theirs = np.array([p[1] for p in pairs], dtype=np.intp)
    size = len(pairs)
    live_scores = np.array([written_score(live, int(r)) for r in ours], dtype=np.float64)
    shadow_scores = np.array([written_score(shadow, int(r)) for r in theirs], dtype=np.float64)
    live_ranks, shadow_ranks = average_ranks(live_scores), average_ranks(shadow_scores)
    before, after = labels(live, "stage")[ours], labels(shadow, "stage")[theirs]
    changed = np.flatnonzero(before != after).tolist()
    stages = Counter(f"{before[i] or '-'} -> {after[i] or '-'}" for i in changed)
    grades = labels(live, "grade")[ours] != labels(shadow, "grade")[theirs]
    moved = np.abs(live_ranks - shadow_ranks)
    # the biggest moves first; among equal moves the better live score, then input order
    order = np.lexsort((np.arange(size), -live_scores, -moved))
    movers = [
        Mover(
            str(live.contact_ids[ours[i]]),
            live.emails.value(int(ours[i])),
            int(live_scores[i]),
            int(shadow_scores[i]),
            float(live_ranks[i]),
            float(shadow_ranks[i]),
            top_reasons(live, int(ours[i])),
            top_reasons(shadow, int(theirs[i])),
        )
        for i in order[: max(top, 0)].tolist()
        if moved[i] > 0
    ]
    return ShadowComparison(
        name,
        size,
        everyone,
        spearman(live_scores, shadow_scores),
        sum(stages.values()),
        dict(stages.most_common()),
        int(np.count_nonzero(grades)),
        movers,
    )


def unread_by_live(live: RuleSet, shadow: RuleSet) -> list[str]:
    """What the shadow rules read that the live run's pull does not bring: contact and
    activity fields, and activities further back than the live rules look."""
    notes = []
    contact = [f for f in shadow.contact_fields() if f not in set(live.contact_fields())]
    if contact:
        notes.append(f"contact fields the live rules do not pull, blank here: {', '.join(contact)}")
    read = {*live.activity_fields(), SYSTEM_FIELD}  # every activity's system is stored
    activity = [f for f in shadow.activity_fields() if f not in read]
    if activity:
        notes.append(
            f"activity fields the live rules do not pull, blank here: {', '.join(activity)}"
        )
    further = []
    for kind in ACTIVITY_TYPES:
        before, after = live.horizon_days([kind]), shadow.horizon_days([kind])
        if before is not None and after != 0 and (after is None or after > before):
            further.append(str(kind))
    if further:
        notes.append(
            "activities read further back than the live rules pull, "
            f"older ones may be missing: {', '.join(further)}"
        )
    return notes


@dataclass(frozen=True)
class ShadowScored:
    """The people of a run scored under the shadow rules, with their dry hand-over."""

    batch: ScoreBatch
    queue: HandoverQueue | None
    """The queue after the shadow rules' hand-over decision, rolled back (None: no capacity)."""
    seconds: float


def with_capacity(shadow: RuleSet, live: RuleSet) -> RuleSet:
    """The shadow rules with the live `capacity` when they have none and its stage is on
    their ladder: what sales can absorb is the same whatever the rules."""
    if shadow.capacity is not None or live.capacity is None or shadow.stages is None:
        return shadow
    try:
        live.capacity.stage_index(shadow.stages)
    except ValueError:  # no such stage on the shadow ladder, or it is the floor
        return shadow
    return shadow.model_copy(update={"capacity": live.capacity})


def shadow_scored(
    job: Sync, shadow: RuleSet, people: People, as_of: datetime, written: Written
) -> ShadowScored:
    """The people of the run scored under `shadow` (same store reading, moment and stage
    floors), their hand-over decided and rolled back; nothing is written or saved. Called
    before the live decision, so that both meet the same week's places."""
    from sync.incremental import score_people

    began = time.perf_counter()
    # who the live rules exclude is not scored under the shadow rules either
    both = joined_exclusions(job.rules.exclude, shadow.exclude)
    scored = shadow if both is shadow.exclude else shadow.model_copy(update={"exclude": both})
    queues: list[HandoverQueue] = []
    scored = with_capacity(scored, job.rules)
    batch, _ = score_people(job, people, as_of, written, rules=scored, queues=queues)
    return ShadowScored(batch, queues[0] if queues else None, time.perf_counter() - began)


def shadow_handover(shadow: HandoverQueue, live: HandoverQueue | None) -> dict[str, Any]:
    """The shadow rules' hand-over beside the live one's: how many it would hand over this
    period and now, how many of those the live rules handed over now too, who would wait."""
    return {
        **shadow.as_dict(),
        "now": len(shadow.now),
        "same_as_live": len(set(shadow.now) & set(live.now if live is not None else ())),
    }


def score_shadow(
    job: Sync,
    shadow: RuleSet,
    scored: ShadowScored,
    live: ScoreBatch,
    live_queue: HandoverQueue | None,
    *,
    name: str,
    top: int,
    everyone: bool,
) -> ShadowComparison:
    """The shadow batch compared with the live one the run scored (`shadow_scored`)."""
    began = time.perf_counter()
    found = compare(live, scored.batch, name=name, top=top, everyone=everyone)
    notes = [*unread_by_live(job.rules, shadow), *scored.batch.notes]
    handover = None if scored.queue is None else shadow_handover(scored.queue, live_queue)
    seconds = scored.seconds + time.perf_counter() - began
    return replace(found, notes=notes, seconds=seconds, handover=handover, batch=scored.batch)


def clip(text: str, width: int) -> str:
    """`text` within `width` characters, cut with an ellipsis."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def rank(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.1f}"


def shadow_lines(found: ShadowComparison, top_stage_moves: int = 4) -> list[str]:
    """The comparison as text within `WIDTH` columns."""
    scope = "everyone" if found.everyone else "the people due this run (--full: everyone)"
    lines = [clip(f"shadow rules {found.name}, on {found.people:,} people: {scope}", WIDTH)]
    correlation = "n/a" if found.spearman is None else f"{found.spearman:.3f}"
    lines.append(f"  rank correlation with the live rules (Spearman): {correlation}")
    moves = ", ".join(f"{k} {n:,}" for k, n in list(found.stage_moves.items())[:top_stage_moves])
    more = len(found.stage_moves) - top_stage_moves
    moves += f", {more} more" if more > 0 else ""
    moves = f" ({moves})" if moves else ""
    lines.append(clip(f"  stage changes: {found.stage_changes:,}{moves}", WIDTH))
    lines.append(f"  grade changes: {found.grade_changes:,}")
    handed = found.handover
    if handed is not None:
        last = handed.get("last_score")
        lines.append(
            clip(
                f"  hand-over {handed['period']}: would hand over {handed['now']:,} now "
                f"({handed['same_as_live']:,} as the live rules), {handed['waiting']:,} waiting"
                + ("" if last is None else f", last at score {whole_points(float(last))}"),
                WIDTH,
            )
        )
    if found.movers:
        lines.append("  biggest rank moves (live -> shadow):")
    for mover in found.movers:
        who = clip(mover.email or f"person {mover.person}", 34)
        ranks = f"rank {rank(mover.live_rank)} -> {rank(mover.shadow_rank)}"
        lines.append(clip(f"  {who:<34} {ranks:<22} score {mover.live} -> {mover.shadow}", WIDTH))
        lines.append(clip(f"      live:   {mover.live_reason}", WIDTH))
        lines.append(clip(f"      shadow: {mover.shadow_reason}", WIDTH))
    for system, done in (found.written or {}).items():
        lines.append(
            f"  {system} shadow fields: {done['planned']:,} planned, {done['written']:,} "
            f"written, {done['failed']:,} failed"
        )
    for note in found.notes:
        lines += textwrap.wrap(note, WIDTH, initial_indent="  note: ", subsequent_indent="    ")
    return lines


def print_shadow(console: Console, found: ShadowComparison) -> None:
    """The comparison at the end of a sync's output."""
    from rich.markup import escape  # here: a trigger imports this module and prints nothing

    for line in shadow_lines(found):
        console.print(escape(line), highlight=False, soft_wrap=True)
