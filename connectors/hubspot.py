"""The HubSpot connector: contacts, email events, engagements and deals in; scores out.

Talks to HubSpot through `hubspot-api-client` (imported here only, lazily) for
the CRM APIs, and through one `requests` session for the legacy marketing
email events API, which the SDK has no typed client for. urllib3's own retries
inside the SDK are switched off: `connectors.policy.CallPolicy` owns every
retry, paces calls to the portal's 10-second window and search's per-second
limit, and counts them.

Streams and their cursors (JSON text the sync layer stores):
- `contacts`: by search, walking `hs_object_id` upwards 200 at a time (twice
  the list endpoint's page, and the search's 10,000-result cap never
  applies); with a cursor, only those with `lastmodifieddate` from the cursor
  less a look-back (HubSpot stamps a record a moment before it is
  searchable). The next cursor is the newest `lastmodifieddate` in the portal
  when the pull starts (one search), so changes made during a long walk are
  found by the next pull.
- `email_events`: by `startTimestamp`, 1,000 per page.
- `meetings`, `calls`, `emails`: the list endpoint from the id after the last
  one seen (HubSpot's ids grow).
- `deals`: listed whole on each pull, because a deal changes stage in place.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from connectors.errors import (
    ApiError,
    BudgetExhausted,
    RejectedError,
    TransportError,
    error_for_status,
)
from connectors.hubspot_records import (
    CONTACT_PROPERTIES,
    SYSTEM,
    contact_of,
    counter_activities,
    deal_activities,
    email_event_activity,
    engagement_activities,
    epoch_ms,
    parse_time,
)
from connectors.policy import CallPolicy, Clock, DailyBudget, hubspot_daily_budget, hubspot_limits
from connectors.protocol import FieldSpec, Page, SetupReport, Write, WriteFailure, WriteOutcome
from scoring.records import Activity, Contact

DEFAULT_HOST = "https://api.hubapi.com"
LIST_PAGE, SEARCH_PAGE, EVENTS_PAGE, BATCH = 100, 200, 1000, 100
LOOKBACK_MS = 10 * 60 * 1000
TIMEOUT = 30.0
GROUP = "leadscore"
ENGAGEMENT_PROPERTIES = {
    "meetings": ["hs_timestamp", "hs_meeting_title"],
    "calls": ["hs_timestamp", "hs_call_title"],
    "emails": ["hs_timestamp", "hs_email_subject"],
    "deals": ["dealstage", "amount", "closedate", "createdate"],
}
PROPERTY_TYPES = {
    "number": ("number", "number"),
    "enumeration": ("enumeration", "select"),
    "text": ("string", "textarea"),
    "datetime": ("datetime", "date"),
}


def translate(operation: str) -> Callable[[Exception], ApiError | None]:
    """Turn the SDK's, urllib3's and requests' failures into `ApiError`s, without secrets."""

    def to_error(exc: Exception) -> ApiError | None:
        import requests
        import urllib3

        if isinstance(exc, ApiError):
            return exc
        if isinstance(exc, urllib3.exceptions.HTTPError | requests.RequestException):
            if isinstance(exc, requests.HTTPError) and exc.response is not None:
                return http_error(operation, exc.response.status_code, exc.response.text, {})
            # urllib3 wraps the cause (refused, reset, timed out) in MaxRetryError.
            cause = getattr(exc, "reason", None) or exc
            return TransportError(SYSTEM, operation, f"no answer ({type(cause).__name__})")
        status = getattr(exc, "status", None)
        if type(exc).__name__.endswith("Exception") and type(exc).__module__.startswith("hubspot"):
            body = getattr(exc, "body", None)
            headers = getattr(exc, "headers", None) or {}
            return http_error(operation, status or None, body, headers)
        return None

    return to_error


def http_error(
    operation: str, status: int | None, body: Any, headers: Mapping[str, str]
) -> ApiError:
    """An `ApiError` from a HubSpot error answer: its message and category, its Retry-After."""
    message, policy = "no answer", None
    try:
        data = json.loads(body) if body else {}
        message = str(data.get("message") or data.get("category") or message)
        policy = data.get("policyName")
        if policy:
            message = f"{message} ({policy})"
    except (ValueError, AttributeError, TypeError):
        message = f"HTTP {status}"
    retry_after = None
    raw = {k.lower(): v for k, v in dict(headers).items()}.get("retry-after")
    if raw is not None:
        try:
            retry_after = float(raw)
        except ValueError:
            retry_after = None
    # The daily limit resets at midnight: waiting for it is not a retry.
    cls = BudgetExhausted if policy == "DAILY" else error_for_status(status)
    return cls(SYSTEM, operation, message, status=status, retry_after=retry_after)


def raw_json(answer: Any, budget: DailyBudget | None = None) -> dict[str, Any]:
    """The JSON of an SDK call made with `_preload_content=False` (skipping its model classes,
    which cost more time than the network on large pages); HubSpot's count of the day's
    remaining requests goes to `budget`, since other apps of the portal spend it too."""
    try:
        data: dict[str, Any] = json.loads(answer.data)
        remaining = answer.headers.get("X-HubSpot-RateLimit-Daily-Remaining")
    finally:
        answer.release_conn()
    if budget is not None and remaining is not None and str(remaining).isdigit():
        budget.observe(int(remaining))
    return data


def next_after(body: Mapping[str, Any]) -> str | None:
    after = ((body.get("paging") or {}).get("next") or {}).get("after")
    return None if after is None else str(after)


def missing_property(refused: ApiError) -> bool:
    """Whether HubSpot refused a write for a property the portal does not have."""
    text = refused.detail
    return "PROPERTY_DOESNT_EXIST" in text or "does not exist" in text


class HubSpotConnector:
    """HubSpot through its official SDK, under one shared call policy."""

    system: str = SYSTEM
    streams: tuple[str, ...] = ("contacts", "email_events", "meetings", "calls", "emails", "deals")
    write_batch_size: int = BATCH
    stage_field: str | None = "lifecyclestage"

    def __init__(
        self,
        access_token: str,
        *,
        host: str | None = None,
        tier: str = "professional",
        properties: Sequence[str] = (),
        policy: CallPolicy | None = None,
        clock: Clock | None = None,
        lookback_ms: int = LOOKBACK_MS,
    ) -> None:
        from hubspot import HubSpot
        from urllib3.util.retry import Retry

        self.host = (host or DEFAULT_HOST).rstrip("/")
        # One layer owns retries: the SDK's urllib3 would otherwise retry 429s on its own.
        self._client = HubSpot(
            access_token=access_token, host=self.host, retry=Retry(total=0, raise_on_status=False)
        )
        # The SDK builds a new API client (and connection pool) on every attribute access.
        crm = self._client.crm
        self._contacts_basic = crm.contacts.basic_api
        self._contacts_search = crm.contacts.search_api
        self._contacts_batch = crm.contacts.batch_api
        self._properties = crm.properties.core_api
        self._groups = crm.properties.groups_api
        self._objects = {
            "meetings": crm.objects.meetings.basic_api,
            "calls": crm.objects.calls.basic_api,
            "emails": crm.objects.emails.basic_api,
            "deals": crm.deals.basic_api,
        }
        import requests

        self._events = requests.Session()
        self._events.headers["Authorization"] = f"Bearer {access_token}"
        self.policy = policy or CallPolicy(
            SYSTEM,
            limits=hubspot_limits(tier, clock),
            budget=hubspot_daily_budget(tier),
            clock=clock,
        )
        self.properties = tuple(dict.fromkeys([*CONTACT_PROPERTIES, *properties]))
        self.lookback_ms = lookback_ms

    def __repr__(self) -> str:
        return f"HubSpotConnector(host={self.host!r})"

    def _call(self, operation: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """`fn(*args, **kwargs)` under the call policy: paced, counted, retried."""
        return self.policy.call(
            operation, functools.partial(fn, *args, **kwargs), translate(operation)
        )

    def calls(self) -> Mapping[str, int]:
        return self.policy.calls()

    def _json(self, answer: Any) -> dict[str, Any]:
        return raw_json(answer, self.policy.budget)

    # -- pull -----------------------------------------------------------------------------------

    def pull(self, stream: str, cursor: str | None) -> Iterator[Page]:
        state = json.loads(cursor) if cursor else None
        if stream == "contacts":
            return self._pull_contacts(state)
        if stream == "email_events":
            return self._pull_email_events(state)
        if stream in ("meetings", "calls", "emails", "deals"):
            return self._pull_objects(stream, state)
        raise ValueError(f"HubSpot has no stream {stream!r}; it has {', '.join(self.streams)}")

    @staticmethod
    def _contact_page(results: Sequence[Any], cursor: str | None) -> Page:
        contacts: list[Contact] = []
        activities: list[Activity] = []
        for item in results:
            properties = dict(item.get("properties") or {})
            record = str(item["id"])
            contacts.append(contact_of(record, properties))
            activities.extend(counter_activities(record, properties))
        return Page("contacts", contacts, activities, cursor)

    def _newest_modification(self) -> int | None:
        """The latest `lastmodifieddate` in the portal now, in HubSpot's own clock.

        Taken before a pull walks the contacts, it is the next cursor: a contact
        changed while the walk runs is stamped later, so the next pull finds it even
        when the walk had already passed it.
        """
        from hubspot.crm.contacts import PublicObjectSearchRequest

        request = PublicObjectSearchRequest(
            sorts=[{"propertyName": "lastmodifieddate", "direction": "DESCENDING"}],
            properties=["lastmodifieddate"],
            limit=1,
        )
        answer = self._call(
            "contacts.search",
            self._contacts_search.do_search,
            public_object_search_request=request,
            _request_timeout=TIMEOUT,
            _preload_content=False,
        )
        for item in self._json(answer).get("results") or []:
            moment = parse_time((item.get("properties") or {}).get("lastmodifieddate"))
            if moment is not None:
                return epoch_ms(moment)
        return None

    def _pull_contacts(self, state: Mapping[str, Any] | None) -> Iterator[Page]:
        """Contacts by search, walking `hs_object_id` upwards: the fewest calls (200 a page)
        and no query ever pages past the 10,000-result cap. With a cursor, only those
        modified since it (less the look-back)."""
        from hubspot.crm.contacts import PublicObjectSearchRequest

        since = state.get("modified_since") if state else None
        modified = []
        if since is not None:
            start = int(since) - self.lookback_ms
            modified = [{"propertyName": "lastmodifieddate", "operator": "GTE", "value": start}]
        newest = self._newest_modification()
        following = newest if newest is not None else since
        cursor = None if following is None else json.dumps({"modified_since": following})
        last_id = 0
        while True:
            after_id = {"propertyName": "hs_object_id", "operator": "GT", "value": last_id}
            request = PublicObjectSearchRequest(
                filter_groups=[{"filters": [*modified, after_id]}],
                sorts=[{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                properties=list(self.properties),
                limit=SEARCH_PAGE,
            )
            answer = self._call(
                "contacts.search",
                self._contacts_search.do_search,
                public_object_search_request=request,
                _request_timeout=TIMEOUT,
                _preload_content=False,
            )
            results = list(self._json(answer).get("results") or [])
            yield self._contact_page(results, cursor)
            if len(results) < SEARCH_PAGE:
                return
            last_id = int(results[-1]["id"])

    def _pull_email_events(self, state: Mapping[str, Any] | None) -> Iterator[Page]:
        since = int(state["created_since"]) if state else None
        params: dict[str, Any] = {"limit": EVENTS_PAGE}
        if since is not None:
            params["startTimestamp"] = since - self.lookback_ms
        newest = since
        while True:
            data = self._call("email.events", self._get_events, dict(params))
            activities: list[Activity] = []
            for event in data.get("events", []):
                activity = email_event_activity(event)
                if activity is not None:
                    activities.append(activity)
                created = event.get("created")
                if isinstance(created, int | float):
                    newest = int(created) if newest is None else max(newest, int(created))
            cursor = json.dumps({"created_since": newest}) if newest is not None else None
            yield Page("email_events", (), activities, cursor)
            if not data.get("hasMore"):
                return
            params["offset"] = data["offset"]

    def _get_events(self, params: Mapping[str, Any]) -> Any:
        answer = self._events.get(
            f"{self.host}/email/public/v1/events", params=params, timeout=TIMEOUT
        )
        if answer.status_code != 200:
            raise http_error("email.events", answer.status_code, answer.text, answer.headers)
        remaining = answer.headers.get("X-HubSpot-RateLimit-Daily-Remaining", "")
        if self.policy.budget is not None and remaining.isdigit():
            self.policy.budget.observe(int(remaining))
        return answer.json()

    def _pull_objects(self, kind: str, state: Mapping[str, Any] | None) -> Iterator[Page]:
        # Deals change stage in place, so they are read whole each time.
        after: str | None = None if kind == "deals" or not state else state.get("after")
        api = self._objects[kind]
        while True:
            answer = self._call(
                f"{kind}.list",
                api.get_page,
                limit=LIST_PAGE,
                after=after,
                properties=ENGAGEMENT_PROPERTIES[kind],
                associations=["contacts"],
                _request_timeout=TIMEOUT,
                _preload_content=False,
            )
            body = self._json(answer)
            results = list(body.get("results") or [])
            activities = [a for item in results for a in self._object_activities(kind, item)]
            following = next_after(body)
            resume = following or (str(int(results[-1]["id"]) + 1) if results else after)
            cursor = None if kind == "deals" or resume is None else json.dumps({"after": resume})
            yield Page(kind, (), activities, cursor)
            if following is None:
                return
            after = following

    @staticmethod
    def _object_activities(kind: str, item: Mapping[str, Any]) -> Iterator[Activity]:
        """A meeting, call, email or deal (as HubSpot's JSON) as activities of its contacts."""
        properties = dict(item.get("properties") or {})
        links = (item.get("associations") or {}).get("contacts") or {}
        contacts = [str(r["id"]) for r in links.get("results") or []]
        if kind == "deals":
            return deal_activities(str(item["id"]), properties, contacts)
        return engagement_activities(kind, str(item["id"]), properties, contacts)

    # -- one contact, for triggers --------------------------------------------------------------

    def fetch(self, key: str) -> Page:
        """One contact by id or email, with its email events, engagements and deals."""
        id_property = "email" if "@" in key else None
        contact = self._json(
            self._call(
                "contacts.get",
                self._contacts_basic.get_by_id,
                key,
                properties=list(self.properties),
                associations=["meetings", "calls", "emails", "deals"],
                id_property=id_property,
                _request_timeout=TIMEOUT,
                _preload_content=False,
            )
        )
        record_id = str(contact["id"])
        properties = dict(contact.get("properties") or {})
        found = contact_of(record_id, properties)
        activities = list(counter_activities(record_id, properties))
        if found.email:
            params = {"recipient": found.email, "limit": EVENTS_PAGE}
            while True:
                data = self._call("email.events", self._get_events, dict(params))
                activities += [
                    a for a in map(email_event_activity, data.get("events", [])) if a is not None
                ]
                if not data.get("hasMore"):
                    break
                params["offset"] = data["offset"]
        links = contact.get("associations") or {}
        for kind in ("meetings", "calls", "emails", "deals"):
            for ref in (links.get(kind) or {}).get("results") or []:
                item = self._json(
                    self._call(
                        f"{kind}.get",
                        self._objects[kind].get_by_id,
                        ref["id"],
                        properties=ENGAGEMENT_PROPERTIES[kind],
                        associations=["contacts"],
                        _request_timeout=TIMEOUT,
                        _preload_content=False,
                    )
                )
                activities += [
                    a for a in self._object_activities(kind, item) if a.contact_id == record_id
                ]
        return Page("contacts", [found], activities)

    # -- set-up ---------------------------------------------------------------------------------

    def setup(self, fields: Sequence[FieldSpec], *, dry_run: bool = False) -> SetupReport:
        """Create the leadscore property group and the missing contact properties, and add
        the options an existing enumeration lacks (a stage the ladder gained, say).

        An existing property of another type than a field needs raises `RejectedError`
        before anything is created, dry run or not: every write into it would fail, or
        store our values in a field that means something else.
        """
        from hubspot.crm.properties import PropertyCreate, PropertyGroupCreate

        listed = self._call(
            "properties.list",
            lambda: self._properties.get_all("contacts", _request_timeout=TIMEOUT),
        )
        present = {p.name: p for p in listed.results or []}
        conflicts = self._type_conflicts(fields, present)
        if conflicts:
            raise RejectedError(SYSTEM, "properties.update", conflicts)
        report = SetupReport()
        groups = self._call(
            "properties.groups.list",
            lambda: self._groups.get_all("contacts", _request_timeout=TIMEOUT),
        )
        if GROUP in {g.name for g in groups.results or []}:
            report.existing.append(f"group {GROUP}")
        else:
            report.created.append(f"group {GROUP}")
            if not dry_run:
                group = PropertyGroupCreate(name=GROUP, label="Lead score", display_order=-1)
                self._call(
                    "properties.groups.create",
                    lambda: self._groups.create("contacts", group, _request_timeout=TIMEOUT),
                )
        for spec in fields:
            found = present.get(spec.name)
            if found is not None:
                held = [o.value for o in found.options or []]
                missing = [v for v in spec.options if v not in held]
                if spec.kind != "enumeration" or not missing:
                    report.existing.append(spec.name)
                    continue
                report.updated.append(spec.name)
                if not dry_run:
                    self._add_options(spec.name, found.options or [], missing)
                continue
            report.created.append(spec.name)
            if dry_run:
                continue
            kind, field_type = PROPERTY_TYPES[spec.kind]
            options = [
                {"label": value, "value": value, "displayOrder": i, "hidden": False}
                for i, value in enumerate(spec.options)
            ]
            create = PropertyCreate(
                name=spec.name,
                label=spec.label,
                type=kind,
                field_type=field_type,
                group_name=GROUP,
                description=spec.description,
                options=options or None,
            )
            self._call(
                "properties.create",
                self._properties.create,
                "contacts",
                create,
                _request_timeout=TIMEOUT,
            )
        return report

    def _add_options(self, name: str, held: Sequence[Any], missing: Sequence[str]) -> None:
        """Append `missing` values to an enumeration property's options.

        HubSpot replaces the whole options list on update, so the options it holds are
        sent again as they are (labels and order a HubSpot user may have changed), first.
        """
        from hubspot.crm.properties import OptionInput, PropertyUpdate

        kept = [
            OptionInput(
                label=o.label,
                value=o.value,
                display_order=o.display_order,
                hidden=bool(o.hidden),
                description=o.description,
            )
            for o in held
        ]
        start = max((o.display_order for o in held if o.display_order is not None), default=-1)
        added = [
            OptionInput(label=value, value=value, display_order=start + 1 + i, hidden=False)
            for i, value in enumerate(missing)
        ]
        self._call(
            "properties.update",
            self._properties.update,
            "contacts",
            name,
            property_update=PropertyUpdate(options=kept + added),
            _request_timeout=TIMEOUT,
        )

    @staticmethod
    def _type_conflicts(fields: Sequence[FieldSpec], present: Mapping[str, Any]) -> str:
        """What is wrong with the existing properties of our fields' names that have another
        type than the field needs ("" when nothing is)."""
        problems = []
        for spec in fields:
            found = present.get(spec.name)
            needed = PROPERTY_TYPES[spec.kind][0]
            if found is not None and found.type != needed:
                problems.append(
                    f"contact property {spec.name} has type {found.type}; leadscore needs type "
                    f"{needed}"
                )
        if not problems:
            return ""
        hint = "rename or delete it in HubSpot, or use another field prefix"
        return f"{'; '.join(problems)}: {hint}"

    def stage_values(self) -> list[str]:
        """The portal's own lifecycle stages, in their order."""
        prop = self._call(
            "properties.get",
            lambda: self._properties.get_by_name(
                "contacts", "lifecyclestage", _request_timeout=TIMEOUT
            ),
        )
        ordered = sorted(prop.options or [], key=lambda o: o.display_order or 0)
        return [o.value for o in ordered]

    # -- write ----------------------------------------------------------------------------------

    def write(self, writes: Sequence[Write]) -> WriteOutcome:
        """One batch update, halved while HubSpot refuses it whole; records HubSpot rejects
        inside a 207 are reported one by one.

        HubSpot refuses a whole batch (400) for one unknown property or invalid value
        without saying which record carries it. A refused batch is split in halves and
        each half written on its own, down to single records, so that only the records
        bad on their own fail and every good one lands: about 2 * log2(n) more calls per
        bad record. Retryable failures that outlast the call policy's retries propagate.
        """
        if len(writes) > BATCH:
            raise ValueError(f"at most {BATCH} records per HubSpot batch update")
        outcome = WriteOutcome()
        self._write_halving(list(writes), outcome, None)
        return outcome

    def _write_halving(
        self, writes: Sequence[Write], outcome: WriteOutcome, refused: RejectedError | None
    ) -> bool:
        """Write `writes` into `outcome` as one batch, or as halves if HubSpot refuses it.

        `refused` is HubSpot's refusal of these very records when it is already known,
        so no call is spent to hear it again. Answers whether the batch was taken whole
        (its records may still fail one by one inside a 207).
        """
        if not writes:
            return True
        if refused is None:
            try:
                taken = self._batch_update(writes)
            except RejectedError as error:
                refused = error
            else:
                outcome.written.extend(taken.written)
                outcome.failed.extend(taken.failed)
                return True
        if missing_property(refused):
            # Every record names the property, so halving would only spend calls: the fix
            # is `leadscore setup`, after which these writes may be tried again.
            outcome.failed.extend(WriteFailure(w.record_id, refused.detail, True) for w in writes)
            return False
        if len(writes) == 1:
            outcome.failed.append(WriteFailure(writes[0].record_id, refused.detail, False))
            return False
        middle = len(writes) // 2
        first, second = writes[:middle], writes[middle:]
        # HubSpot judges a batch by its records' values alone: when the first half is
        # taken, what it refused is in the second half, and its message is about those.
        first_taken = self._write_halving(first, outcome, None)
        self._write_halving(second, outcome, refused if first_taken else None)
        return False

    def _batch_update(self, writes: Sequence[Write]) -> WriteOutcome:
        """One batch update call; raises `RejectedError` when HubSpot refuses the batch whole."""
        from hubspot.crm.contacts import (
            BatchInputSimplePublicObjectBatchInput,
            SimplePublicObjectBatchInput,
        )

        body = BatchInputSimplePublicObjectBatchInput(
            inputs=[
                SimplePublicObjectBatchInput(id=w.record_id, properties=dict(w.values))
                for w in writes
            ]
        )
        ids = [w.record_id for w in writes]
        answer = self._call(
            "contacts.batch_update",
            lambda: self._contacts_batch.update(
                batch_input_simple_public_object_batch_input=body, _request_timeout=TIMEOUT
            ),
        )
        failed: dict[str, WriteFailure] = {}
        for error in getattr(answer, "errors", None) or []:
            context = error.context or {}
            retryable = (error.category or "") not in ("VALIDATION_ERROR", "OBJECT_NOT_FOUND")
            for record in context.get("ids", []) or []:
                failed[str(record)] = WriteFailure(str(record), error.message or "", retryable)
        landed = {str(r.id) for r in answer.results or []}
        for record in ids:
            if record not in landed and record not in failed:
                failed[record] = WriteFailure(record, "not in HubSpot's answer", True)
        return WriteOutcome(
            [i for i in ids if i in landed and i not in failed], list(failed.values())
        )
