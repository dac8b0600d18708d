"""Rules that measure something: points per unit, buckets, count thresholds, absence.

A plain behaviour rule gives points per matching activity (or once); the rules here
read a number per contact instead and turn it into points:

- `value: <contact field>` with `per` or `buckets`: a numeric contact attribute;
- `activity` with `per`, `buckets` or `min_count`: the count of matching activities;
- `absent: {activity, days}`: points when there is no such activity in the last days.

The models and the checks of their shape live here (no numpy: validating a rule file
never loads it); the engine's vectorised evaluation is in `scoring.measuring`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import Field

from scoring.ruletypes import ActivityTypes, Amount, Days, LocatedError, Strict

if TYPE_CHECKING:
    from scoring.rules import Rule

BucketEnd = Annotated[float, Field(allow_inf_nan=False, ge=-1e15, le=1e15)]
"""A bucket's end: any finite number within ±1e15 (amounts, seconds, counts)."""

Bucket = tuple[BucketEnd | None, BucketEnd | None, Amount]
"""`[low, high, points]`: values from `low` (included) up to `high` (excluded) get
`points`; `low == high` is that one value; null leaves an end open."""


class Absent(Strict):
    """No activity of these types in the last `days` days (as of the scoring moment)."""

    activity: ActivityTypes = Field(description="Activity type(s) whose absence gives points.")
    days: Days = Field(description="How many days back to look (the boundary day included).")


MEASURING = ("value", "per", "buckets", "min_count", "absent")
"""The fields that make a rule measure rather than count activity by activity."""


def measure_problems(rule: Rule) -> list[LocatedError]:
    """What is wrong with how a rule combines the measuring fields, each at its field."""
    given = rule.model_fields_set
    problems: list[LocatedError] = []

    def bad(name: str, message: str) -> None:
        problems.append(LocatedError((name,), message))

    if rule.value is not None:
        if rule.activity is not None or rule.absent is not None:
            bad("value", "`value` measures a contact field: not with `activity` or `absent`")
        if (rule.per is None) == (rule.buckets is None):
            bad("value", "`value` needs either `per` (points per unit) or `buckets`")
        for name in ("where", "window_days", "half_life_days", "since", "min_count", "once"):
            if name in given:
                bad(name, f"`{name}` applies to activities, not to `value`")
    elif rule.unit is not None:
        bad("unit", "`unit` is shown after a `value`; it needs `value`")
    if rule.absent is not None:
        if rule.activity is not None:
            bad("absent", "`absent` names its own activity types: leave out `activity`")
        for name in ("per", "buckets", "min_count", "window_days", "half_life_days", "since"):
            if name in given:
                bad(name, f"`{name}` does not apply to `absent` (its window is `absent.days`)")
        if rule.once:
            bad("once", "`absent` gives its points once already: leave out `once`")
    counting = [name for name in ("per", "buckets", "min_count") if getattr(rule, name) is not None]
    if len(counting) > 1:
        bad(counting[1], f"`{counting[0]}` and `{counting[1]}` exclude each other; keep one")
    if rule.activity is None and rule.value is None:
        for name in counting:
            bad(name, f"`{name}` needs `value` (a contact field) or `activity` (a count)")
    if rule.activity is not None and counting:
        if rule.once:
            bad("once", f"`once` and `{counting[0]}` exclude each other")
        if rule.half_life_days is not None:
            bad("half_life_days", f"`{counting[0]}` counts whole activities: no decay")
    if rule.per is not None and rule.cap is None:
        bad("per", "`per` needs a `cap`: one large value would otherwise outweigh every rule")
    if rule.buckets is not None:
        if rule.cap is not None:
            bad("cap", "buckets give their own points: no `cap`")
        if "points" in given:
            bad("points", "buckets give their own points: leave out `points`")
        problems += _bucket_problems(rule.buckets)
    if rule.min_count is not None and rule.cap is not None:
        bad("cap", "`min_count` gives its points once: no `cap`")
    if rule.absent is not None and rule.cap is not None:
        bad("cap", "`absent` gives its points once: no `cap`")
    if rule.since is not None and rule.absent is None:
        if rule.activity is None:
            bad("since", "`since` measures a window of activities: it needs `activity`")
        elif rule.window_days is None:
            bad("since", "`since` needs `window_days`: how many days after that date count")
    if rule.points == 0 and not rule.disqualify and rule.buckets is None:
        bad("points", "a rule needs non-zero `points` or `disqualify: true`")
    return problems


def _bucket_problems(buckets: list[Bucket]) -> list[LocatedError]:
    problems: list[LocatedError] = []
    last = len(buckets) - 1
    for index, (low, high, _) in enumerate(buckets):
        where = ("buckets", index)
        if low is None and index > 0:
            problems.append(LocatedError(where, "only the first bucket may leave `low` open"))
        if high is None and index < last:
            problems.append(LocatedError(where, "only the last bucket may leave `high` open"))
        if low is not None and high is not None and high < low:
            problems.append(LocatedError(where, f"high {high:g} is below low {low:g}"))
        if index == 0 or low is None:
            continue
        before_low, before_high, _ = buckets[index - 1]
        if before_high is None:
            continue
        point = before_low == before_high
        if low < before_high or (point and low == before_high):
            problems.append(
                LocatedError(
                    where,
                    f"bucket starting at {low:g} overlaps the one before (up to {before_high:g}"
                    f"{', included' if point else ''}); list buckets from low to high without "
                    "overlap",
                )
            )
    if all(points == 0 for _, _, points in buckets):
        problems.append(LocatedError(("buckets",), "every bucket gives 0 points"))
    return problems
