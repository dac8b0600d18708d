"""The Mailchimp audience webhook: `/mailchimp?secret=...`, one member rescored per event.

    GET                      Mailchimp's validator: 200, nothing else (no secret asked)
    POST, no/wrong secret    401 / 403, nothing read
    POST, empty body         200 (a validator that POSTs, as one guide says it does)
    POST, not an event       400 with the parser's reason
    POST, event              the member rescored through the connector's `fetch`; 200

Mailchimp signs nothing: the URL given to it carries a secret (`webhook_secret` in
the Mailchimp settings) compared in constant time; Mailchimp waits 10 s, retries a
failed delivery over 75 minutes, and may turn off a webhook that keeps failing
(VENDOR-FACTS 3.7; https://mailchimp.com/developer/marketing/guides/sync-audience-data-webhooks/).
So every event read is answered 200 within the core's share of those 10 s, whatever
its rescore did (the answer's body says, for a person reading it): a member that is
gone, a rate limit, an event of an audience leadscore does not sync (logged, ignored).
Nothing is lost by it: the event moved the member's `last_changed`, so the next
sync's pull reads the member again.

What each event does (`connectors.mailchimp.webhooks.parse_audience_webhook`):
subscribe, profile, unsubscribe (unsub), cleaned and upemail rescore the member,
by its record id `<audience>:<subscriber hash>` (`keys.member_key`; for upemail
the new address's), the id the connector's `fetch` takes; an unsubscribe whose
action is delete (the member is gone) and a campaign event rescore nothing.

The webhook's own activity is not stored here: an endpoint hands the core record
ids only, and the rescore stores what the connector's `fetch` reads. For a
subscribe that is the same signup (`members.member_records` makes it from the
member's `timestamp_opt`), and for unsubscribe and cleaned the member's new
status; the unsubscribe, bounce or abuse report as an activity arrives with the
next sync's campaign reports (`departures`, `activity`). Storing the webhook's
activity beside the rescore would need the core to carry activities as well as
ids; the rescore through `fetch` is what the event asks for.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from connectors.mailchimp.keys import MC
from connectors.mailchimp.webhooks import WebhookError, parse_audience_webhook
from sync.web.endpoint import Ask, Context, Outcome, score_payload
from sync.web.messages import Refused, WebhookRequest, WebhookResponse, json_response

if TYPE_CHECKING:
    from connectors.mailchimp.settings import MailchimpSettings
    from sync.settings import Settings

log = logging.getLogger("leadscore.web")

MAILCHIMP_WAITS = 10.0
"""Seconds Mailchimp waits for an answer before it counts the delivery failed."""
RESCORED_EVENTS = frozenset({"subscribe", "profile", "unsubscribe", "cleaned", "upemail"})


def mailchimp_section(settings: Settings) -> MailchimpSettings:
    from connectors.mailchimp.settings import MailchimpSettings

    section = settings.section(MC)
    assert isinstance(section, MailchimpSettings)
    return section


def check_secret(request: WebhookRequest, section: MailchimpSettings) -> None:
    """401 without `secret` in the query, 403 with another one than the settings'."""
    given = request.params().get("secret", "")
    if not given:
        raise Refused(401, "the secret query parameter is missing")
    expected = section.webhook_secret
    if expected is None or not hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.get_secret_value().encode()
    ):
        raise Refused(403, "the secret does not match")


def answered_ok(status: str, **more: Any) -> WebhookResponse:
    return json_response(200, {"status": status, **more})


@dataclass
class MailchimpEndpoint:
    name: str = "mailchimp"
    path: str = "/mailchimp"
    methods: frozenset[str] = frozenset({"GET", "POST"})
    system: str = MC
    timeout: float = MAILCHIMP_WAITS

    def configured(self, settings: Settings) -> bool:
        """Mailchimp synced, and the webhook's secret set."""
        section = mailchimp_section(settings)
        return section.configured and section.webhook_secret is not None

    def ask(self, request: WebhookRequest, context: Context) -> Ask | WebhookResponse:
        if request.method == "GET":
            return answered_ok("ok")
        section = mailchimp_section(context.settings)
        check_secret(request, section)
        if not request.body.strip():
            return answered_ok("ok")
        try:
            event = parse_audience_webhook(request.body)
        except WebhookError as exc:
            raise Refused(400, str(exc)) from None
        if section.audiences and event.list_id not in section.audiences:
            log.info(
                "mailchimp event of an audience not synced ignored",
                extra={"endpoint": self.name, "event": event.type},
            )
            return answered_ok("ignored", reason="not an audience leadscore syncs")
        if event.type not in RESCORED_EVENTS or event.gone or event.contact_id is None:
            return answered_ok("ignored", reason=f"a {event.type} event rescores nobody")
        return Ask(self.system, (event.contact_id,), {"event": event.type})

    def answer(self, ask: Ask, outcomes: Sequence[Outcome]) -> WebhookResponse:
        """200 whatever the rescores did: Mailchimp turns off webhooks that keep failing,
        and the next sync reads the member anyway."""
        results = [
            score_payload(o.result)
            if o.result is not None
            else {"record": o.record_id, "status": "not rescored", "error": _refusal(o)}
            for o in outcomes
        ]
        return json_response(200, {"event": ask.details.get("event"), "results": results})

    def refused(self, refused: Refused) -> WebhookResponse:
        return refused.response()


def _refusal(outcome: Outcome) -> str:
    refused = outcome.refused
    return f"{refused.status} {refused.reason}" if refused is not None else "no result"
