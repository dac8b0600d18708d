"""Mailchimp e-commerce orders as `purchase` activities, for RFM.

The walk: the account's connected stores (`ecommerce.stores`), those of the audiences
(a store's `list_id`), then each store's orders (`ecommerce.get_store_orders`, 1,000 a
call, `offset` paging). Each order is one `purchase` of the order's customer, by its
address (`customer.email_address`, no record id: `keys`), at `processed_at_foreign`,
with `amount` (`order_total`), `currency` (`currency_code`), `store`, `order`,
`financial_status` and, when the order came from one, `campaign`.

No cursor: neither the stores' nor the account's order list takes a time filter (their
filters are campaign_id, outreach_id, customer_id and has_outreach only), so each pull
reads every order again and keeps those processed since `oldest` (the rule set's longest
window). The activity id "mcorder:{store}:{order}" keeps one of each in the store, and
the activity is `revisable` (an amount put right replaces what was stored). A refunded,
cancelled or voided order (`financial_status`) is no purchase: the page withdraws its
activity id (`Page.withdrawn`), so one stored while the order was paid is deleted and
neither RFM nor any rule counts it any more (its recency and frequency included).
`ecommerce.stores` takes no `list_id` filter either: the stores are filtered here.

An order without an id, a customer address or a processing time is skipped and counted
("order"); one whose total is not a number counts as 0 and is counted ("amount").

Sources: the API reference as mailchimp-marketing 3.0.80 mirrors it in its docstrings
(`ecommerce.get_store_orders` and `ecommerce.orders`: count "Maximum value is 1000",
filters campaign_id, outreach_id, customer_id, has_outreach; `ecommerce.stores`: fields,
exclude_fields, count, offset); the order fields (`customer.email_address`, `order_total`,
`currency_code`, `processed_at_foreign`, `financial_status`, `campaign_id`) as the
reference's response schema gives them, seen through third-party mirrors
(https://withone.ai/knowledge/mailchimp-marketing "List a Store's Orders"), Mailchimp's own
page (https://mailchimp.com/developer/marketing/api/ecommerce-orders/) not being among our
stored copies.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from connectors.mailchimp.collections_walk import MailchimpCalls, walk_collection
from connectors.mailchimp.keys import MC
from connectors.protocol import Page, Withdrawn
from connectors.values import finite_number, parse_time
from scoring.records import Activity, ActivityType

log = logging.getLogger(__name__)

ORDERS_STREAM = "orders"
VOID_STATUSES = frozenset({"refunded", "cancelled", "canceled", "voided"})
"""Financial statuses of an order that is no purchase (any case)."""


def audience_stores(api: MailchimpCalls, list_ids: Sequence[str]) -> list[tuple[str, str]]:
    """(store id, list id) of each connected store of the audiences."""
    wanted = set(list_ids)
    return [
        (store["id"], store["list_id"])
        for items in walk_collection(api, "ecommerce.stores", "stores")
        for store in items
        if isinstance(store, Mapping)
        and isinstance(store.get("id"), str)
        and store.get("list_id") in wanted
    ]


def order_activity(
    store_id: str, list_id: str, order: Any, skipped: Counter[str]
) -> Activity | Withdrawn | None:
    """The purchase one order means; for a refunded or cancelled one, the withdrawal of
    the purchase it meant while paid; None (counted in `skipped`) when it means none."""
    if not isinstance(order, Mapping):
        skipped["order"] += 1
        return None
    customer = order.get("customer")
    email = customer.get("email_address") if isinstance(customer, Mapping) else None
    at, ident = parse_time(order.get("processed_at_foreign")), order.get("id")
    if not isinstance(email, str) or not email.strip() or at is None or not ident:
        skipped["order"] += 1
        return None
    activity_id = f"mcorder:{store_id}:{ident}"
    if str(order.get("financial_status") or "").lower() in VOID_STATUSES:
        return Withdrawn(activity_id)
    amount = finite_number(order.get("order_total"))
    if amount is None:
        skipped["amount"] += 1
    attributes: dict[str, Any] = {
        "amount": 0.0 if amount is None else amount,
        "store": store_id,
        "order": str(order["id"]),
        "list_id": list_id,
    }
    for name, field in (
        ("currency", "currency_code"),
        ("financial_status", "financial_status"),
        ("campaign", "campaign_id"),
    ):
        if isinstance(order.get(field), str) and order[field]:
            attributes[name] = order[field]
    return Activity(
        "",  # by address alone (`keys`)
        ActivityType.PURCHASE,
        at,
        id=activity_id,
        attributes=attributes,
        source=MC,
        contact_email=email.strip(),
        revisable=True,
    )


def pull_orders(
    api: MailchimpCalls,
    list_ids: Sequence[str],
    oldest: datetime | None,
    *,
    skipped: Counter[str] | None = None,
) -> Iterator[Page]:
    """Pages of the "orders" stream: the purchases since `oldest` in the audiences' stores,
    and the withdrawals of refunded and cancelled orders (whatever their age: a purchase
    stored before must go).

    Every pull reads every order (there is no time filter), so no page carries a cursor.
    """
    counts: Counter[str] = Counter() if skipped is None else skipped
    for store_id, list_id in audience_stores(api, list_ids):
        operation = "ecommerce.get_store_orders"
        for items in walk_collection(api, operation, "orders", store_id):
            found = [order_activity(store_id, list_id, order, counts) for order in items]
            void = [w for w in found if isinstance(w, Withdrawn)]
            kept = [
                a
                for a in found
                if isinstance(a, Activity) and (oldest is None or a.occurred_at >= oldest)
            ]
            if kept or void:
                yield Page(ORDERS_STREAM, activities=kept, withdrawn=void)
    if counts:
        log.warning("Mailchimp orders passed over: %s", dict(sorted(counts.items())))
