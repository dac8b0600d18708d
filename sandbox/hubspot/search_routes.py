"""The search routes: contacts, companies, deals and engagements; filters, sort, query,
paging to the cap."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from sandbox.http import Request, Response
from sandbox.hubspot.arguments import int_value, request_body, unique
from sandbox.hubspot.companies import COMPANY_DEFAULTS, company_json
from sandbox.hubspot.contact_table import ContactTable
from sandbox.hubspot.crm_objects import OBJECT_TYPES, object_type
from sandbox.hubspot.errors import Invalid
from sandbox.hubspot.object_search import object_table
from sandbox.hubspot.properties import DEFAULT_CONTACT_PROPERTIES
from sandbox.hubspot.record_json import object_json
from sandbox.hubspot.search_filters import SEARCH_PAGE_MAX, search_rows, sort_rows
from sandbox.hubspot.state import HubSpotState
from sandbox.hubspot.values import Json, Positions


class SearchRoutes(HubSpotState):
    """POST /crm/v3/objects/{objectType}/search."""

    _object_tables: dict[str, tuple[int, ContactTable]]

    def _search_contacts(self, request: Request) -> Response:
        body = request_body(request)
        names = body.get("properties") or DEFAULT_CONTACT_PROPERTIES
        rows = self._live_rows(search_rows(self.contacts, body))
        rows = sort_rows(self.contacts, rows, body.get("sorts"))
        return self._search_page(body, rows, lambda row: self._contact_json(row, names))

    def _search_companies(self, request: Request) -> Response:
        """Companies by their properties (`hs_lastmodifieddate` among them), as the CRM
        search guide has every object searched; the default properties when none asked."""
        body = request_body(request)
        names = list(body.get("properties") or COMPANY_DEFAULTS)
        rows = sort_rows(self.companies, search_rows(self.companies, body), body.get("sorts"))
        return self._search_page(body, rows, lambda row: company_json(self.companies, row, names))

    def _search_objects(self, request: Request) -> Response:
        kind = object_type(request.params["objectType"])
        if kind == "contacts":
            return self._search_contacts(request)
        body = request_body(request)
        table = self._object_table(kind)
        objects = self.objects.by_type[kind]
        found = search_rows(table, body)  # search never answers an archived object
        found = found[np.array([not objects[int(r)].archived for r in found], dtype=bool)]
        rows = sort_rows(table, found, body.get("sorts"))
        names = unique([*(body.get("properties") or ()), *OBJECT_TYPES[kind].defaults])
        return self._search_page(
            body, rows, lambda row: object_json(self.contacts, kind, objects[row], names, ())
        )

    def _object_table(self, kind: str) -> ContactTable:
        """The objects of `kind` as search columns, rebuilt only after they changed."""
        if not hasattr(self, "_object_tables"):
            self._object_tables = {}
        cached = self._object_tables.get(kind)
        if cached is None or cached[0] != self.objects.version:
            cached = (self.objects.version, object_table(kind, self.objects.by_type[kind]))
            self._object_tables[kind] = cached
        return cached[1]

    def _live_rows(self, rows: Positions) -> Positions:
        """Rows of contacts still in the portal (not merged away, not archived)."""
        if not self.gone:
            return rows
        return rows[~np.isin(rows, list(self.gone))]

    def _search_page(
        self, body: Json, rows: Positions | Sequence[int], render: Callable[[int], Json]
    ) -> Response:
        """One page of matching rows: `after` is an offset, and no page reaches past the cap."""
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
        page = rows[after : after + limit]
        result: Json = {"total": len(rows), "results": [render(int(row)) for row in page]}
        if limit and after + limit < len(rows):
            result["paging"] = {"next": {"after": str(after + limit)}}
        return Response.json(result)
