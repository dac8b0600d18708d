"""`leadscore forget` and `leadscore export` as a user runs them after a HubSpot sync."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from sandbox import Sandbox
from sync.cli import app
from sync.privacy_cli import addresses_given
from sync.store import StateStore
from tests.sync.cli_env import hubspot_env
from tests.sync.privacy_helpers import snapshot

runner = CliRunner()


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    with Sandbox(people=30, seed=4) as sandbox:
        yield sandbox


@pytest.fixture
def env(box: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)  # no developer's .env
    return hubspot_env(box, tmp_path)


def run(env: dict[str, str], *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), env=env)


@pytest.fixture
def synced(env: dict[str, str], box: Sandbox) -> list[str]:
    """Two addresses the store knows, after setup and a full sync."""
    assert run(env, "setup").exit_code == 0
    result = run(env, "sync", "--full")
    assert result.exit_code == 0, result.output
    return [box.hubspot.contacts.value("email", row) or "" for row in (0, 1)]


def store_of(env: dict[str, str]) -> StateStore:
    return StateStore(env["LEADSCORE_STATE_URL"])


def test_export_writes_the_person_as_stable_json(env: dict[str, str], synced: list[str]) -> None:
    first = run(env, "export", synced[0].upper())
    again = run(env, "export", synced[0], "--out", "person.json")

    assert first.exit_code == 0, first.output
    document = json.loads(first.stdout)
    assert document["email"] == synced[0]
    assert [r["system"] for r in document["records"]] == ["hubspot"]
    # the attributes the store keeps: those the rules read (the address is the identity's)
    kept = set(document["records"][0]["attributes"])
    assert "industry" in kept and not {"email", "first_name", "firstname"} & kept, kept
    assert document["written"] and document["history"]
    assert list(document) == sorted(document)
    assert again.exit_code == 0 and "wrote person.json" in again.stdout
    assert Path("person.json").read_text("utf-8") == first.stdout


def test_export_of_an_unknown_address_is_one_line_and_exit_2(
    env: dict[str, str], synced: list[str]
) -> None:
    result = run(env, "export", "nobody@example.invalid")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: nobody@example.invalid is not in the state store"
    ]


def test_forget_erases_the_people_named_and_says_so_within_80_columns(
    env: dict[str, str], synced: list[str]
) -> None:
    Path("people.txt").write_text(f"# requests of May\n\n{synced[1]}\n", "utf-8")

    result = run(env, "forget", synced[0], "nobody@example.invalid", "--from-file", "people.txt")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), lines
    assert lines[0].startswith(f"{synced[0]}: forgotten (1 record in hubspot;")
    assert lines[1] == "nobody@example.invalid: not in the state store"
    assert lines[2].startswith(f"{synced[1]}: forgotten")
    store = store_of(env)
    assert store.person_of(synced[0]) is None and store.person_of(synced[1]) is None
    store.close()
    assert run(env, "export", synced[0]).exit_code == 2


def test_forget_with_clear_crm_empties_the_score_in_hubspot_first(
    env: dict[str, str], synced: list[str], box: Sandbox
) -> None:
    assert box.hubspot.contacts.value("leadscore_score", 0) not in (None, "")

    result = run(env, "forget", "--clear-crm", synced[0])

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == "hubspot: emptied the leadscore fields of 1 record"
    assert box.hubspot.contacts.value("leadscore_score", 0) in (None, "")
    assert box.hubspot.contacts.value("leadscore_score", 1) not in (None, "")


def test_a_bad_line_names_its_line_and_nothing_is_deleted(
    env: dict[str, str], synced: list[str]
) -> None:
    Path("people.txt").write_text(f"{synced[1]}\nnot an address\n\n@x\n", "utf-8")
    store = store_of(env)
    before = snapshot(store)

    result = run(env, "forget", synced[0], "--from-file", "people.txt")

    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: people.txt:2: 'not an address' is not an email address",
        "error: people.txt:4: '@x' is not an email address",
    ]
    assert "Traceback" not in result.output
    assert snapshot(store) == before
    store.close()


@given(st.lists(st.emails(), max_size=5), st.lists(st.text(max_size=20), max_size=5))
def test_every_address_is_kept_once_and_every_other_word_is_a_problem(
    good: list[str], other: list[str]
) -> None:
    bad = [t for t in other if "@" not in t]
    found, problems = addresses_given([*good, *bad], None)
    assert found == list(dict.fromkeys(g.strip().lower() for g in good))
    assert len(problems) == len(bad)
    for n, text in enumerate(bad, start=len(good) + 1):
        assert any(p.startswith(f"argument {n}:") for p in problems), (text, problems)
