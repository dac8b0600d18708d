"""The scoring core: rule sets, the columnar batch engine, stages, grades and reasons.

Pure: no network, no disk except reading a rule file, no clock.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from scoring.account_domains import (
        company_domains,
        domain_key,
        domain_owners,
        domain_pairs,
        keyed_by_domain,
    )
    from scoring.account_fit import CompanyAttributes
    from scoring.accounts import AccountRollups, Rollups, account_keys, population_rollups
    from scoring.as_of import population_at, score_population
    from scoring.backtest import Backtest, RocCurve, backtest_of, roc_of, whole_scores
    from scoring.calibrate import Calibration, MissingExtra, calibrate_rules
    from scoring.conditions import Conditions
    from scoring.due import due_in, reasons_key, rollup_due
    from scoring.engine import activity_groups, score
    from scoring.errors import InputError, Problem, RuleFileError, ScoringError
    from scoring.exclude_rules import Exclusion, address_lines, address_problem, joined_exclusions
    from scoring.exclusion import Included, excluded, holding, included, score_included
    from scoring.explain import (
        SEPARATOR,
        Reason,
        ScoreBatch,
        format_reasons,
        number,
        whole_points,
    )
    from scoring.fitted_file import fitted_text
    from scoring.frames import (
        ActivityFrame,
        CategoricalColumn,
        Column,
        ContactFrame,
        NumericColumn,
        SourceRecords,
        TextCategories,
        column_from_values,
        is_missing,
    )
    from scoring.interest_rules import INTEREST_SCORE, TOP_INTEREST, Interests, topic_column
    from scoring.interests import InterestScores
    from scoring.leakage import leaks
    from scoring.loader import default_rules_text, demo_rules_text, load_rules, parse_rules
    from scoring.numbers import parse_number, unparsed_numbers
    from scoring.purchases import Sales, counted_sales
    from scoring.records import (
        ACTIVITY_TYPES,
        TYPE_CODES,
        Activity,
        ActivityType,
        Contact,
        ensure_utc,
        normalize_email,
    )
    from scoring.rfm import (
        Bounds,
        Measures,
        RfmBounds,
        bounds_of,
        measure,
        moved_digits,
        population_bounds,
    )
    from scoring.rfm_rules import CURRENCY_FIELD, SYSTEM_FIELD
    from scoring.rulecache import cached_data
    from scoring.rules import RuleSet
    from scoring.subsets import take_activities, take_contacts
    from scoring.velocity import PastScores
    from scoring.velocity_rules import VELOCITY_BUCKETS, VelocityBuckets, velocity_bucket
    from scoring.yamlrules import plain_data

_HOMES = {
    **dict.fromkeys(("activity_groups", "score"), "scoring.engine"),
    **dict.fromkeys(
        ("company_domains", "domain_key", "domain_owners", "domain_pairs", "keyed_by_domain"),
        "scoring.account_domains",
    ),
    **dict.fromkeys(
        ("Backtest", "RocCurve", "backtest_of", "roc_of", "whole_scores"), "scoring.backtest"
    ),
    "leaks": "scoring.leakage",
    **dict.fromkeys(
        ("Exclusion", "address_lines", "address_problem", "joined_exclusions"),
        "scoring.exclude_rules",
    ),
    **dict.fromkeys(
        ("Included", "excluded", "holding", "included", "score_included"), "scoring.exclusion"
    ),
    "Conditions": "scoring.conditions",
    "plain_data": "scoring.yamlrules",
    **dict.fromkeys(("Calibration", "MissingExtra", "calibrate_rules"), "scoring.calibrate"),
    "fitted_text": "scoring.fitted_file",
    **dict.fromkeys(
        ("INTEREST_SCORE", "TOP_INTEREST", "Interests", "topic_column"), "scoring.interest_rules"
    ),
    "InterestScores": "scoring.interests",
    **dict.fromkeys(
        ("AccountRollups", "Rollups", "account_keys", "population_rollups"), "scoring.accounts"
    ),
    **dict.fromkeys(("population_at", "score_population"), "scoring.as_of"),
    "CompanyAttributes": "scoring.account_fit",
    **dict.fromkeys(("take_activities", "take_contacts"), "scoring.subsets"),
    **dict.fromkeys(("due_in", "reasons_key", "rollup_due"), "scoring.due"),
    **dict.fromkeys(("InputError", "Problem", "RuleFileError", "ScoringError"), "scoring.errors"),
    **dict.fromkeys(
        ("SEPARATOR", "Reason", "ScoreBatch", "format_reasons", "number", "whole_points"),
        "scoring.explain",
    ),
    **dict.fromkeys(
        (
            "ActivityFrame",
            "CategoricalColumn",
            "Column",
            "ContactFrame",
            "NumericColumn",
            "SourceRecords",
            "TextCategories",
            "column_from_values",
            "is_missing",
        ),
        "scoring.frames",
    ),
    **dict.fromkeys(
        ("default_rules_text", "demo_rules_text", "load_rules", "parse_rules"), "scoring.loader"
    ),
    **dict.fromkeys(("parse_number", "unparsed_numbers"), "scoring.numbers"),
    **dict.fromkeys(
        (
            "Bounds",
            "Measures",
            "RfmBounds",
            "bounds_of",
            "measure",
            "moved_digits",
            "population_bounds",
        ),
        "scoring.rfm",
    ),
    "cached_data": "scoring.rulecache",
    **dict.fromkeys(
        (
            "ACTIVITY_TYPES",
            "TYPE_CODES",
            "Activity",
            "ActivityType",
            "Contact",
            "ensure_utc",
            "normalize_email",
        ),
        "scoring.records",
    ),
    "RuleSet": "scoring.rules",
    **dict.fromkeys(("Sales", "counted_sales"), "scoring.purchases"),
    **dict.fromkeys(("CURRENCY_FIELD", "SYSTEM_FIELD"), "scoring.rfm_rules"),
    "PastScores": "scoring.velocity",
    **dict.fromkeys(
        ("VELOCITY_BUCKETS", "VelocityBuckets", "velocity_bucket"), "scoring.velocity_rules"
    ),
}
"""Where each public name lives. Names are imported when first used, so that the record
types (all a connector needs) and the rule loader (all `leadscore validate` needs) never
load the engine and numpy."""


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'scoring' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)


def score_records(
    rules: RuleSet,
    contacts: Sequence[Contact],
    activities: Sequence[Activity],
    as_of: datetime,
    *,
    reached: Sequence[str | None] | None = None,
) -> ScoreBatch:
    """Score record objects; activities of contacts not in `contacts` are ignored.

    `reached` is the stage each contact reached before (see `score`), in their order.
    """
    from scoring.engine import score
    from scoring.frames import ActivityFrame, ContactFrame

    frame = ContactFrame.from_records(contacts)
    activity_frame = ActivityFrame.from_records(activities, frame.ids)
    return score(rules, frame, activity_frame, as_of, reached=reached)


__all__ = [
    "ACTIVITY_TYPES",
    "CURRENCY_FIELD",
    "INTEREST_SCORE",
    "SEPARATOR",
    "SYSTEM_FIELD",
    "TOP_INTEREST",
    "TYPE_CODES",
    "VELOCITY_BUCKETS",
    "AccountRollups",
    "Activity",
    "ActivityFrame",
    "ActivityType",
    "Backtest",
    "Bounds",
    "Calibration",
    "CategoricalColumn",
    "Column",
    "CompanyAttributes",
    "Conditions",
    "Contact",
    "ContactFrame",
    "Exclusion",
    "Included",
    "InputError",
    "InterestScores",
    "Interests",
    "Measures",
    "MissingExtra",
    "NumericColumn",
    "PastScores",
    "Problem",
    "Reason",
    "RfmBounds",
    "RocCurve",
    "Rollups",
    "RuleFileError",
    "RuleSet",
    "Sales",
    "ScoreBatch",
    "ScoringError",
    "SourceRecords",
    "TextCategories",
    "VelocityBuckets",
    "account_keys",
    "activity_groups",
    "address_lines",
    "address_problem",
    "backtest_of",
    "bounds_of",
    "cached_data",
    "calibrate_rules",
    "column_from_values",
    "company_domains",
    "counted_sales",
    "default_rules_text",
    "demo_rules_text",
    "domain_key",
    "domain_owners",
    "domain_pairs",
    "due_in",
    "ensure_utc",
    "excluded",
    "fitted_text",
    "format_reasons",
    "holding",
    "included",
    "is_missing",
    "joined_exclusions",
    "keyed_by_domain",
    "leaks",
    "load_rules",
    "measure",
    "moved_digits",
    "normalize_email",
    "number",
    "parse_number",
    "parse_rules",
    "plain_data",
    "population_at",
    "population_bounds",
    "population_rollups",
    "reasons_key",
    "roc_of",
    "rollup_due",
    "score",
    "score_included",
    "score_population",
    "score_records",
    "take_activities",
    "take_contacts",
    "topic_column",
    "unparsed_numbers",
    "velocity_bucket",
    "whole_points",
    "whole_scores",
]
