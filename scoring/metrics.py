"""How well scores rank outcomes: ROC AUC and average precision, with bootstrap intervals.

numpy only (scoring never needs scikit-learn); the tests hold both to scikit-learn's
`roc_auc_score` and `average_precision_score`. The scores are sorted once, best first,
and grouped by distinct value: a tie is one point of the curves, as scikit-learn
takes it. A bootstrap resample is then weights on the same order (how many times each
contact was drawn), so each of its curves costs two cumulative sums, not a sort.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from scoring.frames import BoolArray, FloatArray

Weights = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Interval:
    """A figure and its bootstrap percentile interval (NaN bounds: no resample had both
    outcomes)."""

    value: float
    low: float
    high: float


@dataclass(frozen=True, eq=False)
class Ranked:
    """Outcomes in the order of their scores, best first, and where each tie group ends."""

    outcome: BoolArray
    ends: npt.NDArray[np.intp]
    """The last position of each group of equal scores, in order."""
    order: npt.NDArray[np.intp]
    """The contact at each position."""

    @classmethod
    def of(cls, scores: FloatArray, outcome: BoolArray) -> Ranked:
        order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
        ranked = np.asarray(scores, dtype=np.float64)[order]
        # a comparison, not np.diff: infinite scores (a blank ranked last) tie with each other
        ends = np.append(np.flatnonzero(ranked[1:] != ranked[:-1]), len(ranked) - 1)
        return cls(np.asarray(outcome, dtype=bool)[order], ends.astype(np.intp), order)

    def curves(self, weights: Weights | None = None) -> tuple[FloatArray, FloatArray]:
        """Positives and negatives at or above each distinct score (weighted)."""
        positive = self.outcome.astype(np.float64)
        if weights is not None:
            w = weights[self.order]
            return np.cumsum(positive * w)[self.ends], np.cumsum((1.0 - positive) * w)[self.ends]
        return np.cumsum(positive)[self.ends], np.cumsum(1.0 - positive)[self.ends]

    def auc_and_ap(self, weights: Weights | None = None) -> tuple[float, float]:
        """ROC AUC (the trapezoid under the curve, ties on the diagonal) and average
        precision (sum over thresholds of the recall gained times the precision there);
        NaN when one of the outcomes is absent."""
        tp, fp = self.curves(weights)
        positives, negatives = float(tp[-1]), float(fp[-1])
        if positives <= 0 or negatives <= 0:
            return float("nan"), float("nan")
        tp0, fp0 = np.concatenate(([0.0], tp)), np.concatenate(([0.0], fp))
        area = float(np.sum(np.diff(fp0) * (tp0[1:] + tp0[:-1]))) / 2.0
        auc = area / (positives * negatives)
        taken = tp + fp
        precision = np.divide(tp, taken, out=np.zeros_like(tp), where=taken > 0)
        ap = float(np.sum(np.diff(tp0) * precision)) / positives
        return auc, ap


def roc_auc(outcome: BoolArray, scores: FloatArray) -> float:
    return Ranked.of(scores, outcome).auc_and_ap()[0]


def average_precision(outcome: BoolArray, scores: FloatArray) -> float:
    return Ranked.of(scores, outcome).auc_and_ap()[1]


def bootstrap(
    outcome: BoolArray,
    scores: FloatArray,
    *,
    resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[Interval, Interval]:
    """AUC and average precision with percentile intervals over `resamples` resamples
    of the contacts (drawn with replacement by a generator seeded with `seed`);
    resamples with a single outcome are passed over."""
    ranked = Ranked.of(scores, outcome)
    auc, ap = ranked.auc_and_ap()
    n = len(ranked.order)
    rng = np.random.default_rng(seed)
    found = np.full((max(resamples, 0), 2), np.nan)
    for i in range(len(found)):
        weights = np.bincount(rng.integers(0, n, n), minlength=n).astype(np.float64)
        found[i] = ranked.auc_and_ap(weights)
    kept = found[~np.isnan(found[:, 0])]
    tail = (1.0 - level) / 2.0 * 100.0
    if len(kept) == 0:
        return Interval(auc, float("nan"), float("nan")), Interval(ap, float("nan"), float("nan"))
    low, high = np.percentile(kept, [tail, 100.0 - tail], axis=0)
    return Interval(auc, float(low[0]), float(high[0])), Interval(ap, float(low[1]), float(high[1]))
