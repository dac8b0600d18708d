"""Routes for company objects under /crm/v3/objects/companies: list, get, batch read and
batch update (HubSpot's companies API; sources in docs/sandbox.md)."""

from __future__ import annotations

from typing import Any

from sandbox.http import Request, Response
from sandbox.hubspot.answers import batch_answer, list_answer
from sandbox.hubspot.arguments import batch_ids, batch_inputs, list_arg, list_page, request_body
from sandbox.hubspot.companies import COMPANY_DEFAULTS, company_json
from sandbox.hubspot.errors import (
    object_not_found,
    record_error,
    validated_values,
)
from sandbox.hubspot.state import HubSpotState
from sandbox.hubspot.values import Json, PropertyValue, iso_millis

COMPANIES = "/crm/v3/objects/companies"
NOT_FOUND = "Could not get some companies objects, they may be deleted or not exist."


class CompanyRoutes(HubSpotState):
    """The portal's companies: the world's, one per employer (`sandbox.hubspot.companies`)."""

    def change_company(self, company_id: str, **properties: object) -> None:
        """Change a company's properties as a user would, moving its hs_lastmodifieddate to
        the sandbox's current time."""
        with self.lock:
            row = self.company_row(company_id)
            if row is None:
                raise KeyError(company_id)
            for name, value in properties.items():
                self.companies.set(name, row, self.companies.coerce(name, value))
            self.companies.set("hs_lastmodifieddate", row, self._now_ms())

    def company_row(self, key: str) -> int | None:
        row = int(key) - 1 if key.isdigit() else -1
        return row if 0 <= row < self.companies.size else None

    def _list_companies(self, request: Request) -> Response:
        names = list_arg(request, "properties") or list(COMPANY_DEFAULTS)
        size = self.companies.size
        page = list_page(request, size, self._after_row(request))
        results = [company_json(self.companies, row, names) for row in page]
        return list_answer(request, self.base_url, results, page, size, self._after_token)

    def _get_company(self, request: Request) -> Response:
        key = request.params["companyId"]
        row = self.company_row(key)
        if row is None:
            raise object_not_found(key)
        names = list_arg(request, "properties") or list(COMPANY_DEFAULTS)
        return Response.json(company_json(self.companies, row, names))

    def _batch_read_companies(self, request: Request) -> Response:
        """The companies of the `inputs` ids with the `properties` asked; a 207 names the
        ids that are none."""
        body = request_body(request)
        names = list(body.get("properties") or COMPANY_DEFAULTS)
        found, missing = [], []
        for entry in batch_inputs(body):
            key = str(entry.get("id"))
            row = self.company_row(key)
            if row is None:
                missing.append(key)
            else:
                found.append(company_json(self.companies, row, names))
        errors = [record_error("OBJECT_NOT_FOUND", NOT_FOUND, missing)] if missing else []
        return batch_answer(found, errors, iso_millis(self._vendor_ms()))

    def _batch_update_companies(self, request: Request) -> Response:
        """Up to 100 companies by id; an unknown or read-only property or a bad value
        refuses the whole batch (400). An unknown id is left out of `results` and named
        nowhere: a 207 without errors (docs/sandbox.md: HubSpot's reference does not
        say; this is what integrators report, and the least a connector may rely on)."""
        inputs = batch_inputs(request_body(request))
        keys = batch_ids(inputs)
        changes = [self._company_values(item.get("properties")) for item in inputs]
        results: list[Json] = []
        missing: list[str] = []
        for key, values in zip(keys, changes, strict=True):
            row = self.company_row(key)
            if row is None:
                missing.append(key)
                continue
            for name, value in values.items():
                self.companies.set(name, row, value)
            self.companies.set("hs_lastmodifieddate", row, self._now_ms())
            results.append(company_json(self.companies, row, list(values)))
        return batch_answer(results, [], iso_millis(self._vendor_ms()), partial=bool(missing))

    def _company_values(self, properties: Any) -> dict[str, PropertyValue]:
        """Written values as stored; any unknown, read-only or bad one fails the request."""
        return validated_values(self.companies.coerce, properties)
