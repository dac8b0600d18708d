"""Full pulls of large Salesforce streams as Bulk API 2.0 query jobs, against the sandbox on
127.0.0.1 through the real simple-salesforce client; and the CSV values turned back into the
REST API's records."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.errors import ApiError, TransportError
from connectors.paging import load_cursor
from connectors.policy import CallPolicy
from connectors.protocol import Page
from connectors.salesforce import bulk_query
from connectors.salesforce.bulk_query import QueryJobFailed, csv_converter, csv_record, query_pages
from connectors.salesforce.connector import SalesforceConnector
from connectors.salesforce.describe import FieldInfo
from connectors.salesforce.records import flatten
from sandbox.salesforce import SalesforceSandbox
from sandbox.salesforce.bulk_query import _csv_value
from sandbox.salesforce.values import to_json
from scoring.records import ActivityType as A
from tests.connectors.test_policy import FakeClock
from tests.connectors.test_salesforce_connector import connector_of, pages, password_settings
from tests.sandbox.salesforce_helpers import (
    HandClock,
    quick_jobs,
    record_id,
    update_record,
)
from tests.sandbox.test_salesforce import BOB, DEE, small_world

STREAMS = ("contacts", "campaign_members", "tasks", "events")


@pytest.fixture
def box() -> Iterator[SalesforceSandbox]:
    with SalesforceSandbox(small_world()) as running:
        quick_jobs(running)
        for person in (BOB, DEE):  # two of each kind of activity at least
            running.add_activity(person, A.MEETING)
            running.add_activity(person, A.SALES_TOUCH)
        yield running


def bulk(box: SalesforceSandbox, above: int = 1, **options: Any) -> SalesforceConnector:
    return connector_of(box, password_settings(box, bulk_query_above=above), **options)


def rest(box: SalesforceSandbox) -> SalesforceConnector:
    return connector_of(box, password_settings(box, bulk_query_above=0))


def content(found: list[Page]) -> tuple[Any, ...]:
    """What a pull gave, whatever its pages: people, activities, gone, and the last cursor."""
    people = sorted((c for p in found for c in p.contacts), key=lambda c: c.id)
    done = sorted((a for p in found for a in p.activities), key=lambda a: str(a.id))
    gone = sorted((g.id, g.into) for p in found for g in p.gone)
    cursors = [p.cursor for p in found if p.cursor is not None]
    return people, done, gone, cursors[-1] if cursors else None


def jobs(sf: SalesforceConnector) -> int:
    return sum(n for op, n in sf.calls().items() if op.endswith(".job"))


def test_a_large_full_pull_runs_as_query_jobs_and_gives_what_rest_gives(
    box: SalesforceSandbox,
) -> None:
    by_rest, by_jobs = rest(box), bulk(box)

    for stream in STREAMS:
        assert content(pages(by_jobs, stream)) == content(pages(by_rest, stream)), stream

    calls = by_jobs.calls()
    assert {"leads.query.job", "contacts.query.job", "tasks.query.job", "events.query.job",
            "campaign_members.query.job"} <= set(calls)  # fmt: skip
    assert jobs(by_rest) == 0
    assert box.calls["bulk2.query.create"] == jobs(by_jobs) == 5
    assert len(content(pages(by_jobs, "contacts"))[0]) == 6


def test_the_job_is_polled_with_growing_waits_while_it_is_in_progress() -> None:
    hand = HandClock()
    with SalesforceSandbox(small_world(), clock=hand) as box:
        box.bulk_queries.queue_seconds, box.bulk_queries.least_seconds = 1.5, 5.0
        clock = FakeClock()
        clock.on_sleep = hand.advance  # the connector's waits pass on the sandbox's clock
        sf = bulk(box, policy=CallPolicy("salesforce", clock=clock, seed=1))

        found = people_of(pages(sf, "contacts"))

    # polled at 2 s and 6 s (InProgress: from 1.5 s for 5 s), 14 s (done)
    assert sf.calls()["leads.query.poll"] == 3
    assert clock.sleeps[:3] == [2.0, 4.0, 8.0]
    assert len(found) == 6


def people_of(found: list[Page]) -> dict[str, Any]:
    return {c.id: c for page in found for c in page.contacts}


def test_a_failed_job_stops_the_pull_with_its_reason_before_any_page(
    box: SalesforceSandbox,
) -> None:
    box.bulk_queries.failure = "QUERY_TIMEOUT: Your query request was running for too long."
    sf = bulk(box)
    taken: list[Page] = []

    with pytest.raises(QueryJobFailed) as failed:
        for page in sf.pull("contacts", None):
            taken.append(page)

    assert taken == []  # so no cursor moved
    message = str(failed.value)
    assert "query job 750" in message and "ended Failed" in message
    assert "QUERY_TIMEOUT" in message and "leads.query" in message
    assert "retrying may help" not in message


def test_results_over_several_pages_move_the_cursor_on_the_last_one_only(
    box: SalesforceSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk_query, "RESULTS_PAGE", 2)
    sf = bulk(box)

    found = pages(sf, "contacts")

    leads = sf.calls()["leads.query.results"]
    assert leads >= 2 and sf.calls()["contacts.query.results"] >= 1
    lead_pages = found[:leads]
    assert [load_cursor(p.cursor).get("Lead") for p in lead_pages[:-1]] == [None] * (leads - 1)
    assert load_cursor(lead_pages[-1].cursor)["Lead"] is not None
    assert content(found) == content(pages(rest(box), "contacts"))


def test_every_request_of_a_job_is_counted_in_the_daily_budget() -> None:
    with SalesforceSandbox(small_world(), daily_limit=10_000) as box:
        quick_jobs(box)
        sf = bulk(box)
        sf.start_run()
        before = box.budget.used
        for stream in STREAMS:
            pages(sf, stream)
        spent = box.budget.used - before
        report = dict(sf.budget() or {})

    counted = sum(n for op, n in sf.calls().items() if op not in ("login", "limits"))
    assert report["spent_this_run"] == counted == spent
    polls = sum(n for op, n in sf.calls().items() if op.endswith(".poll"))
    results = sum(n for op, n in sf.calls().items() if op.endswith(".results"))
    assert polls >= jobs(sf) >= 3  # every request of every job went through the policy:
    assert (box.calls["bulk2.query.info"], box.calls["bulk2.query.results"]) == (polls, results)
    assert report["remaining_today"] == 10_000 - box.budget.used


def test_a_query_all_job_sees_deleted_records_as_rest_does(box: SalesforceSandbox) -> None:
    dee = str(record_id(box, DEE))
    box.delete(dee)
    sf = bulk(box)
    fields = ["Id", "Email", "IsDeleted", "SystemModstamp"]
    present = sf.schema.present("Lead", fields)

    def read(**kind: Any) -> list[dict[str, Any]]:
        found = query_pages(sf.api, sf.schema, "leads.query", "Lead", present, deleted=True, **kind)
        return sorted((flatten(r) for rs, _ in found for r in rs), key=lambda r: str(r["Id"]))

    by_job, by_rest = read(full=True), read(full=False)

    assert sf.calls()["leads.query.job"] == 1
    assert by_job == by_rest
    assert {r["Id"]: r["IsDeleted"] for r in by_job}[dee] is True


def test_an_incremental_pull_stays_rest(box: SalesforceSandbox) -> None:
    sf = bulk(box)
    cursor = [p.cursor for p in pages(sf, "contacts")][-1]
    update_record(box, str(record_id(box, BOB)), Title="CEO")
    created = box.calls["bulk2.query.create"]

    found = people_of(pages(sf, "contacts", cursor))

    assert box.calls["bulk2.query.create"] == created
    assert found[str(record_id(box, BOB))].attributes["job_title"] == "CEO"


# -- CSV to records -----------------------------------------------------------------------------


class Described:
    """A describe of one object, as `csv_converter` asks it."""

    def __init__(self, types: dict[str, str]) -> None:
        self.types = types

    def field(self, sobject: str, name: str) -> FieldInfo | None:
        kind = self.types.get(name)
        return None if kind is None else FieldInfo(name, kind)


TYPES = {"Id": "id", "Name": "string", "IsWon": "boolean", "NumberOfEmployees": "int",
         "Amount": "currency", "Probability": "percent", "Score": "double",
         "CloseDate": "date", "SystemModstamp": "datetime", "Account.Industry": "picklist",
         "Account.AnnualRevenue": "currency"}  # fmt: skip
ms = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1),
                  timezones=st.just(UTC)).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))  # fmt: skip
text = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), min_size=1)
number = st.floats(allow_nan=False, allow_infinity=False)
VALUES = {"Id": st.from_regex(r"[A-Za-z0-9]{18}", fullmatch=True), "Name": text,
          "IsWon": st.booleans(), "NumberOfEmployees": st.integers(-(10**15), 10**15),
          "Amount": number, "Probability": number, "Score": number,
          "CloseDate": st.dates(date(1970, 1, 1), date(2200, 1, 1)), "SystemModstamp": ms,
          "Account.Industry": text, "Account.AnnualRevenue": number}  # fmt: skip


@st.composite
def stored(draw: st.DrawFn) -> dict[str, Any]:
    """A record's stored values, None for null (Salesforce keeps no empty text)."""
    return {name: draw(st.none() | values) for name, values in VALUES.items()}


def rest_form(values: dict[str, Any]) -> dict[str, Any]:
    """The REST API's record of `values`: JSON values, the Account's under `Account`."""
    record = {k: to_json(v) for k, v in values.items() if "." not in k}
    account = {k.partition(".")[2]: to_json(v) for k, v in values.items() if "." in k}
    record["Account"] = account if any(v is not None for v in account.values()) else None
    return record


@given(stored())
@settings(max_examples=200, deadline=None)
def test_any_value_the_rest_api_gives_comes_back_from_a_query_jobs_csv(
    values: dict[str, Any],
) -> None:
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(list(values))
    writer.writerow([_csv_value(v) for v in values.values()])
    header, row = list(csv.reader(io.StringIO(out.getvalue())))
    schema = Described(TYPES)
    converters = {name: csv_converter(schema, "Opportunity", name) for name in header}  # type: ignore[arg-type]

    assert csv_record(header, row, converters) == rest_form(values)


def test_a_results_page_cut_short_is_read_again(
    box: SalesforceSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from simple_salesforce.bulk2 import _Bulk2Client

    whole = _Bulk2Client.get_query_results
    cuts: list[int] = []

    def cut_once(client: Any, *args: Any, **kwargs: Any) -> Any:
        page = dict(whole(client, *args, **kwargs))
        if not cuts:
            cuts.append(1)
            page["records"] = page["records"].rsplit("\n", 2)[0] + "\n"  # the last row lost
        return page

    monkeypatch.setattr(_Bulk2Client, "get_query_results", cut_once)
    sf = bulk(box)

    found = pages(sf, "contacts")

    assert cuts == [1] and sf.calls()["leads.query.results"] == 2
    assert content(found) == content(pages(rest(box), "contacts"))


def test_relationship_columns_nest_at_any_depth_and_an_empty_parent_is_null() -> None:
    header = ["Id", "Who.Email", "Who.Account.Name", "What.Name"]
    row = ["00T000000000001AAA", "a@b.io", "", ""]

    record = csv_record(header, row, {})

    assert record == {"Id": "00T000000000001AAA", "Who": {"Email": "a@b.io", "Account": None},
                      "What": None}  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "cell", "value"),
    [
        ("int", "1500", 1500),
        ("int", "1E3", 1000),
        ("int", "1.5E3", 1500),
        ("int", "12.0", 12),
        ("long", "-2.5e2", -250),
        ("double", "1E3", 1000.0),
        ("double", "-1.25e-3", -0.00125),
        ("currency", "0.5", 0.5),
    ],
)
def test_numbers_are_read_as_salesforce_writes_them(kind: str, cell: str, value: Any) -> None:
    converters = {"N": csv_converter(Described({"N": kind}), "Lead", "N")}  # type: ignore[arg-type]

    assert csv_record(["N"], [cell], converters) == {"N": value}


@pytest.mark.parametrize(("kind", "cell"), [("int", "x"), ("double", "n/a"), ("double", "nan"),
                                            ("int", "inf"), ("percent", "12%")])  # fmt: skip
def test_a_cell_that_is_no_number_is_a_transport_error_naming_the_column(
    kind: str, cell: str
) -> None:
    converters = {"N": csv_converter(Described({"N": kind}), "Lead", "N")}  # type: ignore[arg-type]

    with pytest.raises(TransportError) as garbled:
        csv_record(["Id", "N"], ["00Q000000000001AAA", cell], converters, "Lead")

    assert "Lead.N" in str(garbled.value) and garbled.value.retryable


def test_a_garbled_cell_reads_the_results_page_again(
    box: SalesforceSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    from simple_salesforce.bulk2 import _Bulk2Client

    whole = _Bulk2Client.get_query_results
    garbled: list[int] = []

    def garble_once(client: Any, *args: Any, **kwargs: Any) -> Any:
        page = dict(whole(client, *args, **kwargs))
        rows = list(csv.reader(io.StringIO(page["records"])))
        if not garbled and "NumberOfEmployees" in rows[0]:
            garbled.append(1)
            rows[1][rows[0].index("NumberOfEmployees")] = "12x"
            out = io.StringIO()
            csv.writer(out, lineterminator="\n").writerows(rows)
            page["records"] = out.getvalue()
        return page

    monkeypatch.setattr(_Bulk2Client, "get_query_results", garble_once)
    sf = bulk(box)

    found = pages(sf, "contacts")

    assert garbled == [1] and sf.calls()["leads.query.results"] == 2
    assert content(found) == content(pages(rest(box), "contacts"))


def test_the_query_job_requests_have_a_timeout() -> None:
    # simple-salesforce's Bulk API 2.0 client (create_job, get_job, get_query_results,
    # abort_job) passes no timeout to requests.
    from connectors.salesforce.bulk_query import job_pages
    from connectors.salesforce.client import SF_TIMEOUT, SalesforceApi
    from connectors.salesforce.describe import Schema
    from connectors.salesforce.settings import SalesforceSettings
    from tests.connectors.test_salesforce_auth import INSTANCE, Recorded

    recorded = Recorded(500, b'[{"errorCode": "UNKNOWN_EXCEPTION", "message": "x"}]')
    settings = SalesforceSettings(access_token="00D!given-token", instance_url=INSTANCE)
    policy = CallPolicy("salesforce", clock=FakeClock(), attempts=1)
    api = SalesforceApi(settings, http=recorded.http, policy=policy)

    with pytest.raises(ApiError):
        list(job_pages(api, Schema(api), "leads.query", "Lead", ["Id"], [], False))

    assert recorded.timeouts and set(recorded.timeouts) == {SF_TIMEOUT}
