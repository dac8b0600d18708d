"""Routes for deals and engagements (meetings, calls, emails) under /crm/v3/objects, and
the deal pipelines under /crm/v3/pipelines."""

from __future__ import annotations

from urllib.parse import quote

from sandbox.http import Request, Response
from sandbox.hubspot.answers import batch_answer
from sandbox.hubspot.arguments import (
    LIST_PAGE_MAX,
    batch_inputs,
    flag,
    int_value,
    list_arg,
    request_body,
    unique,
)
from sandbox.hubspot.contact_routes import ContactRoutes
from sandbox.hubspot.crm_objects import OBJECT_TYPES, object_type
from sandbox.hubspot.errors import HubSpotError, object_not_found, record_error
from sandbox.hubspot.pipelines import PIPELINES, pipeline_json
from sandbox.hubspot.record_json import object_json
from sandbox.hubspot.values import Json, iso_millis


class ObjectRoutes(ContactRoutes):
    """/crm/v3/objects/{objectType}: list and get; contacts named another way go to contacts."""

    def _list_objects(self, request: Request) -> Response:
        """One page of the live objects of a type, or with `archived=true` of the archived
        ones only, each with `archived: true` and `archivedAt` (API reference crm-deals-v3,
        basic "List": "archived: Whether to return only results that have been archived";
        an archived deal is one moved to the recycling bin by "Archive",
        `DELETE /crm/v3/objects/0-3/{dealId}`)."""
        kind = object_type(request.params["objectType"])
        if kind == "contacts":
            return self._list_contacts(request)
        objects = self.objects.by_type[kind]
        names = unique([*list_arg(request, "properties"), *OBJECT_TYPES[kind].defaults])
        links = list_arg(request, "associations")
        archived = flag(request.arg("archived"))
        start = self._after_row(request)
        limit = min(max(int_value(request.arg("limit"), "limit", 10), 1), LIST_PAGE_MAX)
        rows = [i for i in range(start, len(objects)) if objects[i].archived == archived]
        results = [object_json(self.contacts, kind, objects[i], names, links) for i in rows[:limit]]
        body: Json = {"results": results}
        if len(rows) > limit:
            after = self._after_token(rows[limit])
            query = "archived=true&" if archived else ""
            link = f"{self.base_url}{request.path}?{query}after={quote(after)}"
            body["paging"] = {"next": {"after": after, "link": link}}
        return Response.json(body)

    def _archive_object(self, request: Request) -> Response:
        """`DELETE /crm/v3/objects/{objectType}/{objectId}`: "Archive", moving the object to
        the recycling bin (204, no body); an id that is no live object answers 404."""
        kind = object_type(request.params["objectType"])
        key = request.params["objectId"]
        if kind == "contacts" or self.objects.get(kind, key) is None:
            raise object_not_found(key)
        self.objects.archive(kind, key, self._now_ms())
        return Response.empty()

    def _get_object(self, request: Request) -> Response:
        kind = object_type(request.params["objectType"])
        key = request.params["objectId"]
        if kind == "contacts":
            request.params["contactId"] = key
            return self._get_contact(request)
        item = self.objects.get(kind, key, archived=flag(request.arg("archived")))
        if item is None:
            raise object_not_found(key)
        names = unique([*list_arg(request, "properties"), *OBJECT_TYPES[kind].defaults])
        links = list_arg(request, "associations")
        return Response.json(object_json(self.contacts, kind, item, names, links))

    def _batch_read_objects(self, request: Request) -> Response:
        """POST /crm/v3/objects/{objectType}/batch/read: the objects of the `inputs` ids with
        the `properties` asked (HubSpot's "Read a batch of objects by internal ID"); a 207
        names the ids that are none."""
        kind = object_type(request.params["objectType"])
        if kind == "contacts":
            return self._batch_read(request)
        body = request_body(request)
        names = unique([*(body.get("properties") or []), *OBJECT_TYPES[kind].defaults])
        archived = flag(request.arg("archived"))  # only archived objects answer then
        found, missing = [], []
        for entry in batch_inputs(body):
            key = str(entry.get("id"))
            item = self.objects.get(kind, key, archived=archived)
            if item is None:
                missing.append(key)
            else:
                found.append(object_json(self.contacts, kind, item, names, []))
        message = f"Could not get some {kind} objects, they may be deleted or not exist."
        errors = [record_error("OBJECT_NOT_FOUND", message, missing)] if missing else []
        return batch_answer(found, errors, iso_millis(self._vendor_ms()))

    def _list_pipelines(self, request: Request) -> Response:
        """GET /crm/v3/pipelines/{objectType}: the deal pipelines with their stages."""
        raw = request.params["objectType"]
        if raw.lower() not in ("deals", "deal", "0-3"):
            raise HubSpotError(400, f"Unable to infer object type with pipelines from: {raw}")
        return Response.json({"results": [pipeline_json(p) for p in PIPELINES]})
