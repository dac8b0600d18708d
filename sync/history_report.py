"""A person's score history as text (two lines per score, within 80 columns) and as JSON,
and velocity as `explain` and `history` show it."""

from __future__ import annotations

import bisect
import math
import textwrap
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from scoring import RuleSet, VelocityBuckets, velocity_bucket, whole_points
from sync.backtest_report import WIDTH
from sync.fields import DISQUALIFIED_SCORE
from sync.history import SHORT, HistoryEntry, moved

VelocityMarks = Mapping[float, int | None]
"""Per velocity window (days), how far a score moved over it (None: no score then)."""


def velocity_text(moved: float | None, days: float, buckets: VelocityBuckets | None) -> str:
    """One window's velocity as a person reads it: `velocity +23 over 14 days (heating up)`,
    the bucket where the rules' `velocity` block measures that window; `none yet` without a
    score that old."""
    span = f"{days:g} day{'s' if days != 1 else ''}"
    if moved is None or math.isnan(moved):
        return f"velocity over {span}: none yet (no score recorded {span} before)"
    points = whole_points(moved)
    bucket = (
        velocity_bucket(moved, buckets) if buckets is not None and buckets.days == days else None
    )
    return f"velocity {points:+d} over {span}" + (f" ({bucket})" if bucket else "")


def velocity_lines(rules: RuleSet, total: float, then: Mapping[float, float]) -> list[str]:
    """What `explain` prints of velocity: per window the rules read (`RuleSet.velocity_windows`),
    `total` less the score in force that many days before (`then`, NaN: none); nothing
    when the rules read no velocity."""
    return [
        velocity_text(total - then.get(days, math.nan), days, rules.velocity)
        for days in rules.velocity_windows()
    ]


def velocity_marks(
    entries: Sequence[HistoryEntry], windows: Sequence[float]
) -> list[VelocityMarks]:
    """Per entry (oldest first), per window, its score less the last score recorded at or
    before that many days earlier, as `sync.velocity` looks it up; None when there is none,
    or when either is disqualified (`DISQUALIFIED_SCORE` is no amount of points)."""
    moments = [entry.at for entry in entries]
    out: list[VelocityMarks] = []
    for entry in entries:
        marks: dict[float, int | None] = {}
        for days in windows:
            at = bisect.bisect_right(moments, entry.at - timedelta(days=days)) - 1
            then = entries[at] if at >= 0 else None
            known = then is not None and DISQUALIFIED_SCORE not in (then.score, entry.score)
            marks[days] = entry.score - then.score if known and then is not None else None
        out.append(marks)
    return out


def _signed(points: int) -> str:
    return f"{points:+d}"


def moved_text(change: dict[str, Any]) -> str:
    """What moved, as a person reads it: `score +5, engagement +5, stage Lead -> MQL`."""
    if change.get("first"):
        return "first recorded score"
    parts = []
    for name, value in change.items():
        if name == "rules":
            parts.append(f"rules {value[0][:SHORT]} -> {value[1][:SHORT]}")
        elif isinstance(value, list):
            parts.append(f"{name} {value[0] or '-'} -> {value[1] or '-'}")
        else:
            parts.append(f"{name} {_signed(value)}")
    return ", ".join(parts) or "nothing a reader sees"


def history_lines(
    who: str,
    entries: Sequence[HistoryEntry],
    width: int = WIDTH,
    rules: RuleSet | None = None,
) -> list[str]:
    """The history as lines of at most `width` characters, oldest first: per score, its
    time, score, grade and rule version, then its stage, dimensions, velocity (over the
    windows `rules` read, from the recorded scores) and what moved (wrapped at words)."""
    if not entries:
        return [f"{who}: no score recorded yet (a sync records each score it writes)"]
    versions = len({e.rules for e in entries})
    plural = "s" if len(entries) != 1 else ""
    lines = [
        f"{who}: {len(entries)} score{plural} recorded under {versions} rule "
        f"version{'s' if versions != 1 else ''} (times in UTC)"
    ]
    windows = rules.velocity_windows() if rules is not None else []
    marks = velocity_marks(entries, windows)
    buckets = rules.velocity if rules is not None else None
    previous: HistoryEntry | None = None
    for entry, mark in zip(entries, marks, strict=True):
        head = (
            f"{entry.at:%Y-%m-%d %H:%M:%S}  score {entry.score:>5}  "
            f"grade {entry.grade or '-'}  rules {entry.rules[:SHORT]}"
        )
        lines.append(head if len(head) <= width else head[: width - 3] + "...")
        dims = "  ".join(f"{name} {points}" for name, points in entry.dimensions.items())
        speed = "".join(f"{velocity_text(v, d, buckets)}; " for d, v in mark.items())
        body = (
            f"stage {entry.stage or '-'}; {dims}; {speed}"
            f"moved: {moved_text(moved(previous, entry))}"
        )
        lines.extend(textwrap.wrap(body, width, initial_indent="    ", subsequent_indent="    "))
        previous = entry
    return lines


def history_json(
    who: str, person: int, entries: Sequence[HistoryEntry], rules: RuleSet | None = None
) -> dict[str, Any]:
    """The history as plain data: every entry with what moved since the one before and,
    when `rules` read velocity, its velocity per window (`{"14": {"change": 12, "bucket":
    "heating up"}}`, change null without a score that old)."""
    items = []
    windows = rules.velocity_windows() if rules is not None else []
    buckets = rules.velocity if rules is not None else None
    previous: HistoryEntry | None = None
    for entry, mark in zip(entries, velocity_marks(entries, windows), strict=True):
        items.append(
            {
                "at": entry.at.isoformat().replace("+00:00", "Z"),
                "score": entry.score,
                "dimensions": entry.dimensions,
                "stage": entry.stage,
                "grade": entry.grade,
                "rules": entry.rules,
                "moved": moved(previous, entry),
                **({"velocity": velocity_json(mark, buckets)} if windows else {}),
            }
        )
        previous = entry
    return {"who": who, "person": person, "history": items}


def velocity_json(marks: VelocityMarks, buckets: VelocityBuckets | None) -> dict[str, Any]:
    """One entry's velocity marks as plain data, by window."""
    out: dict[str, Any] = {}
    for days, change in marks.items():
        bucket = None
        if buckets is not None and buckets.days == days and change is not None:
            bucket = velocity_bucket(float(change), buckets)
        out[f"{days:g}"] = {"change": change, "bucket": bucket}
    return out
