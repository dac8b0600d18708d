"""Routes for contacts: list, get, update, batch read and batch update."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from sandbox.http import Request, Response
from sandbox.hubspot.answers import batch_answer, list_answer
from sandbox.hubspot.arguments import (
    LIST_PAGE_MAX,
    batch_ids,
    batch_inputs,
    flag,
    int_value,
    list_arg,
    list_page,
    request_body,
)
from sandbox.hubspot.contact_table import ContactTable
from sandbox.hubspot.errors import (
    missing_contacts,
    object_not_found,
    record_error,
    validated_values,
)
from sandbox.hubspot.properties import DEFAULT_CONTACT_PROPERTIES, STAGE_RANK
from sandbox.hubspot.state import HubSpotState
from sandbox.hubspot.values import Json, PropertyValue, iso_millis


def without_backwards_stage(
    contacts: ContactTable, row: int, values: Mapping[str, PropertyValue]
) -> dict[str, PropertyValue]:
    """`values` less a move of lifecyclestage to an earlier stage, which HubSpot ignores:
    the request succeeds and the stage stays (moving back takes clearing it first)."""
    new, old = values.get("lifecyclestage"), contacts.value("lifecyclestage", row)
    if not isinstance(new, str) or old is None or STAGE_RANK[new] >= STAGE_RANK.get(old, -1):
        return dict(values)
    return {name: value for name, value in values.items() if name != "lifecyclestage"}


class ContactRoutes(HubSpotState):
    """/crm/v3/objects/contacts: list, get and PATCH by id or email, batch read and update."""

    def _list_contacts(self, request: Request) -> Response:
        names = list_arg(request, "properties") or DEFAULT_CONTACT_PROPERTIES
        links = list_arg(request, "associations")
        if flag(request.arg("archived")):
            return self._list_archived(request, names)
        size = self.contacts.size
        page = list_page(request, size, self._after_row(request))
        results = [self._contact_json(row, names, links) for row in page if row not in self.gone]
        return list_answer(request, self.base_url, results, page, size, self._after_token)

    def _list_archived(self, request: Request, names: Sequence[str]) -> Response:
        """`GET /crm/v3/objects/contacts?archived=true`: only archived contacts, each with
        `archived: true` and `archivedAt` (API reference crm-contacts-v3, basic "List": "archived:
        Whether to return only results that have been archived"; the object schema's
        `archivedAt`). A privacy-deleted contact is not among them."""
        start = self._after_row(request)
        rows = sorted(r for r in self.archived_at if r >= start and r not in self.purged)
        limit = min(max(int_value(request.arg("limit"), "limit", 10), 1), LIST_PAGE_MAX)
        page = range(min(limit, len(rows)))
        results = [
            {
                **self._contact_json(rows[i], names),
                "archived": True,
                "archivedAt": iso_millis(self.archived_at[rows[i]]),
            }
            for i in page
        ]
        body: Json = {"results": results}
        if page.stop < len(rows):
            after = self._after_token(rows[page.stop])
            link = f"{self.base_url}{request.path}?archived=true&after={quote(after)}"
            body["paging"] = {"next": {"after": after, "link": link}}
        return Response.json(body)

    def _get_contact(self, request: Request) -> Response:
        key = request.params["contactId"]
        row = self._find_contact(key, request.arg("idProperty"))
        if row is None:
            raise object_not_found(key)
        names = list_arg(request, "properties") or DEFAULT_CONTACT_PROPERTIES
        return Response.json(self._contact_json(row, names, list_arg(request, "associations")))

    def _update_contact(self, request: Request) -> Response:
        key = request.params["contactId"]
        row = self._find_contact(key, request.arg("idProperty"))
        if row is None:
            raise object_not_found(key)
        values = self._validated(request_body(request).get("properties"))
        self.write_contact(row, without_backwards_stage(self.contacts, row, values))
        return Response.json(self._contact_json(row, [*values, *DEFAULT_CONTACT_PROPERTIES]))

    def _validated(self, properties: Any) -> dict[str, PropertyValue]:
        """Written values as stored; any unknown, read-only or bad one fails the request."""
        return validated_values(self.contacts.coerce, properties)

    def _batch_read(self, request: Request) -> Response:
        body = request_body(request)
        inputs = batch_inputs(body)
        names = body.get("properties") or DEFAULT_CONTACT_PROPERTIES
        found: list[Json] = []
        missing: list[str] = []
        archived = str(request.arg("archived")).lower() == "true"
        for item in inputs:
            key = str(item.get("id"))
            if archived:
                # Only archived records answer; their JSON says so.
                gone = int(key) - 1 if key.isdigit() else -1
                if self.gone.get(gone, 0) is None and gone not in self.purged:
                    found.append({**self._contact_json(gone, names), "archived": True})
                else:
                    missing.append(key)
                continue
            row = self._find_contact(key, body.get("idProperty"))
            if row is None:
                missing.append(key)
            else:
                found.append(self._contact_json(row, names))
        errors = [missing_contacts(missing)] if missing else []
        return batch_answer(found, errors, iso_millis(self._vendor_ms()))

    def _batch_update(self, request: Request) -> Response:
        inputs = batch_inputs(request_body(request))
        keys = batch_ids(inputs)
        changes = [self._validated(item.get("properties")) for item in inputs]
        results: list[Json] = []
        errors: list[Json] = []
        missing: list[str] = []
        for item, key, values in zip(inputs, keys, changes, strict=True):
            row = self._find_contact(key, item.get("idProperty"))
            if row is None:
                missing.append(key)
                continue
            failure = self._record_failure(row, key, values)
            if failure is not None:
                errors.append(failure)
                continue
            self.write_contact(row, without_backwards_stage(self.contacts, row, values))
            results.append(self._contact_json(row, values))
        errors = ([missing_contacts(missing)] if missing else []) + errors
        return batch_answer(results, errors, iso_millis(self._vendor_ms()))

    def _record_failure(
        self, row: int, key: str, values: Mapping[str, PropertyValue]
    ) -> Json | None:
        """Why one record of a batch update fails: an injected fault."""
        if self.faults.record_fails():
            message = "The record could not be written (injected fault); a retry may succeed"
            return record_error("INTERNAL_ERROR", message, [key])
        return None
