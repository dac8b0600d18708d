"""Who may ask the HubSpot endpoint: a request HubSpot signed, or one with the API key.

A workflow's "Send a webhook" action authenticates in one of two ways, chosen in
the action (VENDOR-FACTS §1.9; https://knowledge.hubspot.com/workflows/how-do-i-use-webhooks-with-hubspot-workflows):

- **"Include request signature in header"**: the request is signed with the client
  secret of the app named in the action (`LEADSCORE_HUBSPOT__WEBHOOK_CLIENT_SECRET`).
  Version 3 (https://developers.hubspot.com/changelog/introducing-version-3-of-webhook-signatures;
  https://developers.hubspot.com/docs/api/webhooks/validating-requests):
  `X-HubSpot-Signature-v3` is the base64 HMAC-SHA256, keyed with the secret, of
  `method + URI + body + timestamp`, the timestamp being `X-HubSpot-Request-Timestamp`
  in epoch milliseconds; a request older than 5 minutes is to be refused. We also
  refuse one more than 5 minutes ahead of our clock (the SDK's check, `hubspot.utils.
  signature.Signature`, is one-sided: a timestamp in the future would let a captured
  request live on). Version 2, looked at only when no v3 header came
  (https://developers.hubspot.com/docs/faq/v2-request-validation): `X-HubSpot-Signature`
  is the hex SHA-256 of `secret + method + URI + body`, with `X-HubSpot-Signature-Version: v2`.
- **"API key"**: a secret stored in HubSpot, sent in the request header or query
  parameter whose name the user chose (`LEADSCORE_HUBSPOT__WEBHOOK_API_KEY` and
  `..._API_KEY_NAME`); both places are looked at.

**The URI.** The signed URI is the full URL the action was configured with
(scheme, host, path, query). Behind a proxy or a gateway it is rebuilt from
`LEADSCORE_PUBLIC_URL` + path + query; otherwise it is the URL the request
arrived at. HubSpot's v3 instructions, as a third-party implementation quotes
them (VENDOR-FACTS §1.10), URL-decode `%3A %2F %3F %40 %21 %24 %27 %28 %29 %2A %2C %3B`
before signing; HubSpot's SDK decodes nothing, and the decode table could not be
read in HubSpot's current page (UNVERIFIED, /tmp research notes §2). So a
signature is accepted when it matches the URI as received *or* with those
characters decoded (`decoded_uri`), and the log says which one matched, so the
question can be settled from a real request. Both are functions of what was
sent; neither lets a request through that was not signed with the secret.

**Replays.** A v3 signature covers its timestamp, so one seen before (within the
store's replay memory, longer than the 5 minutes a timestamp is good for) is a
replay: 409. Whether HubSpot signs a retry anew is not documented; it sends its
first retry a minute after a failure, so it would have to re-sign it for the
retry to pass this check (UNVERIFIED; were it to send the same signature again, the
409 would end its retries of that request, and the contact would wait for the
next sync that reads it). A v2 signature has no timestamp: the
same request always carries the same signature, so remembering it would refuse
HubSpot's own retries of a 429 or 503 and every later run of the workflow for a
contact with an unchanged body (a customised body is often the id alone). v2
signatures are therefore *not* remembered: a replayed v2 request costs one
rescore, which is idempotent (an unchanged score writes nothing) and paced by
the API budget like any other. The same holds for the API key, which is the same
on every request. Prefer v3 where the action offers it.

Nothing here logs or raises with a secret, a signature or a header's value.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
from typing import TYPE_CHECKING

from sync.web.messages import Refused, WebhookRequest
from sync.web.replay import digest

if TYPE_CHECKING:
    from connectors.hubspot.settings import HubSpotSettings
    from sync.web.endpoint import Context

log = logging.getLogger("leadscore.web.hubspot")

SIGNATURE_WINDOW_MS = 5 * 60 * 1000
"""How far a v3 timestamp may be from our clock, either way (HubSpot: 5 minutes)."""
TIMESTAMP_DIGITS = 16
"""Milliseconds since 1970 have 13 digits until the year 2286; a longer one is malformed."""

SIGNATURE_V3 = "x-hubspot-signature-v3"
REQUEST_TIMESTAMP = "x-hubspot-request-timestamp"
SIGNATURE_V2 = "x-hubspot-signature"
SIGNATURE_VERSION = "x-hubspot-signature-version"

SIGNED_URI_DECODES = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}
"""The escapes HubSpot's v3 instructions decode before signing (UNVERIFIED table, §1.10)."""
_ESCAPE = re.compile("|".join(SIGNED_URI_DECODES), re.IGNORECASE)


def decoded_uri(uri: str) -> str:
    """`uri` with the escapes of `SIGNED_URI_DECODES` decoded, in one pass (`%253A` stays `%3A`)."""
    return _ESCAPE.sub(lambda m: SIGNED_URI_DECODES[m.group(0).upper()], uri)


def hubspot_signed_uri(request: WebhookRequest, public_url: str) -> str:
    """The URL the caller signed: the public URL + path + query where one is configured."""
    if public_url:
        return public_url + request.path + (f"?{request.query}" if request.query else "")
    return request.url


def v3_signature(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """The base64 HMAC-SHA256 of `method + uri + body + timestamp`, keyed with `secret`
    (the body as the raw bytes received: HubSpot signs them UTF-8 encoded)."""
    message = f"{method}{uri}".encode(errors="surrogatepass") + body + timestamp.encode()
    mac = hmac.new(secret.encode(errors="surrogatepass"), message, hashlib.sha256).digest()
    return base64.b64encode(mac).decode("ascii")


def v2_signature(secret: str, method: str, uri: str, body: bytes) -> str:
    """The hex SHA-256 of `secret + method + uri + body`."""
    text = f"{secret}{method}{uri}".encode(errors="surrogatepass")
    return hashlib.sha256(text + body).hexdigest()


def _same(given: str, expected: str) -> bool:
    """Constant-time equality of two strings of any characters."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode())


def hubspot_timestamp(value: str) -> int:
    """The v3 timestamp as an integer, or 400 when it is not one."""
    text = value.strip()
    if not text or len(text) > TIMESTAMP_DIGITS or not (text.isascii() and text.isdigit()):
        raise Refused(400, "X-HubSpot-Request-Timestamp is not epoch milliseconds")
    return int(text)


def check_timestamp_window(stamp: int, now_ms: float) -> None:
    """401 for a timestamp more than 5 minutes off our clock, either way."""
    if now_ms - stamp > SIGNATURE_WINDOW_MS:
        raise Refused(401, "the signature is stale: its timestamp is over 5 minutes old")
    if stamp - now_ms > SIGNATURE_WINDOW_MS:
        raise Refused(401, "the signature's timestamp is over 5 minutes ahead of leadscore's clock")


def signed_uri_variants(request: WebhookRequest, context: Context) -> list[tuple[str, str]]:
    """(label, URI) pairs a signature may cover: as received, then with the table decoded."""
    uri = hubspot_signed_uri(request, context.public_url)
    if not uri:
        raise Refused(401, "leadscore cannot tell the URL signed: set LEADSCORE_PUBLIC_URL")
    decoded = decoded_uri(uri)
    return [("raw", uri)] + ([("decoded", decoded)] if decoded != uri else [])


def replay_key(signature: str) -> str:
    """What is remembered of a v3-signed request: a digest of its signature."""
    return digest("hubspot-v3", signature)


def verify_v3(request: WebhookRequest, context: Context, secret: str) -> str:
    """Check a v3 signature: its timestamp, its value, that it is new. The URI variant."""
    signature = request.header(SIGNATURE_V3) or ""
    stamp = request.header(REQUEST_TIMESTAMP)
    if stamp is None:
        raise Refused(401, "X-HubSpot-Signature-v3 came without X-HubSpot-Request-Timestamp")
    text = stamp.strip()
    check_timestamp_window(hubspot_timestamp(text), context.now() * 1000)
    for label, uri in signed_uri_variants(request, context):
        if _same(signature, v3_signature(secret, request.method, uri, request.body, text)):
            key = replay_key(signature)
            if not context.first_seen([key])[0]:
                raise Refused(409, "this signed request was received before")
            # Taken back at once, and taken in again once the request is answered for good
            # (`HubSpotEndpoint.answer`): a retry HubSpot sends after a 429, a 5xx or a
            # crash on the way is rescored, not refused as a replay.
            context.forget([key])
            return label
    raise Refused(401, "the HubSpot signature does not match")


def verify_v2(request: WebhookRequest, context: Context, secret: str) -> str:
    """Check a v2 signature (no timestamp: not remembered, see the module's docstring)."""
    signature = request.header(SIGNATURE_V2) or ""
    for label, uri in signed_uri_variants(request, context):
        if _same(signature, v2_signature(secret, request.method, uri, request.body)):
            return label
    raise Refused(401, "the HubSpot signature does not match")


def api_key_matches(request: WebhookRequest, name: str, key: str) -> bool:
    """Whether the header or the query parameter `name` holds `key` (both compared)."""
    given = [request.header(name), request.params().get(name)]
    found = [_same(value, key) for value in given if value is not None]
    return any(found)


def authenticate_hubspot(
    request: WebhookRequest, context: Context, section: HubSpotSettings
) -> str:
    """How the caller proved it is the workflow (`v3`, `v2`, `key`), or `Refused`: 401
    for a missing or wrong proof or a stale timestamp, 400 for a malformed one, 409
    for a replayed v3 signature."""
    secret = section.webhook_client_secret
    if secret is not None and request.header(SIGNATURE_V3) is not None:
        how = "v3", verify_v3(request, context, secret.get_secret_value())
    elif (
        secret is not None
        and request.header(SIGNATURE_V2) is not None
        and (request.header(SIGNATURE_VERSION) or "").strip().lower() == "v2"
    ):
        how = "v2", verify_v2(request, context, secret.get_secret_value())
    elif section.webhook_api_key is not None and section.webhook_api_key_name:
        key = section.webhook_api_key.get_secret_value()
        if not api_key_matches(request, section.webhook_api_key_name, key):
            raise Refused(401, "the HubSpot API key is missing or wrong")
        return "key"
    elif secret is not None:
        raise Refused(401, "the request carries no HubSpot signature")
    else:
        raise Refused(401, "the HubSpot API key is missing or wrong")
    version, variant = how
    if variant != "raw":
        log.info("hubspot signature matched the URI decoded", extra={"version": version})
    return version
