"""What HubSpot's feature probes found, kept in the store (`sync.setup_memo`): another
process's application, given it as it opens, makes no probe call while it is fresh, probes
again after, and keeps a change a call or a later probe finds. Real SDK, real store, the
HubSpot emulator (its events API answers 403 unless the portal has web analytics)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.hubspot.history import FORM_SUBMISSIONS, WEB_ANALYTICS
from sandbox import Sandbox
from scoring import RuleSet
from sync import Leadscore
from sync.demo import sandbox_settings
from sync.dues import set_meta
from sync.settings import Settings
from sync.setup_memo import (
    CHECK_KEPT,
    FEATURES_PROBED,
    connection_of,
    keep_feature,
    probed_features,
    recall_features,
)

AT = 1_800_000_000.0
RECORD = "3"


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox(people=10, seed=5) as sandbox:
        yield sandbox


@pytest.fixture
def settings(box: Sandbox, tmp_path: Path) -> Settings:
    return sandbox_settings(box, f"sqlite:///{tmp_path / 'state.db'}")


def probes(box: Sandbox) -> int:
    return box.hubspot.calls["web_events.list"]


def answer(box: Sandbox, settings: Settings, rules: RuleSet, now: float) -> int:
    """A cold process's fetch of one contact, its application given the memo at open:
    the calls of the events API it made."""
    before = probes(box)
    with Leadscore.open(settings, rules=rules, pace=box.clock) as app:
        recall_features(app, lambda: now)
        app.connectors[0].fetch(RECORD)
    return probes(box) - before


def kept(settings: Settings, rules: RuleSet) -> dict[str, object]:
    with Leadscore.open(settings, rules=rules) as app:
        found = probed_features(app).get(connection_of(app, "hubspot"), {})
    return {name: (entry["available"], entry["at"]) for name, entry in found.items()}


def test_a_probe_is_kept_and_a_cold_fetch_within_its_life_makes_none(
    box: Sandbox, settings: Settings, rules: RuleSet
) -> None:
    assert answer(box, settings, rules, AT) == 1  # no memo: probed (403), and kept
    assert kept(settings, rules) == {WEB_ANALYTICS: (False, AT), FORM_SUBMISSIONS: (True, AT)}
    assert answer(box, settings, rules, AT + CHECK_KEPT - 1) == 0
    assert answer(box, settings, rules, AT + CHECK_KEPT) == 1  # too old: probed, kept anew
    assert kept(settings, rules)[WEB_ANALYTICS] == (False, AT + CHECK_KEPT)
    assert answer(box, settings, rules, AT - 1) == 1  # a clock behind the entry: probed


def test_another_account_probes_for_itself(
    box: Sandbox, settings: Settings, rules: RuleSet
) -> None:
    with Leadscore.open(settings, rules=rules) as app:
        keep_feature(app, "another portal", WEB_ANALYTICS, False, AT)
        keep_feature(app, "another portal", FORM_SUBMISSIONS, True, AT)
    assert answer(box, settings, rules, AT) == 1
    assert kept(settings, rules)[WEB_ANALYTICS] == (False, AT)


def test_a_feature_found_changed_updates_the_memo(
    box: Sandbox, settings: Settings, rules: RuleSet
) -> None:
    with Leadscore.open(settings, rules=rules) as app:
        where = connection_of(app, "hubspot")
        keep_feature(app, where, WEB_ANALYTICS, True, AT)  # the portal had Enterprise
        keep_feature(app, where, FORM_SUBMISSIONS, True, AT)
    # remembered available, no probe: the fetch's own call is refused, the views are
    # none (the counter stands in), and the memo says so for the next start
    assert answer(box, settings, rules, AT + 10) == 1
    assert kept(settings, rules)[WEB_ANALYTICS] == (False, AT + 10)
    assert answer(box, settings, rules, AT + 20) == 0
    box.hubspot.web_analytics = True  # and then it has it again: seen after the memo's life
    assert answer(box, settings, rules, AT + 10 + CHECK_KEPT) == 2  # the probe and the read
    assert kept(settings, rules)[WEB_ANALYTICS] == (True, AT + 10 + CHECK_KEPT)
    assert answer(box, settings, rules, AT + 20 + CHECK_KEPT) == 1  # the read alone


def test_an_unreadable_memo_is_probed_past(
    box: Sandbox, settings: Settings, rules: RuleSet
) -> None:
    with Leadscore.open(settings, rules=rules) as app, app.store.engine.begin() as connection:
        set_meta(connection, FEATURES_PROBED, "{not json")
    assert answer(box, settings, rules, AT) == 1
    assert kept(settings, rules)[WEB_ANALYTICS] == (False, AT)
