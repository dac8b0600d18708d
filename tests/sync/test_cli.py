"""The command line as a user meets it: exit codes, messages, files written or not."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from scoring import parse_rules
from sync.cli import app
from tests.helpers import unwrapped

EXAMPLES = Path(__file__).parents[2] / "examples"
runner = CliRunner()


def run(*args: str, env: dict[str, str] | None = None):
    return runner.invoke(app, list(args), env={"COLUMNS": "200", **(env or {})})


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(
        "id,email,job_function\n"
        "1,thibault@acme.io,Sales\n"
        "2,marie@beta.io,Marketing\n"
        "3,,Marketing\n",
        "utf-8",
    )
    activities = tmp_path / "activities.csv"
    activities.write_text(
        "contact_id,type,occurred_at\n"
        "1,social_click,2026-11-03T09:00:00Z\n"
        "1,page_view,2026-11-04T09:00:00Z\n"
        "1,content_download,2026-11-06T09:00:00Z\n"
        "1,question,2026-11-10T09:00:00Z\n"
        "2,email_open,2026-11-05T09:00:00Z\n"
        "2,question,2026-12-01T09:00:00Z\n",
        "utf-8",
    )
    return {"contacts": contacts, "activities": activities, "dir": tmp_path}


def score_args(files: dict[str, Path], *extra: str) -> list[str]:
    return [
        "score",
        "--rules",
        str(EXAMPLES / "thibault.yaml"),
        "--contacts",
        str(files["contacts"]),
        "--activities",
        str(files["activities"]),
        "--as-of",
        "2026-11-11T00:00:00Z",
        *extra,
    ]


def test_validate_accepts_a_good_file() -> None:
    result = run("validate", str(EXAMPLES / "seven_stages.yaml"))
    assert result.exit_code == 0
    assert "ok" in result.stdout and "5 rules" in result.stdout and "7 stages" in result.stdout


def test_validate_exits_2_naming_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - id: a\n    activity: page_view\n    pionts: 5\n", "utf-8")

    result = run("validate", str(bad))

    assert result.exit_code == 2
    assert f"{bad}:4: rules[0].pionts: unknown field 'pionts'; did you mean 'points'?" in unwrapped(
        result.stderr
    )


def test_rules_default_to_the_setting(tmp_path: Path) -> None:
    result = run("validate", env={"LEADSCORE_RULES": str(EXAMPLES / "thibault.yaml")})
    assert result.exit_code == 0, result.stderr


def test_score_prints_a_ranked_table(files: dict[str, Path]) -> None:
    result = run(*score_args(files))

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    first = next(i for i, line in enumerate(lines) if "thibault@acme.io" in line)
    second = next(i for i, line in enumerate(lines) if "marie@beta.io" in line)
    assert first < second
    assert "110" in lines[first] and "+50 asked a question" in lines[first]


def test_score_writes_every_contact_to_csv(files: dict[str, Path]) -> None:
    out = files["dir"] / "scores.csv"

    result = run(*score_args(files, "--out", str(out)))

    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [(r["id"], r["score"]) for r in rows] == [("1", "110.0"), ("2", "10.0"), ("3", "0.0")]
    assert list(rows[0]) == [
        "id",
        "email",
        "score",
        "activity",
        "engagement",
        "grade",
        "stage",
        "disqualified",
        "lead",
        "reasons",
    ]


@pytest.mark.parametrize("kind", ["csv", "jsonl", "parquet"])
def test_score_writes_each_address_normalized_by_its_contact(
    files: dict[str, Path], kind: str
) -> None:
    """The output's addresses are the normalized ones, each on its own contact's line,
    addresses that normalize alike and contacts without one included."""
    files["contacts"].write_text(
        "id,email,job_function\n"
        "1, Thibault@ACME.io ,Sales\n"
        "2,marie@beta.io,Marketing\n"
        "3,,Marketing\n"
        "4,thibault@acme.IO,Sales\n",
        "utf-8",
    )
    out = files["dir"] / f"scores.{kind}"
    result = run(*score_args(files, "--out", str(out)))
    assert result.exit_code == 0, result.stderr
    if kind == "parquet":
        import pyarrow.parquet as pq

        rows = pq.read_table(out).select(["id", "email"]).to_pylist()
    elif kind == "csv":
        rows = list(csv.DictReader(out.open(encoding="utf-8")))
    else:
        rows = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    emails = {row["id"]: row["email"] or None for row in rows}
    assert emails == {
        "1": "thibault@acme.io",
        "2": "marie@beta.io",
        "3": None,
        "4": "thibault@acme.io",
    }


def test_repeated_contact_ids_exit_2_before_anything_else_is_said_or_written(
    files: dict[str, Path],
) -> None:
    """Ids repeated in the contacts file (looked for while the engine runs) fail the run
    with exit 2 and nothing written, before any note on the input, and before the
    activities' own problems."""
    repeated = "id,email,job_function\n1,a@acme.io,Sales\n2,b@beta.io,Sales\n1,c@acme.io,Sales\n"
    files["contacts"].write_text(repeated, "utf-8")
    with files["activities"].open("a", encoding="utf-8") as more:
        more.write("9,page_view,2026-11-04T09:00:00Z\n")  # of no contact: a note
    out = files["dir"] / "scores.csv"
    result = run(*score_args(files, "--out", str(out)))
    assert result.exit_code == 2
    said = unwrapped(result.stderr)
    assert f"{files['contacts']}:4: column 'id': duplicate id '1' (first on line 2)" in said
    assert "note" not in said
    assert not out.exists()
    files["contacts"].write_text(repeated.replace("1,c@", "3,c@"), "utf-8")
    result = run(*score_args(files, "--out", str(out)))
    assert result.exit_code == 0 and "refer to no contact" in unwrapped(result.stderr)
    files["contacts"].write_text(repeated, "utf-8")
    out.unlink()
    files["activities"].write_text("contact_id,type,occurred_at\n1,page_view,someday\n")
    result = run(*score_args(files, "--out", str(out)))
    assert result.exit_code == 2
    said = unwrapped(result.stderr)
    assert "duplicate id '1'" in said and "occurred_at" not in said
    assert not out.exists()


def test_score_writes_jsonl(files: dict[str, Path]) -> None:
    out = files["dir"] / "scores.jsonl"
    assert run(*score_args(files, "--out", str(out))).exit_code == 0
    first = json.loads(out.read_text().splitlines()[0])
    assert first["email"] == "thibault@acme.io" and first["disqualified"] is False


def test_malformed_activity_file_exits_2_and_writes_nothing(files: dict[str, Path]) -> None:
    files["activities"].write_text("contact_id,type,occurred_at\n1,page_view,someday\n", "utf-8")
    out = files["dir"] / "scores.csv"

    result = run(*score_args(files, "--out", str(out)))

    assert result.exit_code == 2
    assert f"{files['activities']}:2: column 'occurred_at'" in unwrapped(result.stderr)
    assert not out.exists()


def test_bad_as_of_exits_2(files: dict[str, Path]) -> None:
    result = run(
        "score",
        "--rules",
        str(EXAMPLES / "thibault.yaml"),
        "--contacts",
        str(files["contacts"]),
        "--as-of",
        "next tuesday",
    )
    assert result.exit_code == 2
    assert "--as-of" in result.stderr


@pytest.mark.parametrize("moment", ["9999-12-31T23:30:00-01:00", "0001-01-01T00:00:00+00:01"])
def test_an_as_of_out_of_range_in_utc_exits_2(files: dict[str, Path], moment: str) -> None:
    result = run(*score_args(files)[:-1], moment)
    assert result.exit_code == 2
    assert "--as-of" in result.stderr and "out of range" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_an_activity_out_of_range_in_utc_exits_2_naming_row_and_column(
    files: dict[str, Path],
) -> None:
    files["activities"].write_text(
        "contact_id,type,occurred_at\n1,page_view,0001-01-01T00:30:00+01:00\n", "utf-8"
    )
    result = run(*score_args(files))
    assert result.exit_code == 2
    assert "activities.csv:2: column 'occurred_at':" in unwrapped(result.stderr)
    assert "Traceback" not in result.stderr + result.stdout


def test_unknown_output_format_exits_2_before_reading(files: dict[str, Path]) -> None:
    result = run(*score_args(files, "--out", str(files["dir"] / "scores.xlsx")))
    assert result.exit_code == 2
    assert "unknown extension '.xlsx'" in result.stderr


def test_unmatched_activities_are_reported(files: dict[str, Path]) -> None:
    with files["activities"].open("a") as handle:
        handle.write("99,page_view,2026-11-04T09:00:00Z\n")
    result = run(*score_args(files))
    assert result.exit_code == 0
    assert "1 activities" in result.stderr and "skipped" in result.stderr


def test_init_writes_a_valid_rule_file_and_env_and_will_not_overwrite(tmp_path: Path) -> None:
    first = run("init", str(tmp_path))
    again = run("init", str(tmp_path))

    assert first.exit_code == 0
    assert parse_rules((tmp_path / "leadscore.yaml").read_text()).rules
    # the starter file's points are guesses: both the file and the output name the way
    # to fit them to the user's own outcomes
    assert "leadscore calibrate" in (tmp_path / "leadscore.yaml").read_text()
    assert "leadscore calibrate" in first.stdout
    assert "LEADSCORE_RULES=" in (tmp_path / ".env").read_text()
    assert again.exit_code == 2 and "already exists" in again.stderr


def test_env_example_lists_every_setting() -> None:
    from sync.settings import env_example

    assert (Path(__file__).parents[2] / ".env.example").read_text() == env_example()


def test_schema_is_json_schema_of_rule_files(tmp_path: Path) -> None:
    out = tmp_path / "schema.json"
    assert run("schema", "--out", str(out)).exit_code == 0
    document = json.loads(out.read_text())
    rule = document["$defs"]["Rule"]["properties"]
    assert {"id", "activity", "contact", "points", "cap", "once", "window_days"} <= set(rule)
    assert {"value", "unit", "per", "buckets", "min_count", "absent", "since"} <= set(rule)
    assert set(document["$defs"]["Absent"]["properties"]) == {"activity", "days"}
    assert document["$defs"]["Rule"]["additionalProperties"] is False


def test_bad_setting_exits_2(tmp_path: Path) -> None:
    result = run("validate", env={"LEADSCORE_LOG_FORMAT": "yaml"})
    assert result.exit_code == 2
    assert "LEADSCORE_LOG_FORMAT" in result.stderr


def test_labels_with_brackets_are_printed_as_written(
    tmp_path: Path, files: dict[str, Path]
) -> None:
    rules = tmp_path / "r.yaml"
    rules.write_text(
        "rules:\n  - {id: q, label: '[chat] question', activity: question, points: 5}\n"
    )
    result = run(*score_args(files, "--rules", str(rules)))
    assert result.exit_code == 0, result.stderr
    assert "+5 [chat] question" in result.stdout


def test_score_warns_about_every_attribute_the_rules_read_that_the_file_lacks(
    tmp_path: Path,
) -> None:
    contacts = tmp_path / "contacts.csv"
    contacts.write_text("id,email,job\n1,ann@acme.io,Sales\n", "utf-8")
    ruleset = tmp_path / "rules.yaml"
    ruleset.write_text(
        "rules:\n  - {id: sales, contact: {job_function: Sales}, points: 20}\n"
        "  - {id: big, contact: {employees: {gte: 50}}, points: 5}\n",
        "utf-8",
    )

    result = run("score", "-c", str(contacts), "-r", str(ruleset))

    assert result.exit_code == 0, result.stderr
    assert "no contact in" in result.stderr
    assert "has job_function, employees, which the rules read" in result.stderr


DATA = EXAMPLES / "data"
HEADS = {
    n: (DATA / f"{n}.csv").read_bytes().splitlines(keepends=True)[:4]
    for n in ("contacts", "activities")
}


def _head(kind: str) -> bytes:
    return b"".join(HEADS[kind])


@st.composite
def _mutated(draw, kind: str) -> bytes:
    data = bytearray(_head(kind))
    pieces = st.sampled_from([b",", b"\n", b'"', b"\xff", b"0001-01-01T00:30:00+01:00", b"inf"])
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(data)))
        data[at:at] = draw(pieces | st.binary(max_size=4))
    return bytes(data)


@settings(max_examples=30, deadline=5000)
@given(_mutated("contacts"), _mutated("activities"), st.sampled_from(["csv", "jsonl"]))
def test_score_on_any_input_exits_0_or_2_and_writes_whole_or_nothing(
    tmp_path_factory, contacts: bytes, activities: bytes, out_kind: str
) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "contacts.csv").write_bytes(contacts)
    (folder / "activities.csv").write_bytes(activities)
    out = folder / f"out.{out_kind}"
    files = {"contacts": folder / "contacts.csv", "activities": folder / "activities.csv"}

    result = run(*score_args(files, "--out", str(out)))

    assert result.exit_code in (0, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith((".", "out"))) == (
        [out.name] if result.exit_code == 0 else []
    )


def test_score_says_once_that_the_click_filter_stood_down_on_dates(tmp_path: Path) -> None:
    rules_file = tmp_path / "r.yaml"
    rules_file.write_text("rules: [{id: click, activity: email_click, points: 10}]\n", "utf-8")
    contacts = tmp_path / "c.csv"
    contacts.write_text("id,email\n1,a@acme.io\n2,b@acme.io\n", "utf-8")
    activities = tmp_path / "a.csv"
    activities.write_text(
        "contact_id,type,occurred_at,campaign\n"
        + "".join(
            f"{who},email_click,2026-11-0{day},x\n" for who in (1, 2) for day in (3, 3, 3, 4)
        ),
        "utf-8",
    )
    result = run(
        "score", "--rules", str(rules_file), "--contacts", str(contacts),
        "--activities", str(activities), "--as-of", "2026-11-11T00:00:00Z",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert unwrapped(result.stderr).count("machine-click filter stands down") == 1
    assert " 40 " in result.stdout


def test_the_commands_the_starter_file_shows_have_every_required_option(tmp_path: Path) -> None:
    import re
    import shlex

    import typer

    assert run("init", str(tmp_path)).exit_code == 0
    text = (tmp_path / "leadscore.yaml").read_text().replace("\\\n#", "")
    shown = re.findall(r"^#\s+leadscore (calibrate|backtest)\b(.*)$", text, re.MULTILINE)
    assert {name for name, _ in shown} == {"calibrate", "backtest"}
    group = typer.main.get_command(app)
    for name, rest in shown:
        args = shlex.split(rest.split("#")[0])
        command = group.commands[name]  # type: ignore[attr-defined]
        command.make_context(name, args)  # a missing required option raises here
