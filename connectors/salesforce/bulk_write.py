"""Scores into Leads and Contacts through Bulk API 2.0 ingest jobs, for runs that write many.

One `update` job per object (Bulk API 2.0 Developer Guide, "Create a Job": `object`,
`operation`, `contentType` CSV, `lineEnding` LF, `columnDelimiter` COMMA), its
records uploaded as one CSV ("Upload Job Data"; at most 100 MB of data per job, so
more records make more jobs), closed ("Close or Abort a Job": UploadComplete),
then polled ("Get Job Info") until JobComplete, Failed or Aborted. Every request
goes through the connector's call policy and daily budget, polls included:

- a job takes one upload: a second one, sent again after an answer was lost, is
  refused ("Found multipe contents for job", reported by integrators; see
  docs/sandbox.md), so the upload is never sent again after a failure that may have
  carried it out (a 5xx, a dropped or lost answer), only after a refusal for rate
  (`CallPolicy.call(repeatable=False)`). When the create, the upload or the close
  fails, the job (if made) is aborted, a failed abort passed over, and a new job
  made, once; should that fail too, the job's records are failures kept for the
  next run, like unprocessed rows. A login refused or the budget spent stops the
  run as anywhere else;

- the CSV follows "Valid CSV Record Rows": every value quoted, a quote doubled, so
  commas, quotes and line breaks in the reasons round-trip; an empty cell leaves a
  field alone and `#N/A` sets it to null, so a value we clear is `#N/A`;
- it is polled as `connectors.salesforce.jobs` says (once the org's pace is known, once
  per job), and aborted when it runs past `jobs.GIVE_UP`;
- failed records ("Get Job Failed Record Results": `sf__Id`, `sf__Error` as
  `CODE:message:fields`) are read when the job counts any, unprocessed ones ("Get
  Job Unprocessed Record Results": the rows as uploaded, for a Failed or Aborted
  job) when it did not complete; each becomes what the same refusal of a
  collection update becomes (`connectors.salesforce.write.refused`): a lock
  (UNABLE_TO_LOCK_ROW) or an unprocessed row is retried next run, a converted or
  deleted record is gone, a refused value waits for a fix;
- what landed is what was uploaded less those; should the job's counts
  (`numberRecordsProcessed` less `numberRecordsFailed`) say otherwise (Salesforce
  records no results for batches beyond the org's daily batch allocation), the
  successful results are read and only what they name counts as written;
- before any job is made, the run's share of the daily budget must cover what
  every job needs at least (create, upload, close, a poll, both result sets):
  otherwise the run stops there (`BudgetExhausted`), as it would before a
  collection update. A run stopped while a job runs leaves the job to Salesforce;
  nothing of it is recorded as written, so the next run writes those records
  again (an update with the same values is harmless).
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from connectors.errors import ApiError, AuthError, BudgetExhausted
from connectors.protocol import Write, WriteFailure, WriteOutcome
from connectors.salesforce.client import SF, SalesforceApi
from connectors.salesforce.describe import Schema
from connectors.salesforce.jobs import ENDED, FIRST_POLL, Pace, wait_for_job
from connectors.salesforce.records import sobject_of
from connectors.salesforce.write import (
    COLLECTION,
    LIFECYCLE,
    field_kinds,
    merged_into,
    refused,
    typed,
    writable,
)

JOB_CALLS = 6
"""The fewest requests a job may need: create, upload, close, a poll, both result sets."""
MOST_UPLOAD = 100_000_000
"""Bytes of CSV one job takes (the guide: upload at most 100 MB, base64 adds half)."""
NULL = "#N/A"
JOB_STARTS = 2
"""Jobs made for one file at most: the first, and one more when it could not be started."""


def csv_cell(value: str, kind: str | None) -> str:
    """A written value as a Bulk API CSV cell: "" (clear) is #N/A, numbers and booleans
    as Salesforce reads them, text as it is."""
    if value == "":
        return NULL
    try:
        typed_value = typed(value, kind)
    except ValueError:
        return value  # Salesforce says what is wrong with it, in the failed results
    if isinstance(typed_value, bool):
        return "true" if typed_value else "false"
    return str(typed_value)


def ingest_files(
    writes: Sequence[Write], sobject: str, schema: Schema
) -> list[tuple[list[str], bytes]]:
    """The CSV of `writes` (all of one object), cut where a job's upload would pass its
    size: per file, the record ids in it and its bytes."""
    kinds = field_kinds(schema, sobject)
    columns = list(
        dict.fromkeys(n for w in writes for n in w.values if sobject == "Lead" or n != LIFECYCLE)
    )
    files: list[tuple[list[str], bytes]] = []
    buffer = io.StringIO()
    out = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n")
    out.writerow(["Id", *columns])
    header = buffer.getvalue().encode()
    ids: list[str] = []
    chunks: list[bytes] = [header]
    size = len(header)
    for write in writes:
        buffer.seek(0)
        buffer.truncate()
        row = [
            csv_cell(write.values[n], kinds.get(n.lower())) if n in write.values else ""
            for n in columns
        ]
        out.writerow([write.record_id, *row])
        line = buffer.getvalue().encode()
        if ids and size + len(line) > MOST_UPLOAD:
            files.append((ids, b"".join(chunks)))
            ids, chunks, size = [], [header], len(header)
        ids.append(write.record_id)
        chunks.append(line)
        size += len(line)
    if ids:
        files.append((ids, b"".join(chunks)))
    return files


@dataclass
class IngestEnd:
    """What one job did with its records."""

    written: list[str] = field(default_factory=list)
    refused: list[tuple[str, str, str]] = field(default_factory=list)
    """(record id, error code, message) of each failed record."""
    unprocessed: list[WriteFailure] = field(default_factory=list)


def write_bulk(
    api: SalesforceApi,
    schema: Schema,
    writes: Sequence[Write],
    converted: Mapping[str, str],
    pace: Pace | None = None,
) -> WriteOutcome:
    """Every write in Bulk API 2.0 jobs, one per object (more for more than 100 MB); `pace`:
    the org's on ingest jobs, which sizes the waits before their reads (`jobs.Pace`)."""
    pace = pace or Pace()
    outcome = WriteOutcome()
    pending = writable(writes, converted, outcome)
    by_object: dict[str, list[Write]] = {}
    for write in pending:
        by_object.setdefault(str(sobject_of(write.record_id)), []).append(write)
    jobs = [
        (sobject, f)
        for sobject, mine in by_object.items()
        for f in ingest_files(mine, sobject, schema)
    ]
    if not jobs:
        return outcome
    afford_jobs(api, len(jobs))
    with ThreadPoolExecutor(max_workers=len(jobs), thread_name_prefix="sf-bulk") as pool:
        ends = list(
            pool.map(lambda job: run_ingest_job(api, job[0], job[1][0], job[1][1], pace), jobs)
        )
    gone: list[str] = []
    for end in ends:
        outcome.written.extend(end.written)
        outcome.failed.extend(end.unprocessed)
        for record_id, code, message in end.refused:
            refused(record_id, code, message, outcome, gone)
    for start in range(0, len(gone), COLLECTION):
        outcome.gone.extend(merged_into(api, schema, gone[start : start + COLLECTION]))
    return outcome


def afford_jobs(api: SalesforceApi, jobs: int) -> None:
    """Stop before the first job when the run's budget cannot carry every job through."""
    budget = api.policy.budget
    left = None if budget is None else budget.affordable()
    if left is not None and left < jobs * JOB_CALLS:
        raise BudgetExhausted(
            SF,
            "bulk2.create",
            f"{jobs} Bulk API job(s) need at least {jobs * JOB_CALLS} requests and this run "
            f"may make {left} more; the next run goes on from here",
        )


def run_ingest_job(
    api: SalesforceApi, sobject: str, ids: list[str], data: bytes, pace: Pace | None = None
) -> IngestEnd:
    """One job made, filled, closed, polled to its end and its results read; when it
    cannot be started twice over, its records are failures kept for the next run."""
    started = start_ingest_job(api, sobject, data)
    if isinstance(started, ApiError):
        why = f"not written: no Bulk API job could be started ({started})"
        return IngestEnd(unprocessed=[WriteFailure(i, why) for i in ids])
    path = started
    info = wait_for_job(api, lambda: api.rest("bulk2.poll", path), len(ids), pace)
    if str(info.get("state")) not in ENDED:
        api.rest("bulk2.abort", path, method="PATCH", json={"state": "Aborted"})
        info = {**info, "state": "Aborted", "errorMessage": "still running: given up"}
    return ingest_job_end(api, path, ids, info)


def start_ingest_job(api: SalesforceApi, sobject: str, data: bytes) -> str | ApiError:
    """A job created, its CSV uploaded and closed: its path. The upload is tried again only
    when refused for rate (a job takes one upload: a second, after a lost answer, is
    refused); a create sent again makes at worst a job left Open and empty, a close sent
    again after it landed is refused. When one of them fails, the job is aborted and a new
    one made, `JOB_STARTS` jobs in all; then the last failure. A run stopped (budget,
    credentials) stops here."""
    body = {"object": sobject, "operation": "update", "contentType": "CSV"}
    body |= {"lineEnding": "LF", "columnDelimiter": "COMMA"}
    failure: ApiError | None = None
    for _ in range(JOB_STARTS):
        if failure is not None:
            wait = failure.retry_after if failure.retry_after is not None else FIRST_POLL
            api.policy.clock.sleep(min(max(wait, 0.0), api.policy.max_wait))
        path = None
        try:
            job = api.rest("bulk2.create", "jobs/ingest", method="POST", json=body)
            path = f"jobs/ingest/{job['id']}"
            api.send("bulk2.upload", path + "/batches", "PUT", data=data,
                     headers={"Content-Type": "text/csv"}, repeatable=False)  # fmt: skip
            api.rest("bulk2.close", path, method="PATCH", json={"state": "UploadComplete"})
            return path
        except (AuthError, BudgetExhausted):
            raise
        except ApiError as error:
            failure = error
            if path is not None:
                abort_quietly(api, path)
    assert failure is not None
    return failure


def abort_quietly(api: SalesforceApi, path: str) -> None:
    """Abort a job that could not be started; a job the abort does not reach stays Open
    (never processed) or, closed after all, writes values a new job writes again."""
    with contextlib.suppress(ApiError):
        api.rest("bulk2.abort", path, method="PATCH", json={"state": "Aborted"})


def ingest_job_end(
    api: SalesforceApi, path: str, ids: list[str], info: Mapping[str, Any]
) -> IngestEnd:
    """What an ended job did with `ids`: its failed rows, its unprocessed rows unless it
    completed, and the rest written, checked against its counts."""
    end = IngestEnd()
    state = str(info.get("state"))
    failed_count = int(info.get("numberRecordsFailed") or 0)
    processed = int(info.get("numberRecordsProcessed") or 0)
    failed = ingest_results(api, path, "failedResults") if failed_count else []
    for row in failed:
        record_id = row.get("Id") or row.get("sf__Id") or ""
        end.refused.append((record_id, *bulk_error(row.get("sf__Error") or "")))
    left: set[str] = set()
    if state != "JobComplete":
        why = f"not processed: the Bulk API job ended {state}"
        if info.get("errorMessage"):
            why += f" ({info['errorMessage']})"
        for row in ingest_results(api, path, "unprocessedrecords"):
            record_id = row.get("Id") or ""
            left.add(record_id)
            end.unprocessed.append(WriteFailure(record_id, why))
    settled = {record_id for record_id, _, _ in end.refused} | left
    landed = [i for i in ids if i not in settled]
    if len(landed) != processed - failed_count:
        named = {
            row.get("sf__Id") or row.get("Id")
            for row in ingest_results(api, path, "successfulResults")
        }
        lost = [i for i in landed if i not in named]
        end.unprocessed.extend(WriteFailure(i, "not in the Bulk API job's results") for i in lost)
        landed = [i for i in landed if i in named]
    end.written = landed
    return end


def ingest_results(api: SalesforceApi, path: str, kind: str) -> list[dict[str, str]]:
    """One result set of a job, its rows by column."""
    answer = api.send(f"bulk2.{kind}", f"{path}/{kind}")
    text = answer.content.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def bulk_error(text: str) -> tuple[str, str]:
    """(code, message) of an `sf__Error`: `CODE:message:fields --`."""
    code, _, rest = text.partition(":")
    body = rest.strip().removesuffix("--").strip()
    message, colon, fields = body.rpartition(":")
    if not colon:
        message, fields = body, ""
    message = message or "refused"
    if fields.strip():
        message = f"{', '.join(fields.split())}: {message}"
    return (code.strip() or "UNKNOWN_EXCEPTION"), message
