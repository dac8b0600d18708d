"""New activity while the sandbox runs, as HubSpot would record it (`add_event`)."""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np

from sandbox.hubspot.contact_projection import CONVERSION_EVENTS, COUNTED, LATEST, OPT_OUTS
from sandbox.hubspot.crm_objects import SALES_ACTIVITY
from sandbox.hubspot.state import HubSpotState
from sandbox.hubspot.values import DAY_MS
from sandbox.hubspot.web_logs import FORM_KINDS, conversion_name
from scoring.records import ActivityType


class ActivitySimulation(HubSpotState):
    """Record what a contact did after the world's `now`: counters, email events, objects."""

    def add_event(
        self,
        contact_id: str,
        kind: ActivityType,
        at: datetime | None = None,
        *,
        campaign: int | None = None,
        url: str | None = None,
        amount: float | None = None,
    ) -> None:
        """Record something a contact did after the world's `now`, as HubSpot would see it.

        Updates the contact's counters, adds the email event, engagement or deal,
        and moves lastmodifieddate to the sandbox's current time, so that a sync
        searching by lastmodifieddate finds the contact. `at` defaults to now;
        `campaign` is the world's campaign index.
        """
        with self.lock:
            row = self.contact_row(contact_id)
            moment = self._vendor_ms() if at is None else at.timestamp() * 1000.0
            url_index = self._url_index(url)
            self._note_conversion(row, kind, moment, url_index)
            self._count(row, kind, moment)
            email_campaign = 0 if campaign is None else campaign + 1
            self.email_log.add_activity(row + 1, kind, moment, email_campaign, url_index)
            if kind in FORM_KINDS:
                self.form_log.append(row, moment, url_index, FORM_KINDS.index(kind))
            if kind is ActivityType.PAGE_VIEW:
                self.view_log.append(row, moment, url_index)
            if kind in SALES_ACTIVITY:
                amount = math.nan if amount is None else amount
                booked = self._vendor_ms()
                self.objects.record_sale(row, kind, moment, amount, booked=booked)
            self.contacts.set("lastmodifieddate", row, self._now_ms())

    def change_object(self, kind: str, object_id: str, **values: object) -> None:
        """Change a deal or engagement as a rep would (a meeting's `outcome`, a deal's
        `stage`), moving its hs_lastmodifieddate to the sandbox's current time."""
        with self.lock:
            self.objects.change(kind, object_id, self._now_ms(), **values)

    def _url_index(self, url: str | None) -> int:
        if url is None:
            return -1
        if url not in self.urls:
            self.urls.append(url)
        return self.urls.index(url)

    def _count(self, row: int, kind: ActivityType, at: float) -> None:
        """Move the contact's counters, latest dates, sessions and opt-out."""
        table = self.contacts
        if kind is ActivityType.PAGE_VIEW:
            last = table.floats("hs_analytics_last_visit_timestamp")[row]
            if math.isnan(last) or last // DAY_MS != at // DAY_MS:
                visits = np.nan_to_num(table.floats("hs_analytics_num_visits")[row])
                table.set("hs_analytics_num_visits", row, float(visits) + 1)
        for name, kinds in COUNTED:
            if kind in kinds:
                table.set(name, row, float(np.nan_to_num(table.floats(name)[row])) + 1)
        for name, kinds in LATEST:
            if kind in kinds:
                table.set(name, row, float(np.fmax(table.floats(name)[row], at)))
        if kind in OPT_OUTS:
            table.set("hs_email_optout", row, 1.0)

    def _note_conversion(self, row: int, kind: ActivityType, at: float, url: int) -> None:
        """Name the conversion in recent_conversion_event_name unless a later one is known."""
        latest = self.contacts.floats("recent_conversion_date")[row]
        if kind in CONVERSION_EVENTS and not at < latest:
            name = conversion_name(kind, self.urls[url] if url >= 0 else None)
            self.contacts.set("recent_conversion_event_name", row, name)
