"""`HubSpotSandbox`: the route table and the request cycle (auth, rate limits, errors)."""

from __future__ import annotations

from sandbox.faults import DAILY_LIMIT, EXPIRED_SESSION, Fault
from sandbox.http import Handler, Request, Response
from sandbox.hubspot.association_routes import AssociationRoutes
from sandbox.hubspot.company_routes import COMPANIES, CompanyRoutes
from sandbox.hubspot.contact_routes import ContactRoutes
from sandbox.hubspot.email_event_routes import EmailEventRoutes
from sandbox.hubspot.errors import AUTH_MESSAGE, HubSpotError
from sandbox.hubspot.object_routes import ObjectRoutes
from sandbox.hubspot.property_routes import PropertyRoutes
from sandbox.hubspot.rate_limits import SEARCH_ENDPOINTS, rate_limited
from sandbox.hubspot.search_routes import SearchRoutes
from sandbox.hubspot.simulation import ActivitySimulation
from sandbox.hubspot.web_routes import WebRoutes

CONTACTS = "/crm/v3/objects/contacts"
PROPERTIES = "/crm/v3/properties/{objectType}"


class HubSpotSandbox(
    CompanyRoutes,
    ObjectRoutes,
    ContactRoutes,
    SearchRoutes,
    PropertyRoutes,
    EmailEventRoutes,
    AssociationRoutes,
    WebRoutes,
    ActivitySimulation,
):
    """HubSpot's CRM objects (companies among them), search, properties, email events,
    associations, forms and web analytics events, over a world."""

    def add_routes(self) -> None:
        for method, path, operation, handler in self._table():
            self.route(method, path, operation, self._guarded(handler))

    def _table(self) -> list[tuple[str, str, str, Handler]]:
        """(method, path, operation, handler); the first route a path matches serves it."""
        return [
            ("GET", CONTACTS, "contacts.list", self._list_contacts),
            ("POST", f"{CONTACTS}/search", "contacts.search", self._search_contacts),
            ("POST", f"{COMPANIES}/search", "companies.search", self._search_companies),
            (
                "POST",
                "/crm/v3/objects/{objectType}/search",
                "objects.search",
                self._search_objects,
            ),
            ("GET", "/crm/v3/pipelines/{objectType}", "pipelines.list", self._list_pipelines),
            ("POST", f"{CONTACTS}/batch/read", "contacts.batch_read", self._batch_read),
            ("POST", f"{CONTACTS}/batch/update", "contacts.batch_update", self._batch_update),
            ("GET", f"{CONTACTS}/{{contactId}}", "contacts.get", self._get_contact),
            ("PATCH", f"{CONTACTS}/{{contactId}}", "contacts.update", self._update_contact),
            ("GET", f"{PROPERTIES}/groups", "properties.groups.list", self._list_groups),
            ("POST", f"{PROPERTIES}/groups", "properties.groups.create", self._create_group),
            ("GET", PROPERTIES, "properties.list", self._list_properties),
            ("POST", PROPERTIES, "properties.create", self._create_property),
            ("GET", f"{PROPERTIES}/{{propertyName}}", "properties.get", self._get_property),
            (
                "PATCH",
                f"{PROPERTIES}/{{propertyName}}",
                "properties.update",
                self._update_property,
            ),
            ("GET", "/email/public/v1/events", "email.events", self._email_events),
            ("GET", "/marketing/v3/forms/?", "forms.list", self._list_forms),
            (
                "GET",
                "/form-integrations/v1/submissions/forms/{form_guid}",
                "forms.submissions",
                self._form_submissions,
            ),
            ("GET", "/events/v3/events/?", "web_events.list", self._web_events),
            (
                "GET",
                "/contacts/v1/contact/vid/{vid}/profile",
                "contacts.profile",
                self._contact_profile,
            ),
            ("GET", COMPANIES, "companies.list", self._list_companies),
            (
                "POST",
                f"{COMPANIES}/batch/read",
                "companies.batch_read",
                self._batch_read_companies,
            ),
            (
                "POST",
                f"{COMPANIES}/batch/update",
                "companies.batch_update",
                self._batch_update_companies,
            ),
            ("GET", f"{COMPANIES}/{{companyId}}", "companies.get", self._get_company),
            ("GET", "/crm/v3/objects/{objectType}", "objects.list", self._list_objects),
            ("GET", "/crm/v3/objects/{objectType}/{objectId}", "objects.get", self._get_object),
            (
                "DELETE",
                "/crm/v3/objects/{objectType}/{objectId}",
                "objects.archive",
                self._archive_object,
            ),
            (
                "POST",
                "/crm/v3/objects/{objectType}/batch/read",
                "objects.batch_read",
                self._batch_read_objects,
            ),
            (
                "GET",
                "/crm/v4/objects/{objectType}/{objectId}/associations/{toObjectType}",
                "associations.list",
                self._list_associations,
            ),
            (
                "POST",
                "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/read",
                "associations.batch_read",
                self._batch_read_associations,
            ),
        ]

    def _guarded(self, handler: Handler) -> Handler:
        """Serve one request at a time over the data; bad input answers 400 VALIDATION_ERROR."""

        def serve(request: Request) -> Response:
            try:
                with self.lock:
                    return handler(request)
            except HubSpotError as refused:
                return self._answer(refused)
            except (TypeError, AttributeError, KeyError, ValueError) as bad:
                return self._error(
                    400, f"Invalid input JSON: {type(bad).__name__}: {bad}", "VALIDATION_ERROR"
                )

        return serve

    # -- hooks of the base class ----------------------------------------------------------------

    def admit(self, request: Request) -> Response | None:
        """Bearer token, then the daily budget, the search limit and the rolling window."""
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return self._error(401, AUTH_MESSAGE, "INVALID_AUTHENTICATION")
        with self.lock:
            self.limits.start_day(self._vendor_day())
        refusal = self.limits.refusal(request.operation, self._vendor_ms())
        if refusal is None:
            return None
        policy, retry_after = refusal
        return rate_limited(policy, retry_after, self._correlation_id())

    def decorate(self, request: Request, response: Response) -> None:
        """Correlation id everywhere; rate-limit headers except on search answers."""
        response.headers.setdefault("X-HubSpot-Correlation-Id", self._correlation_id())
        if request.operation in SEARCH_ENDPOINTS or request.operation == "unknown":
            return
        response.headers.update(self.limits.headers())

    def fault_response(self, request: Request, fault: Fault) -> Response:
        if fault.status == 429:
            policy = "TEN_SECONDLY_ROLLING"
            return rate_limited(policy, str(fault.retry_after), self._correlation_id())
        if fault.status == DAILY_LIMIT:
            return rate_limited("DAILY", None, self._correlation_id())
        status = 500 if fault.status == EXPIRED_SESSION else fault.status
        return self._error(status, "internal error", "INTERNAL_ERROR")

    def not_found(self, request: Request) -> Response:
        return self._error(
            404, f"No such resource: {request.method} {request.path}", "OBJECT_NOT_FOUND"
        )
