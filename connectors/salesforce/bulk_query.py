"""A stream's query, over REST or, when it is large, as a Bulk API 2.0 query job.

`query_pages` runs one SOQL either way and gives its records a page at a time, as
the REST API answers them. The first REST page is always asked for: its
`totalSize` is the number of records the whole query returns, not only that page
(REST API Developer Guide, "Query"), so it costs nothing more than the pull needs
anyway, where a `SELECT COUNT()` would be one more call
on every pull. When a full pull (no cursor) matches more than
`bulk_query_above` records, that page is put aside and the query runs as a Bulk
API 2.0 query job instead (Bulk API 2.0 Developer Guide, "Bulk Queries": query
jobs are "designed to handle queries that return large amounts of data (10,000
records or more)"). Every request of a job is one call under the call policy,
counted against the daily budget like any other (Salesforce Help 000382576:
"Each HTTP request counts as one call"):

- Create a Query Job (`query`, or `queryAll` where deleted and merged-away records
  must be seen, as the REST path's queryAll), without ORDER BY: the guide's "SOQL
  Considerations" say ORDER BY and LIMIT turn off the chunking of large query jobs
  and can make them time out;
- Get Information About a Query Job, polled as `connectors.salesforce.jobs` says
  until JobComplete; Failed or Aborted stop the pull with `QueryJobFailed`,
  naming the job and its `errorMessage` (which simple-salesforce's `wait_for_job`
  reads too), before any page is given, so no
  cursor moves;
- Get Results for a Query Job, page by page (`maxRecords`, then the
  `Sforce-Locator` of each answer until it is "null"), CSV with the columns in
  the order selected (API 50.0 and later).

simple-salesforce's `sf.bulk2.<Object>.query` runs all of that in one call,
sleeping between polls itself, so its polls would escape the policy and a retry
would start the job over; the steps of its client (`create_job`, `get_job`,
`get_query_results`, one request each, its errors the SDK's) are called one by
one instead.

CSV holds text only: each value is turned back into what the REST API's JSON
gives, by the type the org's describe names (`csv_record`): booleans, numbers,
dateTimes in the REST form (`2026-01-01T00:00:00.000+0000`), relationship columns
(`Account.Industry`) nested under their relationship, and an empty cell as null
(Salesforce keeps no empty text: a field set to "" reads back null, as
salesforce.stackexchange.com question 333174 shows).

A job's records come in no useful order, so a page of them cannot move a cursor
by itself: every page but the last is given as not `settled`, and the stream
moves its cursor on the last one only, to the newest stamp of all.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from connectors.errors import ApiError, TransportError
from connectors.salesforce.client import SF, SalesforceApi
from connectors.salesforce.describe import Schema
from connectors.salesforce.jobs import ENDED, GIVE_UP, wait_for_job
from connectors.salesforce.soql import select

Records = list[Mapping[str, Any]]
CsvValue = Callable[[str], Any]
RESULTS_PAGE = 50_000
"""Records per results page (`maxRecords`): simple-salesforce's own default."""


def csv_number(text: str) -> float:
    """A number as Salesforce writes it in CSV (`1500`, `-2.5`, `1.0E3`); a ValueError for
    anything else (`x`, `n/a`, inf or NaN)."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    return value


def csv_integer(text: str) -> int:
    """An int or long column's cell: `1500`, or a whole number in a float's form (`1500.0`,
    `1.5E3`); a fraction is cut to its whole part, as before."""
    try:
        return int(text)
    except ValueError:
        return int(csv_number(text))


CSV_NUMBERS: dict[str, Callable[[str], Any]] = {
    "int": csv_integer,
    "double": csv_number,
    "currency": csv_number,
    "percent": csv_number,
    "long": csv_integer,
}


class UnreadableCell(TransportError):
    """A cell of a query job's CSV that is no value of its column's type: the answer was
    garbled on its way, and reading the page again may mend it."""


class QueryJobFailed(ApiError):
    """A Bulk API 2.0 query job that ended Failed or Aborted, or never ended."""


def query_pages(
    api: SalesforceApi,
    schema: Schema,
    operation: str,
    sobject: str,
    fields: Sequence[str],
    where: Sequence[str] = (),
    order: str | None = None,
    deleted: bool = False,
    full: bool = False,
) -> Iterator[tuple[Records, bool]]:
    """The records of `SELECT fields FROM sobject WHERE ... ORDER BY order` (queryAll with
    `deleted`), a page at a time, each with whether it is `settled`: whether every record
    stamped before the newest one seen so far has been given. REST pages come in `order`
    and are always settled. A `full` pull that matches more than the setting
    `bulk_query_above` runs as a Bulk API 2.0 query job."""
    soql = select(sobject, fields, where, order)
    answer = api.query_page(operation, soql, None, deleted)
    above = api.settings.bulk_query_above
    total = answer.get("totalSize")
    if full and above and isinstance(total, int) and total > above:
        yield from job_pages(api, schema, operation, sobject, fields, where, deleted, total)
        return
    while True:
        yield list(answer.get("records") or []), True
        following = answer.get("nextRecordsUrl")
        if answer.get("done", True) or not following:
            return
        answer = api.query_page(operation, None, str(following), deleted)


def job_pages(
    api: SalesforceApi,
    schema: Schema,
    operation: str,
    sobject: str,
    fields: Sequence[str],
    where: Sequence[str],
    deleted: bool,
    records: int | None = None,
) -> Iterator[tuple[Records, bool]]:
    """A query job's records, a results page at a time; settled on the last page only."""
    kind = "queryAll" if deleted else "query"
    soql = select(sobject, fields, where)
    created = api.call(f"{operation}.job", lambda sf: _jobs(sf, sobject).create_job(kind, soql))
    job_id = str(created["id"])
    wait_for_query_job(api, operation, sobject, job_id, records)
    converters = {name: csv_converter(schema, sobject, name) for name in fields}
    header: list[str] = []
    locator = ""
    while True:
        header, page, locator = _results(
            api, operation, sobject, job_id, (locator, header), converters
        )
        last = locator in ("", "null")
        yield page, last
        if last:
            return


def wait_for_query_job(
    api: SalesforceApi, operation: str, sobject: str, job_id: str, records: int | None
) -> None:
    """Wait until the job is JobComplete (`connectors.salesforce.jobs`); a QueryJobFailed
    when it fails, is aborted, or runs too long (then it is aborted)."""
    poll = f"{operation}.poll"
    info = wait_for_job(
        api, lambda: api.call(poll, lambda sf: _jobs(sf, sobject).get_job(job_id, True)), records
    )
    state = str(info.get("state") or "")
    if state == "JobComplete":
        return
    if state in ENDED:
        reason = info.get("errorMessage") or "no reason given"
        message = f"the Bulk API 2.0 query job {job_id} ended {state}: {reason}"
        raise QueryJobFailed(SF, operation, message)
    api.call(f"{operation}.abort", lambda sf: _jobs(sf, sobject).abort_job(job_id, True))
    message = f"the Bulk API 2.0 query job {job_id} was still {state} after {GIVE_UP:.0f} s"
    raise QueryJobFailed(SF, operation, message + ", so it was aborted")


def _results(
    api: SalesforceApi,
    operation: str,
    sobject: str,
    job_id: str,
    at: tuple[str, list[str]],
    converters: Mapping[str, CsvValue],
) -> tuple[list[str], Records, str]:
    """One page of a job's results at (locator, header): the CSV header (each page has its
    own; one without is read with the first page's), the records, and the next page's
    locator. A page holding fewer rows than its `Sforce-NumberOfRecords`, or a cell that
    is no value of its column, was cut off or garbled: a TransportError, retried."""
    locator, header = at

    def read(sf: Any) -> tuple[list[str], Records, str]:
        page = _jobs(sf, sobject).get_query_results(job_id, locator, RESULTS_PAGE)
        rows = [row for row in csv.reader(io.StringIO(str(page["records"]))) if row]
        head = header
        if rows and (not head or rows[0] == head):
            head, rows = rows[0], rows[1:]
        expected = page.get("number_of_records")
        if (isinstance(expected, int) and len(rows) != expected) or any(
            len(row) != len(head) for row in rows
        ):
            raise TransportError(SF, f"{operation}.results", "answer cut off (short CSV page)")
        records: Records = [
            csv_record(head, row, converters, sobject, f"{operation}.results") for row in rows
        ]
        return head, records, str(page.get("locator") or "")

    return api.call(f"{operation}.results", read)


def _jobs(sf: Any, sobject: str) -> Any:
    """simple-salesforce's Bulk API 2.0 client for `sobject`: one request per method."""
    return getattr(sf.bulk2, sobject)._client


def csv_converter(schema: Schema, sobject: str, name: str) -> CsvValue:
    """How a CSV cell of field `name` becomes the REST API's JSON value of it."""
    found = schema.field(sobject, name)
    kind = found.type if found is not None else "string"
    if kind == "boolean":
        return lambda text: text.lower() == "true"
    if kind in CSV_NUMBERS:
        return CSV_NUMBERS[kind]
    if kind == "datetime":
        return rest_datetime
    return str


def rest_datetime(text: str) -> str:
    """A dateTime as the REST API writes it: `...T12:00:00.000+0000` for the CSV's `...Z`."""
    return text[:-1] + "+0000" if text.endswith("Z") else text


def csv_record(
    header: Sequence[str],
    row: Sequence[str],
    converters: Mapping[str, CsvValue],
    sobject: str = "",
    operation: str = "query.results",
) -> dict[str, Any]:
    """One CSV row as the REST API's record: typed values, an empty cell null, and
    `Parent.Field` columns under `Parent` (null when every one of them is empty, as for a
    record with no parent). A cell its column's type cannot read is an `UnreadableCell`
    naming the object and the column (not the value, which may be anyone's data)."""
    flat: dict[str, Any] = {}
    for name, text in zip(header, row, strict=True):
        try:
            flat[name] = None if text == "" else converters.get(name, str)(text)
        except (ValueError, TypeError, OverflowError):
            column = f"{sobject}.{name}" if sobject else name
            message = f"answer garbled: a {column} cell of the query job's CSV is unreadable"
            raise UnreadableCell(SF, operation, message) from None
    return _nested(flat)


def _nested(flat: Mapping[str, Any]) -> dict[str, Any]:
    """`{"Account.Industry": x}` as `{"Account": {"Industry": x}}`, at any depth."""
    record: dict[str, Any] = {}
    parents: dict[str, dict[str, Any]] = {}
    for name, value in flat.items():
        head, dot, rest = name.partition(".")
        if dot:
            parents.setdefault(head, {})[rest] = value
        else:
            record[name] = value
    for head, values in parents.items():
        given = any(v is not None for v in values.values())
        record[head] = _nested(values) if given else None
    return record
