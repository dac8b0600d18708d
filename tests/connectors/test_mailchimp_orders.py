"""Mailchimp e-commerce orders as purchases, pulled through the real SDK from the sandbox."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.mailchimp.client import MailchimpApi
from connectors.mailchimp.orders import (
    ORDERS_STREAM,
    VOID_STATUSES,
    order_activity,
    pull_orders,
)
from connectors.protocol import Withdrawn
from sandbox.mailchimp import STORE_ID, MailchimpSandbox
from sandbox.world.tables import World, WorldBuilder
from scoring.records import Activity
from scoring.records import ActivityType as T
from tests.connectors.mailchimp_api import hand_built, sandbox_api
from tests.sandbox.mailchimp_helpers import add_activity, reset

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def build_world() -> World:
    b = WorldBuilder(NOW)
    acme = b.company("Acme", "acme.io")
    ann = b.person("Ann", "Lee", "ann@acme.io", acme)
    fay = b.person("Fay", "Orr", "fay@acme.io", acme)
    b.person("Gus", "Poe", "gus@acme.io", acme)
    launch = b.campaign("Launch", "Meet leadscore", ago(10))
    b.event(ann, T.PURCHASE, ago(2), campaign=launch, amount=99.0)
    b.event(fay, T.PURCHASE, ago(1), amount=250.0)
    b.event(fay, T.PURCHASE, ago(200), amount=10.0)
    return b.build(seed=5)


@pytest.fixture(scope="module")
def server() -> Iterator[MailchimpSandbox]:
    with hand_built(build_world()) as emulator:
        yield emulator


@pytest.fixture
def sandbox(server: MailchimpSandbox) -> MailchimpSandbox:
    reset(server)
    return server


@pytest.fixture
def api(sandbox: MailchimpSandbox) -> MailchimpApi:
    return sandbox_api(sandbox)


def test_orders_of_the_window_are_purchases_with_amount_currency_and_date(
    api: MailchimpApi, sandbox: MailchimpSandbox
) -> None:
    pages = list(pull_orders(api, [sandbox.list_id], ago(90)))

    purchases = sorted(
        (a.contact_email, a.occurred_at, a.attributes["amount"])
        for p in pages
        for a in p.activities
    )
    assert {p.stream for p in pages} == {ORDERS_STREAM}
    assert all(p.cursor is None for p in pages)
    assert purchases == [("ann@acme.io", ago(2), 99.0), ("fay@acme.io", ago(1), 250.0)]
    ann = next(a for p in pages for a in p.activities if a.contact_email == "ann@acme.io")
    assert ann.type is T.PURCHASE
    assert (ann.contact_id, ann.contact_email) == ("", "ann@acme.io")  # by address
    assert ann.attributes["currency"] == "USD"
    assert ann.attributes["store"] == STORE_ID
    assert ann.attributes["campaign"] == sandbox.campaigns[0].id
    assert ann.revisable


def test_a_new_order_appears_on_the_next_pull_with_the_same_ids_for_the_old(
    api: MailchimpApi, sandbox: MailchimpSandbox
) -> None:
    before = {a.id for p in pull_orders(api, [sandbox.list_id], ago(90)) for a in p.activities}
    add_activity(sandbox, "gus@acme.io", T.PURCHASE, ago(0.5), amount=42.5)

    after = [a for p in pull_orders(api, [sandbox.list_id], ago(90)) for a in p.activities]

    assert before < {a.id for a in after}
    assert [(a.contact_email, a.attributes["amount"]) for a in after if a.id not in before] == [
        ("gus@acme.io", 42.5)
    ]


def test_stores_of_other_audiences_are_not_read(api: MailchimpApi) -> None:
    assert list(pull_orders(api, ["otherlist0"], None)) == []
    assert api.calls().get("ecommerce.get_store_orders", 0) == 0


ORDER = {
    "id": "o1",
    "customer": {"email_address": "a@b.io"},
    "processed_at_foreign": "2026-10-01T10:00:00+00:00",
    "order_total": 12.5,
    "currency_code": "EUR",
    "financial_status": "paid",
}


@pytest.mark.parametrize("status", ["refunded", "Cancelled"])
def test_a_refunded_or_cancelled_order_withdraws_its_purchase(status: str) -> None:
    paid = order_activity("s", "L1", ORDER, Counter())
    void = order_activity("s", "L1", {**ORDER, "financial_status": status}, Counter())

    assert isinstance(paid, Activity) and paid.revisable
    assert void == Withdrawn(paid.id)  # the purchase stored while it was paid is deleted


def test_orders_without_an_address_or_a_time_are_skipped_and_counted() -> None:
    skipped: Counter[str] = Counter()
    orders: list[Any] = [
        None,
        {**ORDER, "customer": {}},
        {**ORDER, "processed_at_foreign": "soon"},
        {**ORDER, "order_total": "lots"},
    ]

    found = [order_activity("s", "L1", o, skipped) for o in orders]

    assert [f is None for f in found] == [True, True, True, False]
    assert skipped == Counter(order=3, amount=1)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=15,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(ORDER)), JSON) | JSON)
def test_any_order_record_is_a_purchase_or_counted(order: Any) -> None:
    skipped: Counter[str] = Counter()

    record = {**ORDER, **order} if isinstance(order, dict) else order
    purchase = order_activity("s", "L1", record, skipped)

    assert purchase is not None or skipped["order"] == 1
    if isinstance(purchase, Withdrawn):
        assert str(record.get("financial_status")).lower() in VOID_STATUSES
