"""`forget --clear-crm`: a person's leadscore fields emptied in HubSpot, Salesforce and
Mailchimp (their emulators) before the store forgets them; nobody else's fields touched."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.protocol import Connector, Write, WriteOutcome
from sandbox import Sandbox
from scoring import Contact
from sync.errors import ConfigError, SyncError
from sync.forgetting import forget_people
from sync.locks import run_lock
from sync.store import StateStore
from sync.summary import SyncOptions
from tests.sync.privacy_helpers import (
    SYSTEMS,
    held_value,
    open_app,
    person_in_every_system,
    stage_tags,
    traces,
)


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox(people=60, seed=5) as sandbox:
        yield sandbox


def test_clear_crm_empties_the_fields_in_every_system_then_forgets(
    box: Sandbox, tmp_path: Path
) -> None:
    with open_app(box, f"sqlite:///{tmp_path / 'state.db'}") as app:
        app.setup()
        app.sync(SyncOptions(full=True))
        person = person_in_every_system(app.store)
        live = sorted((s, r) for s, r in person.records if app.store.person_of(r) == person.id)
        assert {s for s, _ in live} == set(SYSTEMS)
        score = {s: app.fields(s).names["score"] for s in SYSTEMS}
        assert all(held_value(box, s, r, score[s]) not in (None, "") for s, r in live)
        others = {
            (s, r): held_value(box, s, r, score[s])
            for p, pairs in app.store.records_by_person().items()
            if p != person.id
            for s, r in pairs
        }
        fields = {s: app.fields(s) for s in SYSTEMS}

        done = forget_people(
            app.store, [person.email], connectors=app.connectors, fields=fields, clear_crm=True
        )

        assert done.not_cleared == []
        assert [e.address for e in done.erased] == [person.email]
        assert sum(done.cleared.values()) == len(live)
        for system, record in live:
            for spec in fields[system].specs:
                # a checkbox holds false (Salesforce's is never empty), any other field nothing
                emptied = (None, "", False, "false") if spec.kind == "boolean" else (None, "")
                assert held_value(box, system, record, spec.name) in emptied, (system, spec.name)
            if system == "mailchimp":
                assert stage_tags(box, record) == []
        assert {k: held_value(box, k[0], k[1], score[k[0]]) for k in others} == others
        assert traces(app.store, person.email, person.records) == []


class Refusing:
    """A connector whose writes never land: the person must stay in the store."""

    def __init__(self, inner: Connector) -> None:
        self.inner = inner
        self.system = inner.system

    def write(self, writes: list[Write]) -> WriteOutcome:
        from connectors.protocol import WriteFailure

        return WriteOutcome([], [WriteFailure(w.record_id, "locked row") for w in writes])


def test_a_person_whose_clearing_did_not_land_stays_in_the_store(
    box: Sandbox, tmp_path: Path
) -> None:
    with open_app(box, f"sqlite:///{tmp_path / 'state.db'}") as app:
        app.setup()
        app.sync(SyncOptions(full=True))
        person = person_in_every_system(app.store)
        connectors = [Refusing(c) if c.system == "salesforce" else c for c in app.connectors]
        fields = {s: app.fields(s) for s in SYSTEMS}

        done = forget_people(
            app.store, [person.email], connectors=connectors, fields=fields,  # type: ignore[arg-type]
            clear_crm=True,
        )  # fmt: skip

        assert done.kept == [person.email]
        assert [n.reason for n in done.not_cleared] == ["locked row"]
        assert done.erased == []
        assert app.store.person_of(person.email) == person.id


def test_forget_while_a_sync_holds_the_lock_says_nothing_was_forgotten(tmp_path: Path) -> None:
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    store.save_contacts("hubspot", [Contact("7", email="gil@x.io")], datetime.now(UTC))
    held = run_lock(store, ["hubspot"])
    try:
        with pytest.raises(SyncError, match="nothing forgotten: skipped: the run started"):
            forget_people(store, ["gil@x.io"])
        assert store.person_of("gil@x.io") is not None
    finally:
        held.release()
    assert [e.address for e in forget_people(store, ["gil@x.io"]).erased] == ["gil@x.io"]
    assert store.person_of("gil@x.io") is None
    store.close()


def test_clear_crm_refuses_a_system_it_cannot_reach_unless_told_to_skip_it(
    box: Sandbox, tmp_path: Path
) -> None:
    """Erasing a person whose Salesforce records cannot be cleared (Salesforce not
    configured) would leave their score there with nothing to find it by: refused, nothing
    cleared or erased, unless --skip-unconfigured."""
    with open_app(box, f"sqlite:///{tmp_path / 'state.db'}") as app:
        app.setup()
        app.sync(SyncOptions(full=True))
        person = person_in_every_system(app.store)
        score = app.fields("hubspot").names["score"]
        hubspot = sorted(r for s, r in person.records if s == "hubspot")
        before = [held_value(box, "hubspot", r, score) for r in hubspot]
        only_hubspot = [c for c in app.connectors if c.system == "hubspot"]
        fields = {"hubspot": app.fields("hubspot")}

        with pytest.raises(ConfigError) as refused:
            forget_people(
                app.store, [person.email], connectors=only_hubspot, fields=fields,
                clear_crm=True,
            )  # fmt: skip
        assert refused.value.exit_code == 2
        assert any(
            "salesforce holds records of theirs and is not configured" in line
            and "LEADSCORE_SALESFORCE__" in line
            and "--skip-unconfigured" in line
            for line in refused.value.lines
        )
        assert person.email not in str(refused.value)
        assert app.store.person_of(person.email) == person.id
        assert [held_value(box, "hubspot", r, score) for r in hubspot] == before

        done = forget_people(
            app.store, [person.email], connectors=only_hubspot, fields=fields,
            clear_crm=True, skip_unconfigured=True,
        )  # fmt: skip
        assert [e.address for e in done.erased] == [person.email]
        assert done.cleared == {"hubspot": len(hubspot)}
        assert all(held_value(box, "hubspot", r, score) in (None, "") for r in hubspot)
