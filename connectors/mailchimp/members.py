"""Audience members as leadscore's records: one `Contact` each, and its newsletter signup.

A member (API reference, list members:
https://mailchimp.com/developer/marketing/api/list-members/) is known by its
`contact_id`, kept when its address changes (its `id`, the subscriber hash of the
address, is not); the same address is another member in another audience, so a
contact's id is `<list_id>:<contact_id>` (`keys.record_key`), whatever the number of
audiences configured (ids stay put when one is added); `<list_id>:<subscriber hash>`
for an answer without a contact id.
Its email is the address as Mailchimp holds it. Attributes: every merge field by
its tag, `status` (subscribed, unsubscribed, cleaned, pending, transactional or
archived), `member_rating` (1 to 5), `tags` (their names), `vip`, `language`,
`list_id`, `last_changed`; then the attribute mapping adds the rules' names.
`timestamp_opt`, when the member confirmed its subscription, is a
`newsletter_signup`; pending and transactional members have not opted in.

An archived member (status `archived`: Mailchimp's DELETE of a member, "Archive a list
member", SDK docstring of `lists.delete_list_member`) is still pulled, as a record with
that status, but what it did in the audience no longer counts: the pull withdraws
(`Page.withdrawn`) its record's activities and those keyed by its address alone that
belong to its audience (`list_id`): its signup, the campaign activity, unsubscribes and
abuse reports of the audience's campaigns, its store orders. The same address in another
audience keeps its own. The address is the key because Mailchimp's reports name a
member by address only (`keys`). Mailchimp itself keeps an archived contact's report
data; leadscore scores the audience's members, and a marketer archives a contact to take
it out of the audience. The activity streams pass over the activity of archived members
too (`archived`), so what the reports still name is not stored again after the
withdrawal. A member unarchived later is pulled again with its new status, and the page
that holds it brings its campaign activity in the rules' window back (`returning`: read
for that member alone); its signup comes with it, its orders with the next orders pull.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from connectors.attributes import AttributeMap
from connectors.mailchimp.keys import MC, MEMBER_ID, audience_activity, member_hash, record_key
from connectors.protocol import Withdrawn
from connectors.values import parse_time
from scoring.records import Activity, ActivityType, Contact

NOT_OPTED_IN = frozenset({"pending", "transactional"})
SUBSCRIBER_HASH = re.compile("[0-9a-f]{32}")


def member_attributes(member: Mapping[str, Any]) -> dict[str, Any]:
    """A member's values as a contact's attributes, before the attribute mapping."""
    values: dict[str, Any] = {}
    merges = member.get("merge_fields")
    if isinstance(merges, Mapping):
        values.update({str(tag): value for tag, value in merges.items()})
    tags = member.get("tags") or []
    values["tags"] = [str(t.get("name")) for t in tags if isinstance(t, Mapping) and t.get("name")]
    for key in ("status", "member_rating", "vip", "language", "list_id", "last_changed"):
        if member.get(key) not in (None, ""):
            values[key] = member[key]
    return values


def archived_withdrawn(
    member: Mapping[str, Any], contact: Contact, list_id: str
) -> Withdrawn | None:
    """What an archived member (`contact` its record) withdraws: its record's activities
    and its address's in its audience; None for any other status."""
    if member.get("status") != "archived":
        return None
    return audience_activity(contact.id, contact.email, list_id)


def member_records(
    member: Mapping[str, Any], list_id: str, attributes: AttributeMap
) -> tuple[Contact, list[Activity]]:
    """One member's contact and its signup activity (none when it has not opted in)."""
    if not isinstance(member, Mapping):
        raise ValueError(f"a Mailchimp member is an object, not {type(member).__name__}")
    email = str(member.get("email_address") or "").strip() or None
    hashed = str(member.get("id") or "").lower()
    if SUBSCRIBER_HASH.fullmatch(hashed) is None:  # Mailchimp's id is the address's hash
        hashed = member_hash(email) if email else ""
    if not hashed:
        raise ValueError("a Mailchimp member without id or email_address")
    contact_id = str(member.get("contact_id") or "")
    # the audience asked, whatever the body says
    record = record_key(list_id, contact_id if MEMBER_ID.fullmatch(contact_id) else hashed)
    contact = Contact(
        record,
        email=email,
        attributes=attributes.apply(member_attributes(member)),
        source=MC,
    )
    opted = parse_time(member.get("timestamp_opt"))
    if opted is None or str(member.get("status") or "") in NOT_OPTED_IN:
        return contact, []
    signup = Activity(
        record,
        ActivityType.NEWSLETTER_SIGNUP,
        opted,
        # by its address, as the audience webhook's subscribe names it (`webhooks`)
        id=f"{MC}:signup:{list_id}:{hashed}:{int(opted.timestamp())}",
        attributes={"list_id": list_id},
        source=MC,
    )
    return contact, [signup]
