"""Values shared across the Mailchimp sandbox: the API root, ids and times."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from functools import lru_cache

API_ROOT = "/3.0"
LIST_NAME = "Leadscore sandbox audience"


def iso(moment: float) -> str:
    """Mailchimp's ISO 8601 form, to the second, in UTC."""
    return datetime.fromtimestamp(int(moment), UTC).isoformat()


def md5_hex(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


@lru_cache(maxsize=1 << 17)
def subscriber_hash(email: str) -> str:
    """The member id: MD5 of the lower-cased address (remembered: every report and member
    page names each of its members by it)."""
    return md5_hex(email.strip().lower())


def short_id(*parts: object) -> str:
    """A stable 10-hex-digit id, the shape of Mailchimp's list and campaign ids."""
    return md5_hex("/".join(map(str, parts)))[:10]


def web_id(*parts: object) -> int:
    return int(md5_hex("/".join(map(str, parts)))[:7], 16)
