"""Bulk API 2.0 query jobs in the Salesforce sandbox, run on the sandbox's clock.

Follows the Bulk API 2.0 Developer Guide: Create a Query Job (`query` or
`queryAll`, answered in state UploadComplete), Get Information About a Query
Job (UploadComplete, then InProgress, then JobComplete, or Failed or Aborted),
Get Results for a Query Job (CSV pages cut by `maxRecords`, with the
`Sforce-NumberOfRecords` and `Sforce-Locator` headers, the last page's locator
being `null`), Abort, Delete and Get Information About All Query Jobs. A job
waits `queue_seconds`, then runs its query at once (what it finds is what
committed by then) and stays in progress `least_seconds` plus
`record_seconds` per record; with `failure` set, or drawn by the fault plan's
`job_failure`, a job fails when it would start.
Details: docs/sandbox.md (Salesforce).
"""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sandbox.salesforce.bulk import JobBoard
from sandbox.salesforce.errors import SalesforceError
from sandbox.salesforce.ids import JOB_PREFIX, make_id
from sandbox.salesforce.query import Bound, QueryEngine, field_value
from sandbox.salesforce.values import format_datetime

QUERY_DELIMITERS = {"COMMA": ",", "TAB": "\t", "PIPE": "|", "SEMICOLON": ";", "CARET": "^"}
QUERY_DELIMITERS["BACKQUOTE"] = "`"
TERMINAL = ("JobComplete", "Failed", "Aborted")
FAILED = "InternalServerError : the query job failed"
"""The `errorMessage` of a job the fault plan fails (the sandbox's wording)."""


@dataclass
class QueryJob:
    id: str
    operation: str
    bound: Bound
    delimiter: str
    line_ending: str
    version: str
    created: datetime
    modified: datetime
    queued: datetime
    state: str = "UploadComplete"
    started: datetime | None = None
    rows: list[int] = field(default_factory=list)
    error: str | None = None


class BulkQuery(JobBoard[QueryJob]):
    """The query jobs of one sandbox."""

    job_type = "V2Query"

    def __init__(self, queries: QueryEngine, user_id: str, numbers: Iterator[int]) -> None:
        super().__init__(user_id, numbers, record_seconds=0.0001)
        self.queries = queries
        self.org = queries.org
        self.failure: str | None = None
        """The `errorMessage` every job fails with when it starts (as a query that timed out
        does); None: jobs run."""
        self.job_fails: Callable[[], bool] = lambda: False
        """Whether one job fails when it starts (the fault plan's `job_failure`), with
        `FAILED` as its `errorMessage`."""

    def create(self, body: Any, version: str) -> dict[str, Any]:
        body = self.body_of(body)
        operation = body.get("operation")
        if operation not in ("query", "queryAll"):
            message = f"Invalid operation '{operation}': a query job does query or queryAll"
            raise SalesforceError(400, "INVALIDJOB", message)
        delimiter = str(body.get("columnDelimiter") or "COMMA")
        line_ending = str(body.get("lineEnding") or "LF")
        if line_ending not in ("LF", "CRLF") or delimiter not in QUERY_DELIMITERS:
            raise SalesforceError(400, "INVALIDJOB", "Invalid lineEnding or columnDelimiter")
        if str(body.get("contentType") or "CSV") != "CSV":
            raise SalesforceError(400, "INVALIDJOB", "contentType must be CSV")
        bound = self.queries.bind(str(body.get("query") or ""))
        if bound.query.count:
            message = "Aggregate queries are not supported by the Bulk API: COUNT()"
            raise SalesforceError(400, "INVALIDJOB", message)
        now = self.org.stamp()
        job_id = make_id(JOB_PREFIX, next(self.numbers))
        job = QueryJob(
            job_id, operation, bound, delimiter, line_ending, version, now, now, self.org.now()
        )
        self.jobs[job_id] = job
        return self.describe(job)

    def advance(self) -> None:
        """Move every running job on to where the clock says it is."""
        now = self.org.now()
        for job in self.jobs.values():
            start = job.queued + _seconds(self.queue_seconds)
            if job.state == "UploadComplete" and now >= start and self.failure:
                job.state, job.modified, job.error = "Failed", start, self.failure
            if job.state == "UploadComplete" and now >= start and self.job_fails():
                job.state, job.modified, job.error = "Failed", start, FAILED
            if job.state == "UploadComplete" and now >= start:
                job.state, job.started = "InProgress", start
                job.rows = self.queries.rows(job.bound, job.operation == "queryAll")
            if job.state == "InProgress" and job.started is not None:
                length = self.least_seconds + self.record_seconds * len(job.rows)
                if now >= job.started + _seconds(length):
                    job.state, job.modified = "JobComplete", now

    def abort(self, job_id: str, body: Any) -> dict[str, Any]:
        job = self.job(job_id)
        state = body.get("state") if isinstance(body, dict) else None
        if state != "Aborted" or job.state in TERMINAL:
            message = f"Cannot change the state of job {job_id} from {job.state} to {state}"
            raise SalesforceError(400, "INVALIDJOBSTATE", message)
        job.state, job.modified, job.rows = "Aborted", self.org.stamp(), []
        return self.describe(job)

    def delete(self, job_id: str) -> None:
        job = self.job(job_id)
        if job.state not in TERMINAL:
            message = f"Job {job_id} is {job.state}: abort it before deleting it"
            raise SalesforceError(400, "INVALIDJOBSTATE", message)
        del self.jobs[job_id]

    # -- answers ---------------------------------------------------------------------------

    def describe(self, job: QueryJob) -> dict[str, Any]:
        return {
            "id": job.id,
            "operation": job.operation,
            "object": job.bound.sobject.name,
            "createdById": self.user_id,
            "createdDate": format_datetime(job.created),
            "systemModstamp": format_datetime(job.modified),
            "state": job.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(job.version.lstrip("v")),
            "lineEnding": job.line_ending,
            "columnDelimiter": job.delimiter,
        }

    def info(self, job_id: str) -> dict[str, Any]:
        job = self.job(job_id)
        done = job.state == "JobComplete"
        info = self.describe(job) | {
            "jobType": "V2Query",
            "numberRecordsProcessed": len(job.rows) if done else 0,
            "retries": 0,
            "totalProcessingTime": 0,
        }
        if job.error:
            info["errorMessage"] = job.error
        return info

    def results(
        self, job_id: str, locator: str | None, max_records: str | None, version: str
    ) -> tuple[str, dict[str, str]]:
        """One page of a finished job's CSV, and its `Sforce-*` headers."""
        job = self.job(job_id)
        if job.state != "JobComplete":
            message = f"Job {job_id} is {job.state}: its results are ready once JobComplete"
            raise SalesforceError(409, "INVALIDJOBSTATE", message)
        if version != job.version:
            message = "Get the results with the API version the job was created with"
            raise SalesforceError(409, "INVALIDJOBSTATE", message)
        start = _offset(locator)
        size = int(max_records) if max_records and max_records.isdigit() else len(job.rows)
        end = min(len(job.rows), start + max(1, size))
        buffer = io.StringIO()
        ending = "\r\n" if job.line_ending == "CRLF" else "\n"
        writer = csv.writer(
            buffer,
            delimiter=QUERY_DELIMITERS[job.delimiter],
            quoting=csv.QUOTE_ALL,
            lineterminator=ending,
        )
        writer.writerow([column.path for column in job.bound.columns])
        table = self.org.table(job.bound.sobject.name)
        for row in job.rows[start:end]:
            record = table.record(row)
            values = [field_value(self.org, record, column) for column in job.bound.columns]
            writer.writerow([_csv_value(value) for value in values])
        following = _locator(end) if end < len(job.rows) else "null"
        headers = {"Sforce-NumberOfRecords": str(end - start), "Sforce-Locator": following}
        return buffer.getvalue(), headers


def _seconds(count: float) -> timedelta:
    return timedelta(seconds=count)


def _locator(offset: int) -> str:
    """An opaque locator for the page starting at `offset` (base64 of it, unpadded)."""
    return base64.b64encode(str(offset).encode()).decode().rstrip("=")


def _offset(locator: str | None) -> int:
    if not locator or locator == "null":
        return 0
    try:
        text = base64.b64decode(locator + "=" * (-len(locator) % 4)).decode()
    except ValueError:
        text = ""
    if not text.isdigit():
        raise SalesforceError(400, "INVALIDLOCATOR", f"Invalid locator: {locator}")
    return int(text)


def _csv_value(value: object) -> str:
    """A field as the Bulk API writes it in CSV: empty for null, `true`/`false`,
    datetimes as `2026-01-01T00:00:00.000Z`."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return format_datetime(value).replace("+0000", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
