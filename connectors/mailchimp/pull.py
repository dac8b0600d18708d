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

A member deleted, or leaving the walk's set (archived, under a status filter), between two
page reads shifts the later pages back: pages start `PAGE - OVERLAP_MEMBERS` (980) apart,
so each reads again the last 20 members of the one before (one call more in 49, ~2 %;
the repeats are given once). Where a page's `total_items` shows the set shrank by more
than that during the walk, the audience's mark stays where it was (the next pull walks
again from it; a first, full walk is walked again once) and a warning is logged. Where
an answer's `total_items` is missing or not a count, pages are read until a short one.
Members or audiences that are not objects (or lack an id) are skipped, counted and logged.

The cursor also keeps, per audience, the subscriber hashes of the members its walks saw
archived: one read later with another status has come back, and its page brings its
campaign activity again (`returning`).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Generator, Iterator, Sequence
from datetime import datetime
from typing import Any

from connectors.attributes import AttributeMap
from connectors.errors import ApiError
from connectors.mailchimp.client import MailchimpApi
from connectors.mailchimp.collections_walk import OVERLAP
from connectors.mailchimp.in_order import in_order
from connectors.mailchimp.keys import member_hash, split_member_key
from connectors.mailchimp.members import archived_withdrawn, member_records
from connectors.mailchimp.returning import Returns
from connectors.paging import dump_cursor
from connectors.protocol import Page, Withdrawn
from connectors.values import finite_number, parse_time
from scoring.records import Activity, Contact

PAGE = 1000
OVERLAP_MEMBERS = 20
"""Members each page of a walk shares with the page before (pages start `PAGE -
OVERLAP_MEMBERS` apart): a member deleted or leaving the walk's set between two page reads
shifts the later pages back by one, and would otherwise never be read. Costs one call in
49 (~2 %); the repeats are given once."""
STEP = PAGE - OVERLAP_MEMBERS
MEMBERS = "lists.get_list_members_info"
MEMBER_KEYS = ("id", "email_address", "contact_id", "status", "merge_fields", "tags",
               "member_rating", "vip", "language", "list_id", "last_changed",
               "timestamp_opt")  # fmt: skip
"""What a member's record is made of (`members.member_records`): a page asks for these alone
(`fields`, Fundamentals: "Partial responses"), not the member's stats, location, ids for
the web and links, about half of a member's JSON."""
MEMBER_PAGE_FIELDS = [*(f"members.{key}" for key in MEMBER_KEYS), "total_items"]

log = logging.getLogger(__name__)


def count_of(value: Any) -> int | None:
    """A `total_items` as a count; None when it is missing or not one."""
    total = finite_number(value)
    return int(total) if total is not None and total >= 0 and total == int(total) else None


def audience_ids(
    api: MailchimpApi, configured: Sequence[str], skipped: Counter[str] | None = None
) -> list[str]:
    """The audiences to sync: those configured, else every audience of the account (lists
    that are not objects with an id are skipped, counted in `skipped` and logged)."""
    if configured:
        return list(configured)
    counts: Counter[str] = Counter()
    found: list[str] = []
    offset = 0
    while True:
        data = api.call(
            "lists.get_all_lists", count=PAGE, offset=offset, fields=["lists.id", "total_items"]
        )
        lists = data.get("lists")
        lists = lists if isinstance(lists, list) else []
        for item in lists:
            ident = item.get("id") if isinstance(item, dict) else None
            if isinstance(ident, str | int) and not isinstance(ident, bool) and str(ident):
                found.append(str(ident))
            else:
                counts["audience"] += 1
        offset += len(lists)
        total = count_of(data.get("total_items"))
        if not lists or (offset >= total if total is not None else len(lists) < PAGE):
            break
    if counts:
        log.warning("Mailchimp audiences passed over: %s", dict(sorted(counts.items())))
        if skipped is not None:
            skipped.update(counts)
    return found


def newest_change(
    api: MailchimpApi, list_id: str, after: str | None
) -> tuple[str | None, int | None]:
    """The latest `last_changed` of the audience now, in Mailchimp's clock, and how many
    members a walk `since_last_changed` `after` holds (`total_items`: all, without it;
    None when the answer does not say)."""
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
    size = count_of(data.get("total_items"))
    members = data.get("members")
    for member in members if isinstance(members, list) else []:
        if isinstance(member, dict) and parse_time(member.get("last_changed")) is not None:
            return str(member["last_changed"]), size
    return None, size


def since(mark: str | None) -> str | None:
    """The `since_last_changed` of a pull from a cursor's mark (None: a full walk)."""
    moment = parse_time(mark)
    return None if moment is None else (moment - OVERLAP).isoformat(timespec="seconds")


def member_pages(
    api: MailchimpApi, list_id: str, after: str | None, size: int | None
) -> Iterator[tuple[list[Any], int | None]]:
    """The members of each page of the walk and the page's `total_items` (None: not a
    count), in offset order, the pages read side by side (`in_order`), each sharing
    `OVERLAP_MEMBERS` with the one before: all `size` the walk was said to hold, then those
    it grew by meanwhile. Where the last page read does not say how many there are, pages
    are read one more at a time until one is short (fewer than `PAGE`)."""
    filters: dict[str, Any] = {"since_last_changed": after} if after else {}

    def page(offset: int) -> Callable[[], dict[str, Any]]:
        return lambda: api.call(
            MEMBERS,
            list_id,
            count=PAGE,
            offset=offset,
            fields=MEMBER_PAGE_FIELDS,
            **filters,
        )

    offset, covered, end = 0, 0, 1 if size is None else size
    while covered < end:
        offsets = range(offset, max(end - OVERLAP_MEMBERS, offset + 1), STEP)
        for at, data in zip(offsets, in_order(page(at) for at in offsets), strict=True):
            members = data.get("members")
            members = members if isinstance(members, list) else []
            total = count_of(data.get("total_items"))
            yield members, total
            if not members:  # past the end: the pages after hold none either
                return
            if total is not None:
                end = max(end, total)
            elif at == offsets[-1] and len(members) >= PAGE:
                end = max(end, at + PAGE + 1)  # no count: a full page, read on
        covered = offsets[-1] + PAGE
        offset = covered - OVERLAP_MEMBERS


def page_of(
    members: list[Any],
    list_id: str,
    attributes: AttributeMap,
    seen: set[tuple[str, str]],
    skipped: Counter[str],
    returns: Returns | None = None,
) -> Page:
    """The contacts and signups of one page of members, without those already `seen`;
    a member that is not an object or has neither id nor address is counted in `skipped`.
    An archived member withdraws its activity (`members.archived_withdrawn`); one back
    from the archive (`returns`) brings its campaign activity again (`returning`)."""
    contacts: list[Contact] = []
    activities: list[Activity] = []
    withdrawn: list[Withdrawn] = []
    back: list[str] = []
    for member in members:
        if not isinstance(member, dict):
            skipped["member"] += 1
            continue
        key = (str(member.get("id")), str(member.get("last_changed")))
        if key in seen:
            continue
        seen.add(key)
        try:
            contact, signups = member_records(member, list_id, attributes)
        except ValueError:
            skipped["member"] += 1
            continue
        contacts.append(contact)
        hashed = member_hash(contact.email) if contact.email else key[0]
        if returns is not None and returns.seen(hashed, member.get("status")):
            back.append(hashed)
        taken_back = archived_withdrawn(member, contact, list_id)
        if taken_back is None:
            activities += signups
        else:
            withdrawn.append(taken_back)
    if returns is not None:
        activities += returns.activity(back)
    return Page("contacts", contacts, activities, withdrawn=withdrawn)


def audience_walk(
    api: MailchimpApi,
    list_id: str,
    mark: str | None,
    attributes: AttributeMap,
    seen: set[tuple[str, str]],
    skipped: Counter[str],
    returns: Returns | None = None,
) -> Generator[Page, None, tuple[str | None, int]]:
    """The pages of one walk of an audience from its `mark`; returns the walk's new mark
    and by how many members the set was seen to shrink during it (`total_items` falling
    below the largest before it)."""
    after = since(mark)
    start, size = newest_change(api, list_id, after)
    peak, shrank = size or 0, 0
    for members, total in member_pages(api, list_id, after, size):
        if total is not None:
            shrank = max(shrank, peak - total)
            peak = max(peak, total)
        yield page_of(members, list_id, attributes, seen, skipped, returns)
    return start, shrank


def audience_pages(
    api: MailchimpApi,
    list_id: str,
    mark: str | None,
    attributes: AttributeMap,
    skipped: Counter[str],
    marks: dict[str, str],
    returns: Returns | None = None,
) -> Iterator[Page]:
    """An audience's pages, its new mark set in `marks` once they are read. When the set
    shrank by more than `OVERLAP_MEMBERS` during the walk, a member may have been passed
    over: the mark stays (the next pull walks again from it), and a first, full walk is
    walked again once."""
    seen: set[tuple[str, str]] = set()
    walk = (api, list_id, mark, attributes, seen, skipped, returns)
    start, shrank = yield from audience_walk(*walk)
    if shrank > OVERLAP_MEMBERS and mark is None:
        log.warning(
            "Mailchimp audience %s shrank by %d members during its first walk: walking again",
            list_id,
            shrank,
        )
        start, shrank = yield from audience_walk(*walk)
    if shrank > OVERLAP_MEMBERS:
        log.warning(
            "Mailchimp audience %s shrank by %d members during the walk: its mark stays at %s",
            list_id,
            shrank,
            mark,
        )
    elif start is not None:
        marks[list_id] = start


def pull_members(
    api: MailchimpApi,
    audiences: Sequence[str],
    state: dict[str, Any],
    attributes: AttributeMap,
    skipped: Counter[str] | None = None,
    oldest: datetime | None = None,
) -> Iterator[Page]:
    """Pages of members changed since the cursor, audience after audience; the last page
    of each audience carries the cursor with that audience's new mark and the members its
    walks saw archived. A member back from the archive brings its campaign activity since
    `oldest` again (`returning`). Members that are not objects (or have neither id nor
    address) are skipped, counted in `skipped` and logged."""
    counts: Counter[str] = Counter()
    marks: dict[str, str] = dict(state.get("audiences") or {})
    archived: dict[str, list[str]] = dict(state.get("archived") or {})
    for list_id in audience_ids(api, audiences, skipped):
        mark = marks.get(list_id)
        before = archived.get(list_id, [])
        returns = Returns(api, list_id, before, oldest, counts, afresh=mark is None)
        ready: Page | None = None
        for page in audience_pages(api, list_id, mark, attributes, counts, marks, returns):
            if ready is not None:
                yield ready
            ready = page
        last = ready or Page("contacts")
        archived[list_id] = sorted(returns.archived)
        cursor = dump_cursor(audiences=dict(marks), archived=dict(archived))
        yield Page("contacts", last.contacts, last.activities, cursor, withdrawn=last.withdrawn)
    if counts:
        log.warning("Mailchimp members passed over: %s", dict(sorted(counts.items())))
        if skipped is not None:
            skipped.update(counts)


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
        taken_back = archived_withdrawn(member, contact, list_id)
        if taken_back is not None:
            return Page("contacts", [contact], withdrawn=[taken_back])
        return Page("contacts", [contact], activities)
    if missing is None:
        raise ValueError("no audience to look the address up in")
    raise missing
