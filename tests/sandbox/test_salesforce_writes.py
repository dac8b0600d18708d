"""Writes Salesforce refuses record by record, and the API budget, through simple-salesforce.

A converted Lead takes no updates (CANNOT_UPDATE_CONVERTED_LEAD); a record lock
held elsewhere (UNABLE_TO_LOCK_ROW, injected by the fault plan's
`record_failure`) fails one record of a collection update, or all of them
under `allOrNone`; `/limits` and `Sforce-Limit-Info` count the same budget, and
too many long-running requests at once refuse the next one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any, cast

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceRefusedRequest

from sandbox.clock import SandboxClock
from sandbox.faults import FaultPlan
from sandbox.salesforce import SalesforceSandbox, connect
from sandbox.salesforce.ids import make_id
from tests.sandbox.test_salesforce import small_world

BOB, DEE, EVE = (make_id("00Q", row) for row in range(3))
LOCKED = "unable to obtain exclusive access to this record or 1 records: "


@pytest.fixture
def sandbox() -> Iterator[SalesforceSandbox]:
    with SalesforceSandbox(small_world()) as running:
        yield running


def mark_converted(sandbox: SalesforceSandbox, lead_id: str) -> None:
    """Store a Lead as converted, as Salesforce's lead conversion leaves it."""
    with sandbox.org_lock:
        located = sandbox.org.locate(lead_id)
        assert located is not None
        located[0].write(located[1], {"IsConverted": True})


def titles(ids: tuple[str, ...], title: str, all_or_none: bool = False) -> dict[str, Any]:
    records = [{"attributes": {"type": "Lead"}, "id": i, "Title": title} for i in ids]
    return {"allOrNone": all_or_none, "records": records}


def test_a_converted_lead_refuses_a_single_update(sandbox: SalesforceSandbox) -> None:
    mark_converted(sandbox, BOB)
    sf = connect(sandbox)

    with pytest.raises(SalesforceMalformedRequest) as refused:
        sf.Lead.update(BOB, {"Title": "CEO"})

    assert cast(Any, refused.value).content == [
        {"message": "cannot reference converted lead",
         "errorCode": "CANNOT_UPDATE_CONVERTED_LEAD", "fields": []}]  # fmt: skip


def test_a_converted_lead_fails_alone_in_a_collection_update(sandbox: SalesforceSandbox) -> None:
    mark_converted(sandbox, DEE)
    sf = connect(sandbox)

    results = sf.restful("composite/sobjects", method="PATCH", json=titles((BOB, DEE), "CEO"))

    assert results[0] == {"id": BOB, "success": True, "errors": []}
    assert results[1]["errors"] == [{"statusCode": "CANNOT_UPDATE_CONVERTED_LEAD",
                                     "message": "cannot reference converted lead", "fields": []}]  # fmt: skip
    assert sf.Lead.get(BOB)["Title"] == "CEO"


def test_a_converted_lead_fails_its_row_of_a_bulk_update(sandbox: SalesforceSandbox) -> None:
    mark_converted(sandbox, DEE)
    sf = connect(sandbox)

    summary = sf.bulk2.Lead.update(records=[{"Id": BOB, "Title": "A"}, {"Id": DEE, "Title": "B"}])
    failed = sf.bulk2.Lead.get_failed_records(summary[0]["job_id"])

    assert (summary[0]["numberRecordsFailed"], summary[0]["numberRecordsProcessed"]) == (1, 2)
    assert "CANNOT_UPDATE_CONVERTED_LEAD:cannot reference converted lead" in failed


def test_a_locked_record_fails_alone_when_all_or_none_is_false() -> None:
    plan = FaultPlan(record_failure=0.5, seed=1, operations=frozenset({"collections.update"}))
    with SalesforceSandbox(small_world(), faults=plan) as sandbox:
        results = connect(sandbox).restful("composite/sobjects", method="PATCH",
                                           json=titles((BOB, DEE, EVE), "VP"))  # fmt: skip

    failed = [r for r in results if not r["success"]]
    assert 0 < len(failed) < 3
    for result in failed:
        (error,) = result["errors"]
        assert error["statusCode"] == "UNABLE_TO_LOCK_ROW"
        assert error["message"].startswith(LOCKED)
    assert all(r["id"] in (BOB, DEE, EVE) for r in results if r["success"])


def test_a_locked_record_rolls_back_the_others_when_all_or_none_is_true() -> None:
    with SalesforceSandbox(small_world(), faults=FaultPlan(record_failure=0.5, seed=1)) as sandbox:
        sf = connect(sandbox)
        results = sf.restful("composite/sobjects", method="PATCH",
                             json=titles((BOB, DEE, EVE), "VP", all_or_none=True))  # fmt: skip
        after = [sf.Lead.get(i)["Title"] for i in (BOB, DEE, EVE)]

    codes = {r["errors"][0]["statusCode"] for r in results}
    assert codes == {"UNABLE_TO_LOCK_ROW", "ALL_OR_NONE_OPERATION_ROLLED_BACK"}
    assert "VP" not in after


def test_limits_and_the_usage_header_count_the_same_daily_budget() -> None:
    with SalesforceSandbox(small_world(), daily_limit=50, used=10) as sandbox:
        sf = connect(sandbox)
        sf.query("SELECT COUNT() FROM Lead")
        usage = sf.api_usage["api-usage"]
        daily = sf.limits()["DailyApiRequests"]

    assert (usage.used, usage.total) == (11, 50)
    assert daily == {"Max": 50, "Remaining": 38}


class HeldClock(SandboxClock):
    """Vendor time a test moves; a sleep lasts until the test lets it go."""

    def __init__(self) -> None:
        super().__init__()
        self.offset = 0.0
        self.release = threading.Event()

    def now(self) -> float:
        return self.offset

    def sleep(self, vendor_seconds: float) -> None:
        self.release.wait(10)


def test_too_many_long_running_requests_refuse_the_next_one() -> None:
    clock = HeldClock()
    slow = FaultPlan(slow=1.0, slow_seconds=30, operations=frozenset({"query"}))
    with SalesforceSandbox(
        small_world(), clock=clock, faults=slow, long_running_limit=1
    ) as sandbox:
        sf = connect(sandbox)
        running = threading.Thread(target=sf.query, args=("SELECT COUNT() FROM Lead",))
        running.start()
        while not sandbox.in_flight:
            time.sleep(0.01)
        assert sf.limits()["DailyApiRequests"]["Max"] == 100_000  # under 20 s: no limit
        clock.offset = 20.0
        with pytest.raises(SalesforceRefusedRequest) as refused:
            sf.limits()
        clock.release.set()
        running.join(10)

        assert sf.limits()["DailyApiRequests"]["Max"] == 100_000
    assert cast(Any, refused.value).content == [
        {"message": "ConcurrentRequests (Concurrent API Requests) Limit exceeded.",
         "errorCode": "REQUEST_LIMIT_EXCEEDED"}]  # fmt: skip


def test_the_values_a_collection_repeats_are_each_checked_as_sent(
    sandbox: SalesforceSandbox,
) -> None:
    """A value sent to several records of one call is checked once and answered for each;
    `true` and `1` are told apart (equal as Python keys, not as JSON values)."""
    long = "x" * 129  # Title holds 128
    values = [
        {"HasOptedOutOfEmail": True, "Title": "CEO"},
        {"HasOptedOutOfEmail": True, "Title": long},
        {"HasOptedOutOfEmail": 1, "Title": "CEO"},
        {"HasOptedOutOfEmail": False, "Title": long},
    ]
    ids = [make_id("00Q", row) for row in range(4)]
    records = [
        {"attributes": {"type": "Lead"}, "id": i, **v} for i, v in zip(ids, values, strict=True)
    ]
    with sandbox.org_lock:
        results = sandbox.org.update_collection(records, False, lambda: False)
        first = sandbox.org.record(ids[0])

    codes = [r["errors"][0]["statusCode"] if r["errors"] else None for r in results]
    assert codes == [None, "STRING_TOO_LONG", "INVALID_TYPE_ON_FIELD_IN_RECORD", "STRING_TOO_LONG"]
    assert first is not None and first["HasOptedOutOfEmail"] is True and first["Title"] == "CEO"
