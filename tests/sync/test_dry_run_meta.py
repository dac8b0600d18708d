"""A dry run changes nothing of the store's population quantities: RFM's bounds and the
account roll-ups stay as the last real run kept them, and nobody is marked due; yet it
previews the rescores a real run would make of the people of an account that moved."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from sandbox import Sandbox
from scoring import ActivityType, RuleSet, load_rules
from scoring.account_rules import Accounts, Counted
from scoring.rfm_rules import Rfm
from scoring.rules import Rule
from sync import StateStore, SyncOptions
from sync.accounts import ACCOUNT_ROLLUPS
from sync.dues import meta_value
from sync.rfm import RFM_BOUNDS
from sync.schema import persons
from tests.sync.test_sync_hubspot import RULES, make_sync


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    base = load_rules(RULES)
    busy = Rule.model_validate(
        {"id": "busy_account", "value": "account_engaged_people", "per": 1, "points": 3, "cap": 15}
    )
    accounts = Accounts(
        counts={"forms": Counted(activity=[ActivityType.FORM_SUBMISSION], window_days=30)}
    )
    return base.model_copy(
        update={"accounts": accounts, "rfm": Rfm(), "rules": [*base.rules, busy]}
    )


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox(people=80, seed=5) as sandbox:
        yield sandbox


def _kept(store: StateStore) -> tuple[str | None, str | None, list[tuple[int, object, object]]]:
    with store.engine.connect() as connection:
        dues = connection.execute(
            sa.select(persons.c.id, persons.c.due, persons.c.marked).order_by(persons.c.id)
        ).all()
        return (
            meta_value(connection, RFM_BOUNDS),
            meta_value(connection, ACCOUNT_ROLLUPS),
            [tuple(row) for row in dues],
        )


def test_a_dry_run_keeps_no_bounds_or_rollups_and_marks_nobody(
    box: Sandbox, rules: RuleSet, store: StateStore
) -> None:
    at = box.now() + timedelta(hours=1)
    make_sync(box, rules, store, at=at).run(SyncOptions(full=True))
    before = _kept(store)
    assert before[0] is not None and before[1] is not None

    # two months on, windows have closed: roll-ups move, bounds are taken again
    later = at + timedelta(days=60)
    dry = make_sync(box, rules, store, at=later).run(SyncOptions(dry_run=True))

    assert _kept(store) == before
    real = make_sync(box, rules, store, at=later).run()
    assert dry.rescored == real.rescored > 0  # the dry run previewed the same rescores
