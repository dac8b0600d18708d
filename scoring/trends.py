"""Trends: a numeric column's points along a line that keeps going past the values fitted on.

Buckets and the capped per-unit rule of `scoring.candidates` are flat beyond the values
of the fitting data; a time-ordered hold-out whose values lie outside them (the economy
of a later year) gets nothing from them. A trend is the rule language's per-unit rule
(`value`, `per`, `points`, `cap`) with its cap far out, as a guard against a typo, not at
the data's high quantile:

- the fit sees it at the column's own resolution (`trend_candidate`), centred and
  standardised beside the other candidates (`scoring.calibrate`);
- its weight becomes whole points per a round step (`whole_step`): of the steps of 1, 2
  or 5 times a power of ten, the one whose whole points stray least from the fitted line
  over the fitting data (a coarse step ties values, a fine one rounds the slope to 0 or
  1 point), so that a point means something in the column's own unit;
- the engine counts units from zero, so a second rule, the trend's centre, gives every
  contact with a value the points that bring the median back to 0 (`whole_trends`):
  a contact at the median, or without a value, scores 0 from the two.

The engine scores both rules of the file exactly as the fit's `scores` add them up.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime

import numpy as np

from scoring.candidates import Candidate, _Ids, _plain, features, nice_step
from scoring.frames import ActivityFrame, ContactFrame, FloatArray, format_number
from scoring.ruletypes import MAX_POINTS, Filters


def centred_trends(
    candidates: list[Candidate], matrix: FloatArray, values: dict[str, FloatArray]
) -> FloatArray:
    """The candidates' columns as the fit sees them: each trend's units less those of its
    column's median, for the contacts with a value (not below zero: those its centre
    holds), and 0 for the others. Counted from zero, a blank's 0 units would lie far
    below every value of a column such as 5,000 to 5,200, and stand in for the blanks
    rather than for the line. `values`: each trend's column as numbers."""
    found = matrix.copy()
    for index, trend in enumerate(candidates):
        if not trend.trend:
            continue
        assert trend.value is not None and trend.per is not None and trend.unit_cap
        column = values[trend.value]
        given = column >= 0  # NaN compares false
        median = float(np.median(column[given]))
        centre = min(math.floor(median / trend.per), trend.unit_cap)
        found[:, index] = np.where(given, matrix[:, index] - centre, 0.0)
    return found


def whole_step(
    slope: float, values: FloatArray, finest: float, widest: float
) -> tuple[float, int] | None:
    """A step and whole points per step for `slope` points per unit of `values` (the
    fitting data's, none missing): of the steps of 1, 2 or 5 times a power of ten from
    `finest` up to `widest`, the one whose whole points per whole step (`round(slope ·
    step)` per `floor(value / step)`) stray least from the line over `values`, up to a
    constant (the centre's). A coarse step ties values and a fine one rounds the slope;
    None when no step strays less than leaving the trend out."""
    if slope == 0 or not math.isfinite(slope) or values.size == 0:
        return None
    best: tuple[float, float, int] | None = None
    without = float(np.std(slope * values))  # no rule at all strays this much
    step = nice_step(finest)
    while step <= widest:
        points = round(slope * step)
        if points:
            stray = float(np.std(points * np.floor(values / step) - slope * values))
            if stray < (without if best is None else best[0]):
                best = (stray, step, points)
        step = _next_step(step)
    return None if best is None else (best[1], best[2])


def _next_step(step: float) -> float:
    """The next number of 1, 2 or 5 times a power of ten above `step` (such a number)."""
    power = 10.0 ** math.floor(math.log10(step) + 1e-9)
    factor = round(step / power)
    following = {1: 2, 2: 5}.get(factor)
    return float(f"{(following or 10) * power:.12g}")


def whole_trends(
    candidates: list[Candidate],
    matrix: FloatArray,
    points: FloatArray,
    values: dict[str, FloatArray],
    filters: Filters,
    contacts: ContactFrame,
    activities: ActivityFrame,
    as_of: datetime | FloatArray,
) -> tuple[list[Candidate], FloatArray, FloatArray]:
    """The fitted trends (`points` per unit of their candidate) as whole points per a
    round step, each with its centre: the candidates, their columns as the engine scores
    them and their points, with the trends replaced and the centres appended. `values`:
    each trend's column as numbers, for its median and range."""
    ids = _Ids()
    ids.taken.update(c.id for c in candidates)
    candidates, matrix, points = list(candidates), matrix.copy(), points.copy()
    added: list[tuple[Candidate, float]] = []
    for index in np.flatnonzero(points).tolist():
        trend = candidates[index]
        if not trend.trend:
            continue
        assert trend.value is not None and trend.per is not None and trend.unit_cap
        column = values[trend.value]
        present = column[~np.isnan(column)]
        guard = trend.unit_cap * trend.per
        widest = min(guard, MAX_POINTS)  # a rule's `per` within a million
        chosen = whole_step(float(points[index]) / trend.per, present, trend.per, widest)
        median = float(np.median(present)) if present.size else 0.0
        if chosen is not None:
            cap = float(math.floor(guard / chosen[0]))
            given = abs(chosen[1]) * min(math.floor(median / chosen[0]), cap)
            if abs(chosen[1]) * cap > MAX_POINTS or given > MAX_POINTS:
                chosen = None  # its cap or its centre's points past a million: left out
        if chosen is None:
            points[index] = 0.0
            continue
        step, whole = chosen
        shown, cap = format_number(step), float(math.floor(guard / step))
        final = replace(
            trend,
            id=ids.new(trend.value, "per", shown),
            label=f"{trend.value}, per {shown} (a trend)",
            per=_plain(step),
            unit_cap=cap,
        )
        centre = Candidate(
            ids.new(trend.value, "centre"),
            f"{trend.value} given: its median, {format_number(median)}, scores 0 by its trend",
            contact={trend.value: {"gte": 0}},
            centres=final.id,
        )
        candidates[index] = final
        points[index] = float(whole)
        added.append((centre, -float(whole) * min(math.floor(median / step), cap)))
    changed = [i for i in np.flatnonzero(points).tolist() if candidates[i].trend]
    scored = [candidates[i] for i in changed] + [c for c, _ in added]
    if not scored:
        return candidates, matrix, points
    columns = features(scored, filters, contacts, activities, as_of)
    matrix[:, changed] = columns[:, : len(changed)]
    matrix = np.hstack([matrix, columns[:, len(changed) :]])
    points = np.concatenate([points, [p for _, p in added]])
    return candidates + [c for c, _ in added], matrix, points
