"""Routes for list members: paging with filters, get, add-or-update (PUT), update (PATCH), tags."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import numpy.typing as npt

from sandbox.http import Request, Response
from sandbox.mailchimp.answers import item_keys, no_content, ok, page, shaped
from sandbox.mailchimp.arguments import json_body, paging, path_param, time_arg
from sandbox.mailchimp.member_json import member_json
from sandbox.mailchimp.problems import invalid, json_kind, refusal, schema_error
from sandbox.mailchimp.projection import STATUSES
from sandbox.mailchimp.state import MailchimpState
from sandbox.mailchimp.values import iso, subscriber_hash

EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
TEXT_LIMIT = 255
DATE_PATTERNS = {
    "MM/DD/YYYY": re.compile(r"^(0[1-9]|1[0-2])/(0[1-9]|[12]\d|3[01])/\d{4}$"),
    "DD/MM/YYYY": re.compile(r"^(0[1-9]|[12]\d|3[01])/(0[1-9]|1[0-2])/\d{4}$"),
}
ISO_DATE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")


def check_email(email: str) -> None:
    if not EMAIL_SHAPE.match(email):
        raise invalid(f"{email} looks fake or invalid, please enter a real email address.")


WRITABLE_STATUSES = tuple(s for s in STATUSES if s != "archived")


def check_status(status: str) -> None:
    """A status a write may set: archiving is a DELETE in Mailchimp, not a status."""
    if status not in WRITABLE_STATUSES:
        accepted = ", ".join(WRITABLE_STATUSES)
        message = f"Data presented is not one of the accepted values: {accepted}"
        raise schema_error("status", message)


def is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float) or value == "":
        return True
    try:
        float(str(value))
    except ValueError:
        return False
    return True


def merge_value_problem(kind: str, options: dict[str, Any], value: Any) -> str:
    """What is wrong with a merge value of a type, or "" (empty values are always accepted:
    an empty merge field is a member's field left blank, as the signup form leaves a field
    not required; `required` and `default_value` are per field, "The default value for the
    merge field if null": API reference, merge fields,
    https://developer.mailchimp.com/documentation/mailchimp/reference/lists/merge-fields/)."""
    if kind == "number":
        return "" if is_number(value) else "Please enter a number"
    if value in ("", None):
        return ""
    if kind == "text" and len(str(value)) > TEXT_LIMIT:
        return f"Please enter {TEXT_LIMIT} characters or fewer"
    if kind == "date":
        pattern = DATE_PATTERNS.get(str(options.get("date_format")), DATE_PATTERNS["MM/DD/YYYY"])
        if not (pattern.match(str(value)) or ISO_DATE.match(str(value))):
            return "Please enter a date"
    return ""


def tag_changes(tags: Any) -> list[tuple[str, bool]]:
    """(name, active) pairs of a tags POST body, or Mailchimp's 400."""
    if not isinstance(tags, list):
        raise schema_error("tags", f"Schema describes array, {json_kind(tags)} found instead")
    changes = []
    for n, tag in enumerate(tags):
        name = tag.get("name") if isinstance(tag, dict) else None
        status = tag.get("status") if isinstance(tag, dict) else None
        if not isinstance(name, str) or not name.strip():
            raise schema_error(f"tags.item:{n}.name", "This value should not be blank.")
        if status not in ("active", "inactive"):
            message = "Data presented is not one of the accepted values: active, inactive"
            raise schema_error(f"tags.item:{n}.status", message)
        changes.append((name.strip(), status == "active"))
    return changes


class MemberRoutes(MailchimpState):
    """/lists/{list_id}/members and a member's tags."""

    def _members(self, request: Request) -> Response:
        self._check_list(request)
        rows = self._member_rows(request)
        offset, count = paging(request)
        keys = item_keys(request, "members")
        members = [member_json(self.audience, int(r), keys) for r in rows[offset : offset + count]]
        payload = {"members": members, "list_id": self.list_id, "total_items": len(rows)}
        return shaped(request, payload)

    def _member_rows(self, request: Request) -> npt.NDArray[np.intp]:
        status = request.arg("status") or None
        if status is not None and status not in STATUSES:
            raise schema_error(
                "status", f"Data presented is not one of the accepted values: {status}"
            )
        since = time_arg(request, "since_last_changed")
        rows = self.audience.select(status, since, time_arg(request, "before_last_changed"))
        if request.arg("sort_field") == "last_changed":
            rows = rows[np.argsort(self.audience.columns.changed[rows], kind="stable")]
            if (request.arg("sort_dir") or "").upper() == "DESC":
                rows = rows[::-1]
        return rows

    def _member(self, request: Request) -> Response:
        return shaped(request, member_json(self.audience, self._row(request)))

    def _put_member(self, request: Request) -> Response:
        self._check_list(request)
        body, key = json_body(request), path_param(request, "subscriber_hash")
        row = self.audience.row_of(key)
        if row is None:
            row = self._create_member(key, body)
        else:
            self._update_member(row, body)
        return ok(member_json(self.audience, row))

    def _patch_member(self, request: Request) -> Response:
        row = self._row(request)
        self._update_member(row, json_body(request))
        return ok(member_json(self.audience, row))

    def _archive_member(self, request: Request) -> Response:
        """DELETE: the member is archived (its data kept, listed as archived)."""
        row = self._row(request)
        if self.audience.status(row) != "archived":
            self.audience.set_status(row, "archived")
            self.audience.touch(row, self.now())
        return no_content()

    def _delete_member(self, request: Request) -> Response:
        """The delete-permanent action: the member is gone; its id answers 404."""
        self.audience.delete(self._row(request))
        return no_content()

    def _create_member(self, key: str, body: dict[str, Any]) -> int:
        email = str(body.get("email_address") or "").strip()
        if not email:
            raise schema_error("email_address", "This value should not be blank.")
        check_email(email)
        if subscriber_hash(email) != (subscriber_hash(key) if "@" in key else key.lower()):
            raise invalid(f"The subscriber hash in the path does not match {email}.")
        status = str(body.get("status_if_new") or body.get("status") or "")
        if not status:
            raise schema_error("status_if_new", "This value should not be blank.")
        check_status(status)
        merge = self._merge_values(body)
        row = self.audience.add(email, status, self.now())
        self._apply(row, body, merge)
        return row

    def _update_member(self, row: int, body: dict[str, Any]) -> None:
        """Apply a PUT or PATCH body; last_changed moves only if something changed."""
        email = str(body.get("email_address") or "").strip()
        moving = bool(email) and email != self.audience.emails[row]
        if moving:
            self._check_new_address(row, email)
        status = str(body.get("status") or "")
        if status:
            check_status(status)
            self._check_compliance(row, status)
        merge = self._merge_values(body)
        before = member_json(self.audience, row)
        if moving:
            self.audience.readdress(row, email)
        if status:
            self.audience.set_status(row, status)
        self._apply(row, body, merge)
        if member_json(self.audience, row) != before:
            self.audience.touch(row, self.now())

    def _check_new_address(self, row: int, email: str) -> None:
        check_email(email)
        other = self.audience.row_of(subscriber_hash(email))
        if other is not None and other != row:
            detail = f"{email} is already a list member. Use PUT to insert or update list members."
            raise refusal(400, "Member Exists", detail)

    def _check_compliance(self, row: int, status: str) -> None:
        if status == "subscribed" and self.audience.status(row) == "cleaned":
            email = self.audience.emails[row]
            detail = (
                f"{email} is in a compliance state due to unsubscribe, bounce, or compliance "
                "review and cannot be subscribed."
            )
            raise refusal(400, "Member In Compliance State", detail)

    def _merge_values(self, body: dict[str, Any]) -> dict[str, Any]:
        """The known merge fields of a body, checked; unknown tags are ignored."""
        given = body.get("merge_fields") or {}
        if not isinstance(given, dict):
            message = f"Schema describes object, {json_kind(given)} found instead"
            raise schema_error("merge_fields", message)
        kept: dict[str, Any] = {}
        errors = []
        for tag, value in given.items():
            spec = self.audience.merge_field(str(tag).upper())
            if spec is None:
                continue
            problem = merge_value_problem(spec.type, spec.options, value)
            if problem:
                errors.append({"field": spec.tag, "message": problem})
            kept[spec.tag] = value
        if errors:
            raise invalid("Your merge fields were invalid.", errors)
        return kept

    def _apply(self, row: int, body: dict[str, Any], merge: dict[str, Any]) -> None:
        member = self.audience.edit(row)
        member.merge_fields.update(merge)
        if body.get("email_type") in ("html", "text"):
            member.email_type = str(body["email_type"])
        if isinstance(body.get("vip"), bool):
            member.vip = bool(body["vip"])
        if isinstance(body.get("language"), str):
            member.language = str(body["language"])

    # -- tags -------------------------------------------------------------------------------

    def _tags(self, request: Request) -> Response:
        member = self.audience.member(self._row(request))
        tags = [
            {"id": self.audience.tag_id(name), "name": name, "date_added": iso(at)}
            for name, at in sorted(member.tags.items())
        ]
        return shaped(request, {"tags": page(tags, request), "total_items": len(tags)})

    def _post_tags(self, request: Request) -> Response:
        row = self._row(request)
        changes = tag_changes(json_body(request).get("tags"))
        for name, active in changes:
            self.audience.set_tag(row, name, active, self.now())
        return no_content()
