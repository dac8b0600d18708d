"""Fitting rules with points to outcomes: the work of `leadscore calibrate`.

The candidates (`scoring.candidates`) are scored by the engine at one point per unit;
a sparse (L1) logistic regression picks at most `max_rules` of them, its strength
chosen by cross-validation (time-ordered folds when each contact has a moment); the
coefficients become points on a fixed scale (`POINTS_PER_DOUBLING` double the odds of
converting), rounded to a few significant digits. The fitted file's score is the sum of
those points over the candidates' columns, exactly.

scikit-learn is imported only here, when a fit runs: scoring never needs it (it is
the `calibrate` extra).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from scoring.candidates import (
    Candidate,
    all_candidates,
    bucket_rule,
    default_dimension,
    features,
)
from scoring.errors import InputError, ScoringError
from scoring.frames import ActivityFrame, BoolArray, ContactFrame, FloatArray
from scoring.measuring import bucket_points, numeric_values
from scoring.metrics import roc_auc
from scoring.rules import RuleSet
from scoring.trends import centred_trends, whole_trends

FOLDS = 5
C_STEPS = 14
"""Strengths tried, from the weakest that keeps one rule to a thousand times it..."""
REFINE = 3
"""... and between the last two where the path jumps past `max_rules`."""
RELAXED_C = 1.0
"""Inverse L2 strength of the refit of the chosen rules (on standardized columns)."""
POINTS_PER_DOUBLING = 10.0
"""Points that double a contact's odds of converting: the fitted weights (log-odds per
unit) times `POINTS_PER_DOUBLING / ln 2`. A fixed scale, so a weak signal gets few points
and a column of noise about none, where scaling the strongest rule to a round number
would blow the weakest fit up to look like a strong one."""
DIGITS = 2
"""Significant digits of each rule's points (per unit): 23, 4.6, 0.037."""
LEAST_EFFECT = 1.0
"""A rule that moves no contact's score by this many points is left out..."""
ROUNDING_LOSS = 0.001
"""... unless leaving such rules out costs the fitting data's AUC more than this."""
FEW_POSITIVES = 10
"""A fit on fewer converted contacts than this many per rule it keeps is noisy..."""
MIN_POSITIVES = 100
"""... and so is one on fewer than this many converted contacts in all."""
INSTALL = "pip install 'leadscore[calibrate]'"


class MissingExtra(ScoringError):
    """scikit-learn, which a fit needs, is not installed."""


@dataclass(frozen=True)
class FittedRule:
    candidate: Candidate
    points: float
    """Per unit; of a `buckets` rule, its bucket of the largest points (absolute)."""
    dimension: str
    support: int
    """Contacts of the fitting data the rule matches."""
    converted: int
    lift: float
    """Conversion rate of the contacts it matches over the base rate."""
    buckets: tuple[tuple[int, float], ...] = ()
    """For a `buckets` rule, the support and lift of each bucket."""
    terms: int = 1
    """Fitted columns the rule holds (a `buckets` rule: its column's buckets and steps),
    each counted towards `max_rules`."""


@dataclass(frozen=True)
class Calibration:
    rules: list[FittedRule]
    scores: FloatArray
    """The fitted score of each contact of the fitting data (the rounded predictor)."""
    dimension_scores: dict[str, FloatArray]
    """The same, per dimension of the fitted rules."""
    converted: BoolArray
    strength: float
    """The regression's C (inverse L1 strength) chosen by cross-validation."""
    relaxed: bool
    """Whether the chosen rules were refitted with a light L2 penalty (chosen likewise)."""
    cv_auc: float
    folds: str
    dropped: int
    """Rules the fit kept whose points moved no contact's score by `LEAST_EFFECT`, left out."""
    auc_exact: float
    auc_points: float
    candidates: int
    warnings: list[str] = field(default_factory=list)

    @property
    def base_rate(self) -> float:
        return float(self.converted.mean())


def calibrate_rules(
    current: RuleSet,
    contacts: ContactFrame,
    activities: ActivityFrame,
    converted: BoolArray,
    as_of: datetime | FloatArray,
    *,
    times: FloatArray | None = None,
    max_rules: int = 30,
    seed: int = 0,
    trends: bool = False,
) -> Calibration:
    """Fit rules on `contacts` (every column a candidate: leave the outcome out) and their
    `activities` to `converted`, scored as of `as_of`. `times` (one per contact) orders
    the cross-validation folds in time. `trends`: each numeric column a trend candidate too
    (`scoring.trends`), in place of its steps."""
    outcome = np.asarray(converted, dtype=bool)
    positives = int(outcome.sum())
    if positives == 0 or positives == len(outcome):
        which = "every contact converted" if positives else "no contact converted"
        raise InputError(f"{which}: a fit needs both outcomes")
    if max_rules < 1:
        raise InputError(f"at most {max_rules} rules asked for; at least 1")
    candidates = all_candidates(contacts, activities, trends=trends)
    if not candidates:
        raise InputError("no candidate rules: no column or activity type has enough contacts")
    matrix = features(candidates, current.filters, contacts, activities, as_of)
    kept = _informative(matrix)
    candidates = [candidates[i] for i in kept]
    matrix = matrix[:, kept]
    if not candidates:
        raise InputError("no candidate rule tells the contacts apart")
    lines = np.array([c.trend for c in candidates])
    values = {
        c.value: numeric_values(contacts.columns.get(c.value), len(outcome))
        for c in candidates
        if c.trend and c.value
    }
    matrix = centred_trends(candidates, matrix, values)
    weights, strength, relaxed, cv_auc, folds = _sparse_fit(
        matrix, lines, outcome, times, max_rules, seed
    )
    exact = matrix @ weights
    points, dropped = _points(matrix, weights, outcome)
    candidates, matrix, points = whole_trends(
        candidates, matrix, points, values, current.filters, contacts, activities, as_of
    )
    scores = matrix @ points
    fitted = _fitted_rules(current, candidates, matrix, points, outcome, contacts)
    by_dimension = {name: np.zeros(len(outcome)) for name in current.dimensions}
    for index in np.flatnonzero(points).tolist():
        by_dimension[_dimension(current, candidates[index])] += matrix[:, index] * points[index]
    warnings = []
    if positives < max(MIN_POSITIVES, FEW_POSITIVES * len(fitted)):
        warnings.append(
            f"the fit saw only {positives:,} converted contacts for {len(fitted)} rules (it "
            f"wants {MIN_POSITIVES} or more, and {FEW_POSITIVES} per rule): the points are "
            "noisy; fit on more history or lower --max-rules"
        )
    return Calibration(
        rules=fitted,
        scores=scores,
        dimension_scores=by_dimension,
        converted=outcome,
        strength=strength,
        relaxed=relaxed,
        cv_auc=cv_auc,
        folds=folds,
        dropped=dropped,
        auc_exact=roc_auc(outcome, exact),
        auc_points=roc_auc(outcome, scores),
        candidates=len(candidates),
        warnings=warnings,
    )


def _sklearn() -> Any:
    """scikit-learn's modules a fit uses (imported by name: it ships no type hints)."""
    try:
        importlib.import_module("sklearn")
        return tuple(
            importlib.import_module(f"sklearn.{name}")
            for name in ("linear_model", "model_selection", "svm")
        )
    except ImportError:
        raise MissingExtra(f"calibrate needs scikit-learn: {INSTALL}") from None


def _informative(matrix: FloatArray) -> list[int]:
    """Columns that vary, the first of each set of identical columns."""
    seen: set[bytes] = set()
    kept = []
    for index in range(matrix.shape[1]):
        column = matrix[:, index]
        if column.min() == column.max():
            continue
        key = column.tobytes()
        if key not in seen:
            seen.add(key)
            kept.append(index)
    return kept


def _splits(
    outcome: BoolArray, times: FloatArray | None, seed: int, model_selection: Any
) -> tuple[list[tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]], str]:
    if times is not None:
        order = np.argsort(np.asarray(times), kind="stable")
        split = model_selection.TimeSeriesSplit(n_splits=FOLDS)
        found = [(order[a], order[b]) for a, b in split.split(order)]
        kind = f"{FOLDS} time-ordered folds (each fold fitted on the contacts before it)"
    else:
        shuffled = model_selection.StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=seed)
        found = list(shuffled.split(np.zeros(len(outcome)), outcome))
        kind = f"{FOLDS} shuffled folds (seed {seed})"
    usable = [(a, b) for a, b in found if 0 < outcome[a].sum() < len(a) and outcome[b].sum() > 0]
    usable = [(a, b) for a, b in usable if outcome[b].sum() < len(b)]
    if not usable:
        raise InputError("too few contacts of each outcome to cross-validate a fit")
    return usable, kind


def _sparse_fit(
    matrix: FloatArray,
    trends: BoolArray,
    outcome: BoolArray,
    times: FloatArray | None,
    max_rules: int,
    seed: int,
) -> tuple[FloatArray, float, bool, float, str]:
    """Per-unit weights of the sparsest fit whose cross-validated AUC is within a standard
    error of the best among those that keep at most `max_rules` rules: an L1 fit, or its
    rules refitted with a light L2 penalty (`relaxed`, which undoes the shrinkage of the
    L1 penalty); its C, whether relaxed, that AUC and the folds used. None better than
    chance (the best AUC within a standard error of 0.5): an `InputError`. A trend is
    counted as two rules (its centre beside it)."""
    linear_model, model_selection, svm = _sklearn()
    spread = matrix.std(axis=0)
    scaled = matrix / spread  # not centred: indicator columns stay sparse for liblinear
    folds, kind = _splits(outcome, times, seed, model_selection)
    lowest = float(svm.l1_min_c(scaled, outcome, loss="log"))
    tried: list[tuple[float, float, int, float, bool]] = []

    def kept(strength: float) -> int:  # a trend is two rules: its centre beside it
        weights = _weights(linear_model, scaled, outcome, strength, False, seed)
        return int(np.count_nonzero(weights) + np.count_nonzero(weights[trends]))

    for strength, count in _path(kept, lowest, max_rules):
        for relaxed in (False, True):
            aucs = [
                roc_auc(
                    outcome[test],
                    scaled[test]
                    @ _weights(
                        linear_model, scaled[train], outcome[train], strength, relaxed, seed
                    ),
                )
                for train, test in folds
            ]
            error = float(np.std(aucs) / np.sqrt(len(aucs)))
            tried.append((float(np.mean(aucs)), error, count, strength, relaxed))
    if not tried:
        raise InputError("no rule separates the outcomes: nothing to fit")
    top = max(tried, key=lambda t: t[0])
    if top[1] > 0 and top[0] - top[1] <= 0.5:  # (no error: the folds kept no rule)
        raise InputError(
            f"no candidate rule predicts the outcome better than chance (cross-validated AUC "
            f"{top[0]:.3f} ± {top[1]:.3f}): nothing to fit"
        )
    # the sparsest fit within a standard error of the best: noise stays out
    auc, _, _, strength, relaxed = min(
        (t for t in tried if t[0] >= top[0] - top[1]), key=lambda t: (t[2], -t[0])
    )
    weights = _weights(linear_model, scaled, outcome, strength, relaxed, seed)
    return weights / spread, strength, relaxed, auc, kind


def _path(
    kept: Callable[[float], int], lowest: float, max_rules: int
) -> Iterator[tuple[float, int]]:
    """Strengths from the weakest that keeps a rule up a thousandfold (`C_STEPS`), each with
    the rules it keeps, up to `max_rules`; where a step keeps too many, `REFINE` strengths
    between it and the one before, so that a jump of the path does not skip the sizes
    between."""
    last = None
    for strength in (lowest * np.logspace(0.05, 3, C_STEPS)).tolist():
        count = kept(strength)
        if count > max_rules:
            if last is not None:
                for between in np.geomspace(last, strength, REFINE + 2)[1:-1].tolist():
                    count = kept(between)
                    if count > max_rules:
                        return
                    yield between, count
            return
        last = strength
        if count:
            yield strength, count


def _weights(
    linear_model: Any,
    scaled: FloatArray,
    outcome: BoolArray,
    strength: float,
    relaxed: bool,
    seed: int,
) -> FloatArray:
    """The L1 fit's weights; `relaxed`: its non-zero ones refitted with a light L2 penalty."""
    weights: FloatArray = _model(linear_model, strength, seed).fit(scaled, outcome).coef_[0]
    chosen = np.flatnonzero(weights)
    if relaxed and chosen.size:
        refit = linear_model.LogisticRegression(C=RELAXED_C, max_iter=1000)
        weights = np.zeros(scaled.shape[1])
        weights[chosen] = refit.fit(scaled[:, chosen], outcome).coef_[0]
    return weights


def _model(linear_model: Any, strength: float, seed: int) -> Any:
    version = importlib.import_module("sklearn").__version__
    # scikit-learn 1.8 names the L1 penalty by `l1_ratio` and deprecates `penalty`
    major, minor = (int(part) for part in version.split(".")[:2])
    penalty = {"l1_ratio": 1.0} if (major, minor) >= (1, 8) else {"penalty": "l1"}
    return linear_model.LogisticRegression(
        solver="liblinear", C=strength, random_state=seed, max_iter=500, tol=1e-5, **penalty
    )


def _points(matrix: FloatArray, weights: FloatArray, outcome: BoolArray) -> tuple[FloatArray, int]:
    """Points per unit, `POINTS_PER_DOUBLING` to double the odds, to `DIGITS` significant
    digits; rules that move no score by `LEAST_EFFECT` left out unless that costs more
    than `ROUNDING_LOSS` of AUC. Also how many were left out."""
    points = np.array([significant(w * POINTS_PER_DOUBLING / math.log(2)) for w in weights])
    effect = np.abs(matrix * points).max(axis=0)
    tiny = (points != 0) & (effect < LEAST_EFFECT)
    if not tiny.any() or tiny.all():
        return points, 0
    kept = np.where(tiny, 0.0, points)
    if _whole_auc(outcome, matrix @ kept) < _whole_auc(outcome, matrix @ points) - ROUNDING_LOSS:
        return points, 0
    return kept, int(tiny.sum())


def _whole_auc(outcome: BoolArray, scores: FloatArray) -> float:
    """The AUC of the scores as they are written back: whole points, halves up."""
    return roc_auc(outcome, np.floor(scores + 0.5))


def significant(value: float, digits: int = DIGITS) -> float:
    """`value` to `digits` significant digits, as a person writes it (23, 4.6, 0.037)."""
    if value == 0 or not math.isfinite(value):
        return 0.0
    return float(f"{value:.{digits}g}")


def _fitted_rules(
    current: RuleSet,
    candidates: list[Candidate],
    matrix: FloatArray,
    points: FloatArray,
    outcome: BoolArray,
    contacts: ContactFrame,
) -> list[FittedRule]:
    """The rules with points, those of one numeric column's buckets and steps joined into
    one `buckets` rule when there are several."""
    base = float(outcome.mean())
    declared = list(current.dimensions)
    chosen = np.flatnonzero(points).tolist()
    columns: dict[str, list[int]] = {}
    for index in chosen:
        if candidates[index].column is not None:
            columns.setdefault(str(candidates[index].column), []).append(index)
    taken = [c.id for c in candidates]
    found = []
    for index in chosen:
        candidate = candidates[index]
        group = columns.get(candidate.column or "", [])
        if len(group) > 1:
            if index != group[0]:
                continue
            joined = bucket_rule([(candidates[i], float(points[i])) for i in group], taken)
            found.append(_bucket_fit(current, joined, contacts, outcome, len(group)))
            continue
        matched = matrix[:, index] != 0
        support = int(matched.sum())
        won = int(outcome[matched].sum())
        found.append(
            FittedRule(
                candidate,
                float(points[index]),
                _dimension(current, candidate),
                support,
                won,
                (won / support) / base if support else float("nan"),
            )
        )
    found.sort(key=lambda r: (declared.index(r.dimension), -abs(r.points)))
    centres = {r.candidate.centres: r for r in found if r.candidate.centres}
    ordered = []
    for rule in found:  # each trend's centre right after it
        if not rule.candidate.centres:
            ordered += [
                rule,
                *([centres[rule.candidate.id]] if rule.candidate.id in centres else []),
            ]
    return ordered


def _bucket_fit(
    current: RuleSet, joined: Candidate, contacts: ContactFrame, outcome: BoolArray, terms: int
) -> FittedRule:
    """A `buckets` rule as fitted: its largest points (in absolute value, for the order),
    and the support and lift of each of its buckets."""
    assert joined.value is not None and joined.buckets is not None
    values = numeric_values(contacts.columns.get(joined.value), len(outcome))
    base = float(outcome.mean())
    parts = []
    for bucket in joined.buckets:
        _, inside = bucket_points(values, [bucket])
        support = int(inside.sum())
        won = int(outcome[inside].sum())
        parts.append((support, (won / support) / base if support else float("nan")))
    matched = bucket_points(values, list(joined.buckets))[1]
    support = int(matched.sum())
    won = int(outcome[matched].sum())
    return FittedRule(
        joined,
        max((p for _, _, p in joined.buckets), key=abs),
        _dimension(current, joined),
        support,
        won,
        (won / support) / base if support else float("nan"),
        tuple(parts),
        terms,
    )


def _dimension(current: RuleSet, candidate: Candidate) -> str:
    """The dimension the defaults give such a rule, or the file's first when it has none
    of that name."""
    dimension = default_dimension(candidate)
    return dimension if dimension in current.dimensions else next(iter(current.dimensions))
