"""Routes for deals and engagements (meetings, calls, emails) under /crm/v3/objects, and
the deal pipelines under /crm/v3/pipelines."""

from __future__ import annotations

from sandbox.http import Request, Response
from sandbox.hubspot.answers import batch_answer, list_answer
from sandbox.hubspot.arguments import batch_inputs, list_arg, list_page, request_body, unique
from sandbox.hubspot.contact_routes import ContactRoutes
from sandbox.hubspot.crm_objects import OBJECT_TYPES, object_type
from sandbox.hubspot.errors import HubSpotError, object_not_found, record_error
from sandbox.hubspot.pipelines import PIPELINES, pipeline_json
from sandbox.hubspot.record_json import object_json
from sandbox.hubspot.values import iso_millis


class ObjectRoutes(ContactRoutes):
    """/crm/v3/objects/{objectType}: list and get; contacts named another way go to contacts."""

    def _list_objects(self, request: Request) -> Response:
        kind = object_type(request.params["objectType"])
        if kind == "contacts":
            return self._list_contacts(request)
        objects = self.objects.by_type[kind]
        names = unique([*list_arg(request, "properties"), *OBJECT_TYPES[kind].defaults])
        links = list_arg(request, "associations")
        page = list_page(request, len(objects), self._after_row(request))
        results = [object_json(self.contacts, kind, objects[i], names, links) for i in page]
        return list_answer(request, self.base_url, results, page, len(objects), self._after_token)

    def _get_object(self, request: Request) -> Response:
        kind = object_type(request.params["objectType"])
        key = request.params["objectId"]
        if kind == "contacts":
            request.params["contactId"] = key
            return self._get_contact(request)
        item = self.objects.get(kind, key)
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
        found, missing = [], []
        for entry in batch_inputs(body):
            key = str(entry.get("id"))
            item = self.objects.get(kind, key)
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
