"""The batch subscribe route, POST /lists/{list_id}: up to 500 members, errors per member."""

from __future__ import annotations

import json
from typing import Any

from sandbox.http import ErrorAnswer, Request, Response
from sandbox.mailchimp.answers import ok
from sandbox.mailchimp.arguments import json_body
from sandbox.mailchimp.member_json import member_json
from sandbox.mailchimp.member_routes import EMAIL_SHAPE, MemberRoutes
from sandbox.mailchimp.problems import INTERNAL_ERROR, json_kind, schema_error
from sandbox.mailchimp.values import subscriber_hash

MAX_BATCH_MEMBERS = 500


def batch_error(email: str, message: str, code: str = "ERROR_GENERIC") -> dict[str, str]:
    return {
        "email_address": email,
        "error": message,
        "error_code": code,
        "field": "",
        "field_message": "",
    }


def batch_error_from(email: str, refused: ErrorAnswer) -> dict[str, str]:
    """A per-member error from the problem a single-member call would have answered."""
    details = json.loads(refused.response.body)
    error = batch_error(email, str(details.get("detail", "")))
    fields = details.get("errors") or []
    if fields:
        error["field"], error["field_message"] = fields[0]["field"], fields[0]["message"]
    return error


class SubscribeRoutes(MemberRoutes):
    """Each member of a batch goes through the same checks as a single PUT."""

    def _batch_members(self, request: Request) -> Response:
        self._check_list(request)
        body = json_body(request)
        members = body.get("members")
        if not isinstance(members, list):
            message = f"Schema describes array, {json_kind(members)} found instead"
            raise schema_error("members", message)
        if len(members) > MAX_BATCH_MEMBERS:
            message = f"Schema describes array with at most {MAX_BATCH_MEMBERS} items"
            raise schema_error("members", f"{message}, {len(members)} found instead")
        update = bool(body.get("update_existing", False))
        created: list[dict[str, Any]] = []
        updated: list[dict[str, Any]] = []
        errors: list[dict[str, str]] = []
        for item in members:
            outcome, row, error = self._batch_one(item, update)
            if error is not None:
                errors.append(error)
            else:
                (created if outcome == "new" else updated).append(member_json(self.audience, row))
        return ok(
            {
                "new_members": created,
                "updated_members": updated,
                "errors": errors,
                "total_created": len(created),
                "total_updated": len(updated),
                "error_count": len(errors),
            }
        )

    def _batch_one(self, item: Any, update: bool) -> tuple[str, int, dict[str, str] | None]:
        """One member of a batch: ("new" | "updated", row, None) or ("error", -1, error)."""
        email = str(item.get("email_address") or "").strip() if isinstance(item, dict) else ""
        if not isinstance(item, dict) or not EMAIL_SHAPE.match(email):
            message = f"{email} looks fake or invalid, please enter a real email address."
            return "error", -1, batch_error(email, message)
        if self.faults.record_fails():
            return "error", -1, batch_error(email, INTERNAL_ERROR)
        row = self.audience.row_of(subscriber_hash(email))
        if row is not None and not update:
            message = (
                f"{email} is already a list member, do you want to update? "
                "please provide update_existing:true in the request body"
            )
            return "error", -1, batch_error(email, message, "ERROR_CONTACT_EXISTS")
        try:
            if row is None:
                return "new", self._create_member(email, item), None
            self._update_member(row, item)
            return "updated", row, None
        except ErrorAnswer as refused:
            return "error", -1, batch_error_from(email, refused)
