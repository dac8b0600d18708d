"""A passed setup check kept in the store (`sync.setup_memo`): another process's trigger
skips the check's calls while it is fresh and names the same fields, and checks again
otherwise. Real SDK, real store, the HubSpot emulator."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox import FaultPlan, Sandbox
from scoring import RuleSet
from sync import Leadscore
from sync.demo import sandbox_settings
from sync.errors import SetupNeeded
from sync.settings import Settings
from sync.setup_memo import (
    CHECK_KEPT,
    check_ready_remembered,
    check_remembered,
    forget_check,
    remember_check,
)
from sync.web.core import WebhookCore
from sync.web.messages import WebhookRequest
from tests.sync.web.test_core import IdsEndpoint

AT = 1_800_000_000.0


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    with Sandbox(people=10, seed=5) as sandbox:
        yield sandbox


@pytest.fixture
def settings(box: Sandbox, tmp_path: Path) -> Settings:
    return sandbox_settings(box, f"sqlite:///{tmp_path / 'state.db'}")


def checks(box: Sandbox) -> int:
    return box.hubspot.calls["properties.list"]


def test_setup_is_remembered_and_a_cold_check_then_makes_no_call(
    box: Sandbox, settings: Settings, rules: RuleSet
) -> None:
    with Leadscore.open(settings, rules=rules, pace=box.clock) as app:
        app.setup()
    with Leadscore.open(settings, rules=rules, pace=box.clock) as cold:  # another process
        assert check_remembered(cold, time.time())
        before = checks(box)
        check_ready_remembered(cold)
        assert checks(box) == before


def test_a_kept_check_is_trusted_for_its_time_then_made_again_and_kept(
    box: Sandbox, settings: Settings, rules: RuleSet
) -> None:
    with Leadscore.open(settings, rules=rules, pace=box.clock) as app:
        app.setup()
        remember_check(app, AT)
        before = checks(box)
        check_ready_remembered(app, lambda: AT + CHECK_KEPT - 1)
        assert checks(box) == before
        check_ready_remembered(app, lambda: AT + CHECK_KEPT)  # too old: checked, kept anew
        assert checks(box) == before + 1
        check_ready_remembered(app, lambda: AT + 2 * CHECK_KEPT - 1)
        assert checks(box) == before + 1
        check_ready_remembered(app, lambda: AT - 1)  # a clock behind the entry: checked
        assert checks(box) == before + 2
        forget_check(app)
        assert not check_remembered(app, AT)
        check_ready_remembered(app, lambda: AT)
        assert checks(box) == before + 3


def test_other_fields_are_checked_and_a_failed_check_is_not_kept(
    box: Sandbox, settings: Settings, rules: RuleSet
) -> None:
    with Leadscore.open(settings, rules=rules, pace=box.clock) as app:
        app.setup()
    renamed = settings.model_copy(update={"field_prefix": "renamed_"})
    with Leadscore.open(renamed, rules=rules, pace=box.clock) as other:
        assert not check_remembered(other, time.time())  # the same store, other fields
        before = checks(box)
        with pytest.raises(SetupNeeded):
            check_ready_remembered(other)
        assert checks(box) == before + 1
        assert not check_remembered(other, time.time())
        with pytest.raises(SetupNeeded):  # and asked again, not answered from the store
            check_ready_remembered(other)
        assert checks(box) == before + 2


def test_a_trigger_whose_write_failed_forgets_the_kept_check(
    box: Sandbox, settings: Settings, rules: RuleSet
) -> None:
    with Leadscore.open(settings, rules=rules, pace=box.clock) as app:
        app.setup()
        core = WebhookCore(settings, endpoints=[IdsEndpoint()], open_app=lambda s: app)
        request = WebhookRequest.of("POST", "/ids", body=b'{"ids": ["2"]}')
        box.hubspot.faults = FaultPlan(
            record_failure=1.0, operations=frozenset({"contacts.batch_update"})
        )
        try:
            answer = core.handle(request)
        finally:
            box.hubspot.faults = FaultPlan()
            core.close()
        assert answer.status == 200 and answer.json()[0]["failed"] == 1
        assert not check_remembered(app, time.time())


def test_a_check_of_another_portal_is_not_trusted(
    box: Sandbox, settings: Settings, rules: RuleSet, tmp_path: Path
) -> None:
    with Leadscore.open(settings, rules=rules, pace=box.clock) as app:
        app.setup()  # this portal has the fields, and the store says so
    with Sandbox(people=3, seed=6) as fresh:  # another portal, never set up, the same store
        moved = sandbox_settings(fresh, settings.state_url.get_secret_value())
        with Leadscore.open(moved, rules=rules, pace=fresh.clock) as other:
            assert not check_remembered(other, time.time())
            with pytest.raises(SetupNeeded):
                check_ready_remembered(other)


def test_a_passed_check_the_store_cannot_keep_still_passes(
    box: Sandbox, settings: Settings, rules: RuleSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlalchemy as sa

    import sync.setup_memo

    def locked(*args: object) -> None:
        raise sa.exc.OperationalError("UPDATE meta", {}, Exception("database is locked"))

    with Leadscore.open(settings, rules=rules, pace=box.clock) as app:
        app.setup()
        forget_check(app)
        monkeypatch.setattr(sync.setup_memo, "set_meta", locked)
        check_ready_remembered(app)  # the fields are there: the rescore may go on
        assert not check_remembered(app, time.time())
