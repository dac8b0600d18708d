"""What Salesforce sends the webhooks and what it reads back: SOAP envelopes, ids, secrets.

An Outbound Message is a SOAP 1.1 POST of one `notifications` element (Outbound
Messaging WSDL, https://developer.salesforce.com/docs/platform/api/guide/sforce-api-om-outboundmessaging-wsdl.html,
namespace `http://soap.sforce.com/2005/09/outbound`): `OrganizationId`,
`ActionId`, `SessionId`, `EnterpriseUrl`, `PartnerUrl`, then 1 to 100
(`maxOccurs="100"`) `Notification` elements of an `Id` and an `sObject` whose
fields are in `urn:sobject.enterprise.soap.sforce.com`. Salesforce counts a
message delivered only when the answer is the `notificationsResponse` with
`<Ack>true</Ack>`; anything else is sent again, with growing gaps of at most two
hours, for 24 hours ("Understanding Notifications", Outbound Messaging). A
record deleted before the message went "contains no data" (Help, "Considerations
for Outbound Messages"): no sObject, or one without an Id.

The body is parsed with defusedxml: a DTD, an entity declaration or an external
reference is refused before anything is expanded (billion laughs, XXE), so only
plain elements and text reach the code below.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape

from pydantic import SecretStr

from connectors.salesforce.records import sobject_of
from sync.web.messages import Refused, WebhookResponse

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND = "http://soap.sforce.com/2005/09/outbound"
SOBJECT = "urn:sobject.enterprise.soap.sforce.com"
MAX_NOTIFICATIONS = 100
"""The WSDL's `maxOccurs` of `Notification`: Salesforce sends at most 100 at once."""
XML = "text/xml; charset=utf-8"

ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}"><soapenv:Body>'
    f'<notificationsResponse xmlns="{OUTBOUND}"><Ack>true</Ack></notificationsResponse>'
    "</soapenv:Body></soapenv:Envelope>"
).encode()
"""The one answer Salesforce takes as delivered (the WSDL's `notificationsResponse`)."""

_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")
_ORG = re.compile(r"00D[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?")
_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


@dataclass(frozen=True)
class Notification:
    id: str
    """The notification's own id: the same on every delivery of it."""
    record: str | None
    """The Lead or Contact (18 characters); None: the record was deleted (no data)."""


@dataclass(frozen=True)
class OutboundMessage:
    org_id: str
    notifications: tuple[Notification, ...]


def ack_response() -> WebhookResponse:
    return WebhookResponse(200, {"content-type": XML}, ACK)


def soap_fault(refused: Refused) -> WebhookResponse:
    """A SOAP 1.1 Fault with the refusal's reason: Salesforce shows it in the org's
    Outbound Messages queue and sends the message again. A refusal retrying may
    cure (429, 5xx) is answered 503 with its Retry-After; others keep their 4xx."""
    retry = refused.status == 429 or refused.status >= 500
    status = 503 if refused.status == 429 else refused.status
    code = "soapenv:Server" if retry else "soapenv:Client"
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}"><soapenv:Body><soapenv:Fault>'
        f"<faultcode>{code}</faultcode><faultstring>{escape(refused.reason)}</faultstring>"
        "</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    ).encode()
    headers = {k: v for k, v in refused.response().headers.items() if k != "content-type"}
    return WebhookResponse(status, {"content-type": XML, **headers}, body)


def case_safe(record_id: str) -> str:
    """The 18-character form of a 15-character id: three letters, each of which says
    which of five characters are upper case (the documented case-safe suffix, as the
    CASESAFEID formula gives it)."""
    suffix = ""
    for start in (0, 5, 10):
        bits = sum(1 << i for i, char in enumerate(record_id[start : start + 5]) if char.isupper())
        suffix += _SUFFIX[bits]
    return record_id[:15] + suffix


def person_id(value: object, what: str) -> str:
    """A Lead (00Q) or Contact (003) id, 15 or 18 characters, as its 18-character form;
    `Refused(400)` naming `what` (never the value) for anything else."""
    if not isinstance(value, str) or _ID.fullmatch(value) is None:
        raise Refused(400, f"{what} is not a Salesforce id (15 or 18 letters and digits)")
    if len(value) == 18 and case_safe(value[:15]) != value[:15] + value[15:].upper():
        raise Refused(400, f"{what} is not a Salesforce id (its last 3 characters do not match)")
    if sobject_of(value) is None:
        raise Refused(400, f"{what} is not a Lead (00Q...) or Contact (003...) id")
    return case_safe(value[:15])


def same_secret(given: str | None, secret: SecretStr, where: str) -> None:
    """`Refused(401)` when no secret came, `Refused(403)` when another one did; the
    comparison takes the same time wherever the two differ."""
    if not given:
        raise Refused(401, f"the shared secret is missing ({where})")
    if not hmac.compare_digest(given.encode(), secret.get_secret_value().encode()):
        raise Refused(403, f"the shared secret does not match ({where})")


def same_org(given: str, expected: str) -> bool:
    """Whether two org ids (15 or 18 characters) name one org: their first 15
    characters, case and all (the last 3 only make an id case-insensitive)."""
    return hmac.compare_digest(given[:15].encode(), expected[:15].encode())


def parse_outbound(body: bytes) -> OutboundMessage:
    """The notifications of an Outbound Message; `Refused(400)` for anything else."""
    envelope = _xml(body)
    soap_body = (
        envelope.find(f"{{{SOAP_ENV}}}Body") if envelope.tag == f"{{{SOAP_ENV}}}Envelope" else None
    )
    found = soap_body.find(f"{{{OUTBOUND}}}notifications") if soap_body is not None else None
    if found is None:
        raise Refused(400, "expected a SOAP envelope of Outbound Message notifications")
    org = _text(found.find(f"{{{OUTBOUND}}}OrganizationId"))
    if org is None or _ORG.fullmatch(org) is None:
        raise Refused(400, "OrganizationId is not an org id (00D...)")
    elements = found.findall(f"{{{OUTBOUND}}}Notification")
    if not 1 <= len(elements) <= MAX_NOTIFICATIONS:
        raise Refused(400, f"expected 1 to {MAX_NOTIFICATIONS} notifications")
    notifications = []
    for element in elements:
        own = _text(element.find(f"{{{OUTBOUND}}}Id"))
        if own is None or _ID.fullmatch(own) is None:
            raise Refused(400, "a notification's Id is not a Salesforce id")
        sobject = element.find(f"{{{OUTBOUND}}}sObject")
        record = _text(sobject.find(f"{{{SOBJECT}}}Id")) if sobject is not None else None
        person = person_id(record, "a notification's sObject Id") if record else None
        notifications.append(Notification(own, person))
    return OutboundMessage(org, tuple(notifications))


def _xml(body: bytes) -> Element:
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    try:
        return fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise Refused(400, "the XML declares a DTD or entities, which are refused") from None
    except (ParseError, ValueError, LookupError, RecursionError):
        raise Refused(400, "the body is not well-formed XML") from None


def _text(element: Element | None) -> str | None:
    if element is None or element.text is None:
        return None
    return element.text.strip() or None
