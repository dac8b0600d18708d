"""A backtest: how scores given as of each lead's moment rank what became of the leads.

`backtest_of(batch, converted)` reads a scored batch beside one outcome per contact and
gives a `Backtest`, a plain structure of numbers that the terminal, JSON and the
HTML report all render. Figures are of the score as written back (whole points,
`whole_points`), the number a rep sorts by and a threshold is set on.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from scoring.errors import InputError
from scoring.explain import ScoreBatch
from scoring.frames import BoolArray, FloatArray
from scoring.metrics import Interval, Ranked, bootstrap

DECILES = 10
CALIBRATION_BINS = 10


@dataclass(frozen=True)
class Decile:
    """One tenth of the contacts by score, best first (ties split by input order)."""

    decile: int
    contacts: int
    converted: int
    rate: float
    lift: float
    """The decile's conversion rate over the whole batch's."""
    min_score: int
    max_score: int


@dataclass(frozen=True)
class Group:
    """Contacts of one stage or grade (None: none given)."""

    name: str | None
    contacts: int
    converted: int
    rate: float


@dataclass(frozen=True)
class HandOver:
    """Handing over the leads at or above a score: the threshold that hands over about
    `asked` of them (ties at the threshold go together, so `handed` may be more)."""

    asked: int
    threshold: int
    handed: int
    converted: int
    rate: float
    captured: float
    """Share of all conversions among those handed over."""
    lift: float


@dataclass(frozen=True)
class Bin:
    """Contacts whose score lies in [low, high]: the conversion rate a score there means."""

    low: int
    high: int
    contacts: int
    converted: int
    rate: float


@dataclass(frozen=True)
class Leak:
    """A contact column that may hold the outcome itself (filled in after the fact)."""

    column: str
    reason: str
    auc: float | None = None
    converted_share: float | None = None
    """Of the contacts with a value in the column, the share that converted."""


@dataclass(frozen=True)
class Backtest:
    contacts: int
    converted: int
    base_rate: float
    auc: Interval
    average_precision: Interval
    resamples: int
    seed: int
    tied_share: float
    """Share of contacts whose score another contact shares."""
    deciles: list[Decile]
    stages: list[Group]
    grades: list[Group]
    calibration: list[Bin]
    hand_over: HandOver | None = None
    leaks: list[Leak] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The backtest as JSON-ready values (NaN as null)."""
        plain: dict[str, Any] = _plain(asdict(self))
        return plain


def backtest_of(
    batch: ScoreBatch,
    converted: BoolArray,
    *,
    hand_over: int | None = None,
    resamples: int = 200,
    seed: int = 0,
) -> Backtest:
    """The backtest of `batch` against `converted` (one per contact, in the batch's order)."""
    outcome = np.asarray(converted, dtype=bool)
    n = len(batch)
    if outcome.shape != (n,):
        raise InputError(f"outcomes: {outcome.size} given for {n} contacts; one per contact")
    positives = int(outcome.sum())
    if positives == 0 or positives == n:
        which = "every contact converted" if positives else "no contact converted"
        raise InputError(f"{which}: a backtest needs both outcomes")
    scores = whole_scores(batch)
    auc, ap = bootstrap(outcome, scores, resamples=resamples, seed=seed)
    base = positives / n
    return Backtest(
        contacts=n,
        converted=positives,
        base_rate=base,
        auc=auc,
        average_precision=ap,
        resamples=resamples,
        seed=seed,
        tied_share=tied_share(scores),
        deciles=_deciles(scores, outcome, base),
        stages=_groups(batch.stage_codes, _labels(batch, "stages"), outcome),
        grades=_groups(batch.grade_codes, _labels(batch, "grades"), outcome),
        calibration=_calibration(scores, outcome),
        hand_over=None if hand_over is None else _hand_over(scores, outcome, hand_over),
        notes=list(batch.notes),
    )


def whole_scores(batch: ScoreBatch) -> FloatArray:
    """Each contact's score in whole points, halves up, as written back."""
    scores: FloatArray = np.floor(batch.total + 0.5)
    return scores


@dataclass(frozen=True)
class RocCurve:
    """The ROC curve of the whole-point scores: one point per distinct score, best first,
    from (0, 0) to (1, 1); the trapezoid under it is `Backtest.auc`'s value."""

    false_positive_rate: list[float]
    true_positive_rate: list[float]
    scores: list[int]
    """The threshold of each point after the first: the score at or above which contacts
    are counted as predicted to convert."""


def roc_of(batch: ScoreBatch, converted: BoolArray) -> RocCurve:
    """The ROC curve of `batch` against `converted`, from the ranking `backtest_of` measures
    (`scoring.metrics.Ranked`); both outcomes must be present."""
    outcome = np.asarray(converted, dtype=bool)
    scores = whole_scores(batch)
    ranked = Ranked.of(scores, outcome)
    tp, fp = ranked.curves()
    positives, negatives = float(tp[-1]), float(fp[-1])
    if positives <= 0 or negatives <= 0:
        raise InputError("a ROC curve needs both outcomes")
    thresholds = scores[ranked.order[ranked.ends]]
    return RocCurve(
        [0.0, *(fp / negatives).tolist()],
        [0.0, *(tp / positives).tolist()],
        [int(s) for s in thresholds.tolist()],
    )


def _rate(converted: int, contacts: int) -> float:
    return converted / contacts if contacts else float("nan")


def tied_share(scores: FloatArray) -> float:
    """Share of contacts whose score another contact shares."""
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    return float(np.count_nonzero(counts[inverse] > 1)) / len(scores)


def _deciles(scores: FloatArray, outcome: BoolArray, base: float) -> list[Decile]:
    order = np.argsort(-scores, kind="stable")
    found = []
    for index, part in enumerate(np.array_split(order, DECILES)):
        if len(part) == 0:
            continue
        won = int(outcome[part].sum())
        rate = _rate(won, len(part))
        found.append(
            Decile(
                index + 1,
                len(part),
                won,
                rate,
                rate / base,
                int(scores[part].min()),
                int(scores[part].max()),
            )
        )
    return found


def _labels(batch: ScoreBatch, kind: str) -> list[str]:
    rules = batch.rules
    if kind == "stages":
        return [s.name for s in rules.stages.ladder] if rules.stages else []
    return [b.grade for b in rules.grades.bands] if rules.grades else []


def _groups(codes: Any, labels: list[str], outcome: BoolArray) -> list[Group]:
    if codes is None or not labels:
        return []
    found = []
    for code, name in [*enumerate(labels), (-1, None)]:
        mask = codes == code
        contacts = int(mask.sum())
        if contacts or name is not None:
            won = int(outcome[mask].sum())
            found.append(Group(name, contacts, won, _rate(won, contacts)))
    return found


def _calibration(scores: FloatArray, outcome: BoolArray) -> list[Bin]:
    """Bins of about equal size by score; a score is never split between two bins."""
    distinct = np.unique(scores)
    if len(distinct) <= CALIBRATION_BINS:
        edges = distinct
    else:
        cuts = np.quantile(scores, np.linspace(0, 1, CALIBRATION_BINS + 1)[1:-1], method="lower")
        edges = np.unique(np.concatenate(([distinct[0]], cuts[cuts > distinct[0]])))
    which = np.searchsorted(edges, scores, side="right") - 1
    found = []
    for index, low in enumerate(edges):
        mask = which == index
        contacts = int(mask.sum())
        won = int(outcome[mask].sum())
        high = int(scores[mask].max())
        found.append(Bin(int(low), high, contacts, won, _rate(won, contacts)))
    return found


def _hand_over(scores: FloatArray, outcome: BoolArray, asked: int) -> HandOver:
    if asked < 1:
        raise InputError(f"hand over: {asked} leads asked for; at least 1")
    ranked = np.sort(scores)[::-1]
    threshold = ranked[min(asked, len(ranked)) - 1]
    handed = scores >= threshold
    count, won = int(handed.sum()), int(outcome[handed].sum())
    positives = int(outcome.sum())
    rate = _rate(won, count)
    return HandOver(
        asked, int(threshold), count, won, rate, won / positives, rate / (positives / len(scores))
    )


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
