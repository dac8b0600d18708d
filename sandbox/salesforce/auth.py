"""Logging in to the Salesforce sandbox: the OAuth 2.0 username-password flow and SOAP login().

Follows the REST API Developer Guide ("OAuth 2.0 Username-Password Flow") and
the SOAP API Developer Guide (`login()` and its LoginFault), down to the names
simple-salesforce reads from the answers. Simplifies: one user and one connected
app; sessions never expire on their own. Requests are parsed with defusedxml,
DTDs and entities refused. Details: docs/sandbox.md (Salesforce).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qs
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from sandbox.http import Request, Response

BAD_LOGIN = "Invalid username, password, security token; or user locked out."


@dataclass
class Login:
    """One user's credentials, one connected app, and the sessions issued to them."""

    username: str
    password: str
    security_token: str
    consumer_key: str
    consumer_secret: str
    org_id: str
    user_id: str
    instance: str
    sessions: set[str] = field(default_factory=set)
    issued: int = 0

    def credentials(self, flow: Literal["oauth", "soap"] = "oauth") -> dict[str, str]:
        """Keyword arguments for `simple_salesforce.Salesforce` for one login flow."""
        user = {"username": self.username, "password": self.password}
        if flow == "soap":
            return user | {"security_token": self.security_token}
        return user | {"consumer_key": self.consumer_key, "consumer_secret": self.consumer_secret}

    def password_ok(self, username: str, password: str) -> bool:
        known = (self.password, self.password + self.security_token)
        return username == self.username and password in known

    def new_session(self) -> str:
        self.issued += 1
        digest = hashlib.sha256(f"{self.org_id}:{self.issued}".encode()).hexdigest()
        token = f"{self.org_id[:15]}!AQ{digest[:96]}"
        self.sessions.add(token)
        return token

    def oauth_token(self, request: Request) -> Response:
        form = {k: v[-1] for k, v in parse_qs(request.body.decode()).items()}
        failure = self._oauth_failure(form)
        if failure:
            return Response.json({"error": failure[0], "error_description": failure[1]}, 400)
        identity = f"https://login.salesforce.com/id/{self.org_id}/{self.user_id}"
        issued = str(int(time.time() * 1000))
        key = self.consumer_secret.encode()
        signature = hmac.new(key, (identity + issued).encode(), hashlib.sha256).digest()
        return Response.json(
            {
                "access_token": self.new_session(),
                "instance_url": f"https://{self.instance}",
                "id": identity,
                "token_type": "Bearer",
                "issued_at": issued,
                "signature": base64.b64encode(signature).decode(),
            }
        )

    def _oauth_failure(self, form: dict[str, str]) -> tuple[str, str] | None:
        if form.get("grant_type") != "password":
            return "unsupported_grant_type", "grant type not supported"
        if form.get("client_id") != self.consumer_key:
            return "invalid_client_id", "client identifier invalid"
        if form.get("client_secret") != self.consumer_secret:
            return "invalid_client", "invalid client credentials"
        if not self.password_ok(form.get("username", ""), form.get("password", "")):
            return "invalid_grant", "authentication failure"
        return None

    def soap_login(self, request: Request) -> Response:
        login = read_login(request.body)
        if login is None or not self.password_ok(*login):
            return fault_response("INVALID_LOGIN", BAD_LOGIN)
        base = f"https://{self.instance}/services/Soap"
        version, org = request.params["soap_version"], self.org_id[:15]
        return login_response(
            server=f"{base}/u/{version}/{org}",
            metadata=f"{base}/m/{version}/{org}",
            session=self.new_session(),
            user_id=self.user_id,
            org_id=self.org_id,
            username=escape(self.username),
        )


_HEAD = '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
_HEAD += 'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '


def read_login(body: bytes) -> tuple[str, str] | None:
    """The username and password of a SOAP login request, or None if it is not one."""
    try:
        root = fromstring(body, forbid_dtd=True)
    except (ParseError, DefusedXmlException, ValueError):
        return None
    login = next((e for e in root.iter() if _local(e) == "login"), None)
    if login is None:
        return None
    values = {_local(child): child.text or "" for child in login}
    if "username" not in values or "password" not in values:
        return None
    return values["username"], values["password"]


def _local(element: Element) -> str:
    return element.tag.rpartition("}")[2]


def login_response(
    *, server: str, metadata: str, session: str, user_id: str, org_id: str, username: str
) -> Response:
    result = (
        f"<metadataServerUrl>{metadata}</metadataServerUrl>"
        "<passwordExpired>false</passwordExpired><sandbox>false</sandbox>"
        f"<serverUrl>{server}</serverUrl><sessionId>{session}</sessionId>"
        f"<userId>{user_id}</userId><userInfo><organizationId>{org_id}</organizationId>"
        "<organizationName>leadscore sandbox</organizationName>"
        f"<userEmail>{username}</userEmail><userFullName>Sandbox User</userFullName>"
        f"<userId>{user_id}</userId><userName>{username}</userName></userInfo>"
    )
    envelope = _HEAD + 'xmlns="urn:partner.soap.sforce.com" '
    envelope += 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
    envelope += f"<loginResponse><result>{result}</result></loginResponse>"
    envelope += "</soapenv:Body></soapenv:Envelope>"
    return Response(200, envelope.encode(), {"Content-Type": "text/xml;charset=UTF-8"})


def fault_response(code: str, message: str) -> Response:
    """A SOAP fault as Salesforce sends one (HTTP 500)."""
    code, message = escape(code), escape(message)
    envelope = _HEAD + 'xmlns:sf="urn:fault.partner.soap.sforce.com" '
    envelope += 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
    envelope += f"<soapenv:Fault><faultcode>sf:{code}</faultcode>"
    envelope += f"<faultstring>{code}: {message}</faultstring><detail>"
    envelope += '<sf:LoginFault xsi:type="sf:LoginFault">'
    envelope += f"<sf:exceptionCode>{code}</sf:exceptionCode>"
    envelope += f"<sf:exceptionMessage>{message}</sf:exceptionMessage>"
    envelope += "</sf:LoginFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    return Response(500, envelope.encode(), {"Content-Type": "text/xml;charset=UTF-8"})
