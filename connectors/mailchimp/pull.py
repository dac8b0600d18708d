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

The newest-change call, asked with the walk's own filter, also says how many members
the walk holds (`total_items`); every page is then read side by side, as many at a time
as the connection gate lets through (`in_order.py`), and handed over in offset order, the
cursor on the last. Pages that the walk grew by meanwhile (a later answer's
`total_items`) are read after; a walk with nothing to read costs that one call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from connectors.attributes import AttributeMap
from connectors.errors import ApiError
from connectors.mailchimp.client import MailchimpApi
from connectors.mailchimp.collections_walk import OVERLAP
from connectors.mailchimp.in_order import in_order
from connectors.mailchimp.keys import member_hash, split_member_key
from connectors.mailchimp.members import member_records
from connectors.paging import dump_cursor
from connectors.protocol import Page
from connectors.values import finite_number, parse_time
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


def newest_change(api: MailchimpApi, list_id: str, after: str | None) -> tuple[str | None, int]:
    """The latest `last_changed` of the audience now, in Mailchimp's clock, and how many
    members a walk `since_last_changed` `after` holds (`total_items`: all, without it)."""
    filters: dict[str, Any] = {"since_last_changed": after} if after else {}
    data = api.call(
        MEMBERS,
        list_id,
        count=1,
        sort_field="last_changed",
        sort_dir="DESC",
        fields=["members.last_changed", "total_items"],
        **filters,
    )
    total = finite_number(data.get("total_items"))
    size = int(total) if total is not None and total >= 0 else 1  # unknown: one page tells
    for member in data.get("members") or []:
        if parse_time(member.get("last_changed")) is not None:
            return str(member["last_changed"]), size
    return None, size


def since(mark: str | None) -> str | None:
    """The `since_last_changed` of a pull from a cursor's mark (None: a full walk)."""
    moment = parse_time(mark)
    return None if moment is None else (moment - OVERLAP).isoformat(timespec="seconds")


def member_pages(
    api: MailchimpApi, list_id: str, after: str | None, size: int
) -> Iterator[list[dict[str, Any]]]:
    """The members of each page of the walk, in offset order, the pages read side by side
    (`in_order`): all `size` the walk was said to hold, then those it grew by meanwhile."""
    filters: dict[str, Any] = {"since_last_changed": after} if after else {}

    def page(offset: int) -> Callable[[], dict[str, Any]]:
        return lambda: api.call(
            MEMBERS,
            list_id,
            count=PAGE,
            offset=offset,
            exclude_fields=MEMBER_FIELDS_LEFT_OUT,
            **filters,
        )

    offset, end = 0, size
    while offset < end:
        offsets = range(offset, end, PAGE)
        for data in in_order(page(at) for at in offsets):
            yield list(data.get("members") or [])
            total = finite_number(data.get("total_items"))
            end = max(end, int(total) if total is not None else 0)
        offset = offsets[-1] + PAGE


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
        after = since(marks.get(list_id))
        start, size = newest_change(api, list_id, after)
        seen: set[tuple[str, str]] = set()
        ready: Page | None = None
        for members in member_pages(api, list_id, after, size):
            if ready is not None:
                yield ready
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
            ready = Page("contacts", contacts, activities)
        if start is not None:
            marks[list_id] = start
        last = ready or Page("contacts")
        yield Page("contacts", last.contacts, last.activities, dump_cursor(audiences=dict(marks)))


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
