"""`MailchimpSandbox`: the route table and the request cycle (auth, connection limit, faults)."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Mapping

from sandbox.faults import DAILY_LIMIT, EXPIRED_SESSION, Fault
from sandbox.http import Handler, Request, Response
from sandbox.mailchimp.activity_routes import ActivityRoutes
from sandbox.mailchimp.batch_routes import BatchRoutes
from sandbox.mailchimp.list_routes import ListRoutes
from sandbox.mailchimp.problems import (
    INTERNAL_ERROR,
    method_not_allowed,
    not_found,
    problem,
)
from sandbox.mailchimp.report_routes import ReportRoutes
from sandbox.mailchimp.segment_routes import SegmentRoutes
from sandbox.mailchimp.store_routes import StoreRoutes
from sandbox.mailchimp.subscribe_routes import SubscribeRoutes
from sandbox.mailchimp.values import API_ROOT

EMAIL_ACTIVITY = "reports.get_email_activity_for_campaign"
KEY_INVALID = "Your API key may be invalid, or you've attempted to access the wrong datacenter."


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The API key of a request: Basic auth's password (any user), or a bearer token."""
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return decoded.partition(":")[2]
    if scheme.lower() in ("bearer", "oauth"):
        return value.strip()
    return None


class MailchimpSandbox(
    ListRoutes,
    SubscribeRoutes,
    ActivityRoutes,
    ReportRoutes,
    SegmentRoutes,
    StoreRoutes,
    BatchRoutes,
):
    """The Mailchimp Marketing API v3 subset leadscore uses, over one projected world."""

    name = "mailchimp"

    def start(self, port: int = 0) -> MailchimpSandbox:
        self.warm_reports()
        super().start(port)
        return self

    def __enter__(self) -> MailchimpSandbox:
        return self.start()

    # -- routes -----------------------------------------------------------------------------

    def add_routes(self) -> None:
        for method, path, operation, handler in self._table():
            self.route(method, API_ROOT + path, operation, self._locked(handler))
        self.route("GET", "/batch-results/{name}", "batch_results", self._locked(self._results))

    def _table(self) -> list[tuple[str, str, str, Handler]]:
        """(method, path under /3.0, operation named after the SDK method, handler)."""
        member = "/lists/{list_id}/members/{subscriber_hash}"
        store = "/ecommerce/stores/{store_id}"
        segments = "/lists/{list_id}/segments"
        segment = segments + "/{segment_id}"
        lists, shop = "lists.", "ecommerce."
        return [
            ("GET", "/ping", "ping.get", self._ping),
            ("GET", "/lists", lists + "get_all_lists", self._lists),
            ("GET", "/lists/{list_id}", lists + "get_list", self._list),
            ("POST", "/lists/{list_id}", lists + "batch_list_members", self._batch_members),
            ("GET", "/lists/{list_id}/members", lists + "get_list_members_info", self._members),
            ("GET", member, lists + "get_list_member", self._member),
            ("PUT", member, lists + "set_list_member", self._put_member),
            ("PATCH", member, lists + "update_list_member", self._patch_member),
            ("DELETE", member, lists + "delete_list_member", self._archive_member),
            (
                "POST",
                member + "/actions/delete-permanent",
                lists + "delete_list_member_permanent",
                self._delete_member,
            ),
            ("GET", member + "/tags", lists + "get_list_member_tags", self._tags),
            ("POST", member + "/tags", lists + "update_list_member_tags", self._post_tags),
            ("GET", member + "/activity-feed", lists + "get_list_member_activity_feed", self._feed),
            ("GET", member + "/activity", lists + "get_list_member_activity", self._activity),
            ("GET", "/lists/{list_id}/merge-fields", lists + "get_list_merge_fields", self._fields),
            ("POST", "/lists/{list_id}/merge-fields", lists + "add_list_merge_field", self._add),
            ("GET", segments, lists + "list_segments", self._segments),
            ("POST", segments, lists + "create_segment", self._create_segment),
            ("GET", segment, lists + "get_segment", self._segment),
            ("POST", segment, lists + "batch_segment_members", self._batch_segment),
            ("GET", "/campaigns", "campaigns.list", self._campaigns),
            ("GET", "/campaigns/{campaign_id}", "campaigns.get", self._campaign),
            ("GET", "/reports", "reports.get_all_campaign_reports", self._reports),
            ("GET", "/reports/{campaign_id}/email-activity", EMAIL_ACTIVITY, self._email_activity),
            (
                "GET",
                "/reports/{campaign_id}/email-activity/{subscriber_hash}",
                "reports.get_email_activity_for_subscriber",
                self._subscriber_activity,
            ),
            (
                "GET",
                "/reports/{campaign_id}/unsubscribed",
                "reports.get_unsubscribed_list_for_campaign",
                self._unsubscribed,
            ),
            (
                "GET",
                "/reports/{campaign_id}/abuse-reports",
                "reports.get_campaign_abuse_reports",
                self._abuse_reports,
            ),
            ("GET", "/ecommerce/stores", shop + "stores", self._stores),
            ("GET", store, shop + "get_store", self._store),
            ("GET", store + "/customers", shop + "get_all_store_customers", self._customers),
            (
                "GET",
                store + "/customers/{customer_id}",
                shop + "get_store_customer",
                self._customer,
            ),
            ("GET", store + "/orders", shop + "get_store_orders", self._store_orders),
            ("GET", store + "/orders/{order_id}", shop + "get_order", self._order),
            ("GET", "/ecommerce/orders", shop + "orders", self._all_orders),
            ("POST", "/batches", "batches.start", self._start_batch),
            ("GET", "/batches", "batches.list", self._list_batches),
            ("GET", "/batches/{batch_id}", "batches.status", self._batch_status),
        ]

    def _locked(self, handler: Handler) -> Handler:
        """Handlers run one at a time; latency is spent before them, so calls still overlap."""

        def run(request: Request) -> Response:
            with self.lock:
                if self.batches and not self.advancing:
                    self.advance_batches()
                return handler(request)

        return run

    # -- the request cycle: auth, the connection limit, problem+json everywhere -------------

    def handle(self, request: Request) -> Response:
        """Count the request against its key's connections while it is served."""
        if not request.path.startswith(API_ROOT + "/"):
            return super().handle(request)
        key = presented_key(request.headers)
        with self.lock:
            self._local.refused = self.in_flight[key] >= self.max_connections
            self.in_flight[key] += 1
            self.peak_connections = max(self.peak_connections, self.in_flight[key])
        try:
            response = super().handle(request)
        finally:
            with self.lock:
                self.in_flight[key] -= 1
        if response.status == 405 and request.operation == "unknown":
            return method_not_allowed()
        return response

    def admit(self, request: Request) -> Response | None:
        if request.operation == "batch_results":
            return None
        key = presented_key(request.headers)
        if key is None:
            return problem(401, "API Key Missing", "Your request did not include an API key.")
        if key != self.api_key:
            return problem(401, "API Key Invalid", KEY_INVALID)
        if getattr(self._local, "refused", False):
            return self._too_many()
        return None

    def _too_many(self) -> Response:
        detail = f"You have exceeded the limit of {self.max_connections} simultaneous connections."
        return problem(429, "Too Many Requests", detail)

    def fault_response(self, request: Request, fault: Fault) -> Response:
        if fault.status == 429:
            return self._too_many()
        if fault.status == 503:
            return problem(503, "Service Unavailable", "The service is temporarily unavailable.")
        status = 500 if fault.status in (DAILY_LIMIT, EXPIRED_SESSION) else fault.status
        return problem(status, "Internal Server Error", INTERNAL_ERROR)

    def not_found(self, request: Request) -> Response:
        return not_found().response

    def decorate(self, request: Request, response: Response) -> None:
        response.headers.setdefault("X-Request-Id", str(uuid.uuid4()))
