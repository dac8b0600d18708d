"""Forms, their submissions and web analytics events: the per-event history of a contact.

- GET /marketing/v3/forms/: the portal's forms.
- GET /form-integrations/v1/submissions/forms/{form_guid}: one form's submissions, newest
  first, at most 50 a page.
- GET /contacts/v1/contact/vid/{vid}/profile: one contact's form submissions (a trigger's).
- GET /events/v3/events/: event occurrences (page views as `e_visited_page`) of contacts,
  on Enterprise portals only; others answer 403.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import numpy as np

from sandbox.http import Request, Response
from sandbox.hubspot.arguments import int_value
from sandbox.hubspot.email_event_routes import PORTAL_ID, decode_offset, encode_offset
from sandbox.hubspot.errors import HubSpotError, Invalid
from sandbox.hubspot.state import HubSpotState
from sandbox.hubspot.values import Json
from sandbox.hubspot.web_logs import FORM_KINDS, FORMS, form_id, page_title

SUBMISSIONS_PAGE_DEFAULT, SUBMISSIONS_PAGE_MAX = 20, 50
VIEWS_PAGE_DEFAULT, VIEWS_PAGE_MAX = 10, 100
PAGE_VIEW_EVENT = "e_visited_page"
SUBMISSION_ID_BASE, VIEW_ID_BASE = 0x5B3155 << 104, 0x71E3 << 112
FORMS_CREATED = "2024-01-15T09:00:00Z"
TIER_MESSAGE = (
    "The events API requires a Marketing, Sales, Service, Content or Data Hub"
    " Enterprise subscription."
)


def iso_ms(ms: float) -> str:
    moment = datetime.fromtimestamp(ms / 1000.0, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def epoch_ms_of(raw: str, name: str) -> float:
    """A query's ISO-8601 time (the SDK sends `datetime.isoformat()`) in epoch milliseconds."""
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise Invalid("INVALID_DATE", f"{name} is not a date-time: {raw}") from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.timestamp() * 1000.0


class WebRoutes(HubSpotState):
    """Forms, form submissions and web analytics events."""

    def _list_forms(self, request: Request) -> Response:
        results = [
            {
                "id": form_id(position),
                "name": FORMS[kind],
                "formType": "hubspot",
                "createdAt": FORMS_CREATED,
                "updatedAt": FORMS_CREATED,
                "archived": False,
            }
            for position, kind in enumerate(FORM_KINDS)
        ]
        return Response.json({"results": results})

    def _form_submissions(self, request: Request) -> Response:
        guid = request.params["form_guid"]
        forms = [form_id(position) for position in range(len(FORM_KINDS))]
        if guid not in forms:
            raise HubSpotError(404, f"Form {guid} does not exist", "OBJECT_NOT_FOUND")
        limit = int_value(request.arg("limit"), "limit", SUBMISSIONS_PAGE_DEFAULT)
        if not 1 <= limit <= SUBMISSIONS_PAGE_MAX:
            raise Invalid("INVALID_LIMIT", f"limit must be between 1 and {SUBMISSIONS_PAGE_MAX}")
        log = self.form_log
        log.flush()
        mine = np.flatnonzero(log.form == forms.index(guid))
        newest_first = mine[np.argsort(-log.at[mine], kind="stable")]
        start = decode_offset(request.arg("after")) + 1
        page = newest_first[start : start + limit]
        body: Json = {"results": [self._submission_json(int(p)) for p in page]}
        if start + limit < len(newest_first):
            token = encode_offset(start + limit - 1)
            link = f"{self.base_url}{request.path}?after={token}&limit={limit}"
            body["paging"] = {"next": {"after": token, "link": link}}
        return Response.json(body)

    def _submission_json(self, position: int) -> Json:
        log = self.form_log
        row, url = int(log.row[position]), int(log.url[position])
        values = [
            {"name": name, "value": self.contacts.value(name, row)}
            for name in ("email", "firstname", "lastname")
            if self.contacts.value(name, row)
        ]
        return {
            "conversionId": str(uuid.UUID(int=SUBMISSION_ID_BASE + position)),
            "submittedAt": int(log.at[position]),
            "values": values,
            "pageUrl": self.urls[url] if url >= 0 else "",
        }

    def _contact_profile(self, request: Request) -> Response:
        """The legacy v1 contact profile, with only its `form-submissions` filled in."""
        key = request.params["vid"]
        row = int(key) - 1 if key.isdigit() else -1
        if not 0 <= row < self.contacts.size:
            raise HubSpotError(404, "contact does not exist", "OBJECT_NOT_FOUND")
        log = self.form_log
        log.flush()
        mine = np.flatnonzero(log.row == row)
        submissions = []
        for position in mine[np.argsort(-log.at[mine], kind="stable")]:
            item = self._submission_json(int(position))
            submissions.append(
                {
                    "conversion-id": item["conversionId"],
                    "timestamp": item["submittedAt"],
                    "form-id": form_id(int(log.form[position])),
                    "portal-id": PORTAL_ID,
                    "page-url": item["pageUrl"],
                    "title": page_title(item["pageUrl"]),
                    "form-type": "HUBSPOT",
                }
            )
        return Response.json({"vid": row + 1, "form-submissions": submissions})

    def _web_events(self, request: Request) -> Response:
        if not self.web_analytics:
            raise HubSpotError(403, TIER_MESSAGE, "FORBIDDEN")
        object_type = (request.arg("objectType") or "").lower()
        if object_type not in ("contact", "contacts", "0-1"):
            raise Invalid("INVALID_OBJECT_TYPE", "objectType is required: contact")
        log = self.view_log
        log.flush()
        mask = np.ones(len(log), dtype=bool)
        event_type = request.arg("eventType")
        if event_type and event_type != PAGE_VIEW_EVENT:
            mask[:] = False
        if request.arg("objectId"):
            mask &= log.row == int_value(request.arg("objectId"), "objectId", 0) - 1
        if request.arg("occurredAfter"):
            mask &= log.at > epoch_ms_of(request.arg("occurredAfter") or "", "occurredAfter")
        if request.arg("occurredBefore"):
            mask &= log.at < epoch_ms_of(request.arg("occurredBefore") or "", "occurredBefore")
        positions = np.flatnonzero(mask)
        positions = positions[positions > decode_offset(request.arg("after"))]
        limit = int_value(request.arg("limit"), "limit", VIEWS_PAGE_DEFAULT)
        page = positions[: min(max(limit, 1), VIEWS_PAGE_MAX)]
        body: Json = {"results": [self._view_json(int(p)) for p in page]}
        if len(positions) > len(page):
            token = encode_offset(int(page[-1]))
            link = f"{self.base_url}{request.path}?after={token}"
            body["paging"] = {"next": {"after": token, "link": link}}
        return Response.json(body)

    def _view_json(self, position: int) -> Json:
        log = self.view_log
        url = int(log.url[position])
        address = self.urls[url] if url >= 0 else ""
        return {
            "objectType": "CONTACT",
            "objectId": str(int(log.row[position]) + 1),
            "eventType": PAGE_VIEW_EVENT,
            "occurredAt": iso_ms(float(log.at[position])),
            "id": str(uuid.UUID(int=VIEW_ID_BASE + position)),
            "properties": {"hs_url": address, "hs_title": page_title(address)},
        }
