"""Writes through Bulk API 2.0 jobs against the Salesforce sandbox, through the real
simple-salesforce session: what lands, what fails and is kept, and what each job costs."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from connectors.errors import BudgetExhausted
from connectors.protocol import Write, WriteOutcome
from connectors.salesforce.bulk_write import bulk_error, csv_cell
from connectors.salesforce.connector import INGEST_PACE, SalesforceConnector
from connectors.salesforce.jobs import Pace, wait_for_job
from sandbox.faults import Fault, FaultPlan
from sandbox.salesforce import SalesforceSandbox
from tests.connectors.test_salesforce_connector import (
    FIELDS,
    connector_of,
    password_settings,
    set_up,
)
from tests.sandbox.salesforce_helpers import quick_jobs, record_id, stored_record
from tests.sandbox.test_salesforce import ANN, BEN, BOB, DEE, EVE, FINN, small_world

OURS = [spec.name for spec in FIELDS]
REASONS = 'Score 40:\n+30 "Guide", downloaded · +10 café, naïve résumé\n-0 ok'
BULK_CALLS = ("bulk2.create", "bulk2.upload", "bulk2.close", "bulk2.poll")


@pytest.fixture
def box() -> Iterator[SalesforceSandbox]:
    with SalesforceSandbox(small_world()) as running:
        quick_jobs(running)
        yield running


def bulk_connector(box: SalesforceSandbox, above: int = 0) -> SalesforceConnector:
    sf = connector_of(box, password_settings(box, bulk_write_above=above))
    set_up(box, sf)
    return sf


def ids(box: SalesforceSandbox, *people: int) -> list[str]:
    found = [record_id(box, person) for person in people]
    assert all(found)
    return [str(i) for i in found]


def ours(box: SalesforceSandbox, record: str) -> dict[str, Any]:
    stored = stored_record(box, record) or {}
    return {name: stored.get(name) for name in [*OURS, "Status"]}


def writes_for(records: list[str], score: str, reasons: str = REASONS) -> list[Write]:
    values = {"Leadscore_Score__c": score, "Leadscore_Stage__c": "MQL",
              "Leadscore_Reasons__c": reasons, "Leadscore_Disqualified__c": "true",
              "Leadscore_Scored_At__c": "2026-11-01T12:00:00Z", "Status": "Working - Contacted"}  # fmt: skip
    return [Write(record, values) for record in records]


def test_a_cell_clears_with_na_and_writes_numbers_and_booleans_as_salesforce_reads_them() -> None:
    assert csv_cell("", "double") == "#N/A" and csv_cell("", "string") == "#N/A"
    assert csv_cell("42.0", "double") == "42" and csv_cell("2.5", "double") == "2.5"
    assert csv_cell("True", "boolean") == "true" and csv_cell("no", "boolean") == "false"
    assert csv_cell('a, "b"\nc', "textarea") == 'a, "b"\nc'  # the CSV writer quotes it
    assert bulk_error("UNABLE_TO_LOCK_ROW:unable to obtain exclusive access:--") == (
        "UNABLE_TO_LOCK_ROW",
        "unable to obtain exclusive access",
    )
    assert bulk_error("STRING_TOO_LONG:Reasons: data value too large:Leadscore_Reasons__c --") == (
        "STRING_TOO_LONG",
        "Leadscore_Reasons__c: Reasons: data value too large",
    )


def test_a_run_above_the_threshold_writes_what_collections_would_in_one_job_per_object() -> None:
    people = (ANN, BEN, BOB, DEE, EVE, FINN)
    held: list[dict[str, Any]] = []
    for above in (10_000, 0):  # collections, then bulk: the same writes into the same org
        with SalesforceSandbox(small_world()) as box:
            quick_jobs(box)
            sf = bulk_connector(box, above)
            records = ids(box, *people)
            first = sf.write(writes_for(records, "40"))
            # then the reasons and the stage cleared, the score changed, on half of them
            cleared = {"Leadscore_Score__c": "7.0", "Leadscore_Reasons__c": "",
                       "Leadscore_Stage__c": ""}  # fmt: skip
            second = sf.write([Write(r, cleared) for r in records[::2]])
            held.append({r: ours(box, r) for r in records})
            calls = dict(sf.calls())
        assert sorted(first.written) == sorted(records) and not first.failed
        assert sorted(second.written) == sorted(records[::2]) and not second.failed
        if above:
            assert calls["collections.update"] == 2 and "bulk2.create" not in calls
        else:
            assert "collections.update" not in calls
            assert all(calls[op] == 4 for op in BULK_CALLS[:3])  # Lead and Contact, twice
            assert calls["bulk2.poll"] == 4 and "bulk2.failedResults" not in calls

    by_collections, by_bulk = held
    assert by_bulk == by_collections
    ann, ben, _, dee = records[:4]
    lead, contact = by_bulk[dee], by_bulk[ben]
    assert lead["Leadscore_Reasons__c"] == REASONS and lead["Status"] == "Working - Contacted"
    assert contact["Leadscore_Score__c"] == 40 and contact["Leadscore_Disqualified__c"] is True
    assert contact["Status"] is None  # a Contact has no Status: left out of its job
    cleared = by_bulk[ann]
    assert cleared["Leadscore_Score__c"] == 7 and cleared["Leadscore_Reasons__c"] is None
    assert cleared["Leadscore_Stage__c"] is None


def test_a_job_that_fails_entirely_keeps_every_record_for_the_next_run(
    box: SalesforceSandbox,
) -> None:
    sf = bulk_connector(box)
    records = ids(box, BOB, DEE)
    broken = [Write(r, {"Leadscore_Score__c": "5", "Nope__c": "1"}) for r in records]

    outcome = sf.write(broken)

    assert outcome.written == [] and outcome.gone == []
    assert sorted(f.record_id for f in outcome.failed) == sorted(records)
    assert all(f.retryable and "Failed" in f.reason for f in outcome.failed)
    assert "Field name not found : Nope__c" in outcome.failed[0].reason
    assert sf.calls()["bulk2.unprocessedrecords"] == 1
    assert all(stored_record(box, r)["Leadscore_Score__c"] is None for r in records)  # type: ignore[index]


def test_a_job_failed_midway_keeps_its_failed_and_unprocessed_rows_apart_from_what_landed(
    box: SalesforceSandbox,
) -> None:
    sf = bulk_connector(box)
    bob, dee, eve, finn = ids(box, BOB, DEE, EVE, FINN)
    box.bulk.fail_after = 2  # its first two rows processed, then the job fails
    writes = [
        Write(bob, {"Leadscore_Score__c": "1"}),
        Write(dee, {"Leadscore_Reasons__c": "x" * 40_000}),  # refused: too long
        Write(eve, {"Leadscore_Score__c": "3"}),
        Write(finn, {"Leadscore_Score__c": "4"}),
    ]

    outcome = sf.write(writes)

    failed = {f.record_id: f for f in outcome.failed}
    assert outcome.written == [bob]
    assert failed[dee].reason.startswith("STRING_TOO_LONG") and not failed[dee].retryable
    assert {eve, finn} <= set(failed) and failed[eve].retryable and failed[finn].retryable
    assert "not processed" in failed[eve].reason
    assert (stored_record(box, bob) or {})["Leadscore_Score__c"] == 1
    assert (stored_record(box, eve) or {})["Leadscore_Score__c"] is None


def test_locked_rows_are_failures_kept_for_the_next_run_and_land_then(
    box: SalesforceSandbox,
) -> None:
    sf = bulk_connector(box)
    records = ids(box, BOB, ANN)
    box.faults.record_failure = 1.0  # every row locked by another transaction

    locked = sf.write(writes_for(records, "9"))
    box.faults.record_failure = 0.0
    again = sf.write(writes_for([f.record_id for f in locked.failed], "9"))

    assert locked.written == [] and len(locked.failed) == 2
    assert all(f.reason.startswith("UNABLE_TO_LOCK_ROW") and f.retryable for f in locked.failed)
    assert sorted(again.written) == sorted(records)
    assert (stored_record(box, records[0]) or {})["Leadscore_Score__c"] == 9


def test_converted_and_deleted_records_are_gone_not_failures(box: SalesforceSandbox) -> None:
    sf = bulk_connector(box)
    bob, dee, eve = ids(box, BOB, DEE, EVE)
    with box.org_lock:
        table, row = box.org.locate(bob) or (None, 0)
        assert table is not None
        table.write(row, {"IsConverted": True})  # converted in Salesforce since the pull
    sf.converted[eve] = "003000000000001AAA"  # converted, as the pull found

    outcome = sf.write([Write(r, {"Leadscore_Score__c": "2"}) for r in (bob, dee, eve)])

    assert outcome.written == [dee] and outcome.failed == []
    assert {g.record_id: g.merged_into for g in outcome.gone} == {
        bob: None,
        eve: "003000000000001AAA",
    }


def test_the_budget_stops_the_run_before_a_job_it_cannot_carry_through(
    box: SalesforceSandbox,
) -> None:
    sf = bulk_connector(box)
    records = ids(box, ANN, BOB)  # a Contact and a Lead: two jobs, at least 12 requests
    box.budget.used = box.budget.limit - box.budget.limit // 5 - 10  # 10 before other apps'
    sf.start_run()

    with pytest.raises(BudgetExhausted) as stopped:
        sf.write(writes_for(records, "3"))

    assert "at least 12 requests" in str(stopped.value)
    assert "bulk2.create" not in box.calls


class FailOn(FaultPlan):
    """`fault` on the first `times` calls of `operation`; nothing else fails."""

    def __init__(self, operation: str, fault: Fault, times: int = 1) -> None:
        super().__init__()
        self.operation, self.fault, self.left = operation, fault, times

    def draw(self, operation: str) -> Fault | None:
        if operation == self.operation and self.left > 0:
            self.left -= 1
            return self.fault
        return None


def write_under(box: SalesforceSandbox, sf: SalesforceConnector, plan: FaultPlan,
                writes: list[Write]) -> WriteOutcome:  # fmt: skip
    box.faults = plan
    try:
        return sf.write(writes)
    finally:
        box.faults = FaultPlan()


@pytest.mark.parametrize(
    ("request_name", "made", "uploads", "closes", "aborts"),
    [
        ("bulk2.create", 2, 1, 1, 0),  # sent again: the first job is left Open and empty
        ("bulk2.upload", 2, 2, 1, 1),  # never sent again to its job: a new job
        ("bulk2.state", 2, 2, 3, 1),  # a close sent again is refused (closed): a new job
    ],
)
def test_a_job_whose_start_lost_an_answer_is_aborted_and_made_again_never_uploaded_twice(
    box: SalesforceSandbox, request_name: str, made: int, uploads: int, closes: int, aborts: int
) -> None:
    sf = bulk_connector(box)
    records = ids(box, BOB, DEE)
    writes = [Write(r, {"Leadscore_Score__c": "9"}) for r in records]

    outcome = write_under(box, sf, FailOn(request_name, Fault(lost=True)), writes)

    calls = sf.calls()
    assert sorted(outcome.written) == sorted(records) and not outcome.failed
    assert all(ours(box, r)["Leadscore_Score__c"] == 9 for r in records)
    assert (calls["bulk2.create"], calls["bulk2.upload"]) == (made, uploads)
    assert (calls["bulk2.close"], calls.get("bulk2.abort", 0)) == (closes, aborts)
    assert all(job.uploads <= 1 for job in box.bulk.jobs.values())
    # a job closed after all may end before its abort arrives (the abort is then refused)
    assert [job.state for job in box.bulk.jobs.values()][-1] == "JobComplete"


def test_an_upload_refused_for_rate_is_sent_again_to_its_job(box: SalesforceSandbox) -> None:
    sf = bulk_connector(box)
    records = ids(box, BOB)
    plan = FailOn("bulk2.upload", Fault(status=429, retry_after=1))

    outcome = write_under(box, sf, plan, [Write(records[0], {"Leadscore_Score__c": "9"})])

    assert outcome.written == records
    assert (sf.calls()["bulk2.create"], sf.calls()["bulk2.upload"]) == (1, 2)


def test_records_of_a_job_that_cannot_be_started_twice_are_kept_for_the_next_run(
    box: SalesforceSandbox,
) -> None:
    sf = bulk_connector(box)
    records = ids(box, BOB, DEE)
    writes = [Write(r, {"Leadscore_Score__c": "9"}) for r in records]

    outcome = write_under(box, sf, FailOn("bulk2.upload", Fault(status=503), times=2), writes)

    assert outcome.written == [] and outcome.gone == []
    assert sorted(f.record_id for f in outcome.failed) == sorted(records)
    assert all(f.retryable and "no Bulk API job could be started" in f.reason
               for f in outcome.failed)  # fmt: skip
    assert sf.calls()["bulk2.upload"] == 2 and sf.calls()["bulk2.abort"] == 2
    assert {job.state for job in box.bulk.jobs.values()} == {"Aborted"}
    assert sf.write(writes).written and ours(box, records[0])["Leadscore_Score__c"] == 9


def test_a_close_that_failed_unprocessed_is_sent_again(box: SalesforceSandbox) -> None:
    sf = bulk_connector(box)
    records = ids(box, BOB)
    writes = [Write(r, {"Leadscore_Score__c": "9"}) for r in records]

    outcome = write_under(box, sf, FailOn("bulk2.state", Fault(status=500), times=1), writes)

    assert outcome.written == records and sf.calls()["bulk2.close"] == 2
    assert sf.calls()["bulk2.create"] == 1


class JobOnAClock:
    """An ingest job on a clock of its own: queued a second after its close, then 100
    records a second."""

    def __init__(self, records: int) -> None:
        self.records, self.at, self.reads = records, 0.0, 0

    def now(self) -> float:
        return self.at

    def sleep(self, seconds: float) -> None:
        self.at += seconds

    def read(self) -> dict[str, Any]:
        self.reads += 1
        done = min(self.records, max(0, int((self.at - 1.0) * 100)))
        state = "JobComplete" if done == self.records else "InProgress"
        return {"state": state, "numberRecordsProcessed": done}


def test_a_job_is_read_once_when_the_orgs_pace_is_known_and_never_before_it_can_have_ended() -> (
    None
):
    pace = Pace()
    ends = []
    for _ in range(2):  # the connector's first job, then its next one
        job = JobOnAClock(1000)
        api: Any = SimpleNamespace(policy=SimpleNamespace(clock=job))
        info = wait_for_job(api, job.read, job.records, pace)
        ends.append((info["state"], job.reads, job.at))
    (first, first_reads, first_at), (second, second_reads, second_at) = ends
    assert first == second == "JobComplete"
    assert first_reads == 2 and second_reads == 1  # the first read learns the pace
    assert 11.0 <= first_at < 25.0 and 11.0 <= second_at < 25.0  # the job takes 11 s


def test_a_kept_pace_too_fast_for_the_org_today_is_lowered_by_the_job_found_running() -> None:
    pace = Pace()
    pace.recall(1000.0)  # kept from a faster day: the job takes 11 s, not 1
    reads = []
    for _ in range(2):
        job = JobOnAClock(1000)
        api: Any = SimpleNamespace(policy=SimpleNamespace(clock=job))
        assert wait_for_job(api, job.read, job.records, pace)["state"] == "JobComplete"
        reads.append(job.reads)
    assert reads == [2, 1]  # one early read, then the lowered pace serves the next job
    assert pace.per_second is not None and 50.0 < pace.per_second < 100.0  # 100/s, at most


def test_a_job_found_ended_raises_the_pace_only_to_what_it_shows_at_least() -> None:
    pace = Pace()
    pace.recall(20.0)
    pace.at_least(1000, 25.0)  # 1,000 records done within 25 s: 40/s at least
    assert pace.per_second == 40.0
    pace.at_least(1000, 100.0)  # a later read of a job that ended long before says less
    assert pace.per_second == 40.0


@pytest.mark.parametrize("kept", [None, "fast", -3.0, 0, float("nan"), float("inf"), True])
def test_a_kept_pace_that_is_no_positive_number_is_passed_over(kept: Any) -> None:
    pace = Pace()
    pace.recall(kept)
    assert pace.per_second is None


def test_the_connector_learns_the_pace_once_a_job_ran_and_takes_a_kept_one_back(
    box: SalesforceSandbox,
) -> None:
    sf = bulk_connector(box)
    assert sf.learned() == {}
    records = ids(box, ANN, BEN, DEE)
    assert not sf.write(writes_for(records, "40")).failed
    learned = sf.learned()
    assert set(learned) == {INGEST_PACE} and learned[INGEST_PACE] > 0
    other = bulk_connector(box)
    other.recall(learned)
    assert other.pace.per_second == learned[INGEST_PACE]
    other.recall({INGEST_PACE: 1.0})  # a pace known is not overridden
    assert other.pace.per_second == learned[INGEST_PACE]
