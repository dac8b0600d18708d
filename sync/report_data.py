"""The numbers of the HTML report, as plain data.

`report_data` reads a scored batch (and, where known, each contact's outcome and the
store's score history) into a `ReportData` of dataclasses holding lists and numbers
only. `sync.report_html` draws it; `leadscore report`, the demo and the `/report` page
of `leadscore serve` all build it here, so that they cannot disagree. The figures of
outcomes are `scoring.backtest`'s (`backtest_of`, `roc_of`), never computed again.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from scoring import (
    Backtest,
    RocCurve,
    RuleSet,
    ScoreBatch,
    backtest_of,
    roc_of,
    whole_points,
)
from sync.fields import DISQUALIFIED_SCORE
from sync.words import counted

if TYPE_CHECKING:
    from sync.app import Leadscore
    from sync.handover_schema import QueueRows

TOP = 25
"""Leads listed with their reasons."""
BINS = 20
"""About how many bars a distribution has."""
GRADE_BANDS = 5
"""About how many bands of the other dimensions a grade is counted in."""
MOMENTS = 120
"""Moments of the score history drawn one by one; more are drawn a day at a time."""
WEEKS = 12
"""The latest weeks of hand-overs drawn."""


@dataclass(frozen=True)
class Distribution:
    """How many contacts have each score of one dimension (or the total), in whole
    points: `counts[i]` contacts lie in [`edges[i]`, `edges[i + 1]`)."""

    name: str
    label: str
    edges: list[float]
    counts: list[int]


@dataclass(frozen=True)
class FunnelStep:
    """One stage of the ladder: the contacts on it now, those on it or above, and the
    share of those on the stage below or above who reached it."""

    stage: str
    at: int
    reached: int
    conversion: float | None
    """`reached` over the stage below's `reached` (None for the lowest stage, or when
    no contact reached the stage below)."""


@dataclass(frozen=True)
class Lead:
    rank: int
    id: str
    email: str | None
    score: int
    dimensions: dict[str, int]
    grade: str | None
    stage: str | None
    disqualified: bool
    reasons: str
    """As the CRM field shows them (`ScoreBatch.reasons_text`); plain text, not HTML."""


@dataclass(frozen=True)
class RuleShare:
    """What one rule gave: how many contacts it fired for, and its points after decay
    and its cap, summed over them (before the dimensions' caps and floors)."""

    id: str
    label: str
    dimension: str
    """The dimension's label (its name when it has none)."""
    people: int
    points: float


@dataclass(frozen=True)
class GradeGrid:
    """Contacts by grade (rows, best first; "none" last when some have no grade) and by
    band of their score without the grade's dimension (columns)."""

    dimension: str
    against: str
    grades: list[str]
    bands: list[str]
    counts: list[list[int]]


@dataclass(frozen=True)
class Movement:
    """Written scores over time, from the store's history: at each moment scores were
    recorded (or each day, when there are many), the persons scored by then (not
    disqualified), the median and 90th percentile of their scores, and how many
    persons' scores rose and fell at that moment."""

    moments: list[str]
    people: list[int]
    median: list[float]
    upper: list[float]
    rose: list[int]
    fell: list[int]


@dataclass(frozen=True)
class Handovers:
    """Sales capacity's hand-over, from the store: per ISO week and `by` value, the leads
    handed over (against `per_week`, each value's own); the leads waiting now per score
    bin (whole points) and `by` value; how long the oldest has waited; and the score of
    the last lead handed over, the threshold a waiting lead must pass."""

    stage: str
    per_week: int
    by: str | None
    weeks: list[str]
    teams: list[str]
    """The `by` values as shown ("all leads" without `by`, "(no NAME)" for an empty one)."""
    handed: list[list[int]]
    """Per team, per week."""
    edges: list[float]
    waiting: list[list[int]]
    """Per team, per score bin: `waiting[t][i]` leads in [`edges[i]`, `edges[i + 1]`)."""
    waiting_total: int
    oldest_wait: float | None
    """Seconds the longest-waiting lead has waited (None: nobody waits)."""
    last: list[tuple[int, str] | None]
    """Per team, the score (whole points) and week of the last lead handed over."""
    handed_ever: bool = False
    """Some lead was handed over, perhaps before the weeks drawn."""


@dataclass(frozen=True)
class Outcomes:
    outcome: str
    backtest: Backtest
    roc: RocCurve


@dataclass(frozen=True)
class ReportData:
    title: str
    source: str
    made_at: str
    """When the contacts were scored ("": each as of its own moment, the source says so)."""
    contacts: int
    leads: int
    disqualified: int
    distributions: list[Distribution]
    funnel: list[FunnelStep]
    top: list[Lead]
    rules: list[RuleShare]
    grades: GradeGrid | None
    outcomes: Outcomes | None = None
    movement: Movement | None = None
    handovers: Handovers | None = None
    """None from files, or when the rules have no `capacity`."""
    from_store: bool = False
    notes: list[str] = field(default_factory=list)
    """What the page says is missing, and why."""
    unmeasured: str = ""
    """Why outcomes given are not drawn ("": none given, or drawn)."""


def report_data(
    batch: ScoreBatch,
    *,
    source: str,
    made_at: datetime | None,
    top: int = TOP,
    outcome: tuple[str, npt.NDArray[np.bool_]] | None = None,
    history: Sequence[tuple[int, float, int]] | None = None,
    handovers: Handovers | None = None,
    title: str = "leadscore report",
    resamples: int = 200,
    seed: int = 0,
) -> ReportData:
    """The report of `batch`. `outcome`: the outcome column's name and each contact's
    outcome (both outcomes present), for the backtest's figures; `history`: the store's
    (person, at, score) rows in order of time (`sync.history.score_rows`), for the score's
    movement (None: not from a store); `handovers`: the store's hand-over queue;
    `made_at` None: each contact was scored as of its own moment."""
    notes = list(batch.notes)
    outcomes, unmeasured = None, ""
    if outcome is not None:
        name, converted = outcome
        positives = int(np.count_nonzero(converted))
        if len(batch) and positives in (0, len(batch)):  # the rest of the page still holds
            which = "every contact converted" if positives else "no contact converted"
            unmeasured = f"{which} ({name}): lift, ROC and calibration need both outcomes"
        else:
            tested = backtest_of(batch, converted, resamples=resamples, seed=seed)
            outcomes = Outcomes(name, tested, roc_of(batch, converted))
    movement = None
    if history is not None:
        movement = score_movement(history)
        if movement is None:
            notes.append("the store holds no score history yet: run `leadscore sync`.")
    return ReportData(
        title=title,
        source=source,
        made_at=""
        if made_at is None
        else made_at.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        contacts=len(batch),
        leads=int(np.count_nonzero(batch.leads & ~batch.disqualified)),
        disqualified=int(np.count_nonzero(batch.disqualified)),
        distributions=distributions(batch),
        funnel=funnel(batch),
        top=top_leads(batch, top),
        rules=rule_shares(batch),
        grades=grade_grid(batch),
        outcomes=outcomes,
        movement=movement,
        handovers=handovers,
        from_store=history is not None,
        notes=notes,
        unmeasured=unmeasured,
    )


def step_for(low: float, high: float, bins: int) -> float:
    """A round width (1, 2 or 5 times a power of ten, at least 1) that cuts [low, high]
    into about `bins` bins."""
    span = max(high - low, 1.0) / bins
    power = 10.0 ** math.floor(math.log10(span))
    for factor in (1.0, 2.0, 5.0, 10.0):
        if factor * power >= span:
            return max(1.0, factor * power)
    return max(1.0, 10.0 * power)  # pragma: no cover - the loop always returns


def binned(values: npt.NDArray[np.float64], bins: int) -> tuple[list[float], list[int]]:
    """Whole-point values counted in bins of a round width: (edges, counts)."""
    if values.size == 0:
        return [0.0, 1.0], [0]
    low, high = float(values.min()), float(values.max())
    step = step_for(low, high, bins)
    first = math.floor(low / step) * step
    count = int((high - first) // step) + 1
    edges = (first + step * np.arange(count + 1)).tolist()
    return edges, bin_counts(values, edges)


def bin_counts(values: npt.NDArray[np.float64], edges: Sequence[float]) -> list[int]:
    """How many values lie in each bin of `edges` (equal widths, from `binned`); a value
    past the last edge is counted in the last bin."""
    step, bins = edges[1] - edges[0], len(edges) - 1
    which = np.clip(((np.asarray(values) - edges[0]) // step).astype(np.int64), 0, bins - 1)
    counts: list[int] = np.bincount(which, minlength=bins).tolist()
    return counts


def _whole(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    whole: npt.NDArray[np.float64] = np.floor(np.asarray(values, dtype=np.float64) + 0.5)
    return whole


def distributions(batch: ScoreBatch) -> list[Distribution]:
    """The total's distribution, then each dimension's, in whole points."""
    found = []
    edges, counts = binned(_whole(batch.total), BINS)
    found.append(Distribution("total", "total score", edges, counts))
    for name, dimension in batch.rules.dimensions.items():
        edges, counts = binned(_whole(batch.dimension(name)), BINS)
        found.append(Distribution(name, dimension.label or name, edges, counts))
    return found


def funnel(batch: ScoreBatch) -> list[FunnelStep]:
    """The ladder's stages, lowest first (none without a ladder)."""
    if batch.stage_codes is None or batch.rules.stages is None:
        return []
    codes = np.asarray(batch.stage_codes)
    steps: list[FunnelStep] = []
    for index, stage in enumerate(batch.rules.stages.ladder):
        reached = int(np.count_nonzero(codes >= index))
        below = steps[-1].reached if steps else 0
        conversion = reached / below if steps and below else None
        steps.append(
            FunnelStep(stage.name, int(np.count_nonzero(codes == index)), reached, conversion)
        )
    return steps


def top_leads(batch: ScoreBatch, top: int) -> list[Lead]:
    """The best `top` leads as a rep's view ranks them (`ScoreBatch.ranking`)."""
    names = batch.dimension_names
    leads = []
    for rank, row in enumerate(batch.ranking()[:top].tolist(), start=1):
        whole = batch.whole_dimensions(row)
        leads.append(
            Lead(
                rank,
                str(batch.contact_ids[row]),
                batch.emails.value(row),
                whole_points(float(batch.total[row])),
                dict(zip(names, whole, strict=True)),
                batch.grade(row),
                batch.stage(row),
                bool(batch.disqualified[row]),
                batch.reasons_text(row),
            )
        )
    return leads


def rule_shares(batch: ScoreBatch) -> list[RuleShare]:
    """Every rule, by the points it gave (largest in absolute value first)."""
    shares = [
        RuleShare(
            rule.id,
            rule.text,
            _label(batch.rules, batch.rules.dimension_of(rule)),
            int(hits.rows.size),
            float(np.sum(hits.points, dtype=np.float64)),
        )
        for rule, hits in zip(batch.rules.rules, batch.rule_hits, strict=True)
    ]
    return sorted(shares, key=lambda s: (-abs(s.points), -s.people, s.id))


def _label(rules: RuleSet, name: str) -> str:
    """A dimension's label, or its name."""
    found = rules.dimensions.get(name)
    return (found.label if found is not None else None) or name


def grade_grid(batch: ScoreBatch) -> GradeGrid | None:
    """Grades against the score without the grade's dimension (None: no grades)."""
    grades = batch.rules.grades
    if grades is None or batch.grade_codes is None:
        return None
    dimension = grades.dimension
    other = _whole(batch.total) - _whole(batch.dimension(dimension))
    edges, _ = binned(other, GRADE_BANDS)
    codes = np.asarray(batch.grade_codes)
    names = [band.grade for band in grades.bands]
    rows = list(range(len(names)))
    if np.any(codes < 0):
        names.append("none")
        rows.append(-1)
    bands = [f"{_point(a)} to {_point(b - 1)}" for a, b in itertools.pairwise(edges)]
    counts = [bin_counts(other[codes == code], edges) for code in rows]
    label = _label(batch.rules, dimension)
    return GradeGrid(label, f"score without {label}", names, bands, counts)


def _point(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"


def score_movement(rows: Sequence[tuple[int, float, int]]) -> Movement | None:
    """The written scores over time from history rows (person, at, score), oldest first;
    None when there are none. Past `MOMENTS` distinct moments, a day at a time."""
    if not rows:
        return None
    moments = sorted({at for _, at, _ in rows})
    daily = len(moments) > MOMENTS

    def key(at: float) -> float:
        return math.floor(at / 86400) * 86400.0 if daily else at

    current: dict[int, int] = {}
    found = Movement([], [], [], [], [], [])
    index, total = 0, len(rows)
    while index < total:
        group = key(rows[index][1])
        rose = fell = 0
        while index < total and key(rows[index][1]) == group:
            person, _, score = rows[index]
            before = current.get(person)
            if before is not None and before != DISQUALIFIED_SCORE != score:
                rose += score > before
                fell += score < before
            current[person] = score
            index += 1
        scores = np.array([s for s in current.values() if s != DISQUALIFIED_SCORE], dtype=float)
        moment = datetime.fromtimestamp(group, UTC)
        found.moments.append(moment.isoformat(timespec="seconds").replace("+00:00", "Z"))
        found.people.append(int(scores.size))
        found.median.append(float(np.median(scores)) if scores.size else 0.0)
        found.upper.append(float(np.percentile(scores, 90)) if scores.size else 0.0)
        found.rose.append(rose)
        found.fell.append(fell)
    return found


def handovers_of(
    rows: QueueRows, rules: RuleSet, at: float, left_out: Collection[int] = ()
) -> Handovers | None:
    """The hand-over chart's numbers from the store's tables (`sync.handover_schema.queue_rows`)
    as of `at` (epoch seconds), the last `WEEKS` weeks; waiting persons in `left_out` (the
    rules exclude them) are left out. None when the rules have no `capacity`."""
    capacity, stages = rules.capacity, rules.stages
    if capacity is None or stages is None:
        return None
    from sync.capacity import period_of

    counted = [week for week, _, _ in rows.counts]
    latest = max([period_of(at, capacity.timezone)[0], *counted])
    weeks = _weeks_between(min(counted, default=latest), latest)
    waiting = [row for row in rows.waiting if row[0] not in left_out]
    teams = sorted({t for w, t, _ in rows.counts if w in weeks} | {t for _, t, _, _ in waiting})
    handed = [[0] * len(weeks) for _ in teams]
    for week, team, taken in rows.counts:
        if week in weeks:
            handed[teams.index(team)][weeks.index(week)] = taken
    scores = _whole(np.array([score for _, _, score, _ in waiting], dtype=np.float64))
    edges, _ = binned(scores, BINS)
    of_team = np.array([team for _, team, _, _ in waiting], dtype=object)
    since = min((row[3] for row in waiting), default=None)
    return Handovers(
        stage=stages.ladder[capacity.stage_index(stages)].name,
        per_week=capacity.per_week,
        by=capacity.by,
        weeks=weeks,
        teams=[t or ("all leads" if capacity.by is None else f"(no {capacity.by})") for t in teams],
        handed=handed,
        edges=edges,
        waiting=[bin_counts(scores[of_team == team], edges) for team in teams],
        waiting_total=len(waiting),
        oldest_wait=None if since is None else max(0.0, at - since),
        last=[
            None
            if team not in rows.last
            else (whole_points(rows.last[team][0]), rows.last[team][1])
            for team in teams
        ],
        handed_ever=bool(rows.last) or any(taken for _, _, taken in rows.counts),
    )


def _monday(week: str) -> datetime:
    year, number = week.split("-W")
    return datetime.fromisocalendar(int(year), int(number), 1).replace(tzinfo=UTC)


def _weeks_between(first: str, latest: str) -> list[str]:
    """The ISO weeks from `first` to `latest` (`2026-W49`), the last `WEEKS` of them: a
    week with no hand-over is a zero bar, not left out."""
    from sync.capacity import period_of

    end = _monday(latest)
    span = min(WEEKS - 1, max(0, (end - _monday(first)).days // 7))
    # labels only: a Monday's UTC midnight is in its own ISO week's label in UTC
    return [period_of((end - timedelta(weeks=back)).timestamp())[0] for back in range(span, -1, -1)]


def store_report(app: Leadscore, *, made_at: datetime, top: int = TOP) -> ReportData:
    """The report of everyone in the application's store, scored now by its rules, with
    the store's score history and hand-over queue, but none of the persons the rules
    exclude (the history of before their objection stays in the store)."""
    from sync.report_store import store_parts

    batch, _ = app.job.score(as_of=made_at)
    history, handovers = store_parts(app, made_at, {int(p) for p in batch.excluded_ids})
    source = f"the state store ({counted(len(batch), 'person')})"
    return report_data(
        batch, source=source, made_at=made_at, top=top, history=history, handovers=handovers
    )
