"""Salesforce's two ways of asking for a fresh score: an Outbound Message, a Flow HTTP callout.

    POST /salesforce/outbound?secret=...   SOAP notifications (a workflow rule or a
                                           flow's Outbound Message action) -> SOAP Ack
    POST /salesforce/flow                  {"recordId": "00Q..."} or {"ids": [...]},
         X-Leadscore-Secret: ...           (a flow's HTTP Callout action) -> JSON scores

Neither is signed by Salesforce, so both check `webhook_secret` (LEADSCORE_SALESFORCE__
WEBHOOK_SECRET), in constant time: an Outbound Message's endpoint URL is set by the admin
and carries it as the `secret` query parameter; a flow's External Credential adds it as
the `X-Leadscore-Secret` header (the name is fixed). An Outbound Message must also come
from the org of `webhook_org_id`, compared on the 15 characters every org id has.

Salesforce delivers a message at least once, out of order, for up to 24 hours, with the
record's latest data ("Understanding Notifications", Outbound Messaging): a notification
id already handled is acked without a rescore (`Context.first_seen`, kept 24 hours). A
message's new ids are taken back at once (`Context.forget`) and taken in again only for
the records handled: when a rescore failed for a reason that may pass (a rate limit, a
system not answering), or anything failed on the way, the message is answered with a
fault, Salesforce sends it again, and the retry rescores exactly those records. An
unknown record (404) or one refused for good is acked and logged: sending it again
cannot help. A deleted record comes with no data and is acked.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sync.web.endpoint import Ask, Context, Outcome, refused_first, score_payload
from sync.web.messages import Refused, WebhookRequest, WebhookResponse, json_response
from sync.web.replay import digest
from sync.web.salesforce_soap import (
    MAX_NOTIFICATIONS,
    ack_response,
    parse_outbound,
    person_id,
    same_org,
    same_secret,
    soap_fault,
)

if TYPE_CHECKING:
    from connectors.salesforce.settings import SalesforceSettings
    from sync.settings import Settings

log = logging.getLogger("leadscore.web")

SECRET_HEADER = "X-Leadscore-Secret"
OUTBOUND_TIMEOUT = 60.0
"""Help, "Considerations for Outbound Messages": "The timeout for an outbound message is
60 seconds"."""
FLOW_TIMEOUT = 10.0
"""A flow's HTTP callout runs as Apex, whose callouts wait 10 seconds by default (Apex
Developer Guide, "Callout Limits and Limitations")."""


def salesforce_settings(settings: Settings) -> SalesforceSettings | None:
    """The Salesforce section of `settings`, if the system is registered."""
    from connectors.salesforce.settings import SalesforceSettings

    try:
        section = settings.section("salesforce")
    except KeyError:
        return None
    return section if isinstance(section, SalesforceSettings) else None


def retryable(refused: Refused) -> bool:
    """Whether sending the same ask again later may succeed (a rate limit, a system down)."""
    return refused.status == 429 or refused.status >= 500


class OutboundEndpoint:
    """Outbound Messages of Leads and Contacts, acked as Salesforce requires."""

    name = "salesforce_outbound"
    path = "/salesforce/outbound"
    methods = frozenset({"POST"})
    system = "salesforce"
    timeout = OUTBOUND_TIMEOUT

    def configured(self, settings: Settings) -> bool:
        found = salesforce_settings(settings)
        return found is not None and bool(found.webhook_secret and found.webhook_org_id)

    def ask(self, request: WebhookRequest, context: Context) -> Ask | WebhookResponse:
        found = salesforce_settings(context.settings)
        if found is None or not found.webhook_secret or not found.webhook_org_id:
            raise Refused(404, "no such endpoint")
        same_secret(request.params().get("secret"), found.webhook_secret, "secret parameter")
        message = parse_outbound(request.body)
        if not same_org(message.org_id, found.webhook_org_id):
            raise Refused(403, "the message comes from another Salesforce org")
        live = [n for n in message.notifications if n.record is not None]
        if len(live) < len(message.notifications):
            log.info(
                "salesforce notifications of deleted records acked",
                extra={"count": len(message.notifications) - len(live)},
            )
        keys = [digest("salesforce-notification", n.id) for n in live]
        fresh = context.first_seen(keys) if keys else []
        # Taken back at once, and taken in again by `answer` once handled: whatever fails
        # on the way (a rate limit, a crash, a timeout of the caller), the message Salesforce
        # sends again is rescored, never taken for a duplicate.
        context.forget([key for key, new in zip(keys, fresh, strict=True) if new])
        by_record: dict[str, list[str]] = {}
        for notification, key, new in zip(live, keys, fresh, strict=True):
            if new and notification.record is not None:
                by_record.setdefault(notification.record, []).append(key)
        if not all(fresh):
            log.info(
                "salesforce notifications seen before acked", extra={"count": fresh.count(False)}
            )
        if not by_record:
            return ack_response()
        details = {"keys": by_record, "remember": context.first_seen}
        return Ask(self.system, tuple(by_record), details)

    def answer(self, ask: Ask, outcomes: Sequence[Outcome]) -> WebhookResponse:
        """The Ack once every record is rescored, queued, or refused for good (an unknown
        record: logged); a SOAP fault (503) when some rescore may succeed later, so that
        Salesforce sends the message again. The notification ids of the records handled
        are remembered; those of the others are not, and are rescored on the retry."""
        again = [o for o in outcomes if o.refused is not None and retryable(o.refused)]
        for outcome in outcomes:
            if outcome.refused is not None and not retryable(outcome.refused):
                log.warning(
                    "salesforce notification acked without a score",
                    extra={"status": outcome.refused.status, "reason": outcome.refused.reason},
                )
        keys: dict[str, list[str]] = ask.details["keys"]
        failed = {o.record_id for o in again}
        ask.details["remember"]([k for r, ks in keys.items() if r not in failed for k in ks])
        if not again:
            return ack_response()
        first = again[0].refused
        assert first is not None
        return soap_fault(
            Refused(
                503,
                f"{len(again)} of {len(outcomes)} records not rescored: {first.reason}",
                retry_after=first.retry_after,
            )
        )

    def refused(self, refused: Refused) -> WebhookResponse:
        return soap_fault(refused)


class FlowEndpoint:
    """A flow's HTTP callout: the records' scores, as JSON the flow can read."""

    name = "salesforce_flow"
    path = "/salesforce/flow"
    methods = frozenset({"POST"})
    system = "salesforce"
    timeout = FLOW_TIMEOUT

    def configured(self, settings: Settings) -> bool:
        found = salesforce_settings(settings)
        return found is not None and found.webhook_secret is not None

    def ask(self, request: WebhookRequest, context: Context) -> Ask | WebhookResponse:
        found = salesforce_settings(context.settings)
        if found is None or found.webhook_secret is None:
            raise Refused(404, "no such endpoint")
        same_secret(request.header(SECRET_HEADER), found.webhook_secret, f"{SECRET_HEADER} header")
        records, single = parse_flow(request.body)
        return Ask(self.system, records, {"single": single})

    def answer(self, ask: Ask, outcomes: Sequence[Outcome]) -> WebhookResponse:
        if ask.details["single"]:
            refused = refused_first(outcomes)
            if refused is not None:
                return refused.response()
            return json_response(200, flow_result(outcomes[0]))
        return json_response(200, {"results": [flow_result(o) for o in outcomes]})

    def refused(self, refused: Refused) -> WebhookResponse:
        return refused.response()


def flow_result(outcome: Outcome) -> dict[str, Any]:
    """One record's score (`score_payload`), or why it has none."""
    if outcome.result is not None:
        return score_payload(outcome.result)
    assert outcome.refused is not None
    return {
        "record": outcome.record_id,
        "status": "refused",
        "code": outcome.refused.status,
        "error": outcome.refused.reason,
    }


def parse_flow(body: bytes) -> tuple[tuple[str, ...], bool]:
    """The Lead and Contact ids of a flow's `{"recordId": id}` or `{"ids": [id, ...]}`
    (18-character forms, each once), and whether it asked for one record alone;
    `Refused(400)` for anything else."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise Refused(400, 'expected JSON: {"recordId": "00Q..."} or {"ids": [...]}') from None
    if not isinstance(data, dict) or len(data.keys() & {"recordId", "ids"}) != 1:
        raise Refused(400, 'expected {"recordId": "00Q..."} or {"ids": [...]}, one of the two')
    if "recordId" in data:
        return (person_id(data["recordId"], "recordId"),), True
    ids = data["ids"]
    if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_NOTIFICATIONS:
        raise Refused(400, f"ids must be a list of 1 to {MAX_NOTIFICATIONS} record ids")
    records = [person_id(value, f"ids[{i}]") for i, value in enumerate(ids)]
    return tuple(dict.fromkeys(records)), False
