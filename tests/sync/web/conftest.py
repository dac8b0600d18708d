"""What every webhook test module may ask for by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from scoring import RuleSet, load_rules

RULES = Path(__file__).parents[3] / "scoring" / "rulesets" / "default.yaml"


@pytest.fixture(scope="session")
def rules() -> RuleSet:
    """The shipped default rules, read once."""
    return load_rules(RULES)
