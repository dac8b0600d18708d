"""Outcomes of written batches kept in the store by the recorder beside the writers."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.protocol import Gone, WriteFailure, WriteOutcome
from sync.recorder import OutcomeRecorder
from sync.store import StateStore

AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def test_every_outcome_handed_in_is_in_the_store_when_the_phase_ends(tmp_path: Path) -> None:
    store = StateStore(f"sqlite:///{tmp_path / 's.db'}")
    store.record_failures("salesforce", [("r0-1", "UNABLE_TO_LOCK_ROW: busy", True)], AT)

    def batch(n: int) -> tuple[dict[str, dict[str, str]], WriteOutcome]:
        sent = {f"r{n}-{i}": {"Score": str(n * 10 + i)} for i in range(3)}
        failed = [WriteFailure(f"r{n}-2", "STRING_TOO_LONG: too long", retryable=False)]
        return sent, WriteOutcome([f"r{n}-0", f"r{n}-1"], failed, gone=[Gone(f"x{n}")])

    with OutcomeRecorder(store, "salesforce", AT) as recorder, ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda n: recorder.hand_in(*batch(n)), range(40)))

    written = store.written_values("salesforce")
    assert len(written) == 80 and written["r7-1"] == {"Score": "71"}
    failures = {f.record_id: f for f in store.failures("salesforce")}
    assert len(failures) == 40 and "r0-1" not in failures  # it landed this time
    assert store.refused("salesforce")["r3-2"] == {"Score": "32"}  # what was sent
    store.close()


def test_a_store_that_fails_stops_the_writers_and_the_phase(tmp_path: Path) -> None:
    store = StateStore(f"sqlite:///{tmp_path / 's.db'}")

    def broken(*_: object) -> None:
        raise OSError("disk full")

    store.record_written = broken  # type: ignore[method-assign]
    recorder = OutcomeRecorder(store, "salesforce", AT)
    with pytest.raises(OSError, match="disk full"), recorder:
        recorder.hand_in({"r1": {"Score": "1"}}, WriteOutcome(["r1"]))
    with pytest.raises(OSError, match="disk full"):  # a writer's next hand-over
        recorder.hand_in({"r2": {"Score": "2"}}, WriteOutcome(["r2"]))
    store.close()


def test_the_landing_is_told_of_each_group_inside_the_transaction_that_records_it(
    tmp_path: Path,
) -> None:
    store = StateStore(f"sqlite:///{tmp_path / 's.db'}")
    groups: list[list[str]] = []
    told: list[list[str]] = []
    real = store.record_written

    def counted(system: str, values: Any, *rest: Any) -> None:
        groups.append(sorted(values))
        real(system, values, *rest)
        assert told[-1] == groups[-1]  # told before record_written returned

    store.record_written = counted  # type: ignore[method-assign]
    recorder = OutcomeRecorder(
        store, "salesforce", AT, recorded=lambda _, r, __: told.append(sorted(r))
    )
    with recorder:
        for n in range(6):
            recorder.hand_in({f"r{n}": {"Score": str(n)}}, WriteOutcome([f"r{n}"]))
    assert told == groups and sorted(r for g in groups for r in g) == [f"r{n}" for n in range(6)]
    assert store.written_values("salesforce") == {f"r{n}": {"Score": str(n)} for n in range(6)}
    store.close()


def test_a_transaction_that_does_not_commit_calls_back_what_the_landing_returned(
    tmp_path: Path,
) -> None:
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    undone: list[str] = []

    def then(connection: Any) -> Callable[[], None]:
        connection.execute(sa.text("SELECT 1"))
        raise_after.append(True)
        return lambda: undone.append("undone")

    raise_after: list[bool] = []
    real_begin = store.engine.begin

    @contextlib.contextmanager
    def begin_that_fails_at_commit() -> Iterator[Any]:
        with real_begin() as connection:
            yield connection
            raise sa.exc.OperationalError("COMMIT", {}, Exception("database is locked"))

    store.engine.begin = begin_that_fails_at_commit  # type: ignore[method-assign]
    values = {"r1": {"score": "10"}}
    with pytest.raises(sa.exc.OperationalError):
        store.record_written("hubspot", values, datetime(2026, 11, 1, tzinfo=UTC), then=then)
    assert raise_after == [True] and undone == ["undone"]
    store.engine.begin = real_begin  # type: ignore[method-assign]
    store.record_written("hubspot", values, datetime(2026, 11, 1, tzinfo=UTC), then=then)
    assert undone == ["undone"]  # committed: nothing undone
    store.close()
