"""Salesforce ids: key prefixes, and 18-character ids made from and read back to row numbers.

An id is the 3-character key prefix of its type, a 3-character pod, 9 base-62
digits of the row number, and the documented 3-character case-safe suffix; a
15-character id (without the suffix) names the same record.
"""

from __future__ import annotations

import functools
import string

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
_DIGITS = {char: value for value, char in enumerate(BASE62)}
_SUFFIX = string.ascii_uppercase + "012345"
_POD = "5g0"
_UPPER_FLAGS = str.maketrans({c: "1" if c in string.ascii_uppercase else "0" for c in BASE62})

PREFIXES = {
    "Account": "001",
    "Contact": "003",
    "Lead": "00Q",
    "Opportunity": "006",
    "Campaign": "701",
    "CampaignMember": "00v",
    "Task": "00T",
    "Event": "00U",
    "OpportunityContactRole": "00K",
}
ORG_PREFIX = "00D"
USER_PREFIX = "005"
CUSTOM_FIELD_PREFIX = "00N"
JOB_PREFIX = "750"
LOCATOR_PREFIX = "01g"
"""The prefix of query locators in `nextRecordsUrl`."""


@functools.lru_cache(maxsize=1 << 16)
def make_id(prefix: str, number: int) -> str:
    """The 18-character id of record `number` of the type with key prefix `prefix`; kept
    for the ids made last, which a write answers with after it parsed them."""
    digits = ""
    while True:
        number, rest = divmod(number, 62)
        digits = BASE62[rest] + digits
        if not number:
            break
    body = prefix + _POD + digits.rjust(9, "0")
    return body + _suffix(body)


@functools.lru_cache(maxsize=1 << 18)
def parse_id(text: str) -> tuple[str, int] | None:
    """The key prefix and number of an id made by `make_id` (15 or 18 characters); kept
    for the ids seen last, which every write and read by id parses again."""
    if len(text) not in (15, 18) or not (text.isascii() and text.isalnum()) or text[3:6] != _POD:
        return None
    if len(text) == 18 and text[15:].upper() != _suffix(text[:15]):
        return None
    number = 0
    for char in text[6:15]:
        number = number * 62 + _DIGITS[char]
    return text[:3], number


def _suffix(body: str) -> str:
    """The case-safe suffix: per 5 characters, the letter whose index has a bit set for
    each upper-case one (the first character the lowest bit)."""
    flags = body.translate(_UPPER_FLAGS)[::-1]  # "1" per upper-case letter, highest first
    return _SUFFIX[int(flags[10:15], 2)] + _SUFFIX[int(flags[5:10], 2)] + _SUFFIX[int(flags[:5], 2)]
