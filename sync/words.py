"""Counts as a person reads them, for lines and pages alike (imports nothing)."""

from __future__ import annotations


def counted(n: int, noun: str) -> str:
    """`1 contact`, `1,200 contacts`: a count and its noun, plural but for one."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
