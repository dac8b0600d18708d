"""Mailchimp audience webhooks: one form-encoded POST body to one parsed event.

    parse_audience_webhook(body)  ->  AudienceEvent (type, fired_at, list, member, activity)
                                      or raises WebhookError (a ValueError): never another error;
                                      NotAForm (a WebhookError) when the body is not form data

Mailchimp POSTs `application/x-www-form-urlencoded` bodies with PHP-style keys:
`type=unsubscribe&fired_at=2009-03-26 21:40:57&data[action]=unsub&data[reason]=manual&
data[id]=8a25ff1d98&data[list_id]=a6b5da1054&data[email]=api+unsub@mailchimp.com&
data[merges][FNAME]=Mailchimp&data[campaign_id]=cb398d21d2`. What each type means here:

- subscribe (data[email], data[merges]): a `newsletter_signup` of the member;
- unsubscribe (data[email], data[action] unsub or delete, data[reason], data[campaign_id]):
  an `email_unsubscribe` with its campaign; a delete is no activity but the member gone;
- profile (data[email], data[merges]): no activity, the merge fields changed;
- upemail (data[old_email], data[new_email]): no activity, the member's address changed,
  its key with it (`old_contact_id` -> `contact_id`);
- cleaned (data[email], data[reason] hard or abuse, data[campaign_id]): an `email_bounce`
  (hard) or an `email_spam_report`; another reason is no activity;
- campaign (data[id], data[subject], data[status], data[reason]): no activity, a
  campaign's sending status.

An activity has the id the pull gives the same event where the webhook carries what that
id needs (`activity_id`: a signup, an unsubscribe from a campaign), so the two paths make
one activity. `fired_at` is "Y-m-d H:i:s" with no zone; it is read as UTC (no source says which zone
Mailchimp means). A subscribe or unsubscribe by an admin or through the API looks the same
as one by the person: create the webhook with `sources` user only (and `api: False`, so
that our own writes do not come back) where that matters.

Security: audience webhooks carry no signature (only Mailchimp Transactional signs its
webhooks). Mailchimp's own advice: "aside from trying to keep the URL private, our
suggestion is to include a secret key in the URL that you provide and check that GET
parameter in your scripts". The server that mounts this parser must compare that secret
with `hmac.compare_digest` (constant time) before parsing, and answer a GET (Mailchimp's
validator) with 200; the triggers issue does both. This module sees only the body.

Sources: https://mailchimp.com/developer/marketing/guides/sync-audience-data-webhooks/
(form-encoded POST, 10-second timeout, retries over 75 minutes, the subscribe and
unsubscribe payloads); https://developer.mailchimp.com/documentation/mailchimp/guides/about-webhooks/
(the six events, no signature, the secret in the URL, GET validation). The field names of
profile, upemail, cleaned and campaign bodies are not listed in Mailchimp's current pages
we hold; they follow the older Mailchimp examples as third parties reproduce them
(https://gist.github.com/strangeways/96b26ee7e61b9800e264b16688cce038,
https://automatelab.tech/saas-webhooks/mailchimp/) and VENDOR-FACTS 3.7.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from connectors.mailchimp.keys import MC, member_hash, member_key
from scoring.records import Activity, ActivityType

MAX_WEBHOOK_BODY = 64 * 1024
"""The largest body parsed: an audience event with every merge field is a few KB."""
MAX_WEBHOOK_FIELDS = 500
EVENT_TYPES = frozenset({"subscribe", "unsubscribe", "profile", "upemail", "cleaned", "campaign"})
_KEY = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])*)")
_PART = re.compile(r"\[([^\[\]]*)\]")


class WebhookError(ValueError):
    """A webhook body that is not a Mailchimp audience event; the message says why and
    quotes none of the body (it may hold an address)."""


class NotAForm(WebhookError):
    """A body that is not form data at all: not bytes, over `MAX_WEBHOOK_BODY`, not
    UTF-8, or more than `MAX_WEBHOOK_FIELDS` fields. Any other `WebhookError` is a
    form that is not an event leadscore reads."""


@dataclass(frozen=True)
class AudienceEvent:
    """One audience webhook event, and what it means for leadscore."""

    type: str
    fired_at: datetime
    list_id: str
    email: str | None = None
    """The member's address (for upemail, the new one); None for a campaign event."""
    contact_id: str | None = None
    """`keys.member_key(list_id, email)`."""
    activity: Activity | None = None
    old_email: str | None = None
    """upemail: the address the member had."""
    old_contact_id: str | None = None
    """upemail: the key the member had; the sync re-points what it held of it."""
    gone: bool = False
    """unsubscribe with action delete: the member no longer exists in the audience."""
    merges: Mapping[str, Any] = field(default_factory=dict)
    reason: str | None = None
    campaign_id: str | None = None
    campaign_status: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    """Every data[...] field as sent, nested: addresses, IPs, merge fields; log none of it."""


def _form_fields(body: bytes) -> dict[str, Any]:
    """The body's PHP-style keys as nested dicts: data[merges][FNAME] -> data.merges.FNAME."""
    if not isinstance(body, bytes | bytearray):
        raise NotAForm(f"a webhook body is bytes, not {type(body).__name__}")
    if len(body) > MAX_WEBHOOK_BODY:
        raise NotAForm(f"the body has {len(body)} bytes, more than {MAX_WEBHOOK_BODY}")
    try:
        text = bytes(body).decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_WEBHOOK_FIELDS)
    except UnicodeDecodeError as exc:
        raise NotAForm("the body is not UTF-8 text") from exc
    except ValueError as exc:
        raise NotAForm(f"the body is not a form: more than {MAX_WEBHOOK_FIELDS} fields") from exc
    fields: dict[str, Any] = {}
    for key, value in pairs:
        match = _KEY.fullmatch(key)
        if match is None:
            raise WebhookError("a field name is not of the form name[part][part]")
        path = [match.group(1), *_PART.findall(match.group(2))]
        _place(fields, path, value)
    return fields


def _place(fields: dict[str, Any], path: list[str], value: str) -> None:
    """Set `value` at `path`; a name used both as a value and as a group is an error."""
    node = fields
    for name in path[:-1]:
        child = node.setdefault(name, {})
        if not isinstance(child, dict):
            raise WebhookError("a field is both a value and a group of fields")
        node = child
    if isinstance(node.get(path[-1]), dict):
        raise WebhookError("a field is both a value and a group of fields")
    node[path[-1]] = value


def _fired_time(raw: Any) -> datetime:
    """`fired_at` ("2009-03-26 21:40:57", taken as UTC)."""
    if not isinstance(raw, str):
        raise WebhookError("fired_at is missing")
    try:
        return datetime.strptime(raw.strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError as exc:
        raise WebhookError("fired_at is not a 'Y-m-d H:i:s' time") from exc


def _text(data: Mapping[str, Any], name: str, *, needed: bool = False) -> str | None:
    """A text field of data[...], stripped; None when absent or blank (an error if `needed`)."""
    value = data.get(name)
    if isinstance(value, str) and value.strip():
        return value.strip()
    if value is not None and not isinstance(value, str):
        raise WebhookError(f"data[{name}] is a group, not a value")
    if needed:
        raise WebhookError(
            f"data[{name}] is missing" if value is None else f"data[{name}] is empty"
        )
    return None


def _address(data: Mapping[str, Any], name: str) -> str:
    """An email address field of data[...], needed."""
    value = _text(data, name, needed=True)
    if value is None or "@" not in value or any(c.isspace() for c in value) or len(value) > 254:
        raise WebhookError(f"data[{name}] is not an email address")
    return value


def parse_audience_webhook(body: bytes) -> AudienceEvent:
    """The audience event of one webhook POST body; WebhookError when it is not one."""
    fields = _form_fields(body)
    kind = fields.get("type")
    if not isinstance(kind, str) or kind not in EVENT_TYPES:
        raise WebhookError("type is not one of " + ", ".join(sorted(EVENT_TYPES)))
    at = _fired_time(fields.get("fired_at"))
    data = fields.get("data")
    if not isinstance(data, dict):
        raise WebhookError("data[...] fields are missing")
    list_id = _text(data, "list_id", needed=True) or ""
    merges = data.get("merges")
    common: dict[str, Any] = {
        "type": kind,
        "fired_at": at,
        "list_id": list_id,
        "data": data,
        "merges": merges if isinstance(merges, dict) else {},
        "reason": _text(data, "reason"),
    }
    if kind == "campaign":
        return AudienceEvent(
            **common,
            campaign_id=_text(data, "id", needed=True),
            campaign_status=_text(data, "status"),
        )
    if kind == "upemail":
        new, old = _address(data, "new_email"), _address(data, "old_email")
        return AudienceEvent(
            **common,
            email=new,
            contact_id=member_key(list_id, new),
            old_email=old,
            old_contact_id=member_key(list_id, old),
        )
    email = _address(data, "email")
    campaign = _text(data, "campaign_id")
    activity, gone = member_activity(kind, data, email, list_id, at, campaign)
    return AudienceEvent(
        **common,
        email=email,
        contact_id=member_key(list_id, email),
        activity=activity,
        gone=gone,
        campaign_id=campaign,
    )


def member_activity(
    kind: str,
    data: Mapping[str, Any],
    email: str,
    list_id: str,
    at: datetime,
    campaign: str | None,
) -> tuple[Activity | None, bool]:
    """(the activity a member event means or None, whether the member is gone)."""
    reason = (_text(data, "reason") or "").lower()
    attributes: dict[str, Any] = {"list_id": list_id}
    if campaign:
        attributes["campaign"] = campaign
    gone = False
    if kind == "subscribe":
        activity_type: ActivityType | None = ActivityType.NEWSLETTER_SIGNUP
    elif kind == "unsubscribe":
        gone = (_text(data, "action") or "").lower() == "delete"
        activity_type = None if gone else ActivityType.EMAIL_UNSUBSCRIBE
        if reason:
            attributes["reason"] = reason
    elif kind == "cleaned" and reason == "hard":
        activity_type, attributes["bounce_type"] = ActivityType.EMAIL_BOUNCE, "hard"
    elif kind == "cleaned" and reason == "abuse":
        activity_type = ActivityType.EMAIL_SPAM_REPORT
    else:  # profile, or cleaned for a reason Mailchimp has not documented
        activity_type = None
    if activity_type is None:
        return None, gone
    ident = activity_id(kind, list_id, email, at, campaign)
    activity = Activity(
        "",  # by address alone (`keys`)
        activity_type,
        at,
        id=ident,
        attributes=attributes,
        source=MC,
        contact_email=email,
    )
    return activity, gone


def activity_id(kind: str, list_id: str, email: str, at: datetime, campaign: str | None) -> str:
    """The activity's id, the pull's id of the same event where the webhook says enough.

    - subscribe: the pull's signup id (`members.member_records`),
      `mailchimp:signup:<list>:<hash>:<second>`; the pull takes the second from the
      member's `timestamp_opt`, the webhook from `fired_at` (it sends no opt-in time), so
      the two are one only when Mailchimp fires the webhook in the second of the opt-in.
    - unsubscribe with data[campaign_id]: the departures' id (`departures.departure_activity`),
      `mc:<campaign>:<hash>:unsub:<second>`, the second of `fired_at` against the report's
      `timestamp`. Without a campaign (unsubscribed in the audience, by an admin or the
      API) no pull reads the event: the id is the webhook's own, `mcwh:unsubscribe:...`.
    - cleaned: the webhook's own id, `mcwh:cleaned:...`; the pull's bounces and abuse
      reports carry the campaign's report times, which the webhook does not send.
    """
    second = int(at.timestamp())
    if kind == "subscribe":
        return f"{MC}:signup:{member_key(list_id, email)}:{second}"
    if kind == "unsubscribe" and campaign:
        return f"mc:{campaign}:{member_hash(email)}:unsub:{second}"
    return f"mcwh:{kind}:{list_id}:{member_hash(email)}:{second}"
