"""The tenants file: names, keys, secrets by reference, state namespaces, and every problem
a line naming the file, the line and the field (exit 2 from the CLI, nothing made)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sync.cli import app
from sync.errors import ConfigError
from sync.tenants import namespaced, read_tenants, run_tenant
from sync.tenants_file import TenantsFileError
from tests.helpers import unwrapped

runner = CliRunner()
TOKEN = "pat-na1-00000000-0000-0000-0000-000000000000"


def write(folder: Path, text: str) -> Path:
    path = folder / "tenants.yaml"
    path.write_text(textwrap.dedent(text), "utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(TenantsFileError) as caught:
        read_tenants(path)
    return caught.value.lines


def test_each_tenant_gets_its_settings_from_the_file_and_its_references(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "globex_key").write_text("0123456789abcdef0123456789abcdef-us6\n")
    monkeypatch.setenv("ACME_TOKEN", TOKEN)
    monkeypatch.setenv("LEADSCORE_FIELD_PREFIX", "env_")  # the deployment's: never a tenant's
    path = write(
        tmp_path,
        """\
        defaults:
          state_url: sqlite:///{tenant}.db
          hubspot:
            tier: starter
        tenants:
          acme:
            rules: rules/acme.yaml
            field_prefix: acme_
            hubspot:
              access_token: {env: ACME_TOKEN}
          globex:
            mailchimp:
              api_key: {file: "secrets/{tenant}_key"}
        """,
    )
    tenants = read_tenants(path)
    acme, globex = tenants["acme"].settings(), tenants["globex"].settings()

    assert sorted(tenants) == ["acme", "globex"]
    assert tenants["acme"].systems == ["hubspot"] and tenants["globex"].systems == ["mailchimp"]
    assert acme.hubspot.access_token is not None
    assert acme.hubspot.access_token.get_secret_value() == TOKEN
    assert acme.hubspot.tier == "starter" and globex.hubspot.tier == "starter"
    assert acme.field_prefix == "acme_" and globex.field_prefix == "leadscore_"
    assert acme.rules == tmp_path / "rules" / "acme.yaml"
    # a SQLite file is the tenants file's neighbour, as its rule file is
    assert acme.state_url.get_secret_value() == f"sqlite:///{tmp_path / 'acme.db'}"
    assert globex.state_url.get_secret_value() == f"sqlite:///{tmp_path / 'globex.db'}"
    assert globex.mailchimp.api_key is not None
    assert globex.mailchimp.api_key.get_secret_value().endswith("-us6")
    assert not globex.hubspot.configured  # nothing of acme's, nor of the environment's
    only = tenants["acme"].settings("hubspot")
    assert only.hubspot.configured and not only.mailchimp.configured


def test_a_secrets_directory_gives_a_tenant_its_credentials(tmp_path: Path) -> None:
    folder = tmp_path / "run" / "initech"
    folder.mkdir(parents=True)
    (folder / "LEADSCORE_HUBSPOT__ACCESS_TOKEN").write_text(TOKEN + "\n")
    (folder / "LEADSCORE_STATE_URL").write_text("postgresql+psycopg://app:pw@db/leads\n")
    path = write(
        tmp_path,
        """\
        tenants:
          initech:
            secrets_dir: run/{tenant}
        """,
    )
    tenant = read_tenants(path)["initech"]

    assert tenant.systems == ["hubspot"]
    token = tenant.settings().hubspot.access_token
    assert token is not None and token.get_secret_value() == TOKEN
    state = tenant.settings().state_url.get_secret_value()
    assert state == "postgresql+psycopg://app:pw@db/leads?options=-csearch_path%3Dinitech"


def test_a_literal_secret_is_refused_with_file_line_and_field_and_never_quoted(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        f"""\
        tenants:
          acme:
            hubspot:
              access_token: {TOKEN}
          globex:
            state_url: postgresql+psycopg://app:hunter22@db/leads
        """,
    )
    found = problems(path)

    assert found[0].startswith(f"{path}:4: tenants.acme.hubspot.access_token: a secret is never")
    assert "{env: VARIABLE} or {file: PATH}" in found[0]
    assert found[1].startswith(f"{path}:6: tenants.globex.state_url: a secret is never")
    assert TOKEN not in " ".join(found) and "hunter22" not in " ".join(found)


def test_names_keys_and_shapes_are_checked_with_their_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        tenants:
          Acme: {}
          pg_x: {}
          beta:
            feild_prefix: x
            hubspot:
              tierr: starter
              access_token: {env: ""}
          gamma: [1]
        extra: 1
        """,
    )
    found = problems(path)

    assert f"{path}:10: extra: expected defaults or tenants" in found
    assert any(f.startswith(f"{path}:2: tenants.Acme: a tenant's name is") for f in found)
    assert any(f.startswith(f"{path}:3: tenants.pg_x: a tenant's name is") for f in found)
    assert (
        f"{path}:5: tenants.beta.feild_prefix: not a setting here; did you mean field_prefix?"
        in found
    )
    assert f"{path}:7: tenants.beta.hubspot.tierr: not a setting here; did you mean tier?" in found
    assert f"{path}:8: tenants.beta.hubspot.access_token: expected {{env: NAME}}" in found
    assert f"{path}:9: tenants.gamma: expected the tenant's settings" in found


def test_values_are_checked_as_settings_are_when_a_tenant_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NOT_SET_HERE", raising=False)
    path = write(
        tmp_path,
        """\
        defaults:
          gone_check_days: -1
        tenants:
          acme:
            hubspot:
              access_token: {env: NOT_SET_HERE}
          globex:
            hubspot:
              access_token: {file: nowhere/token}
              tier: platinum
        """,
    )
    tenants = read_tenants(path)
    with pytest.raises(ConfigError) as acme:
        tenants["acme"].settings()
    with pytest.raises(ConfigError) as globex:
        tenants["globex"].settings()

    assert acme.value.lines == [
        f"{path}:6: tenants.acme.hubspot.access_token: the variable NOT_SET_HERE is not set"
    ]
    assert globex.value.lines == [
        f"{path}:9: tenants.globex.hubspot.access_token: the file nowhere/token is empty or cannot be read"
    ]
    monkeypatch.setenv("NOT_SET_HERE", TOKEN)
    with pytest.raises(ConfigError) as bad:
        tenants["acme"].settings()
    assert bad.value.lines[0].startswith(f"{path}:2: tenants.acme.gone_check_days: Input should")


def test_two_tenants_on_one_state_store_are_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        defaults:
          state_url: sqlite:///shared.db
        tenants:
          acme: {}
          globex: {}
        """,
    )
    found = problems(path)

    assert found == [
        f"{path}:2: tenants.globex.state_url: tenants acme and globex would share one state "
        "store: put {tenant} in state_url (sqlite:///state/{tenant}.db), or give each its own "
        "state_schema"
    ]


def test_two_tenants_on_one_store_written_two_ways_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "state").mkdir()
    spelt = write(
        tmp_path,
        """\
        tenants:
          a: {state_url: 'sqlite:///state/x.db'}
          b: {state_url: 'sqlite:///./state/x.db'}
        """,
    )
    assert problems(spelt) == [
        f"{spelt}:3: tenants.b.state_url: tenants a and b would share one state store: put "
        "{tenant} in state_url (sqlite:///state/{tenant}.db), or give each its own state_schema"
    ]

    monkeypatch.setenv("URL_A", f"sqlite:///{tmp_path / 'x.db'}")
    monkeypatch.setenv("URL_B", f"sqlite:///{tmp_path / 'state' / '..' / 'x.db'}")
    referenced = write(
        tmp_path,
        "tenants:\n  a: {state_url: {env: URL_A}}\n  b: {state_url: {env: URL_B}}\n",
    )
    assert problems(referenced)[0].startswith(f"{referenced}:3: tenants.b.state_url: tenants a")

    # one from the file, the other from its secrets directory's LEADSCORE_STATE_URL
    (tmp_path / "sec").mkdir()
    (tmp_path / "sec" / "LEADSCORE_STATE_URL").write_text(f"sqlite:///{tmp_path / 'x.db'}\n")
    secret = write(
        tmp_path,
        "tenants:\n  a: {state_url: {env: URL_A}}\n  b: {secrets_dir: sec}\n",
    )
    assert problems(secret)[0].startswith(f"{secret}:3: tenants.b.secrets_dir: tenants a and")

    # PostgreSQL: one host, port, database and schema, however the URL is written
    postgres = write(
        tmp_path,
        """\
        tenants:
          a: {state_url: 'postgresql+psycopg://app@DB/leads', state_schema: s}
          b: {state_url: 'postgresql+psycopg://other@db:5432/leads?sslmode=require', state_schema: s}
          c: {state_url: 'postgresql+psycopg://app@db/leads', state_schema: c}
          d: {state_url: 'postgresql+psycopg://app@db:5433/leads', state_schema: s}
        """,
    )
    assert [p.split(": ")[1] for p in problems(postgres)] == ["tenants.b.state_url"]


def test_a_secrets_directory_file_empty_or_not_utf8_is_named_not_passed_over(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "sec"
    folder.mkdir()
    (folder / "LEADSCORE_STATE_URL").write_text("\n")
    path = write(tmp_path, "tenants:\n  a: {secrets_dir: sec}\n")
    tenant = read_tenants(path)["a"]
    with pytest.raises(TenantsFileError) as empty:
        tenant.settings()  # never a local SQLite file in its place
    assert empty.value.lines == [
        f"{path}:2: tenants.a.secrets_dir: {folder / 'LEADSCORE_STATE_URL'}: the file is empty"
    ]

    (folder / "LEADSCORE_STATE_URL").unlink()
    (folder / "LEADSCORE_HUBSPOT__ACCESS_TOKEN").write_bytes(b"\xff\xfe")
    with pytest.raises(TenantsFileError) as undecodable:
        tenant.settings()
    token = folder / "LEADSCORE_HUBSPOT__ACCESS_TOKEN"
    assert undecodable.value.lines == [
        f"{path}:2: tenants.a.secrets_dir: {token}: expected UTF-8 text"
    ]


def test_a_state_schema_postgresql_keeps_or_a_bad_port_is_named_where_it_is(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        """\
        tenants:
          a:
            state_url: postgresql+psycopg://u@h/db
            state_schema: public
          b:
            state_url: postgresql+psycopg://u@h/db
            state_schema: pg_temp
          c:
            state_url: postgresql+psycopg://u@h:port/db
        """,
    )
    tenants = read_tenants(path)
    for name, line in (("a", 4), ("b", 7)):
        with pytest.raises(TenantsFileError) as reserved:
            tenants[name].settings()
        assert reserved.value.lines[0].startswith(f"{path}:{line}: tenants.{name}.state_schema: ")
        assert "not public, pg_... or information_schema" in reserved.value.lines[0]
    with pytest.raises(TenantsFileError) as port:
        tenants["c"].settings()
    assert port.value.lines == [
        f"{path}:9: tenants.c.state_url: cannot be read as a URL: its port must be a number"
    ]


def test_one_postgresql_database_gives_each_tenant_its_schema(tmp_path: Path) -> None:
    url = "postgresql+psycopg://app@db/leads?sslmode=require"
    path = write(
        tmp_path,
        f"""\
        defaults:
          state_url: {url}
        tenants:
          acme: {{}}
          globex:
            state_schema: globex_eu
        """,
    )
    tenants = read_tenants(path)

    acme = tenants["acme"].settings().state_url.get_secret_value()
    assert acme == "postgresql+psycopg://app@db/leads?options=-csearch_path%3Dacme&sslmode=require"
    globex = tenants["globex"].settings().state_url.get_secret_value()
    assert "?options=-csearch_path%3Dglobex_eu&sslmode" in globex
    assert namespaced("sqlite:///acme.db", "acme") == "sqlite:///acme.db"
    with pytest.raises(ValueError, match="already set a search_path"):
        namespaced(f"{url}&options=-csearch_path%3Dother", "acme")


def test_a_run_of_a_tenant_the_file_lacks_or_a_system_it_lacks_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACME_TOKEN", TOKEN)
    path = write(
        tmp_path,
        """\
        tenants:
          acme:
            hubspot:
              access_token: {env: ACME_TOKEN}
        """,
    )
    with pytest.raises(ConfigError, match=r"no tenant 'globex' in .*; its tenants: acme"):
        run_tenant("globex", tenants_file=path)
    with pytest.raises(ConfigError, match="tenant acme syncs no system 'salesforce'"):
        run_tenant("acme", "salesforce", tenants_file=path)
    monkeypatch.setenv("ACME_TOKEN", " ")
    with pytest.raises(ConfigError, match="the variable ACME_TOKEN is not set"):
        run_tenant("acme", tenants_file=path)
    path.write_text("tenants:\n  acme:\n    field_prefix: acme_\n", "utf-8")
    with pytest.raises(ConfigError, match="tenant acme configures no system: give it a section"):
        run_tenant("acme", tenants_file=path)


def test_a_tenants_model_rule_files_are_read_beside_the_tenants_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sync.app import Leadscore
    from tests.sync.cli_env import DEFAULT_RULES

    folder = tmp_path / "conf"
    folder.mkdir()
    (folder / "ent.yaml").write_text(Path(DEFAULT_RULES).read_text())
    monkeypatch.setenv("T", TOKEN)
    path = write(
        folder,
        f"""\
        tenants:
          a:
            rules: {DEFAULT_RULES}
            models: '[{{name: ent, rules: ent.yaml, when: {{employees: {{gte: 1000}}}},
              field_prefix: ent_}}]'
            hubspot: {{access_token: {{env: T}}}}
        """,
    )
    settings = read_tenants(path)["a"].settings()
    monkeypatch.chdir(tmp_path)  # a scheduler's working directory, not the file's folder
    with Leadscore.open(settings) as app:
        assert [(m.name, m.path) for m in app.job.models] == [("ent", folder / "ent.yaml")]

    # a rule file not there: the tenants file, line and field, before any call
    (folder / "ent.yaml").unlink()
    with pytest.raises(TenantsFileError) as models:
        run_tenant("a", tenants_file=path)
    assert models.value.lines == [
        f"{path}:4: tenants.a.models: model ent: no rule file {folder / 'ent.yaml'}"
    ]
    path.write_text(path.read_text().replace(str(DEFAULT_RULES), "rules/a.yaml"))
    with pytest.raises(TenantsFileError) as own:
        run_tenant("a", tenants_file=path)
    assert (
        own.value.lines[0] == f"{path}:3: tenants.a.rules: no rule file {folder / 'rules/a.yaml'}"
    )


def test_the_tenants_list_reads_whole_at_80_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    deep = tmp_path / "configuration" / "of" / "every" / "tenant" / "rules"
    deep.mkdir(parents=True)
    path = write(
        tmp_path,
        f"""\
        defaults:
          rules: {deep}/{{tenant}}-scoring-rules.yaml
          state_url: sqlite:///{deep}/state-of-{{tenant}}.db
        tenants:
          acme_corporation_europe:
            hubspot: {{access_token: {{env: NONE_SET}}}}
          globex: {{}}
        """,
    )
    listed = runner.invoke(app, ["tenants", "--file", str(path)], env={"COLUMNS": "80"})

    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.splitlines()
    table = [line for line in lines if line[:1] in "┏┃┡│└"]
    assert len(table) == 6 and max(len(line) for line in table) <= 80
    assert "…" not in listed.stdout  # nothing cut: a path's line is left whole
    for name in ("acme_corporation_europe", "globex"):
        assert f"  rules  {deep}/{name}-scoring-rules.yaml" in lines
    assert f"  state  SQLite {deep}/state-of-globex.db" in lines
    assert "  state  unknown" in lines  # acme's settings cannot be read: said beneath
    assert any(line.endswith("the variable NONE_SET is not set") for line in lines)


def test_the_cli_says_what_is_wrong_with_a_tenants_file_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(
        tmp_path,
        f"""\
        tenants:
          acme:
            hubspot:
              access_token: {TOKEN}
        """,
    )
    env = {"LEADSCORE_TENANTS_FILE": str(path), "COLUMNS": "300"}
    listed = runner.invoke(app, ["tenants"], env=env)
    synced = runner.invoke(app, ["sync", "--tenant", "acme"], env=env)
    missing = runner.invoke(app, ["tenants", "--file", str(tmp_path / "none.yaml")], env=env)

    for result in (listed, synced):
        assert result.exit_code == 2, result.output
        said = unwrapped(result.output)
        assert f"{path}:4: tenants.acme.hubspot.access_token: a secret is never" in said
        assert TOKEN not in said and "Traceback" not in said
    assert missing.exit_code == 2 and "no tenants file here" in unwrapped(missing.output)
    assert not list(tmp_path.glob("*.db"))  # nothing made


def test_the_readme_example_is_a_tenants_file_that_reads(tmp_path: Path) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text("utf-8")
    section = readme[readme.index("### Tenants") :]
    example = section[section.index("```yaml\n") + 8 : section.index("```\n", 8)]
    path = tmp_path / "tenants.yaml"
    path.write_text(example, "utf-8")
    tenants = read_tenants(path)

    assert tenants["acme"].systems == ["hubspot"]
    assert tenants["globex"].systems == ["mailchimp"]
    assert tenants["acme"].rules == tmp_path / "rules" / "acme.yaml"
