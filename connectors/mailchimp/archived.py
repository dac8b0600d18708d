"""Activity of archived members, passed over by the activity streams.

An archived member withdraws what it did in its audience when the members walk reads it
(`members.archived_withdrawn`). Mailchimp keeps an archived contact's report data, so the
campaign reports (and store orders) go on naming its address; the streams run side by side
with the members walk, and activity stored after the withdrawal would stay. So the
activity streams pass over the activity of the audience's archived members themselves, and
the store ends the same whichever stream is stored first.

The archived members are read only when a page has activity to hand over (an incremental
pull with nothing new makes no call more): `status=archived`, the addresses alone, 1,000 a
call (API reference, list members:
https://mailchimp.com/developer/marketing/api/list-members/list-members-info/, `status`
"The subscriber's status", one of which is archived). The streams pulled side by side
share one read per audience (`ArchivedReads`): the first to need it reads it, the other
waits for that read and takes it; once no activity stream is being pulled it is forgotten,
so the next pull reads it again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

from connectors.mailchimp.client import MailchimpApi
from connectors.mailchimp.pull import PAGE
from connectors.protocol import Page
from scoring.records import Activity


def archived_addresses(api: MailchimpApi, list_id: str) -> set[str]:
    """The lower-cased addresses of the audience's archived members."""
    found: set[str] = set()
    offset = 0
    while True:
        data = api.call(
            "lists.get_list_members_info",
            list_id,
            count=PAGE,
            offset=offset,
            status="archived",
            fields=["members.email_address", "total_items"],
        )
        members = data.get("members")
        members = members if isinstance(members, list) else []
        for member in members:
            address = member.get("email_address") if isinstance(member, dict) else None
            if isinstance(address, str) and address.strip():
                found.add(address.strip().lower())
        offset += len(members)
        total = data.get("total_items")
        if len(members) < PAGE or (isinstance(total, int) and offset >= total):
            return found


class ArchivedReads:
    """The audiences' archived addresses, read once for the activity streams pulled at the
    same time, and forgotten when none is being pulled."""

    def __init__(self, api: MailchimpApi) -> None:
        self.api = api
        self._lock = threading.Lock()
        self._pulling = 0
        self._found: dict[str, set[str]] = {}

    def of(self, lists: Sequence[str]) -> dict[str, set[str]]:
        """Each audience's archived addresses: read now, or by a stream pulled beside."""
        with self._lock:  # a second stream waits for the first's read rather than repeat it
            for list_id in lists:
                if list_id not in self._found:
                    self._found[list_id] = archived_addresses(self.api, list_id)
            return {list_id: self._found[list_id] for list_id in lists}

    def without(self, lists: Sequence[str], pages: Iterator[Page]) -> Iterator[Page]:
        """The pages, less the activities of the audiences' archived members (by the
        activity's `list_id` and address)."""
        with self._lock:
            self._pulling += 1
        try:
            archived: dict[str, set[str]] | None = None
            for page in pages:
                if not page.activities:
                    yield page
                    continue
                if archived is None:
                    archived = {k: v for k, v in self.of(lists).items() if v}
                if not archived:  # no audience holds an archived member
                    yield page
                    continue
                kept = [a for a in page.activities if not _of_archived(a, archived)]
                if len(kept) == len(page.activities):
                    yield page
                else:
                    yield Page(page.stream, page.contacts, kept, page.cursor, page.resume,
                               page.gone, page.withdrawn)  # fmt: skip
        finally:
            with self._lock:
                self._pulling -= 1
                if not self._pulling:
                    self._found.clear()


def _of_archived(activity: Activity, archived: dict[str, set[str]]) -> bool:
    address = (activity.contact_email or "").strip().lower()
    members = archived.get(str(activity.attributes.get("list_id") or ""))
    return bool(address) and members is not None and address in members
