"""How leadscore names a Mailchimp member.

A member's record id is `record_key(list_id, contact_id)`: the audience id, a colon, and
the member's `contact_id`, which Mailchimp keeps when the member's address changes. Its
`id`, the subscriber hash, does not stay: it is "The MD5 hash of the lowercase version of
the list member's email address" (API reference as mirrored in mailchimp-marketing
3.0.80's docstrings; VENDOR-FACTS 3.8), so an address changed in Mailchimp (a PUT or PATCH
of `email_address`, or the upemail webhook) gives the member another id. The member
endpoints take either ("subscriber_hash: The MD5 hash of the lowercase version of the list
member's email address. This endpoint also accepts a list member's email address or
contact_id", the same docstrings, `get_list_member`, `update_list_member`, ...). Keyed by
its contact id, a record follows its member through an address change the way a CRM
record follows its id (`sync.identity`): the old address becomes an alias of the record
and what was recorded under it stays with it. A member answer without a `contact_id` is
keyed by `member_key(list_id, email)` (its subscriber hash) instead.

Activities (campaign reports, unsubscribes and abuse reports, orders, webhooks) name the
member by address only, not by either id, so they are keyed by address (`contact_email`,
no record id) and join the person of that address, or the record it is an alias of.

The audience is always part of the key, with one audience configured as with several: the
same person in two audiences is two members there (two statuses, two sets of merge
fields), and adding a second audience later must not re-key everyone the store holds. The
address is also stripped of surrounding spaces, as Mailchimp holds it trimmed.
"""

from __future__ import annotations

import hashlib
import re

from connectors.errors import RecordIdError
from connectors.protocol import Withdrawn

MC = "mailchimp"
"""The system's name: the `source` of every record the Mailchimp connector makes."""


def member_hash(email: str) -> str:
    """Mailchimp's subscriber hash of an address: MD5 of its trimmed, lower-cased form."""
    return hashlib.md5(email.strip().lower().encode("utf-8"), usedforsecurity=False).hexdigest()


def member_key(list_id: str, email: str) -> str:
    """The contact id of the member `email` of audience `list_id`: "list_id:subscriber hash"."""
    return f"{list_id}:{member_hash(email)}"


def record_key(list_id: str, contact_id: str) -> str:
    """The record id of the member with `contact_id` in audience `list_id`."""
    return f"{list_id}:{contact_id}"


def audience_activity(record: str, email: str | None, list_id: str) -> Withdrawn:
    """Everything a member did in its audience, as the store holds it: its record's
    activities, and those keyed by its address alone that carry its `list_id` (the same
    address in another audience is another member, with activity of its own)."""
    return Withdrawn(record_id=record, email=email, where=(("list_id", list_id),))


MEMBER_ID = re.compile("[0-9a-zA-Z]{32}")
"""A member's contact id or subscriber hash: 32 letters and digits."""


def split_member_key(record: str) -> tuple[str, str]:
    """(list id, contact id or subscriber hash) of a record id: what the member endpoints
    take; `RecordIdError` (a ValueError) saying what one looks like when it is not one."""
    list_id, colon, member = record.partition(":")
    if not colon or not list_id or MEMBER_ID.fullmatch(member) is None:
        raise RecordIdError(
            "a Mailchimp record id is <audience id>:<contact id> (or <audience id>:<subscriber"
            f" hash>, the MD5 of the lower-cased address), 32 letters and digits, such as"
            f" a1b2c3d4e5:{member_hash('')}, not {record!r}"
        )
    return list_id, member.lower() if re.fullmatch("[0-9a-fA-F]{32}", member) else member
