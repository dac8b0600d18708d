"""Routes for deals and engagements (meetings, calls, emails) under /crm/v3/objects."""

from __future__ import annotations

from sandbox.http import Request, Response
from sandbox.hubspot.answers import list_answer
from sandbox.hubspot.arguments import list_arg, list_page, unique
from sandbox.hubspot.contact_routes import ContactRoutes
from sandbox.hubspot.crm_objects import OBJECT_TYPES, object_type
from sandbox.hubspot.errors import object_not_found
from sandbox.hubspot.record_json import object_json


class ObjectRoutes(ContactRoutes):
    """/crm/v3/objects/{objectType}: list and get; contacts named another way go to contacts."""

    def _list_objects(self, request: Request) -> Response:
        kind = object_type(request.params["objectType"])
        if kind == "contacts":
            return self._list_contacts(request)
        objects = self.objects.by_type[kind]
        names = unique([*list_arg(request, "properties"), *OBJECT_TYPES[kind].defaults])
        links = list_arg(request, "associations")
        page = list_page(request, len(objects))
        results = [object_json(self.contacts, kind, objects[i], names, links) for i in page]
        return list_answer(request, self.base_url, results, page, len(objects))

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
