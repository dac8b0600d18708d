"""Routes for the e-commerce store: the store, its customers and its orders."""

from __future__ import annotations

from typing import Any

from sandbox.http import Request, Response
from sandbox.mailchimp.answers import page, shaped
from sandbox.mailchimp.arguments import path_param
from sandbox.mailchimp.orders import Order, customer_id
from sandbox.mailchimp.problems import not_found
from sandbox.mailchimp.state import MailchimpState
from sandbox.mailchimp.values import iso

STORE_ID = "leadscore_store"


class StoreRoutes(MailchimpState):
    """GET /ecommerce/stores[/{store_id}[/customers|/orders]] and GET /ecommerce/orders."""

    def _store_json(self) -> dict[str, Any]:
        created = iso(self.epoch - 365 * 86_400)
        return {
            "id": STORE_ID,
            "list_id": self.list_id,
            "name": "Leadscore sandbox store",
            "platform": "",
            "domain": "shop.leadscore.invalid",
            "is_syncing": False,
            "currency_code": "USD",
            "money_format": "$",
            "primary_locale": "en",
            "timezone": "UTC",
            "list_is_active": True,
            "created_at": created,
            "updated_at": created,
        }

    def _check_store(self, request: Request) -> None:
        if path_param(request, "store_id") != STORE_ID:
            raise not_found()

    def _stores(self, request: Request) -> Response:
        return shaped(request, {"stores": page([self._store_json()], request), "total_items": 1})

    def _store(self, request: Request) -> Response:
        self._check_store(request)
        return shaped(request, self._store_json())

    def _customer_json(self, row: int) -> dict[str, Any]:
        member, orders = self.audience.member(row), self.orders_by_row[row]
        found = {
            "id": customer_id(member.email),
            "email_address": member.email,
            "opt_in_status": self.audience.status(row) == "subscribed",
            "company": str(member.merge_fields.get("COMPANY", "")),
            "first_name": str(member.merge_fields.get("FNAME", "")),
            "last_name": str(member.merge_fields.get("LNAME", "")),
            "orders_count": len(orders),
            "total_spent": round(sum(o.amount for o in orders), 2),
            "created_at": iso(min(o.at for o in orders)),
            "updated_at": iso(max(o.at for o in orders)),
        }
        if row in self.audience.deleted:  # deleted for good: its personal data removed
            found.update(email_address="", first_name="", last_name="", company="")
        return found

    def _customer_rows(self, email: str = "") -> list[int]:
        """Rows of members with orders, in list order; optionally only one address."""
        rows = sorted(row for row, orders in self.orders_by_row.items() if orders)
        wanted = email.strip().lower()
        return [r for r in rows if not wanted or self.audience.emails[r].lower() == wanted]

    def _customers(self, request: Request) -> Response:
        self._check_store(request)
        rows = self._customer_rows(request.arg("email_address") or "")
        payload = {
            "store_id": STORE_ID,
            "customers": [self._customer_json(r) for r in page(rows, request)],
            "total_items": len(rows),
        }
        return shaped(request, payload)

    def _customer(self, request: Request) -> Response:
        self._check_store(request)
        wanted = path_param(request, "customer_id")
        for row in self._customer_rows():
            if customer_id(self.audience.emails[row]) == wanted:
                return shaped(request, self._customer_json(row))
        raise not_found()

    def _order_json(self, order: Order) -> dict[str, Any]:
        customer = self._customer_json(order.row)
        del customer["created_at"], customer["updated_at"]
        line = {
            "id": f"{order.id}_line_1",
            "product_id": "subscription",
            "product_title": "Subscription",
            "product_variant_id": "subscription_annual",
            "product_variant_title": "Annual",
            "quantity": 1,
            "price": order.amount,
            "discount": 0,
        }
        return {
            "id": order.id,
            "customer": customer,
            "store_id": STORE_ID,
            "campaign_id": order.campaign,
            "financial_status": "paid",
            "fulfillment_status": "",
            "currency_code": "USD",
            "order_total": order.amount,
            "discount_total": 0,
            "tax_total": 0,
            "shipping_total": 0,
            "processed_at_foreign": iso(order.at),
            "updated_at_foreign": iso(order.at),
            "lines": [line],
        }

    def _filtered_orders(self, request: Request) -> list[Order]:
        customer, campaign = request.arg("customer_id"), request.arg("campaign_id")
        return [
            o
            for o in self.orders
            if (not customer or customer_id(self.audience.emails[o.row]) == customer)
            and (not campaign or o.campaign == campaign)
        ]

    def _store_orders(self, request: Request) -> Response:
        self._check_store(request)
        orders = self._filtered_orders(request)
        items = [self._order_json(o) for o in page(orders, request)]
        return shaped(request, {"store_id": STORE_ID, "orders": items, "total_items": len(orders)})

    def _all_orders(self, request: Request) -> Response:
        orders = self._filtered_orders(request)
        items = [self._order_json(o) for o in page(orders, request)]
        return shaped(request, {"orders": items, "total_items": len(orders)})

    def _order(self, request: Request) -> Response:
        self._check_store(request)
        wanted = path_param(request, "order_id")
        order = next((o for o in self.orders if o.id == wanted), None)
        if order is None:
            raise not_found()
        return shaped(request, self._order_json(order))
