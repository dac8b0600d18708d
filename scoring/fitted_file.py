"""The rule file `leadscore calibrate` writes: the fitted rules, each with its lift and
support, in the current file's dimensions, with stage thresholds and grade bands
proposed from the fitted scores.

The current file's dimensions (without caps and floors, which would bend the fitted
sum), BANT block, stage ladder, grades, filters, velocity buckets, RFM block, exclusion
and interests are kept; only its rules are replaced, and the `min` conditions of its
stages and the bands of its grades are set from the distribution of the fitted scores.
"""

from __future__ import annotations

import json
import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from scoring.calibrate import (
    DIGITS,
    LEAST_EFFECT,
    POINTS_PER_DOUBLING,
    Calibration,
    FittedRule,
)
from scoring.candidates import rule_data
from scoring.frames import BoolArray, FloatArray, format_number
from scoring.rules import RuleSet, StageLadder, stage_conditions

GRADE_SHARES = (0.25, 0.5, 0.75)
"""Grade bands, best first, take these top shares of the contacts (the last the rest)."""
LOWEST_STAGE_SHARE = 0.5
"""The lowest stage with a score condition holds the top half of the contacts."""


@dataclass(frozen=True)
class Threshold:
    """A score and what it means on the fitting data: contacts at or above it and the
    share of them that converted."""

    name: str
    score: int
    contacts: int
    share: float
    rate: float


def threshold_at(name: str, scores: FloatArray, outcome: BoolArray, share: float) -> Threshold:
    """The score that takes about the top `share` of the contacts (ties go together)."""
    ranked = np.sort(scores)[::-1]
    position = min(max(math.ceil(share * len(ranked)), 1), len(ranked)) - 1
    score = math.floor(ranked[position])  # decayed points are fractions: none left out
    taken = scores >= score
    count = int(taken.sum())
    return Threshold(
        name, score, count, count / len(scores), float(outcome[taken].mean()) if count else 0.0
    )


def stage_thresholds(
    stages: StageLadder | None, fit: Calibration, hand_over: int | None
) -> dict[int, Threshold]:
    """A total to reach per stage (by ladder index) whose conditions set a minimum score:
    the highest such stage hands over `hand_over` contacts (default a tenth), the lower
    ones shares between that and half."""
    if stages is None:
        return {}
    scored = [
        index
        for index, stage in enumerate(stages.ladder)
        if any(c.min for c in stage_conditions(stage.when))
    ]
    n = len(fit.scores)
    top = min(hand_over, n) / n if hand_over is not None else 0.1
    found = {}
    for rank, index in enumerate(scored):
        step = (rank + 1) / len(scored)
        share = top**step * LOWEST_STAGE_SHARE ** (1 - step)
        found[index] = threshold_at(stages.ladder[index].name, fit.scores, fit.converted, share)
    return found


def grade_thresholds(current: RuleSet, fit: Calibration) -> list[Threshold]:
    """Grade bands from the fitted scores of the grades' dimension: the best band the top
    quarter, and so on (the last band the rest)."""
    if current.grades is None:
        return []
    values = fit.dimension_scores[current.grades.dimension]
    bands = current.grades.bands
    shares = list(GRADE_SHARES[: len(bands) - 1])
    shares += [1.0] * (len(bands) - 1 - len(shares))
    found = [
        threshold_at(band.grade, values, fit.converted, share)
        for band, share in zip(bands, shares, strict=False)
    ]
    if bands[-1].min is not None:
        found.append(threshold_at(bands[-1].grade, values, fit.converted, 1.0))
    return found


def fitted_text(
    current: RuleSet, fit: Calibration, about: Sequence[str], hand_over: int | None = None
) -> str:
    """The fitted rule file: `about` (what was fitted on) as its opening comment."""
    stage_mins = stage_thresholds(current.stages, fit, hand_over)
    grade_mins = grade_thresholds(current, fit)
    refit = ", its rules refitted with a light L2 penalty" if fit.relaxed else ""
    trend_note = (
        ", a trend's to whole points per a round step, with a centre that brings its median to 0"
        if any(r.candidate.trend for r in fit.rules)
        else ""
    )
    left_out = (
        f", and {fit.dropped} rules that moved no score by {format_number(LEAST_EFFECT)} "
        "point left out"
        if fit.dropped
        else ""
    )
    how = (
        f"{len(fit.rules)} rules ({sum(r.terms for r in fit.rules)} fitted terms, each bucket "
        f"or step of a `buckets` rule one) chosen from {fit.candidates} candidates by an L1 "
        "logistic "
        f"regression (C={fit.strength:.4g}{refit}; chosen by {fit.folds}: cross-validated "
        f"AUC {fit.cv_auc:.3f}). {format_number(POINTS_PER_DOUBLING)} points double the "
        f"odds of converting; points are rounded to {DIGITS} significant digits"
        f"{trend_note}{left_out} "
        f"(AUC on the fitting data {fit.auc_exact:.3f} before rounding, "
        f"{fit.auc_points:.3f} after). A contact in the commonest value of every column and "
        "without activities scores 0. The score is the sum of the points: edit them "
        "freely, and `leadscore backtest` the result."
    )
    lines = [f"# {line}" for line in textwrap.wrap(" ".join(about), 86, break_on_hyphens=False)]
    lines += ["#", *(f"# {line}" for line in textwrap.wrap(how, 86, break_on_hyphens=False))]
    lines += [
        "",
        "version: 1",
    ]
    if current.name:
        lines.append(f"name: {json.dumps(current.name + ', calibrated')}")
    lines += [
        "",
        "# Caps and floors of the dimensions are left out: they would bend the fitted sum.",
        _dump({"dimensions": {k: _plain(v) for k, v in current.dimensions.items()}}),
        "rules:",
    ]
    for rule in fit.rules:
        lines += ["  " + _support(rule, fit), *_rule_lines(_rule(rule))]
    if current.bant is not None:
        lines += ["", _dump({"bant": _plain(current.bant)})]
    if current.stages is not None:
        lines += ["", *_threshold_comment("Stage", stage_mins.values(), "total")]
        lines.append(_dump({"stages": _ladder(current.stages, stage_mins)}))
    if current.grades is not None:
        dimension = current.grades.dimension
        lines += ["", *_threshold_comment("Grade", grade_mins, dimension)]
        bands = [
            {"grade": band.grade, **({"min": grade_mins[i].score} if i < len(grade_mins) else {})}
            for i, band in enumerate(current.grades.bands)
        ]
        lines.append(_dump({"grades": {"dimension": dimension, "bands": bands}}))
    filters = _plain(current.filters)
    if filters:
        lines += ["", _dump({"filters": filters})]
    for block in ("velocity", "rfm", "accounts"):  # what stages and fields read of them
        if getattr(current, block) is not None:
            lines += ["", _dump({block: _plain(getattr(current, block))})]
    if current.exclude is not None:  # the same people stay unscored
        lines += ["", _dump({"exclude": current.exclude.as_written()})]
    if current.interests is not None:
        lines += ["", _dump({"interests": _plain(current.interests)})]
    return "\n".join(line.rstrip("\n") for line in lines) + "\n"


def _rule_lines(data: dict[str, Any]) -> list[str]:
    """A rule as a YAML list item, one line per field (conditions in flow style)."""
    lines: list[str] = []
    for index, (key, value) in enumerate(data.items()):
        flow = isinstance(value, dict | list)
        for line in _dump({key: value}, flow=flow).splitlines():
            lines.append(("  - " if index == 0 and not lines else "    ") + line)
    return lines


def _rule(rule: FittedRule) -> dict[str, Any]:
    return rule_data(rule.candidate, rule.points, rule.dimension)


def _support(rule: FittedRule, fit: Calibration) -> str:
    n = len(fit.scores)
    share = rule.support / n * 100
    shown = f"{share:.0f}" if share >= 1 else f"{share:.1f}"
    said = f"# converts {rule.lift:.1f}x the base rate, {rule.support:,} leads ({shown} %)"
    if rule.candidate.trend:
        return f"{said}; a trend: it goes on past the values fitted on, up to its cap"
    if not rule.buckets:
        return said
    lifts = ", ".join(f"{lift:.1f}x ({support:,})" for support, lift in rule.buckets)
    return f"{said} in its buckets; by bucket {lifts}"


def _threshold_comment(what: str, found: Any, measure: str) -> list[str]:
    lines = [f"# {what} thresholds proposed from the fitted {measure} scores (fitting data):"]
    for t in found:
        lines.append(
            f"#   {t.name}: {measure} {t.score} or more, {t.contacts:,} contacts "
            f"({t.share * 100:.0f} %), {t.rate * 100:.1f} % of them converted"
        )
    return lines


def _ladder(stages: StageLadder, mins: dict[int, Threshold]) -> dict[str, Any]:
    data: dict[str, Any] = _plain(stages)
    for index, threshold in mins.items():
        data["ladder"][index]["when"] = _set_min(data["ladder"][index]["when"], threshold.score)
    return data


def _set_min(condition: dict[str, Any], total: int) -> dict[str, Any]:
    """Every `min` of a stage condition (nested ones too) as a minimum total."""
    found = dict(condition)
    if "min" in found:
        found["min"] = {"total": total}
    for group in ("any", "all"):
        if group in found:
            children: list[dict[str, Any]] = []
            for child in found[group]:
                changed = _set_min(child, total)
                if changed not in children:  # two branches may now say the same
                    children.append(changed)
            found[group] = children
    return found


def _plain(model: Any) -> Any:
    """A part of the rule set as the plain data a file writes, defaults left out; the
    dimensions without caps and floors."""
    from scoring.rules import Dimension

    if isinstance(model, Dimension):
        return {"label": model.label} if model.label else {}
    data: Any = model.model_dump(mode="json", exclude_defaults=True, exclude_none=True)
    return data


def _tidy(data: Any) -> Any:
    """Whole numbers without `.0`, as a person writes them."""
    if isinstance(data, float) and data.is_integer():
        return int(data)
    if isinstance(data, dict):
        return {k: _tidy(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_tidy(v) for v in data]
    return data


def _dump(data: Any, *, flow: bool = True) -> str:
    """YAML of `data`; `flow`: mappings of plain values on one line ({a: 1})."""
    import yaml

    text: str = yaml.safe_dump(
        _tidy(data),
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=None if flow else False,
        width=88,
    )
    return text
