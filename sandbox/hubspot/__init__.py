"""A local emulator of the part of HubSpot's public API that leadscore uses.

`HubSpotSandbox` is a real HTTP server (see `sandbox.http.Emulator`)
that the official `hubspot-api-client` SDK talks to unchanged once it is built
with `HubSpot(access_token=sandbox.token, host=sandbox.base_url)`. It projects
the people of a `World` who carry the HUBSPOT bit onto contacts (ids "1", "2",
... in the world's order), the world's email events onto the legacy marketing
email events API, and meetings, sales touches, quotes and purchases onto
meetings, calls, emails and deals associated with those contacts. New activity
can be added while it runs (`add_event`, `touch`), so that a test or the demo
can show what a sync picks up next time.

Documents and behaviours followed (found with the search tool while writing):
- Usage guidelines (developers.hubspot.com/docs/developer-tooling/platform/
  usage-guidelines) and the changelog "Increasing our API limits": a private
  app may make 100 requests per rolling 10 seconds on Free and Starter, 190 on
  Professional and Enterprise, 250 with the API Limit Increase; per day
  250,000, 625,000, 1,000,000, plus 1,000,000 per increase. Headers
  X-HubSpot-RateLimit-Daily, -Daily-Remaining, -Interval-Milliseconds, -Max and
  -Remaining on every answer except the CRM search endpoints (a community
  thread confirms search answers carry only X-HubSpot-Correlation-Id). The
  429 body is `{"status":"error","message":"You have reached your
  ten_secondly_rolling limit.","errorType":"RATE_LIMIT","correlationId":...,
  "policyName":"TEN_SECONDLY_ROLLING"}` (as quoted in hubspot-api-python#117;
  "secondly limit" / SECONDLY as quoted in HGData/mk-node-hubspot#89).
- CRM search guide: POST /crm/v3/objects/{object}/search with filterGroups
  (OR of groups, AND inside one), one sort rule, `limit` up to 200 (default
  10), `after` as a paging offset, `total`, and the default properties
  createdate, email, firstname, hs_object_id, lastmodifieddate, lastname; at
  most 5 search requests per second (4 in older documents). Filter limits: 5
  groups, 6 filters per group, 18 in all (guide text not re-checked here; the
  August 2024 changelog announced 10 per group and 25 in all, so these
  stricter numbers are safe). "The search endpoints are limited to 10,000
  total results for any given query. Attempting to page beyond 10,000 will
  result in a 400 error" (quoted in activepieces#10160; AWS Glue's connector
  notes say the same).
- CRM objects v3 (contacts, deals, meetings, calls, emails): list with `limit`
  (default 10, at most 100), `after` (the id of the next record), `properties`
  and `associations` (repeated or comma-separated), `paging.next.after/link`;
  get by id or `idProperty=email`; batch read and batch update of at most 100
  inputs answering 200, or 207 with `errors` and `numErrors` when some records
  fail (missing ids are reported as OBJECT_NOT_FOUND "Could not get some
  CONTACT objects, they may be deleted or not exist. Check that ids are
  valid." with `context.ids`). Errors are `{"status":"error","message",
  "correlationId","category"}`; an unknown property fails the whole request
  with 400 VALIDATION_ERROR "Property values were not valid: [{"isValid":false,
  ...,"error":"PROPERTY_DOESNT_EXIST",...}]"; a duplicate answers 409
  (category OBJECT_ALREADY_EXISTS for properties and groups).
- Properties API v3: list, read and create properties, list and create
  property groups; update a property (PATCH /crm/v3/properties/{objectType}/
  {propertyName}, "Perform a partial update of a property identified by
  {propertyName}. Provided fields will be overwritten.", answering 200 with
  the property; the options of an enumeration are replaced as a whole list, as
  the v1 reference says: "you must include all of the options that you want to
  use with the property; there is no way to append or remove a single
  option"); a property's modificationMetadata.readOnlyDefinition says whether
  its definition may change; lifecyclestage with its default options
  subscriber, lead, marketingqualifiedlead, salesqualifiedlead, opportunity,
  customer, evangelist, other; numemployees is an enumeration of ranges on
  contacts.
- Lifecycle stage is forward-only: to move a record back one first clears the
  value, then sets the earlier stage in a separate request (HubSpot staff on
  integrate.hubspot.com "Update Lifecycle Stage Using API").
- Email events API v1 (legacy reference, GET /email/public/v1/events):
  filters recipient, campaignId, eventType, startTimestamp, endTimestamp;
  `offset` / `hasMore` paging; events carry id, created (ms), type,
  recipient, portalId, appId, appName, emailCampaignId and sentBy {id,
  created}; CLICK has url, BOUNCE category/status/response, STATUSCHANGE
  source, portalSubscriptionStatus and subscriptions.
- Associations: v3 `associations=contacts` answers `{"contacts": {"results":
  [{"id", "type": "meeting_event_to_contact"}]}}`; v4 answers `toObjectId`
  with `associationTypes` [{category HUBSPOT_DEFINED, typeId}], using
  HubSpot's default type ids (contact->deal 4, deal->contact 3, contact->call
  193, call->contact 194, contact->email 197, email->contact 198,
  contact->meeting 199, meeting->contact 200).

What the SDK does with these answers (pinned by tests/sandbox/test_hubspot.py):
- Errors raise the package's own ApiException subclass (hubspot.crm.contacts.
  ApiException is not hubspot.crm.properties.ApiException); `.status`,
  `.headers` and `.body` (the JSON text) are set.
- A 207 batch answer deserializes as `BatchResponseSimplePublicObjectWithErrors`
  (with `num_errors`), a 200 as `BatchResponseSimplePublicObject`.
- urllib3 inside the SDK retries a GET (not a POST) answered 429 with a
  Retry-After header three times by default, sleeping Retry-After seconds,
  before the SDK raises ApiException(429). Build the client with
  `retry=urllib3.util.retry.Retry(total=0)` to see every 429, or give it a
  policy of your own.

Simplified or missing:
- Only the endpoints above; contacts cannot be created, merged or archived
  (`archived=true` lists nothing). Property definitions exist for contacts
  only; propertiesWithHistory is ignored.
- Property updates change label, description, groupName, displayOrder,
  hidden, formField, fieldType and (enumerations only) options; a different
  `type` answers 400 rather than converting the stored values, and so does
  any update of a built-in property (all are readOnlyDefinition here, though
  HubSpot lets a portal edit some, lifecyclestage's options among them).
  Values already stored keep an option that an update removes; only new
  writes are checked against the new options. An unknown property is 404
  OBJECT_NOT_FOUND, as on read.
- Messages the public documents do not quote (the 10,000-result 400, the
  over-100-inputs 400, the 404 of unknown objects, invalid values other than
  unknown properties) follow HubSpot's error shape with wording of our own.
- Returned properties: the ones asked for (null when empty; unknown names are
  dropped) plus createdate, hs_object_id and lastmodifieddate, which HubSpot
  also adds. List `limit` above 100 is clamped to 100; search `limit` above
  200 answers 400.
- Search: string comparisons ignore case; NEQ and NOT_IN match records
  without the property; filtering or sorting on an unknown property answers
  400; `query` matches every word against email, first and last name and
  company; records are ordered by id unless a sort is given.
- Lifecycle stage: setting an earlier stage than the current one fails for
  that record (207 error in a batch, 400 on a single PATCH) with
  VALIDATION_ERROR. HubSpot's old v1 API silently ignored such writes; we
  choose the visible failure so the connector cannot miss it. Clearing ("")
  and then setting works, as in HubSpot.
- Projection from the world: counters (hs_email_delivered, _open, _click,
  _bounce, page views, visits = distinct days with page views, conversions)
  are 0 rather than empty for contacts without such events; hs_email_optout
  is true after an unsubscribe or a spam report. Lifecycle stages: customer
  (purchase or converted), opportunity (quote), salesqualifiedlead (meeting,
  sales touch, demo request), lead (any conversion), else subscriber. Each
  meeting is a meeting, each sales touch a call, each quote an email plus an
  open deal (contractsent) that the contact's next purchase closes won (a
  purchase without an open deal is a new won deal). Social clicks are not
  projected. World campaign index c is emailCampaignId c + 1; each send also
  gives a DELIVERED event two seconds later unless that send bounced; sentBy
  of a SENT event is the event itself. Events are served in time order (added
  ones at the end).
- Time: the sandbox's "now" is the world's `now` plus the sandbox clock's
  vendor seconds; writes stamp lastmodifieddate with it (strictly increasing).
  The daily budget resets at each vendor-time UTC midnight.
- Rate-limited answers carry Retry-After (seconds until the window frees a
  slot); HubSpot is reported to send it, but the public documents do not
  show it. Injected 429s carry the fault plan's retry_after.
- Injected record failures (`FaultPlan.record_failure`) fail single records of
  a batch update with category INTERNAL_ERROR, a transient failure that a
  later retry may get past.
"""

from __future__ import annotations

import base64
import itertools
import json
import math
import operator
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import Any, NoReturn, cast

import numpy as np
import numpy.typing as npt

from sandbox.clock import SandboxClock
from sandbox.faults import Fault, FaultPlan, Latency
from sandbox.http import (
    ApiError,
    Emulator,
    Handler,
    Request,
    Response,
)
from sandbox.limits import DailyBudget, RollingWindow
from sandbox.world.tables import HUBSPOT, World, WorldBuilder
from scoring.records import ACTIVITY_TYPES, TYPE_CODES, ActivityType

Json = dict[str, Any]
Floats = npt.NDArray[np.float64]
Objects = npt.NDArray[np.object_]
Ints = npt.NDArray[np.int64]
Rows = npt.NDArray[np.intp]
Mask = npt.NDArray[np.bool_]
Value = float | str | None
"""A stored property value: a float for numbers, times (epoch ms) and booleans."""

# -- limits ---------------------------------------------------------------------------------

TIERS: Mapping[str, tuple[int, int]] = {
    "free": (100, 250_000),
    "starter": (100, 250_000),
    "professional": (190, 625_000),
    "enterprise": (190, 1_000_000),
}
"""Requests per rolling 10 seconds and per day for a private app, by subscription tier."""
API_ADDON = "api_addon"
"""Tier suffix ("professional+api_addon") for the API Limit Increase: 250 per 10 s."""
ADDON_BURST, ADDON_DAILY = 250, 1_000_000
WINDOW_SECONDS = 10
SEARCH_PER_SECOND = 5
SEARCH_OPERATIONS = frozenset({"contacts.search"})
SEARCH_RESULT_CAP = 10_000
SEARCH_PAGE_MAX, LIST_PAGE_MAX, BATCH_MAX, ASSOCIATION_BATCH_MAX = 200, 100, 100, 1000
ASSOCIATION_PAGE_MAX = 500
EVENTS_PAGE_DEFAULT, EVENTS_PAGE_MAX = 100, 1000
MAX_FILTER_GROUPS, MAX_GROUP_FILTERS, MAX_FILTERS = 5, 6, 18
PORTAL_ID = 6_250_001
DAY_MS = 86_400_000

AUTH_MESSAGE = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
    "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)
RATE_LIMIT_MESSAGES = {
    "TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
    "SECONDLY": "You have reached your secondly limit.",
    "DAILY": "You have reached your daily limit.",
}

# -- contact properties ---------------------------------------------------------------------

LIFECYCLE_STAGES = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)
STAGE_LABELS = (
    "Subscriber",
    "Lead",
    "Marketing Qualified Lead",
    "Sales Qualified Lead",
    "Opportunity",
    "Customer",
    "Evangelist",
    "Other",
)
STAGE_RANK = {stage: rank for rank, stage in enumerate(LIFECYCLE_STAGES)}
EMPLOYEE_RANGES = ("1-5", "5-25", "25-50", "50-100", "100-500", "500-1000", "1000+")
EMPLOYEE_EDGES = (5, 25, 50, 100, 500, 1000)
DEFAULT_CONTACT_PROPERTIES = (
    "createdate",
    "email",
    "firstname",
    "hs_object_id",
    "lastmodifieddate",
    "lastname",
)
ALWAYS_RETURNED = ("createdate", "hs_object_id", "lastmodifieddate")
NUMERIC_TYPES = frozenset({"number", "datetime", "date", "bool"})
PROPERTY_TYPES = frozenset({"string", "number", "date", "datetime", "enumeration", "bool"})
FIELD_TYPES = frozenset(
    {
        "textarea",
        "text",
        "date",
        "file",
        "number",
        "select",
        "radio",
        "checkbox",
        "booleancheckbox",
        "calculation_equation",
    }
)
PROPERTY_NAME = re.compile(r"[a-z][a-z0-9_]*")
GROUPS = (
    ("contactinformation", "Contact information"),
    ("emailinformation", "Email information"),
    ("analyticsinformation", "Web analytics history"),
    ("conversioninformation", "Conversion information"),
)
BUILT_IN_AT = "2019-08-06T02:41:52.000Z"

# The built-in contact properties: name | label | type | group (+ "information") | ro = value
# read-only. HubSpot's field type follows from the type (lifecyclestage is a radio).
CONTACT_PROPERTY_TABLE = """
email                             | Email                           | string      | contact    | rw
firstname                         | First Name                      | string      | contact    | rw
lastname                          | Last Name                       | string      | contact    | rw
jobtitle                          | Job Title                       | string      | contact    | rw
company                           | Company Name                    | string      | contact    | rw
industry                          | Industry                        | string      | contact    | rw
country                           | Country/Region                  | string      | contact    | rw
numemployees                      | Number of Employees             | enumeration | contact    | rw
lifecyclestage                    | Lifecycle Stage                 | enumeration | contact    | rw
createdate                        | Create Date                     | datetime    | contact    | ro
lastmodifieddate                  | Last Modified Date              | datetime    | contact    | ro
hs_object_id                      | Record ID                       | number      | contact    | ro
hs_email_delivered                | Marketing emails delivered      | number      | email      | ro
hs_email_open                     | Marketing emails opened         | number      | email      | ro
hs_email_click                    | Marketing emails clicked        | number      | email      | ro
hs_email_bounce                   | Marketing emails bounced        | number      | email      | ro
hs_email_optout                   | Unsubscribed from all email     | bool        | email      | ro
hs_email_last_send_date           | Last marketing email send date  | datetime    | email      | ro
hs_email_last_open_date           | Last marketing email open date  | datetime    | email      | ro
hs_email_last_click_date          | Last marketing email click date | datetime    | email      | ro
hs_analytics_num_page_views       | Number of Pageviews             | number      | analytics  | ro
hs_analytics_num_visits           | Number of Sessions              | number      | analytics  | ro
hs_analytics_last_visit_timestamp | Time of last session            | datetime    | analytics  | ro
num_conversion_events             | Number of Form Submissions      | number      | conversion | ro
recent_conversion_date            | Recent Conversion Date          | datetime    | conversion | ro
recent_conversion_event_name      | Recent Conversion               | string      | conversion | ro
"""
FIELD_TYPE_OF = {
    "string": "text",
    "number": "number",
    "datetime": "date",
    "bool": "booleancheckbox",
    "enumeration": "select",
}


# -- what the world's activity becomes -----------------------------------------------------

A = ActivityType
CONVERSION_NAMES: Mapping[ActivityType, str] = {
    A.NEWSLETTER_SIGNUP: "Newsletter signup",
    A.FORM_SUBMISSION: "Contact form",
    A.CONTENT_DOWNLOAD: "Content download",
    A.QUESTION: "Question",
    A.DEMO_REQUEST: "Demo request",
}
CONVERSIONS = tuple(CONVERSION_NAMES)
COUNTED: tuple[tuple[str, tuple[ActivityType, ...]], ...] = (
    ("hs_email_delivered", (A.EMAIL_SENT,)),
    ("hs_email_open", (A.EMAIL_OPEN,)),
    ("hs_email_click", (A.EMAIL_CLICK,)),
    ("hs_email_bounce", (A.EMAIL_BOUNCE,)),
    ("hs_analytics_num_page_views", (A.PAGE_VIEW,)),
    ("num_conversion_events", CONVERSIONS),
)
LATEST: tuple[tuple[str, tuple[ActivityType, ...]], ...] = (
    ("hs_email_last_send_date", (A.EMAIL_SENT,)),
    ("hs_email_last_open_date", (A.EMAIL_OPEN,)),
    ("hs_email_last_click_date", (A.EMAIL_CLICK,)),
    ("hs_analytics_last_visit_timestamp", (A.PAGE_VIEW,)),
    ("recent_conversion_date", CONVERSIONS),
)
OPT_OUTS = (A.EMAIL_UNSUBSCRIBE, A.EMAIL_SPAM_REPORT)
STAGE_EVIDENCE: tuple[tuple[str, tuple[ActivityType, ...]], ...] = (
    ("lead", CONVERSIONS),
    ("salesqualifiedlead", (A.MEETING, A.SALES_TOUCH, A.DEMO_REQUEST)),
    ("opportunity", (A.QUOTE_SENT,)),
    ("customer", (A.PURCHASE,)),
)
SALES_ACTIVITY = (A.MEETING, A.SALES_TOUCH, A.QUOTE_SENT, A.PURCHASE)

EMAIL_EVENT_TYPES = ("SENT", "DELIVERED", "OPEN", "CLICK", "BOUNCE", "STATUSCHANGE", "SPAMREPORT")
SENT, DELIVERED, BOUNCE = 0, 1, 4
EMAIL_EVENT_OF: Mapping[ActivityType, int] = {
    A.EMAIL_SENT: SENT,
    A.EMAIL_OPEN: 2,
    A.EMAIL_CLICK: 3,
    A.EMAIL_BOUNCE: BOUNCE,
    A.EMAIL_UNSUBSCRIBE: 5,
    A.EMAIL_SPAM_REPORT: 6,
}
DELIVERY_DELAY_MS = 2_000
EMAIL_APP_ID, EMAIL_APP_NAME, SUBSCRIPTION_ID = 113, "Batch", 1
EVENT_ID_BASE = 0x6E0B57A1 << 96
CORRELATION_BASE = 0xC0A7E1A7 << 96


@dataclass(frozen=True)
class ObjectKind:
    """A CRM object type other than contacts, and how it is associated with contacts."""

    type_id: str
    to_contacts: tuple[str, int]
    """v3 association label and v4 type id from this object to a contact."""
    from_contacts: tuple[str, int]
    defaults: tuple[str, ...]


ENGAGEMENT_DEFAULTS = ("hs_createdate", "hs_lastmodifieddate", "hs_object_id")
OBJECT_KINDS: Mapping[str, ObjectKind] = {
    "deals": ObjectKind(
        "0-3",
        ("deal_to_contact", 3),
        ("contact_to_deal", 4),
        (
            "amount",
            "closedate",
            "createdate",
            "dealname",
            "dealstage",
            "hs_lastmodifieddate",
            "hs_object_id",
            "pipeline",
        ),
    ),
    "meetings": ObjectKind(
        "0-47",
        ("meeting_event_to_contact", 200),
        ("contact_to_meeting_event", 199),
        ENGAGEMENT_DEFAULTS,
    ),
    "calls": ObjectKind(
        "0-48", ("call_to_contact", 194), ("contact_to_call", 193), ENGAGEMENT_DEFAULTS
    ),
    "emails": ObjectKind(
        "0-49", ("email_to_contact", 198), ("contact_to_email", 197), ENGAGEMENT_DEFAULTS
    ),
}
OBJECT_ALIASES = {
    "0-1": "contacts",
    "contact": "contacts",
    **{kind.type_id: name for name, kind in OBJECT_KINDS.items()},
    **{name[:-1]: name for name in OBJECT_KINDS},
}


# -- values -----------------------------------------------------------------------------------


class Invalid(Exception):
    """A value or request part that HubSpot refuses with 400 VALIDATION_ERROR."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def iso(ms: float) -> str:
    """HubSpot's text of a moment: ISO 8601 in UTC with milliseconds."""
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(text: str) -> float | None:
    """Epoch milliseconds from HubSpot's accepted forms: milliseconds, ISO date or date-time."""
    if re.fullmatch(r"-?\d+", text):
        return float(int(text))
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return float(round(moment.timestamp() * 1000))


def render(kind: str, number: float) -> str:
    """The text HubSpot returns for a stored number, time or boolean."""
    if kind == "datetime":
        return iso(number)
    if kind == "date":
        return iso(number)[:10]
    if kind == "bool":
        return "true" if number else "false"
    return str(int(number)) if number.is_integer() else repr(number)


def parse_value(definition: Json, raw: Any) -> float | str:
    """A written value as stored, or `Invalid` with HubSpot's error code."""
    kind = definition["type"]
    text = raw if isinstance(raw, str) else json.dumps(raw)
    if kind == "string":
        return text
    if kind == "enumeration":
        allowed = [option["value"] for option in definition["options"]]
        if text not in allowed:
            raise Invalid("INVALID_OPTION", f"{text} was not one of the allowed options: {allowed}")
        return text
    if kind == "bool":
        if text.lower() not in ("true", "false"):
            raise Invalid("INVALID_BOOLEAN", f"{text} is not a valid boolean")
        return 1.0 if text.lower() == "true" else 0.0
    if kind in ("datetime", "date"):
        moment = parse_time(text)
        if moment is None:
            raise Invalid("INVALID_DATE", f"{text} is not a valid date")
        return moment
    try:
        number = float(text)
    except ValueError:
        raise Invalid("INVALID_FLOAT", f"{text} is not a valid number") from None
    if not math.isfinite(number):
        raise Invalid("INVALID_FLOAT", f"{text} is not a valid number")
    return number


def property_definition(
    name: str,
    label: str,
    kind: str,
    field_type: str,
    group: str,
    *,
    read_only: bool = False,
    hubspot_defined: bool = True,
    options: Sequence[Json] = (),
    description: str = "",
    order: int = -1,
    at: str = BUILT_IN_AT,
) -> Json:
    """A property as the properties API returns it."""
    return {
        "name": name,
        "label": label,
        "type": kind,
        "fieldType": field_type,
        "description": description,
        "groupName": group,
        "options": [dict(option) for option in options],
        "displayOrder": order,
        "calculated": read_only and hubspot_defined,
        "externalOptions": False,
        "hasUniqueValue": False,
        "hidden": False,
        "hubspotDefined": hubspot_defined,
        "modificationMetadata": {
            "archivable": not hubspot_defined,
            "readOnlyDefinition": hubspot_defined,
            "readOnlyValue": read_only,
        },
        "formField": not read_only,
        "archived": False,
        "createdAt": at,
        "updatedAt": at,
    }


def option(value: str, label: str, order: int) -> Json:
    return {
        "label": label,
        "value": value,
        "displayOrder": order,
        "hidden": False,
        "description": "",
    }


def property_options(raw: Any) -> list[Json]:
    """The options of an enumeration as a create or update gives them, as stored."""
    if not isinstance(raw, list) or not all(isinstance(given, dict) for given in raw):
        raise Invalid("INVALID_OPTIONS", "options must be a list of objects")
    options = []
    for i, given in enumerate(raw):
        if given.get("value") in (None, "") or given.get("label") in (None, ""):
            raise Invalid("INVALID_OPTIONS", f"Option {i} needs a label and a value")
        order = given.get("displayOrder")
        entry = option(str(given["value"]), str(given["label"]), i if order is None else int(order))
        entry["hidden"] = bool(given.get("hidden", False))
        entry["description"] = str(given.get("description") or "")
        options.append(entry)
    values = [entry["value"] for entry in options]
    repeated = sorted({value for value in values if values.count(value) > 1})
    if repeated:
        raise Invalid("DUPLICATE_OPTIONS", f"Option values must be unique; repeated: {repeated}")
    return options


def built_in_definitions() -> list[Json]:
    options: dict[str, list[Json]] = {
        "lifecyclestage": [
            option(value, label, i)
            for i, (value, label) in enumerate(zip(LIFECYCLE_STAGES, STAGE_LABELS, strict=True))
        ],
        "numemployees": [option(value, value, i) for i, value in enumerate(EMPLOYEE_RANGES)],
    }
    rows = [line.split("|") for line in CONTACT_PROPERTY_TABLE.strip().splitlines()]
    definitions = []
    for order, (name, label, kind, group, access) in enumerate(rows):
        name, kind = name.strip(), kind.strip()
        field_type = "radio" if name == "lifecyclestage" else FIELD_TYPE_OF[kind]
        definition = property_definition(
            name,
            label.strip(),
            kind,
            field_type,
            f"{group.strip()}information",
            read_only=access.strip() == "ro",
            options=options.get(name, ()),
            order=order,
        )
        definitions.append(definition)
    return definitions


# -- contacts as columns --------------------------------------------------------------------


class ContactTable:
    """Contact properties as columns, one row per contact (id = row + 1).

    Numbers, times (epoch ms) and booleans are float64 with NaN for empty; text
    and enumerations are object arrays with None for empty.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.defs: dict[str, Json] = {}
        self.columns: dict[str, Floats | Objects] = {}
        self._lowered: dict[str, Objects] = {}
        self._by_email: dict[str, int] | None = None

    def define(self, definition: Json, column: Floats | Objects | None = None) -> None:
        name = definition["name"]
        self.defs[name] = definition
        if column is None:
            column = (
                np.full(self.size, np.nan)
                if self.numeric(name)
                else np.full(self.size, None, dtype=object)
            )
        self.columns[name] = column

    def numeric(self, name: str) -> bool:
        return str(self.defs[name]["type"]) in NUMERIC_TYPES

    def floats(self, name: str) -> Floats:
        return cast(Floats, self.columns[name])

    def value(self, name: str, row: int) -> str | None:
        raw = self.columns[name][row]
        if not self.numeric(name):
            return None if raw is None else str(raw)
        number = float(raw)
        return None if math.isnan(number) else render(self.defs[name]["type"], number)

    def set(self, name: str, row: int, value: Value) -> None:
        self.columns[name][row] = (
            (np.nan if value is None else value) if self.numeric(name) else value
        )
        self._lowered.pop(name, None)
        if name == "email":
            self._by_email = None

    def coerce(self, name: str, raw: Any, *, allow_read_only: bool = False) -> Value:
        """A written value as stored; `Invalid` for unknown, read-only or bad values."""
        definition = self.defs.get(name)
        if definition is None:
            raise Invalid("PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
        if definition["modificationMetadata"]["readOnlyValue"] and not allow_read_only:
            raise Invalid("READ_ONLY_VALUE", f'"{name}" is a read only property')
        if raw is None or raw == "":
            return None
        return parse_value(definition, raw)

    def lowered(self, name: str) -> Objects:
        """A text column in lower case (cached until the column is written)."""
        if name not in self._lowered:
            column = self.columns[name]
            lowered = np.empty(self.size, dtype=object)
            lowered[:] = [None if v is None else str(v).lower() for v in column]
            self._lowered[name] = lowered
        return self._lowered[name]

    def row_of_email(self, email: str) -> int | None:
        if self._by_email is None:
            emails = self.lowered("email")
            self._by_email = {str(e).strip(): r for r, e in enumerate(emails) if e is not None}
        return self._by_email.get(email.strip().lower())


def each(values: Objects, test: Callable[[Any], bool]) -> Mask:
    return np.fromiter((test(v) for v in values), dtype=bool, count=len(values))


def contains_token(text: str, pattern: str) -> bool:
    tokens = [t for t in re.split(r"[\s,;]+", text) if t]
    return fnmatchcase(text, pattern) or any(fnmatchcase(t, pattern) for t in tokens)


FILTER_OPERATORS = frozenset(
    {
        "EQ",
        "NEQ",
        "LT",
        "LTE",
        "GT",
        "GTE",
        "BETWEEN",
        "IN",
        "NOT_IN",
        "HAS_PROPERTY",
        "NOT_HAS_PROPERTY",
        "CONTAINS_TOKEN",
        "NOT_CONTAINS_TOKEN",
    }
)
NEGATIONS = {
    "NEQ": "EQ",
    "NOT_IN": "IN",
    "NOT_HAS_PROPERTY": "HAS_PROPERTY",
    "NOT_CONTAINS_TOKEN": "CONTAINS_TOKEN",
}
ORDERINGS: Mapping[str, Callable[[Any, Any], Any]] = {
    "EQ": operator.eq,
    "GT": operator.gt,
    "GTE": operator.ge,
    "LT": operator.lt,
    "LTE": operator.le,
}


def filter_mask(table: ContactTable, spec: Any) -> Mask:
    """The contacts one search filter matches."""
    if not isinstance(spec, dict):
        raise Invalid("INVALID_FILTER", "Each filter must be an object")
    name, op = spec.get("propertyName"), spec.get("operator")
    if op not in FILTER_OPERATORS:
        raise Invalid("INVALID_FILTER", f"Unknown filter operator: {op}")
    if name not in table.defs:
        raise Invalid("INVALID_FILTER", f"Unknown property in filter: {name}")
    if op in NEGATIONS:
        return ~filter_mask(table, {**spec, "operator": NEGATIONS[op]})
    if table.numeric(name):
        return numeric_mask(table.floats(name), table.defs[name], op, spec)
    return text_mask(table.lowered(name), op, spec)


def required(spec: Json, key: str) -> Any:
    if spec.get(key) is None:
        raise Invalid("INVALID_FILTER", f"Operator {spec.get('operator')} needs a {key}")
    return spec[key]


def filter_number(definition: Json, raw: Any) -> float:
    if definition["type"] in ("datetime", "date") and isinstance(raw, int | float):
        return float(raw)
    return float(parse_value(definition, raw))


def numeric_mask(column: Floats, definition: Json, op: str, spec: Json) -> Mask:
    if op == "HAS_PROPERTY":
        return ~np.isnan(column)
    if op == "IN":
        wanted = [filter_number(definition, v) for v in required(spec, "values")]
        return np.isin(column, wanted)
    value = filter_number(definition, required(spec, "value"))
    if op == "BETWEEN":
        high = filter_number(definition, required(spec, "highValue"))
        return (column >= value) & (column <= high)
    if op not in ORDERINGS:
        raise Invalid("INVALID_FILTER", f"{op} does not apply to property {definition['name']}")
    with np.errstate(invalid="ignore"):
        return np.asarray(ORDERINGS[op](column, value), dtype=bool)


def text_mask(lowered: Objects, op: str, spec: Json) -> Mask:
    if op == "HAS_PROPERTY":
        return each(lowered, lambda v: v is not None)
    if op == "IN":
        wanted = {str(v).lower() for v in required(spec, "values")}
        return each(lowered, lambda v: v in wanted)
    value = str(required(spec, "value")).lower()
    if op == "CONTAINS_TOKEN":
        return each(lowered, lambda v: v is not None and contains_token(v, value))
    if op == "BETWEEN":
        high = str(required(spec, "highValue")).lower()
        return each(lowered, lambda v: v is not None and value <= v <= high)
    test = ORDERINGS[op]
    return each(lowered, lambda v: v is not None and bool(test(v, value)))


def sort_spec(sorts: Any) -> tuple[str, bool] | None:
    """The one sort rule of a search (property, descending), in either accepted form."""
    if not sorts:
        return None
    if not isinstance(sorts, list) or len(sorts) > 1:
        raise Invalid("INVALID_SORT", "Only one sort rule is supported")
    rule = sorts[0]
    if isinstance(rule, str):
        return rule.lstrip("-"), rule.startswith("-")
    if not isinstance(rule, dict) or not rule.get("propertyName"):
        raise Invalid("INVALID_SORT", "A sort needs a propertyName")
    direction = str(rule.get("direction", "ASCENDING")).upper()
    if direction not in ("ASCENDING", "DESCENDING"):
        raise Invalid("INVALID_SORT", f"Unknown sort direction: {direction}")
    return str(rule["propertyName"]), direction == "DESCENDING"


def sort_rows(table: ContactTable, rows: Rows, sorts: Any) -> Rows:
    """Rows in the order of the sort rule; empty values last, ties by id."""
    spec = sort_spec(sorts)
    if spec is None:
        return rows
    name, descending = spec
    if name not in table.defs:
        raise Invalid("INVALID_SORT", f"Unknown property in sort: {name}")
    if table.numeric(name):
        values = table.floats(name)[rows]
        missing = np.isnan(values)
        key = np.where(missing, 0.0, -values if descending else values)
        return rows[np.lexsort((rows, key, missing))]
    lowered = table.lowered(name)
    present = [int(r) for r in rows if lowered[r] is not None]
    absent = [int(r) for r in rows if lowered[r] is None]
    present.sort(key=lambda r: str(lowered[r]), reverse=descending)
    return np.array(present + absent, dtype=np.intp)


def check_filter_limits(groups: Any) -> list[Json]:
    if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
        raise Invalid("INVALID_FILTER", "filterGroups must be a list of objects")
    sizes = [len(g.get("filters") or []) for g in groups]
    if len(groups) > MAX_FILTER_GROUPS:
        raise Invalid("TOO_MANY_FILTER_GROUPS", f"At most {MAX_FILTER_GROUPS} filterGroups")
    if any(size > MAX_GROUP_FILTERS for size in sizes) or sum(sizes) > MAX_FILTERS:
        raise Invalid(
            "TOO_MANY_FILTERS",
            f"At most {MAX_GROUP_FILTERS} filters per group and {MAX_FILTERS} in all",
        )
    return groups


# -- projecting the world -------------------------------------------------------------------


@dataclass(frozen=True)
class Activity:
    """The world's events that happened to HubSpot contacts by the world's `now`."""

    row: Rows
    code: npt.NDArray[np.int8]
    at: Floats
    """Epoch milliseconds."""
    index: Rows
    """Index into `World.events`."""

    def of(self, kinds: Iterable[ActivityType]) -> Mask:
        return np.isin(self.code, [TYPE_CODES[k] for k in kinds])


def world_activity(world: World, row_of: Rows) -> Activity:
    events = world.events
    rows = row_of[events.person] if len(events) else np.zeros(0, dtype=np.intp)
    # email events of campaigns another tool sent are that tool's to report
    sender = np.append(world.campaigns.system, np.uint8(HUBSPOT))[events.campaign]
    index = np.flatnonzero((rows >= 0) & (events.at <= world.now) & ((sender & HUBSPOT) > 0))
    return Activity(rows[index], events.type[index], events.at[index] * 1000.0, index)


def pick(values: Objects, index: npt.NDArray[np.int32]) -> Objects:
    out = np.full(len(index), None, dtype=object)
    valid = (index >= 0) & (index < len(values))
    out[valid] = values[index[valid]]
    return out


def employee_ranges(employees: npt.NDArray[np.int32], index: npt.NDArray[np.int32]) -> Objects:
    out = np.full(len(index), None, dtype=object)
    valid = (index >= 0) & (index < len(employees))
    buckets = np.searchsorted(EMPLOYEE_EDGES, employees[index[valid]], side="left")
    out[valid] = np.array(EMPLOYEE_RANGES, dtype=object)[buckets]
    return out


def counters(activity: Activity, size: int) -> dict[str, Floats]:
    columns: dict[str, Floats] = {}
    for name, kinds in COUNTED:
        rows = activity.row[activity.of(kinds)]
        columns[name] = np.bincount(rows, minlength=size).astype(np.float64)
    for name, kinds in LATEST:
        column = np.full(size, np.nan)
        mask = activity.of(kinds)
        np.fmax.at(column, activity.row[mask], activity.at[mask])
        columns[name] = column
    opted_out = np.bincount(activity.row[activity.of(OPT_OUTS)], minlength=size) > 0
    columns["hs_email_optout"] = opted_out.astype(np.float64)
    columns["hs_analytics_num_visits"] = visits(activity, size)
    return columns


def visits(activity: Activity, size: int) -> Floats:
    """Sessions, counted as distinct days with page views."""
    mask = activity.of((A.PAGE_VIEW,))
    days = np.floor(activity.at[mask] / DAY_MS).astype(np.int64)
    pairs = np.unique(activity.row[mask].astype(np.int64) * 10_000_000 + days)
    return np.bincount(pairs // 10_000_000, minlength=size).astype(np.float64)


def last_per_row(rows: Rows, at: Floats) -> Rows:
    """Positions of the latest entry of each distinct row."""
    order = np.lexsort((at, rows))
    ordered = rows[order]
    last = np.ones(len(order), dtype=bool)
    last[:-1] = ordered[:-1] != ordered[1:]
    return order[last]


def conversion_name(world: World, event: int, urls: Sequence[str]) -> str:
    label = CONVERSION_NAMES[ACTIVITY_TYPES[int(world.events.type[event])]]
    url = int(world.events.url[event])
    return f"{label}: {urls[url]}" if 0 <= url < len(urls) else label


def recent_conversions(world: World, activity: Activity, size: int, urls: Sequence[str]) -> Objects:
    names = np.full(size, None, dtype=object)
    mask = activity.of(CONVERSIONS)
    rows, events = activity.row[mask], activity.index[mask]
    for position in last_per_row(rows, activity.at[mask]):
        names[rows[position]] = conversion_name(world, int(events[position]), urls)
    return names


def stages(world: World, rows: Rows, activity: Activity) -> Objects:
    rank = np.zeros(len(rows), dtype=np.intp)
    for stage, kinds in STAGE_EVIDENCE:
        np.maximum.at(rank, activity.row[activity.of(kinds)], STAGE_RANK[stage])
    people = world.people
    if len(people.converted) == len(people):
        won = people.converted[rows] & (people.converted_at[rows] <= world.now)
        rank[won] = np.maximum(rank[won], STAGE_RANK["customer"])
    return np.array(LIFECYCLE_STAGES, dtype=object)[rank]


def project_contacts(
    world: World, rows: Rows, activity: Activity, urls: Sequence[str]
) -> ContactTable:
    people, companies = world.people, world.companies
    company = people.company[rows]
    held = people.email_as_held.get(HUBSPOT, people.email)
    created = people.created_at[rows] * 1000.0
    modified = created.copy()
    np.fmax.at(modified, activity.row, activity.at)
    columns: dict[str, Floats | Objects] = {
        "email": held[rows],
        "firstname": people.first_name[rows],
        "lastname": people.last_name[rows],
        "jobtitle": people.job_title[rows],
        "country": people.country[rows],
        "company": pick(companies.name, company),
        "industry": pick(companies.industry, company),
        "numemployees": employee_ranges(companies.employees, company),
        "createdate": created,
        "lastmodifieddate": modified,
        "hs_object_id": np.arange(1, len(rows) + 1, dtype=np.float64),
        "lifecyclestage": stages(world, rows, activity),
        "recent_conversion_event_name": recent_conversions(world, activity, len(rows), urls),
        **counters(activity, len(rows)),
    }
    table = ContactTable(len(rows))
    for definition in built_in_definitions():
        table.define(definition, columns.get(definition["name"]))
    return table


# -- email events -----------------------------------------------------------------------------


@dataclass
class EmailLog:
    """Marketing email events, one position each, in the order they are served."""

    contact: Ints
    kind: Ints
    """Index into EMAIL_EVENT_TYPES."""
    at: Floats
    campaign: Ints
    """emailCampaignId, 0 when the event belongs to no campaign."""
    url: Ints
    """Index into the sandbox's urls, -1 when none."""
    sent: Ints = field(init=False)
    """Position of the SENT event each event belongs to, -1 when unknown."""

    _pending: list[tuple[int, int, float, int, int]] = field(
        init=False, repr=False, default_factory=list
    )

    def __post_init__(self) -> None:
        self.sent = link_sends(self)

    def __len__(self) -> int:
        return len(self.contact)

    def append(self, contact: int, kind: int, at: float, campaign: int, url: int) -> None:
        """Add an event at the end; it is served after the next `flush`."""
        self._pending.append((contact, kind, at, campaign, url))

    def flush(self) -> None:
        """Merge the added events and link every event to its send again (one pass)."""
        if not self._pending:
            return
        contact, kind, at, campaign, url = (
            np.array(column) for column in zip(*self._pending, strict=True)
        )
        self._pending.clear()
        self.contact = np.concatenate([self.contact, contact.astype(np.int64)])
        self.kind = np.concatenate([self.kind, kind.astype(np.int64)])
        self.at = np.concatenate([self.at, at.astype(np.float64)])
        self.campaign = np.concatenate([self.campaign, campaign.astype(np.int64)])
        self.url = np.concatenate([self.url, url.astype(np.int64)])
        self.sent = link_sends(self)


def link_sends(log: EmailLog) -> Ints:
    """For each event, the latest SENT of the same contact and campaign at or before it."""
    if not len(log):
        return np.zeros(0, dtype=np.int64)
    key = log.contact * (int(log.campaign.max()) + 2) + log.campaign
    order = np.lexsort((log.kind != SENT, log.at, key))
    sends = np.where(log.kind[order] == SENT, np.arange(len(order)), -1)
    latest = np.maximum.accumulate(sends)
    anchor = order[np.maximum(latest, 0)]
    linked = np.where((latest >= 0) & (key[anchor] == key[order]), anchor, -1)
    out = np.empty(len(order), dtype=np.int64)
    out[order] = linked
    return out


def project_email_log(world: World, activity: Activity) -> EmailLog:
    lookup = np.full(len(ACTIVITY_TYPES), -1, dtype=np.int64)
    for activity_type, event_type in EMAIL_EVENT_OF.items():
        lookup[TYPE_CODES[activity_type]] = event_type
    mask = lookup[activity.code] >= 0
    events = activity.index[mask]
    contact = activity.row[mask].astype(np.int64) + 1
    kind = lookup[activity.code[mask]]
    at = activity.at[mask]
    campaign = world.events.campaign[events].astype(np.int64) + 1
    url = world.events.url[events].astype(np.int64)
    delivered = delivered_sends(contact, kind, campaign)
    order = np.argsort(np.concatenate([at, at[delivered] + DELIVERY_DELAY_MS]), kind="stable")
    return EmailLog(
        np.concatenate([contact, contact[delivered]])[order],
        np.concatenate([kind, np.full(int(delivered.sum()), DELIVERED)])[order],
        np.concatenate([at, at[delivered] + DELIVERY_DELAY_MS])[order],
        np.concatenate([campaign, campaign[delivered]])[order],
        np.concatenate([url, np.full(int(delivered.sum()), -1)])[order],
    )


def delivered_sends(contact: Ints, kind: Ints, campaign: Ints) -> Mask:
    """Sends that did not bounce (no bounce of the same contact and campaign)."""
    key = contact * (int(campaign.max(initial=0)) + 2) + campaign
    sends: Mask = np.equal(kind, SENT)
    return sends & ~np.isin(key, key[kind == BOUNCE])


def event_id(position: int) -> str:
    return str(uuid.UUID(int=EVENT_ID_BASE + position))


def encode_offset(position: int) -> str:
    return base64.urlsafe_b64encode(f"pos:{position}".encode()).decode().rstrip("=")


def decode_offset(token: str | None) -> int:
    if not token:
        return -1
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        return int(text.removeprefix("pos:"))
    except ValueError:
        raise Invalid("INVALID_OFFSET", f"Invalid offset: {token}") from None


# -- deals and engagements ------------------------------------------------------------------


@dataclass(slots=True)
class CrmObject:
    """One deal or engagement (meeting, call, email) and the contact it is associated with.

    Its properties are rendered when it is read (`HubSpotSandbox._object_properties`).
    """

    id: int
    contact: int
    created: float
    updated: float
    amount: float = math.nan
    stage: str = ""
    """Deals only: contractsent while open, closedwon once bought."""
    closed: float = math.nan


# -- request helpers --------------------------------------------------------------------------


def list_arg(request: Request, key: str) -> list[str]:
    """A repeated or comma-separated query parameter."""
    return [name for value in request.query.get(key, []) for name in value.split(",") if name]


def int_arg(raw: Any, name: str, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise Invalid("INVALID_INTEGER", f"{name} must be an integer, not {raw!r}") from None


def flag(raw: str | None) -> bool:
    return str(raw).lower() == "true"


def unique(names: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(names))


def record_error(category: str, message: str, ids: list[str], **extra: Any) -> Json:
    """One entry of a multi-status answer's `errors`."""
    return {
        "status": "error",
        "category": category,
        "message": message,
        "context": {"ids": ids},
        "errors": [],
        "links": {},
        **extra,
    }


def invalid_properties(problems: list[Json]) -> str:
    return "Property values were not valid: " + json.dumps(problems, separators=(",", ":"))


def problem(name: str, bad: Invalid) -> Json:
    return {
        "isValid": False,
        "message": bad.message,
        "error": bad.code,
        "name": name,
        "localizedErrorMessage": bad.message,
    }


def tier_limits(tier: str) -> tuple[int, int]:
    base, _, addon = tier.lower().partition("+")
    if base not in TIERS or addon not in ("", API_ADDON):
        raise ValueError(
            f"unknown HubSpot tier {tier!r}; use one of {sorted(TIERS)} [+{API_ADDON}]"
        )
    burst, daily = TIERS[base]
    return (ADDON_BURST, daily + ADDON_DAILY) if addon else (burst, daily)


def empty_world() -> World:
    return WorldBuilder(datetime(2026, 1, 1, tzinfo=UTC)).build()


# -- the emulator -----------------------------------------------------------------------------


class HubSpotSandbox(Emulator):
    """HubSpot's CRM objects, search, properties, email events and associations, over a world."""

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
    ) -> None:
        super().__init__(faults=faults, latency=latency, clock=clock)
        self.world = world if world is not None else empty_world()
        self.token = token
        self.tier = tier
        self.burst, daily = tier_limits(tier)
        self.window = RollingWindow(self.burst, WINDOW_SECONDS, self.clock)
        self.search_window = RollingWindow(SEARCH_PER_SECOND, 1, self.clock)
        self.daily = DailyBudget(daily if daily_limit is None else daily_limit)
        self.search_result_cap = search_result_cap
        self._origin_ms = self.world.now * 1000.0
        self._last_ms = self._origin_ms
        self._day = self._vendor_day()
        self._correlation = itertools.count(1)
        self.groups: dict[str, Json] = {
            name: {"name": name, "label": label, "displayOrder": i, "archived": False}
            for i, (name, label) in enumerate(GROUPS)
        }
        self.objects: dict[str, list[CrmObject]] = {kind: [] for kind in OBJECT_KINDS}
        self._links: dict[int, dict[str, list[int]]] = {}
        self._project()
        self._add_routes()

    def _project(self) -> None:
        world = self.world
        self.urls: list[str] = [str(url) for url in world.urls]
        rows = world.people.in_system(HUBSPOT)
        row_of = np.full(len(world.people), -1, dtype=np.intp)
        row_of[rows] = np.arange(len(rows))
        activity = world_activity(world, row_of)
        self.contacts = project_contacts(world, rows, activity, self.urls)
        self.email_log = project_email_log(world, activity)
        mask = activity.of(SALES_ACTIVITY)
        amounts = world.events.amount[activity.index[mask]]
        for row, code, at, amount in zip(
            activity.row[mask], activity.code[mask], activity.at[mask], amounts, strict=True
        ):
            self._record_sale(int(row), ACTIVITY_TYPES[int(code)], float(at), float(amount))

    def _add_routes(self) -> None:
        contacts, properties = "/crm/v3/objects/contacts", "/crm/v3/properties/{objectType}"
        table: tuple[tuple[str, str, str, Handler], ...] = (
            ("GET", contacts, "contacts.list", self.list_contacts),
            ("POST", f"{contacts}/search", "contacts.search", self.search_contacts),
            ("POST", f"{contacts}/batch/read", "contacts.batch_read", self.batch_read),
            ("POST", f"{contacts}/batch/update", "contacts.batch_update", self.batch_update),
            ("GET", f"{contacts}/{{contactId}}", "contacts.get", self.get_contact),
            ("PATCH", f"{contacts}/{{contactId}}", "contacts.update", self.update_contact),
            ("GET", f"{properties}/groups", "properties.groups.list", self.list_groups),
            ("POST", f"{properties}/groups", "properties.groups.create", self.create_group),
            ("GET", properties, "properties.list", self.list_properties),
            ("POST", properties, "properties.create", self.create_property),
            ("GET", f"{properties}/{{propertyName}}", "properties.get", self.get_property),
            (
                "PATCH",
                f"{properties}/{{propertyName}}",
                "properties.update",
                self.update_property,
            ),
            ("GET", "/email/public/v1/events", "email.events", self.email_events),
            ("GET", "/crm/v3/objects/{objectType}", "objects.list", self.list_objects),
            ("GET", "/crm/v3/objects/{objectType}/{objectId}", "objects.get", self.get_object),
            (
                "GET",
                "/crm/v4/objects/{objectType}/{objectId}/associations/{toObjectType}",
                "associations.list",
                self.list_associations,
            ),
            (
                "POST",
                "/crm/v4/associations/{fromObjectType}/{toObjectType}/batch/read",
                "associations.batch_read",
                self.batch_read_associations,
            ),
        )
        for method, path, operation, handler in table:
            self.route(method, path, operation, self._guarded(handler))

    def _guarded(self, handler: Handler) -> Handler:
        """Serve one request at a time over the data; bad input answers 400 VALIDATION_ERROR."""

        def serve(request: Request) -> Response:
            try:
                with self.lock:
                    return handler(request)
            except Invalid as bad:
                return self._error(400, bad.message, "VALIDATION_ERROR")
            except (TypeError, AttributeError, KeyError, ValueError) as bad:
                return self._error(
                    400, f"Invalid input JSON: {type(bad).__name__}: {bad}", "VALIDATION_ERROR"
                )

        return serve

    # -- time, ids, errors ----------------------------------------------------------------------

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
        correlation = self._correlation_id()
        body = {
            "status": "error",
            "message": message,
            "correlationId": correlation,
            "category": category,
            **extra,
        }
        return Response.json(body, status, **{"X-HubSpot-Correlation-Id": correlation})

    def _fail(
        self, status: int, message: str, category: str = "VALIDATION_ERROR", **extra: Any
    ) -> NoReturn:
        raise ApiError(self._error(status, message, category, **extra))

    def _rate_limited(self, policy: str, retry_after: str) -> Response:
        correlation = self._correlation_id()
        body = {
            "status": "error",
            "message": RATE_LIMIT_MESSAGES[policy],
            "errorType": "RATE_LIMIT",
            "correlationId": correlation,
            "policyName": policy,
        }
        headers = {"Retry-After": retry_after, "X-HubSpot-Correlation-Id": correlation}
        return Response.json(body, 429, **headers)

    # -- hooks of the base class ----------------------------------------------------------------

    def admit(self, request: Request) -> Response | None:
        """Bearer token, then the daily budget, the search limit and the rolling window."""
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return self._error(401, AUTH_MESSAGE, "INVALID_AUTHENTICATION")
        with self.lock:
            if self._vendor_day() != self._day:
                self._day, self.daily.used = self._vendor_day(), 0
        if self.daily.remaining <= 0:
            until_midnight = DAY_MS - self._vendor_ms() % DAY_MS
            return self._rate_limited("DAILY", str(math.ceil(until_midnight / 1000)))
        if request.operation in SEARCH_OPERATIONS and not self.search_window.try_acquire():
            return self._rate_limited("SECONDLY", self._seconds(self.search_window))
        if not self.window.try_acquire():
            return self._rate_limited("TEN_SECONDLY_ROLLING", self._seconds(self.window))
        self.daily.try_spend()
        return None

    @staticmethod
    def _seconds(window: RollingWindow) -> str:
        return str(max(1, math.ceil(window.retry_after())))

    def decorate(self, request: Request, response: Response) -> None:
        """Correlation id everywhere; rate-limit headers except on search answers."""
        response.headers.setdefault("X-HubSpot-Correlation-Id", self._correlation_id())
        if request.operation in SEARCH_OPERATIONS or request.operation == "unknown":
            return
        response.headers.update(
            {
                "X-HubSpot-RateLimit-Daily": str(self.daily.limit),
                "X-HubSpot-RateLimit-Daily-Remaining": str(self.daily.remaining),
                "X-HubSpot-RateLimit-Interval-Milliseconds": str(WINDOW_SECONDS * 1000),
                "X-HubSpot-RateLimit-Max": str(self.burst),
                "X-HubSpot-RateLimit-Remaining": str(self.window.remaining()),
            }
        )

    def fault_response(self, request: Request, fault: Fault) -> Response:
        if fault.status == 429:
            return self._rate_limited("TEN_SECONDLY_ROLLING", str(fault.retry_after))
        return self._error(fault.status, "internal error", "INTERNAL_ERROR")

    def not_found(self, request: Request) -> Response:
        return self._error(
            404, f"No such resource: {request.method} {request.path}", "OBJECT_NOT_FOUND"
        )

    # -- runtime activity -----------------------------------------------------------------------

    def contact_id_of(self, email: str) -> str | None:
        """The id of the contact HubSpot holds under `email` (any case), if any."""
        with self.lock:
            row = self.contacts.row_of_email(email)
        return None if row is None else str(row + 1)

    def touch(self, contact_id: str, **properties: str | None) -> None:
        """Change properties as a HubSpot user or workflow would (read-only ones too).

        Moves lastmodifieddate to the sandbox's current time. An empty string or
        None clears a property.
        """
        with self.lock:
            row = self._row(contact_id)
            values = {
                name: self.contacts.coerce(name, raw, allow_read_only=True)
                for name, raw in properties.items()
            }
            self._apply(row, values)

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
            row = self._row(contact_id)
            moment = self._vendor_ms() if at is None else at.timestamp() * 1000.0
            url_index = self._url_index(url)
            self._note_conversion(row, kind, moment, url_index)
            self._count(row, kind, moment)
            self._log_email(row, kind, moment, -1 if campaign is None else campaign, url_index)
            if kind in SALES_ACTIVITY:
                self._record_sale(row, kind, moment, math.nan if amount is None else amount)
            self.contacts.set("lastmodifieddate", row, self._now_ms())

    def _row(self, contact_id: str) -> int:
        row = int(contact_id) - 1
        if not 0 <= row < self.contacts.size:
            raise KeyError(f"no contact {contact_id} in the HubSpot sandbox")
        return row

    def _url_index(self, url: str | None) -> int:
        if url is None:
            return -1
        if url not in self.urls:
            self.urls.append(url)
        return self.urls.index(url)

    def _count(self, row: int, kind: ActivityType, at: float) -> None:
        table = self.contacts
        if kind is A.PAGE_VIEW:
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
        latest = self.contacts.floats("recent_conversion_date")[row]
        if kind in CONVERSION_NAMES and not at < latest:
            label = CONVERSION_NAMES[kind]
            name = f"{label}: {self.urls[url]}" if url >= 0 else label
            self.contacts.set("recent_conversion_event_name", row, name)

    def _log_email(self, row: int, kind: ActivityType, at: float, campaign: int, url: int) -> None:
        event_type = EMAIL_EVENT_OF.get(kind)
        if event_type is None:
            return
        self.email_log.append(row + 1, event_type, at, campaign + 1, url)
        if event_type == SENT:
            self.email_log.append(row + 1, DELIVERED, at + DELIVERY_DELAY_MS, campaign + 1, -1)

    # -- deals and engagements ------------------------------------------------------------------

    def _record_sale(self, row: int, kind: ActivityType, at: float, amount: float) -> None:
        if kind is A.MEETING:
            self._add_object("meetings", CrmObject(0, row + 1, at, at))
        elif kind is A.SALES_TOUCH:
            self._add_object("calls", CrmObject(0, row + 1, at, at))
        elif kind is A.QUOTE_SENT:
            self._add_object("emails", CrmObject(0, row + 1, at, at))
            self._add_object("deals", CrmObject(0, row + 1, at, at, amount, "contractsent"))
        else:
            self._close_deal(row, at, amount)

    def _close_deal(self, row: int, at: float, amount: float) -> None:
        deals = self.objects["deals"]
        for deal_id in self._links.get(row + 1, {}).get("deals", []):
            deal = deals[deal_id - 1]
            if deal.stage != "closedwon":
                deal.stage, deal.closed, deal.updated = "closedwon", at, max(deal.updated, at)
                deal.amount = amount if math.isfinite(amount) else deal.amount
                return
        self._add_object("deals", CrmObject(0, row + 1, at, at, amount, "closedwon", at))

    def _add_object(self, kind: str, item: CrmObject) -> None:
        objects = self.objects[kind]
        item.id = len(objects) + 1
        objects.append(item)
        self._links.setdefault(item.contact, {}).setdefault(kind, []).append(item.id)

    def _text(self, row: int, name: str) -> str:
        return self.contacts.value(name, row) or ""

    def _object_properties(self, kind: str, item: CrmObject) -> dict[str, str | None]:
        """An object's properties as HubSpot returns them, with today's contact names."""
        row = item.contact - 1
        common: dict[str, str | None] = {
            "hs_object_id": str(item.id),
            "hs_lastmodifieddate": iso(item.updated),
        }
        if kind == "deals":
            company = self._text(row, "company") or self._text(row, "lastname")
            return common | {
                "createdate": iso(item.created),
                "dealname": f"{company} - {item.id}",
                "pipeline": "default",
                "dealstage": item.stage,
                "amount": render("number", item.amount) if math.isfinite(item.amount) else None,
                "closedate": iso(item.closed) if math.isfinite(item.closed) else None,
            }
        who = " ".join(v for v in (self._text(row, "firstname"), self._text(row, "lastname")) if v)
        common |= {"hs_createdate": iso(item.created), "hs_timestamp": iso(item.created)}
        if kind == "meetings":
            return common | {
                "hs_meeting_title": f"Meeting with {who}",
                "hs_meeting_start_time": iso(item.created),
                "hs_meeting_end_time": iso(item.created + 30 * 60_000),
                "hs_meeting_outcome": "COMPLETED",
            }
        if kind == "calls":
            return common | {
                "hs_call_title": f"Call with {who}",
                "hs_call_direction": "OUTBOUND",
                "hs_call_status": "COMPLETED",
                "hs_call_duration": "600000",
            }
        return common | {
            "hs_email_subject": f"Your quote, {who}",
            "hs_email_direction": "EMAIL",
            "hs_email_status": "SENT",
        }

    # -- contacts -------------------------------------------------------------------------------

    def _json_body(self, request: Request) -> Json:
        try:
            body = request.json()
        except ValueError as bad:
            self._fail(400, f"Invalid input JSON: {bad}")
        if body is None:
            return {}
        if not isinstance(body, dict):
            self._fail(400, "Invalid input JSON: the body must be an object")
        return body

    def _page(self, request: Request, size: int, maximum: int = LIST_PAGE_MAX) -> range:
        """The rows of one page of a list: `after` is the id of the first record."""
        limit = min(max(int_arg(request.arg("limit"), "limit", 10), 1), maximum)
        start = max(int_arg(request.arg("after"), "after", 1), 1) - 1
        stop = 0 if flag(request.arg("archived")) else min(start + limit, size)
        return range(start, max(stop, start))

    def _paged(self, request: Request, results: list[Json], page: range, size: int) -> Response:
        body: Json = {"results": results}
        if page.start < page.stop < size:
            link = f"{self.base_url}{request.path}?after={page.stop + 1}"
            body["paging"] = {"next": {"after": str(page.stop + 1), "link": link}}
        return Response.json(body)

    def list_contacts(self, request: Request) -> Response:
        names = list_arg(request, "properties") or DEFAULT_CONTACT_PROPERTIES
        links = list_arg(request, "associations")
        page = self._page(request, self.contacts.size)
        results = [self._contact_json(row, names, links) for row in page]
        return self._paged(request, results, page, self.contacts.size)

    def _contact_json(self, row: int, names: Iterable[str], links: Sequence[str] = ()) -> Json:
        table = self.contacts
        wanted = unique([*names, *ALWAYS_RETURNED])
        body: Json = {
            "id": str(row + 1),
            "properties": {name: table.value(name, row) for name in wanted if name in table.defs},
            "createdAt": iso(float(table.floats("createdate")[row])),
            "updatedAt": iso(float(table.floats("lastmodifieddate")[row])),
            "archived": False,
        }
        associations = self._contact_associations(row + 1, links)
        if associations:
            body["associations"] = associations
        return body

    def _contact_associations(self, contact: int, links: Sequence[str]) -> Json:
        linked = self._links.get(contact, {})
        out: Json = {}
        for requested in links:
            kind = OBJECT_ALIASES.get(requested, requested)
            if kind in OBJECT_KINDS and linked.get(kind):
                label = OBJECT_KINDS[kind].from_contacts[0]
                out[requested] = {"results": [{"id": str(i), "type": label} for i in linked[kind]]}
        return out

    def _find_contact(self, key: str, id_property: str | None) -> int | None:
        if id_property and id_property != "hs_object_id":
            if id_property != "email":
                raise Invalid("INVALID_ID_PROPERTY", f"{id_property} is not a unique property")
            return self.contacts.row_of_email(key)
        if not key.isdigit():
            return None
        row = int(key) - 1
        return row if 0 <= row < self.contacts.size else None

    def _not_found(self, key: str) -> NoReturn:
        self._fail(
            404,
            "Object not found.  objectId are usually numeric.",
            "OBJECT_NOT_FOUND",
            context={"id": [key]},
        )

    def get_contact(self, request: Request) -> Response:
        key = request.params["contactId"]
        row = self._find_contact(key, request.arg("idProperty"))
        if row is None:
            self._not_found(key)
        names = list_arg(request, "properties") or DEFAULT_CONTACT_PROPERTIES
        return Response.json(self._contact_json(row, names, list_arg(request, "associations")))

    def update_contact(self, request: Request) -> Response:
        key = request.params["contactId"]
        row = self._find_contact(key, request.arg("idProperty"))
        if row is None:
            self._not_found(key)
        values = self._validated(self._json_body(request).get("properties"))
        backwards = self._backwards(row, values)
        if backwards:
            self._fail(400, invalid_properties([backwards]))
        self._apply(row, values)
        return Response.json(self._contact_json(row, [*values, *DEFAULT_CONTACT_PROPERTIES]))

    def _validated(self, properties: Any) -> dict[str, Value]:
        """Written values as stored; any unknown, read-only or bad one fails the request."""
        if not isinstance(properties, dict):
            self._fail(400, "Invalid input JSON: properties must be an object")
        values: dict[str, Value] = {}
        problems: list[Json] = []
        for name, raw in properties.items():
            try:
                values[name] = self.contacts.coerce(name, raw)
            except Invalid as bad:
                problems.append(problem(name, bad))
        if problems:
            self._fail(400, invalid_properties(problems))
        return values

    def _backwards(self, row: int, values: Mapping[str, Value]) -> Json | None:
        """The problem of moving lifecyclestage to an earlier stage, if that is what `values` do."""
        new, old = values.get("lifecyclestage"), self.contacts.value("lifecyclestage", row)
        if not isinstance(new, str) or old is None or STAGE_RANK[new] >= STAGE_RANK.get(old, -1):
            return None
        message = (
            f"lifecyclestage cannot move backwards from {old} to {new}; "
            "clear it first, then set the earlier stage"
        )
        return problem("lifecyclestage", Invalid("INVALID_OPTION", message))

    def _apply(self, row: int, values: Mapping[str, Value]) -> None:
        for name, value in values.items():
            self.contacts.set(name, row, value)
        self.contacts.set("lastmodifieddate", row, self._now_ms())

    def _inputs(self, body: Json, maximum: int = BATCH_MAX) -> list[Json]:
        inputs = body.get("inputs")
        if not isinstance(inputs, list) or not all(isinstance(item, dict) for item in inputs):
            self._fail(400, "Invalid input JSON: inputs must be a list of objects")
        if len(inputs) > maximum:
            self._fail(
                400,
                f"The maximum number of inputs supported in a batch request is {maximum}. "
                f"Found {len(inputs)}. Please reduce the number of items and try again",
            )
        return inputs

    def _batch(self, results: list[Json], errors: list[Json]) -> Response:
        stamp = iso(self._vendor_ms())
        body: Json = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": stamp,
            "completedAt": stamp,
        }
        if not errors:
            return Response.json(body)
        return Response.json({**body, "numErrors": len(errors), "errors": errors}, 207)

    @staticmethod
    def _missing(ids: list[str]) -> Json:
        message = (
            "Could not get some CONTACT objects, they may be deleted or not exist. "
            "Check that ids are valid."
        )
        return record_error("OBJECT_NOT_FOUND", message, ids)

    def batch_read(self, request: Request) -> Response:
        body = self._json_body(request)
        inputs = self._inputs(body)
        names = body.get("properties") or DEFAULT_CONTACT_PROPERTIES
        found: list[Json] = []
        missing: list[str] = []
        for item in inputs:
            key = str(item.get("id"))
            row = self._find_contact(key, body.get("idProperty"))
            if row is None:
                missing.append(key)
            else:
                found.append(self._contact_json(row, names))
        return self._batch(found, [self._missing(missing)] if missing else [])

    def batch_update(self, request: Request) -> Response:
        inputs = self._inputs(self._json_body(request))
        keys = [str(item.get("id")) for item in inputs]
        repeated = sorted({key for key in keys if keys.count(key) > 1})
        if repeated:
            self._fail(400, f"Duplicate IDs found in batch input: {repeated}. IDs must be unique")
        changes = [self._validated(item.get("properties")) for item in inputs]
        results: list[Json] = []
        errors: list[Json] = []
        missing: list[str] = []
        for item, key, values in zip(inputs, keys, changes, strict=True):
            row = self._find_contact(key, item.get("idProperty"))
            if row is None:
                missing.append(key)
                continue
            failure = self._record_failure(row, key, values)
            if failure is not None:
                errors.append(failure)
                continue
            self._apply(row, values)
            results.append(self._contact_json(row, values))
        return self._batch(results, ([self._missing(missing)] if missing else []) + errors)

    def _record_failure(self, row: int, key: str, values: Mapping[str, Value]) -> Json | None:
        if self.faults.record_fails():
            message = "The record could not be written (injected fault); a retry may succeed"
            return record_error("INTERNAL_ERROR", message, [key])
        backwards = self._backwards(row, values)
        if backwards:
            return record_error("VALIDATION_ERROR", invalid_properties([backwards]), [key])
        return None

    # -- search ---------------------------------------------------------------------------------

    def search_contacts(self, request: Request) -> Response:
        body = self._json_body(request)
        limit = int_arg(body.get("limit"), "limit", 10)
        after = int_arg(body.get("after"), "after", 0)
        if not 0 <= limit <= SEARCH_PAGE_MAX or after < 0:
            raise Invalid("INVALID_LIMIT", f"limit must be between 0 and {SEARCH_PAGE_MAX}")
        if after + limit > self.search_result_cap:
            raise Invalid(
                "SEARCH_RESULT_LIMIT",
                f"Search can return only the first {self.search_result_cap} results of a query; "
                f"after={after} with limit={limit} pages beyond them",
            )
        rows = sort_rows(self.contacts, self._search_rows(body), body.get("sorts"))
        names = body.get("properties") or DEFAULT_CONTACT_PROPERTIES
        page = rows[after : after + limit]
        result: Json = {
            "total": len(rows),
            "results": [self._contact_json(int(row), names) for row in page],
        }
        if limit and after + limit < len(rows):
            result["paging"] = {"next": {"after": str(after + limit)}}
        return Response.json(result)

    def _search_rows(self, body: Json) -> Rows:
        groups = check_filter_limits(body.get("filterGroups") or [])
        size = self.contacts.size
        mask = np.zeros(size, dtype=bool) if groups else np.ones(size, dtype=bool)
        for group in groups:
            matched = np.ones(size, dtype=bool)
            for spec in group.get("filters") or []:
                matched &= filter_mask(self.contacts, spec)
            mask |= matched
        query = body.get("query")
        if query:
            mask &= self._query_mask(str(query))
        return np.flatnonzero(mask)

    def _query_mask(self, query: str) -> Mask:
        words = query.lower().split()
        columns = [self.contacts.lowered(n) for n in ("email", "firstname", "lastname", "company")]
        texts = np.empty(self.contacts.size, dtype=object)
        texts[:] = [" ".join(str(v) for v in values if v) for values in zip(*columns, strict=True)]
        return each(texts, lambda text: all(word in text for word in words))

    # -- properties -----------------------------------------------------------------------------

    def _contacts_only(self, request: Request) -> None:
        raw = request.params["objectType"]
        if OBJECT_ALIASES.get(raw, raw) != "contacts":
            self._fail(400, f"Unable to infer object type from: {raw}")

    def list_properties(self, request: Request) -> Response:
        self._contacts_only(request)
        archived = flag(request.arg("archived"))
        return Response.json({"results": [] if archived else list(self.contacts.defs.values())})

    def get_property(self, request: Request) -> Response:
        self._contacts_only(request)
        name = request.params["propertyName"]
        if name not in self.contacts.defs:
            self._fail(404, f"Property {name} does not exist", "OBJECT_NOT_FOUND")
        return Response.json(self.contacts.defs[name])

    def create_property(self, request: Request) -> Response:
        self._contacts_only(request)
        body = self._json_body(request)
        missing = [
            k for k in ("name", "label", "type", "fieldType", "groupName") if not body.get(k)
        ]
        if missing:
            self._fail(400, f"Missing required fields: {missing}")
        name = str(body["name"])
        if name in self.contacts.defs:
            self._fail(409, f"A property named '{name}' already exists.", "OBJECT_ALREADY_EXISTS")
        self._check_new_property(body)
        options = property_options(body.get("options") or [])
        definition = property_definition(
            name,
            str(body["label"]),
            str(body["type"]),
            str(body["fieldType"]),
            str(body["groupName"]),
            hubspot_defined=False,
            options=options,
            description=str(body.get("description", "")),
            order=int(body.get("displayOrder", -1)),
            at=iso(self._vendor_ms()),
        )
        self.contacts.define(definition)
        return Response.json(definition, 201)

    def update_property(self, request: Request) -> Response:
        """A partial update of a property: the fields given replace the stored ones."""
        self._contacts_only(request)
        name = request.params["propertyName"]
        definition = self.contacts.defs.get(name)
        if definition is None:
            self._fail(404, f"Property {name} does not exist", "OBJECT_NOT_FOUND")
        if definition["modificationMetadata"]["readOnlyDefinition"]:
            self._fail(400, f"{name} is a HubSpot defined property; its definition is read only")
        changes = self._property_changes(definition, self._json_body(request))
        definition.update(changes, updatedAt=iso(self._vendor_ms()))
        return Response.json(definition)

    def _property_changes(self, definition: Json, body: Json) -> Json:
        """The fields of a property update as stored; `Invalid` for what we refuse."""
        changes: Json = {}
        for key in ("label", "description", "groupName", "fieldType"):
            if body.get(key) is not None:
                changes[key] = str(body[key])
        for key in ("hidden", "formField"):
            if body.get(key) is not None:
                changes[key] = bool(body[key])
        if body.get("displayOrder") is not None:
            changes["displayOrder"] = int_arg(body["displayOrder"], "displayOrder", -1)
        if changes.get("label") == "":
            raise Invalid("INVALID_LABEL", "A property needs a label")
        if changes.get("groupName", definition["groupName"]) not in self.groups:
            raise Invalid("INVALID_GROUP", f"Unable to find property group {body['groupName']}")
        if changes.get("fieldType", definition["fieldType"]) not in FIELD_TYPES:
            raise Invalid(
                "INVALID_FIELD_TYPE",
                f"Invalid fieldType {body['fieldType']}; one of {sorted(FIELD_TYPES)}",
            )
        kind = body.get("type")
        if kind is not None and kind != definition["type"]:
            raise Invalid(
                "INVALID_TYPE",
                f"The sandbox cannot change the type of {definition['name']} "
                f"from {definition['type']} to {kind}",
            )
        if body.get("options") is not None:
            if definition["type"] != "enumeration":
                raise Invalid(
                    "INVALID_OPTIONS",
                    f"{definition['name']} is a {definition['type']} property; "
                    "only enumerations have options",
                )
            changes["options"] = property_options(body["options"])
        return changes

    def _check_new_property(self, body: Json) -> None:
        if not PROPERTY_NAME.fullmatch(str(body["name"])):
            self._fail(400, f"Invalid property name {body['name']}: use lower case, digits and _")
        if body["type"] not in PROPERTY_TYPES:
            self._fail(400, f"Invalid type {body['type']}; one of {sorted(PROPERTY_TYPES)}")
        if body["fieldType"] not in FIELD_TYPES:
            self._fail(400, f"Invalid fieldType {body['fieldType']}; one of {sorted(FIELD_TYPES)}")
        if body["groupName"] not in self.groups:
            self._fail(400, f"Unable to find property group {body['groupName']}")

    def list_groups(self, request: Request) -> Response:
        self._contacts_only(request)
        return Response.json({"results": list(self.groups.values())})

    def create_group(self, request: Request) -> Response:
        self._contacts_only(request)
        body = self._json_body(request)
        if not body.get("name") or not body.get("label"):
            self._fail(400, "Missing required fields: name and label")
        name = str(body["name"])
        if name in self.groups:
            message = f"A property group named '{name}' already exists."
            self._fail(409, message, "OBJECT_ALREADY_EXISTS")
        group = {
            "name": name,
            "label": str(body["label"]),
            "displayOrder": int(body.get("displayOrder", -1)),
            "archived": False,
        }
        self.groups[name] = group
        return Response.json(group, 201)

    # -- email events ---------------------------------------------------------------------------

    def email_events(self, request: Request) -> Response:
        self.email_log.flush()
        positions = np.flatnonzero(self._event_mask(request))
        positions = positions[positions > decode_offset(request.arg("offset"))]
        limit = int_arg(request.arg("limit"), "limit", EVENTS_PAGE_DEFAULT)
        page = positions[: min(max(limit, 1), EVENTS_PAGE_MAX)]
        last = int(page[-1]) if len(page) else decode_offset(request.arg("offset"))
        return Response.json(
            {
                "events": [self._email_event_json(int(p)) for p in page],
                "hasMore": len(positions) > len(page),
                "offset": encode_offset(last),
            }
        )

    def _event_mask(self, request: Request) -> Mask:
        log = self.email_log
        mask = np.ones(len(log), dtype=bool)
        recipient = request.arg("recipient")
        if recipient:
            row = self.contacts.row_of_email(recipient)
            mask &= log.contact == (0 if row is None else row + 1)
        if request.arg("campaignId"):
            mask &= log.campaign == int_arg(request.arg("campaignId"), "campaignId", 0)
        event_type = (request.arg("eventType") or "").upper()
        if event_type:
            wanted = EMAIL_EVENT_TYPES.index(event_type) if event_type in EMAIL_EVENT_TYPES else -1
            mask &= log.kind == wanted
        if request.arg("startTimestamp"):
            mask &= log.at >= int_arg(request.arg("startTimestamp"), "startTimestamp", 0)
        if request.arg("endTimestamp"):
            mask &= log.at <= int_arg(request.arg("endTimestamp"), "endTimestamp", 0)
        return mask

    def _email_event_json(self, position: int) -> Json:
        log = self.email_log
        event_type = EMAIL_EVENT_TYPES[int(log.kind[position])]
        recipient = self._text(int(log.contact[position]) - 1, "email")
        body: Json = {
            "id": event_id(position),
            "created": int(log.at[position]),
            "type": event_type,
            "recipient": recipient,
            "portalId": PORTAL_ID,
            "appId": EMAIL_APP_ID,
            "appName": EMAIL_APP_NAME,
        }
        if log.campaign[position]:
            body["emailCampaignId"] = int(log.campaign[position])
        sent = int(log.sent[position])
        if sent >= 0:
            body["sentBy"] = {"id": event_id(sent), "created": int(log.at[sent])}
        return body | self._event_details(event_type, position, recipient)

    def _event_details(self, event_type: str, position: int, recipient: str) -> Json:
        if event_type == "SENT":
            campaign = int(self.email_log.campaign[position]) - 1
            subjects = self.world.campaigns.subject
            subject = str(subjects[campaign]) if 0 <= campaign < len(subjects) else ""
            return {"subject": subject, "from": "Marketing <marketing@sandbox.hubspot.invalid>"}
        if event_type in ("OPEN", "CLICK"):
            url = int(self.email_log.url[position])
            link = {"url": self.urls[url] if url >= 0 else "https://sandbox.invalid/"}
            return {"filteredEvent": False, **(link if event_type == "CLICK" else {})}
        if event_type == "BOUNCE":
            response = "550 5.1.1 The email account that you tried to reach does not exist."
            return {"category": "UNKNOWN_USER", "status": "5.1.1", "response": response}
        if event_type == "STATUSCHANGE":
            return {
                "source": "SOURCE_RECIPIENT",
                "requestedBy": recipient,
                "portalSubscriptionStatus": "UNSUBSCRIBED",
                "subscriptions": [{"id": SUBSCRIPTION_ID, "status": "UNSUBSCRIBED"}],
                "bounced": False,
            }
        return {}

    # -- other objects and associations ---------------------------------------------------------

    def _kind(self, raw: str) -> str:
        kind = OBJECT_ALIASES.get(raw.lower(), raw.lower())
        if kind != "contacts" and kind not in OBJECT_KINDS:
            self._fail(400, f"Unable to infer object type from: {raw}")
        return kind

    def list_objects(self, request: Request) -> Response:
        kind = self._kind(request.params["objectType"])
        if kind == "contacts":
            return self.list_contacts(request)
        objects = self.objects[kind]
        names = unique([*list_arg(request, "properties"), *OBJECT_KINDS[kind].defaults])
        links = list_arg(request, "associations")
        page = self._page(request, len(objects))
        results = [self._object_json(kind, objects[i], names, links) for i in page]
        return self._paged(request, results, page, len(objects))

    def get_object(self, request: Request) -> Response:
        kind = self._kind(request.params["objectType"])
        key = request.params["objectId"]
        if kind == "contacts":
            request.params["contactId"] = key
            return self.get_contact(request)
        item = self._object(kind, key)
        if item is None:
            self._not_found(key)
        names = unique([*list_arg(request, "properties"), *OBJECT_KINDS[kind].defaults])
        return Response.json(
            self._object_json(kind, item, names, list_arg(request, "associations"))
        )

    def _object(self, kind: str, key: str) -> CrmObject | None:
        objects = self.objects[kind]
        return objects[int(key) - 1] if key.isdigit() and 0 < int(key) <= len(objects) else None

    def _object_json(
        self, kind: str, item: CrmObject, names: Sequence[str], links: Sequence[str]
    ) -> Json:
        properties = self._object_properties(kind, item)
        body: Json = {
            "id": str(item.id),
            "properties": {name: properties.get(name) for name in names},
            "createdAt": iso(item.created),
            "updatedAt": iso(item.updated),
            "archived": False,
        }
        wanted = [link for link in links if OBJECT_ALIASES.get(link, link) == "contacts"]
        if wanted:
            label = OBJECT_KINDS[kind].to_contacts[0]
            results = [{"id": str(item.contact), "type": label}]
            body["associations"] = {wanted[0]: {"results": results}}
        return body

    def _associated(self, source: str, key: str, target: str) -> tuple[list[int], int]:
        """Ids of the `target` objects associated with one `source` object, and the v4 type id."""
        if source == "contacts" and target in OBJECT_KINDS:
            contact = int(key) if key.isdigit() else 0
            return self._links.get(contact, {}).get(target, []), OBJECT_KINDS[target].from_contacts[
                1
            ]
        if target == "contacts" and source in OBJECT_KINDS:
            item = self._object(source, key)
            return ([] if item is None else [item.contact]), OBJECT_KINDS[source].to_contacts[1]
        return [], 0

    @staticmethod
    def _targets(ids: Iterable[int], type_id: int) -> list[Json]:
        kind = {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}
        return [{"toObjectId": i, "associationTypes": [kind]} for i in ids]

    def list_associations(self, request: Request) -> Response:
        source = self._kind(request.params["objectType"])
        target = self._kind(request.params["toObjectType"])
        ids, type_id = self._associated(source, request.params["objectId"], target)
        limit = min(max(int_arg(request.arg("limit"), "limit", 500), 1), ASSOCIATION_PAGE_MAX)
        start = max(int_arg(request.arg("after"), "after", 0), 0)
        body: Json = {"results": self._targets(ids[start : start + limit], type_id)}
        if start + limit < len(ids):
            link = f"{self.base_url}{request.path}?after={start + limit}"
            body["paging"] = {"next": {"after": str(start + limit), "link": link}}
        return Response.json(body)

    def batch_read_associations(self, request: Request) -> Response:
        source = self._kind(request.params["fromObjectType"])
        target = self._kind(request.params["toObjectType"])
        results: list[Json] = []
        errors: list[Json] = []
        for item in self._inputs(self._json_body(request), ASSOCIATION_BATCH_MAX):
            key = str(item.get("id"))
            ids, type_id = self._associated(source, key, target)
            if ids:
                results.append({"from": {"id": key}, "to": self._targets(ids, type_id)})
            else:
                message = f"No {target[:-1]} is associated with {source[:-1]} {key}."
                errors.append(
                    record_error(
                        "OBJECT_NOT_FOUND",
                        message,
                        [key],
                        subCategory="crm.associations.NO_ASSOCIATIONS_FOUND",
                    )
                )
        return self._batch(results, errors)
