"""Messages that name what to fix, through the CLI: exit code 2 and the line a user reads."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scoring import Contact
from sync.cli import app
from sync.store import StateStore
from tests.helpers import Unwrapped, unwrapped

RULES = Path(__file__).parents[2] / "scoring" / "rulesets" / "default.yaml"
runner = CliRunner()


@pytest.fixture(autouse=True)
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test in an empty folder: no leadscore.yaml, .env or leadscore.db of anyone's."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str, **env: str):
    return runner.invoke(app, list(args), env={"COLUMNS": "80", **env})


def one_line(text: str) -> str:
    """The output's words joined by single spaces, looked for as `Unwrapped` says."""
    return Unwrapped(" ".join(text.split()))


def test_a_bad_json_setting_names_its_variable() -> None:
    result = run("status", LEADSCORE_HUBSPOT__LIFECYCLE_STAGES="{Lead: lead}")
    assert result.exit_code == 2
    message = one_line(result.stderr)
    assert "setting LEADSCORE_HUBSPOT__LIFECYCLE_STAGES: not valid JSON" in message
    assert '{"Lead": "lead"}' in message


def test_a_postgres_url_suggests_the_driver_and_never_shows_the_password() -> None:
    result = run("status", LEADSCORE_STATE_URL="postgres://ann:s3cret@db.example/leads")
    assert result.exit_code == 2
    message = one_line(result.stderr)
    assert "LEADSCORE_STATE_URL" in message and "postgresql+psycopg://" in message
    assert "s3cret" not in result.output


def test_a_sqlite_file_in_a_missing_folder_says_so(here: Path) -> None:
    result = run("status", LEADSCORE_STATE_URL="sqlite:///state/leadscore.db")
    assert result.exit_code == 2
    assert "the folder state of the SQLite file does not exist" in one_line(result.stderr)
    assert not (here / "state").exists()


def test_a_semicolon_separated_csv_suggests_the_delimiter(here: Path) -> None:
    contacts = here / "contacts.csv"
    contacts.write_text("id;email;jobtitle\n1;ann@acme.io;CEO\n", "utf-8")
    result = run("score", "--rules", str(RULES), "--contacts", str(contacts))
    assert result.exit_code == 2
    message = one_line(result.stderr)
    assert "missing column 'id'" in message and "separated by semicolons" in message
    assert "',' as the delimiter" in message


@pytest.mark.parametrize("where", ["environment", ".env"])
def test_a_misspelt_variable_is_reported_with_the_closest_setting(here: Path, where: str) -> None:
    if where == ".env":
        (here / ".env").write_text("LEADSCORE_HUBSPOT_ACCESS_TOKEN=pat-123\n", "utf-8")
        result = run("status")
    else:
        result = run("status", LEADSCORE_HUBSPOT_ACCESS_TOKEN="pat-123")
    assert result.exit_code == 2
    message = one_line(result.stderr)
    assert "LEADSCORE_HUBSPOT_ACCESS_TOKEN is not a leadscore setting" in message
    assert "did you mean LEADSCORE_HUBSPOT__ACCESS_TOKEN?" in message
    assert "pat-123" not in result.output
    # wrapped at words to 80 columns: no line longer, no name broken across lines
    lines = result.stderr.splitlines()
    assert all(len(line) <= 80 for line in lines) and len(lines) > 1
    assert "LEADSCORE_HUBSPOT__ACCESS_TOKEN?" in lines[-1].split()


def test_a_missing_rule_file_suggests_init_and_rules(here: Path) -> None:
    contacts = here / "contacts.csv"
    contacts.write_text("id,email\n1,ann@acme.io\n", "utf-8")
    result = run("score", "--contacts", str(contacts))
    assert result.exit_code == 2
    message = one_line(result.stderr)
    assert "leadscore.yaml: file not found" in message
    assert "`leadscore init`" in message and "--rules FILE" in message


def test_an_empty_setting_says_empty_without_library_prefixes() -> None:
    result = run("status", LEADSCORE_HUBSPOT__TIER="")
    assert result.exit_code == 2
    message = one_line(result.stderr)
    assert "setting LEADSCORE_HUBSPOT__TIER is empty: expected one of free" in message
    assert "Value error" not in message and "None" not in message


def test_a_bad_setting_carries_no_library_prefix() -> None:
    result = run("status", LEADSCORE_FIELD_PREFIX="9lives")
    assert result.exit_code == 2
    message = one_line(result.stderr)
    assert "setting LEADSCORE_FIELD_PREFIX: expected letters, digits and underscores" in message
    assert "Value error" not in message


def test_an_empty_value_in_a_rule_file_says_empty(here: Path) -> None:
    rules = here / "rules.yaml"
    rules.write_text("rules:\n  - id: visit\n    activity: page_view\n    points:\n", "utf-8")
    result = run("validate", str(rules))
    assert result.exit_code == 2
    assert "rules[0].points: Input should be a valid number (it is empty)" in result.stderr
    assert "None" not in result.stderr


def test_a_structural_error_does_not_hide_the_cross_reference_errors(here: Path) -> None:
    rules = here / "rules.yaml"
    rules.write_text(
        "dimensions: {fit: {}}\n"
        "rules:\n"
        "  - id: visit\n    activity: page_view\n    points: 5\n    dimension: fit\n"
        "  - id: visit\n    activity: page_view\n    points: 3\n    dimension: fit\n"
        "  - id: bad\n    activity: nope\n    points: 1\n"
        "stages:\n  ladder:\n    - name: Lead\n      when: {min: {activity: 10}}\n",
        "utf-8",
    )
    result = run("validate", str(rules))
    assert result.exit_code == 2
    said = result.stderr  # each message found wherever the wrapping broke its lines
    assert "rules[2].activity[0]: Input should be" in said
    assert "rules[1].id: rule id 'visit' appears twice" in said
    assert "stages.ladder[0].when.min.activity: unknown dimension" in said


def test_status_reads_the_store_without_a_rule_file_and_leaves_no_empty_store(
    here: Path,
) -> None:
    result = run("status")
    assert result.exit_code == 0, result.output
    assert "0 persons" in result.stdout
    assert not list(here.glob("leadscore.db*"))


def test_explain_without_a_rule_file_shows_what_was_last_written(here: Path) -> None:
    store = StateStore(f"sqlite:///{here / 'leadscore.db'}")
    at = datetime(2026, 11, 1, tzinfo=UTC)
    store.save_contacts("hubspot", [Contact("101", email="ann@acme.io", source="hubspot")], at)
    store.record_written("hubspot", {"101": {"leadscore_score": "42"}}, at)
    store.close()

    result = run("explain", "ann@acme.io")

    assert result.exit_code == 0, result.output
    assert "no rule file at leadscore.yaml" in one_line(result.stderr)
    assert "hubspot 101: leadscore_score=42" in result.stdout


def test_a_failed_command_leaves_no_empty_store_behind(here: Path) -> None:
    result = run("explain", "nobody@acme.io", "--rules", str(RULES))
    assert result.exit_code == 1
    assert "is not in the state store" in result.stderr
    assert not list(here.glob("leadscore.db*"))


def test_score_warns_of_a_field_whose_numbers_do_not_parse(here: Path) -> None:
    rules = here / "rules.yaml"
    rules.write_text(
        "rules:\n  - id: big\n    contact: {employees: {gte: 1000}}\n    points: 20\n", "utf-8"
    )
    contacts = here / "contacts.csv"
    contacts.write_text('id,employees\n1,"1,200"\n2,1000+\n', "utf-8")
    result = run("score", "--rules", str(rules), "--contacts", str(contacts), "--top", "0")
    assert result.exit_code == 0, result.output
    message = one_line(result.stderr)
    assert "warning:" in message and "field 'employees': 1 value" in message
    assert "'1000+'" in message


def test_a_key_of_a_json_object_setting_given_as_its_own_variable_is_not_misspelt() -> None:
    result = run("status", LEADSCORE_HUBSPOT__ATTRIBUTES__BUDGET_C="budget")
    assert "not a leadscore setting" not in result.output
    assert result.exit_code == 0


def test_a_misspelt_key_below_a_plain_setting_is_still_reported() -> None:
    result = run("status", LEADSCORE_HUBSPOT__TIER__X="starter")
    assert result.exit_code == 2
    assert "LEADSCORE_HUBSPOT__TIER__X is not a leadscore setting" in one_line(result.stderr)


def test_a_variable_like_no_setting_gets_the_list_of_settings_not_a_far_guess() -> None:
    result = run("status", LEADSCORE_ZZZQQQ="1")
    assert result.exit_code == 2
    message = one_line(result.stderr)
    assert "LEADSCORE_ZZZQQQ is not a leadscore setting" in message
    assert "did you mean" not in message and "settings are: LEADSCORE_RULES" in message


@pytest.mark.parametrize(
    "host", ["127.0.0.1:8080", "localhost:8080", "ftp://example.com", "https://", "http://h:0"]
)
def test_a_host_that_is_no_http_url_is_refused_before_any_call(host: str) -> None:
    result = run("sync", LEADSCORE_HUBSPOT__ACCESS_TOKEN="pat-na1-x", LEADSCORE_HUBSPOT__HOST=host)
    assert result.exit_code == 2
    message = one_line(result.stderr)
    assert "setting LEADSCORE_HUBSPOT__HOST" in message
    assert "expected an http:// or https:// URL with a host" in message
    assert "pat-na1-x" not in message


JWT_FLOW = {"LEADSCORE_SALESFORCE__CLIENT_ID": "app-key",
            "LEADSCORE_SALESFORCE__USERNAME": "int@acme.io"}  # fmt: skip


@pytest.mark.parametrize("command", ["validate", "status", "sync"])
def test_a_missing_private_key_file_is_named_before_any_call(command: str) -> None:
    result = run(command, **JWT_FLOW, LEADSCORE_SALESFORCE__PRIVATE_KEY_FILE="/nonexistent")
    assert result.exit_code == 2
    message = unwrapped(result.stderr)
    assert "setting LEADSCORE_SALESFORCE__PRIVATE_KEY_FILE: no file /nonexistent" in message
    assert "Traceback" not in result.output


def test_a_private_key_that_is_no_pem_is_named_and_never_shown() -> None:
    result = run("validate", **JWT_FLOW, LEADSCORE_SALESFORCE__PRIVATE_KEY="MIIEvQIBADANBg-ish")
    assert result.exit_code == 2
    message = one_line(result.stderr)
    assert "setting LEADSCORE_SALESFORCE__PRIVATE_KEY: not a PEM private key" in message
    assert "MIIEvQIBADANBg-ish" not in result.output


def test_a_lightning_url_given_as_my_domain_suggests_the_my_domain() -> None:
    result = run("validate", LEADSCORE_SALESFORCE__CLIENT_ID="app-key",
                 LEADSCORE_SALESFORCE__CLIENT_SECRET="app-secret-cli",
                 LEADSCORE_SALESFORCE__MY_DOMAIN="https://acme.lightning.force.com")  # fmt: skip
    assert result.exit_code == 2
    message = unwrapped(result.stderr)
    assert "setting LEADSCORE_SALESFORCE__MY_DOMAIN: that is the Lightning URL" in message
    assert "https://acme.my.salesforce.com" in message


def test_a_bad_json_attribute_mapping_gets_an_attribute_mapping_example() -> None:
    result = run("status", LEADSCORE_SALESFORCE__ATTRIBUTES="{Title: job_title}")
    assert result.exit_code == 2
    message = one_line(result.stderr)
    assert "setting LEADSCORE_SALESFORCE__ATTRIBUTES: not valid JSON" in message
    assert 'expected a JSON object, e.g. {"Budget__c": "budget"}' in message


def test_mailchimp_audiences_are_read_as_the_readme_writes_them() -> None:
    """One id, ids with commas, or a JSON list; a blank setting beside them is unset."""
    from sync.config import read_settings

    key = "0123456789abcdef0123456789abcdef-us21"
    for given, ids in (("a1b2c3d4e5", ["a1b2c3d4e5"]), ("a1b2, c3d4", ["a1b2", "c3d4"]),
                       ('["a1b2"]', ["a1b2"])):  # fmt: skip
        env = {"LEADSCORE_MAILCHIMP__API_KEY": key, "LEADSCORE_MAILCHIMP__AUDIENCES": given,
               "LEADSCORE_MAILCHIMP__ATTRIBUTES": ""}  # fmt: skip
        with pytest.MonkeyPatch.context() as patch:
            for name, value in env.items():
                patch.setenv(name, value)
            assert read_settings().section("mailchimp").audiences == ids
    result = run("status", LEADSCORE_MAILCHIMP__API_KEY=key, LEADSCORE_MAILCHIMP__AUDIENCES="[a1",
                 LEADSCORE_MAILCHIMP__ATTRIBUTES="")  # fmt: skip
    assert result.exit_code == 2
    message = one_line(result.stderr)
    assert "setting LEADSCORE_MAILCHIMP__AUDIENCES: expected a JSON list" in message
    assert "ATTRIBUTES" not in message  # the blank one is not blamed
    assert key not in result.output


def test_a_malformed_mailchimp_record_id_says_what_one_looks_like(here: Path) -> None:
    from sandbox.mailchimp import MailchimpSandbox
    from sandbox.world.tables import MAILCHIMP, WorldBuilder

    b = WorldBuilder(datetime(2026, 11, 1, tzinfo=UTC))
    b.person("Ann", "Lee", "ann@acme.io", b.company("Acme", "acme.io"), systems=MAILCHIMP)
    emulator = MailchimpSandbox(b.build(seed=1), api_key="clikey-us1")
    emulator.start()
    try:
        env = {
            "LEADSCORE_RULES": str(RULES),
            "LEADSCORE_STATE_URL": f"sqlite:///{here / 'state.db'}",
            "LEADSCORE_MAILCHIMP__API_KEY": emulator.api_key,
            "LEADSCORE_MAILCHIMP__BASE_URL": emulator.base_url,
            "LEADSCORE_MAILCHIMP__AUDIENCES": emulator.list_id,
        }
        assert run("setup", **env).exit_code == 0
        hashed = "0" * 32
        for record in (emulator.list_id, f"{emulator.list_id}:{hashed}:x", "L1:not-a-hash"):
            result = run("rescore", f"mailchimp:{record}", **env)
            message = one_line(result.stderr)
            assert result.exit_code == 2, result.output
            assert "a Mailchimp record id is <audience id>:<contact id>" in message
            assert repr(record) in message and isinstance(result.exception, SystemExit)
    finally:
        emulator.stop()


BAD_BLOCKS = """\
rules:
  - {id: visit, activity: page_view, points: 1}
stages:
  ladder:
    - {name: New}
    - {name: SQL, owner: sales, when: {min: {total: 5}}}
rfm:
  bounds:
    frequency: [1, 4, 2, 8]
  segments:
    - {name: champions, r: [5, 4]}
    - {name: x, r: 6}
interests:
  topics:
    - {id: Analytics, urls: ["*"]}
accounts:
  counts:
    demo: {activity: [demo_request]}
  stages:
    - {name: hot, when: {account_foo: {gte: 1}}}
capacity: {per_week: 0}
"""


def test_validate_names_each_problem_at_its_own_line_in_the_file_s_order(here: Path) -> None:
    (here / "bad.yaml").write_text(BAD_BLOCKS, "utf-8")
    result = run("validate", "bad.yaml")
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert all(len(line) <= 80 for line in lines)
    errors = one_line(result.stderr).split("error: ")[1:]
    where = [e.split(": ")[0].removeprefix("bad.yaml:") + " " + e.split(": ")[1] for e in errors]
    assert where == [
        "9 rfm.bounds.frequency",
        "11 rfm.segments[0].r",
        "12 rfm.segments[1].r",
        "15 interests.topics[0].id",
        "15 interests.topics[0].urls[0]",
        "20 accounts.stages[0].when.account_foo",
        "21 capacity.per_week",
    ]
    assert "bounds must rise: [1, 4, 2, 8]" in errors[0]
    assert "a digit is 1 to 5, or a range [low, high] of them (got 6)" in errors[2]
    assert "stage 'hot' reads 'account_foo'" in errors[5]
