"""Several models at once (`sync.models`): two rule files whose conditions split the
contacts, each written to fields of its own in HubSpot's sandbox, in one pull per run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.mailchimp.write import stage_of
from sandbox import Sandbox
from scoring import load_rules
from sync import Leadscore, SyncOptions
from sync.cli import app as cli
from sync.demo import sandbox_settings
from sync.errors import ConfigError
from sync.forgetting import forget_people
from sync.locks import LockLost
from sync.models import declared, explained_lines
from sync.shadow_write import extra_system
from tests.helpers import unwrapped
from tests.sandbox.hubspot_helpers import touch
from tests.sync.cli_env import hubspot_env
from tests.sync.lock_clock import paused_after
from tests.sync.privacy_helpers import SYSTEMS, held_value, person_in_every_system
from tests.sync.test_shadow import RULES, shadow_text

runner = CliRunner()
EUROPE = ("GB", "FR", "DE", "PL", "BE")
AMERICAS = ("US", "MX")


@pytest.fixture(scope="module")
def rule_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("models")
    europe, americas = folder / "europe.yaml", folder / "americas.yaml"
    europe.write_text(RULES.read_text("utf-8"), "utf-8")
    americas.write_text(shadow_text(), "utf-8")
    return europe, americas


def models_text(europe: Path, americas: Path) -> str:
    return json.dumps(
        [
            {"name": "europe", "rules": str(europe), "when": {"country": list(EUROPE)},
             "field_prefix": "eu_"},
            {"name": "americas", "rules": str(americas), "when": [{"country": "US"},
             {"country": "MX"}], "field_prefix": "am_"},
        ]
    )  # fmt: skip


def opened(box: Sandbox, url: str, models: str) -> Leadscore:
    settings = sandbox_settings(box, url).model_copy(update={"models": models})
    return Leadscore.open(
        settings, rules=load_rules(RULES), clock=box.now, pace=box.clock, http=box.sessions()
    )


def held(box: Sandbox, name: str) -> dict[str, str | None]:
    """Contact id -> the value HubSpot holds in `name` (None: empty or no such property)."""
    table = box.hubspot.contacts
    if name not in table.defs:
        return {str(row + 1): None for row in range(table.size)}
    return {str(row + 1): table.value(name, row) or None for row in range(table.size)}


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox(people=80, seed=8) as sandbox:
        yield sandbox


def test_each_model_writes_its_fields_for_its_contacts_only_and_follows_a_move(
    box: Sandbox, rule_files: tuple[Path, Path], tmp_path: Path
) -> None:
    with opened(box, f"sqlite:///{tmp_path / 's.db'}", models_text(*rule_files)) as app:
        made = app.setup()["hubspot"].created
        assert {"eu_score", "eu_fit", "eu_stage", "eu_disqualified", "eu_reasons"} <= set(made)
        assert {"am_score", "am_grade", "am_reasons"} <= set(made)
        assert "eu_scored_at" not in made
        planned = app.sync(SyncOptions(full=True, dry_run=True))
        assert all(v is None for v in held(box, "eu_score").values())  # a dry run writes nothing
        first = app.sync(SyncOptions(full=True))
        countries = held(box, "country")
        live, europe, americas = (
            held(box, "leadscore_score"),
            held(box, "eu_score"),
            held(box, "am_score"),
        )
        eu = {c for c, v in countries.items() if v in EUROPE}
        am = {c for c, v in countries.items() if v in AMERICAS}
        assert len(eu) > 5 and len(am) > 5
        # each model's fields hold a value for its contacts, and nothing for the others
        assert {c for c, v in europe.items() if v is not None} == eu
        assert {c for c, v in americas.items() if v is not None} == am
        assert all(held(box, "eu_reasons")[c] for c in eu)
        # the European model has the live rules: its score is the live one
        assert all(europe[c] == live[c] for c in eu)
        assert any(americas[c] != live[c] for c in am)  # opens are worth more there
        counts = first.models
        assert counts["europe"]["hubspot"] == {"planned": len(eu), "written": len(eu), "failed": 0}
        assert counts["americas"]["hubspot"]["written"] == len(am)
        assert planned.models["europe"]["hubspot"]["planned"] == len(eu)
        assert planned.models["europe"]["hubspot"]["written"] == 0
        assert first.as_dict()["models"] == counts
        store = app.store
        assert set(store.written_values(extra_system("hubspot", "model:europe"))) == eu

        again = app.sync(SyncOptions())
        assert again.models == {
            "europe": {"hubspot": {"planned": 0, "written": 0, "failed": 0}},
            "americas": {"hubspot": {"planned": 0, "written": 0, "failed": 0}},
        }
        full_again = app.sync(SyncOptions(full=True))
        assert all(n["planned"] == 0 for m in full_again.models.values() for n in m.values())

        mover = sorted(am, key=int)[0]
        touch(box.hubspot, mover, country="GB")
        moved = app.sync(SyncOptions())
        assert moved.models["europe"]["hubspot"]["written"] == 1
        assert moved.models["americas"]["hubspot"]["written"] == 1
        assert held(box, "am_score")[mover] is None and held(box, "am_reasons")[mover] is None
        assert held(box, "eu_score")[mover] == held(box, "leadscore_score")[mover]
        cleared = store.written_values(extra_system("hubspot", "model:americas"))[mover]
        assert set(cleared.values()) == {""}
        once = app.sync(SyncOptions())  # cleared once: nothing more to write
        assert all(n["planned"] == 0 for m in once.models.values() for n in m.values())


def test_live_fields_are_those_a_run_without_models_writes(
    box: Sandbox, rule_files: tuple[Path, Path], tmp_path: Path
) -> None:
    with opened(box, f"sqlite:///{tmp_path / 'a.db'}", models_text(*rule_files)) as app:
        app.setup()
        pulled = app.sync(SyncOptions(full=True)).systems["hubspot"].calls
        with_models = app.store.written_values("hubspot")
    with opened(box, f"sqlite:///{tmp_path / 'b.db'}", "") as plain:
        plain.setup()
        summary = plain.sync(SyncOptions(full=True))
        without = plain.store.written_values("hubspot")
    assert summary.models == {} and "models" not in summary.as_dict()
    # one pull: the same reads with models as without; only the writes are more
    reads = summary.systems["hubspot"].calls
    assert {k: n for k, n in pulled.items() if k != "contacts.batch_update"} == {
        k: n for k, n in reads.items() if k != "contacts.batch_update"
    }
    assert pulled["contacts.batch_update"] > reads["contacts.batch_update"]
    stamp = "leadscore_scored_at"
    assert {r: {k: v for k, v in w.items() if k != stamp} for r, w in with_models.items()} == {
        r: {k: v for k, v in w.items() if k != stamp} for r, w in without.items()
    }
    assert len(without) > 50


@pytest.mark.parametrize(
    ("entries", "said"),
    [
        ("[{name: x", "LEADSCORE_MODELS:1: invalid YAML"),
        ("[{name: a, rules: R, when: {country: NO}, field_prefix: 1_}]", "field field_prefix"),
        ("[{name: a, rules: R, when: [{country: {gt: x}}], field_prefix: b_}]", "when.0.country.gt"),
        ("{name: x}", "expected a list"),
        ('[{name: "Bad Name", rules: r.yaml, when: {a: 1}, field_prefix: b_}]', "field name"),
        ("[{name: a, rules: R, when: {country: {nope: 1}}, field_prefix: b_}]", "when"),
        ("[{name: a, rules: R, when: {country: US}, field_prefix: leadscore_}]", "live fields'"),
        ("[{name: a, rules: R, when: {country: US}, field_prefix: leadscore_shadow_}]", "shadow"),
        ("[{name: a, rules: R, when: {country: US}, field_prefix: x_}, "
         "{name: a, rules: R, when: {country: GB}, field_prefix: y_}]", "two models are named"),
        ("[{name: a, rules: R, when: {country: US}, field_prefix: x_}, "
         "{name: b, rules: R, when: {country: GB}, field_prefix: X_}]", "prefix too"),
        ("[{name: eur, rules: R, when: {country: US}, field_prefix: x_}, "
         "{name: euro, rules: R, when: {country: GB}, field_prefix: y_}]", "give one another"),
        ("[{name: a, rules: R, when: {}, field_prefix: x_}]", "every contact"),
        ("[{name: a, rules: missing.yaml, when: {country: US}, field_prefix: x_}]", "missing.yaml"),
    ],
)  # fmt: skip
def test_bad_models_are_refused_before_any_call(
    box: Sandbox, tmp_path: Path, entries: str, said: str
) -> None:
    box.hubspot.calls.clear()
    with pytest.raises(ConfigError) as caught:
        opened(box, "sqlite://", entries.replace("R,", f"{RULES},"))
    text = "\n".join(caught.value.lines)
    assert "LEADSCORE_MODELS" in text and said in text, text
    assert not box.hubspot.calls


def test_a_bad_rule_file_is_named_with_its_line(box: Sandbox, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(RULES.read_text("utf-8").replace("points: 5\n", "points: lots\n", 1), "utf-8")
    entry = f"[{{name: a, rules: {bad}, when: {{country: US}}, field_prefix: x_}}]"
    with pytest.raises(ConfigError) as caught:
        opened(box, "sqlite://", entry)
    text = "\n".join(caught.value.lines)
    assert "model a" in text and str(bad) in text and ":" in text.split(str(bad))[1]


def test_a_condition_on_a_field_the_live_rules_do_not_read_is_pulled_for_it(
    box: Sandbox, tmp_path: Path
) -> None:
    entry = json.dumps(
        [{"name": "named", "rules": str(RULES), "when": {"company": {"regex": "^[A-M]"}},
          "field_prefix": "nm_", "tag": "NMD"}]
    )  # fmt: skip
    assert "company" not in load_rules(RULES).contact_fields()
    with opened(box, f"sqlite:///{tmp_path / 'c.db'}", entry) as app:
        app.setup()
        app.sync(SyncOptions(full=True))
    companies, scores = held(box, "company"), held(box, "nm_score")
    wanted = {c for c, v in companies.items() if v and "A" <= v[0].upper() <= "M"}
    assert 3 < len(wanted) < len(companies)
    assert {c for c, v in scores.items() if v is not None} == wanted


def test_a_webhook_rescore_brings_the_models_fields_up_to_date(
    box: Sandbox, rule_files: tuple[Path, Path], tmp_path: Path
) -> None:
    with opened(box, f"sqlite:///{tmp_path / 't.db'}", models_text(*rule_files)) as app:
        app.setup()
        app.sync(SyncOptions(full=True))
        countries = held(box, "country")
        mover = min((c for c, v in countries.items() if v == "US"), key=int)
        assert held(box, "am_score")[mover] is not None and held(box, "eu_score")[mover] is None
        touch(box.hubspot, mover, country="FR")
        done = app.rescore(f"hubspot:{mover}")
        assert done.status == "done"
        assert held(box, "am_score")[mover] is None
        assert held(box, "eu_score")[mover] == held(box, "leadscore_score")[mover]
        after = app.sync(SyncOptions())
        assert all(n["planned"] == 0 for m in after.models.values() for n in m.values())


def test_a_rescore_frozen_while_scoring_the_models_writes_none_of_their_fields(
    box: Sandbox, rule_files: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Frozen as it scores the models (a serverless instance, its answer given) and
    thawed a minute later: the models' fields worked out before are not written."""
    with opened(box, f"sqlite:///{tmp_path / 't.db'}", models_text(*rule_files)) as app:
        app.setup()
        app.sync(SyncOptions(full=True))
        countries = held(box, "country")
        mover = min((c for c, v in countries.items() if v == "US"), key=int)
        touch(box.hubspot, mover, country="FR")
        paused_after(monkeypatch, "score_models")
        with pytest.raises(LockLost, match="another run may have taken it"):
            app.rescore(f"hubspot:{mover}")
        assert held(box, "am_score")[mover] is not None and held(box, "eu_score")[mover] is None


# -- Salesforce and Mailchimp, and forgetting -----------------------------------------------------


def test_every_system_holding_the_person_gets_the_models_fields_and_forget_clears_them(
    rule_files: tuple[Path, Path], tmp_path: Path
) -> None:
    with Sandbox(people=60, seed=5) as world:
        settings = sandbox_settings(world, f"sqlite:///{tmp_path / 'x.db'}", systems=SYSTEMS)
        settings = settings.model_copy(update={"models": models_text(*rule_files)})
        with Leadscore.open(settings, rules=load_rules(RULES), clock=world.now,
                            pace=world.clock, http=world.sessions()) as app:  # fmt: skip
            maps = {m.name: m.maps for m in app.job.models}
            assert maps["europe"]["mailchimp"].names["score"] == "EUR_SCORE"
            assert maps["americas"]["mailchimp"].names["reasons"] == "AME_WHY"
            assert maps["europe"]["salesforce"].names["score"] == "Eu_Score__c"
            app.setup()
            first = app.sync(SyncOptions(full=True))
            store = app.store
            for name, model in maps.items():
                for system in SYSTEMS:
                    kept = store.written_values(extra_system(system, f"model:{name}"))
                    assert len(kept) > 2 and first.models[name][system]["failed"] == 0
                    score = model[system].names["score"]
                    for record, values in kept.items():
                        found = held_value(world, system, record, score)
                        assert float(str(found)) == float(values[score]), (system, record)
            # a model's stage merge field is not taken for the live stage's tag
            assert stage_of({"EUR_STAGE": "x", "LS_STAGE": "y"}) == "y"
            again = app.sync(SyncOptions(full=True))
            assert all(n["planned"] == 0 for m in again.models.values() for n in m.values())

            written = {(s, r, m) for m in maps for s in SYSTEMS
                       for r in store.written_values(extra_system(s, f"model:{m}"))}  # fmt: skip

            def scored_by_a_model(records: set[tuple[str, str]]) -> bool:
                return any((s, r, m) in written for s, r in records for m in maps)

            person = person_in_every_system(store, scored_by_a_model)
            live = sorted((s, r) for s, r in person.records if store.person_of(r) == person.id)
            ours = [(s, r, m) for s, r in live for m in maps if (s, r, m) in written]
            assert ours
            fields = {s: app.fields(s) for s in SYSTEMS}
            done = forget_people(store, [person.email], connectors=app.connectors,
                                 fields=fields, clear_crm=True)  # fmt: skip
            assert done.not_cleared == [] and len(done.erased) == 1
            for system, record, model in ours:
                for name in maps[model][system].names.values():
                    # a Salesforce checkbox holds no null: it is cleared unchecked
                    assert held_value(world, system, record, name) in (None, "", False), name
                kept = store.written_values(extra_system(system, f"model:{model}"))
                assert record not in kept


def test_explain_says_which_models_score_the_person_and_a_new_model_is_written_in_full(
    box: Sandbox, rule_files: tuple[Path, Path], tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'e.db'}"
    only_europe = json.dumps([json.loads(models_text(*rule_files))[0]])
    with opened(box, url, only_europe) as app:
        app.setup()
        app.sync(SyncOptions(full=True))
    with opened(box, url, models_text(*rule_files)) as app:
        app.setup()
        added = app.sync(SyncOptions())  # the models changed: everyone is scored again
        am = {c for c, v in held(box, "country").items() if v in AMERICAS}
        assert added.models["americas"]["hubspot"]["written"] == len(am) > 5
        assert added.models["europe"]["hubspot"]["planned"] == 0
        record = min(am, key=int)
        found = app.explain(str(held(box, "email")[record]))
    assert len(found.models["americas"]) == 1 and len(found.models["europe"]) == 0
    lines = explained_lines(found.models)
    assert (
        lines[0]
        == "model europe: does not score them (its `when` does not hold, or it excludes them)"
    )
    assert lines[1].startswith(f"model americas: score {held(box, 'am_score')[record]}")


# -- the commands ---------------------------------------------------------------------------------


def test_the_commands_set_up_plan_and_write_the_models_and_refuse_a_bad_one(
    box: Sandbox, rule_files: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no developer's .env
    env = {**hubspot_env(box, tmp_path), "LEADSCORE_MODELS": models_text(*rule_files)}
    made = runner.invoke(cli, ["setup"], env=env)
    assert made.exit_code == 0, made.output
    assert "eu_score" in made.stdout and "am_reasons" in made.stdout
    planned = runner.invoke(cli, ["sync", "--dry-run"], env=env)
    assert planned.exit_code == 0, planned.output
    assert "model europe, hubspot:" in unwrapped(planned.stdout)
    done = runner.invoke(cli, ["sync"], env=env)
    line = next(x for x in done.stdout.splitlines() if x.startswith("model americas, hubspot:"))
    assert "written" in line and "0 failed" in line
    bad = {
        **env,
        "LEADSCORE_MODELS": "[{name: x, rules: nope.yaml, when: {a: 1}, field_prefix: ent_}]",
    }
    refused = runner.invoke(cli, ["sync"], env=bad)
    assert refused.exit_code == 2 and "Traceback" not in refused.output
    assert "LEADSCORE_MODELS: model x" in unwrapped(refused.stderr)
    assert "nope.yaml" in unwrapped(refused.stderr)


def test_a_country_code_no_stays_text_as_in_rule_files() -> None:
    entry = "[{name: nordics, rules: r.yaml, when: {country: [NO, SE]}, field_prefix: nd_}]"
    (found,) = declared(entry)
    assert isinstance(found.when, dict) and found.when["country"].one_of == ["NO", "SE"]
