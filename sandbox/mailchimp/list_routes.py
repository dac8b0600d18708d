"""Routes for the account and its list: ping, lists, merge fields."""

from __future__ import annotations

import re
from typing import Any

from sandbox.http import Request, Response
from sandbox.mailchimp.answers import ok, page, shaped
from sandbox.mailchimp.arguments import json_body
from sandbox.mailchimp.audience import MergeField
from sandbox.mailchimp.problems import invalid, schema_error
from sandbox.mailchimp.state import MailchimpState
from sandbox.mailchimp.values import LIST_NAME, iso, web_id

MERGE_TYPES = frozenset(
    {
        "text",
        "number",
        "address",
        "phone",
        "date",
        "url",
        "imageurl",
        "radio",
        "dropdown",
        "birthday",
        "zip",
    }
)


MERGE_TAG = re.compile(r"^[A-Z0-9_]{1,10}$")
DATE_FORMATS = ("MM/DD/YYYY", "DD/MM/YYYY")


def merge_options(kind: str, given: Any) -> dict[str, Any]:
    """A merge field's options; a date field's `date_format` defaults to MM/DD/YYYY."""
    options = dict(given or {}) if isinstance(given, dict) else {}
    if kind == "date":
        options.setdefault("date_format", "MM/DD/YYYY")
        if options["date_format"] not in DATE_FORMATS:
            accepted = ", ".join(DATE_FORMATS)
            message = f"Data presented is not one of the accepted values: {accepted}"
            raise schema_error("options.date_format", message)
    return options


class ListRoutes(MailchimpState):
    """GET /ping, GET /lists, GET /lists/{list_id}, GET and POST its merge-fields."""

    def _ping(self, request: Request) -> Response:
        return ok({"health_status": "Everything's Chimpy!"})

    def _lists(self, request: Request) -> Response:
        lists = page([self._list_json()], request)
        return shaped(request, {"lists": lists, "total_items": 1, "constraints": {}})

    def _list(self, request: Request) -> Response:
        self._check_list(request)
        return shaped(request, self._list_json())

    def _list_json(self) -> dict[str, Any]:
        counts, now = self.audience.counts(), self.now()
        sent = [c.send_time for c in self.campaigns if c.status(now) == "sent"]
        return {
            "id": self.list_id,
            "web_id": web_id("list", self.list_id),
            "name": LIST_NAME,
            "contact": {"company": "Leadscore", "country": "US"},
            "permission_reminder": "You signed up on our website.",
            "campaign_defaults": {"from_name": "Leadscore", "language": "en"},
            "date_created": iso(self.epoch - 365 * 86_400),
            "list_rating": 3,
            "double_optin": True,
            "stats": {
                "member_count": counts["subscribed"],
                "unsubscribe_count": counts["unsubscribed"],
                "cleaned_count": counts["cleaned"],
                "campaign_count": len(self.campaigns),
                "campaign_last_sent": iso(max(sent)) if sent else "",
                "merge_field_count": len(self.audience.merge_fields),
            },
        }

    # -- merge fields -----------------------------------------------------------------------

    def _fields(self, request: Request) -> Response:
        self._check_list(request)
        kind = request.arg("type")
        specs = [s for s in self.audience.merge_fields if kind is None or s.type == kind]
        payload = {
            "merge_fields": [s.to_json(self.list_id) for s in page(specs, request)],
            "list_id": self.list_id,
            "total_items": len(specs),
        }
        return shaped(request, payload)

    def _add(self, request: Request) -> Response:
        self._check_list(request)
        spec = self._new_merge_field(json_body(request))
        self.audience.merge_fields.append(spec)
        for member in self.audience.edited.values():
            member.merge_fields.setdefault(spec.tag, spec.default_value)
        return ok(spec.to_json(self.list_id))

    def _new_merge_field(self, body: dict[str, Any]) -> MergeField:
        name, kind = body.get("name"), body.get("type")
        if not isinstance(name, str) or not name.strip():
            raise schema_error("name", "This value should not be blank.")
        if kind not in MERGE_TYPES:
            accepted = ", ".join(sorted(MERGE_TYPES))
            message = f"Data presented is not one of the accepted values: {accepted}"
            raise schema_error("type", message)
        fields = self.audience.merge_fields
        tag = str(body.get("tag") or f"MMERGE{len(fields) + 1}").strip().upper()
        if not MERGE_TAG.match(tag):
            message = "A merge tag is 1 to 10 upper-case letters, digits or underscores."
            raise schema_error("tag", message)
        if self.audience.merge_field(tag) is not None:
            raise invalid(f'A Merge Field with the tag "{tag}" already exists for this list.')
        return MergeField(
            merge_id=max(s.merge_id for s in fields) + 1,
            tag=tag,
            name=name.strip(),
            type=str(kind),
            required=bool(body.get("required", False)),
            default_value=str(body.get("default_value", "")),
            public=bool(body.get("public", True)),
            display_order=len(fields) + 1,
            options=merge_options(str(kind), body.get("options")),
            help_text=str(body.get("help_text", "")),
        )
