"""HubSpot app webhooks of contact deletions: `POST /hubspot/events`.

An app subscribed to `contact.deletion` and `contact.privacyDeletion` (the app's webhook
settings: `legacyCrmObjects` and `hubEvents`, developers.hubspot.com/docs/apps/developer-
platform/add-features/configure-webhooks) posts a JSON array of events, each with its
`subscriptionType`, the contact's `objectId`, and `eventId`, `occurredAt`, `portalId`
(developers.hubspot.com/docs/api/webhooks). A privacy deletion also sends the plain
deletion ("The privacyDeletion event will also trigger the normal contact.delete event",
HubSpot developer changelog, "Webhooks now support privacy-compliant contact deletions").

What each does, through the sync's own store function (`sync.vanished.record_gone`):
- `contact.deletion`: the contact is retired, as a pull that lists it archived would;
- `contact.privacyDeletion`: retired for good, with HubSpot's activities keyed by its
  address alone (unless another HubSpot contact holds the address).
Other subscription types are not read here (the sync pulls every change).

One app's client secret signs the events of every portal that installed the app, so an
event acts only when its `portalId` is the configured portal's
(`LEADSCORE_HUBSPOT__PORTAL_ID`; without it the endpoint is off): the others are counted
(`other_portal`), logged as a count, and left.

The request must be signed with the app's client secret
(`LEADSCORE_HUBSPOT__WEBHOOK_CLIENT_SECRET`), checked as the workflow endpoint checks it
(`hubspot_auth`); the workflow's API key does not do here. Answers:

    200 {"retired": ["51"], "erased": ["52"], "ignored": 1, "other_portal": 0}
    4xx {"error": "..."}     a bad signature, a body that is not an array of events

Retiring is idempotent, so a retried or repeated event does no harm.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from connectors.protocol import Gone
from sync.web.endpoint import Ask, Context, Outcome
from sync.web.hubspot import hubspot_id, hubspot_section
from sync.web.hubspot_auth import SIGNATURE_V3, authenticate_hubspot, replay_key
from sync.web.messages import Refused, WebhookRequest, WebhookResponse, json_response

if TYPE_CHECKING:
    from sync.settings import Settings

log = logging.getLogger("leadscore.web")

DELETION = "contact.deletion"
PRIVACY_DELETION = "contact.privacyDeletion"
MAX_EVENTS = 1000
"""HubSpot sends at most 100 events a request; more is not HubSpot."""


@dataclass(frozen=True)
class Deletions:
    """What a body's events ask: the contacts deleted (privacy deletions `for_good`), how
    many events were of other kinds, and how many of another portal."""

    gone: list[Gone]
    ignored: int
    other_portal: int


def deletions(body: bytes, portal: int) -> Deletions:
    """The contacts a body's events delete in `portal`; an event of another portal (or of
    none) is counted and left, since the app's secret signs every installing portal's
    events. 400 for a body that is not a list of events, 422 for a deletion without a
    contact id."""
    try:
        events = json.loads(body)
    except (ValueError, RecursionError):
        raise Refused(400, "the body is not JSON") from None
    if not isinstance(events, list) or len(events) > MAX_EVENTS:
        raise Refused(400, f"expected a JSON array of at most {MAX_EVENTS} events")
    found: dict[str, Gone] = {}
    ignored = other_portal = 0
    for n, event in enumerate(events):
        if not isinstance(event, dict):
            raise Refused(400, f"event {n} is not a JSON object")
        kind = event.get("subscriptionType")
        if kind not in (DELETION, PRIVACY_DELETION):
            ignored += 1
            continue
        if str(event.get("portalId")) != str(portal):
            other_portal += 1
            continue
        record = hubspot_id(event.get("objectId"), f"event {n}: objectId")
        for_good = kind == PRIVACY_DELETION or (record in found and found[record].for_good)
        found[record] = Gone(record, None, for_good=for_good)
    return Deletions(list(found.values()), ignored, other_portal)


@dataclass
class HubSpotEventsEndpoint:
    """The app webhook of contact deletions (see the module's docstring)."""

    name: str = "hubspot-events"
    path: str = "/hubspot/events"
    methods: frozenset[str] = frozenset({"POST"})
    system: str = "hubspot"
    timeout: float = 5.0
    """HubSpot waits 5 s for an app webhook's answer (docs/api/webhooks, "Retries")."""

    def configured(self, settings: Settings) -> bool:
        section = hubspot_section(settings)
        return (
            section is not None
            and section.webhook_client_secret is not None
            and section.portal_id is not None
        )

    def ask(self, request: WebhookRequest, context: Context) -> Ask | WebhookResponse:
        section = hubspot_section(context.settings)
        if section is None or section.portal_id is None:
            raise Refused(404, "no such endpoint")
        how = authenticate_hubspot(request, context, section)
        if how == "key":
            raise Refused(401, "an app webhook must be signed with the app's client secret")
        asked = deletions(request.body, section.portal_id)
        if asked.other_portal:
            log.warning(
                "hubspot events of another portal ignored (LEADSCORE_HUBSPOT__PORTAL_ID)",
                extra={"system": self.system, "events": asked.other_portal},
            )
        signed = request.header(SIGNATURE_V3)
        replay = [replay_key(signed)] if how == "v3" and signed else []
        details = {
            "ignored": asked.ignored,
            "other_portal": asked.other_portal,
            "replay": replay,
            "remember": context.first_seen,
        }
        return Ask(self.system, (), details, gone=tuple(asked.gone))

    def answer(self, ask: Ask, outcomes: Sequence[Outcome]) -> WebhookResponse:
        """Called once the store took the deletions: only then is the signature remembered,
        so that HubSpot's retry of a request that failed on the way is not a replay."""
        if ask.details.get("replay"):
            ask.details["remember"](ask.details["replay"])
        body: dict[str, Any] = {
            "retired": [g.record_id for g in ask.gone if not g.for_good],
            "erased": [g.record_id for g in ask.gone if g.for_good],
            "ignored": ask.details.get("ignored", 0),
            "other_portal": ask.details.get("other_portal", 0),
        }
        return json_response(200, body)

    def refused(self, refused: Refused) -> WebhookResponse:
        return refused.response()
