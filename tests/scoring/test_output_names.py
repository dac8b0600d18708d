"""A dimension or rule may not take the name of a column of the scores written out."""

from __future__ import annotations

import textwrap

import pytest

from scoring import RuleFileError, parse_rules
from scoring.rules import OUTPUT_COLUMNS

NAMES = (
    "bant, disqualified, email, grade, id, interest_score, lead, reasons, rfm, rfm_score, "
    "rfm_segment, score, stage, top_interest"
)


def problems(text: str) -> list[str]:
    with pytest.raises(RuleFileError) as caught:
        parse_rules(textwrap.dedent(text), "r.yaml")
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize("name", sorted(OUTPUT_COLUMNS))
def test_a_dimension_named_as_an_output_column_is_refused_where_it_is(name: str) -> None:
    found = problems(
        f"""
        dimensions:
          fit: {{}}
          {name}: {{cap: 10}}
        rules:
          - {{id: a, contact: {{c: 1}}, points: 1}}
        """
    )
    assert found == [
        f"r.yaml:4: dimensions.{name}: dimension name {name!r} is a column of the scores "
        f"written out ({NAMES}); choose another name"
    ]


@pytest.mark.parametrize("name", ["score", "stage", "reasons", "email"])
def test_a_rule_id_named_as_an_output_column_is_refused_where_it_is(name: str) -> None:
    found = problems(
        f"""
        dimensions: {{fit: {{}}}}
        rules:
          - {{id: ok, contact: {{c: 1}}, points: 1}}
          - {{id: {name}, contact: {{c: 1}}, points: 1, dimension: fit}}
        """
    )
    assert found == [
        f"r.yaml:5: rules[1].id: rule id {name!r} is a column of the scores written out "
        f"({NAMES}); choose another name"
    ]


def test_names_that_only_contain_an_output_column_are_fine() -> None:
    ruleset = parse_rules(
        "dimensions: {score_fit: {}}\nrules:\n"
        "  - {id: stage_hint, contact: {c: 1}, points: 1, dimension: score_fit}\n",
        "r.yaml",
    )
    assert list(ruleset.dimensions) == ["score_fit"]
