"""Bulk API 2.0 query and ingest jobs of the Salesforce sandbox, run on its clock: through the
real simple-salesforce client (`sf.bulk2`) and over REST, on 127.0.0.1."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from sandbox.clock import SandboxClock
from sandbox.faults import FaultPlan
from sandbox.salesforce import SalesforceSandbox, connect, sandbox_session
from sandbox.salesforce.bulk_query import FAILED
from sandbox.salesforce.ids import make_id
from tests.sandbox.salesforce_helpers import HandClock, record_id
from tests.sandbox.test_salesforce_records import BOB, DEE, history

JOBS = "https://leadscore-sandbox.my.salesforce.com/services/data/v59.0/jobs"


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def fast() -> Iterator[SalesforceSandbox]:
    """A sandbox whose vendor seconds last 10 ms: jobs take seconds, tests don't."""
    with SalesforceSandbox(history(), clock=SandboxClock(scale=100)) as running:
        yield running


@pytest.fixture
def clock() -> HandClock:
    return HandClock()


@pytest.fixture
def sandbox(clock: HandClock) -> Iterator[SalesforceSandbox]:
    with SalesforceSandbox(history(), clock=clock) as running:
        yield running


@pytest.fixture
def rest(sandbox: SalesforceSandbox) -> requests.Session:
    session = sandbox_session(sandbox)
    session.headers["Authorization"] = f"Bearer {connect(sandbox).session_id}"
    return session


def test_the_sdk_runs_a_query_job_and_reads_its_csv_pages(fast: SalesforceSandbox) -> None:
    sf = connect(fast)

    pages = list(sf.bulk2.Lead.query("SELECT Id, Email, IsConverted, CreatedDate FROM Lead "
                                     "ORDER BY Email", max_records=2, wait=0))  # fmt: skip

    assert len(pages) == 2
    assert pages[0].splitlines()[0] == '"Id","Email","IsConverted","CreatedDate"'
    records = [r for page in pages for r in rows(page)]
    assert [(r["Email"], r["IsConverted"]) for r in records] == [
        ("ann@acme.io", "true"), ("bob@globex.com", "false"), ("dee@globex.com", "false")]  # fmt: skip
    assert records[1]["CreatedDate"] == "2026-09-12T12:00:00.000Z"
    assert fast.calls["bulk2.query.info"] >= 1  # the SDK polled the job until it was done


def test_a_query_all_job_returns_deleted_records(fast: SalesforceSandbox) -> None:
    sf = connect(fast)
    dee = str(record_id(fast, DEE))
    fast.delete(dee)

    soql = "SELECT Id, IsDeleted FROM Lead WHERE IsConverted = false"
    live = [r for page in sf.bulk2.Lead.query(soql, wait=0) for r in rows(page)]
    everything = [r for page in sf.bulk2.Lead.query_all(soql, wait=0) for r in rows(page)]

    assert dee not in [r["Id"] for r in live]
    assert {(r["Id"], r["IsDeleted"]) for r in everything} == {
        (str(record_id(fast, BOB)), "false"), (dee, "true")}  # fmt: skip


def test_a_query_job_moves_through_its_states_on_the_clock(
    rest: requests.Session, clock: HandClock
) -> None:
    body = {"operation": "query", "query": "SELECT Id, Subject, Who.Email FROM Task"}
    created = rest.post(f"{JOBS}/query", json=body, timeout=5).json()
    job = f"{JOBS}/query/{created['id']}"
    early = rest.get(f"{job}/results", timeout=5)
    states = [created["state"]]
    for seconds in (1, 2):
        clock.advance(seconds)
        states.append(rest.get(job, timeout=5).json()["state"])
    first = rest.get(f"{job}/results", params={"maxRecords": 1}, timeout=5)
    second = rest.get(f"{job}/results", params={"maxRecords": 1, "locator": first.headers[
        "Sforce-Locator"]}, timeout=5)  # fmt: skip
    info = rest.get(job, timeout=5).json()

    assert states == ["UploadComplete", "InProgress", "JobComplete"]
    assert early.status_code == 409 and early.json()[0]["errorCode"] == "INVALIDJOBSTATE"
    assert (created["operation"], created["object"]) == ("query", "Task")
    assert first.headers["Sforce-NumberOfRecords"] == "1" and first.headers["Sforce-Locator"]
    assert second.headers["Sforce-Locator"] == "null"
    assert first.text.splitlines()[0] == '"Id","Subject","Who.Email"'
    assert rows(first.text)[0]["Who.Email"] == "bob@globex.com"
    assert (info["jobType"], info["numberRecordsProcessed"]) == ("V2Query", 2)


def test_query_jobs_are_refused_aborted_listed_and_deleted(rest: requests.Session) -> None:
    bad = rest.post(f"{JOBS}/query", json={"operation": "query", "query": "SELECT Nope FROM Lead"},
                    timeout=5)  # fmt: skip
    count = rest.post(f"{JOBS}/query", json={"operation": "query",
                                             "query": "SELECT COUNT() FROM Lead"}, timeout=5)  # fmt: skip
    job = rest.post(f"{JOBS}/query", json={"operation": "queryAll", "query": "SELECT Id FROM Lead"},
                    timeout=5).json()["id"]  # fmt: skip
    running = rest.delete(f"{JOBS}/query/{job}", timeout=5)
    aborted = rest.patch(f"{JOBS}/query/{job}", json={"state": "Aborted"}, timeout=5).json()
    listed = rest.get(f"{JOBS}/query", timeout=5).json()
    deleted = rest.delete(f"{JOBS}/query/{job}", timeout=5)

    assert (bad.status_code, bad.json()[0]["errorCode"]) == (400, "INVALID_FIELD")
    assert (count.status_code, count.json()[0]["errorCode"]) == (400, "INVALIDJOB")
    assert running.status_code == 400 and aborted["state"] == "Aborted"
    assert [(r["id"], r["jobType"]) for r in listed["records"]] == [(job, "V2Query")]
    assert deleted.status_code == 204
    assert rest.get(f"{JOBS}/query/{job}", timeout=5).status_code == 404


def test_an_ingest_job_works_through_its_records_and_an_abort_leaves_the_rest_unprocessed(
    sandbox: SalesforceSandbox, rest: requests.Session, clock: HandClock
) -> None:
    sandbox.bulk.record_seconds = 1.0  # a record a second: the job is seen half done
    bob, dee = str(record_id(sandbox, BOB)), str(record_id(sandbox, DEE))
    data = f"Id,Title\n{make_id('00Q', 99)},Ghost\n{bob},Ops\n{dee},Ops\n{bob},Again\n"
    body = {"object": "Lead", "operation": "update", "lineEnding": "LF"}
    job = rest.post(f"{JOBS}/ingest", json=body, timeout=5).json()["id"]
    rest.put(f"{JOBS}/ingest/{job}/batches", data=data, timeout=5)
    closed = rest.patch(f"{JOBS}/ingest/{job}", json={"state": "UploadComplete"}, timeout=5)
    clock.advance(1)
    started = rest.get(f"{JOBS}/ingest/{job}", timeout=5).json()
    clock.advance(2)
    halfway = rest.get(f"{JOBS}/ingest/{job}", timeout=5).json()
    aborted = rest.patch(f"{JOBS}/ingest/{job}", json={"state": "Aborted"}, timeout=5).json()
    failed = rows(rest.get(f"{JOBS}/ingest/{job}/failedResults", timeout=5).text)
    done = rows(rest.get(f"{JOBS}/ingest/{job}/successfulResults", timeout=5).text)
    left = rows(rest.get(f"{JOBS}/ingest/{job}/unprocessedrecords", timeout=5).text)

    assert closed.json()["state"] == "UploadComplete"
    assert (started["state"], started["numberRecordsProcessed"]) == ("InProgress", 0)
    assert (halfway["state"], halfway["numberRecordsProcessed"]) == ("InProgress", 2)
    assert halfway["numberRecordsFailed"] == 1 and aborted["state"] == "Aborted"
    assert [(r["sf__Id"], r["Title"]) for r in failed] == [(make_id("00Q", 99), "Ghost")]
    assert [(r["sf__Id"], r["Title"]) for r in done] == [(bob, "Ops")]
    assert [(r["Id"], r["Title"]) for r in left] == [(dee, "Ops"), (bob, "Again")]


def test_the_sdk_waits_for_an_ingest_job_to_complete(fast: SalesforceSandbox) -> None:
    sf = connect(fast)
    bob = str(record_id(fast, BOB))

    [job] = sf.bulk2.Lead.update(records=[{"Id": bob, "Title": "Bulk"}], wait=0)
    info: Any = sf.bulk2.Lead._client.get_job(job["job_id"], False)

    assert (info["state"], job["numberRecordsProcessed"]) == ("JobComplete", 1)
    assert sf.Lead.get(bob)["Title"] == "Bulk"
    assert fast.calls["bulk2.info"] >= 2


def test_an_ingest_job_that_fails_midway_keeps_the_rest_unprocessed(
    sandbox: SalesforceSandbox, rest: requests.Session, clock: HandClock
) -> None:
    sandbox.bulk.fail_after = 1  # its second record's batch is never processed
    bob, dee = str(record_id(sandbox, BOB)), str(record_id(sandbox, DEE))
    body = {"object": "Lead", "operation": "update", "lineEnding": "LF"}
    job = rest.post(f"{JOBS}/ingest", json=body, timeout=5).json()["id"]
    rest.put(f"{JOBS}/ingest/{job}/batches", data=f"Id,Title\n{bob},Ops\n{dee},Ops\n", timeout=5)
    rest.patch(f"{JOBS}/ingest/{job}", json={"state": "UploadComplete"}, timeout=5)
    clock.advance(10)
    info = rest.get(f"{JOBS}/ingest/{job}", timeout=5).json()
    done = rows(rest.get(f"{JOBS}/ingest/{job}/successfulResults", timeout=5).text)
    left = rows(rest.get(f"{JOBS}/ingest/{job}/unprocessedrecords", timeout=5).text)

    assert (info["state"], info["numberRecordsProcessed"]) == ("Failed", 1)
    assert info["errorMessage"]
    assert [r["sf__Id"] for r in done] == [bob] and [r["Id"] for r in left] == [dee]


def test_an_ingest_job_uploaded_to_twice_cannot_be_closed_only_aborted(
    sandbox: SalesforceSandbox, rest: requests.Session, clock: HandClock
) -> None:
    # Salesforce takes one upload per job: the close of a job uploaded to twice is refused
    # (docs/sandbox.md, "Bulk API 2.0"), and nothing of it is written.
    bob = str(record_id(sandbox, BOB))
    body = {"object": "Lead", "operation": "update", "lineEnding": "LF"}
    job = rest.post(f"{JOBS}/ingest", json=body, timeout=5).json()["id"]
    uploads = [
        rest.put(f"{JOBS}/ingest/{job}/batches", data=f"Id,Title\n{bob},Twice\n", timeout=5)
        for _ in range(2)
    ]
    closed = rest.patch(f"{JOBS}/ingest/{job}", json={"state": "UploadComplete"}, timeout=5)
    still = rest.get(f"{JOBS}/ingest/{job}", timeout=5).json()
    aborted = rest.patch(f"{JOBS}/ingest/{job}", json={"state": "Aborted"}, timeout=5)
    clock.advance(10)

    assert [u.status_code for u in uploads] == [201, 201]
    assert closed.status_code == 400 and closed.json()[0]["errorCode"] == "INVALIDJOB"
    assert closed.json()[0]["message"].startswith(f"Found multipe contents for job: <{job[:15]}>")
    assert "only do 'PUT' once on a given Job" in closed.json()[0]["message"]
    assert still["state"] == "Open" and aborted.json()["state"] == "Aborted"
    assert connect(sandbox).Lead.get(bob)["Title"] != "Twice"


def test_the_fault_plan_in_force_fails_query_jobs_and_locks_ingested_rows(
    sandbox: SalesforceSandbox, rest: requests.Session, clock: HandClock
) -> None:
    # a plan set on a running sandbox reaches its jobs, as it reaches every request
    sandbox.faults = FaultPlan(job_failure=1.0, record_failure=1.0)
    query = {"operation": "query", "query": "SELECT Id FROM Task"}
    queried = rest.post(f"{JOBS}/query", json=query, timeout=5).json()["id"]
    bob = str(record_id(sandbox, BOB))
    body = {"object": "Lead", "operation": "update", "lineEnding": "LF"}
    job = rest.post(f"{JOBS}/ingest", json=body, timeout=5).json()["id"]
    rest.put(f"{JOBS}/ingest/{job}/batches", data=f"Id,Title\n{bob},Ops\n", timeout=5)
    rest.patch(f"{JOBS}/ingest/{job}", json={"state": "UploadComplete"}, timeout=5)
    clock.advance(10)
    query_info = rest.get(f"{JOBS}/query/{queried}", timeout=5).json()
    failed = rows(rest.get(f"{JOBS}/ingest/{job}/failedResults", timeout=5).text)
    sandbox.faults = FaultPlan()

    assert (query_info["state"], query_info["errorMessage"]) == ("Failed", FAILED)
    assert [(r["sf__Id"], r["sf__Error"].split(":")[0]) for r in failed] == [
        (bob, "UNABLE_TO_LOCK_ROW")
    ]
