"""The HubSpot connector: the protocol's verbs over `HubSpotApi`.

Contacts, marketing email events, form submissions, page views, meetings,
calls, sales emails and deals in (`pull`); leadscore's contact properties
created (`setup`); scores out in batch updates (`write`); one contact fetched
whole for a trigger (`fetch`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from connectors.attributes import AttributeMap
from connectors.hubspot.attributes import HUBSPOT_ATTRIBUTES
from connectors.hubspot.client import OBJECT_KINDS, HubSpotApi
from connectors.hubspot.companies import changed_companies, read_companies, write_companies
from connectors.hubspot.engagements import pull_changed
from connectors.hubspot.fetch import fetch_contact
from connectors.hubspot.forms import pull_form_submissions
from connectors.hubspot.gone import known_gone
from connectors.hubspot.history import has_form_submissions, has_web_analytics, without_counted
from connectors.hubspot.pull import (
    LOOKBACK_MS,
    after_own_writes,
    pull_contacts,
    pull_email_events,
)
from connectors.hubspot.records import CONTACT_PROPERTIES
from connectors.hubspot.setup import lifecycle_stages, setup_properties
from connectors.hubspot.system import CAPABILITIES
from connectors.hubspot.web_events import pull_page_views
from connectors.hubspot.write import write_batch
from connectors.paging import load_cursor
from connectors.policy import CallPolicy, Clock
from connectors.protocol import (
    Capabilities,
    ChangedCompanies,
    FieldSpec,
    Gone,
    OwnWrites,
    Page,
    SetupReport,
    Write,
    WriteOutcome,
)


class HubSpotConnector:
    """HubSpot through its official SDK, under one shared call policy."""

    capabilities: Capabilities = CAPABILITIES
    streams: tuple[str, ...] = (
        "contacts",
        "email_events",
        "form_submissions",
        "page_views",
        *OBJECT_KINDS,
    )

    def __init__(
        self,
        access_token: str,
        *,
        host: str | None = None,
        tier: str = "professional",
        properties: Sequence[str] = (),
        policy: CallPolicy | None = None,
        clock: Clock | None = None,
        seed: int | None = None,
        lookback_ms: int = LOOKBACK_MS,
        budget_shares: tuple[float, float] | None = None,
        attributes: AttributeMap | None = None,
    ) -> None:
        self.api = HubSpotApi(
            access_token,
            host=host,
            tier=tier,
            policy=policy,
            clock=clock,
            seed=seed,
            budget_shares=budget_shares,
        )
        self.properties = tuple(dict.fromkeys([*CONTACT_PROPERTIES, *properties]))
        self.lookback_ms = lookback_ms
        self.attributes = attributes or HUBSPOT_ATTRIBUTES
        """The portal's properties -> rule attributes (the defaults unless configured)."""

    @property
    def system(self) -> str:
        return self.capabilities.system

    @property
    def host(self) -> str:
        return self.api.host

    @property
    def policy(self) -> CallPolicy:
        return self.api.policy

    def __repr__(self) -> str:
        return f"HubSpotConnector(host={self.api.host!r})"

    def calls(self) -> Mapping[str, int]:
        return self.api.policy.calls()

    def gone_among(self, ids: Sequence[str]) -> list[Gone]:
        """Which of these known contact ids HubSpot no longer has (`gone.known_gone`)."""
        return known_gone(self.api, ids)

    def pull(self, stream: str, cursor: str | None) -> Iterator[Page]:
        state = load_cursor(cursor)
        if stream == "contacts":
            pages = pull_contacts(self.api, self.properties, state, self.lookback_ms)
            return (self._mapped(self._without_counted(page)) for page in pages)
        if stream == "email_events":
            return pull_email_events(self.api, state, self.lookback_ms)
        if stream == "form_submissions":
            return pull_form_submissions(self.api, state, self.lookback_ms)
        if stream == "page_views":
            return pull_page_views(self.api, state, self.lookback_ms)
        if stream in OBJECT_KINDS:
            return pull_changed(self.api, stream, state, self.lookback_ms)
        raise ValueError(f"HubSpot has no stream {stream!r}; it has {', '.join(self.streams)}")

    def fetch(self, record_id: str | None = None, *, email: str | None = None) -> Page:
        """One contact by its HubSpot id or by email, with its activity, in two rounds of
        calls side by side (`fetch.py`).

        Page views come from the events API and form submissions from the contact's
        profile where the portal has them, as the streams read them.
        """
        whole = fetch_contact(self.api, self.properties, record_id, email)
        return self._mapped(self._without_counted(whole))

    def _without_counted(self, page: Page) -> Page:
        """The page without counters' activities where their events are read on their own."""
        views, conversions = has_web_analytics(self.api), has_form_submissions(self.api)
        return without_counted(page, views, conversions)

    def _mapped(self, page: Page) -> Page:
        """A page's contacts with the configured attributes (the defaults are given already)."""
        if self.attributes is HUBSPOT_ATTRIBUTES:
            return page
        contacts = [
            replace(c, attributes=self.attributes.apply(c.attributes)) for c in page.contacts
        ]
        return replace(page, contacts=contacts)

    def setup(self, fields: Sequence[FieldSpec], *, dry_run: bool = False) -> SetupReport:
        return setup_properties(self.api, fields, dry_run=dry_run)

    def stage_values(self) -> list[str]:
        """The portal's own lifecycle stages, in their order."""
        return lifecycle_stages(self.api)

    def write(self, writes: Sequence[Write]) -> WriteOutcome:
        return write_batch(self.api, writes)

    def write_size(self, planned: int) -> int:
        """A batch update's 100, whatever the run writes."""
        return self.capabilities.write_batch_size

    def start_run(self) -> None:
        if self.policy.budget is not None:
            self.policy.budget.start_run()

    def budget(self) -> Mapping[str, Any] | None:
        return None if self.policy.budget is None else self.policy.budget.report()

    def after_writes(self, stream: str, cursor: str, ours: OwnWrites) -> str:
        """Only the contacts stream holds records we write."""
        return after_own_writes(cursor, ours) if stream == "contacts" else cursor

    # -- companies: accounts' attributes in, account values out (`CompanyRecords`) -----------

    account_batch_size = 100

    def read_companies(
        self, ids: Sequence[str], attributes: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        return read_companies(self.api, ids, attributes)

    def changed_companies(
        self, since: datetime | None, attributes: Sequence[str], *, going_on: bool = False
    ) -> ChangedCompanies:
        return changed_companies(self.api, since, attributes, 0 if going_on else self.lookback_ms)

    def setup_accounts(self, fields: Sequence[FieldSpec], *, dry_run: bool = False) -> SetupReport:
        return setup_properties(self.api, fields, dry_run=dry_run, object_type="companies")

    def write_accounts(self, writes: Sequence[Write]) -> WriteOutcome:
        return write_companies(self.api, writes)
