"""The normalized records every connector produces and the scoring core consumes.

A `Contact` is one person in one system; an `Activity` is one thing a person
did, typed with the canonical `ActivityType` vocabulary that every connector
maps its own events onto.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class ActivityType(StrEnum):
    """The canonical vocabulary of activities; connectors map their events onto it."""

    EMAIL_SENT = "email_sent"
    EMAIL_OPEN = "email_open"
    EMAIL_CLICK = "email_click"
    EMAIL_BOUNCE = "email_bounce"
    EMAIL_UNSUBSCRIBE = "email_unsubscribe"
    EMAIL_SPAM_REPORT = "email_spam_report"
    PAGE_VIEW = "page_view"
    NEWSLETTER_SIGNUP = "newsletter_signup"
    FORM_SUBMISSION = "form_submission"
    CONTENT_DOWNLOAD = "content_download"
    QUESTION = "question"
    SOCIAL_CLICK = "social_click"
    DEMO_REQUEST = "demo_request"
    MEETING = "meeting"
    SALES_TOUCH = "sales_touch"
    QUOTE_SENT = "quote_sent"
    PURCHASE = "purchase"


ACTIVITY_TYPES: tuple[ActivityType, ...] = tuple(ActivityType)
"""All activity types, in the order of their integer codes in columnar frames."""

TYPE_CODES: Mapping[ActivityType, int] = {t: i for i, t in enumerate(ACTIVITY_TYPES)}
"""Activity type -> its integer code in columnar frames and in the sandbox's event log."""


def normalize_email(email: str | None) -> str | None:
    """The form under which an address identifies one person across systems."""
    if email is None:
        return None
    cleaned = email.strip().lower()
    return cleaned or None


def normalize_emails(emails: list[str]) -> list[str | None]:
    """`normalize_email` of each address, in one pass (a million in a fraction of a second)."""
    return [email.strip().lower() or None for email in emails]


_SPACE_AT_A_JOIN = re.compile("\x00(?:\\s|(?<=\\s\x00))")
"""In addresses joined by NUL: an address that starts or ends with a space (found fast:
the pattern starts with the one character NUL)."""


def emails_normalized(emails: list[str], chunk: int = 1 << 16) -> bool:
    """Whether `normalize_email` leaves every address as it is (none blank), checked on
    the addresses joined into one text (`chunk` addresses at a time, so the texts stay
    small) rather than with a new string for each."""
    if "" in emails:
        return False
    for first in range(0, len(emails), chunk):
        part = emails[first : first + chunk]
        joined = "\x00".join(part)
        if joined.count("\x00") != len(part) - 1:  # an address holds a NUL: one by one
            if not all(normalize_email(e) == e for e in part):
                return False
            continue
        # Lower-casing changes a character or not whatever its neighbours (a final sigma
        # changes either way), so the joined text is unchanged only if every address is.
        if joined.lower() != joined or joined[:1].isspace() or joined[-1:].isspace():
            return False
        if _SPACE_AT_A_JOIN.search(joined) is not None:
            return False
    return True


def ensure_utc(moment: datetime) -> datetime:
    """An aware UTC datetime; naive values are taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Contact:
    """One person in one system: its id there, its email and its attributes.

    Every field but the id is taken by keyword: `Contact("42", email="ann@acme.io")`.
    """

    id: str
    _: KW_ONLY
    email: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    source: str = "files"


@dataclass(frozen=True, slots=True)
class Activity:
    """Something a person did, at an aware UTC time, with its attributes.

    The optional fields are taken by keyword:
    `Activity("42", ActivityType.PAGE_VIEW, moment, id="pv-1", attributes={"url": ...})`.
    """

    contact_id: str
    type: ActivityType
    occurred_at: datetime
    _: KW_ONLY
    id: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    source: str = "files"
    contact_email: str | None = None
    """Set where a system knows the person by address only (email events); then
    `contact_id` may be empty and the sync finds the person by this email."""
    revisable: bool = False
    """A later pull of the same id replaces this one (a meeting whose outcome or time
    is set after the fact); otherwise the first one stored stands."""

    def __post_init__(self) -> None:
        if self.occurred_at.tzinfo is None:
            raise ValueError("Activity.occurred_at must be timezone-aware (UTC)")
