"""What HubSpot's tracking code and forms logged: form submissions and page views, one each.

HubSpot names a contact's conversion "page title: form name" (the title can hold colons
itself), and counts a meeting booked through a meetings link as a conversion named
"Meetings Link: ...". The forms are one per kind of conversion in the world; each page's
title is made from its path.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from sandbox.hubspot.contact_events import ContactEvents
from sandbox.world.tables import Floats, Ints, World
from scoring.records import TYPE_CODES, ActivityType

FORMS: Mapping[ActivityType, str] = {
    ActivityType.NEWSLETTER_SIGNUP: "Newsletter signup",
    ActivityType.FORM_SUBMISSION: "Contact us",
    ActivityType.CONTENT_DOWNLOAD: "Guide download",
    ActivityType.QUESTION: "Ask a question",
    ActivityType.DEMO_REQUEST: "Demo request",
}
"""The portal's forms: one per kind of conversion the world makes, by name."""
FORM_KINDS = tuple(FORMS)
BOOKINGS = (ActivityType.MEETING,)
"""Activity HubSpot also counts as a conversion: meetings booked through a meetings link."""
BOOKING_NAME = "Meetings Link: sales-team"
SITE_TITLE = "LeadFlow: lead scoring for B2B teams"
FORM_ID_BASE = 0xF0A3 << 112


def form_id(form: int) -> str:
    return str(uuid.UUID(int=FORM_ID_BASE + form))


def page_title(url: str | None) -> str:
    """The title of a page of the seller's site: its last path segment, then the site's."""
    path = (url or "").split("://", 1)[-1].partition("/")[2].strip("/")
    words = path.rsplit("/", 1)[-1].replace("-", " ").replace("_", " ").strip()
    return f"{words.capitalize()} | {SITE_TITLE}" if words else SITE_TITLE


def conversion_name(kind: ActivityType, url: str | None) -> str:
    """recent_conversion_event_name of one conversion, as HubSpot writes it."""
    if kind in BOOKINGS:
        return BOOKING_NAME
    return f"{page_title(url)}: {FORMS[kind]}"


@dataclass
class WebLog:
    """Events of one kind, projected in time order and added ones at the end: contact row,
    time, url, form. An event's position is its id."""

    row: Ints
    at: Floats
    """Epoch milliseconds."""
    url: Ints
    """Index into the sandbox's urls, -1 when none."""
    form: Ints
    """Index into FORM_KINDS (form submissions), -1 for page views."""
    _pending: list[tuple[int, float, int, int]] = field(
        init=False, repr=False, default_factory=list
    )

    def __len__(self) -> int:
        return len(self.row)

    def append(self, row: int, at: float, url: int, form: int = -1) -> None:
        self._pending.append((row, at, url, form))

    def flush(self) -> None:
        """Merge what was appended, at the end, so that every event keeps its position."""
        if not self._pending:
            return
        row, at, url, form = (np.array(c) for c in zip(*self._pending, strict=True))
        self._pending.clear()
        self.row = np.concatenate([self.row, row.astype(np.int64)])
        self.at = np.concatenate([self.at, at.astype(np.float64)])
        self.url = np.concatenate([self.url, url.astype(np.int64)])
        self.form = np.concatenate([self.form, form.astype(np.int64)])


def project_web_log(world: World, events: ContactEvents, kinds: Sequence[ActivityType]) -> WebLog:
    """The contacts' events of `kinds`, in time order; forms numbered by FORM_KINDS."""
    codes = np.array([TYPE_CODES[k] for k in kinds])
    mask = np.isin(events.code, codes)
    order = np.argsort(events.at[mask], kind="stable")
    form_of = np.full(max(TYPE_CODES.values()) + 1, -1, dtype=np.int64)
    for position, kind in enumerate(FORM_KINDS):
        form_of[TYPE_CODES[kind]] = position
    return WebLog(
        events.row[mask][order].astype(np.int64),
        events.at[mask][order],
        world.events.url[events.index[mask][order]].astype(np.int64),
        form_of[events.code[mask][order]],
    )
