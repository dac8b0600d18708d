"""A HubSpot batch update of companies naming one HubSpot does not have: HubSpot's
reference does not say how it answers (the sandbox leaves the id out, unnamed); the
connector reads it back and fails it for good, so no run writes it again and again."""

from __future__ import annotations

from connectors.hubspot.client import HubSpotApi
from connectors.hubspot.companies import GONE, write_companies
from connectors.policy import CallPolicy
from connectors.protocol import Write
from sandbox import Sandbox


def test_a_write_to_a_missing_company_fails_for_good_after_a_read_back() -> None:
    with Sandbox(people=5, seed=3) as box:
        api = HubSpotApi(
            box.hubspot.token, host=box.hubspot.base_url, policy=CallPolicy("hubspot", base_wait=0)
        )
        logged = len(box.hubspot.log)
        outcome = write_companies(
            api, [Write("1", {"name": "Acme"}), Write("999999", {"name": "X"})]
        )
        calls = [c.operation for c in box.hubspot.log[logged:]]
    assert outcome.written == ["1"]
    [failure] = outcome.failed
    assert failure.record_id == "999999" and failure.reason == GONE and not failure.retryable
    assert calls == ["companies.batch_update", "companies.batch_read"]


def test_a_whole_answer_reads_nothing_back() -> None:
    with Sandbox(people=5, seed=3) as box:
        api = HubSpotApi(
            box.hubspot.token, host=box.hubspot.base_url, policy=CallPolicy("hubspot", base_wait=0)
        )
        logged = len(box.hubspot.log)
        outcome = write_companies(api, [Write("1", {"name": "Acme"})])
        calls = [c.operation for c in box.hubspot.log[logged:]]
    assert outcome.written == ["1"] and not outcome.failed
    assert calls == ["companies.batch_update"]
