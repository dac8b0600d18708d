"""The Mailchimp audience webhook: `/mailchimp?secret=...`, one member rescored per event.

    GET                      Mailchimp's validator: 200, nothing else (no secret asked)
    POST, no/wrong secret    401 / 403, nothing read
    POST, empty body         200 (a validator that POSTs, as one guide says it does)
    POST, not form data      400 with the parser's reason (not UTF-8, too many fields);
                             413 over the parser's 64 KB
    POST, a form not read    200 {"status": "ignored", "reason": ...}, the reason logged
                             (an unknown type, a fired_at in another format, a field missing)
    POST, event              the member rescored through the connector's `fetch`; 200

Mailchimp signs nothing: the URL given to it carries a secret (`webhook_secret` in
the Mailchimp settings) compared in constant time; Mailchimp waits 10 s, retries a
failed delivery over 75 minutes, and may turn off a webhook that keeps failing
(VENDOR-FACTS 3.7; https://mailchimp.com/developer/marketing/guides/sync-audience-data-webhooks/).
So every event read is answered 200 within the core's share of those 10 s, whatever
its rescore did (the answer's body says, for a person reading it): a member that is
gone, a rate limit, an event of an audience leadscore does not sync (logged, ignored).
So is a form that came with the secret but that the parser does not read as an event
(a type Mailchimp adds, a `fired_at` in another format): retrying it cannot change
it, and refusing it would count against the webhook; the reason is logged (it quotes
no value: no address, nothing of the body).
Nothing is lost by it: the event moved the member's `last_changed`, so the next
sync's pull reads the member again.

What each event does (`connectors.mailchimp.webhooks.parse_audience_webhook`):
subscribe, profile, unsubscribe, cleaned and upemail rescore the member, by its
record id `<audience>:<subscriber hash>` (`keys.member_key`; for upemail the new
address's), the id the connector's `fetch` takes; a campaign event rescores nothing.

An unsubscribe whose `data[action]` is "delete" (the member was deleted, not
unsubscribed) and a `cleaned` event (`data[reason]` hard or abuse: the address was
cleaned) take the member out of the audience's activity the way the next pull or
write would, through the same mechanism: the rescore's fetch reads the member as the
members walk does, so an archived member (Mailchimp's delete of a member archives it)
withdraws its activity in the audience (`Page.withdrawn`, `members.archived_withdrawn`)
and a cleaned one is stored with its new status; a member deleted for good answers
404, and the store's records of that address in the audience are retired with their
audience's activity (`Ask.if_missing`, `sync.vanished.retire_address`), as a write's
404 does (`Gone.withdrawn`). The fields are those of Mailchimp's guide (unsubscribe:
`data[action]` "unsub" or "delete", `data[reason]`, `data[campaign_id]`) and of the
older event examples for cleaned (`data[reason]` "hard" or "abuse"), as the parser's
sources list them.

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

from connectors.mailchimp.keys import MC, audience_activity
from connectors.mailchimp.webhooks import (
    MAX_WEBHOOK_BODY,
    NotAForm,
    WebhookError,
    parse_audience_webhook,
)
from sync.web.endpoint import Ask, Context, Missing, Outcome, score_payload
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
        if len(request.body) > MAX_WEBHOOK_BODY:
            raise Refused(413, f"the body is over {MAX_WEBHOOK_BODY} bytes")
        try:
            event = parse_audience_webhook(request.body)
        except NotAForm as exc:
            raise Refused(400, str(exc)) from None
        except WebhookError as exc:
            # A form with the right secret that is not an event we read (a new type, a
            # fired_at in another format, a field missing): a 4xx would only make Mailchimp
            # retry it and, in the end, turn the webhook off. The reason quotes no value.
            log.warning(
                "mailchimp event not read, ignored",
                extra={"endpoint": self.name, "reason": str(exc)},
            )
            return answered_ok("ignored", reason=str(exc))
        if section.audiences and event.list_id not in section.audiences:
            log.info(
                "mailchimp event of an audience not synced ignored",
                extra={"endpoint": self.name, "event": event.type},
            )
            return answered_ok("ignored", reason="not an audience leadscore syncs")
        if event.type not in RESCORED_EVENTS or event.contact_id is None:
            return answered_ok("ignored", reason=f"a {event.type} event rescores nobody")
        missing: dict[str, Missing] = {}
        if (event.gone or event.type == "cleaned") and event.email:
            # the audience's activity of the address: what a write's 404 withdraws too
            where = audience_activity(event.contact_id, event.email, event.list_id).where
            missing[event.contact_id] = Missing(event.email, f"{event.list_id}:", where)
        return Ask(self.system, (event.contact_id,), {"event": event.type}, if_missing=missing)

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
        """A refusal of the caller (a wrong secret, a body too big) as is; leadscore's own
        trouble (it cannot open, a system rate-limits it) as 200 `not rescored`: only a
        verified request gets that far, and Mailchimp turns off a webhook that keeps
        failing; the next sync reads the member anyway."""
        if refused.status == 429 or refused.status >= 500:
            return answered_ok("not rescored", reason=refused.reason)
        return refused.response()


def _refusal(outcome: Outcome) -> str:
    refused = outcome.refused
    return f"{refused.status} {refused.reason}" if refused is not None else "no result"
