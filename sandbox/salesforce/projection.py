"""The world projected onto Salesforce's data model, one lazily made table per sObject.

Follows how a Salesforce org holds B2B marketing and sales data: Leads (some
converted into the Contacts beside them), and Contacts at Accounts, Campaigns
and their CampaignMembers, completed Tasks, Events, and Opportunities with their
contact roles. Simplifies: every Salesforce person of
the world is one Lead or Contact, and each kind of world event becomes one kind
of record; the mapping is in docs/sandbox.md (Salesforce). Records are made from
the world's columns when read, so a large world costs no memory until it is
written to; writes and added records are kept per table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from sandbox.salesforce.activities import (
    URL_CAMPAIGNS,
    call_values,
    contact_role_values,
    email_task_values,
    event_values,
    url_campaign,
)
from sandbox.salesforce.ids import PREFIXES, make_id
from sandbox.salesforce.schema import CURRENCIES, LEAD_SOURCES, SObjectType
from sandbox.salesforce.table import QUOTED, WON, Row, Table
from sandbox.world.tables import REVENUE_PER_EMPLOYEE, SALESFORCE, World
from scoring.records import TYPE_CODES, ActivityType

EventRows = npt.NDArray[np.intp]
"""Positions of events in the world's event log."""
CAMPAIGN_MEMBER_KINDS = (
    ActivityType.EMAIL_SENT,
    ActivityType.EMAIL_OPEN,
    ActivityType.EMAIL_CLICK,
)
"""The email events that make a person a member of the campaign (a click is a response)."""
MEETING_MINUTES = (30, 60, 45)
MEETING_BOOKED = 86_400.0
"""How long before a meeting its Event is put in the calendar (seconds)."""


def _moment(epoch: float) -> datetime:
    """A world time as Salesforce keeps it: UTC, to the millisecond."""
    millis = round(float(epoch) * 1000)
    return datetime.fromtimestamp(millis // 1000, UTC) + timedelta(milliseconds=millis % 1000)


@dataclass
class Deal:
    person: int
    created: float
    amount: float
    stage: str
    closed: float


class Index:
    """Where world people and their open deals are among the rows.

    Arrays rather than dictionaries, so that a world of millions costs little.
    """

    def __init__(self, people: int = 0) -> None:
        self.rows = {name: np.full(people, -1, dtype=np.intp) for name in ("Lead", "Contact")}
        """Per sObject, the row of each world person, or -1."""
        self.open_deals: dict[int, list[int]] = {}
        """Person to the Opportunity rows still at the quote stage, oldest first."""

    def row(self, sobject: str, person: int) -> int | None:
        rows = self.rows[sobject]
        found = int(rows[person]) if 0 <= person < len(rows) else -1
        return None if found < 0 else found

    def person_record(self, person: int) -> str | None:
        """The id of the Lead or Contact that a world person is, if any."""
        for name in ("Lead", "Contact"):
            row = self.row(name, person)
            if row is not None:
                return make_id(PREFIXES[name], row)
        return None


def project(world: World | None, types: Mapping[str, SObjectType]) -> tuple[list[Table], Index]:
    """The tables of an org holding `world` (empty ones without a world), and their index."""
    if world is None:
        return [Table(types[name.lower()], 0, lambda row: {}) for name in PREFIXES], Index()
    projection = Projection(world, types)
    return projection.build(), projection.index


class Projection:
    """Builds the tables of an org from a world."""

    def __init__(self, world: World, types: Mapping[str, SObjectType]) -> None:
        self.world = world
        self.types = types
        self.index = Index()

    def build(self) -> list[Table]:
        self._select()
        events = self.world.events
        stamps = {"CampaignMember": self.member_last, "Task": events.at[self.tasks]}
        stamps["Event"] = events.at[self.meetings] - MEETING_BOOKED
        leads = len(self.leads)  # the rows after them are the converted Leads
        known = {"Lead": {"IsConverted": lambda row: row >= leads}}
        return [
            Table(self.types[name.lower()], count, make, stamps.get(name), known.get(name))
            for name, count, make in self._makers()
        ]

    def _select(self) -> None:
        world = self.world
        people, events = world.people, world.events
        sf = people.in_system(SALESFORCE)
        self.in_sf = (people.systems[events.person] & SALESFORCE) != 0
        deals = self._events(ActivityType.QUOTE_SENT, ActivityType.PURCHASE)
        dealers = np.isin(sf, events.person[deals]) | people.converted[sf]
        self.accounts = np.unique(people.company[sf][dealers])
        account_row = np.full(len(world.companies), -1)
        account_row[self.accounts] = np.arange(len(self.accounts))
        self.account_row = account_row
        at_account = account_row[people.company[sf]] >= 0
        self.leads, self.contacts = sf[~at_account], sf[at_account]
        rows = account_row[people.company[self.contacts]]
        self.account_created = np.full(len(self.accounts), np.inf)
        np.minimum.at(self.account_created, rows, people.created_at[self.contacts])
        self.account_won = np.full(len(self.accounts), -np.inf)
        np.fmax.at(self.account_won, rows, people.converted_at[self.contacts])
        self.index = Index(len(people))
        self.index.rows["Lead"][self.leads] = np.arange(len(self.leads))
        self.index.rows["Contact"][self.contacts] = np.arange(len(self.contacts))
        converted = np.zeros(len(self.contacts), bool)
        if len(people.converted):
            converted = people.converted[self.contacts]
        self.converted = self.contacts[converted]
        """People who were Leads once: a converted Lead each, after the open Leads."""
        touches = self._events(ActivityType.MEETING, ActivityType.SALES_TOUCH)
        self.first_touch = np.full(len(people), np.inf)
        np.minimum.at(self.first_touch, events.person[touches], events.at[touches])
        self.meetings = self._events(ActivityType.MEETING)
        self.tasks = self._events(ActivityType.SALES_TOUCH)
        self._members()
        self._deals(deals)
        for deal in self.deals:
            if deal.stage == WON:
                row = account_row[people.company[deal.person]]
                self.account_won[row] = np.fmax(self.account_won[row], deal.closed)

    def _events(self, *kinds: ActivityType) -> EventRows:
        events = self.world.events
        codes = [TYPE_CODES[k] for k in kinds]
        return np.flatnonzero(self.in_sf & np.isin(events.type, codes))

    def _members(self) -> None:
        """Members of the email campaigns, then of the webinar, event and content ones."""
        events, world = self.world.events, self.world
        mail = self._events(*CAMPAIGN_MEMBER_KINDS)
        mail = mail[events.campaign[mail] >= 0]
        clicks = events.type[mail] == TYPE_CODES[ActivityType.EMAIL_CLICK]
        emails = self._group(mail, events.campaign[mail], clicks)
        web = self._events(ActivityType.FORM_SUBMISSION, ActivityType.CONTENT_DOWNLOAD)
        web = web[events.url[web] >= 0]
        pages = np.array([any(p in str(u) for p in URL_CAMPAIGNS) for u in world.urls], bool)
        web = web[pages[events.url[web]]] if len(pages) else web[:0]
        self.url_campaigns, slot = np.unique(events.url[web], return_inverse=True)
        self.url_first = np.full(len(self.url_campaigns), np.inf)
        np.minimum.at(self.url_first, slot, events.at[web])
        answers = self._group(web, len(world.campaigns) + slot, np.ones(len(web), bool))
        self.member_first, self.member_last, self.member_click, campaigns, people = (
            np.concatenate(pair) for pair in zip(emails, answers, strict=True)
        )
        self.member_campaign, self.member_person = campaigns, people

    def _group(
        self, rows: EventRows, campaign: npt.NDArray[Any], responses: npt.NDArray[np.bool_]
    ) -> tuple[npt.NDArray[Any], ...]:
        """Per (campaign, person) of the events: first and last moment, first response."""
        events, count = self.world.events, len(self.world.people)
        keys = campaign.astype(np.int64) * count + events.person[rows]
        unique, inverse = np.unique(keys, return_inverse=True)
        first = np.full(len(unique), np.inf)
        last = np.full(len(unique), -np.inf)
        click = np.full(len(unique), np.inf)
        np.minimum.at(first, inverse, events.at[rows])
        np.maximum.at(last, inverse, events.at[rows])
        np.minimum.at(click, inverse[responses], events.at[rows][responses])
        return first, last, click, unique // count, unique % count

    def _deals(self, deals: EventRows) -> None:
        events = self.world.events
        self.deals: list[Deal] = []
        for e in deals.tolist():
            person, at, amount = int(events.person[e]), float(events.at[e]), float(events.amount[e])
            if events.type[e] == TYPE_CODES[ActivityType.QUOTE_SENT]:
                self.deals.append(Deal(person, at, amount, QUOTED, at + 30 * 86_400))
                self.index.open_deals.setdefault(person, []).append(len(self.deals) - 1)
            elif self.index.open_deals.get(person):
                deal = self.deals[self.index.open_deals[person].pop(0)]
                deal.stage, deal.closed = WON, at
                deal.amount = amount if np.isfinite(amount) else deal.amount
            else:
                self.deals.append(Deal(person, at, amount, WON, at))

    def _makers(self) -> list[tuple[str, int, Callable[[int], Row]]]:
        world = self.world
        return [
            ("Lead", len(self.leads) + len(self.converted), self._lead),
            ("Contact", len(self.contacts), self._contact),
            ("Account", len(self.accounts), self._account),
            ("Campaign", len(world.campaigns) + len(self.url_campaigns), self._campaign),
            ("CampaignMember", len(self.member_person), self._member),
            ("Task", len(self.tasks), self._task),
            ("Event", len(self.meetings), self._event),
            ("Opportunity", len(self.deals), self._opportunity),
            ("OpportunityContactRole", len(self.deals), self._contact_role),
        ]

    # -- one record of each type -------------------------------------------------------------

    def _person(self, person: int, *more: float) -> Row:
        people = self.world.people
        created = float(people.created_at[person])
        touched = [m for m in (self.first_touch[person], *more) if np.isfinite(m)]
        modified = max([created, *touched])
        return {
            "FirstName": str(people.first_name[person]),
            "LastName": str(people.last_name[person]),
            "Email": people.email_in(SALESFORCE, person),
            "Title": str(people.job_title[person]),
            "LeadSource": LEAD_SOURCES[(person * 7 + self.world.seed) % len(LEAD_SOURCES)],
            "HasOptedOutOfEmail": False,
            "CreatedDate": _moment(created),
            "LastModifiedDate": _moment(modified),
            "SystemModstamp": _moment(modified),
        }

    def _lead(self, row: int) -> Row:
        world = self.world
        if row >= len(self.leads):
            return self._converted_lead(int(self.converted[row - len(self.leads)]))
        person = int(self.leads[row])
        company = int(world.people.company[person])
        contacted = np.isfinite(self.first_touch[person])
        return {
            **self._person(person),
            "Company": str(world.companies.name[company]),
            "Industry": str(world.companies.industry[company]),
            "NumberOfEmployees": int(world.companies.employees[company]),
            "Country": str(world.people.country[person]),
            "Status": "Working - Contacted" if contacted else "Open - Not Contacted",
            "IsConverted": False,
        }

    def _converted_lead(self, person: int) -> Row:
        """The Lead a Contact was converted from: read-only, pointing at what it became."""
        world = self.world
        company = int(world.people.company[person])
        converted = float(world.people.converted_at[person])
        contact = self.index.row("Contact", person)
        assert contact is not None
        return {
            **self._person(person, converted),
            "Company": str(world.companies.name[company]),
            "Industry": str(world.companies.industry[company]),
            "NumberOfEmployees": int(world.companies.employees[company]),
            "Country": str(world.people.country[person]),
            "Status": "Closed - Converted",
            "IsConverted": True,
            "ConvertedContactId": make_id(PREFIXES["Contact"], contact),
            "ConvertedAccountId": make_id(PREFIXES["Account"], int(self.account_row[company])),
            "ConvertedDate": _moment(converted).date(),
        }

    def _contact(self, row: int) -> Row:
        people = self.world.people
        person = int(self.contacts[row])
        company = int(people.company[person])
        return {
            **self._person(person, float(people.converted_at[person])),
            "Department": str(people.job_function[person]),
            "AccountId": make_id(PREFIXES["Account"], int(self.account_row[company])),
            "MailingCountry": str(people.country[person]),
        }

    def _account(self, row: int) -> Row:
        world = self.world
        company = int(self.accounts[row])
        created, won = float(self.account_created[row]), float(self.account_won[row])
        modified = max(created, won) if np.isfinite(won) else created
        return {
            "Name": str(world.companies.name[company]),
            "Website": f"https://{world.companies.domain[company]}",
            "Industry": str(world.companies.industry[company]),
            "NumberOfEmployees": int(world.companies.employees[company]),
            "AnnualRevenue": float(world.companies.employees[company]) * REVENUE_PER_EMPLOYEE,
            "BillingCountry": str(world.companies.country[company]),
            "Type": "Customer" if np.isfinite(won) else "Prospect",
            "CreatedDate": _moment(created),
            "LastModifiedDate": _moment(modified),
            "SystemModstamp": _moment(modified),
        }

    def _campaign(self, row: int) -> Row:
        campaigns = self.world.campaigns
        if row >= len(campaigns):
            url = self.url_campaigns[row - len(campaigns)]
            return url_campaign(
                str(self.world.urls[url]), _moment(self.url_first[row - len(campaigns)])
            )
        sent = _moment(float(campaigns.sent_at[row]))
        return {
            "Name": str(campaigns.name[row]),
            "Type": "Email",
            "Status": "Completed",
            "StartDate": sent.date(),
            "IsActive": False,
            "Description": str(campaigns.subject[row]),
            "CreatedDate": sent,
            "LastModifiedDate": sent,
            "SystemModstamp": sent,
        }

    def _member(self, row: int) -> Row:
        person = int(self.member_person[row])
        clicked = float(self.member_click[row])
        responded = np.isfinite(clicked)
        return {
            **self._who(person, "LeadId", "ContactId"),
            "CampaignId": make_id(PREFIXES["Campaign"], int(self.member_campaign[row])),
            "Status": "Responded" if responded else "Sent",
            "FirstRespondedDate": _moment(clicked).date() if responded else None,
            "Email": self.world.people.email_in(SALESFORCE, person),
            "CreatedDate": _moment(float(self.member_first[row])),
            "LastModifiedDate": _moment(float(self.member_last[row])),
            "SystemModstamp": _moment(float(self.member_last[row])),
        }

    def _who(self, person: int, lead_key: str, contact_key: str) -> Row:
        lead = self.index.row("Lead", person)
        contact = self.index.row("Contact", person)
        return {
            lead_key: None if lead is None else make_id(PREFIXES["Lead"], lead),
            contact_key: None if contact is None else make_id(PREFIXES["Contact"], contact),
        }

    def _task(self, row: int) -> Row:
        events = self.world.events
        event = int(self.tasks[row])
        person, at = int(events.person[event]), _moment(float(events.at[event]))
        who = self.index.person_record(person)
        return call_values(who, at, event // 2) if event % 2 == 0 else email_task_values(who, at)

    def _event(self, row: int) -> Row:
        events = self.world.events
        event = int(self.meetings[row])
        person, at = int(events.person[event]), float(events.at[event])
        who = self.index.person_record(person)
        minutes = MEETING_MINUTES[event % len(MEETING_MINUTES)]
        return event_values(who, _moment(at), minutes, _moment(at - MEETING_BOOKED))

    def _opportunity(self, row: int) -> Row:
        world = self.world
        deal = self.deals[row]
        company = int(world.people.company[deal.person])
        modified = _moment(max(deal.created, deal.closed if deal.stage == WON else deal.created))
        return {
            "Name": f"{world.companies.name[company]} - {_moment(deal.created).date()}",
            "AccountId": make_id(PREFIXES["Account"], int(self.account_row[company])),
            "StageName": deal.stage,
            "Amount": deal.amount if np.isfinite(deal.amount) else None,
            "CurrencyIsoCode": CURRENCIES[0],
            "CloseDate": _moment(deal.closed).date(),
            "CreatedDate": _moment(deal.created),
            "LastModifiedDate": modified,
            "SystemModstamp": modified,
        }

    def _contact_role(self, row: int) -> Row:
        deal = self.deals[row]
        created = _moment(deal.created)
        contact = self.index.row("Contact", deal.person)
        assert contact is not None
        return contact_role_values(row, make_id(PREFIXES["Contact"], contact), created)
