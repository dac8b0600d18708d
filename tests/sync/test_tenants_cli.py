"""`--tenant NAME` on setup, sync, status and explain, `sync --system`, and `leadscore
tenants` as a user runs them against the sandbox: the tenant's settings, secrets and state,
none of the environment's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sandbox import Sandbox
from sync.cli import app
from tests.helpers import unwrapped
from tests.sync.cli_env import DEFAULT_RULES, hubspot_env

runner = CliRunner()


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    with Sandbox(people=80, seed=5) as sandbox:
        yield sandbox


def test_a_tenant_is_set_up_synced_shown_and_explained_from_its_own_settings(
    box: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no developer's .env
    (tmp_path / "tenants.yaml").write_text(
        "tenants:\n"
        "  acme:\n"
        f"    rules: {DEFAULT_RULES}\n"
        "    state_url: sqlite:///state-{tenant}.db\n"
        "    field_prefix: acme_\n"
        "    hubspot:\n"
        "      access_token: {env: ACME_TOKEN}\n"
        f"      host: {box.hubspot.base_url}\n",
        "utf-8",
    )
    # the deployment's own settings point elsewhere: a tenant's command never reads them
    env = {
        "ACME_TOKEN": box.hubspot.token,
        "COLUMNS": "200",
        "LEADSCORE_LOG_FORMAT": "json",
        "LEADSCORE_STATE_URL": f"sqlite:///{tmp_path / 'deployment.db'}",
        "LEADSCORE_FIELD_PREFIX": "deployment_",
    }

    def run(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(app, list(args), env=env)

    before = run("tenants")
    made_by_listing = (tmp_path / "state-acme.db").exists()
    setup = run("setup", "--tenant", "acme")
    synced = run("sync", "--tenant", "acme", "--full")
    status = run("status", "--tenant", "acme")
    email = box.hubspot.contacts.value("email", 0) or ""
    explained = run("explain", email, "--tenant", "acme")
    listed = run("tenants")
    shown = run("tenants", "--json")
    unknown = run("status", "--tenant", "globex")

    for result in (before, setup, synced, status, explained, listed, shown):
        assert result.exit_code == 0, result.output
        assert box.hubspot.token not in result.output
    assert "never run" in before.stdout and not made_by_listing
    assert "acme_score" in setup.stdout and "deployment_" not in setup.stdout
    assert f"{box.hubspot.contacts.size:,}" in synced.stdout
    assert "cursor hubspot.contacts" in status.stdout
    assert "score" in explained.stdout
    assert (tmp_path / "state-acme.db").is_file() and not (tmp_path / "deployment.db").exists()
    assert "acme" in listed.stdout and " ok " in listed.stdout
    (acme,) = json.loads(shown.stdout)["tenants"]
    assert acme["name"] == "acme" and acme["state"] == "SQLite state-acme.db"
    assert acme["rules"] == str(DEFAULT_RULES) and acme["problem"] is None
    (hubspot,) = acme["systems"]
    assert hubspot["system"] == "hubspot" and hubspot["status"] == "ok"
    assert hubspot["written"] == box.hubspot.contacts.size and not hubspot["running"]
    assert unknown.exit_code == 2 and "no tenant 'globex'" in unwrapped(unknown.output)


def test_sync_of_one_system_of_the_environment_and_of_a_system_not_configured(
    box: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    env = hubspot_env(box, tmp_path, columns=200)
    assert runner.invoke(app, ["setup"], env=env).exit_code == 0
    synced = runner.invoke(app, ["sync", "--system", "hubspot"], env=env)
    other = runner.invoke(app, ["sync", "--system", "salesforce"], env=env)
    wrong = runner.invoke(app, ["sync", "--system", "pipedrive"], env=env)

    assert synced.exit_code == 0, synced.output
    assert f"{box.hubspot.contacts.size:,}" in synced.stdout
    assert other.exit_code == 2
    assert "salesforce is not configured: set LEADSCORE_SALESFORCE__" in unwrapped(other.output)
    assert wrong.exit_code == 2
    assert "--system: expected one of hubspot, salesforce, mailchimp" in unwrapped(wrong.output)
