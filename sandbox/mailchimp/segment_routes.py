"""Routes for tags as static segments: list, create, get, and batch add or remove members."""

from __future__ import annotations

from typing import Any

from sandbox.http import Request, Response
from sandbox.mailchimp.answers import ok, page, shaped
from sandbox.mailchimp.arguments import json_body, path_param
from sandbox.mailchimp.member_json import member_json
from sandbox.mailchimp.problems import invalid, json_kind, not_found, schema_error
from sandbox.mailchimp.segments import segment_json, segment_names
from sandbox.mailchimp.state import MailchimpState

SEGMENT_BATCH_LIMIT = 500
SEGMENT_TYPES = ("saved", "static", "fuzzy")
NOT_MEMBERS = "Email addresses are not list members."


def email_list(body: dict[str, Any], name: str) -> list[str]:
    """An array of addresses of a body (up to 500), or Mailchimp's 400."""
    value = body.get(name, [])
    if not isinstance(value, list):
        raise schema_error(name, f"Schema describes array, {json_kind(value)} found instead")
    if len(value) > SEGMENT_BATCH_LIMIT:
        raise schema_error(name, f"Schema describes array with at most {SEGMENT_BATCH_LIMIT} items")
    for n, item in enumerate(value):
        if not isinstance(item, str):
            message = f"Schema describes string, {json_kind(item)} found instead"
            raise schema_error(f"{name}.item:{n}", message)
    return [item.strip() for item in value]


class SegmentRoutes(MailchimpState):
    """/lists/{list_id}/segments: every tag is a static segment (saved segments are not kept)."""

    def _segments(self, request: Request) -> Response:
        self._check_list(request)
        kind = request.arg("type") or None
        if kind is not None and kind not in SEGMENT_TYPES:
            accepted = ", ".join(SEGMENT_TYPES)
            message = f"Data presented is not one of the accepted values: {accepted}"
            raise schema_error("type", message)
        names = segment_names(self.audience) if kind in (None, "static") else []
        items = [segment_json(self.audience, n, self.epoch) for n in page(names, request)]
        payload = {"segments": items, "list_id": self.list_id, "total_items": len(names)}
        return shaped(request, payload)

    def _segment_name(self, request: Request) -> str:
        self._check_list(request)
        wanted = path_param(request, "segment_id")
        for name in segment_names(self.audience):
            if str(self.audience.tag_id(name)) == wanted:
                return name
        raise not_found()

    def _segment(self, request: Request) -> Response:
        name = self._segment_name(request)
        return shaped(request, segment_json(self.audience, name, self.epoch))

    def _create_segment(self, request: Request) -> Response:
        self._check_list(request)
        body = json_body(request)
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise schema_error("name", "This value should not be blank.")
        name = name.strip()
        if "options" in body:
            raise invalid("Only static segments (tags) can be created here.")
        if name in segment_names(self.audience):
            raise invalid(f'A tag or segment named "{name}" already exists.')
        emails = email_list(body, "static_segment")
        now = self.now()
        self.audience.tag_created[name] = now
        self.audience.tag_id(name)
        for email in emails:  # addresses that are not members are ignored
            row = self.audience.row_of(email)
            if row is not None:
                self.audience.set_tag(row, name, True, now)
        return ok(segment_json(self.audience, name, self.epoch))

    def _batch_segment(self, request: Request) -> Response:
        name = self._segment_name(request)
        body = json_body(request)
        adding, removing = email_list(body, "members_to_add"), email_list(body, "members_to_remove")
        added, add_errors = self._tag_rows(adding, name, True)
        removed, remove_errors = self._tag_rows(removing, name, False)
        errors = [
            {"email_addresses": unknown, "error": NOT_MEMBERS}
            for unknown in (add_errors, remove_errors)
            if unknown
        ]
        return ok(
            {
                "members_added": [member_json(self.audience, row) for row in added],
                "members_removed": [member_json(self.audience, row) for row in removed],
                "errors": errors,
                "total_added": len(added),
                "total_removed": len(removed),
                "error_count": sum(len(e["email_addresses"]) for e in errors),
            }
        )

    def _tag_rows(self, emails: list[str], name: str, active: bool) -> tuple[list[int], list[str]]:
        """(rows whose tag changed, addresses that are not members); others are left alone."""
        changed, unknown, now = [], [], self.now()
        for email in emails:
            row = self.audience.row_of(email)
            if row is None:
                unknown.append(email)
            elif self.audience.set_tag(row, name, active, now):
                changed.append(row)
        return changed, unknown
