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

A notification of a record that is neither a Lead nor a Contact (an Account, as a
Person Account org may send, or any other sObject), or whose Id or sObject Id is
malformed, is skipped, not refused: a fault would make Salesforce send the whole
message for 24 hours, and the good notifications in it would never be acked,
while sending it again cannot change that notification. What the message itself
gets wrong (not SOAP, not notifications, more than 100 of them, no org id) is
still refused (400).

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
XSI = "http://www.w3.org/2001/XMLSchema-instance"
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
_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,79}")


@dataclass(frozen=True)
class Notification:
    id: str
    """The notification's own id: the same on every delivery of it."""
    record: str | None
    """The Lead or Contact (18 characters); None: the record was deleted (no data), or
    the notification is skipped."""
    skipped: str | None = None
    """Why the notification is not handled, as a log may say it: `Account` (the sObject
    type of a record that is neither a Lead nor a Contact) or `malformed id`; None for
    a Lead, a Contact or a deleted record."""
    other: str | None = None
    """The well-formed id of a record neither Lead nor Contact, for the log."""


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


def salesforce_id(value: object, what: str) -> str:
    """A record id, 15 or 18 characters, as its 18-character form; `Refused(400)` naming
    `what` (never the value) for anything else."""
    if not isinstance(value, str) or _ID.fullmatch(value) is None:
        raise Refused(400, f"{what} is not a Salesforce id (15 or 18 letters and digits)")
    if len(value) == 18 and case_safe(value[:15]) != value[:15] + value[15:].upper():
        raise Refused(400, f"{what} is not a Salesforce id (its last 3 characters do not match)")
    return case_safe(value[:15])


def person_id(value: object, what: str) -> str:
    """A Lead (00Q) or Contact (003) id, 15 or 18 characters, as its 18-character form;
    `Refused(400)` naming `what` (never the value) for anything else."""
    record = salesforce_id(value, what)
    if sobject_of(record) is None:
        raise Refused(400, f"{what} is not a Lead (00Q...) or Contact (003...) id")
    return record


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
    """The notifications of an Outbound Message, some perhaps skipped (`notification_of`);
    `Refused(400)` for anything that is not a message of 1 to 100 notifications."""
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
    return OutboundMessage(org, tuple(notification_of(element) for element in elements))


def notification_of(element: Element) -> Notification:
    """One `Notification` element. One that is no Lead or Contact (an Account of a
    Person Account org, any other sObject) or whose id is malformed is skipped, not
    refused: the message's other notifications are still handled and the message
    acked, since sending it again cannot change that notification."""
    own = _text(element.find(f"{{{OUTBOUND}}}Id"))
    sobject = element.find(f"{{{OUTBOUND}}}sObject")
    raw = _text(sobject.find(f"{{{SOBJECT}}}Id")) if sobject is not None else None
    if own is None or _ID.fullmatch(own) is None:
        return Notification("", None, skipped="malformed id")
    if raw is None:
        return Notification(own, None)
    try:
        record = salesforce_id(raw, "a notification's sObject Id")
    except Refused:
        return Notification(own, None, skipped="malformed id")
    if sobject_of(record) is None:
        return Notification(own, None, skipped=sobject_type(sobject, record), other=record)
    return Notification(own, record)


def sobject_type(sobject: Element | None, record: str) -> str:
    """The sObject's `xsi:type` without its prefix (`sf:Account` -> `Account`), or the
    id's key prefix (`001...`) where it has none that reads as a type name."""
    given = sobject.get(f"{{{XSI}}}type", "") if sobject is not None else ""
    name = given.rpartition(":")[2]
    return name if _TYPE.fullmatch(name) else f"{record[:3]}..."


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
