"""Bulk API 2.0 ingest jobs in the Salesforce sandbox (operation `update` only).

Follows the Bulk API 2.0 Developer Guide: creating, uploading, closing,
aborting, deleting and listing ingest jobs, job info and the CSV result sets,
with its CSV rules. A closed job is processed on the sandbox's clock: it waits
`queue_seconds` in UploadComplete, then is InProgress for `least_seconds` plus
`record_seconds` per record, writing its records as it goes, then JobComplete;
aborted in progress, the records it had not reached are unprocessed; a job made
to fail midway (`fail_after`) is Failed with the rest unprocessed. A job takes one
upload: one uploaded to twice cannot be closed (400 INVALIDJOB "Found multipe
contents for job"), only aborted or deleted.
Simplifies: `update` only. Details: docs/sandbox.md (Salesforce).
"""

from __future__ import annotations

import csv
import io
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from sandbox.salesforce.errors import RecordError, SalesforceError
from sandbox.salesforce.ids import JOB_PREFIX, make_id
from sandbox.salesforce.org import Org
from sandbox.salesforce.values import format_datetime

DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^"}
DELIMITERS["BACKQUOTE"] = "`"
RESULT_KINDS = {"successfulresults", "failedresults", "unprocessedrecords"}
MULTIPLE_CONTENTS = (
    "Found multipe contents for job: <{}>, please 'Close' / 'Abort' / 'Delete' the current "
    "Job then create a new Job and make sure you only do 'PUT' once on a given Job."
)
"""Salesforce's words (its spelling) when a job that had two uploads is closed."""


J = TypeVar("J")


@dataclass
class Job:
    id: str
    object: str
    external_id: str | None
    line_ending: str
    delimiter: str
    version: str
    created: datetime
    modified: datetime
    state: str = "Open"
    data: str = ""
    uploads: int = 0
    header: list[str] = field(default_factory=list)
    succeeded: list[list[str]] = field(default_factory=list)
    failed: list[list[str]] = field(default_factory=list)
    unprocessed: list[list[str]] = field(default_factory=list)
    error: str | None = None
    rows: list[list[str]] = field(default_factory=list)
    """The uploaded records, once the job is closed; `done` of them are processed."""
    done: int = 0
    closed: datetime | None = None
    started: datetime | None = None


class JobBoard(ABC, Generic[J]):
    """The jobs of one kind in one sandbox, by id, and how long they take on its clock:
    `queue_seconds` before a job starts, then at least `least_seconds`, and
    `record_seconds` per record. Ingest and query jobs share one count of job numbers."""

    job_type = ""
    """`jobType` in the list of jobs: V2Ingest or V2Query."""

    def __init__(self, user_id: str, numbers: Iterator[int], record_seconds: float) -> None:
        self.user_id = user_id
        self.numbers = numbers
        self.jobs: dict[str, J] = {}
        self.queue_seconds = 1.0
        self.least_seconds = 1.0
        self.record_seconds = record_seconds

    def job(self, job_id: str) -> J:
        found = self.jobs.get(job_id)
        if found is None:
            raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")
        return found

    @abstractmethod
    def describe(self, job: J) -> dict[str, Any]:
        """One job as Get Job Info (ingest) or Get Information About a Query Job answer it."""

    def all(self) -> dict[str, Any]:
        """Get All Jobs: every job, described, with its type."""
        records = [self.describe(job) | {"jobType": self.job_type} for job in self.jobs.values()]
        return {"done": True, "records": records, "nextRecordsUrl": None}

    @staticmethod
    def body_of(body: Any) -> dict[str, Any]:
        """A Create Job request's body, which must be a JSON object."""
        if not isinstance(body, dict):
            raise SalesforceError(400, "JSON_PARSER_ERROR", "The request body is not a JSON object")
        return body


class BulkIngest(JobBoard[Job]):
    """The ingest jobs of one sandbox."""

    job_type = "V2Ingest"

    def __init__(
        self, org: Org, record_fails: Callable[[], bool], user_id: str, numbers: Iterator[int]
    ) -> None:
        super().__init__(user_id, numbers, record_seconds=0.001)
        self.org = org
        self.record_fails = record_fails
        self.fail_after: int | None = None
        """Records a job processes before it fails, the rest unprocessed (None: none fails
        midway), as Salesforce fails a job whose internal batch still cannot be processed
        after its retries."""

    def create(self, body: Any, version: str) -> dict[str, Any]:
        body = self.body_of(body)
        sobject = self.org.sobject(str(body.get("object") or ""))
        if sobject is None:
            message = f"Entity '{body.get('object')}' is not supported by the Bulk API."
            raise SalesforceError(400, "INVALIDENTITY", message)
        if body.get("operation") != "update":
            message = f"the sandbox supports operation 'update' only, not '{body.get('operation')}'"
            raise SalesforceError(400, "INVALIDJOB", message)
        line_ending = str(body.get("lineEnding") or "LF")
        delimiter = str(body.get("columnDelimiter") or "COMMA")
        if line_ending not in ("LF", "CRLF") or delimiter not in DELIMITERS:
            raise SalesforceError(400, "INVALIDJOB", "Invalid lineEnding or columnDelimiter")
        if str(body.get("contentType") or "CSV") != "CSV":
            raise SalesforceError(400, "INVALIDJOB", "contentType must be CSV")
        now = self.org.stamp()
        job_id = make_id(JOB_PREFIX, next(self.numbers))
        external = body.get("externalIdFieldName")
        job = Job(job_id, sobject.name, external, line_ending, delimiter, version, now, now)
        self.jobs[job_id] = job
        return self.describe(job)

    def upload(self, job_id: str, data: bytes) -> None:
        job = self.job(job_id)
        if job.state != "Open":
            raise SalesforceError(409, "INVALIDJOBSTATE", f"Job {job_id} is not Open: {job.state}")
        text = data.decode("utf-8-sig")
        if not text.strip():
            raise SalesforceError(400, "INVALIDJOB", "The uploaded data is empty")
        # A job takes one upload; a second is taken in and the job's close then refused
        # (`MULTIPLE_CONTENTS`), as integrators report of Salesforce.
        job.uploads += 1
        job.data = job.data or text

    def change_state(self, job_id: str, body: Any) -> dict[str, Any]:
        job = self.job(job_id)
        state = body.get("state") if isinstance(body, dict) else None
        allowed: dict[str, tuple[str, ...]] = {"UploadComplete": ("Open",)}
        allowed["Aborted"] = ("Open", "UploadComplete", "InProgress")
        if state not in allowed or job.state not in allowed[state]:
            message = f"Cannot change the state of job {job_id} from {job.state} to {state}"
            raise SalesforceError(400, "INVALIDJOBSTATE", message)
        if state == "UploadComplete" and job.uploads > 1:
            raise SalesforceError(400, "INVALIDJOB", MULTIPLE_CONTENTS.format(job_id[:15]))
        job.modified = self.org.stamp()
        if job.state == "Open":
            job.header, job.rows = self._rows(job)
        if state == "Aborted":
            job.state = "Aborted"
            job.unprocessed = job.rows[job.done :]
            return self.describe(job)
        job.state, job.closed = "UploadComplete", self.org.now()
        return self.describe(job)

    def delete(self, job_id: str) -> None:
        job = self.job(job_id)
        if job.state in ("Open", "InProgress"):
            message = f"A job in state {job.state} cannot be deleted"
            raise SalesforceError(400, "INVALIDJOBSTATE", message)
        del self.jobs[job_id]

    # -- processing ------------------------------------------------------------------------

    def _rows(self, job: Job) -> tuple[list[str], list[list[str]]]:
        reader = csv.reader(io.StringIO(job.data, newline=""), delimiter=DELIMITERS[job.delimiter])
        rows = [row for row in reader if row]
        return (rows[0], rows[1:]) if rows else ([], [])

    def advance(self) -> None:
        """Move every closed job on to where the clock says it is."""
        now = self.org.now()
        for job in self.jobs.values():
            wait = timedelta(seconds=self.queue_seconds)
            closed = job.closed
            if job.state == "UploadComplete" and closed is not None and now >= closed + wait:
                self._start(job, closed + wait)
            if job.state == "InProgress" and job.started is not None:
                self._work(job, (now - job.started).total_seconds())

    def _start(self, job: Job, moment: datetime) -> None:
        problem = self._problem(job)
        if problem:
            job.state, job.error, job.unprocessed = "Failed", problem, job.rows
            job.modified = self.org.stamp()
            return
        job.state, job.started = "InProgress", moment

    def _work(self, job: Job, elapsed: float) -> None:
        """Process the records the job has had the time for; complete it when all are."""
        finished = elapsed >= self.least_seconds + self.record_seconds * len(job.rows)
        rate = self.record_seconds
        due = len(job.rows) if finished or rate <= 0 else int(elapsed / rate)
        if self.fail_after is not None and due > self.fail_after:
            for values in job.rows[job.done : self.fail_after]:
                self._update(job, values)
            job.done = max(job.done, self.fail_after)
            job.state, job.unprocessed = "Failed", job.rows[job.done :]
            job.error = "InternalServerError : retried more than 10 times"
            job.modified = self.org.stamp()
            return
        for values in job.rows[job.done : min(due, len(job.rows))]:
            self._update(job, values)
        job.done = max(job.done, min(due, len(job.rows)))
        if finished:
            job.state = "JobComplete"
            job.modified = self.org.stamp()

    def _problem(self, job: Job) -> str | None:
        if job.line_ending == "LF" and "\r\n" in job.data:
            return "LineEnding is invalid on user data. Current LineEnding setting is LF"
        sobject = self.org.sobject(job.object)
        assert sobject is not None
        for name in job.header:
            if sobject.field(name) is None:
                return f"InvalidBatch : Field name not found : {name}"
        return None if job.header else "InvalidBatch : The uploaded data has no header"

    def _update(self, job: Job, values: list[str]) -> None:
        record = dict(zip(job.header, values, strict=False))
        record_id = next((v for k, v in record.items() if k.lower() == "id"), "")
        try:
            table, row, changes = self.org.prepare_update(record, job.object, csv=True)
            if self.record_fails():
                message = (
                    f"unable to obtain exclusive access to this record or 1 records: {record_id}"
                )
                raise RecordError("UNABLE_TO_LOCK_ROW", message)
        except RecordError as error:
            job.failed.append([record_id, error.as_bulk(), *values])
            return
        self.org.apply(table, row, changes)
        job.succeeded.append([table.id(row), "false", *values])

    # -- answers ---------------------------------------------------------------------------

    def describe(self, job: Job) -> dict[str, Any]:
        info: dict[str, Any] = {
            "id": job.id,
            "operation": "update",
            "object": job.object,
            "createdById": self.user_id,
            "createdDate": format_datetime(job.created),
            "systemModstamp": format_datetime(job.modified),
            "state": job.state,
        }
        if job.external_id:
            info["externalIdFieldName"] = job.external_id
        return info | {
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(job.version.lstrip("v")),
            "contentUrl": f"services/data/{job.version}/jobs/ingest/{job.id}/batches",
            "lineEnding": job.line_ending,
            "columnDelimiter": job.delimiter,
        }

    def info(self, job_id: str) -> dict[str, Any]:
        job = self.job(job_id)
        info = self.describe(job) | {
            "jobType": "V2Ingest",
            "numberRecordsProcessed": len(job.succeeded) + len(job.failed),
            "numberRecordsFailed": len(job.failed),
            "retries": 0,
            "totalProcessingTime": 0,
            "apiActiveProcessingTime": 0,
            "apexProcessingTime": 0,
        }
        if job.error:
            info["errorMessage"] = job.error
        return info

    def results(self, job_id: str, kind: str) -> str:
        job = self.job(job_id)
        kind = kind.lower()
        if kind not in RESULT_KINDS:
            raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")
        buffer = io.StringIO()
        writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n")
        if kind == "unprocessedrecords":
            writer.writerows([job.header, *job.unprocessed] if job.header else [])
            return buffer.getvalue()
        second = "sf__Created" if kind == "successfulresults" else "sf__Error"
        rows = job.succeeded if kind == "successfulresults" else job.failed
        writer.writerows([["sf__Id", second, *job.header], *rows])
        return buffer.getvalue()
