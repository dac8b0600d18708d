"""Three tenants synced side by side, each against a sandbox of its own: none sees another's
people or writes, a tenant and system's run never overlaps another of the same, and a run
of one system keeps whom another system still needs due. On SQLite files, then in the
schemas of one PostgreSQL database (where the suite's server runs)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from connectors.mailchimp.system import MAILCHIMP_CAPABILITIES
from sandbox import Sandbox
from scoring import normalize_email
from scoring.loader import load_rules
from sync.app import Leadscore
from sync.cli import app
from sync.demo import DEMO_STAGES
from sync.fields import FieldMap
from sync.locks import LockHeld, run_lock
from sync.readback import stored_people
from sync.store import StateStore
from sync.tenants import read_tenants, run_tenant
from tests.sync.cli_env import DEFAULT_RULES

TENANTS = ("acme", "globex", "initech")
runner = CliRunner()


@pytest.fixture(scope="module")
def boxes() -> Iterator[dict[str, Sandbox]]:
    started = {name: Sandbox(people=90 + 15 * i, seed=21 + i) for i, name in enumerate(TENANTS)}
    for box in started.values():
        box.start()
    yield started
    for box in started.values():
        box.stop()


def tenants_file(
    folder: Path, boxes: dict[str, Sandbox], state_url: str, *mail: str, stages: bool = False
) -> Path:
    """Each tenant on its own sandbox, with a field prefix of its own; HubSpot for all,
    Mailchimp too for the tenants in `mail`; tokens by reference to variables; `stages`:
    the demo's mapping onto HubSpot's lifecycle stages."""
    lines = ["defaults:", f"  rules: {DEFAULT_RULES}", f"  state_url: {state_url}", "tenants:"]
    for name, box in boxes.items():
        settings = box.connection_settings()
        lines += [f"  {name}:", f"    field_prefix: {name}_", "    hubspot:"]
        lines += [f"      access_token: {{env: {name.upper()}_HUBSPOT_TOKEN}}"]
        lines += [f"      host: {settings['hubspot']['host']}"]
        if stages:
            lines += [f"      lifecycle_stages: {json.dumps(DEMO_STAGES['hubspot'])}"]
        if name in mail:
            chimp = settings["mailchimp"]
            lines += ["    mailchimp:", f"      api_key: {{env: {name.upper()}_MAILCHIMP_KEY}}"]
            lines += [
                f"      base_url: {chimp['base_url']}",
                f"      audiences: {chimp['audiences']}",
            ]
    path = folder / "tenants.yaml"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


@pytest.fixture
def secrets(boxes: dict[str, Sandbox], monkeypatch: pytest.MonkeyPatch) -> None:
    for name, box in boxes.items():
        settings = box.connection_settings()
        monkeypatch.setenv(f"{name.upper()}_HUBSPOT_TOKEN", settings["hubspot"]["access_token"])
        monkeypatch.setenv(f"{name.upper()}_MAILCHIMP_KEY", settings["mailchimp"]["api_key"])


def set_up(path: Path, boxes: dict[str, Sandbox]) -> None:
    for name, tenant in read_tenants(path).items():
        with Leadscore.open(tenant.settings(), clock=boxes[name].now) as opened:
            opened.setup()


def side_by_side(
    path: Path, boxes: dict[str, Sandbox], system: str | None = None
) -> dict[str, dict[str, Any]]:
    def run(name: str) -> dict[str, Any]:
        clock: Callable[[], datetime] = boxes[name].now
        return run_tenant(name, system, tenants_file=path, full=True, clock=clock)

    with ThreadPoolExecutor(len(boxes)) as pool:
        return dict(zip(boxes, pool.map(run, boxes), strict=True))


def sandbox_emails(box: Sandbox, mailchimp: bool) -> set[str]:
    contacts = box.hubspot.contacts
    found = {normalize_email(contacts.value("email", r) or "") for r in range(contacts.size)}
    if mailchimp:
        audience = box.mailchimp.audience
        found |= {normalize_email(audience.member(r).email) for r in range(audience.size)}
    return found - {""}


def store_emails(url: str, adbc: bool = False) -> set[str]:
    store = StateStore(url)
    try:
        with store.engine.connect() as connection:
            people = stored_people(connection, None, adbc=adbc)
        return {normalize_email(c.email) for c in people.contacts if c.email}
    finally:
        store.close()


def scored_rows(box: Sandbox, prefix: str) -> int:
    contacts = box.hubspot.contacts
    column = f"{prefix}score"
    if column not in contacts.defs:
        return 0
    return sum(contacts.value(column, r) is not None for r in range(contacts.size))


def assert_apart(boxes: dict[str, Sandbox], runs: dict[str, dict[str, Any]]) -> None:
    """Each sandbox holds its own tenant's fields and writes only."""
    for name, box in boxes.items():
        assert runs[name]["status"] == "ok", runs[name]
        written = runs[name]["systems"]["hubspot"]["written"]
        assert written > 0 and scored_rows(box, f"{name}_") == written
        others = [t for t in TENANTS if t != name]
        assert not [p for p in box.hubspot.contacts.defs if p.startswith(tuple(others))]


def test_three_tenants_synced_at_once_each_see_their_own_people_and_write_their_own_sandbox(
    boxes: dict[str, Sandbox], tmp_path: Path, secrets: None
) -> None:
    path = tenants_file(tmp_path, boxes, f"sqlite:///{tmp_path}/{{tenant}}.db", "acme")
    set_up(path, boxes)
    runs = side_by_side(path, boxes)

    assert_apart(boxes, runs)
    assert runs["acme"]["systems"]["mailchimp"]["written"] > 0
    assert "mailchimp" not in runs["globex"]["systems"]
    for name, box in boxes.items():
        url = f"sqlite:///{tmp_path}/{name}.db"
        assert (tmp_path / f"{name}.db").is_file()
        assert store_emails(url) == sandbox_emails(box, mailchimp=name == "acme")


def test_a_busy_tenant_and_system_is_skipped_and_nobody_else_waits(
    boxes: dict[str, Sandbox], tmp_path: Path, secrets: None
) -> None:
    path = tenants_file(tmp_path, boxes, f"sqlite:///{tmp_path}/{{tenant}}.db", "acme")
    set_up(path, boxes)
    store = StateStore(f"sqlite:///{tmp_path}/acme.db")
    lock = run_lock(store, ["hubspot"])  # a run of acme's HubSpot at work elsewhere
    env = {"LEADSCORE_TENANTS_FILE": str(path), "COLUMNS": "300", "LEADSCORE_LOG_FORMAT": "json"}
    try:
        with pytest.raises(LockHeld, match="holds the lock for hubspot"):
            run_tenant("acme", "hubspot", tenants_file=path, clock=boxes["acme"].now)
        with pytest.raises(LockHeld):
            run_tenant("acme", tenants_file=path, clock=boxes["acme"].now)  # every system
        skipped = runner.invoke(app, ["sync", "--tenant", "acme", "--system", "hubspot"], env=env)
        listed = runner.invoke(app, ["tenants", "--json"], env=env)
        mail = run_tenant("acme", "mailchimp", tenants_file=path, clock=boxes["acme"].now)
        other = run_tenant("globex", "hubspot", tenants_file=path, clock=boxes["globex"].now)
    finally:
        lock.release()
        store.close()
    again = run_tenant("acme", "hubspot", tenants_file=path, clock=boxes["acme"].now)

    assert skipped.exit_code == 0 and "skipped:" in skipped.output, skipped.output
    assert listed.exit_code == 0, listed.output
    shown = {t["name"]: t for t in json.loads(listed.stdout)["tenants"]}
    acme = {s["system"]: s for s in shown["acme"]["systems"]}
    assert acme["hubspot"]["running"] and not acme["mailchimp"]["running"]
    assert shown["globex"]["systems"] == [
        {"system": "hubspot", "last_run": None, "status": None, "written": None, "running": False}
    ]
    assert shown["globex"]["state"] == f"SQLite {tmp_path}/globex.db"
    assert mail["status"] == "ok" and list(mail["systems"]) == ["mailchimp"]
    assert other["status"] == "ok" and other["systems"]["hubspot"]["written"] > 0
    assert again["status"] == "ok" and list(again["systems"]) == ["hubspot"]


def test_a_run_of_one_system_leaves_a_change_for_the_other_to_its_own_run(
    boxes: dict[str, Sandbox], tmp_path: Path, secrets: None
) -> None:
    """acme's HubSpot alone pulls a contact's new activity and writes its new score; the
    person stays due for Mailchimp, whose own run then writes the same score there."""
    path = tenants_file(tmp_path, boxes, f"sqlite:///{tmp_path}/{{tenant}}.db", "acme")
    set_up(path, boxes)
    box, clock = boxes["acme"], boxes["acme"].now
    first = run_tenant("acme", tenants_file=path, full=True, clock=clock)
    # the members its writes touched are pulled again once, and nothing changes
    settled = run_tenant("acme", "mailchimp", tenants_file=path, clock=clock)
    audience = box.mailchimp.audience
    members = {normalize_email(audience.member(r).email): r for r in range(audience.size)}
    contacts = box.hubspot.contacts
    row = next(r for r in range(contacts.size) if (contacts.value("email", r) or "") in members)
    member = members[contacts.value("email", row) or ""]
    before = contacts.value("acme_score", row)
    for _ in range(3):
        box.hubspot.add_event(str(row + 1), "demo_request", url="/demo")  # type: ignore[arg-type]

    hubspot = run_tenant("acme", "hubspot", tenants_file=path, clock=clock)
    after = contacts.value("acme_score", row)
    mailchimp = run_tenant("acme", "mailchimp", tenants_file=path, clock=clock)
    tag = FieldMap.for_rules(load_rules(DEFAULT_RULES), MAILCHIMP_CAPABILITIES, "acme_")
    merged = audience.member(member).merge_fields.get(tag.names["score"])

    assert first["status"] == "ok" and set(first["systems"]) == {"hubspot", "mailchimp"}
    assert settled["systems"]["mailchimp"]["written"] == 0
    assert list(hubspot["systems"]) == ["hubspot"] and hubspot["systems"]["hubspot"]["written"]
    assert after != before
    assert mailchimp["systems"]["mailchimp"]["written"] >= 1
    assert str(merged) == after
    assert mailchimp["rescored"] < audience.size  # not a rescore of everyone


@pytest.mark.usefixtures("secrets")
def test_three_tenants_in_one_postgresql_database_keep_to_their_schemas(
    boxes: dict[str, Sandbox], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = str(request.getfixturevalue("postgres_url"))
    path = tenants_file(tmp_path, boxes, url)
    set_up(path, boxes)
    runs = side_by_side(path, boxes, "hubspot")

    assert_apart(boxes, runs)
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        schemas = connection.execute(sa.text("SELECT nspname FROM pg_namespace")).scalars().all()
        public = connection.execute(sa.text("SELECT to_regclass('public.persons')")).scalar()
    engine.dispose()
    assert set(TENANTS) <= set(schemas) and public is None  # nothing in the shared schema
    for name, tenant in read_tenants(path).items():
        own = tenant.settings().state_url.get_secret_value()
        assert "search_path%3D" + name in own
        expected = sandbox_emails(boxes[name], mailchimp=False)
        assert store_emails(own) == expected
        assert store_emails(own, adbc=True) == expected  # ADBC's reads honour the schema


def test_runs_of_one_system_each_in_turn_rescore_only_who_is_due(
    boxes: dict[str, Sandbox], tmp_path: Path, secrets: None
) -> None:
    """HubSpot's runs check its stage mapping and Mailchimp's have none: each keeps the
    fingerprint of what it scores with apart, so taking turns rescores nobody anew."""
    path = tenants_file(tmp_path, boxes, f"sqlite:///{tmp_path}/{{tenant}}.db", "acme", stages=True)
    set_up(path, boxes)
    clock = boxes["acme"].now
    run_tenant("acme", tenants_file=path, full=True, clock=clock)
    turns = [
        run_tenant("acme", system, tenants_file=path, clock=clock)
        for system in ("hubspot", "mailchimp", "mailchimp", "hubspot", "mailchimp")
    ]

    assert all(t["status"] == "ok" for t in turns)
    persons = turns[0]["persons"]
    assert [t["rescored"] for t in turns[3:]] == [0, 0], [t["rescored"] for t in turns]
    assert persons > 0
