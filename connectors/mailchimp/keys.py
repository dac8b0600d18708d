"""How leadscore names a Mailchimp member: one key for contacts and activities alike.

A member's contact id is `member_key(list_id, email)`: the audience id, a colon, and
Mailchimp's subscriber hash, the MD5 of the lower-cased address (Mailchimp's own member
`id`; "The MD5 hash of the lowercase version of the list member's email address", as the
API reference mirrored in mailchimp-marketing 3.0.80's docstrings says; VENDOR-FACTS 3.8).
The audience is always part of the key, with one audience configured as with several: the
same person in two audiences is two members there (two statuses, two sets of merge
fields), and adding a second audience later must not re-key everyone the store holds. The
address is also stripped of surrounding spaces, as Mailchimp holds it trimmed.
"""

from __future__ import annotations

import hashlib
import re

from connectors.errors import RecordIdError

MC = "mailchimp"
"""The system's name: the `source` of every record the Mailchimp connector makes."""


def member_hash(email: str) -> str:
    """Mailchimp's subscriber hash of an address: MD5 of its trimmed, lower-cased form."""
    return hashlib.md5(email.strip().lower().encode("utf-8"), usedforsecurity=False).hexdigest()


def member_key(list_id: str, email: str) -> str:
    """The contact id of the member `email` of audience `list_id`: "list_id:subscriber hash"."""
    return f"{list_id}:{member_hash(email)}"


def split_member_key(record: str) -> tuple[str, str]:
    """(list id, subscriber hash) of a contact id; `RecordIdError` (a ValueError) saying
    what one looks like when it is not one."""
    list_id, colon, hashed = record.partition(":")
    if not colon or not list_id or re.fullmatch("[0-9a-fA-F]{32}", hashed) is None:
        raise RecordIdError(
            "a Mailchimp record id is <audience id>:<subscriber hash> (the MD5 of the"
            f" lower-cased address, 32 hex digits), such as a1b2c3d4e5:{member_hash('')},"
            f" not {record!r}"
        )
    return list_id, hashed.lower()
