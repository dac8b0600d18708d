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


def unwrapped(text: str) -> str:
    """CLI output with the 80-column wrapping taken out (a long path may be cut anywhere,
    and a break at a word keeps its space), to look for a whole message in."""
    return text.replace("\n", "")
