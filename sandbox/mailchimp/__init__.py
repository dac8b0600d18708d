"""A local emulator of the part of the Mailchimp Marketing API v3 that leadscore uses.

`MailchimpSandbox` is a real HTTP server (see `sandbox.http.Emulator`)
that the official `mailchimp-marketing` SDK talks to unchanged, once its host is
pointed at the sandbox (`sandbox_client` does that). It projects a `World` onto
one audience (list) with members, merge fields and tags, the world's campaigns
with per-recipient email activity, one e-commerce store with customers and
orders, and runs Mailchimp's batch endpoint.
Documents followed (as stored copies, checked while writing this package):
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

Layout:
- `emulator`: `MailchimpSandbox`, its route table and admission (auth, the
  connection limit, injected faults); `state`: what it holds and how it
  projects the world afresh; `client`: `sandbox_client`.
- The world as Mailchimp sees it: `projection` (visible events and initial
  statuses), `audience` (members, merge fields, tags) and `member_json`,
  `campaigns` (campaigns and report counts), `orders`, `batches` (batch
  records and their results archive).
- Route handlers, one mixin per part of the API: `list_routes` (ping, lists,
  merge fields), `member_routes` (members and tags), `activity_routes`,
  `subscribe_routes` (batch subscribe), `report_routes` (campaigns and
  reports), `store_routes` (e-commerce), `batch_routes`; `simulation`
  (`add_activity`).
- Plumbing shared by the handlers: `arguments` (reading requests), `answers`
  (JSON, fields, paging), `problems` (problem+json errors), `values` (ids,
  times).
"""

from sandbox.mailchimp.client import sandbox_client
from sandbox.mailchimp.emulator import MailchimpSandbox
from sandbox.mailchimp.orders import customer_id
from sandbox.mailchimp.store_routes import STORE_ID
from sandbox.mailchimp.values import API_ROOT, iso, subscriber_hash

__all__ = [
    "API_ROOT",
    "STORE_ID",
    "MailchimpSandbox",
    "customer_id",
    "iso",
    "sandbox_client",
    "subscriber_hash",
]
