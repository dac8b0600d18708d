"""Members pulled page by page, per audience, and one member fetched for a trigger.

The `contacts` stream walks each audience's members with `offset` paging, 1,000
to a page (the most `count` takes: Fundamentals,
https://mailchimp.com/developer/marketing/docs/fundamentals/). Its cursor holds,
per audience, the newest `last_changed` there when the walk began, read first with
one call sorted by `last_changed` descending (`sort_field`/`sort_dir`, API
reference: https://mailchimp.com/developer/marketing/api/list-members/list-members-info/):
a member changed during the walk is stamped later, so the next pull finds it even
if the walk had passed it. A later pull asks for `since_last_changed` that moment
less `OVERLAP`, and members seen twice in one pull (an insertion shifts
the pages) are given once. The default order is kept while paging: a change moves
nobody under a `since_last_changed` filter (changed members only join it), where
sorting by `last_changed` would move a changed member to the end and skip another.
Mailchimp documents no default order; the sandbox keeps the audience's own.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from connectors.attributes import AttributeMap
from connectors.errors import ApiError
from connectors.mailchimp.client import MailchimpApi
from connectors.mailchimp.collections_walk import OVERLAP
from connectors.mailchimp.keys import member_hash, split_member_key
from connectors.mailchimp.members import member_records
from connectors.paging import dump_cursor
from connectors.protocol import Page
from connectors.values import parse_time
from scoring.records import Activity, Contact

PAGE = 1000
MEMBERS = "lists.get_list_members_info"
MEMBER_FIELDS_LEFT_OUT = ["_links", "members._links"]


def audience_ids(api: MailchimpApi, configured: Sequence[str]) -> list[str]:
    """The audiences to sync: those configured, else every audience of the account."""
    if configured:
        return list(configured)
    found: list[str] = []
    offset = 0
    while True:
        data = api.call(
            "lists.get_all_lists", count=PAGE, offset=offset, fields=["lists.id", "total_items"]
        )
        lists = data.get("lists") or []
        found += [str(item["id"]) for item in lists if item.get("id")]
        offset += len(lists)
        if not lists or offset >= int(data.get("total_items") or 0):
            return found


def newest_change(api: MailchimpApi, list_id: str) -> str | None:
    """The latest `last_changed` of the audience now, in Mailchimp's clock."""
    data = api.call(
        MEMBERS,
        list_id,
        count=1,
        sort_field="last_changed",
        sort_dir="DESC",
        fields=["members.last_changed"],
    )
    for member in data.get("members") or []:
        if parse_time(member.get("last_changed")) is not None:
            return str(member["last_changed"])
    return None


def since(mark: str | None) -> str | None:
    """The `since_last_changed` of a pull from a cursor's mark (None: a full walk)."""
    moment = parse_time(mark)
    return None if moment is None else (moment - OVERLAP).isoformat(timespec="seconds")


def pull_members(
    api: MailchimpApi,
    audiences: Sequence[str],
    state: dict[str, Any],
    attributes: AttributeMap,
) -> Iterator[Page]:
    """Pages of members changed since the cursor, audience after audience; the last page
    of each audience carries the cursor with that audience's new mark."""
    marks: dict[str, str] = dict(state.get("audiences") or {})
    for list_id in audience_ids(api, audiences):
        start = newest_change(api, list_id)
        after = since(marks.get(list_id))
        seen: set[tuple[str, str]] = set()
        offset = 0
        while True:
            filters: dict[str, Any] = {"since_last_changed": after} if after else {}
            data = api.call(
                MEMBERS,
                list_id,
                count=PAGE,
                offset=offset,
                exclude_fields=MEMBER_FIELDS_LEFT_OUT,
                **filters,
            )
            members = data.get("members") or []
            offset += len(members)
            done = len(members) < PAGE or offset >= int(data.get("total_items") or 0)
            contacts: list[Contact] = []
            activities: list[Activity] = []
            for member in members:
                key = (str(member.get("id")), str(member.get("last_changed")))
                if key in seen:
                    continue
                seen.add(key)
                contact, signups = member_records(member, list_id, attributes)
                contacts.append(contact)
                activities += signups
            if done and start is not None:
                marks[list_id] = start
            cursor = dump_cursor(audiences=dict(marks)) if done else None
            yield Page("contacts", contacts, activities, cursor)
            if done:
                break


def fetch_member(
    api: MailchimpApi,
    audiences: Sequence[str],
    attributes: AttributeMap,
    record: str | None,
    email: str | None,
) -> Page:
    """One member by its record id (`<list_id>:<hash>`), or by address from the first
    audience holding it; a 404 (`RejectedError`) when none does."""
    if (record is None) == (email is None):
        raise ValueError("fetch takes a record id or an email, not both or neither")
    if record is not None:
        places = [split_member_key(record)]
    else:
        assert email is not None
        places = [(list_id, member_hash(email)) for list_id in audience_ids(api, audiences)]
    missing: ApiError | None = None
    for list_id, hashed in places:
        try:
            member = api.call("lists.get_list_member", list_id, hashed, exclude_fields=["_links"])
        except ApiError as error:
            if error.status != 404:
                raise
            missing = error
            continue
        contact, activities = member_records(member, list_id, attributes)
        return Page("contacts", [contact], activities)
    if missing is None:
        raise ValueError("no audience to look the address up in")
    raise missing
