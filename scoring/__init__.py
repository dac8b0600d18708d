"""The scoring core: rule sets, the columnar batch engine, stages, grades and reasons.

Pure: no network, no disk except reading a rule file, no clock.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from scoring.engine import score
from scoring.errors import InputError, Problem, RuleFileError, ScoringError
from scoring.explain import Reason, ScoreBatch
from scoring.frames import ActivityFrame, ContactFrame
from scoring.loader import default_rules_text, load_rules, parse_rules
from scoring.records import ACTIVITY_TYPES, TYPE_CODES, Activity, ActivityType, Contact
from scoring.rules import RuleSet

if TYPE_CHECKING:
    from collections.abc import Sequence


def score_records(
    rules: RuleSet,
    contacts: Sequence[Contact],
    activities: Sequence[Activity],
    as_of: datetime,
) -> ScoreBatch:
    """Score record objects; activities of contacts not in `contacts` are ignored."""
    frame = ContactFrame.from_records(contacts)
    return score(rules, frame, ActivityFrame.from_records(activities, frame.ids), as_of)


__all__ = [
    "ACTIVITY_TYPES",
    "TYPE_CODES",
    "Activity",
    "ActivityFrame",
    "ActivityType",
    "Contact",
    "ContactFrame",
    "InputError",
    "Problem",
    "Reason",
    "RuleFileError",
    "RuleSet",
    "ScoreBatch",
    "ScoringError",
    "default_rules_text",
    "load_rules",
    "parse_rules",
    "score",
    "score_records",
]
