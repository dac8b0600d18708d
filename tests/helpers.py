"""Small builders that keep tests short: rule sets from YAML text, records, one-contact scoring."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from typing import Any

from scoring import Activity, ActivityType, Contact, RuleSet, ScoreBatch, parse_rules, score_records

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def rules(text: str) -> RuleSet:
    return parse_rules(textwrap.dedent(text), "test.yaml")


def days_ago(days: float, now: datetime = NOW) -> datetime:
    return now - timedelta(days=days)


def act(
    kind: str,
    when: datetime | float = 1.0,
    contact: str = "c1",
    **attributes: Any,
) -> Activity:
    """An activity; a number for `when` means that many days before NOW."""
    moment = days_ago(when) if isinstance(when, int | float) else when
    return Activity(contact, ActivityType(kind), moment, attributes=attributes)


def person(ident: str = "c1", email: str | None = "ann@acme.io", **attributes: Any) -> Contact:
    return Contact(ident, email=email, attributes=attributes)


def score_one(
    ruleset: RuleSet, contact: Contact, activities: list[Activity], now: datetime = NOW
) -> ScoreBatch:
    return score_records(ruleset, [contact], activities, now)


def total(ruleset: RuleSet, activities: list[Activity], contact: Contact | None = None) -> float:
    return float(score_one(ruleset, contact or person(), activities).total[0])


class Unwrapped(str):
    """CLI output to look for a whole message in, whatever the 80-column wrapping did: a
    line may be cut inside a long path or at a space, which the wrapping may keep or drop,
    and where it falls moves with the length of the temporary folder's path. So `in`,
    `count` and `endswith` of a part with more than spaces compare with every space and
    line break left out of both sides (a secret cut in two by a line break is still
    found); the text itself, its lines included, is the output as printed. Every
    `CliRunner` result's output reads as one (`tests/conftest.py`)."""

    def __contains__(self, part: object) -> bool:
        if not isinstance(part, str) or not _squeezed(part):
            return super().__contains__(part)  # type: ignore[operator]
        return _squeezed(part) in _squeezed(self)

    def count(self, part: str, *rest: Any) -> int:  # type: ignore[override]
        if rest or not _squeezed(part):  # a line break, a space, counted as they are
            return super().count(part, *rest)
        return _squeezed(self).count(_squeezed(part))

    def endswith(self, part: Any, *rest: Any) -> bool:  # type: ignore[override]
        if rest or not isinstance(part, str) or not _squeezed(part):
            return super().endswith(part, *rest)
        return _squeezed(self).endswith(_squeezed(part))


def _squeezed(text: str) -> str:
    return "".join(text.split())


def unwrapped(text: str) -> Unwrapped:
    """`text` (CLI output) with its line breaks taken out, matched as `Unwrapped` says."""
    return Unwrapped(text.replace("\n", ""))
