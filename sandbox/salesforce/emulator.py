"""`SalesforceSandbox`: the routes of Salesforce's REST API subset, its limits and its faults.

Follows Salesforce's REST API Developer Guide (API version 59.0) for the
resources the leadscore connector uses, its status codes and error bodies, the
`Sforce-Limit-Info` header and the daily request limit, closely enough that
`simple-salesforce` runs against it unchanged; `connect()` and
`sandbox_session()` reach it with that SDK, whose https URLs a `SandboxAdapter`
sends to the sandbox's plain-http address. Simplifies: one user in one org with
every permission but field-level security on new custom fields (`security`), no
inserts or deletes through the API but of permission records, no Metadata API.
Sources and details: docs/sandbox.md (Salesforce).
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox.clock import SandboxClock
from sandbox.faults import DAILY_LIMIT, EXPIRED_SESSION, Fault, FaultPlan, Latency
from sandbox.http import Emulator, Handler, Request, Response, Route
from sandbox.limits import ServerDailyLimit
from sandbox.salesforce import auth
from sandbox.salesforce.bulk import BulkIngest
from sandbox.salesforce.bulk_query import BulkQuery
from sandbox.salesforce.describe import describe_basics, describe_sobject
from sandbox.salesforce.errors import RecordError, SalesforceError
from sandbox.salesforce.ids import CUSTOM_FIELD_PREFIX, ORG_PREFIX, USER_PREFIX, make_id
from sandbox.salesforce.org import RECYCLE_BIN_DAYS, Org
from sandbox.salesforce.query import QueryEngine
from sandbox.salesforce.schema import SObjectType, new_custom_field
from sandbox.salesforce.security import SECURITY_TYPES, FieldSecurity
from sandbox.salesforce.simulation import record_activity
from sandbox.salesforce.values import to_json
from sandbox.world.tables import World
from scoring.records import ActivityType

MAX_COLLECTION = 200
DATA = "/services/data/{version}"
USER_PERMISSIONS = frozenset(
    {"ApiEnabled", "CustomizeApplication", "ManageProfilesPermissionsets", "AssignPermissionSets"}
)
"""The user permissions `setup` needs, by their PermissionSet field names (`Permissions...`)."""
CREATE_PERMISSION = {
    "PermissionSet": "ManageProfilesPermissionsets",
    "FieldPermissions": "ManageProfilesPermissionsets",
    "PermissionSetAssignment": "AssignPermissionSets",
}
"""The user permission that creating each security record takes."""
LONG_RUNNING = 20.0
"""Vendor seconds after which an API request counts as long-running."""


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
        login_host: str = "login.salesforce.com",
        certificate: bytes | None = None,
        session_seconds: float = 7200.0,
        long_running_limit: int = 25,
        commit_lag: float = 0.0,
        permissions: frozenset[str] | None = None,
    ) -> None:
        """`login_host` is test.salesforce.com for a Salesforce sandbox org; `certificate`
        the PEM certificate of the connected app (JWT bearer flow); `session_seconds` how
        long a session lives without a call, in the org's time; `long_running_limit` how
        many API requests may have run 20 seconds or more at once (5 in Developer orgs);
        `commit_lag` vendor seconds between a write's `SystemModstamp` and its commit,
        before which no query sees it (`org.commit_lag` changes it later); `permissions`
        the user permissions of the API user (`USER_PERMISSIONS`), None: all of them."""
        super().__init__(faults=faults, latency=latency, clock=clock)
        self.budget = ServerDailyLimit(daily_limit, used)
        self.long_running_limit = long_running_limit
        self.in_flight: dict[int, float] = {}
        """The API requests being served: id(request) -> the vendor time they arrived."""
        self.api_version = api_version
        org_id, self.user_id = make_id(ORG_PREFIX, 1), make_id(USER_PREFIX, 1)
        start = world.now if world is not None else time.time()
        self.login = auth.Login(
            username, password, security_token, consumer_key, consumer_secret,
            org_id, self.user_id, instance, lambda: start + self.clock.now(),
            session_seconds, login_host, certificate,
        )  # fmt: skip
        self.org = Org(world, lambda: datetime.fromtimestamp(start + self.clock.now(), UTC))
        self.org.commit_lag = commit_lag
        self.queries = QueryEngine(self.org)
        jobs = itertools.count(1)
        # the plan in force when a record or a job is processed, not the one at start
        self.bulk = BulkIngest(self.org, lambda: self.faults.record_fails(), self.user_id, jobs)
        self.bulk_queries = BulkQuery(self.queries, self.user_id, jobs)
        self.bulk_queries.job_fails = lambda: self.faults.job_fails()
        self.security = FieldSecurity(self.org, self.user_id)
        self.permissions = USER_PERMISSIONS if permissions is None else permissions
        self._custom_fields = 0
        self.org_lock = threading.RLock()
        """Held while a handler reads or writes the org."""
        self._add_routes()

    def credentials(self, flow: auth.Flow = "oauth") -> dict[str, str]:
        """Keyword arguments for `simple_salesforce.Salesforce` for one login flow."""
        return self.login.credentials(flow)

    def delete(self, record_id: str) -> None:
        """Delete a record as a user would: to the Recycle Bin, at the org's time."""
        with self.org_lock:
            self.org.delete(record_id)

    def purge(self, record_id: str) -> None:
        """Delete a record and empty it from the Recycle Bin at once, as `emptyRecycleBin()`
        or a hard delete does: no query or queryAll answers it again."""
        with self.org_lock:
            if not self.org.is_deleted(record_id):
                self.org.delete(record_id)
            located = self.org.locate(record_id)
            assert located is not None
            table, row = located
            table.deleted[row] = self.org.now() - timedelta(days=RECYCLE_BIN_DAYS + 1)

    def merge(self, master_id: str, *duplicate_ids: str) -> None:
        """Merge records into a master as a user would, at the org's time."""
        with self.org_lock:
            self.org.merge(master_id, list(duplicate_ids))

    def add_activity(self, person: int, kind: ActivityType | str, at: datetime | None = None, *,
                     campaign: int = -1, amount: float | None = None) -> str:  # fmt: skip
        """Record what a world person just did (a meeting, a call, a campaign response, a
        deal), at `at` or now, as Salesforce would; the id of the record made or changed."""
        with self.org_lock:
            moment = at or self.org.stamp()
            return record_activity(self.org, person, ActivityType(kind), moment, campaign, amount)

    # -- the emulator hooks ---------------------------------------------------------------

    def admit(self, request: Request) -> Response | None:
        if not request.path.startswith("/services/data/v"):
            return None
        token = request.headers.get("authorization", "").partition(" ")[2]
        if not self.login.touch(token):
            return _errors(401, "INVALID_SESSION_ID", "Session expired or invalid")
        if self.long_running() >= self.long_running_limit:
            message = "ConcurrentRequests (Concurrent API Requests) Limit exceeded."
            return _errors(403, "REQUEST_LIMIT_EXCEEDED", message)
        if not self.budget.try_spend():
            return _errors(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        return None

    def handle(self, request: Request) -> Response:
        """Serve a request, known as in flight while it runs (for the concurrency limit)."""
        if not request.path.startswith("/services/data/v"):
            return super().handle(request)
        with self.lock:
            self.in_flight[id(request)] = self.clock.now()
        try:
            return super().handle(request)
        finally:
            with self.lock:
                del self.in_flight[id(request)]

    def long_running(self) -> int:
        """How many API requests in flight have run for 20 vendor seconds or more."""
        now = self.clock.now()
        with self.lock:
            return sum(1 for start in self.in_flight.values() if now - start >= LONG_RUNNING)

    def decorate(self, request: Request, response: Response) -> None:
        if request.path.startswith("/services/data"):
            usage = f"api-usage={self.budget.used}/{self.budget.limit}"
            response.headers["Sforce-Limit-Info"] = usage

    def fault_response(self, request: Request, fault: Fault) -> Response:
        """Salesforce has no 429: refused for rate is its concurrent-request limit's 403, for
        the day its daily allocation's 403; a session that ended answers 401 (and is ended).
        Outside the REST API a login answers a SOAP fault, the OAuth endpoints a server
        error's status with a page of text, as a server down for maintenance would."""
        if request.path.startswith("/services/Soap/"):
            return auth.fault_response("SERVER_UNAVAILABLE", "Server temporarily unavailable")
        api = request.path.startswith("/services/data/v")
        if not api:
            status = 500 if fault.status == 500 else 503
            return Response.text("Service temporarily unavailable", status, "text/html")
        if api and fault.status == 429:
            message = "ConcurrentRequests (Concurrent API Requests) Limit exceeded."
            return _errors(403, "REQUEST_LIMIT_EXCEEDED", message)
        if api and fault.status == DAILY_LIMIT:
            return _errors(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        if api and fault.status == EXPIRED_SESSION:
            self.login.end(request.headers.get("authorization", "").partition(" ")[2])
            return _errors(401, "INVALID_SESSION_ID", "Session expired or invalid")
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
        self._route("GET", "/services/oauth2/userinfo/?", "oauth.userinfo", self.login.userinfo)
        self._route("POST", "/services/Soap/u/{soap_version}", "soap.login", self.login.soap_login)
        self._route("GET", "/services/data/?", "versions", self._versions)
        self._route("GET", DATA + "/?", "resources", self._resources)
        self._route("GET", DATA + "/limits/?", "limits", self._limits)
        self._route("GET", DATA + "/sobjects/?", "describe.global", self._describe_global)
        for name in SECURITY_TYPES:
            self._route("POST", f"{DATA}/sobjects/{name}/?", "sobject.create", self._create)
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
        self._bulk_query_routes(DATA + "/jobs/query")

    def _bulk_query_routes(self, jobs: str) -> None:
        job, queries = jobs + "/{job}", self.bulk_queries

        def create(request: Request) -> Response:
            return Response.json(queries.create(_json(request), request.params["version"]))

        def results(request: Request) -> Response:
            text, headers = queries.results(
                request.params["job"], request.arg("locator"), request.arg("maxRecords"),
                request.params["version"],
            )  # fmt: skip
            answer = Response.text(text, content_type="text/csv")
            answer.headers.update(headers)
            return answer

        def delete(request: Request) -> Response:
            queries.delete(request.params["job"])
            return Response.empty(204)

        self._route("POST", jobs + "/?", "bulk2.query.create", create)
        self._route("GET", jobs + "/?", "bulk2.query.list", lambda r: Response.json(queries.all()))
        self._route("GET", job + "/?", "bulk2.query.info",
                    lambda r: Response.json(queries.info(r.params["job"])))  # fmt: skip
        self._route("PATCH", job + "/?", "bulk2.query.abort",
                    lambda r: Response.json(queries.abort(r.params["job"], _json(r))))  # fmt: skip
        self._route("DELETE", job + "/?", "bulk2.query.delete", delete)
        self._route("GET", job + "/results/?", "bulk2.query.results", results)

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
                with self.org_lock:
                    self.org.settle()  # writes whose commit lag has passed
                    self.bulk.advance()  # Bulk API 2.0 jobs move on with the clock
                    self.bulk_queries.advance()
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
        located = self.org.locate(record["Id"])
        if located is not None and not self.org.visible(*located, include_deleted=False):
            deleted = located[1] in located[0].deleted
            code = "ENTITY_IS_DELETED" if deleted else "NOT_FOUND"
            message = "entity is deleted" if deleted else "The requested resource does not exist"
            raise SalesforceError(404, code, message)
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
        include_deleted = "/queryAll" in request.path
        answer = self.queries.run(text, request.params["version"], page, include_deleted)
        return Response.json(answer)

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

    def _require(self, permission: str) -> None:
        """Refuse a setup call the API user lacks the user permission for."""
        if permission not in self.permissions:
            raise SalesforceError(
                400, "INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights on object id"
            )

    def _create_custom_field(self, request: Request) -> Response:
        self._require("CustomizeApplication")
        body = _json(request)
        body = body if isinstance(body, dict) else {}
        object_name, _, name = str(body.get("FullName") or "").partition(".")
        sobject = self.org.sobject(object_name)
        self.security.check_new(sobject, name)
        definition = new_custom_field(sobject, name, body.get("Metadata"))
        assert sobject is not None
        self.security.hold(sobject, definition)  # hidden until field permissions grant it
        self._custom_fields += 1
        field_id = make_id(CUSTOM_FIELD_PREFIX, self._custom_fields)
        answer = {"id": field_id, "success": True, "errors": [], "warnings": [], "infos": []}
        return Response.json(answer, 201)

    def _create(self, request: Request) -> Response:
        name = request.path.rstrip("/").rpartition("/")[2]
        self._require(CREATE_PERMISSION[name])
        return Response.json(self.security.create(name, _json(request)), 201)

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
