"""A local emulator of the part of Salesforce's REST API that the leadscore connector uses.

`SalesforceSandbox` serves a `World` (see `salesforce_projection`) as Leads,
Contacts, Accounts, Campaigns, CampaignMembers, Tasks, Opportunities and
OpportunityContactRoles, faithfully enough that `simple-salesforce` runs against
it unchanged. Documents followed (Salesforce Developers, API version 59.0):

- REST API Developer Guide: OAuth 2.0 username-password flow (token response
  with `access_token`, `instance_url`, `id`, `token_type`, `issued_at` and the
  HMAC-SHA256 `signature`; `invalid_grant` / `authentication failure`), Query and
  Query More Results, sObject Describe and Describe Global, sObject Rows (GET,
  PATCH), sObject Collections update (200 records, `allOrNone`, SaveResults),
  Limits, the `Sforce-Limit-Info: api-usage=N/M` header, status codes and error
  bodies (`[{"message", "errorCode"}]`, 401 INVALID_SESSION_ID, 403
  REQUEST_LIMIT_EXCEEDED "TotalRequests Limit exceeded.", 503 SERVER_UNAVAILABLE).
- SOAP API Developer Guide: `login()` and its LoginFault (INVALID_LOGIN), which is
  what simple-salesforce uses when given a security token.
- SOQL and SOSL Reference (the subset in `soql`), Bulk API 2.0 Developer Guide
  (`salesforce_bulk`), Tooling API: creating a CustomField from `FullName` and
  `Metadata`; the created field shows in describe and takes writes at once.
- Checked against the request templates of Salesforce's Postman collection under
  `../shared/specs/salesforce` (methods, paths, bodies, and the fields its test
  scripts read from the answers).

Simplified or missing: one user in one org with every permission (no profiles,
sharing or field-level security: a new custom field is visible at once); no
inserts or deletes; Bulk API 2.0 does `update` only and no query jobs; the
Metadata API (SOAP) is not served because simple-salesforce's `sf.mdapi` sends it
through zeep's own HTTP session, which a `requests` adapter cannot reach;
Describe leaves out layouts, child relationships and record types.

Reaching it with the real SDK: simple-salesforce always builds `https://` URLs,
from `https://{domain}.salesforce.com` at login and from the `instance_url` the
sandbox answers (`https://leadscore-sandbox.my.salesforce.com`). A
`SandboxAdapter` mounted on a `requests.Session` rewrites those URLs to the
sandbox's plain-http address:

    with SalesforceSandbox(world) as sandbox:
        sf = Salesforce(**sandbox.credentials(), session=sandbox_session(sandbox))
        # or simply: sf = connect(sandbox)
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from requests.models import PreparedRequest

from sandbox.clock import SandboxClock
from sandbox.faults import Fault, FaultPlan, Latency
from sandbox.http import Emulator, Request, Response, Route
from sandbox.limits import DailyBudget
from sandbox.salesforce import auth
from sandbox.salesforce.bulk import BulkIngest
from sandbox.salesforce.org import Org
from sandbox.salesforce.query import QueryEngine
from sandbox.salesforce.schema import (
    CUSTOM_FIELD_PREFIX,
    ORG_PREFIX,
    USER_PREFIX,
    RecordError,
    SalesforceError,
    SObjectType,
    describe_basics,
    describe_sobject,
    make_id,
    new_custom_field,
    to_json,
)
from sandbox.world.tables import World
from scoring.records import ActivityType

MAX_COLLECTION = 200
DATA = "/services/data/{version}"
Handler = Callable[[Request], Response]


class SalesforceSandbox(Emulator):
    """Salesforce's REST, SOAP login, Bulk API 2.0 and Tooling subset, on 127.0.0.1."""

    name = "salesforce"

    def __init__(
        self,
        world: World | None = None,
        *,
        daily_limit: int = 100_000,
        used: int = 0,
        faults: FaultPlan | None = None,
        latency: Latency | None = None,
        clock: SandboxClock | None = None,
        username: str = "sandbox@example.com",
        password: str = "sandbox-password",
        security_token: str = "sandboxSecurityToken",
        consumer_key: str = "sandbox-consumer-key",
        consumer_secret: str = "sandbox-consumer-secret",
        api_version: str = "59.0",
        instance: str = "leadscore-sandbox.my.salesforce.com",
    ) -> None:
        super().__init__(faults=faults, latency=latency, clock=clock)
        self.budget = DailyBudget(daily_limit, used)
        self.api_version = api_version
        org_id, self.user_id = make_id(ORG_PREFIX, 1), make_id(USER_PREFIX, 1)
        self.login = auth.Login(
            username, password, security_token, consumer_key, consumer_secret,
            org_id, self.user_id, instance,
        )  # fmt: skip
        start = world.now if world is not None else time.time()
        self.org = Org(world, lambda: datetime.fromtimestamp(start + self.clock.now(), UTC))
        self.queries = QueryEngine(self.org)
        self.bulk = BulkIngest(self.org, self.faults.record_fails, self.user_id)
        self._custom_fields = 0
        self._org_lock = threading.RLock()
        self._add_routes()

    # -- what tests and the demo use --------------------------------------------------------

    def credentials(self, flow: Literal["oauth", "soap"] = "oauth") -> dict[str, str]:
        """Keyword arguments for `simple_salesforce.Salesforce` for one login flow."""
        return self.login.credentials(flow)

    def record_id(self, person: int) -> str | None:
        """The Lead or Contact id of a world person."""
        return self.org.index.person_record(person)

    def record(self, record_id: str) -> dict[str, Any] | None:
        """A record as stored (Python values), or None."""
        with self._org_lock:
            return self.org.record(record_id)

    def add_activity(
        self,
        person: int,
        kind: ActivityType | str,
        at: datetime | None = None,
        *,
        campaign: int = -1,
        amount: float | None = None,
    ) -> str:
        """Simulate what a person just did (a Task, a campaign response, a deal); its id."""
        with self._org_lock:
            moment = at or self.org.stamp()
            return self.org.add_activity(person, ActivityType(kind), moment, campaign, amount)

    def update_record(self, record_id: str, **values: Any) -> None:
        """Change a record as a user would in Salesforce (stamps SystemModstamp)."""
        with self._org_lock:
            located = self.org.locate(record_id)
            if located is None:
                raise ValueError(f"no record {record_id}")
            record = {"Id": record_id, **values}
            table, row, changes = self.org.prepare_update(record, located[0].sobject.name)
            self.org.apply(table, row, changes)

    def expire_sessions(self) -> None:
        """End every session, as a timeout or a password change would."""
        self.login.sessions.clear()

    # -- the emulator hooks ---------------------------------------------------------------

    def admit(self, request: Request) -> Response | None:
        if not request.path.startswith("/services/data/v"):
            return None
        token = request.headers.get("authorization", "").partition(" ")[2]
        if token not in self.login.sessions:
            return _errors(401, "INVALID_SESSION_ID", "Session expired or invalid")
        if not self.budget.try_spend():
            return _errors(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        return None

    def decorate(self, request: Request, response: Response) -> None:
        if request.path.startswith("/services/data"):
            usage = f"api-usage={self.budget.used}/{self.budget.limit}"
            response.headers["Sforce-Limit-Info"] = usage

    def fault_response(self, request: Request, fault: Fault) -> Response:
        if request.path.startswith("/services/Soap/"):
            return auth.fault_response("SERVER_UNAVAILABLE", "Server temporarily unavailable")
        if fault.status == 429:
            answer = _errors(429, "REQUEST_LIMIT_EXCEEDED", "Too many requests, try again later.")
            answer.headers["Retry-After"] = str(fault.retry_after)
            return answer
        if fault.status == 503:
            return _errors(503, "SERVER_UNAVAILABLE", "Server temporarily unavailable.")
        message = "An unexpected error occurred. Please include this ErrorId if you contact "
        return _errors(fault.status, "UNKNOWN_EXCEPTION", message + "support: 1234567-89 (-1)")

    def not_found(self, request: Request) -> Response:
        return _errors(404, "NOT_FOUND", "The requested resource does not exist")

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str]]:
        """Salesforce's own 405 body for a known path with another method."""
        route, params = super().match(method, path)
        if route is None and params:
            return Route(method, re.compile(".*"), "method_not_allowed", _not_allowed), {}
        return route, params

    # -- routes ----------------------------------------------------------------------------

    def _add_routes(self) -> None:
        self._route("POST", "/services/oauth2/token", "oauth.token", self.login.oauth_token)
        self._route("POST", "/services/Soap/u/{soap_version}", "soap.login", self.login.soap_login)
        self._route("GET", "/services/data/?", "versions", self._versions)
        self._route("GET", DATA + "/?", "resources", self._resources)
        self._route("GET", DATA + "/limits/?", "limits", self._limits)
        self._route("GET", DATA + "/sobjects/?", "describe.global", self._describe_global)
        self._route("GET", DATA + "/sobjects/{sobject}/describe/?", "describe", self._describe)
        self._route("GET", DATA + "/sobjects/{sobject}/?", "sobject.info", self._basic_info)
        self._route("GET", DATA + "/sobjects/{sobject}/{id}/?", "sobject.get", self._get_record)
        self._route("PATCH", DATA + "/sobjects/{sobject}/{id}/?", "sobject.update", self._patch)
        for endpoint in ("query", "queryAll"):
            self._route("GET", f"{DATA}/{endpoint}/?", "query", self._query)
            self._route("GET", f"{DATA}/{endpoint}/{{locator}}/?", "query.more", self._query_more)
        self._route(
            "PATCH", DATA + "/composite/sobjects/?", "collections.update", self._collections
        )
        tooling = DATA + "/tooling/sobjects/CustomField/?"
        self._route("POST", tooling, "tooling.customfield.create", self._create_custom_field)
        self._bulk_routes(DATA + "/jobs/ingest")

    def _bulk_routes(self, jobs: str) -> None:
        job = jobs + "/{job}"
        self._route("POST", jobs + "/?", "bulk2.create", self._create_job)
        self._route("GET", jobs + "/?", "bulk2.list", lambda r: Response.json(self.bulk.all()))
        self._route("PUT", job + "/batches/?", "bulk2.upload", self._upload)
        self._route("GET", job + "/?", "bulk2.info", self._job_info)
        self._route("PATCH", job + "/?", "bulk2.state", self._job_state)
        self._route("DELETE", job + "/?", "bulk2.delete", self._delete_job)
        self._route("GET", job + "/{kind}/?", "bulk2.results", self._job_results)

    def _route(self, method: str, path: str, operation: str, handler: Handler) -> None:
        def guarded(request: Request) -> Response:
            try:
                self._check_version(request.params.get("version"))
                with self._org_lock:
                    return handler(request)
            except SalesforceError as error:
                return Response.json(error.body, error.status)

        self.route(method, path, operation, guarded)

    def _check_version(self, version: str | None) -> None:
        found = re.fullmatch(r"v(\d+)\.0", version or "v0.0")
        ours = int(float(self.api_version))
        if version is not None and not (found and 20 <= int(found.group(1)) <= ours):
            raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")

    # -- REST resources --------------------------------------------------------------------

    def _versions(self, request: Request) -> Response:
        version = self.api_version
        url = f"/services/data/v{version}"
        return Response.json([{"label": "Winter '24", "url": url, "version": version}])

    def _resources(self, request: Request) -> Response:
        base = f"/services/data/{request.params['version']}"
        names = ("sobjects", "query", "queryAll", "limits", "tooling", "jobs/ingest")
        return Response.json({name.split("/")[0]: f"{base}/{name}" for name in names})

    def _limits(self, request: Request) -> Response:
        daily = {"Max": self.budget.limit, "Remaining": self.budget.remaining}
        return Response.json({"DailyApiRequests": daily})

    def _sobject(self, request: Request) -> SObjectType:
        sobject = self.org.sobject(request.params["sobject"])
        if sobject is None:
            raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")
        return sobject

    def _describe_global(self, request: Request) -> Response:
        version = request.params["version"]
        sobjects = [describe_basics(s, version) for s in self.org.types.values()]
        return Response.json({"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": sobjects})

    def _describe(self, request: Request) -> Response:
        return Response.json(describe_sobject(self._sobject(request), request.params["version"]))

    def _basic_info(self, request: Request) -> Response:
        basics = describe_basics(self._sobject(request), request.params["version"])
        return Response.json({"objectDescribe": basics, "recentItems": []})

    def _get_record(self, request: Request) -> Response:
        sobject = self._sobject(request)
        record = self.org.record(request.params["id"])
        if record is None or not record["Id"].startswith(sobject.prefix):
            raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")
        wanted = [f.strip() for f in (request.arg("fields") or "").split(",") if f.strip()]
        unknown = [f for f in wanted if sobject.field(f) is None]
        if unknown:
            message = f"No such column '{unknown[0]}' on entity '{sobject.name}'"
            raise SalesforceError(400, "INVALID_FIELD", message)
        names = [sobject.field(f) for f in wanted] if wanted else list(sobject.fields.values())
        url = f"/services/data/{request.params['version']}/sobjects/{sobject.name}/{record['Id']}"
        fields = {d.name: to_json(record.get(d.name)) for d in names if d is not None}
        return Response.json({"attributes": {"type": sobject.name, "url": url}, **fields})

    def _patch(self, request: Request) -> Response:
        sobject = self._sobject(request)
        body = _json(request)
        if not isinstance(body, dict):
            raise SalesforceError(400, "JSON_PARSER_ERROR", "Expected a JSON object")
        try:
            table, row, changes = self.org.prepare_update(
                {**body, "Id": request.params["id"]}, sobject.name
            )
        except RecordError as error:
            if error.status_code == "INVALID_CROSS_REFERENCE_KEY":
                raise SalesforceError(
                    404, "NOT_FOUND", "The requested resource does not exist"
                ) from None
            raise SalesforceError(400, error.status_code, error.message, [*error.fields]) from None
        self.org.apply(table, row, changes)
        return Response.empty(204)

    def _query(self, request: Request) -> Response:
        text = request.arg("q")
        if not text:
            raise SalesforceError(400, "MALFORMED_QUERY", "A query string has to be specified")
        options = request.headers.get("sforce-query-options", "")
        size = re.search(r"batchSize=(\d+)", options)
        page = min(2000, max(200, int(size.group(1)))) if size else 2000
        return Response.json(self.queries.run(text, request.params["version"], page))

    def _query_more(self, request: Request) -> Response:
        return Response.json(
            self.queries.more(request.params["locator"], request.params["version"])
        )

    def _collections(self, request: Request) -> Response:
        body = _json(request)
        records = body.get("records") if isinstance(body, dict) else None
        if not isinstance(records, list):
            raise SalesforceError(400, "JSON_PARSER_ERROR", "The request needs a records list")
        if len(records) > MAX_COLLECTION:
            message = "record limit reached. cannot submit more than 200 records into this call"
            raise SalesforceError(400, "EXCEEDED_ID_LIMIT", message)
        all_or_none = body.get("allOrNone") is True
        results = self.org.update_collection(records, all_or_none, self.faults.record_fails)
        return Response.json(results)

    def _create_custom_field(self, request: Request) -> Response:
        body = _json(request)
        body = body if isinstance(body, dict) else {}
        object_name, _, name = str(body.get("FullName") or "").partition(".")
        sobject = self.org.sobject(object_name)
        definition = new_custom_field(sobject, name, body.get("Metadata"))
        assert sobject is not None
        self.org.add_custom_field(sobject, definition)
        self._custom_fields += 1
        field_id = make_id(CUSTOM_FIELD_PREFIX, self._custom_fields)
        answer = {"id": field_id, "success": True, "errors": [], "warnings": [], "infos": []}
        return Response.json(answer, 201)

    def _create_job(self, request: Request) -> Response:
        return Response.json(self.bulk.create(_json(request), request.params["version"]))

    def _job_info(self, request: Request) -> Response:
        return Response.json(self.bulk.info(request.params["job"]))

    def _job_state(self, request: Request) -> Response:
        return Response.json(self.bulk.change_state(request.params["job"], _json(request)))

    def _job_results(self, request: Request) -> Response:
        results = self.bulk.results(request.params["job"], request.params["kind"])
        return Response.text(results, content_type="text/csv")

    def _upload(self, request: Request) -> Response:
        self.bulk.upload(request.params["job"], request.body)
        return Response.empty(201)

    def _delete_job(self, request: Request) -> Response:
        self.bulk.delete(request.params["job"])
        return Response.empty(204)


def _json(request: Request) -> Any:
    try:
        return request.json()
    except ValueError:
        message = "Unexpected character: the request body is not valid JSON at [line:1, column:1]"
        raise SalesforceError(400, "JSON_PARSER_ERROR", message) from None


def _errors(status: int, code: str, message: str) -> Response:
    return Response.json([{"message": message, "errorCode": code}], status)


def _not_allowed(request: Request) -> Response:
    message = f"HTTP Method '{request.method}' not allowed. Allowed are GET,HEAD,PATCH,POST,PUT"
    return _errors(405, "METHOD_NOT_ALLOWED", message)


# -- reaching the sandbox with the real SDK ------------------------------------------------------


class SandboxAdapter(HTTPAdapter):
    """A transport adapter that sends Salesforce's https URLs to a sandbox over plain http.

    Mounted for `https://`, it rewrites `https://<anything>.salesforce.com/...` and
    `https://<sandbox host:port>/...` to the sandbox's `http://127.0.0.1:<port>/...`;
    any other URL passes through unchanged.
    """

    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.target = urlsplit(base_url)

    def rewrite(self, url: str) -> str:
        parts = urlsplit(url)
        host = parts.hostname or ""
        ours = host == "salesforce.com" or host.endswith(".salesforce.com")
        if parts.scheme != "https" or not (ours or parts.netloc == self.target.netloc):
            return url
        return urlunsplit((self.target.scheme, self.target.netloc, parts.path, parts.query, ""))

    def send(self, request: PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        request.url = self.rewrite(request.url or "")
        return super().send(request, *args, **kwargs)


def sandbox_session(sandbox: Emulator) -> requests.Session:
    """A `requests.Session` for `Salesforce(..., session=...)` that reaches a running sandbox."""
    session = requests.Session()
    session.mount("https://", SandboxAdapter(sandbox.base_url))
    return session


def connect(
    sandbox: SalesforceSandbox, flow: Literal["oauth", "soap"] = "oauth", **options: Any
) -> Any:
    """A logged-in `simple_salesforce.Salesforce` client of a running sandbox."""
    from simple_salesforce.api import Salesforce

    arguments: dict[str, Any] = {**sandbox.credentials(flow), **options}
    return Salesforce(session=sandbox_session(sandbox), **arguments)
