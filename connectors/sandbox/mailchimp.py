"""A local emulator of the part of the Mailchimp Marketing API v3 that leadscore uses.

`MailchimpSandbox` is a real HTTP server (see `connectors.sandbox.http.Emulator`)
that the official `mailchimp-marketing` SDK talks to unchanged, once its host is
pointed at the sandbox (`sandbox_client` does that). It projects a `World` onto
one audience (list) with members, merge fields and tags, the world's campaigns
with per-recipient email activity, one e-commerce store with customers and
orders, and runs Mailchimp's batch endpoint.

Documents followed (as stored copies, checked while writing this module):
- Errors: mailchimp.com/developer/marketing/docs/errors/ -- every error is
  `application/problem+json` with type, title, status, detail and instance;
  titles and details from its glossary ("API Key Invalid", "Resource Not
  Found", "Invalid Resource", "Too Many Requests": "You have exceeded the limit
  of 10 simultaneous connections.").
- Fundamentals: HTTP Basic auth with any user name and the API key as password;
  the key's suffix after its last "-" is the data center; `count` (default 10,
  at most 1000; larger values are clamped, as users of the API report) and
  `offset` paging with `total_items`; `fields` / `exclude_fields` with dot
  notation.
- API reference, as mirrored by the SDK's docstrings (mailchimp-marketing
  3.0.80): lists, list members (PUT add-or-update, PATCH update, tags POST
  answering 204, activity and activity-feed), merge fields (a duplicate tag
  answers 400 `A Merge Field with the tag "X" already exists for this list.`),
  batch subscribe `POST /lists/{list_id}` (up to 500 members; `new_members`,
  `updated_members`, `errors[{email_address, error, error_code, field,
  field_message}]` with codes ERROR_CONTACT_EXISTS and ERROR_GENERIC),
  campaigns, reports email-activity, e-commerce stores, customers and orders.
- Guide "Run async requests with the batch endpoint": `POST /batches` answers a
  batch with status pending, then preprocessing, started, finalizing, finished;
  `response_body_url` points to a tar.gz of JSON files, each an array of
  `{status_code, operation_id, response}` where `response` is the JSON text of
  the operation's answer.
- The 10 simultaneous connections are counted per API key; a refused request
  is answered at once and does not hold a connection.
- Wording taken from users' reports of real answers, not from a Mailchimp
  document: the batch-subscribe errors ("... looks fake or invalid, please
  enter a real email address.", "... is already a list member, do you want to
  update? please provide update_existing:true in the request body"), "Member
  Exists", "Member In Compliance State", and the `errors[].message` texts of
  schema failures (the over-500 one, "Schema describes array with at most 500
  items", is made up in that style). The 204's JSON content type comes from a
  logged Mailchimp answer (gibbon issue 232).

What the SDK does with Mailchimp's answers (pinned by tests/sandbox/test_mailchimp.py,
so that the connector knows what to work around):
- Errors are `application/problem+json`, which does not contain the substring
  "application/json" the SDK looks for: it raises
  `ApiClientError(text=<the raw JSON string>, status_code=<status>)`; the
  connector must `json.loads(error.text)` itself.
- 204 answers (tags POST) carry `Content-Type: application/json` and no body,
  as Mailchimp's do: the SDK fails to decode them, swallows that, and returns
  the raw `requests.Response` instead of None. It does the same for any answer
  whose JSON is empty (`{}`), and it would return, not raise, an error answer
  with an empty body (a 5xx from a proxy): the connector must check
  `isinstance(result, requests.Response)` and its status code.
- A dropped connection raises `ApiClientError(text=<the requests exception>,
  status_code=None)`.
- The SDK opens a new connection for every call (no session), so each call in
  flight is one of the 10 simultaneous connections Mailchimp allows.
- `fields` / `exclude_fields` must be lists: a string is joined character by
  character ("l,i,s,t,s"), which selects nothing, so the answer is `{}` and
  comes back as a raw Response. `count` above 1000 raises ValueError before
  any request is made.
- The SDK derives the server from a key only when the key has exactly one "-";
  it then replaces "server" anywhere in the URL, so `sandbox_client` passes the
  data center explicitly.

Simplified or missing:
- One audience, one store, one account; the data center is not checked against
  the host; OAuth bearer tokens are accepted as the same key.
- Members are the world's people with the MAILCHIMP bit, in world order, then
  members added through the API. `email_address` is the address as Mailchimp
  holds it (case kept, spaces trimmed); merge fields FNAME, LNAME, ADDRESS,
  PHONE (empty) and COMPANY; tags "newsletter" (signed up) and "customer"
  (bought). Customers are the members with purchases (id `cust_` + the first
  12 digits of the subscriber hash), with one paid order per purchase.
- Member statuses come from the world's last status event: unsubscribe or spam
  report -> unsubscribed, bounce -> cleaned (every bounce counts as hard),
  newsletter signup -> subscribed, or pending when it is under 24 hours before
  the world's "now" (double opt-in not yet confirmed). `member_rating` and
  `stats` are computed from the member's opens and clicks with a simple formula.
- `last_changed` moves when the member's data, status or tags change and when
  activity is added with `add_activity` (the member's stats and rating change).
  Mailchimp documents `last_changed` only as "information changed", so a
  connector must also read campaign email activity to see every open and click.
- `since_*` filters include their bound (Mailchimp says "after" without saying
  whether the bound is included); connectors must de-duplicate either way.
- Times have one-second precision, as Mailchimp's ISO 8601 values do.
- Unknown merge tags in a member body are ignored (as Mailchimp does); only
  number merge fields are validated. Addresses are checked for shape only
  (Mailchimp also rejects some real-looking "fake" ones).
- `add_activity()` records new activity at runtime and `reset()` returns to
  the projected world (the server keeps running). Operation names, for counts
  and for `FaultPlan.operations`, are the SDK's: "lists.get_list_members_info",
  "lists.batch_list_members", "batches.start", "ping.get", ...
- A batch advances one step each time its status is read: pending, started,
  then finished (`batch_polls` reads; `finish_batches()` forces it). Its
  operations run when it finishes, through the same handlers as live calls.
  The archive is served by the sandbox itself at `/batch-results/{id}.tar.gz`
  without auth (Mailchimp serves a pre-signed storage URL); it holds one or
  more files `{batch_id}/{n}.json` of up to 500 results each.
- No Retry-After header on 429: Mailchimp documents none for its connection
  limit. Injected 5xx answers are problem+json too.
- Not emulated: list creation, member deletion, segments, interests, notes,
  events, webhooks, campaign content, other reports, e-commerce writes,
  pagination links (`_links`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import re
import tarfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

import numpy as np
import numpy.typing as npt

from connectors.sandbox.clock import SandboxClock
from connectors.sandbox.faults import Fault, FaultPlan, Latency
from connectors.sandbox.http import ApiError, Emulator, Handler, Request, Response
from connectors.sandbox.world import MAILCHIMP, World
from scoring.records import ACTIVITY_TYPES, ActivityType, ensure_utc

if TYPE_CHECKING:
    import mailchimp_marketing

API_ROOT = "/3.0"
PROBLEM_TYPE = "https://mailchimp.com/developer/marketing/docs/errors/"
JSON_TYPE = "application/json; charset=utf-8"
PROBLEM_JSON = "application/problem+json; charset=utf-8"
DEFAULT_COUNT = 10
MAX_COUNT = 1000
MAX_BATCH_MEMBERS = 500
ACTIVITY_LIMIT = 50
RESULTS_PER_FILE = 500
PENDING_WINDOW = 86_400.0
STORE_ID = "leadscore_store"
STATUSES = ("subscribed", "unsubscribed", "cleaned", "pending", "transactional")
SCHEMA_DETAIL = (
    "The resource submitted could not be validated. "
    "For field-specific details, see the 'errors' array."
)
INTERNAL_ERROR = (
    "An unexpected internal error has occurred. Please contact Support for more information."
)
EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
MERGE_TYPES = frozenset(
    {
        "text",
        "number",
        "address",
        "phone",
        "date",
        "url",
        "imageurl",
        "radio",
        "dropdown",
        "birthday",
        "zip",
    }
)

# How each canonical activity type appears in Mailchimp; other types are invisible to it.
ACTIONS: Mapping[ActivityType, str] = {
    ActivityType.EMAIL_SENT: "sent",
    ActivityType.EMAIL_OPEN: "open",
    ActivityType.EMAIL_CLICK: "click",
    ActivityType.EMAIL_BOUNCE: "bounce",
    ActivityType.EMAIL_UNSUBSCRIBE: "unsub",
    ActivityType.EMAIL_SPAM_REPORT: "abuse",
    ActivityType.NEWSLETTER_SIGNUP: "signup",
    ActivityType.PURCHASE: "order",
}
EMAIL_KINDS = (
    ActivityType.EMAIL_SENT,
    ActivityType.EMAIL_OPEN,
    ActivityType.EMAIL_CLICK,
    ActivityType.EMAIL_BOUNCE,
    ActivityType.EMAIL_UNSUBSCRIBE,
    ActivityType.EMAIL_SPAM_REPORT,
)
STATUS_AFTER = {"unsub": "unsubscribed", "abuse": "unsubscribed", "bounce": "cleaned"}
FEED_TYPES = {"signup": "generic_signup", "abuse": "unsub"}
EMAIL_ACTIONS = frozenset({"sent", "open", "click", "bounce", "unsub", "abuse"})
TAG_OF_ACTION = {"signup": "newsletter", "order": "customer"}
TYPE_CODES = {kind: code for code, kind in enumerate(ACTIVITY_TYPES)}
BATCH_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
LIST_NAME = "Leadscore sandbox audience"
EMAIL_ACTIVITY = "reports.get_email_activity_for_campaign"
KEY_INVALID = "Your API key may be invalid, or you've attempted to access the wrong datacenter."


# -- small values --------------------------------------------------------------------------


def iso(moment: float) -> str:
    """Mailchimp's ISO 8601 form, to the second, in UTC."""
    return datetime.fromtimestamp(int(moment), UTC).isoformat()


def md5_hex(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def subscriber_hash(email: str) -> str:
    """The member id: MD5 of the lower-cased address."""
    return md5_hex(email.strip().lower())


def short_id(*parts: object) -> str:
    """A stable 10-hex-digit id, the shape of Mailchimp's list and campaign ids."""
    return md5_hex("/".join(map(str, parts)))[:10]


def web_id(*parts: object) -> int:
    return int(md5_hex("/".join(map(str, parts)))[:7], 16)


def parse_moment(value: str, name: str) -> float:
    """Epoch seconds of an ISO 8601 query value; a '+' decoded as a space is put back."""
    text = value.strip()
    if "T" in text:
        text = text.replace(" ", "+")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise invalid(f"The value of '{name}' is not a valid ISO 8601 date: {value!r}.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


# -- answers -------------------------------------------------------------------------------


def ok(payload: Any, status: int = 200) -> Response:
    body = json.dumps(payload, separators=(",", ":"), default=str).encode()
    return Response(status, body, {"Content-Type": JSON_TYPE})


def no_content() -> Response:
    """Mailchimp's 204: a JSON content type and no body (the SDK trips over it)."""
    return Response(204, b"", {"Content-Type": JSON_TYPE})


def problem(
    status: int, title: str, detail: str, errors: list[dict[str, str]] | None = None
) -> Response:
    payload: dict[str, Any] = {
        "type": PROBLEM_TYPE,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": str(uuid.uuid4()),
    }
    if errors is not None:
        payload["errors"] = errors
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Response(status, body, {"Content-Type": PROBLEM_JSON})


def fail(
    status: int, title: str, detail: str, errors: list[dict[str, str]] | None = None
) -> ApiError:
    return ApiError(problem(status, title, detail, errors))


def invalid(detail: str, errors: list[dict[str, str]] | None = None) -> ApiError:
    return fail(400, "Invalid Resource", detail, errors)


def schema_error(field_name: str, message: str) -> ApiError:
    return invalid(SCHEMA_DETAIL, [{"field": field_name, "message": message}])


def not_found() -> ApiError:
    return fail(404, "Resource Not Found", "The requested resource could not be found.")


def json_kind(value: object) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number")


def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object, or Mailchimp's 400 for anything else."""
    try:
        payload = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise fail(
            400, "JSON Parse Error", "We encountered an unspecified JSON parsing error."
        ) from None
    if not isinstance(payload, dict):
        raise schema_error("", f"Schema describes object, {json_kind(payload)} found instead")
    return payload


# -- query arguments -----------------------------------------------------------------------


def int_arg(request: Request, name: str, default: int) -> int:
    value = request.arg(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise invalid(f"The value of '{name}' must be an integer.") from None


def paging(request: Request) -> tuple[int, int]:
    """(offset, count): count defaults to 10 and is clamped to 1000."""
    count = min(max(int_arg(request, "count", DEFAULT_COUNT), 0), MAX_COUNT)
    return max(int_arg(request, "offset", 0), 0), count


def csv_arg(request: Request, name: str) -> list[str]:
    value = request.arg(name) or ""
    return [part.strip() for part in value.split(",") if part.strip()]


def time_arg(request: Request, name: str) -> float | None:
    value = request.arg(name)
    return parse_moment(value, name) if value else None


def path_param(request: Request, name: str) -> str:
    return unquote(request.params[name])


# -- fields and exclude_fields -------------------------------------------------------------

FieldTree = dict[str, "FieldTree"]


def field_tree(paths: Iterable[str]) -> FieldTree:
    tree: FieldTree = {}
    for path in paths:
        node = tree
        for part in path.split("."):
            node = node.setdefault(part, {})
    return tree


def keep_fields(value: Any, tree: FieldTree) -> Any:
    if not tree:
        return value
    if isinstance(value, list):
        return [keep_fields(item, tree) for item in value]
    if isinstance(value, dict):
        return {key: keep_fields(value[key], sub) for key, sub in tree.items() if key in value}
    return value


def drop_fields(value: Any, tree: FieldTree) -> Any:
    if isinstance(value, list):
        return [drop_fields(item, tree) for item in value]
    if isinstance(value, dict):
        return {
            key: drop_fields(item, tree[key]) if key in tree else item
            for key, item in value.items()
            if key not in tree or tree[key]
        }
    return value


def shaped(request: Request, payload: dict[str, Any]) -> Response:
    """A 200 with `fields` kept and `exclude_fields` dropped, as the request asks."""
    fields, exclude = csv_arg(request, "fields"), csv_arg(request, "exclude_fields")
    if fields:
        payload = keep_fields(payload, field_tree(fields))
    if exclude:
        payload = drop_fields(payload, field_tree(exclude))
    return ok(payload)


def page(items: list[Any], request: Request) -> list[Any]:
    offset, count = paging(request)
    return items[offset : offset + count]


# -- the world, seen from Mailchimp --------------------------------------------------------


@dataclass(frozen=True)
class MemberEvent:
    """One thing Mailchimp saw a member do: sent, open, click, bounce, unsub, abuse, ..."""

    action: str
    at: float
    campaign: int = -1
    url: str = ""
    amount: float = 0.0


@dataclass
class WorldIndex:
    """The Mailchimp-visible events of a world, grouped by member row, in time order per row."""

    world: World
    persons: npt.NDArray[np.intp]
    events: npt.NDArray[np.intp]
    rows: npt.NDArray[np.intp]
    starts: npt.NDArray[np.intp]
    ends: npt.NDArray[np.intp]

    def column(self, values: npt.NDArray[Any]) -> npt.NDArray[Any]:
        """A world event column restricted to the indexed events."""
        return values[self.events]


def index_world(world: World) -> WorldIndex:
    persons = world.people.in_system(MAILCHIMP)
    row_of = np.full(len(world.people), -1, dtype=np.intp)
    row_of[persons] = np.arange(len(persons))
    rows = row_of[world.events.person]
    visible = np.flatnonzero(np.isin(world.events.type, codes_of(ACTIONS)) & (rows >= 0))
    order = np.argsort(rows[visible], kind="stable")
    events, grouped = visible[order], rows[visible][order]
    targets = np.arange(len(persons))
    starts = np.searchsorted(grouped, targets, side="left").astype(np.intp)
    ends = np.searchsorted(grouped, targets, side="right").astype(np.intp)
    return WorldIndex(world, persons, events, grouped, starts, ends)


def codes_of(kinds: Iterable[ActivityType]) -> list[int]:
    return [TYPE_CODES[kind] for kind in kinds]


def world_action(world: World, event: int) -> str:
    return ACTIONS[ACTIVITY_TYPES[int(world.events.type[event])]]


def last_per_row(rows: npt.NDArray[np.intp]) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """(unique rows, position of each row's last entry) of a row column."""
    unique, first_from_end = np.unique(rows[::-1], return_index=True)
    return unique, len(rows) - 1 - first_from_end


def initial_status(index: WorldIndex) -> npt.NDArray[np.int8]:
    """Each world member's status, from its last unsubscribe, spam report, bounce or signup."""
    status = np.zeros(len(index.persons), dtype=np.int8)
    kinds = index.column(index.world.events.type)
    decided = {
        ActivityType.EMAIL_UNSUBSCRIBE: "unsubscribed",
        ActivityType.EMAIL_SPAM_REPORT: "unsubscribed",
        ActivityType.EMAIL_BOUNCE: "cleaned",
        ActivityType.NEWSLETTER_SIGNUP: "subscribed",
    }
    lookup = np.zeros(len(ACTIVITY_TYPES), dtype=np.int8)
    for kind, name in decided.items():
        lookup[TYPE_CODES[kind]] = STATUSES.index(name)
    deciding = np.flatnonzero(np.isin(kinds, codes_of(decided)))
    rows, last = last_per_row(index.rows[deciding])
    positions = deciding[last]
    found = lookup[kinds[positions]]
    at = index.column(index.world.events.at)[positions]
    recent = index.world.now - PENDING_WINDOW
    signup = kinds[positions] == TYPE_CODES[ActivityType.NEWSLETTER_SIGNUP]
    found[signup & (at > recent)] = STATUSES.index("pending")
    status[rows] = found
    return status


def initial_changed(index: WorldIndex) -> npt.NDArray[np.float64]:
    """Each world member's last change: its creation or its latest Mailchimp event."""
    changed = index.world.people.created_at[index.persons].astype(np.float64)
    np.maximum.at(changed, index.rows, index.column(index.world.events.at))
    return changed


class Columns:
    """Status code and last-changed time per member row, growable, for vectorized filters."""

    def __init__(self, status: npt.NDArray[np.int8], changed: npt.NDArray[np.float64]) -> None:
        self._status = status.copy()
        self._changed = changed.copy()
        self.size = len(status)

    @property
    def status(self) -> npt.NDArray[np.int8]:
        return self._status[: self.size]

    @property
    def changed(self) -> npt.NDArray[np.float64]:
        return self._changed[: self.size]

    def append(self, status: int, changed: float) -> int:
        if self.size == len(self._status):
            grown = max(16, 2 * self.size)
            self._status = np.resize(self._status, grown)
            self._changed = np.resize(self._changed, grown)
        self._status[self.size] = status
        self._changed[self.size] = changed
        self.size += 1
        return self.size - 1


# -- the audience --------------------------------------------------------------------------


@dataclass
class Member:
    """A member's data other than status and last_changed (those live in `Audience.columns`)."""

    email: str
    merge_fields: dict[str, Any]
    signup: float
    events: list[MemberEvent]
    tags: dict[str, float] = field(default_factory=dict)
    email_type: str = "html"
    vip: bool = False
    language: str = ""
    source: str = "Import"


@dataclass
class MergeField:
    merge_id: int
    tag: str
    name: str
    type: str
    required: bool = False
    default_value: str = ""
    public: bool = True
    display_order: int = 0
    options: dict[str, Any] = field(default_factory=dict)
    help_text: str = ""

    def to_json(self, list_id: str) -> dict[str, Any]:
        return {
            "merge_id": self.merge_id,
            "tag": self.tag,
            "name": self.name,
            "type": self.type,
            "required": self.required,
            "default_value": self.default_value,
            "public": self.public,
            "display_order": self.display_order,
            "options": self.options,
            "help_text": self.help_text,
            "list_id": list_id,
        }


DEFAULT_MERGE_FIELDS = (
    ("FNAME", "First Name", "text"),
    ("LNAME", "Last Name", "text"),
    ("ADDRESS", "Address", "address"),
    ("PHONE", "Phone Number", "phone"),
    ("COMPANY", "Company", "text"),
)


class Audience:
    """One list: members projected lazily from the world, edited members kept by row.

    Rows are the list's order: the world's Mailchimp people first, then members
    added through the API. Status and last_changed of every row live in numpy
    columns so that filtered paging stays fast on a million members.
    """

    def __init__(self, world: World | None, list_id: str) -> None:
        self.list_id = list_id
        self.index = index_world(world) if world is not None else None
        if self.index is not None:
            self.columns = Columns(initial_status(self.index), initial_changed(self.index))
        else:
            self.columns = Columns(np.zeros(0, np.int8), np.zeros(0, np.float64))
        self.edited: dict[int, Member] = {}
        self.emails = self._world_emails()
        self.rows_by_hash = {subscriber_hash(e): row for row, e in enumerate(self.emails)}
        self.merge_fields = [
            MergeField(n + 1, tag, name, kind, display_order=n + 1)
            for n, (tag, name, kind) in enumerate(DEFAULT_MERGE_FIELDS)
        ]
        self.tag_ids: dict[str, int] = {}

    def _world_emails(self) -> list[str]:
        if self.index is None:
            return []
        people = self.index.world.people
        return [people.email_in(MAILCHIMP, int(p)).strip() for p in self.index.persons]

    @property
    def size(self) -> int:
        return self.columns.size

    def row_of(self, key: str) -> int | None:
        """The row of a subscriber hash, or of an address (Mailchimp accepts both)."""
        return self.rows_by_hash.get(subscriber_hash(key) if "@" in key else key.lower())

    def status(self, row: int) -> str:
        return STATUSES[int(self.columns.status[row])]

    def last_changed(self, row: int) -> float:
        return float(self.columns.changed[row])

    def set_status(self, row: int, status: str) -> None:
        self.columns.status[row] = STATUSES.index(status)

    def touch(self, row: int, at: float) -> None:
        self.columns.changed[row] = max(at, self.last_changed(row))

    def member(self, row: int) -> Member:
        """The member at `row`: its edited copy, or a fresh projection of the world."""
        edited = self.edited.get(row)
        return edited if edited is not None else self._project(row)

    def edit(self, row: int) -> Member:
        """The member at `row`, kept from now on so that changes to it last."""
        if row not in self.edited:
            self.edited[row] = self._project(row)
        return self.edited[row]

    def _project(self, row: int) -> Member:
        assert self.index is not None, "rows without an edited copy come from the world"
        world, person = self.index.world, int(self.index.persons[row])
        people = world.people
        span = self.index.events[self.index.starts[row] : self.index.ends[row]]
        events = [world_event(world, int(e)) for e in span]
        merge = {spec.tag: spec.default_value for spec in self.merge_fields}
        merge["FNAME"] = str(people.first_name[person])
        merge["LNAME"] = str(people.last_name[person])
        merge["COMPANY"] = str(world.companies.name[people.company[person]])
        tags = {
            TAG_OF_ACTION[e.action]: e.at for e in reversed(events) if e.action in TAG_OF_ACTION
        }
        created = float(people.created_at[person])
        return Member(self.emails[row], merge, created, events, tags)

    def add(self, email: str, status: str, at: float, source: str = "API - Generic") -> int:
        merge = {spec.tag: spec.default_value for spec in self.merge_fields}
        row = self.columns.append(STATUSES.index(status), at)
        self.edited[row] = Member(email, merge, at, [], source=source)
        self.emails.append(email)
        self.rows_by_hash[subscriber_hash(email)] = row
        return row

    def readdress(self, row: int, email: str) -> None:
        """Change a member's address, and so its id."""
        del self.rows_by_hash[subscriber_hash(self.emails[row])]
        self.rows_by_hash[subscriber_hash(email)] = row
        self.emails[row] = email
        self.edit(row).email = email

    def select(
        self, status: str | None, since: float | None, before: float | None
    ) -> npt.NDArray[np.intp]:
        """Rows matching the filters, in list order."""
        mask = np.ones(self.size, dtype=bool)
        if status is not None:
            mask &= self.columns.status == STATUSES.index(status)
        if since is not None:
            mask &= self.columns.changed >= since
        if before is not None:
            mask &= self.columns.changed <= before
        return np.flatnonzero(mask)

    def counts(self) -> dict[str, int]:
        found = np.bincount(self.columns.status.astype(np.intp), minlength=len(STATUSES))
        return {name: int(found[code]) for code, name in enumerate(STATUSES)}

    def merge_field(self, tag: str) -> MergeField | None:
        return next((spec for spec in self.merge_fields if spec.tag == tag), None)

    def tag_id(self, name: str) -> int:
        return self.tag_ids.setdefault(name, 100_000 + len(self.tag_ids) + 1)


def world_event(world: World, event: int) -> MemberEvent:
    url, amount = int(world.events.url[event]), float(world.events.amount[event])
    return MemberEvent(
        world_action(world, event),
        float(world.events.at[event]),
        int(world.events.campaign[event]),
        str(world.urls[url]) if url >= 0 else "",
        0.0 if np.isnan(amount) else amount,
    )


def member_rating(status: str, events: list[MemberEvent]) -> int:
    """Mailchimp's 1 to 5 stars; here 2, plus one per 4 points of opens (1) and clicks (2)."""
    if status in ("unsubscribed", "cleaned"):
        return 1
    points = sum(1 if e.action == "open" else 2 if e.action == "click" else 0 for e in events)
    return min(5, 2 + points // 4)


def member_stats(events: list[MemberEvent]) -> dict[str, float]:
    """Shares of the campaigns a member received that they opened and clicked."""
    received = {e.campaign for e in events if e.campaign >= 0 and e.action in EMAIL_ACTIONS}
    opened = {e.campaign for e in events if e.campaign >= 0 and e.action in ("open", "click")}
    clicked = {e.campaign for e in events if e.campaign >= 0 and e.action == "click"}
    total = len(received) or 1
    return {
        "avg_open_rate": round(len(opened) / total, 4),
        "avg_click_rate": round(len(clicked) / total, 4),
    }


def member_json(audience: Audience, row: int) -> dict[str, Any]:
    member, status = audience.member(row), audience.status(row)
    ident = subscriber_hash(member.email)
    names = (str(member.merge_fields.get("FNAME", "")), str(member.merge_fields.get("LNAME", "")))
    tags = [{"id": audience.tag_id(name), "name": name} for name in sorted(member.tags)]
    return {
        "id": ident,
        "email_address": member.email,
        "unique_email_id": short_id("unique", ident),
        "contact_id": md5_hex(f"contact/{ident}"),
        "full_name": " ".join(n for n in names if n),
        "web_id": web_id("member", ident),
        "email_type": member.email_type,
        "status": status,
        "merge_fields": dict(member.merge_fields),
        "interests": {},
        "stats": member_stats(member.events),
        "ip_signup": "",
        "timestamp_signup": iso(member.signup),
        "ip_opt": "",
        "timestamp_opt": iso(member.signup),
        "member_rating": member_rating(status, member.events),
        "last_changed": iso(audience.last_changed(row)),
        "language": member.language,
        "vip": member.vip,
        "email_client": "",
        "location": {"latitude": 0, "longitude": 0, "gmtoff": 0, "dstoff": 0},
        "source": member.source,
        "tags_count": len(tags),
        "tags": tags,
        "list_id": audience.list_id,
    }


# -- campaigns -----------------------------------------------------------------------------


@dataclass
class Campaign:
    """A campaign and its report summary; `rows` (its recipients) is filled on first use."""

    index: int
    id: str
    name: str
    subject: str
    send_time: float
    recipients: int = 0
    opens: int = 0
    unique_opens: int = 0
    clicks: int = 0
    unique_clicks: int = 0
    rows: list[int] | None = None
    row_set: set[int] = field(default_factory=set)

    def status(self, now: float) -> str:
        return "sent" if self.send_time <= now else "schedule"


def project_campaigns(world: World | None, index: WorldIndex | None) -> list[Campaign]:
    if world is None:
        return []
    campaigns = [
        Campaign(i, short_id("campaign", world.seed, i), str(name), str(subject), float(sent))
        for i, (name, subject, sent) in enumerate(
            zip(world.campaigns.name, world.campaigns.subject, world.campaigns.sent_at, strict=True)
        )
    ]
    if index is not None and campaigns:
        count_campaigns(index, campaigns)
    return campaigns


def count_campaigns(index: WorldIndex, campaigns: list[Campaign]) -> None:
    """Each campaign's recipients, opens and clicks in the world, counted with numpy."""
    kinds = index.column(index.world.events.type)
    numbers = index.column(index.world.events.campaign).astype(np.int64)
    email = np.isin(kinds, codes_of(EMAIL_KINDS)) & (numbers >= 0)
    opened = email & (kinds == TYPE_CODES[ActivityType.EMAIL_OPEN])
    clicked = email & (kinds == TYPE_CODES[ActivityType.EMAIL_CLICK])
    size, width = len(campaigns), len(index.persons) + 1
    recipients = distinct_rows(numbers[email], index.rows[email], size, width)
    unique_opens = distinct_rows(numbers[opened], index.rows[opened], size, width)
    unique_clicks = distinct_rows(numbers[clicked], index.rows[clicked], size, width)
    opens = np.bincount(numbers[opened], minlength=size)
    clicks = np.bincount(numbers[clicked], minlength=size)
    for c in campaigns:
        c.recipients, c.unique_opens, c.unique_clicks = (
            int(recipients[c.index]),
            int(unique_opens[c.index]),
            int(unique_clicks[c.index]),
        )
        c.opens, c.clicks = int(opens[c.index]), int(clicks[c.index])


def distinct_rows(
    numbers: npt.NDArray[np.int64], rows: npt.NDArray[np.intp], size: int, width: int
) -> npt.NDArray[np.intp]:
    """Per campaign number, how many distinct rows appear with it."""
    pairs = np.unique(numbers * width + rows)
    return np.bincount(pairs // width, minlength=size)


def world_recipients(index: WorldIndex | None, campaign: int) -> list[int]:
    if index is None:
        return []
    kinds = index.column(index.world.events.type)
    numbers = index.column(index.world.events.campaign)
    email = np.isin(kinds, codes_of(EMAIL_KINDS)) & (numbers == campaign)
    return [int(r) for r in np.unique(index.rows[email])]


def campaign_json(campaign: Campaign, list_id: str, now: float) -> dict[str, Any]:
    status, recipients = campaign.status(now), campaign.recipients
    return {
        "id": campaign.id,
        "web_id": web_id("campaign", campaign.id),
        "type": "regular",
        "create_time": iso(campaign.send_time - 86_400),
        "archive_url": f"https://eepurl.com/{campaign.id}",
        "status": status,
        "emails_sent": recipients if status == "sent" else 0,
        "send_time": iso(campaign.send_time),
        "content_type": "template",
        "recipients": {
            "list_id": list_id,
            "list_is_active": True,
            "list_name": LIST_NAME,
            "recipient_count": recipients,
        },
        "settings": {
            "subject_line": campaign.subject,
            "preview_text": "",
            "title": campaign.name,
            "from_name": "Leadscore",
            "reply_to": "marketing@leadscore.invalid",
        },
        "tracking": {"opens": True, "html_clicks": True, "text_clicks": False, "ecomm360": True},
        "report_summary": {
            "opens": campaign.opens,
            "unique_opens": campaign.unique_opens,
            "open_rate": share(campaign.unique_opens, recipients),
            "clicks": campaign.clicks,
            "subscriber_clicks": campaign.unique_clicks,
            "click_rate": share(campaign.unique_clicks, recipients),
        },
    }


def share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


# -- e-commerce ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Order:
    id: str
    row: int
    amount: float
    at: float
    campaign: str


def customer_id(email: str) -> str:
    return f"cust_{subscriber_hash(email)[:12]}"


def world_orders(index: WorldIndex | None, campaigns: list[Campaign]) -> list[Order]:
    """One order per purchase of a Mailchimp member, in time order."""
    if index is None:
        return []
    kinds = index.column(index.world.events.type)
    positions = np.flatnonzero(kinds == TYPE_CODES[ActivityType.PURCHASE])
    events, rows = index.events[positions], index.rows[positions]
    order = np.lexsort((rows, index.world.events.at[events]))
    return [
        order_of(int(rows[i]), world_event(index.world, int(events[i])), campaigns, n)
        for n, i in enumerate(order)
    ]


def order_of(row: int, event: MemberEvent, campaigns: list[Campaign], number: int) -> Order:
    campaign = campaigns[event.campaign].id if 0 <= event.campaign < len(campaigns) else ""
    return Order(f"order_{number + 1}", row, event.amount, event.at, campaign)


# -- batches -------------------------------------------------------------------------------


@dataclass
class Batch:
    id: str
    operations: list[dict[str, Any]]
    submitted_at: float
    status: str = "pending"
    reads: int = 0
    results: list[dict[str, Any]] = field(default_factory=list)
    completed_at: float | None = None
    archive: bytes = b""

    def to_json(self, results_url: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "total_operations": len(self.operations),
            "finished_operations": len(self.results),
            "errored_operations": sum(1 for r in self.results if r["status_code"] >= 400),
            "submitted_at": iso(self.submitted_at),
            "completed_at": iso(self.completed_at) if self.completed_at is not None else "",
            "response_body_url": results_url,
        }


def operation_problems(operations: Any) -> list[dict[str, str]]:
    """Schema errors of a batch's operations, in Mailchimp's `errors` form."""
    if not isinstance(operations, list):
        message = f"Schema describes array, {json_kind(operations)} found instead"
        return [{"field": "operations", "message": message}]
    problems = []
    for n, op in enumerate(operations):
        where = f"operations.item:{n}"
        if not isinstance(op, dict):
            message = f"Schema describes object, {json_kind(op)} found instead"
            problems.append({"field": where, "message": message})
        elif op.get("method") not in BATCH_METHODS:
            message = "Data presented is not one of the accepted values: " + ", ".join(
                BATCH_METHODS
            )
            problems.append({"field": f"{where}.method", "message": message})
        elif not isinstance(op.get("path"), str) or not op["path"]:
            problems.append(
                {"field": f"{where}.path", "message": "This value should not be blank."}
            )
        elif not isinstance(op.get("body", ""), str):
            message = f"Schema describes string, {json_kind(op['body'])} found instead"
            problems.append({"field": f"{where}.body", "message": message})
    return problems


def results_archive(batch_id: str, results: list[dict[str, Any]], at: float) -> bytes:
    """The tar.gz behind `response_body_url`: JSON arrays of up to 500 results each."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for number, start in enumerate(range(0, max(len(results), 1), RESULTS_PER_FILE)):
            data = json.dumps(results[start : start + RESULTS_PER_FILE]).encode()
            info = tarfile.TarInfo(f"{batch_id}/{number}.json")
            info.size, info.mtime = len(data), int(at)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def operation_request(operation: dict[str, Any]) -> Request:
    """The request a batch operation stands for (its path is relative to /3.0)."""
    parts = urlsplit(str(operation["path"]))
    path = parts.path if parts.path.startswith(API_ROOT + "/") else API_ROOT + parts.path
    query = parse_qs(parts.query)
    for name, value in (operation.get("params") or {}).items():
        query[str(name)] = [str(value)]
    body = str(operation.get("body") or "").encode()
    return Request(str(operation["method"]), path, query, {}, body)


# -- member bodies -------------------------------------------------------------------------


def check_email(email: str) -> None:
    if not EMAIL_SHAPE.match(email):
        raise invalid(f"{email} looks fake or invalid, please enter a real email address.")


def check_status(status: str) -> None:
    if status not in STATUSES:
        accepted = ", ".join(STATUSES)
        message = f"Data presented is not one of the accepted values: {accepted}"
        raise schema_error("status", message)


def is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float) or value == "":
        return True
    try:
        float(str(value))
    except ValueError:
        return False
    return True


def tag_changes(tags: Any) -> list[tuple[str, bool]]:
    """(name, active) pairs of a tags POST body, or Mailchimp's 400."""
    if not isinstance(tags, list):
        raise schema_error("tags", f"Schema describes array, {json_kind(tags)} found instead")
    changes = []
    for n, tag in enumerate(tags):
        name = tag.get("name") if isinstance(tag, dict) else None
        status = tag.get("status") if isinstance(tag, dict) else None
        if not isinstance(name, str) or not name.strip():
            raise schema_error(f"tags.item:{n}.name", "This value should not be blank.")
        if status not in ("active", "inactive"):
            message = "Data presented is not one of the accepted values: active, inactive"
            raise schema_error(f"tags.item:{n}.status", message)
        changes.append((name.strip(), status == "active"))
    return changes


def batch_error(email: str, message: str, code: str = "ERROR_GENERIC") -> dict[str, str]:
    return {
        "email_address": email,
        "error": message,
        "error_code": code,
        "field": "",
        "field_message": "",
    }


def batch_error_from(email: str, refused: ApiError) -> dict[str, str]:
    """A per-member error from the problem a single-member call would have answered."""
    details = json.loads(refused.response.body)
    error = batch_error(email, str(details.get("detail", "")))
    fields = details.get("errors") or []
    if fields:
        error["field"], error["field_message"] = fields[0]["field"], fields[0]["message"]
    return error


# -- auth ----------------------------------------------------------------------------------


def presented_key(headers: Mapping[str, str]) -> str | None:
    """The API key of a request: Basic auth's password (any user), or a bearer token."""
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return decoded.partition(":")[2]
    if scheme.lower() in ("bearer", "oauth"):
        return value.strip()
    return None


# -- the emulator --------------------------------------------------------------------------


class MailchimpSandbox(Emulator):
    """The Mailchimp Marketing API v3 subset leadscore uses, over one projected world."""

    name = "mailchimp"

    def __init__(
        self,
        world: World | None = None,
        *,
        api_key: str = "sandbox-key-us1",
        faults: FaultPlan | None = None,
        latency: Latency | None = None,
        clock: SandboxClock | None = None,
        max_connections: int = 10,
    ) -> None:
        super().__init__(faults=faults, latency=latency, clock=clock)
        self.world = world
        self.api_key = api_key
        self.data_center = api_key.rsplit("-", 1)[1] if "-" in api_key else ""
        self.max_connections = max_connections
        self.epoch = world.now if world is not None else float(int(time.time()))
        self.list_id = short_id("audience", world.seed if world is not None else 0)
        self.batch_polls = 2
        """Status reads after which a batch is finished (the reads before say "started")."""
        self.in_flight: defaultdict[str | None, int] = defaultdict(int)
        self._local = threading.local()
        self._project_world()
        self._add_routes()

    def _project_world(self) -> None:
        self.audience = Audience(self.world, self.list_id)
        self.campaigns = project_campaigns(self.world, self.audience.index)
        self.campaigns_by_id = {c.id: c for c in self.campaigns}
        self.orders: list[Order] = []
        self.orders_by_row: defaultdict[int, list[Order]] = defaultdict(list)
        for order in world_orders(self.audience.index, self.campaigns):
            self._keep_order(order)
        self.batches: dict[str, Batch] = {}

    def reset(self) -> None:
        """Forget every change and batch: project the world afresh; the server keeps running."""
        with self.lock:
            self._project_world()
        self.reset_counts()

    def start(self, port: int = 0) -> MailchimpSandbox:
        super().start(port)
        return self

    def __enter__(self) -> MailchimpSandbox:
        return self.start()

    def now(self) -> float:
        """Sandbox time: the world's "now" plus the clock's vendor seconds, to the second."""
        return float(int(self.epoch + self.clock.now()))

    # -- routes -----------------------------------------------------------------------------

    def _add_routes(self) -> None:
        for method, path, operation, handler in self._table():
            self.route(method, API_ROOT + path, operation, self._locked(handler))
        self.route("GET", "/batch-results/{name}", "batch_results", self._locked(self._results))

    def _table(self) -> list[tuple[str, str, str, Handler]]:
        """(method, path under /3.0, operation named after the SDK method, handler)."""
        member = "/lists/{list_id}/members/{subscriber_hash}"
        store = "/ecommerce/stores/{store_id}"
        lists, shop = "lists.", "ecommerce."
        return [
            ("GET", "/ping", "ping.get", self._ping),
            ("GET", "/lists", lists + "get_all_lists", self._lists),
            ("GET", "/lists/{list_id}", lists + "get_list", self._list),
            ("POST", "/lists/{list_id}", lists + "batch_list_members", self._batch_members),
            ("GET", "/lists/{list_id}/members", lists + "get_list_members_info", self._members),
            ("GET", member, lists + "get_list_member", self._member),
            ("PUT", member, lists + "set_list_member", self._put_member),
            ("PATCH", member, lists + "update_list_member", self._patch_member),
            ("GET", member + "/tags", lists + "get_list_member_tags", self._tags),
            ("POST", member + "/tags", lists + "update_list_member_tags", self._post_tags),
            ("GET", member + "/activity-feed", lists + "get_list_member_activity_feed", self._feed),
            ("GET", member + "/activity", lists + "get_list_member_activity", self._activity),
            ("GET", "/lists/{list_id}/merge-fields", lists + "get_list_merge_fields", self._fields),
            ("POST", "/lists/{list_id}/merge-fields", lists + "add_list_merge_field", self._add),
            ("GET", "/campaigns", "campaigns.list", self._campaigns),
            ("GET", "/campaigns/{campaign_id}", "campaigns.get", self._campaign),
            ("GET", "/reports/{campaign_id}/email-activity", EMAIL_ACTIVITY, self._email_activity),
            ("GET", "/ecommerce/stores", shop + "stores", self._stores),
            ("GET", store, shop + "get_store", self._store),
            ("GET", store + "/customers", shop + "get_all_store_customers", self._customers),
            (
                "GET",
                store + "/customers/{customer_id}",
                shop + "get_store_customer",
                self._customer,
            ),
            ("GET", store + "/orders", shop + "get_store_orders", self._store_orders),
            ("GET", store + "/orders/{order_id}", shop + "get_order", self._order),
            ("GET", "/ecommerce/orders", shop + "orders", self._all_orders),
            ("POST", "/batches", "batches.start", self._start_batch),
            ("GET", "/batches", "batches.list", self._list_batches),
            ("GET", "/batches/{batch_id}", "batches.status", self._batch_status),
        ]

    def _locked(self, handler: Handler) -> Handler:
        """Handlers run one at a time; latency is spent before them, so calls still overlap."""

        def run(request: Request) -> Response:
            with self.lock:
                return handler(request)

        return run

    # -- the request cycle: auth, the connection limit, problem+json everywhere -------------

    def handle(self, request: Request) -> Response:
        """Count the request against its key's connections while it is served."""
        if not request.path.startswith(API_ROOT + "/"):
            return super().handle(request)
        key = presented_key(request.headers)
        with self.lock:
            self._local.refused = self.in_flight[key] >= self.max_connections
            self.in_flight[key] += 1
        try:
            response = super().handle(request)
        finally:
            with self.lock:
                self.in_flight[key] -= 1
        if response.status == 405 and request.operation == "unknown":
            return method_not_allowed()
        return response

    def admit(self, request: Request) -> Response | None:
        if request.operation == "batch_results":
            return None
        key = presented_key(request.headers)
        if key is None:
            return problem(401, "API Key Missing", "Your request did not include an API key.")
        if key != self.api_key:
            return problem(401, "API Key Invalid", KEY_INVALID)
        if getattr(self._local, "refused", False):
            return self._too_many()
        return None

    def _too_many(self) -> Response:
        detail = f"You have exceeded the limit of {self.max_connections} simultaneous connections."
        return problem(429, "Too Many Requests", detail)

    def fault_response(self, request: Request, fault: Fault) -> Response:
        if fault.status == 429:
            return self._too_many()
        if fault.status == 503:
            return problem(503, "Service Unavailable", "The service is temporarily unavailable.")
        return problem(fault.status, "Internal Server Error", INTERNAL_ERROR)

    def not_found(self, request: Request) -> Response:
        return not_found().response

    def decorate(self, request: Request, response: Response) -> None:
        response.headers.setdefault("X-Request-Id", str(uuid.uuid4()))

    # -- lists ------------------------------------------------------------------------------

    def _ping(self, request: Request) -> Response:
        return ok({"health_status": "Everything's Chimpy!"})

    def _check_list(self, request: Request) -> None:
        if path_param(request, "list_id") != self.list_id:
            raise not_found()

    def _lists(self, request: Request) -> Response:
        lists = page([self._list_json()], request)
        return shaped(request, {"lists": lists, "total_items": 1, "constraints": {}})

    def _list(self, request: Request) -> Response:
        self._check_list(request)
        return shaped(request, self._list_json())

    def _list_json(self) -> dict[str, Any]:
        counts, now = self.audience.counts(), self.now()
        sent = [c.send_time for c in self.campaigns if c.status(now) == "sent"]
        return {
            "id": self.list_id,
            "web_id": web_id("list", self.list_id),
            "name": LIST_NAME,
            "contact": {"company": "Leadscore", "country": "US"},
            "permission_reminder": "You signed up on our website.",
            "campaign_defaults": {"from_name": "Leadscore", "language": "en"},
            "date_created": iso(self.epoch - 365 * 86_400),
            "list_rating": 3,
            "double_optin": True,
            "stats": {
                "member_count": counts["subscribed"],
                "unsubscribe_count": counts["unsubscribed"],
                "cleaned_count": counts["cleaned"],
                "campaign_count": len(self.campaigns),
                "campaign_last_sent": iso(max(sent)) if sent else "",
                "merge_field_count": len(self.audience.merge_fields),
            },
        }

    # -- members ----------------------------------------------------------------------------

    def _members(self, request: Request) -> Response:
        self._check_list(request)
        rows = self._member_rows(request)
        offset, count = paging(request)
        members = [member_json(self.audience, int(r)) for r in rows[offset : offset + count]]
        payload = {"members": members, "list_id": self.list_id, "total_items": len(rows)}
        return shaped(request, payload)

    def _member_rows(self, request: Request) -> npt.NDArray[np.intp]:
        status = request.arg("status") or None
        if status is not None and status not in (*STATUSES, "archived"):
            raise schema_error(
                "status", f"Data presented is not one of the accepted values: {status}"
            )
        since = time_arg(request, "since_last_changed")
        rows = self.audience.select(status, since, time_arg(request, "before_last_changed"))
        if status == "archived":  # nothing is ever archived here
            return rows[:0]
        if request.arg("sort_field") == "last_changed":
            rows = rows[np.argsort(self.audience.columns.changed[rows], kind="stable")]
            if (request.arg("sort_dir") or "").upper() == "DESC":
                rows = rows[::-1]
        return rows

    def _row(self, request: Request) -> int:
        self._check_list(request)
        row = self.audience.row_of(path_param(request, "subscriber_hash"))
        if row is None:
            raise not_found()
        return row

    def _member(self, request: Request) -> Response:
        return shaped(request, member_json(self.audience, self._row(request)))

    def _put_member(self, request: Request) -> Response:
        self._check_list(request)
        body, key = json_body(request), path_param(request, "subscriber_hash")
        row = self.audience.row_of(key)
        if row is None:
            row = self._create_member(key, body)
        else:
            self._update_member(row, body)
        return ok(member_json(self.audience, row))

    def _patch_member(self, request: Request) -> Response:
        row = self._row(request)
        self._update_member(row, json_body(request))
        return ok(member_json(self.audience, row))

    def _create_member(self, key: str, body: dict[str, Any]) -> int:
        email = str(body.get("email_address") or "").strip()
        if not email:
            raise schema_error("email_address", "This value should not be blank.")
        check_email(email)
        if subscriber_hash(email) != (subscriber_hash(key) if "@" in key else key.lower()):
            raise invalid(f"The subscriber hash in the path does not match {email}.")
        status = str(body.get("status_if_new") or body.get("status") or "")
        if not status:
            raise schema_error("status_if_new", "This value should not be blank.")
        check_status(status)
        merge = self._merge_values(body)
        row = self.audience.add(email, status, self.now())
        self._apply(row, body, merge)
        return row

    def _update_member(self, row: int, body: dict[str, Any]) -> None:
        """Apply a PUT or PATCH body; last_changed moves only if something changed."""
        email = str(body.get("email_address") or "").strip()
        moving = bool(email) and email != self.audience.emails[row]
        if moving:
            self._check_new_address(row, email)
        status = str(body.get("status") or "")
        if status:
            check_status(status)
            self._check_compliance(row, status)
        merge = self._merge_values(body)
        before = member_json(self.audience, row)
        if moving:
            self.audience.readdress(row, email)
        if status:
            self.audience.set_status(row, status)
        self._apply(row, body, merge)
        if member_json(self.audience, row) != before:
            self.audience.touch(row, self.now())

    def _check_new_address(self, row: int, email: str) -> None:
        check_email(email)
        other = self.audience.row_of(subscriber_hash(email))
        if other is not None and other != row:
            detail = f"{email} is already a list member. Use PUT to insert or update list members."
            raise fail(400, "Member Exists", detail)

    def _check_compliance(self, row: int, status: str) -> None:
        if status == "subscribed" and self.audience.status(row) == "cleaned":
            email = self.audience.emails[row]
            detail = (
                f"{email} is in a compliance state due to unsubscribe, bounce, or compliance "
                "review and cannot be subscribed."
            )
            raise fail(400, "Member In Compliance State", detail)

    def _merge_values(self, body: dict[str, Any]) -> dict[str, Any]:
        """The known merge fields of a body, checked; unknown tags are ignored."""
        given = body.get("merge_fields") or {}
        if not isinstance(given, dict):
            message = f"Schema describes object, {json_kind(given)} found instead"
            raise schema_error("merge_fields", message)
        kept: dict[str, Any] = {}
        errors = []
        for tag, value in given.items():
            spec = self.audience.merge_field(str(tag).upper())
            if spec is None:
                continue
            if spec.type == "number" and not is_number(value):
                errors.append({"field": spec.tag, "message": "Please enter a number"})
            kept[spec.tag] = value
        if errors:
            raise invalid("Your merge fields were invalid.", errors)
        return kept

    def _apply(self, row: int, body: dict[str, Any], merge: dict[str, Any]) -> None:
        member = self.audience.edit(row)
        member.merge_fields.update(merge)
        if body.get("email_type") in ("html", "text"):
            member.email_type = str(body["email_type"])
        if isinstance(body.get("vip"), bool):
            member.vip = bool(body["vip"])
        if isinstance(body.get("language"), str):
            member.language = str(body["language"])

    # -- tags -------------------------------------------------------------------------------

    def _tags(self, request: Request) -> Response:
        member = self.audience.member(self._row(request))
        tags = [
            {"id": self.audience.tag_id(name), "name": name, "date_added": iso(at)}
            for name, at in sorted(member.tags.items())
        ]
        return shaped(request, {"tags": page(tags, request), "total_items": len(tags)})

    def _post_tags(self, request: Request) -> Response:
        row = self._row(request)
        changes = tag_changes(json_body(request).get("tags"))
        member = self.audience.edit(row)
        before = dict(member.tags)
        for name, active in changes:
            if active:
                member.tags.setdefault(name, self.now())
            else:
                member.tags.pop(name, None)
        if member.tags != before:
            self.audience.touch(row, self.now())
        return no_content()

    # -- member activity --------------------------------------------------------------------

    def _feed(self, request: Request) -> Response:
        row = self._row(request)
        wanted = set(csv_arg(request, "activity_filters"))
        items = [
            self._feed_item(event)
            for event in reversed(self.audience.member(row).events)
            if not wanted or feed_type(event) in wanted
        ]
        payload = {
            "email_id": subscriber_hash(self.audience.emails[row]),
            "list_id": self.list_id,
            "activity": page(items, request),
            "total_items": len(items),
        }
        return shaped(request, payload)

    def _feed_item(self, event: MemberEvent) -> dict[str, Any]:
        item: dict[str, Any] = {
            "activity_type": feed_type(event),
            "created_at_timestamp": iso(event.at),
        }
        campaign = self._campaign_of(event)
        if campaign is not None:
            item["campaign_id"], item["campaign_title"] = campaign.id, campaign.name
        if event.action == "click":
            item["link_clicked"] = event.url
        if event.action == "bounce":
            item["bounce_type"] = "hard"
        if event.action == "abuse":
            item["unsubscribe_reason"] = "abuse"
        if event.action == "order":
            item["order_total"] = event.amount
        return item

    def _activity(self, request: Request) -> Response:
        row = self._row(request)
        wanted = set(csv_arg(request, "action"))
        events = [
            e
            for e in reversed(self.audience.member(row).events)
            if e.action in EMAIL_ACTIONS and (not wanted or feed_type(e) in wanted)
        ][:ACTIVITY_LIMIT]
        payload = {
            "email_id": subscriber_hash(self.audience.emails[row]),
            "list_id": self.list_id,
            "activity": [self._activity_item(e) for e in events],
            "total_items": len(events),
        }
        return shaped(request, payload)

    def _activity_item(self, event: MemberEvent) -> dict[str, Any]:
        campaign = self._campaign_of(event)
        return {
            "action": feed_type(event),
            "timestamp": iso(event.at),
            "url": event.url,
            "type": "hard" if event.action == "bounce" else "",
            "campaign_id": campaign.id if campaign else "",
            "title": campaign.name if campaign else "",
            "parent_campaign": "",
        }

    def _campaign_of(self, event: MemberEvent) -> Campaign | None:
        return self.campaigns[event.campaign] if 0 <= event.campaign < len(self.campaigns) else None

    # -- merge fields -----------------------------------------------------------------------

    def _fields(self, request: Request) -> Response:
        self._check_list(request)
        kind = request.arg("type")
        specs = [s for s in self.audience.merge_fields if kind is None or s.type == kind]
        payload = {
            "merge_fields": [s.to_json(self.list_id) for s in page(specs, request)],
            "list_id": self.list_id,
            "total_items": len(specs),
        }
        return shaped(request, payload)

    def _add(self, request: Request) -> Response:
        self._check_list(request)
        spec = self._new_merge_field(json_body(request))
        self.audience.merge_fields.append(spec)
        for member in self.audience.edited.values():
            member.merge_fields.setdefault(spec.tag, spec.default_value)
        return ok(spec.to_json(self.list_id))

    def _new_merge_field(self, body: dict[str, Any]) -> MergeField:
        name, kind = body.get("name"), body.get("type")
        if not isinstance(name, str) or not name.strip():
            raise schema_error("name", "This value should not be blank.")
        if kind not in MERGE_TYPES:
            accepted = ", ".join(sorted(MERGE_TYPES))
            message = f"Data presented is not one of the accepted values: {accepted}"
            raise schema_error("type", message)
        fields = self.audience.merge_fields
        tag = str(body.get("tag") or f"MMERGE{len(fields) + 1}").strip().upper()
        if self.audience.merge_field(tag) is not None:
            raise invalid(f'A Merge Field with the tag "{tag}" already exists for this list.')
        return MergeField(
            merge_id=max(s.merge_id for s in fields) + 1,
            tag=tag,
            name=name.strip(),
            type=str(kind),
            required=bool(body.get("required", False)),
            default_value=str(body.get("default_value", "")),
            public=bool(body.get("public", True)),
            display_order=len(fields) + 1,
            options=dict(body.get("options") or {}),
            help_text=str(body.get("help_text", "")),
        )

    # -- batch subscribe --------------------------------------------------------------------

    def _batch_members(self, request: Request) -> Response:
        self._check_list(request)
        body = json_body(request)
        members = body.get("members")
        if not isinstance(members, list):
            message = f"Schema describes array, {json_kind(members)} found instead"
            raise schema_error("members", message)
        if len(members) > MAX_BATCH_MEMBERS:
            message = f"Schema describes array with at most {MAX_BATCH_MEMBERS} items"
            raise schema_error("members", f"{message}, {len(members)} found instead")
        update = bool(body.get("update_existing", False))
        created: list[dict[str, Any]] = []
        updated: list[dict[str, Any]] = []
        errors: list[dict[str, str]] = []
        for item in members:
            outcome, row, error = self._batch_one(item, update)
            if error is not None:
                errors.append(error)
            else:
                (created if outcome == "new" else updated).append(member_json(self.audience, row))
        return ok(
            {
                "new_members": created,
                "updated_members": updated,
                "errors": errors,
                "total_created": len(created),
                "total_updated": len(updated),
                "error_count": len(errors),
            }
        )

    def _batch_one(self, item: Any, update: bool) -> tuple[str, int, dict[str, str] | None]:
        """One member of a batch: ("new" | "updated", row, None) or ("error", -1, error)."""
        email = str(item.get("email_address") or "").strip() if isinstance(item, dict) else ""
        if not isinstance(item, dict) or not EMAIL_SHAPE.match(email):
            message = f"{email} looks fake or invalid, please enter a real email address."
            return "error", -1, batch_error(email, message)
        if self.faults.record_fails():
            return "error", -1, batch_error(email, INTERNAL_ERROR)
        row = self.audience.row_of(subscriber_hash(email))
        if row is not None and not update:
            message = (
                f"{email} is already a list member, do you want to update? "
                "please provide update_existing:true in the request body"
            )
            return "error", -1, batch_error(email, message, "ERROR_CONTACT_EXISTS")
        try:
            if row is None:
                return "new", self._create_member(email, item), None
            self._update_member(row, item)
            return "updated", row, None
        except ApiError as refused:
            return "error", -1, batch_error_from(email, refused)

    # -- campaigns and reports --------------------------------------------------------------

    def _campaigns(self, request: Request) -> Response:
        now, status = self.now(), request.arg("status")
        since, before = time_arg(request, "since_send_time"), time_arg(request, "before_send_time")
        found = [
            c
            for c in self.campaigns
            if (status is None or c.status(now) == status)
            and (since is None or c.send_time >= since)
            and (before is None or c.send_time <= before)
        ]
        if request.arg("sort_field") == "send_time":
            found.sort(key=lambda c: c.send_time, reverse=request.arg("sort_dir") == "DESC")
        items = [campaign_json(c, self.list_id, now) for c in page(found, request)]
        return shaped(request, {"campaigns": items, "total_items": len(found)})

    def _campaign_by_param(self, request: Request) -> Campaign:
        campaign = self.campaigns_by_id.get(path_param(request, "campaign_id"))
        if campaign is None:
            raise not_found()
        return campaign

    def _campaign(self, request: Request) -> Response:
        campaign = self._campaign_by_param(request)
        return shaped(request, campaign_json(campaign, self.list_id, self.now()))

    def _recipients(self, campaign: Campaign) -> list[int]:
        """The campaign's recipient rows: the world's in list order, then later ones."""
        if campaign.rows is None:
            campaign.rows = world_recipients(self.audience.index, campaign.index)
            campaign.row_set = set(campaign.rows)
        return campaign.rows

    def _email_activity(self, request: Request) -> Response:
        campaign, since = self._campaign_by_param(request), time_arg(request, "since")
        emails, total = self._activity_page(campaign, since, request)
        items = [
            {
                "campaign_id": campaign.id,
                "list_id": self.list_id,
                "list_is_active": True,
                "email_id": subscriber_hash(self.audience.emails[row]),
                "email_address": self.audience.emails[row],
                "activity": activity,
            }
            for row, activity in emails
        ]
        return shaped(request, {"emails": items, "campaign_id": campaign.id, "total_items": total})

    def _activity_page(
        self, campaign: Campaign, since: float | None, request: Request
    ) -> tuple[list[tuple[int, list[dict[str, Any]]]], int]:
        """One page of (recipient row, activity) and the total; with `since`, only the active."""
        rows = self._recipients(campaign)
        if since is None:
            chosen = page(rows, request)
            return [
                (row, self._recipient_activity(row, campaign.index, None)) for row in chosen
            ], len(rows)
        active = [(row, self._recipient_activity(row, campaign.index, since)) for row in rows]
        active = [(row, activity) for row, activity in active if activity]
        return page(active, request), len(active)

    def _recipient_activity(
        self, row: int, campaign: int, since: float | None
    ) -> list[dict[str, Any]]:
        return [
            {
                "action": e.action,
                "type": "hard" if e.action == "bounce" else "",
                "timestamp": iso(e.at),
                "url": e.url,
                "ip": "",
            }
            for e in self.audience.member(row).events
            if e.campaign == campaign
            and e.action in ("open", "click", "bounce")
            and (since is None or e.at >= since)
        ]

    # -- e-commerce -------------------------------------------------------------------------

    def _keep_order(self, order: Order) -> None:
        self.orders.append(order)
        self.orders_by_row[order.row].append(order)

    def _store_json(self) -> dict[str, Any]:
        created = iso(self.epoch - 365 * 86_400)
        return {
            "id": STORE_ID,
            "list_id": self.list_id,
            "name": "Leadscore sandbox store",
            "platform": "",
            "domain": "shop.leadscore.invalid",
            "is_syncing": False,
            "currency_code": "USD",
            "money_format": "$",
            "primary_locale": "en",
            "timezone": "UTC",
            "list_is_active": True,
            "created_at": created,
            "updated_at": created,
        }

    def _check_store(self, request: Request) -> None:
        if path_param(request, "store_id") != STORE_ID:
            raise not_found()

    def _stores(self, request: Request) -> Response:
        return shaped(request, {"stores": page([self._store_json()], request), "total_items": 1})

    def _store(self, request: Request) -> Response:
        self._check_store(request)
        return shaped(request, self._store_json())

    def _customer_json(self, row: int) -> dict[str, Any]:
        member, orders = self.audience.member(row), self.orders_by_row[row]
        return {
            "id": customer_id(member.email),
            "email_address": member.email,
            "opt_in_status": self.audience.status(row) == "subscribed",
            "company": str(member.merge_fields.get("COMPANY", "")),
            "first_name": str(member.merge_fields.get("FNAME", "")),
            "last_name": str(member.merge_fields.get("LNAME", "")),
            "orders_count": len(orders),
            "total_spent": round(sum(o.amount for o in orders), 2),
            "created_at": iso(min(o.at for o in orders)),
            "updated_at": iso(max(o.at for o in orders)),
        }

    def _customer_rows(self, email: str = "") -> list[int]:
        """Rows of members with orders, in list order; optionally only one address."""
        rows = sorted(row for row, orders in self.orders_by_row.items() if orders)
        wanted = email.strip().lower()
        return [r for r in rows if not wanted or self.audience.emails[r].lower() == wanted]

    def _customers(self, request: Request) -> Response:
        self._check_store(request)
        rows = self._customer_rows(request.arg("email_address") or "")
        payload = {
            "store_id": STORE_ID,
            "customers": [self._customer_json(r) for r in page(rows, request)],
            "total_items": len(rows),
        }
        return shaped(request, payload)

    def _customer(self, request: Request) -> Response:
        self._check_store(request)
        wanted = path_param(request, "customer_id")
        for row in self._customer_rows():
            if customer_id(self.audience.emails[row]) == wanted:
                return shaped(request, self._customer_json(row))
        raise not_found()

    def _order_json(self, order: Order) -> dict[str, Any]:
        customer = self._customer_json(order.row)
        del customer["created_at"], customer["updated_at"]
        line = {
            "id": f"{order.id}_line_1",
            "product_id": "subscription",
            "product_title": "Subscription",
            "product_variant_id": "subscription_annual",
            "product_variant_title": "Annual",
            "quantity": 1,
            "price": order.amount,
            "discount": 0,
        }
        return {
            "id": order.id,
            "customer": customer,
            "store_id": STORE_ID,
            "campaign_id": order.campaign,
            "financial_status": "paid",
            "fulfillment_status": "",
            "currency_code": "USD",
            "order_total": order.amount,
            "discount_total": 0,
            "tax_total": 0,
            "shipping_total": 0,
            "processed_at_foreign": iso(order.at),
            "updated_at_foreign": iso(order.at),
            "lines": [line],
        }

    def _filtered_orders(self, request: Request) -> list[Order]:
        customer, campaign = request.arg("customer_id"), request.arg("campaign_id")
        return [
            o
            for o in self.orders
            if (not customer or customer_id(self.audience.emails[o.row]) == customer)
            and (not campaign or o.campaign == campaign)
        ]

    def _store_orders(self, request: Request) -> Response:
        self._check_store(request)
        orders = self._filtered_orders(request)
        items = [self._order_json(o) for o in page(orders, request)]
        return shaped(request, {"store_id": STORE_ID, "orders": items, "total_items": len(orders)})

    def _all_orders(self, request: Request) -> Response:
        orders = self._filtered_orders(request)
        items = [self._order_json(o) for o in page(orders, request)]
        return shaped(request, {"orders": items, "total_items": len(orders)})

    def _order(self, request: Request) -> Response:
        self._check_store(request)
        wanted = path_param(request, "order_id")
        order = next((o for o in self.orders if o.id == wanted), None)
        if order is None:
            raise not_found()
        return shaped(request, self._order_json(order))

    # -- batches ----------------------------------------------------------------------------

    def _start_batch(self, request: Request) -> Response:
        body = json_body(request)
        problems = operation_problems(body.get("operations"))
        if problems:
            raise invalid(SCHEMA_DETAIL, problems)
        number = len(self.batches)
        batch = Batch(short_id("batch", self.list_id, number), body["operations"], self.now())
        self.batches[batch.id] = batch
        return ok(batch.to_json(""))

    def _list_batches(self, request: Request) -> Response:
        batches = list(self.batches.values())
        items = [b.to_json(self._results_url(b)) for b in page(batches, request)]
        return shaped(request, {"batches": items, "total_items": len(batches)})

    def _batch_status(self, request: Request) -> Response:
        batch = self.batches.get(path_param(request, "batch_id"))
        if batch is None:
            raise not_found()
        batch.reads += 1
        if batch.status != "finished":
            if batch.reads >= self.batch_polls:
                self._finish(batch)
            else:
                batch.status = "started"
        return shaped(request, batch.to_json(self._results_url(batch)))

    def finish_batches(self) -> None:
        """Run every batch still waiting, as Mailchimp eventually does."""
        with self.lock:
            for batch in self.batches.values():
                if batch.status != "finished":
                    self._finish(batch)

    def _finish(self, batch: Batch) -> None:
        batch.results = [self._run_operation(op) for op in batch.operations]
        batch.status, batch.completed_at = "finished", self.now()
        batch.archive = results_archive(batch.id, batch.results, batch.completed_at)

    def _run_operation(self, operation: dict[str, Any]) -> dict[str, Any]:
        """One batch operation through the live handlers; `record_failure` fails some."""
        response = self._dispatch(operation_request(operation))
        return {
            "status_code": response.status,
            "operation_id": operation.get("operation_id"),
            "response": response.body.decode() or "{}",
        }

    def _dispatch(self, request: Request) -> Response:
        if self.faults.record_fails():
            return problem(500, "Internal Server Error", INTERNAL_ERROR)
        route, params = self.match(request.method, request.path)
        if route is None:
            return method_not_allowed() if params else not_found().response
        request.params, request.operation = params, route.operation
        try:
            return route.handler(request)
        except ApiError as refused:
            return refused.response

    def _results_url(self, batch: Batch) -> str:
        return f"{self.base_url}/batch-results/{batch.id}.tar.gz" if batch.archive else ""

    def _results(self, request: Request) -> Response:
        name = path_param(request, "name")
        batch = self.batches.get(name.removesuffix(".tar.gz"))
        if batch is None or not batch.archive or not name.endswith(".tar.gz"):
            return Response(404, b"NoSuchKey", {"Content-Type": "application/xml"})
        return Response(200, batch.archive, {"Content-Type": "application/x-gzip"})

    # -- simulating change ------------------------------------------------------------------

    def add_activity(
        self,
        email: str,
        kind: ActivityType,
        at: datetime | None = None,
        *,
        campaign: int | str | None = None,
        url: str = "",
        amount: float = 0.0,
    ) -> None:
        """Record something a member did, as if Mailchimp had just seen it.

        `at` defaults to the sandbox's now; a naive datetime is taken as UTC.
        `campaign` is a world campaign number or a campaign id. Email events
        count in the campaign's report and email activity; unsubscribes, spam
        reports and bounces change the status; a signup of an unknown address
        adds a subscribed member; a purchase adds an order. The member's
        last_changed becomes the sandbox's now (or `at`, if that is later).
        """
        action = ACTIONS.get(kind)
        if action is None:
            raise ValueError(f"Mailchimp does not see {kind.value} activity")
        with self.lock:
            moment = ensure_utc(at).timestamp() if at is not None else self.now()
            event = MemberEvent(action, moment, self._campaign_number(campaign), url, amount)
            row = self._activity_row(email, action, moment)
            if event.campaign >= 0 and action in EMAIL_ACTIONS:
                self._count_in_report(row, event)
            self._remember(row, event)
            self.audience.touch(row, max(self.now(), moment))

    def _activity_row(self, email: str, action: str, moment: float) -> int:
        row = self.audience.row_of(subscriber_hash(email))
        if row is not None:
            return row
        if action != "signup":
            raise KeyError(f"{email} is not a member of the sandbox audience")
        return self.audience.add(email.strip(), "subscribed", moment, source="Hosted Signup Form")

    def _campaign_number(self, campaign: int | str | None) -> int:
        if campaign is None:
            return -1
        if isinstance(campaign, str):
            return self.campaigns_by_id[campaign].index
        if not 0 <= campaign < len(self.campaigns):
            raise KeyError(f"no campaign {campaign}")
        return campaign

    def _count_in_report(self, row: int, event: MemberEvent) -> None:
        """Update the campaign's counts before the event joins the member's history."""
        campaign = self.campaigns[event.campaign]
        recipients = self._recipients(campaign)
        if row not in campaign.row_set:
            recipients.append(row)
            campaign.row_set.add(row)
            campaign.recipients += 1
        earlier = {
            e.action for e in self.audience.member(row).events if e.campaign == campaign.index
        }
        if event.action == "open":
            campaign.opens += 1
            campaign.unique_opens += "open" not in earlier
        elif event.action == "click":
            campaign.clicks += 1
            campaign.unique_clicks += "click" not in earlier

    def _remember(self, row: int, event: MemberEvent) -> None:
        member = self.audience.edit(row)
        member.events.append(event)
        if event.action in STATUS_AFTER:
            self.audience.set_status(row, STATUS_AFTER[event.action])
        if event.action in TAG_OF_ACTION:
            member.tags.setdefault(TAG_OF_ACTION[event.action], event.at)
        if event.action == "order":
            self._keep_order(order_of(row, event, self.campaigns, len(self.orders)))


def feed_type(event: MemberEvent) -> str:
    """The activity-feed type of an event (a spam report shows as an unsubscribe)."""
    return FEED_TYPES.get(event.action, event.action)


def method_not_allowed() -> Response:
    detail = (
        "The requested method and resource are not compatible. "
        "See the Allow header for this resource's available methods."
    )
    return problem(405, "Method Not Allowed", detail)


# -- the real SDK, pointed at the sandbox --------------------------------------------------


def sandbox_client(emulator: MailchimpSandbox) -> mailchimp_marketing.Client:
    """The official SDK client, unchanged but for its host; the sandbox must be running."""
    import mailchimp_marketing as sdk

    client = sdk.Client()
    client.set_config({"api_key": emulator.api_key, "server": emulator.data_center})
    client.api_client.host = f"{emulator.base_url}{API_ROOT}"
    return client
