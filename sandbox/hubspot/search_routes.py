"""The contacts search route: filters, sort, the free-text query, offset paging to the cap."""

from __future__ import annotations

from sandbox.http import Request, Response
from sandbox.hubspot.arguments import int_value, request_body
from sandbox.hubspot.errors import Invalid
from sandbox.hubspot.properties import DEFAULT_CONTACT_PROPERTIES
from sandbox.hubspot.search_filters import SEARCH_PAGE_MAX, search_rows, sort_rows
from sandbox.hubspot.state import HubSpotState
from sandbox.hubspot.values import Json


class SearchRoutes(HubSpotState):
    """POST /crm/v3/objects/contacts/search."""

    def _search_contacts(self, request: Request) -> Response:
        body = request_body(request)
        limit = int_value(body.get("limit"), "limit", 10)
        after = int_value(body.get("after"), "after", 0)
        if not 0 <= limit <= SEARCH_PAGE_MAX or after < 0:
            raise Invalid("INVALID_LIMIT", f"limit must be between 0 and {SEARCH_PAGE_MAX}")
        if after + limit > self.search_result_cap:
            raise Invalid(
                "SEARCH_RESULT_LIMIT",
                f"Search can return only the first {self.search_result_cap} results of a query; "
                f"after={after} with limit={limit} pages beyond them",
            )
        rows = sort_rows(self.contacts, search_rows(self.contacts, body), body.get("sorts"))
        names = body.get("properties") or DEFAULT_CONTACT_PROPERTIES
        page = rows[after : after + limit]
        result: Json = {
            "total": len(rows),
            "results": [self._contact_json(int(row), names) for row in page],
        }
        if limit and after + limit < len(rows):
            result["paging"] = {"next": {"after": str(after + limit)}}
        return Response.json(result)
