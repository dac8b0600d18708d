"""A sync that writes through Bulk API 2.0 jobs: the pipeline hands the connector every
write of the run at once, and what a job left unprocessed is written by the next run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.clock import SandboxClock
from sandbox.salesforce import SalesforceSandbox
from sandbox.world.generate import generate_world
from scoring import RuleSet
from sync import StateStore, SyncOptions
from tests.sandbox.salesforce_helpers import quick_jobs, stored_record
from tests.sync.test_sync_salesforce import PEOPLE, SEED, make_sync, people_of, rules

__all__ = ["rules"]  # a fixture; `store` comes from conftest


@pytest.fixture
def box() -> Iterator[SalesforceSandbox]:
    """Vendor seconds of 10 ms: a job's polls wait milliseconds."""
    world = generate_world(PEOPLE, seed=SEED)
    with SalesforceSandbox(world, clock=SandboxClock(scale=100)) as sandbox:
        quick_jobs(sandbox)
        yield sandbox


def test_a_job_failed_midway_leaves_its_rows_to_the_next_run_which_writes_them(
    box: SalesforceSandbox, rules: RuleSet, store: StateStore
) -> None:
    sync = make_sync(box, rules, store, write_above=0)
    box.bulk.fail_after = 20  # each job processes 20 rows, then fails

    first = sync.run(SyncOptions(full=True))
    kept = store.failures("salesforce")
    box.bulk.fail_after = None
    second = sync.run()

    records = people_of(box)
    stats, again = first.systems["salesforce"], second.systems["salesforce"]
    assert first.status == "ok" and stats.written == 40  # a Lead job and a Contact job
    assert stats.failed == len(records) - 40 == len(kept)
    assert all(f.retryable and "not processed" in f.reason for f in kept)
    assert "collections.update" not in stats.calls and stats.calls["bulk2.create"] == 2
    assert stats.calls["bulk2.unprocessedrecords"] == 2
    assert again.written == len(kept) and again.failed == 0
    assert store.failures("salesforce") == []
    assert all((stored_record(box, r) or {}).get("Leadscore_Score__c") is not None for r in records)
