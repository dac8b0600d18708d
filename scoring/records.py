"""The normalized records every connector produces and the scoring core consumes.

A `Contact` is one person in one system; an `Activity` is one thing a person
did, typed with the canonical `ActivityType` vocabulary that every connector
maps its own events onto.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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

ACTIVITY_TYPE_DESCRIPTIONS: Mapping[ActivityType, str] = {
    ActivityType.EMAIL_SENT: "an email was delivered to the person",
    ActivityType.EMAIL_OPEN: "opened an email",
    ActivityType.EMAIL_CLICK: "clicked a link in an email",
    ActivityType.EMAIL_BOUNCE: "an email to the address bounced (or the address was cleaned)",
    ActivityType.EMAIL_UNSUBSCRIBE: "unsubscribed from email",
    ActivityType.EMAIL_SPAM_REPORT: "reported an email as spam",
    ActivityType.PAGE_VIEW: "viewed a page of the website",
    ActivityType.NEWSLETTER_SIGNUP: "signed up for the newsletter",
    ActivityType.FORM_SUBMISSION: "submitted a form",
    ActivityType.CONTENT_DOWNLOAD: "downloaded a guide, e-book or other content",
    ActivityType.QUESTION: "asked a question by chat, social network or contact form",
    ActivityType.SOCIAL_CLICK: "clicked a social network post",
    ActivityType.DEMO_REQUEST: "requested a demo",
    ActivityType.MEETING: "had a meeting with sales",
    ActivityType.SALES_TOUCH: "a rep talked to them (call, email, note)",
    ActivityType.QUOTE_SENT: "was sent a quote",
    ActivityType.PURCHASE: "bought something or won a deal",
}


def normalize_email(email: str | None) -> str | None:
    """The form under which an address identifies one person across systems."""
    if email is None:
        return None
    cleaned = email.strip().lower()
    return cleaned or None


def ensure_utc(moment: datetime) -> datetime:
    """An aware UTC datetime; naive values are taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Contact:
    """One person in one system: its id there, its email and its attributes."""

    id: str
    email: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    source: str = "files"


@dataclass(frozen=True, slots=True)
class Activity:
    """Something a person did, at an aware UTC time, with its attributes."""

    contact_id: str
    type: ActivityType
    occurred_at: datetime
    id: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    source: str = "files"
    contact_email: str | None = None
    """Set where a system knows the person by address only (email events); then
    `contact_id` may be empty and the sync finds the person by this email."""

    def __post_init__(self) -> None:
        if self.occurred_at.tzinfo is None:
            raise ValueError("Activity.occurred_at must be timezone-aware (UTC)")
