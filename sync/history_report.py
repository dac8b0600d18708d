"""A person's score history as text (two lines per score, within 80 columns) and as JSON."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import Any

from sync.backtest_report import WIDTH
from sync.history import SHORT, HistoryEntry, moved


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


def history_lines(who: str, entries: Sequence[HistoryEntry], width: int = WIDTH) -> list[str]:
    """The history as lines of at most `width` characters, oldest first: per score, its
    time, score, grade and rule version, then its stage, dimensions and what moved (wrapped
    at words)."""
    if not entries:
        return [f"{who}: no score recorded yet (a sync records each score it writes)"]
    versions = len({e.rules for e in entries})
    plural = "s" if len(entries) != 1 else ""
    lines = [
        f"{who}: {len(entries)} score{plural} recorded under {versions} rule "
        f"version{'s' if versions != 1 else ''} (times in UTC)"
    ]
    previous: HistoryEntry | None = None
    for entry in entries:
        head = (
            f"{entry.at:%Y-%m-%d %H:%M:%S}  score {entry.score:>5}  "
            f"grade {entry.grade or '-'}  rules {entry.rules[:SHORT]}"
        )
        lines.append(head if len(head) <= width else head[: width - 3] + "...")
        dims = "  ".join(f"{name} {points}" for name, points in entry.dimensions.items())
        body = f"stage {entry.stage or '-'}; {dims}; moved: {moved_text(moved(previous, entry))}"
        lines.extend(textwrap.wrap(body, width, initial_indent="    ", subsequent_indent="    "))
        previous = entry
    return lines


def history_json(who: str, person: int, entries: Sequence[HistoryEntry]) -> dict[str, Any]:
    """The history as plain data: every entry with what moved since the one before."""
    items = []
    previous: HistoryEntry | None = None
    for entry in entries:
        items.append(
            {
                "at": entry.at.isoformat().replace("+00:00", "Z"),
                "score": entry.score,
                "dimensions": entry.dimensions,
                "stage": entry.stage,
                "grade": entry.grade,
                "rules": entry.rules,
                "moved": moved(previous, entry),
            }
        )
        previous = entry
    return {"who": who, "person": person, "history": items}
