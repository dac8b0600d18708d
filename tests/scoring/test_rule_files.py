"""Rule files: every error names file, line and field and says what was expected."""

from __future__ import annotations

import itertools
import textwrap
import time
from pathlib import Path

import pytest

from scoring import RuleFileError, load_rules, parse_rules
from tests.helpers import unwrapped

EXAMPLES = Path(__file__).parents[2] / "examples"


def problems(text: str) -> list[str]:
    with pytest.raises(RuleFileError) as caught:
        parse_rules(textwrap.dedent(text), "r.yaml")
    return [str(p) for p in caught.value.problems]


def test_misspelled_operator_is_located_with_a_suggestion() -> None:
    found = problems(
        """
        rules:
          - id: job
            contact: {job: {equal: Marketing}}
            points: 5
        """
    )
    assert found == [
        "r.yaml:4: rules[0].contact.job.equal: unknown field 'equal'; did you mean 'equals'?"
    ]


def test_wrong_type_names_the_value_received() -> None:
    found = problems(
        """
        rules:
          - id: open
            activity: email_open
            points: ten
        """
    )
    assert len(found) == 1
    assert found[0].startswith("r.yaml:5: rules[0].points: Input should be a valid number")
    assert found[0].endswith("(got 'ten')")


def test_unknown_activity_type_lists_the_vocabulary() -> None:
    [found] = problems("rules:\n  - {id: a, activity: email_opn, points: 1}\n")
    assert found.startswith("r.yaml:2: rules[0].activity")
    assert "'email_open'" in found and "(got 'email_opn')" in found


def test_all_field_errors_are_reported_at_once() -> None:
    found = problems(
        """
        rules:
          - {id: a, activity: page_view, points: 1, windw_days: 3}
          - {id: b, contact: {x: 1}}
        """
    )
    assert found == [
        "r.yaml:3: rules[0].windw_days: unknown field 'windw_days'; did you mean 'window_days'?",
        "r.yaml:4: rules[1].points: a rule needs non-zero `points` or `disqualify: true`",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "rules:\n  - {id: a, contact: {c: 1}, points: 1, dimension: fitt}\n",
            "r.yaml:2: rules[0].dimension: rule 'a' adds to dimension 'fitt', which is not "
            "declared (declared: fit, activity, engagement)",
        ),
        (
            "rules:\n  - {id: a, contact: {c: 1}, points: 1}\n  - {id: a, contact: {c: 2}, points: 1}\n",
            "r.yaml:3: rules[1].id: rule id 'a' appears twice",
        ),
        (
            "rules: [{id: a, contact: {c: 1}, points: 1}]\nstages:\n  ladder:\n    - name: A\n"
            "    - name: B\n      when:\n        min: {fitt: 2}\n",
            "r.yaml:7: stages.ladder[1].when.min.fitt: unknown dimension 'fitt' (declared: fit, "
            "activity, engagement, total)",
        ),
        (
            "rules: [{id: a, contact: {c: 1}, points: 1}]\nstages:\n  ladder:\n    - name: A\n"
            "      when: {bant_min: 2}\n",
            "r.yaml:5: stages.ladder[0].when.bant_min: `bant_min` needs a `bant` block",
        ),
        (
            "rules: [{id: a, contact: {title: {regex: '(unclosed'}}, points: 1}]\n",
            "r.yaml:1: rules[0].contact.title.regex: invalid regular expression: missing ), "
            "unterminated subpattern at position 0",
        ),
        (
            "rules: [{id: Bad-Id, contact: {c: 1}, points: 1}]\n",
            "r.yaml:1: rules[0]: id 'Bad-Id' must be lower_snake_case (a-z, 0-9, _)",
        ),
        (
            "rules: [{id: a, contact: {c: 1}, points: 1, once: true}]\n",
            "r.yaml:1: rules[0]: `once` applies only to activity rules",
        ),
        (
            "rules: [{id: a, contact: {c: 1}, points: 1}, {id: [], contact: {c: 1}, points: 1}]\n",
            "r.yaml:1: rules[1].id: Input should be a valid string (got [])",
        ),
        (
            "rules: []\n",
            "r.yaml:1: rules: List should have at least 1 item after validation, not 0 (got [])",
        ),
        ("dimensions: {fit: {}}\n", "r.yaml:1: rules: this field is required"),
        (
            "rules:\n  - id: a\n    points: [1\n",
            "r.yaml:4: invalid YAML: expected ',' or ']', but got '<stream end>'",
        ),
        ("- just\n- a list\n", "r.yaml:1: expected a mapping at the top level"),
        ("", "r.yaml: the file is empty"),
    ],
)
def test_problem_messages(text: str, expected: str) -> None:
    assert problems(text) == [expected]


def test_missing_and_undecodable_files(tmp_path: Path) -> None:
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("rules: []\n# caf\xe9\n".encode("latin-1"))

    with pytest.raises(RuleFileError, match=r"nope.yaml: file not found"):
        load_rules(tmp_path / "nope.yaml")
    with pytest.raises(RuleFileError, match=r"latin.yaml: not UTF-8 text"):
        load_rules(latin)


@pytest.mark.parametrize("name", ["thibault", "three_dimensions", "seven_stages"])
def test_shipped_examples_validate(name: str) -> None:
    assert load_rules(EXAMPLES / f"{name}.yaml").rules


def test_yes_no_and_on_off_stay_text_only_true_and_false_are_booleans() -> None:
    ruleset = parse_rules(
        "rules:\n  - {id: nordics, contact: {country: [SE, NO, DK], opt_in: true, x: off}, points: 5}\n"
    )
    ops = ruleset.rules[0].contact
    assert ops["country"].one_of == ["SE", "NO", "DK"]
    assert ops["opt_in"].equals is True
    assert ops["x"].equals == "off"


def test_an_activity_type_listed_twice_is_an_error() -> None:
    [found] = problems("rules:\n  - {id: a, activity: [email_open, email_open], points: 1}\n")
    assert found == "r.yaml:2: rules[0].activity: activity type listed twice: email_open"


# --- numbers are finite and in range -----------------------------------------------------

BAD_NUMBERS = [".nan", ".inf", "-.inf", "1e400", "1.0e400", "1" + "0" * 400]


@pytest.mark.parametrize("value", BAD_NUMBERS)
@pytest.mark.parametrize(
    ("template", "field"),
    [
        ("rules:\n  - {{id: a, activity: page_view, points: {}}}\n", "rules[0].points"),
        ("rules:\n  - {{id: a, activity: page_view, points: 1, cap: {}}}\n", "rules[0].cap"),
        (
            "rules:\n  - {{id: a, activity: page_view, points: 1, window_days: {}}}\n",
            "rules[0].window_days",
        ),
        (
            "rules:\n  - {{id: a, activity: page_view, points: 1, half_life_days: {}}}\n",
            "rules[0].half_life_days",
        ),
        (
            "dimensions: {{fit: {{floor: {}}}}}\nrules:\n  - {{id: a, contact: {{x: 1}}, "
            "points: 1}}\n",
            "dimensions.fit.floor",
        ),
        (
            "rules:\n  - {{id: a, contact: {{x: {{gt: {}}}}}, points: 1}}\n",
            "rules[0].contact.x.gt",
        ),
        (
            "rules:\n  - {{id: a, contact: {{x: {{between: [0, {}]}}}}, points: 1}}\n",
            "rules[0].contact.x.between",
        ),
        (
            "rules:\n  - {{id: a, contact: {{x: 1}}, points: 1}}\n"
            "grades: {{bands: [{{grade: A, min: {}}}, {{grade: B}}]}}\n",
            "grades.bands[0].min",
        ),
        (
            "rules:\n  - {{id: a, contact: {{x: 1}}, points: 1}}\n"
            "stages: {{ladder: [{{name: Lead, when: {{min: {{fit: {}}}}}}}]}}\n",
            "stages.ladder[0].when.min.fit",
        ),
    ],
)
def test_numbers_must_be_finite_and_in_range(template: str, field: str, value: str) -> None:
    found = problems(template.format(value))
    assert len(found) == 1, found
    assert found[0].startswith("r.yaml:")
    assert f": {field}" in found[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "rules:\n  - {id: a, activity: page_view, points: 2000000}\n",
            "r.yaml:2: rules[0].points: Input should be less than or equal to 1000000",
        ),
        (
            "rules:\n  - {id: a, activity: page_view, points: 1, window_days: 40000}\n",
            "r.yaml:2: rules[0].window_days: Input should be less than or equal to 36500",
        ),
        (
            "rules:\n  - {id: a, contact: {x: {equals: .nan}}, points: 1}\n",
            "r.yaml:2: rules[0].contact.x.equals: a number must be finite and within ±1e15",
        ),
        (
            "rules:\n  - {id: a, contact: {x: [1, .inf]}, points: 1}\n",
            "r.yaml:2: rules[0].contact.x.one_of",
        ),
    ],
)
def test_out_of_range_numbers_say_the_range(text: str, expected: str) -> None:
    [found] = problems(text)
    assert found.startswith(expected)


def test_validate_exits_2_on_a_nan(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from sync.cli import app

    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - id: a\n    activity: page_view\n    points: .nan\n", "utf-8")
    result = CliRunner().invoke(app, ["validate", str(rules)], env={"COLUMNS": "80"})
    assert result.exit_code == 2
    message = unwrapped(result.stderr)
    assert f"{rules}:4: rules[0].points: Input should be a finite number" in message
    assert "Traceback" not in result.output


# --- duplicate keys and a bounded YAML loader ---------------------------------------------


def test_a_duplicate_key_names_both_lines() -> None:
    [found] = problems(
        "rules:\n  - id: a\n    activity: page_view\n    points: 20\n    points: 30\n"
    )
    assert found == "r.yaml:5: rules[0].points: duplicate key 'points' (lines 4 and 5)"


def _alias_bomb() -> str:
    names = "abcdefghij"
    text = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    for before, name in itertools.pairwise(names):
        text += f"{name}: &{name} [{', '.join([f'*{before}'] * 9)}]\n"
    return text


LOADER_CASES = [
    (_alias_bomb(), "r.yaml:1: ", "expands to more than 100,000 values"),
    ("a: &a [1, *a]\nrules: *a\n", "r.yaml:1: a[1]: ", "recursive alias"),
    ("a: &a {b: *a}\n", "r.yaml:1: a.b: ", "recursive alias"),
    ("[" * 50_000 + "]" * 50_000, "r.yaml:1: ", "nest more than 50 levels deep"),
    ("a:\n" + "".join("  " * i + "  b:\n" for i in range(80)), "r.yaml:50: ", "50 levels"),
    ("rules: !foo bar\n", "r.yaml:1: rules: ", "unknown tag '!foo'"),
    ("rules: !!python/object:os.system {}\n", "r.yaml:1: rules: ", "unknown tag"),
    ("rules: !!set {a, b}\n", "r.yaml:1: rules: ", "unknown tag '!!set'"),
    ("b: &b {points: 1}\nrules:\n  - <<: *b\n    id: a\n", "r.yaml:3: rules[0]: ", "merge keys"),
    ("rules:\n  - <<: {points: 1}\n", "r.yaml:2: rules[0]: ", "merge keys (<<)"),
    ("rules: !!int abc\n", "r.yaml:1: rules: ", "'abc' is not a valid int"),
    ("? [a]\n: 1\n", "r.yaml:1: ", "keys must be plain values"),
    ("#" * 1_000_001, "r.yaml: ", "larger than 1,000,000 characters"),
]


@pytest.mark.parametrize(("text", "where", "message"), LOADER_CASES)
def test_yaml_the_loader_refuses_is_a_located_error_found_quickly(
    text: str, where: str, message: str
) -> None:
    started = time.monotonic()
    [found] = problems(text)
    assert time.monotonic() - started < 5
    assert found.startswith(where) and message in found, found


def test_aliases_within_the_bound_still_work() -> None:
    rules = parse_rules(
        "rules:\n  - {id: a, contact: {country: &m [SE, FI]}, points: 1}\n"
        "  - {id: b, contact: {country: {not_one_of: *m}}, points: -1}\n"
    )
    assert rules.rules[1].contact is not None
    assert rules.rules[1].contact["country"].not_one_of == ["SE", "FI"]


def test_an_oversized_file_is_refused_before_it_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"#" * 3_000_000)
    with pytest.raises(RuleFileError) as caught:
        load_rules(path)
    assert (
        str(caught.value)
        == f"{path}: the file is larger than 1,000,000 bytes; a rule file is far smaller"
    )


def test_validate_exits_2_on_an_alias_bomb(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from sync.cli import app

    rules = tmp_path / "rules.yaml"
    rules.write_text(_alias_bomb(), "utf-8")
    result = CliRunner().invoke(app, ["validate", str(rules)], env={"COLUMNS": "80"})
    assert result.exit_code == 2
    assert "expands to more than 100,000 values" in " ".join(result.stderr.split())
    assert "Traceback" not in result.output


# --- regular expressions run in bounded time ---------------------------------------------


def _regex_rules(pattern: str) -> str:
    return f"rules:\n  - id: a\n    contact: {{title: {{regex: '{pattern}'}}}}\n    points: 1\n"


@pytest.mark.parametrize(
    ("pattern", "construct"),
    [
        ("^(a+)+$", "nested quantifiers"),
        ("^(?:[a-z]+\\.)+com$", "nested quantifiers"),
        ("(a|ab)*c", "quantified alternation"),
        ("(\\w)\\1", "backreferences"),
        ("(?P<x>a)(?P=x)", "backreferences"),
        ("(?=a)b", "lookarounds"),
        ("(?<!x)y", "lookarounds"),
        ("a.*b.*c.*d", "more than 2 quantifiers"),
    ],
)
def test_validate_names_the_regex_construct_it_refuses(pattern: str, construct: str) -> None:
    [found] = problems(_regex_rules(pattern))
    assert found.startswith("r.yaml:3: rules[0].contact.title.regex: regex ")
    assert construct in found


@pytest.mark.parametrize(
    "pattern", ["(?i)^head of .*marketing", "\\b(cto|ceo|cfo)\\b", "x{2,5}y", "(ab){3}"]
)
def test_ordinary_regexes_still_validate(pattern: str) -> None:
    assert parse_rules(_regex_rules(pattern)).rules[0].contact is not None


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        ("^a+$", "a" * 30 + "!"),
        ("^a.*a.*b$", "a" * 100_000),
        ("\\w+\\s*x", "a" * 100_000),
        ("(?i)^head of .*marketing", "head of " * 20_000),
    ],
)
def test_scoring_an_allowed_regex_over_adversarial_text_is_fast(pattern: str, text: str) -> None:
    from scoring.conditions import cell_predicate

    ops = parse_rules(_regex_rules(pattern)).rules[0].contact
    assert ops is not None
    predicate = cell_predicate(ops["title"])
    started = time.monotonic()
    texts = [text[: len(text) - i] + "!" for i in range(5)]
    matches = [predicate(t) for t in texts]
    assert time.monotonic() - started < 5
    assert not any(matches)


# --- the parser never fails in any other way ----------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 100)
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.sampled_from(["email_open", "page_view", "fit", "SaaS", "equals", "rules"]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "id",
                    "rules",
                    "points",
                    "activity",
                    "contact",
                    "where",
                    "cap",
                    "stages",
                    "ladder",
                    "name",
                    "when",
                    "min",
                    "dimensions",
                    "grades",
                    "bands",
                    "x",
                ]
            ),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@given(st.text(max_size=200))
def test_any_text_gives_a_rule_set_or_located_problems(text: str) -> None:
    try:
        parse_rules(text, "r.yaml")
    except RuleFileError as exc:
        assert exc.problems and all(str(p).startswith("r.yaml") for p in exc.problems)


@given(
    st.dictionaries(
        st.sampled_from(["rules", "dimensions", "stages", "grades", "bant"]), json_values
    )
)
def test_any_structure_gives_a_rule_set_or_located_problems(document: dict) -> None:
    import yaml

    try:
        parse_rules(yaml.safe_dump(document), "r.yaml")
    except RuleFileError as exc:
        assert exc.problems and all(str(p).startswith("r.yaml") for p in exc.problems)


DEFAULT_TEXT = (Path(__file__).parents[2] / "scoring" / "rulesets" / "default.yaml").read_text()
YAML_PIECES = [
    "&a ",
    "*a",
    "<<: ",
    "!!str ",
    "!x ",
    "[",
    "]",
    "{",
    "}",
    ": ",
    "- ",
    "\n  ",
    ".nan",
    "1e400",
    "? ",
    "|\n",
    "'",
    '"',
    "#",
    "\t",
    "(a+)+",
    "9999-12-31T23:30:00-01:00",
]


@settings(max_examples=60, deadline=5000)
@given(
    st.lists(
        st.tuples(
            st.integers(0, len(DEFAULT_TEXT)),
            st.integers(0, 40),
            st.sampled_from(YAML_PIECES) | st.text(max_size=6),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_mutated_default_rules_give_rules_or_located_problems(edits: list) -> None:
    text = DEFAULT_TEXT
    for at, cut, piece in edits:
        text = text[:at] + piece + text[at + cut :]
    started = time.monotonic()
    try:
        parse_rules(text, "r.yaml")
    except RuleFileError as exc:
        assert exc.problems and all(str(p).startswith("r.yaml") for p in exc.problems)
    assert time.monotonic() - started < 5


@settings(max_examples=100, deadline=5000)
@given(st.lists(st.sampled_from(YAML_PIECES) | st.text(max_size=4), max_size=30))
def test_yaml_ish_text_gives_rules_or_located_problems(pieces: list[str]) -> None:
    try:
        parse_rules("".join(pieces), "r.yaml")
    except RuleFileError as exc:
        assert exc.problems and all(str(p).startswith("r.yaml") for p in exc.problems)
