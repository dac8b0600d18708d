"""HubSpot's workflow "Send a webhook" action: `POST /hubspot` (`GET /hubspot?hs_object_id=51`).

A contact-based workflow calls this endpoint for the contact going through it;
leadscore rescores that contact (fetch, score, write, as a sync would) and
answers its score as JSON, so a later branch may read it:

    200 {"status": "done", "record": "51", "score": 73, "grade": "B", "stage": ...,
         "disqualified": false, "reasons": "...", "points": 73, "written": 1, "failed": 0}
    200 {"status": "done", "record": "51", "excluded": true, "written": 1, "failed": 0}
                                                   the rules exclude the contact: no score,
                                                   its leadscore properties cleared
    202 {"status": "queued", "record": "51"}       a sync is running: it writes the score
    4xx/5xx {"error": "..."}                       429 and 503 with Retry-After in milliseconds

**The body** (https://developers.hubspot.com/docs/methods/workflows/webhook_information,
VENDOR-FACTS §1.9) is one of:
- *Customize request body*: flat JSON of the properties chosen, e.g.
  `{"hs_object_id": "51", "email": "..."}`; the id is read from `hs_object_id`,
  `objectId`, `vid`, `id`, `contact_id` or `record_id`, a string or a number.
- *Include all contact properties*: the legacy v1 contact (`vid`, `canonical-vid`,
  `portal-id`, `properties: {name: {value, versions}}`; shape from third-party
  connectors, UNVERIFIED in a workflow capture), read by `canonical-vid` first (the
  contact a merged one lives on), or `objectId` with `properties: {name: {value}}`.
- A GET (the action may send one, with no body): the id from a query parameter of
  the same names.

An email alone is refused (422): a rescore names a record by its id
(`sync.trigger.rescore_record`), so the action must include `hs_object_id`.

HubSpot does not retry a 4xx but a 429, which it retries after `Retry-After`
*milliseconds* ("Retry-After is recorded in miliseconds",
https://knowledge.hubspot.com/workflows/how-do-i-use-webhooks-with-hubspot-workflows);
an older doc of workflow *extensions* said seconds. `refused` writes milliseconds.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sync.web.endpoint import Ask, Context, Outcome, refused_first, score_payload
from sync.web.hubspot_auth import SIGNATURE_V3, authenticate_hubspot, replay_key
from sync.web.messages import Refused, WebhookRequest, WebhookResponse, json_response

if TYPE_CHECKING:
    from connectors.hubspot.settings import HubSpotSettings
    from sync.settings import Settings

HUBSPOT_ID_KEYS = ("hs_object_id", "objectId", "vid", "id", "contact_id", "record_id")
"""Where a customised body (or a GET's query) gives the contact's id, in this order."""
V1_ID_KEYS = ("canonical-vid", "vid", "objectId")
"""Where the whole-contact payload gives it: the canonical id first."""
BODY_EMAIL_KEYS = ("email", "Email", "EMAIL")
LARGEST_HUBSPOT_ID = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}")


def hubspot_section(settings: Settings) -> HubSpotSettings | None:
    section: HubSpotSettings | None = getattr(settings, "hubspot", None)
    return section


def hubspot_id(value: Any, where: str) -> str:
    """A HubSpot record id from a JSON value (a string, a number, `{"value": ...}`):
    a positive integer as a canonical string, or 422 saying where it was read."""
    if isinstance(value, Mapping) and "value" in value:
        value = value["value"]
    if isinstance(value, bool):
        raise Refused(422, f"{where} is not a HubSpot record id (a positive integer)")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        number = int(value.strip())
    else:
        raise Refused(422, f"{where} is not a HubSpot record id (a positive integer)")
    if not 0 < number <= LARGEST_HUBSPOT_ID:
        raise Refused(422, f"{where} is not a HubSpot record id (a positive integer)")
    return str(number)


def _present(value: Any) -> bool:
    if isinstance(value, Mapping):
        value = value.get("value")
    return value is not None and value != ""


def record_named(fields: Mapping[str, Any]) -> str:
    """The contact id a body's object (or a query) names; 422 when it names none."""
    properties = fields.get("properties")
    whole = isinstance(properties, Mapping)
    for key in V1_ID_KEYS if whole else ():
        if _present(fields.get(key)):
            return hubspot_id(fields[key], key)
    for key in HUBSPOT_ID_KEYS:
        if _present(fields.get(key)):
            return hubspot_id(fields[key], key)
    if whole:
        assert isinstance(properties, Mapping)
        if _present(properties.get("hs_object_id")):
            return hubspot_id(properties["hs_object_id"], "properties.hs_object_id")
    emails = [fields, properties] if whole else [fields]
    if any(isinstance(m, Mapping) and _present(m.get(k)) for m in emails for k in BODY_EMAIL_KEYS):
        raise Refused(
            422,
            "leadscore rescores a contact by its id, not its email: "
            "include hs_object_id in the webhook's request body",
        )
    raise Refused(422, "no contact id: include hs_object_id in the webhook's request body")


def hubspot_body(body: bytes) -> Mapping[str, Any]:
    """The body's JSON object, or 400 with a short reason."""
    if not body.strip():
        raise Refused(400, "the body is empty: expected the contact as JSON")
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise Refused(400, "the body is not JSON") from None
    if not isinstance(parsed, dict):
        raise Refused(400, "expected a JSON object")
    return parsed


def record_asked(request: WebhookRequest) -> str:
    """The contact id a request names: from the body of a POST, the query of a GET."""
    if request.method == "GET":
        return record_named(request.params())
    return record_named(hubspot_body(request.body))


def retry_after_ms(seconds: float) -> str:
    """A Retry-After as HubSpot's workflows read it: whole milliseconds, at least 1 s."""
    return str(max(1000, math.ceil(seconds * 1000)))


@dataclass
class HubSpotEndpoint:
    """The workflow webhook of HubSpot (see the module's docstring)."""

    name: str = "hubspot"
    path: str = "/hubspot"
    methods: frozenset[str] = frozenset({"GET", "POST"})
    system: str = "hubspot"
    timeout: float = 30.0
    """HubSpot's workflows wait 30 s for an answer (webhook_information)."""

    def configured(self, settings: Settings) -> bool:
        section = hubspot_section(settings)
        return section is not None and (
            section.webhook_client_secret is not None
            or (section.webhook_api_key is not None and bool(section.webhook_api_key_name))
        )

    def ask(self, request: WebhookRequest, context: Context) -> Ask | WebhookResponse:
        section = hubspot_section(context.settings)
        if section is None:
            raise Refused(404, "no such endpoint")
        how = authenticate_hubspot(request, context, section)  # nothing is read of an unproven body
        record = record_asked(request)
        signed = request.header(SIGNATURE_V3)
        replay = [replay_key(signed)] if how == "v3" and signed else []
        details = {"auth": how, "replay": replay, "remember": context.first_seen}
        return Ask(self.system, (record,), details)

    def answer(self, ask: Ask, outcomes: Sequence[Outcome]) -> WebhookResponse:
        refused = refused_first(outcomes)
        for_good = refused is None or not (refused.status == 429 or refused.status >= 500)
        if for_good and ask.details.get("replay"):  # answered for good: a replay is refused
            ask.details["remember"](ask.details["replay"])
        if refused is not None:
            return self.refused(refused)
        results = [o.result for o in outcomes if o.result is not None]
        if not results:
            return self.refused(Refused(503, "leadscore did not rescore the contact"))
        result = results[0]
        return json_response(200 if result.status == "done" else 202, score_payload(result))

    def refused(self, refused: Refused) -> WebhookResponse:
        response = refused.response()
        if refused.retry_after is not None:
            response.headers["retry-after"] = retry_after_ms(refused.retry_after)
        return response
