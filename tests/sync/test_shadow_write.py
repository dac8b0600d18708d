"""Shadow rules written to fields of their own (`--shadow-write`): the fields in each system,
the writes through the real SDKs against the sandboxes, and the live fields untouched."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import ValidationError
from typer.testing import CliRunner

from connectors.hubspot import CAPABILITIES as HUBSPOT
from connectors.mailchimp.system import MAILCHIMP_CAPABILITIES as MAILCHIMP
from connectors.mailchimp.write import stage_of
from connectors.salesforce.system import SF_CAPABILITIES as SALESFORCE
from sandbox import Sandbox
from scoring import load_rules
from sync import Leadscore, StateStore, SyncOptions
from sync.cli import app
from sync.demo import sandbox_settings
from sync.fields import FieldMap, FieldNameError
from sync.forgetting import forget_people
from sync.settings import Settings
from sync.shadow_write import shadow_fields, shadow_maps, shadow_system
from tests.helpers import unwrapped
from tests.sandbox.salesforce_helpers import stored_record
from tests.sync.cli_env import hubspot_env
from tests.sync.privacy_helpers import SYSTEMS, held_value, open_app, person_in_every_system
from tests.sync.test_shadow import AT, RULES, shadow_text
from tests.sync.test_sync_hubspot import held, make_sync

SHADOW = "leadscore_shadow_"


@pytest.fixture(scope="module")
def shadow(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("shadow") / "new.yaml"
    path.write_text(shadow_text(), "utf-8")
    return path


# -- the fields -----------------------------------------------------------------------------------


def test_each_system_gets_score_grade_and_stage_named_from_the_shadow_prefix(
    shadow: Path,
) -> None:
    rules = load_rules(shadow)
    grades = tuple(b.grade for b in rules.grades.bands) if rules.grades else ()
    hubspot = shadow_fields(rules, HUBSPOT, SHADOW)
    assert hubspot.names == {
        "score": "leadscore_shadow_score",
        "grade": "leadscore_shadow_grade",
        "stage": "leadscore_shadow_stage",
    }
    assert [s.label for s in hubspot.specs] == [
        "Shadow lead score",
        "Shadow lead grade",
        "Shadow lead stage",
    ]
    assert hubspot.specs[1].options == grades and hubspot.specs[1].kind == "enumeration"
    assert all("not live" in s.description for s in hubspot.specs)

    salesforce = shadow_fields(rules, SALESFORCE, SHADOW)
    live = FieldMap.for_rules(rules, SALESFORCE)
    assert set(salesforce.names.values()).isdisjoint(live.names.values())
    assert all(n.endswith("__c") and "Shadow" in n for n in salesforce.names.values())

    mailchimp = shadow_fields(rules, MAILCHIMP, SHADOW)
    assert mailchimp.names == {"score": "LSS_SCORE", "grade": "LSS_GRADE", "stage": "LSS_STAGE"}
    # within the tag limit, and never taken for the live stage (its tag is not touched)
    assert all(len(n) <= 10 for n in mailchimp.names.values())
    assert stage_of({"LSS_STAGE": "Lead", "LSS_SCORE": "40"}) is None
    assert stage_of({"LS_STAGE": "Lead"}) == "Lead"
    other = shadow_fields(rules, MAILCHIMP, "acme_shadow_")
    assert other.names["stage"] == "ACS_STAGE" and stage_of({"ACS_STAGE": "x"}) is None


def test_a_shadow_field_named_as_a_live_one_is_refused(shadow: Path) -> None:
    rules = load_rules(shadow)
    live = {"hubspot": FieldMap.for_rules(rules, HUBSPOT, "leadscore_shadow_")}
    with pytest.raises(FieldNameError, match="leadscore_shadow_score"):
        shadow_maps(rules, live, [HUBSPOT], SHADOW)


def test_the_shadow_prefix_must_say_shadow() -> None:
    assert Settings(_env_file=None).shadow_field_prefix == SHADOW
    with pytest.raises(ValidationError, match="holding 'shadow'"):
        Settings(_env_file=None, shadow_field_prefix="leadscore_")
    with pytest.raises(ValidationError, match="letters, digits"):
        Settings(_env_file=None, shadow_field_prefix="shadow-x")


# -- HubSpot end to end ---------------------------------------------------------------------------


def shadow_held(box: Sandbox, names: dict[str, str]) -> dict[str, dict[str, str | None]]:
    table = box.hubspot.contacts
    return {
        str(row + 1): {key: table.value(name, row) for key, name in names.items()}
        for row in range(table.size)
    }


def written_rows(store: StateStore, system: str) -> dict[str, dict[str, str]]:
    return store.written_values(system)


def test_shadow_fields_get_the_shadow_values_and_the_live_fields_what_they_get_without(
    shadow: Path, tmp_path: Path
) -> None:
    live_rules, shadow_rules = load_rules(RULES), load_rules(shadow)
    with Sandbox(people=150, seed=5) as box:
        store = StateStore(f"sqlite:///{tmp_path / 'with.db'}")
        sync = make_sync(box, live_rules, store, at=AT)
        application = Leadscore(sandbox_settings(box), sync)
        maps = application.shadow_fields(shadow_rules)
        assert application.setup(shadow=maps)["hubspot"].created == [
            "leadscore_shadow_score",
            "leadscore_shadow_grade",
            "leadscore_shadow_stage",
        ]
        options = SyncOptions(full=True, shadow=shadow_rules, shadow_name="new.yaml",
                              shadow_fields=maps)  # fmt: skip
        first = application.sync(options)
        live_held = held(box, live_rules)
        names = maps["hubspot"].names
        values = shadow_held(box, names)
        kept = written_rows(store, shadow_system("hubspot"))
        live_kept = written_rows(store, "hubspot")
        second = application.sync(options)
        store.close()
    with Sandbox(people=150, seed=5) as box:
        plain_store = StateStore(f"sqlite:///{tmp_path / 'without.db'}")
        plain = make_sync(box, live_rules, plain_store, at=AT)
        plain.run(SyncOptions(full=True, shadow=shadow_rules, shadow_name="new.yaml"))
        plain_held = held(box, live_rules)
        plain_kept = written_rows(plain_store, "hubspot")
        assert written_rows(plain_store, shadow_system("hubspot")) == {}
        assert all(n not in box.hubspot.contacts.defs for n in names.values())
        plain_store.close()

    # the live fields hold, and the store keeps, exactly what a run without shadow writes gives
    assert live_held == plain_held and len(live_held) > 100
    assert {r: dict(v) for r, v in live_kept.items()} == {r: dict(v) for r, v in plain_kept.items()}
    found = first.shadow
    assert found is not None and found.written is not None and found.batch is None
    counts = found.written["hubspot"]
    assert counts["planned"] == counts["written"] == len(kept) > 100 and counts["failed"] == 0
    assert first.as_dict()["shadow"]["written"] == {"hubspot": counts}
    # what HubSpot holds in the shadow fields is what the store keeps under hubspot:shadow
    for record, stored in kept.items():
        assert {k: values[record][k] or "" for k in names} == {k: stored[names[k]] for k in names}
    # ... and differs from the live values where the rules differ (opens worth more)
    moved = [r for r in kept if kept[r][names["score"]] != live_kept[r]["leadscore_score"]]
    assert len(moved) > 10
    assert any(kept[r][names["stage"]] != live_kept[r]["leadscore_stage"] for r in kept)
    # nothing changed: a second full run plans no shadow write
    assert second.shadow is not None and second.shadow.written == {
        "hubspot": {"planned": 0, "written": 0, "failed": 0}
    }
    assert second.systems["hubspot"].planned == 0


def test_only_changed_shadow_values_are_written_and_kept_apart_from_the_live_ones(
    shadow: Path, tmp_path: Path
) -> None:
    live_rules, shadow_rules = load_rules(RULES), load_rules(shadow)
    with Sandbox(people=80, seed=7) as box:
        store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
        sync = make_sync(box, live_rules, store, at=AT)
        application = Leadscore(sandbox_settings(box), sync)
        maps = application.shadow_fields(shadow_rules)
        application.setup(shadow=maps)
        options = SyncOptions(full=True, shadow=shadow_rules, shadow_fields=maps)
        application.sync(options)
        name = maps["hubspot"].names["score"]
        kept = store.written_values(shadow_system("hubspot"))
        # two records' shadow scores kept as something else: only those two are written again
        changed = sorted(kept)[:2]
        with store.engine.begin() as connection:
            for record in changed:
                stale = {**kept[record], name: "12345"}
                connection.execute(
                    sa.text(
                        'UPDATE written SET "values" = :v WHERE system = :s AND record_id = :r'
                    ),
                    {"v": json.dumps(stale), "s": "hubspot:shadow", "r": record},
                )
        box.hubspot.calls.clear()
        again = application.sync(options)
        assert again.shadow is not None and again.shadow.written is not None
        assert again.shadow.written["hubspot"] == {"planned": 2, "written": 2, "failed": 0}
        assert again.systems["hubspot"].planned == 0  # the live diff is its own
        assert store.written_values(shadow_system("hubspot")) == kept
        store.close()


# -- the commands ---------------------------------------------------------------------------------

runner = CliRunner()


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    with Sandbox(people=60, seed=8) as sandbox:
        yield sandbox


@pytest.fixture
def env(box: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)  # no developer's .env
    return hubspot_env(box, tmp_path)


def test_shadow_write_needs_a_shadow_file_and_its_fields(
    box: Sandbox, env: dict[str, str], shadow: Path
) -> None:
    alone = runner.invoke(app, ["sync", "--shadow-write"], env=env)
    assert alone.exit_code == 2 and "--shadow FILE" in unwrapped(alone.stderr)
    assert runner.invoke(app, ["setup"], env=env).exit_code == 0
    missing = runner.invoke(app, ["sync", "--shadow", str(shadow), "--shadow-write"], env=env)
    assert missing.exit_code != 0
    assert "setup --shadow FILE" in unwrapped(missing.stderr)
    assert "leadscore_shadow_score" in unwrapped(missing.stderr)


def test_setup_with_a_shadow_file_creates_its_fields_and_sync_writes_them(
    box: Sandbox, env: dict[str, str], shadow: Path
) -> None:
    made = runner.invoke(app, ["setup", "--shadow", str(shadow)], env=env)
    assert made.exit_code == 0, made.output
    assert "leadscore_shadow_score" in made.stdout or "already there" in made.stdout
    assert {"leadscore_shadow_score", "leadscore_shadow_stage"} <= set(box.hubspot.contacts.defs)
    result = runner.invoke(
        app, ["sync", "--full", "--shadow", str(shadow), "--shadow-write"], env=env
    )
    assert result.exit_code == 0, result.output
    line = next(x for x in result.stdout.splitlines() if "hubspot shadow fields:" in x)
    assert "written" in line and len(line) <= 80
    table = box.hubspot.contacts
    held_scores = [table.value("leadscore_shadow_score", r) for r in range(table.size)]
    assert sum(v is not None for v in held_scores) > 0


# -- Salesforce and Mailchimp end to end ----------------------------------------------------------


def test_salesforce_and_mailchimp_records_get_their_shadow_fields(
    shadow: Path, tmp_path: Path
) -> None:
    live_rules, shadow_rules = load_rules(RULES), load_rules(shadow)
    systems = ("salesforce", "mailchimp")
    with Sandbox(people=60, seed=9) as world:
        settings = sandbox_settings(world, f"sqlite:///{tmp_path / 's.db'}", systems=systems)
        with Leadscore.open(settings, rules=live_rules, clock=lambda: AT, pace=world.clock,
                            http=world.sessions()) as application:  # fmt: skip
            maps = application.shadow_fields(shadow_rules)
            application.setup(shadow=maps)
            summary = application.sync(
                SyncOptions(full=True, shadow=shadow_rules, shadow_fields=maps)
            )
            assert summary.shadow is not None and summary.shadow.written is not None
            for system in systems:
                counts = summary.shadow.written[system]
                assert counts["written"] == counts["planned"] > 0 and counts["failed"] == 0
                # the live fields are written as ever beside them
                live_counts = summary.systems[system]
                assert live_counts.written == live_counts.planned > 0 and not live_counts.failed
            store = application.store
            sf_kept = store.written_values(shadow_system("salesforce"))
            record, values = next(iter(sf_kept.items()))
            held_there: Any = stored_record(world.salesforce, record)
            name = maps["salesforce"].names["score"]
            assert held_there is not None and float(held_there[name]) == float(values[name])
            mc_kept = store.written_values(shadow_system("mailchimp"))
            audience = world.mailchimp.audience
            tags = {audience.member(r).merge_fields.get("LSS_SCORE") for r in range(audience.size)}
            assert {v["LSS_SCORE"] for v in mc_kept.values()} <= tags
            # the live stage tags are the live stages': no shadow stage became a tag
            live = store.written_values("mailchimp")
            assert all("LS_STAGE" in v for v in live.values())


# -- forgetting -----------------------------------------------------------------------------------


def test_forget_clear_crm_empties_the_shadow_fields_too_and_erases_their_written_values(
    shadow: Path, tmp_path: Path
) -> None:
    shadow_rules = load_rules(shadow)
    world = Sandbox(people=60, seed=5)
    with world, open_app(world, f"sqlite:///{tmp_path / 'state.db'}") as application:
        maps = application.shadow_fields(shadow_rules)
        application.setup(shadow=maps)
        application.sync(SyncOptions(full=True, shadow=shadow_rules, shadow_fields=maps))
        store = application.store
        person = person_in_every_system(store)
        live = sorted((s, r) for s, r in person.records if store.person_of(r) == person.id)
        score = {s: maps[s].names["score"] for s in SYSTEMS}
        assert all(held_value(world, s, r, score[s]) not in (None, "") for s, r in live)
        fields = {s: application.fields(s) for s in SYSTEMS}

        done = forget_people(store, [person.email], connectors=application.connectors,
                             fields=fields, clear_crm=True)  # fmt: skip

        assert done.not_cleared == [] and len(done.erased) == 1
        for system, record in live:
            for name in maps[system].names.values():
                assert held_value(world, system, record, name) in (None, ""), (system, name)
            assert record not in store.written_values(shadow_system(system))


def test_a_dry_run_names_the_shadow_fields_setup_would_create_and_writes_nothing(
    shadow: Path, tmp_path: Path
) -> None:
    live_rules, shadow_rules = load_rules(RULES), load_rules(shadow)
    with Sandbox(people=40, seed=3) as world:
        store = StateStore(f"sqlite:///{tmp_path / 'dry.db'}")
        application = Leadscore(sandbox_settings(world), make_sync(world, live_rules, store, AT))
        maps = application.shadow_fields(shadow_rules)
        options = SyncOptions(dry_run=True, shadow=shadow_rules, shadow_fields=maps)
        found = application.sync(options)
        assert "leadscore_shadow_score" in found.setup["hubspot"].created
        assert found.shadow is not None and found.shadow.written is not None
        counts = found.shadow.written["hubspot"]
        assert counts["planned"] > 0 and counts["written"] == 0
        assert "leadscore_shadow_score" not in world.hubspot.contacts.defs
        assert store.written_values(shadow_system("hubspot")) == {}
        store.close()
