"""The Salesforce connector: the protocol's verbs over `SalesforceApi`.

Leads and Contacts (`contacts`), campaign members, tasks, events and won
opportunities in (`pull`); leadscore's custom fields and their field-level
security made (`setup`); scores out in sObject Collections updates, or in Bulk API
2.0 jobs for a run with more than `bulk_write_above` writes (`write`); one
person fetched with their activity for a trigger (`fetch`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from connectors.attributes import AttributeMap
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
from connectors.salesforce.accounts import (
    ACCOUNT,
    changed_accounts,
    read_accounts,
    write_account_records,
)
from connectors.salesforce.attributes import SALESFORCE_ATTRIBUTES
from connectors.salesforce.bulk_write import write_bulk
from connectors.salesforce.client import SalesforceApi
from connectors.salesforce.describe import Schema
from connectors.salesforce.fetch import fetch_person
from connectors.salesforce.gone import known_deleted
from connectors.salesforce.jobs import Pace
from connectors.salesforce.pull import (
    EVENT_FIELDS,
    MEMBER_FIELDS,
    TASK_FIELDS,
    events,
    members,
    pull_activities,
    pull_people,
    pull_purchases,
    tasks,
)
from connectors.salesforce.records import member_withdrawn
from connectors.salesforce.settings import SalesforceSettings
from connectors.salesforce.setup import lead_statuses, setup_fields
from connectors.salesforce.system import SF_CAPABILITIES
from connectors.salesforce.write import write_collection

if TYPE_CHECKING:
    import requests

INGEST_PACE = "ingest_records_per_second"
"""What `learned` keeps: records per second the org processed ingest jobs at."""


class SalesforceConnector:
    """Salesforce through simple-salesforce, under one shared call policy."""

    capabilities: Capabilities = SF_CAPABILITIES
    streams: tuple[str, ...] = ("contacts", "campaign_members", "tasks", "events", "opportunities")

    def __init__(
        self,
        settings: SalesforceSettings,
        *,
        properties: Sequence[str] = (),
        attributes: AttributeMap | None = None,
        http: requests.Session | None = None,
        policy: CallPolicy | None = None,
        clock: Clock | None = None,
        seed: int | None = None,
    ) -> None:
        if settings.flow is None:
            raise ValueError("no way to log in: see the LEADSCORE_SALESFORCE__* settings")
        self.settings = settings
        self.api = SalesforceApi(settings, http=http, policy=policy, clock=clock, seed=seed)
        self.schema = Schema(self.api)
        self.pace = Pace()
        """The org's pace on ingest jobs, learned by the first and kept for the next."""
        self.attributes = (attributes or SALESFORCE_ATTRIBUTES).in_any_case()
        self.properties = tuple(properties) or tuple(SALESFORCE_ATTRIBUTES.fields)
        """Lead and Contact fields read besides the usual ones (those the org lacks are not)."""
        self.converted: dict[str, str] = {}
        """Converted Lead -> its Contact, as pulls found them: never written to."""

    @property
    def system(self) -> str:
        return self.capabilities.system

    @property
    def policy(self) -> CallPolicy:
        return self.api.policy

    def __repr__(self) -> str:
        return f"SalesforceConnector(flow={self.settings.flow!r})"

    def calls(self) -> Mapping[str, int]:
        return self.api.policy.calls()

    def gone_among(self, ids: Sequence[str]) -> list[Gone]:
        """Which of these known Lead and Contact ids the org no longer has (`gone`)."""
        return known_deleted(self.api, ids)

    def pull(self, stream: str, cursor: str | None) -> Iterator[Page]:
        state = load_cursor(cursor)
        lookback = float(self.settings.lookback_seconds)
        api, schema = self.api, self.schema
        if stream == "contacts":
            return pull_people(api, schema, self.properties, state, lookback, self.attributes,
                               self.converted)  # fmt: skip
        if stream == "campaign_members":
            return pull_activities(api, schema, stream, "CampaignMember", MEMBER_FIELDS, members,
                                   state, lookback, withdraw=member_withdrawn)  # fmt: skip
        if stream == "tasks":
            return pull_activities(api, schema, stream, "Task", TASK_FIELDS, tasks, state,
                                   lookback, ["WhoId != null"], revised=True)  # fmt: skip
        if stream == "events":
            return pull_activities(api, schema, stream, "Event", EVENT_FIELDS, events, state,
                                   lookback, ["WhoId != null"], revised=True)  # fmt: skip
        if stream == "opportunities":
            return pull_purchases(api, schema, state, lookback)
        raise ValueError(f"Salesforce has no stream {stream!r}; it has {', '.join(self.streams)}")

    def fetch(self, record_id: str | None = None, *, email: str | None = None) -> Page:
        return fetch_person(self.api, self.schema, self.properties, self.attributes,
                            record_id, email)  # fmt: skip

    def setup(self, fields: Sequence[FieldSpec], *, dry_run: bool = False) -> SetupReport:
        return setup_fields(self.api, self.schema, fields, self.settings.permission_set,
                            dry_run=dry_run)  # fmt: skip

    def stage_values(self) -> list[str]:
        """The org's Lead Status values, in their order."""
        return lead_statuses(self.schema)

    def write_size(self, planned: int) -> int:
        """Every write of the run in one call when it has more than `bulk_write_above`
        (Bulk API 2.0 jobs), else a collection's 200."""
        if planned > self.settings.bulk_write_above:
            return planned
        return self.capabilities.write_batch_size

    def write(self, writes: Sequence[Write]) -> WriteOutcome:
        """More than `bulk_write_above` records in Bulk API 2.0 jobs; fewer in collection
        updates of 200."""
        if len(writes) > self.settings.bulk_write_above:
            return write_bulk(self.api, self.schema, writes, self.converted, self.pace)
        size = self.capabilities.write_batch_size
        outcome = WriteOutcome()
        for start in range(0, len(writes), size):
            part = write_collection(self.api, self.schema, writes[start : start + size],
                                    self.converted)  # fmt: skip
            outcome.written.extend(part.written)
            outcome.failed.extend(part.failed)
            outcome.gone.extend(part.gone)
        return outcome

    def start_run(self) -> None:
        self.api.start_run()

    def calls_in_flight(self, most: int | None) -> None:
        """At most `most` requests out at once (`connectors.protocol.GatesCalls`)."""
        self.api.policy.hold_in_flight(most)

    def learned(self) -> Mapping[str, float]:
        """The org's pace on ingest jobs, once known: kept in the state store, so that the
        next process does not spend a read on learning it again (`jobs.Pace`)."""
        known = self.pace.per_second
        return {} if known is None else {INGEST_PACE: known}

    def recall(self, kept: Mapping[str, Any]) -> None:
        self.pace.recall(kept.get(INGEST_PACE))

    def budget(self) -> Mapping[str, Any] | None:
        return None if self.policy.budget is None else self.policy.budget.report()

    # -- Accounts: accounts' attributes in, account values out (`CompanyRecords`) ------------

    account_batch_size = 200

    def read_companies(
        self, ids: Sequence[str], attributes: Sequence[str]
    ) -> dict[str, dict[str, Any]]:
        return read_accounts(self.api, self.schema, ids, attributes)

    def changed_companies(
        self, since: datetime | None, attributes: Sequence[str], *, going_on: bool = False
    ) -> ChangedCompanies:
        lookback = 0.0 if going_on else float(self.settings.lookback_seconds)
        return changed_accounts(self.api, self.schema, since, attributes, lookback)

    def setup_accounts(self, fields: Sequence[FieldSpec], *, dry_run: bool = False) -> SetupReport:
        return setup_fields(self.api, self.schema, fields, self.settings.permission_set,
                            dry_run=dry_run, sobjects=(ACCOUNT,))  # fmt: skip

    def write_accounts(self, writes: Sequence[Write]) -> WriteOutcome:
        return write_account_records(self.api, self.schema, writes)

    def after_writes(self, stream: str, cursor: str, ours: OwnWrites) -> str:
        """Our writes move SystemModstamp: the next pull re-reads what this run wrote (the
        store finds nothing changed in it). Passing over them as HubSpot does needs the
        system's stamp of our last write (`OwnWrites.until`), which a SaveResult does not
        carry. Reading it back per collection costs a query per 200 records, more calls
        than the re-read itself (a query page per 2,000); one query for the newest stamp
        after the run would also pass over anyone's change to those records made between
        our write and that query. So `write` reports no `stamps`, and the sync never asks."""
        return cursor
