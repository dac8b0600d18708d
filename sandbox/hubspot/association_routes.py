"""Routes for v4 associations between contacts and their deals and engagements."""

from __future__ import annotations

from collections.abc import Iterable

from sandbox.http import Request, Response
from sandbox.hubspot.answers import batch_answer
from sandbox.hubspot.arguments import batch_inputs, int_value, request_body
from sandbox.hubspot.crm_objects import OBJECT_TYPES, object_type
from sandbox.hubspot.errors import record_error
from sandbox.hubspot.state import HubSpotState
from sandbox.hubspot.values import Json, iso_millis

ASSOCIATION_PAGE_MAX, ASSOCIATION_BATCH_MAX = 500, 1000


def association_targets(ids: Iterable[int], type_id: int) -> list[Json]:
    """v4 targets: `toObjectId` and the HubSpot-defined association type."""
    kind = {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}
    return [{"toObjectId": i, "associationTypes": [kind]} for i in ids]


class AssociationRoutes(HubSpotState):
    """/crm/v4/objects/.../associations/... and /crm/v4/associations/.../batch/read."""

    def _associated(self, source: str, key: str, target: str) -> tuple[list[int], int]:
        """Ids of the `target` objects associated with one `source` object, and the v4 type id."""
        if source == "contacts" and target in OBJECT_TYPES:
            contact = int(key) if key.isdigit() else 0
            return self.objects.linked(contact, target), OBJECT_TYPES[target].from_contacts[1]
        if target == "contacts" and source in OBJECT_TYPES:
            item = self.objects.get(source, key)
            return ([] if item is None else [item.contact]), OBJECT_TYPES[source].to_contacts[1]
        return [], 0

    def _list_associations(self, request: Request) -> Response:
        source = object_type(request.params["objectType"])
        target = object_type(request.params["toObjectType"])
        ids, type_id = self._associated(source, request.params["objectId"], target)
        limit = min(max(int_value(request.arg("limit"), "limit", 500), 1), ASSOCIATION_PAGE_MAX)
        start = max(int_value(request.arg("after"), "after", 0), 0)
        body: Json = {"results": association_targets(ids[start : start + limit], type_id)}
        if start + limit < len(ids):
            link = f"{self.base_url}{request.path}?after={start + limit}"
            body["paging"] = {"next": {"after": str(start + limit), "link": link}}
        return Response.json(body)

    def _batch_read_associations(self, request: Request) -> Response:
        source = object_type(request.params["fromObjectType"])
        target = object_type(request.params["toObjectType"])
        results: list[Json] = []
        errors: list[Json] = []
        for item in batch_inputs(request_body(request), ASSOCIATION_BATCH_MAX):
            key = str(item.get("id"))
            ids, type_id = self._associated(source, key, target)
            if ids:
                results.append({"from": {"id": key}, "to": association_targets(ids, type_id)})
            else:
                message = f"No {target[:-1]} is associated with {source[:-1]} {key}."
                errors.append(
                    record_error(
                        "OBJECT_NOT_FOUND",
                        message,
                        [key],
                        subCategory="crm.associations.NO_ASSOCIATIONS_FOUND",
                    )
                )
        return batch_answer(results, errors, iso_millis(self._vendor_ms()))
