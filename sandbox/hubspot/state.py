"""What the HubSpot sandbox holds: the projected world, its limits, its time, and lookups."""

from __future__ import annotations

import base64
import itertools
import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from sandbox.clock import SandboxClock
from sandbox.faults import FaultPlan, Latency
from sandbox.http import Emulator, Request, Response
from sandbox.hubspot.companies import COMPANY_GROUPS, project_companies
from sandbox.hubspot.contact_events import contact_events
from sandbox.hubspot.contact_projection import project_contacts
from sandbox.hubspot.crm_objects import SALES_ACTIVITY, CrmObjects
from sandbox.hubspot.email_log import project_email_log
from sandbox.hubspot.errors import HubSpotError, Invalid, error_body
from sandbox.hubspot.properties import GROUPS
from sandbox.hubspot.rate_limits import PortalLimits
from sandbox.hubspot.record_json import contact_json
from sandbox.hubspot.search_filters import SEARCH_RESULT_CAP
from sandbox.hubspot.values import DAY_MS, Json, PropertyValue
from sandbox.hubspot.web_logs import FORM_KINDS, project_web_log
from sandbox.limits import ServerDailyLimit
from sandbox.world.tables import HUBSPOT, World, WorldBuilder
from scoring.records import ACTIVITY_TYPES, ActivityType

CORRELATION_BASE = 0xC0A7E1A7 << 96


def empty_world() -> World:
    return WorldBuilder(datetime(2026, 1, 1, tzinfo=UTC)).build()


class HubSpotState(Emulator):
    """The portal over one projected world, and what its route handlers share."""

    name = "hubspot"

    def __init__(
        self,
        world: World | None = None,
        *,
        tier: str = "professional",
        daily_limit: int | None = None,
        faults: FaultPlan | None = None,
        latency: Latency | None = None,
        clock: SandboxClock | None = None,
        token: str = "sandbox-token",
        search_result_cap: int = SEARCH_RESULT_CAP,
        web_analytics: bool | None = None,
    ) -> None:
        super().__init__(faults=faults, latency=latency, clock=clock)
        self.world = world if world is not None else empty_world()
        self.token = token
        self.tier = tier
        self.search_result_cap = search_result_cap
        # The events API needs an Enterprise subscription; a test may switch it either way.
        self.web_analytics = tier == "enterprise" if web_analytics is None else web_analytics
        self._origin_ms = self.world.now * 1000.0
        self._last_ms = self._origin_ms
        self.limits = PortalLimits(tier, daily_limit, self.clock, self._vendor_day())
        self._correlation = itertools.count(1)
        self.groups: dict[str, Json] = {
            name: {"name": name, "label": label, "displayOrder": i, "archived": False}
            for i, (name, label) in enumerate(GROUPS)
        }
        self.company_groups: dict[str, Json] = {
            name: {"name": name, "label": label, "displayOrder": i, "archived": False}
            for i, (name, label) in enumerate(COMPANY_GROUPS)
        }
        self.objects = CrmObjects()
        self.gone: dict[int, int | None] = {}
        """Rows no longer in the portal -> the row merged into (None: archived)."""
        self.archived_at: dict[int, float] = {}
        """Archived rows -> when (epoch ms): a list with `archived=true` answers `archivedAt`."""
        self.purged: set[int] = set()
        """Rows deleted for good (a GDPR deletion): not even an archived read answers them."""
        self._issued: dict[str, int] = {}
        """List paging tokens handed out -> the row their page starts at."""
        self._project()
        self.add_routes()

    def _project(self) -> None:
        world = self.world
        self.urls: list[str] = [str(url) for url in world.urls]
        rows = world.people.in_system(HUBSPOT)
        row_of = np.full(len(world.people), -1, dtype=np.intp)
        row_of[rows] = np.arange(len(rows))
        events = contact_events(world, row_of)
        self.contacts = project_contacts(world, rows, events, self.urls)
        self.companies = project_companies(world)
        self.email_log = project_email_log(world, events)
        self.form_log = project_web_log(world, events, FORM_KINDS)
        self.view_log = project_web_log(world, events, (ActivityType.PAGE_VIEW,))
        mask = events.of(SALES_ACTIVITY)
        amounts = world.events.amount[events.index[mask]]
        for row, code, at, amount in zip(
            events.row[mask], events.code[mask], events.at[mask], amounts, strict=True
        ):
            self.objects.record_sale(int(row), ACTIVITY_TYPES[int(code)], float(at), float(amount))

    @property
    def daily(self) -> ServerDailyLimit:
        """The day's request budget; a test may preset `used` to exhaust it."""
        return self.limits.daily

    # -- time, correlation ids, errors ----------------------------------------------------------

    def _vendor_ms(self) -> float:
        return self._origin_ms + self.clock.now() * 1000.0

    def _vendor_day(self) -> int:
        return int(self._vendor_ms() // DAY_MS)

    def _now_ms(self) -> float:
        """The sandbox's current time for a write, strictly later than every earlier write."""
        self._last_ms = max(self._last_ms + 1, float(math.floor(self._vendor_ms())))
        return self._last_ms

    def _correlation_id(self) -> str:
        return str(uuid.UUID(int=CORRELATION_BASE + next(self._correlation)))

    def _error(self, status: int, message: str, category: str, **extra: Any) -> Response:
        return self._answer(HubSpotError(status, message, category, **extra))

    def _answer(self, error: HubSpotError) -> Response:
        """The JSON answer of an error, under a fresh correlation id."""
        correlation = self._correlation_id()
        body = error_body(error, correlation)
        return Response.json(body, error.status, **{"X-HubSpot-Correlation-Id": correlation})

    # -- list paging ----------------------------------------------------------------------------

    def _after_token(self, row: int) -> str:
        """An opaque `after` for a list page starting at `row`, remembered as issued."""
        token = base64.urlsafe_b64encode(f"{row}|{len(self._issued)}".encode()).decode()
        token = token.rstrip("=")
        self._issued[token] = row
        return token

    def _after_row(self, request: Request) -> int:
        """The row a list request's `after` starts at; 400 for a token never handed out."""
        raw = request.arg("after")
        if raw is None or raw == "":
            return 0
        if raw not in self._issued:
            raise Invalid("INVALID_PAGING_CURSOR", f"after={raw!r} is not a paging cursor")
        return self._issued[raw]

    # -- contacts -------------------------------------------------------------------------------

    def contact_row(self, contact_id: str) -> int:
        """The row of a contact id; KeyError when the sandbox holds no such contact."""
        row = int(contact_id) - 1
        if not 0 <= row < self.contacts.size:
            raise KeyError(f"no contact {contact_id} in the HubSpot sandbox")
        return row

    def _find_contact(self, key: str, id_property: str | None) -> int | None:
        """The row a request names by id or by `idProperty=email`, None if there is none."""
        if id_property and id_property != "hs_object_id":
            if id_property != "email":
                raise Invalid("INVALID_ID_PROPERTY", f"{id_property} is not a unique property")
            return self.contacts.row_of_email(key)
        if not key.isdigit():
            return None
        row = int(key) - 1
        while row in self.gone:
            # A merged-away id reads as the contact it was merged into; an archived one is gone.
            merged_into = self.gone[row]
            if merged_into is None:
                return None
            row = merged_into
        return row if 0 <= row < self.contacts.size else None

    def write_contact(self, row: int, values: Mapping[str, PropertyValue]) -> None:
        """Store values (None clears) and move lastmodifieddate to the sandbox's now."""
        for name, value in values.items():
            self.contacts.set(name, row, value)
        self.contacts.set("lastmodifieddate", row, self._now_ms())

    def merge_contacts(self, primary_id: str, merged_id: str) -> None:
        """Merge one contact into another, as a HubSpot user would: the merged id
        disappears from lists and searches, reads of it answer the primary, and the
        primary lists it in `hs_merged_object_ids` (semicolon-separated), with the ids the
        merged one had absorbed (HubSpot's docs do not say whether a merge carries them:
        docs/sandbox.md)."""
        with self.lock:
            primary, merged = self.contact_row(primary_id), self.contact_row(merged_id)
            self.gone[merged] = primary
            ids = [
                *(self.contacts.value("hs_merged_object_ids", primary) or "").split(";"),
                *(self.contacts.value("hs_merged_object_ids", merged) or "").split(";"),
                merged_id,
            ]
            ids = list(dict.fromkeys(i for i in ids if i))
            self.write_contact(primary, {"hs_merged_object_ids": ";".join(ids)})

    def archive_contact(self, contact_id: str) -> None:
        """Delete (archive) a contact: gone from reads, lists and searches, readable
        only with `archived=true`."""
        with self.lock:
            row = self.contact_row(contact_id)
            self.gone[row] = None
            self.archived_at[row] = self._now_ms()

    def privacy_delete(self, contact_id: str) -> None:
        """Delete a contact for good, as `POST /crm/v3/objects/contacts/gdpr-delete` does
        ("Permanently delete a contact (GDPR-compliant)": API reference, crm-contacts-v3,
        https://developers.hubspot.fr/docs/api-reference/crm-contacts-v3/basic/post-crm-v3-objects-contacts-gdpr-delete):
        gone from reads, lists and searches, and, unlike an archived contact, from reads with
        `archived=true` too (not restorable)."""
        with self.lock:
            row = self.contact_row(contact_id)
            self.gone[row] = None
            self.purged.add(row)

    def _contact_json(self, row: int, names: Iterable[str], links: Sequence[str] = ()) -> Json:
        return contact_json(self.contacts, self.objects, row, names, links)
