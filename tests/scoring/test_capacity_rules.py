"""The `capacity` block: the hand-over stage found or refused with file, line and field,
and the command line's exit 2 on a bad block."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from scoring import RuleFileError, parse_rules

LADDER = """\
rules: [{id: a, contact: {c: 1}, points: 1}]
stages:
  ladder:
    - name: Prospect
    - {name: MQL, when: {min: {total: 1}}}
    - {name: Sales qualified, owner: sales, when: {min: {total: 2}}}
    - {name: Opportunity, owner: sales, when: {min: {total: 3}}}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(RuleFileError) as caught:
        parse_rules(text, "r.yaml")
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize(
    ("block", "stage"),
    [
        ("capacity: {per_week: 5}", 2),  # the first `owner: sales` stage
        ("capacity: {stage: opportunity, per_week: 5, by: owner}", 3),  # names fold case
        ("capacity: {stage: MQL, per_week: 1}", 1),
    ],
)
def test_the_hand_over_stage(block: str, stage: int) -> None:
    rules = parse_rules(LADDER + block + "\n", "r.yaml")
    assert rules.capacity is not None and rules.stages is not None
    assert rules.capacity.stage_index(rules.stages) == stage
    assert ("owner" in rules.contact_fields()) == ("by:" in block)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            LADDER + "capacity: {stage: SQL, per_week: 5}\n",
            "r.yaml:8: capacity.stage: no stage 'SQL' on the ladder "
            "(Prospect, MQL, Sales qualified, Opportunity)",
        ),
        (
            LADDER + "capacity: {stage: Prospect, per_week: 5}\n",
            "r.yaml:8: capacity.stage: the hand-over stage cannot be the ladder's floor: "
            "waiting leads sit below it",
        ),
        (
            LADDER + "capacity:\n  per_week: 0\n",
            "r.yaml:9: capacity.per_week: Input should be greater than or equal to 1 (got 0)",
        ),
        (
            LADDER.replace("owner: sales, ", "") + "capacity: {per_week: 5}\n",
            "r.yaml:8: capacity: no `owner: sales` stage on the ladder: name the hand-over `stage`",
        ),
        (
            "rules: [{id: a, contact: {c: 1}, points: 1}]\ncapacity: {per_week: 5}\n",
            "r.yaml:2: capacity: `capacity` needs a `stages` ladder to hand over on",
        ),
        (
            LADDER + "capacity:\n  per_week: 5\n  timezone: Europe/Pariss\n",
            "r.yaml:10: capacity.timezone: unknown time zone 'Europe/Pariss': "
            "an IANA name such as Europe/Paris or UTC",
        ),
    ],
)
def test_problems_are_located(text: str, expected: str) -> None:
    assert problems(text) == [expected]


def test_validate_exits_2_on_a_bad_block(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from sync.cli import app

    path = tmp_path / "leadscore.yaml"
    path.write_text(LADDER + textwrap.dedent("capacity: {stage: SQL, per_week: 5}\n"))
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "capacity.stage: no stage 'SQL'" in result.output
    assert "Traceback" not in result.output


def test_a_time_zone_is_kept() -> None:
    rules = parse_rules(LADDER + "capacity: {per_week: 5, timezone: America/New_York}\n", "r")
    assert rules.capacity is not None and rules.capacity.timezone == "America/New_York"
