"""Leadscore's merge fields in each audience: created where missing, checked where present.

`POST /lists/{list_id}/merge-fields` with tag, name, type (number or text here)
and `public: false` (API reference, merge fields:
https://mailchimp.com/developer/marketing/api/list-merges/add-merge-field/; the
guide https://mailchimp.com/developer/marketing/docs/merge-fields/). A field's
type cannot be changed once made, so a tag of ours that holds another type stops
setup before anything is created, as does a field list naming one tag twice.
Merge fields per audience are limited by plan (integrators report 30 on most plans
and 80 on Premium; no Mailchimp document found): we check none ahead, and
Mailchimp's refusal names the field it refused. Stage tags need no setup: a tag
set active on a member is created then (SDK docstring of update_list_member_tags).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from connectors.errors import ApiError, RejectedError
from connectors.mailchimp.client import MailchimpApi
from connectors.mailchimp.keys import MC
from connectors.mailchimp.pull import PAGE, audience_ids
from connectors.protocol import FieldSpec, SetupReport

MERGE_FIELD_TYPES = {"number": "number", "text": "text", "datetime": "date"}
"""Our field kinds as Mailchimp's merge field types (the others are written as text)."""
DATE_FORMAT = "MM/DD/YYYY"
"""The format of our date fields, as `system.date_text` writes their values."""
MEMBER_VALUES = ("status", "member_rating", "tags", "vip", "language", "list_id", "last_changed")
"""What every member gives as attributes besides its merge fields."""
MAX_NAME = 100
"""A merge field's display name is cut to this (Mailchimp states no limit we found)."""


def merge_fields(api: MailchimpApi, list_id: str) -> dict[str, Mapping[str, Any]]:
    """The audience's merge fields by tag."""
    found: dict[str, Mapping[str, Any]] = {}
    offset = 0
    while True:
        data = api.call("lists.get_list_merge_fields", list_id, count=PAGE, offset=offset)
        fields = data.get("merge_fields") or []
        found.update({str(f["tag"]): f for f in fields if f.get("tag")})
        offset += len(fields)
        if not fields or offset >= int(data.get("total_items") or 0):
            return found


def conflicts(fields: Sequence[FieldSpec], present: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Why `fields` cannot be set up over `present`: tags named twice, or of another type."""
    twice = [tag for tag, n in Counter(f.name for f in fields).items() if n > 1]
    problems = [f"merge tag {tag} is named for more than one value" for tag in twice]
    for spec in fields:
        found = present.get(spec.name)
        wanted = MERGE_FIELD_TYPES.get(spec.kind, "text")
        if found is not None and found.get("type") != wanted:
            problems.append(
                f"merge field {spec.name} is of type {found.get('type')}, not {wanted}"
                " (Mailchimp cannot change a type: rename ours or delete it)"
            )
        elif found is not None and wanted == "date":
            options = found.get("options")
            shape = options.get("date_format") if isinstance(options, Mapping) else None
            if shape not in (None, "", DATE_FORMAT):
                problems.append(
                    f"date field {spec.name} takes {shape}, and leadscore writes {DATE_FORMAT}"
                    " (set its format to MM/DD/YYYY in Mailchimp, or delete it)"
                )
    return problems


def setup_merge_fields(
    api: MailchimpApi,
    audiences: Sequence[str],
    fields: Sequence[FieldSpec],
    *,
    dry_run: bool = False,
) -> SetupReport:
    """Create our missing merge fields in every audience; idempotent."""
    lists = audience_ids(api, audiences)
    present = {list_id: merge_fields(api, list_id) for list_id in lists}
    for list_id, there in present.items():
        problems = conflicts(fields, there)
        if problems:
            raise RejectedError(
                MC,
                "lists.add_list_merge_field",
                f"audience {list_id}: " + "; ".join(problems),
            )
    available = {tag for there in present.values() for tag in there}
    report = SetupReport(available=[*sorted(available), *MEMBER_VALUES])
    several = len(lists) > 1
    for list_id in lists:
        for spec in fields:
            name = f"{list_id}/{spec.name}" if several else spec.name
            if spec.name in present[list_id]:
                report.existing.append(name)
                continue
            report.created.append(name)
            if not dry_run:
                create(api, list_id, spec)
    return report


def create(api: MailchimpApi, list_id: str, spec: FieldSpec) -> None:
    """Add one merge field; one that another run made meanwhile counts as made."""
    body = {
        "tag": spec.name,
        "name": spec.label[:MAX_NAME],
        "type": MERGE_FIELD_TYPES.get(spec.kind, "text"),
        "public": False,
        "required": False,
    }
    if body["type"] == "date":
        body["options"] = {"date_format": DATE_FORMAT}
    try:
        api.call("lists.add_list_merge_field", list_id, body)
    except ApiError as error:
        if error.status == 400 and "already exists" in error.detail:
            return
        raise
