"""Logging in to the Salesforce sandbox: OAuth 2.0 flows, SOAP login() and session lifetime.

Follows Salesforce Help and the REST API Developer Guide for the OAuth 2.0
client credentials flow (served only on the org's My Domain), the JWT bearer
flow (`assertion` checks the JWT) and the username-password flow, and the SOAP
API Developer Guide for `login()` and its LoginFault, down to the names
simple-salesforce reads from the answers. The last two are kept as Salesforce
keeps them, as legacy flows it is retiring. A session ends after
`session_seconds` of the org's time without a call (the "Session timeout" of
Security Controls, two hours by default). Simplifies: one user and one
connected app. Requests are parsed with defusedxml, DTDs and entities refused.
Details: docs/sandbox.md (Salesforce).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qs
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from sandbox.http import Request, Response
from sandbox.salesforce.assertion import Expected, assertion_failure

BAD_LOGIN = "Invalid username, password, security token; or user locked out."
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
LOGIN_HOSTS = ("login.salesforce.com", "test.salesforce.com")
"""The shared login hosts; every other host reaching the sandbox is the org's My Domain."""

Flow = Literal["oauth", "soap", "jwt", "client_credentials"]


@dataclass
class Login:
    """One user's credentials, one connected app, and the sessions issued to them.

    `now` is the org's clock (seconds since the epoch). `login_host` is the shared
    login host of the org: test.salesforce.com for a Salesforce sandbox org.
    `certificate` is the PEM certificate (or public key) uploaded to the connected
    app for the JWT bearer flow; `approved` whether the user is pre-authorized for the
    app; `run_as` whether the app has a client credentials "Run As" user.
    """

    username: str
    password: str
    security_token: str
    consumer_key: str
    consumer_secret: str
    org_id: str
    user_id: str
    instance: str
    now: Callable[[], float] = time.time
    session_seconds: float = 7200.0
    login_host: str = "login.salesforce.com"
    certificate: bytes | None = None
    approved: bool = True
    run_as: bool = True
    sessions: dict[str, float] = field(default_factory=dict)
    """Each live session's token and the org time of its last call."""
    issued: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def credentials(self, flow: Flow = "oauth") -> dict[str, str]:
        """Keyword arguments for `simple_salesforce.Salesforce` for one login flow (for
        "jwt", the caller adds `privatekey` or `privatekey_file`)."""
        domain = {"domain": self.login_host.split(".")[0]}
        if flow == "client_credentials":
            my_domain = self.instance.removesuffix(".salesforce.com")
            app = {"consumer_key": self.consumer_key, "consumer_secret": self.consumer_secret}
            return app | {"domain": my_domain}
        if flow == "jwt":
            return {"username": self.username, "consumer_key": self.consumer_key} | domain
        user = {"username": self.username, "password": self.password} | domain
        if flow == "soap":
            return user | {"security_token": self.security_token}
        return user | {"consumer_key": self.consumer_key, "consumer_secret": self.consumer_secret}

    def password_ok(self, username: str, password: str) -> bool:
        known = (self.password, self.password + self.security_token)
        return username == self.username and password in known

    def new_session(self) -> str:
        with self._lock:
            self.issued += 1
            digest = hashlib.sha256(f"{self.org_id}:{self.issued}".encode()).hexdigest()
            token = f"{self.org_id[:15]}!AQ{digest[:96]}"
            self.sessions[token] = self.now()
        return token

    def touch(self, token: str) -> bool:
        """Whether a session is live; a call to it restarts its inactivity timer."""
        with self._lock:
            last = self.sessions.get(token)
            if last is None:
                return False
            now = self.now()
            if now - last >= self.session_seconds:
                del self.sessions[token]
                return False
            self.sessions[token] = now
            return True

    def end(self, token: str) -> None:
        """End a session, as a timeout, a revocation or a password change would."""
        with self._lock:
            self.sessions.pop(token, None)

    # -- OAuth 2.0 -------------------------------------------------------------------------

    def oauth_token(self, request: Request) -> Response:
        form = {k: v[-1] for k, v in parse_qs(request.body.decode()).items()}
        host = request.headers.get("host", "").partition(":")[0].lower()
        grant = form.get("grant_type")
        if grant == "password":
            failure = self._password_failure(form, host)
        elif grant == "client_credentials":
            failure = self._client_failure(form, request.headers.get("authorization", ""), host)
        elif grant == JWT_GRANT:
            failure = self._jwt_failure(form.get("assertion", ""), host)
        else:
            failure = ("unsupported_grant_type", "grant type not supported")
        if failure:
            return Response.json({"error": failure[0], "error_description": failure[1]}, 400)
        return self._token(scope="api" if grant == "client_credentials" else None)

    def _token(self, scope: str | None) -> Response:
        identity = f"https://{self.login_host}/id/{self.org_id}/{self.user_id}"
        issued = str(int(self.now() * 1000))
        key = self.consumer_secret.encode()
        signature = hmac.new(key, (identity + issued).encode(), hashlib.sha256).digest()
        answer = {
            "access_token": self.new_session(),
            "signature": base64.b64encode(signature).decode(),
            **({"scope": scope} if scope else {}),
            "instance_url": f"https://{self.instance}",
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued,
        }
        return Response.json(answer)

    def _other_login_host(self, host: str) -> bool:
        """A shared login host that is not this org's (login for a sandbox org, or test)."""
        return host in LOGIN_HOSTS and host != self.login_host

    def _password_failure(self, form: dict[str, str], host: str) -> tuple[str, str] | None:
        if form.get("client_id") != self.consumer_key:
            return "invalid_client_id", "client identifier invalid"
        if form.get("client_secret") != self.consumer_secret:
            return "invalid_client", "invalid client credentials"
        ok = self.password_ok(form.get("username", ""), form.get("password", ""))
        if not ok or self._other_login_host(host):
            return "invalid_grant", "authentication failure"
        return None

    def _client_failure(
        self, form: dict[str, str], authorization: str, host: str
    ) -> tuple[str, str] | None:
        client_id, secret = form.get("client_id"), form.get("client_secret")
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() == "basic":
            try:
                client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return "invalid_client", "invalid client credentials"
        if host in LOGIN_HOSTS:
            return "invalid_grant", "request not supported on this domain"
        if client_id != self.consumer_key:
            return "invalid_client_id", "client identifier invalid"
        if secret != self.consumer_secret:
            return "invalid_client", "invalid client credentials"
        if not self.run_as:
            return "invalid_grant", "no client credentials user enabled"
        return None

    def _jwt_failure(self, assertion: str, host: str) -> tuple[str, str] | None:
        expected = Expected(
            client_id=self.consumer_key,
            username=self.username,
            audience=f"https://{self.login_host}",
            now=self.now(),
            approved=self.approved,
        )
        return assertion_failure(assertion, self.certificate, expected)

    def userinfo(self, request: Request) -> Response:
        """The UserInfo endpoint: who the token's user is (Salesforce Help, "Query for User
        Information"); a bad or ended token answers 403 `Bad_OAuth_Token`."""
        token = request.headers.get("authorization", "").partition(" ")[2]
        token = token or request.arg("oauth_token") or request.arg("access_token") or ""
        if not self.touch(token):
            return Response.text("Bad_OAuth_Token", 403)
        identity = f"https://{self.login_host}/id/{self.org_id}/{self.user_id}"
        answer = {
            "sub": identity,
            "user_id": self.user_id,
            "organization_id": self.org_id,
            "preferred_username": self.username,
            "email": self.username,
            "email_verified": True,
        }
        return Response.json(answer)

    # -- SOAP ------------------------------------------------------------------------------

    def soap_login(self, request: Request) -> Response:
        login = read_login(request.body)
        host = request.headers.get("host", "").partition(":")[0].lower()
        if login is None or not self.password_ok(*login) or self._other_login_host(host):
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
            sandbox=self.login_host != LOGIN_HOSTS[0],
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
    *,
    server: str,
    metadata: str,
    session: str,
    user_id: str,
    org_id: str,
    username: str,
    sandbox: bool = False,
) -> Response:
    result = (
        f"<metadataServerUrl>{metadata}</metadataServerUrl>"
        f"<passwordExpired>false</passwordExpired><sandbox>{str(sandbox).lower()}</sandbox>"
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
