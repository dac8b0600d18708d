"""Each planned person saved as their writes land (`sync.landing`): a run killed between
batches leaves the store consistent, its saved persons' writes all recorded first."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from types import SimpleNamespace
from typing import Any, cast

import numpy as np
import pytest
import sqlalchemy as sa

from connectors.protocol import Write, WriteOutcome
from sandbox import Sandbox
from scoring import load_rules
from sync import StateStore, SyncOptions
from sync.landing import Landing
from sync.schema import history, identities, persons, written
from tests.sync.test_sync_hubspot import RULES, make_sync

PEOPLE, SEED = 300, 5


class Killed(BaseException):
    """The process killed mid-run (a BaseException: nothing catches it on the way)."""


def store_state(
    store: StateStore,
) -> tuple[dict[int, float | None], dict[int, set[str]], set[str], set[int]]:
    """Each person's due, their records, the records `written` holds, the persons with
    history."""
    with store.engine.connect() as connection:
        due = {int(p): d for p, d in connection.execute(sa.select(persons.c.id, persons.c.due))}
        records: dict[int, set[str]] = {}
        for person, record in connection.execute(
            sa.select(identities.c.person_id, identities.c.record_id)
        ):
            records.setdefault(int(person), set()).add(str(record))
        held = {str(r) for (r,) in connection.execute(sa.select(written.c.record_id))}
        kept = {int(p) for (p,) in connection.execute(sa.select(history.c.person_id).distinct())}
    return due, records, held, kept


def test_a_run_killed_between_batches_leaves_every_saved_person_written(
    store: StateStore,
) -> None:
    rules = load_rules(RULES)
    with Sandbox(people=PEOPLE, seed=SEED) as box:
        at = box.now() + timedelta(hours=1)
        job = make_sync(box, rules, store, at=at)
        hubspot = job.connectors[0]
        real = hubspot.write
        calls: list[int] = []

        def dies_on_the_third(writes: Sequence[Write]) -> WriteOutcome:
            calls.append(len(writes))
            if len(calls) == 3:
                raise Killed
            return real(writes)

        hubspot.write = dies_on_the_third  # type: ignore[method-assign]
        with pytest.raises(Killed):
            job.run(SyncOptions(full=True, workers=1))

        due, records, held, kept = store_state(store)
        complete = {p for p, rs in records.items() if rs <= held}
        cut = {p for p, rs in records.items() if not rs <= held}
        assert len(held) == sum(calls[:2]) > 0 and cut  # two batches landed, then the kill
        # saved once every write of theirs was recorded: a due moment and their history
        assert all(due[p] not in (None, 0.0) for p in complete)
        assert kept and kept <= complete
        # the others stay due now, for the next run to score and write
        assert all(due[p] == 0.0 for p in cut)

        hubspot.write = real  # type: ignore[method-assign]
        again = make_sync(box, rules, store, at=at + timedelta(minutes=1)).run()
        due, records, held, kept = store_state(store)
        assert again.status == "ok"
        assert all(rs <= held for rs in records.values())  # the rest written now
        assert all(d not in (None, 0.0) for d in due.values())


NO_CONNECTION = cast(Any, None)
"""The recorder's transaction, which these landings' `_save` does not use."""


def counted_landing(people: list[int]) -> tuple[Landing, list[list[int]]]:
    """A landing of `people` (person 1 planned in HubSpot and Salesforce, person 2 in
    HubSpot) whose saves are listed rather than stored."""
    scored = SimpleNamespace(person_ids=people, batch=SimpleNamespace(contact_ids=np.array(people)))
    planned = {1: [("hubspot", "h1"), ("salesforce", "s1")], 2: [("hubspot", "h2")]}
    saves: list[list[int]] = []

    class Counted(Landing):
        def _save(self, persons: Any, connection: Any) -> None:
            saves.append(sorted(persons))
            self.saved.update(persons)

    return Counted(cast(Any, None), cast(Any, scored), planned), saves


def test_a_person_is_saved_once_every_planned_record_of_theirs_is_recorded() -> None:
    landing, saves = counted_landing([1, 2, 3])
    landing.recorded("hubspot", ["h1", "h2", "h9"], NO_CONNECTION)  # h9: planned for no one
    assert saves == [[2]]
    landing.recorded("hubspot", ["h1"], NO_CONNECTION)  # recorded again: counted once
    assert saves == [[2]]
    landing.recorded("salesforce", ["s1"], NO_CONNECTION)
    assert saves == [[2], [1]] and landing.saved == {1, 2}


def test_a_count_whose_transaction_did_not_commit_is_undone() -> None:
    """Told inside a transaction that then fails, the landing takes back what it counted:
    a person with a record in each system is not saved on the other system's write while
    the first one's is unrecorded, and is saved once both are."""
    landing, saves = counted_landing([1, 2])
    undo = landing.recorded("hubspot", ["h1", "h2"], NO_CONNECTION)
    assert saves == [[2]] and landing.saved == {2}
    undo()  # hubspot's transaction rolled back: h1 and h2 are not in `written`
    assert landing.saved == set()
    landing.recorded("salesforce", ["s1"], NO_CONNECTION)
    assert saves == [[2]]  # person 1 still waits for h1
    landing.recorded("hubspot", ["h1", "h2"], NO_CONNECTION)  # recorded again, committed this time
    assert saves == [[2], [1, 2]] and landing.saved == {1, 2}


def test_a_save_that_fails_inside_the_transaction_leaves_the_counts_as_they_were() -> None:
    scored = SimpleNamespace(person_ids=[1], batch=SimpleNamespace(contact_ids=np.array([1])))

    class Failing(Landing):
        fail = True

        def _save(self, persons: Any, connection: Any) -> None:
            if self.fail:
                raise RuntimeError("disk full")
            self.saved.update(persons)

    landing = Failing(cast(Any, None), cast(Any, scored), {1: [("hubspot", "h1")]})
    with pytest.raises(RuntimeError):
        landing.recorded("hubspot", ["h1"], NO_CONNECTION)
    landing.fail = False
    landing.recorded(
        "hubspot", ["h1"], NO_CONNECTION
    )  # the record still counts when recorded again
    assert landing.saved == {1}
