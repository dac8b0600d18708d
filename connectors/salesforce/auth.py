"""Logging in to Salesforce through simple-salesforce, and logging in again when a session ends.

Each flow is simple-salesforce's own (`simple_salesforce.login.SalesforceLogin`,
read in its source, version 1.12.10): the JWT bearer flow signs an assertion
(iss: the consumer key, sub: the username, aud: https://login|test.salesforce.com)
and posts it to the token endpoint; the client credentials flow posts
`grant_type=client_credentials` with the consumer key and secret as Basic auth to
the org's My Domain (it refuses login and test); the legacy password flows post
the OAuth password grant or the SOAP `login()`. The client is then built on the
session id it got (simple-salesforce's "direct" mode), so that it never logs in
again on its own: `SalesforceLogin` is called here, once per expired session, and
an access token given in the settings is used as it is and cannot be renewed.
Every credential and every session id is registered with `register_secret`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connectors.errors import AuthError, register_secret
from connectors.salesforce.settings import SalesforceSettings

if TYPE_CHECKING:
    import requests


@dataclass(frozen=True)
class Session:
    """A session id and the instance it belongs to (`host` or `host:port`)."""

    session_id: str
    instance: str


def secret(value: Any) -> str | None:
    """The text of a SecretStr (or a plain value), registered to be scrubbed from errors."""
    if value is None:
        return None
    text = value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)
    register_secret(text)
    return str(text)


def instance_of(url: str) -> str:
    """`host` or `host:port` of an instance URL, as simple-salesforce keeps it."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{host}:{parts.port}" if parts.port not in (None, 443) else host


def login_for(
    settings: SalesforceSettings, session: requests.Session
) -> Callable[[], Session] | None:
    """How to get a new session for `settings`; None when the settings hold only a token."""
    from simple_salesforce.login import SalesforceLogin

    flow = settings.flow
    if flow in (None, "token"):
        return None
    arguments: dict[str, Any] = {
        "session": session,
        "sf_version": settings.api_version,
        "domain": settings.login_domain(),
    }
    if flow == "jwt":
        arguments |= {"username": settings.username, "consumer_key": settings.client_id}
    elif flow == "client_credentials":
        arguments |= {
            "consumer_key": settings.client_id,
            "consumer_secret": secret(settings.client_secret),
        }
    else:
        arguments |= {"username": settings.username, "password": secret(settings.password)}
        if settings.client_id and settings.client_secret is not None:
            arguments |= {
                "consumer_key": settings.client_id,
                "consumer_secret": secret(settings.client_secret),
            }
        else:
            arguments["security_token"] = secret(settings.security_token)
    if settings.client_secret is not None:
        secret(settings.client_secret)

    def login() -> Session:
        if flow == "jwt":
            arguments["privatekey"] = signing_key(settings)
        session_id, instance = SalesforceLogin(**arguments)
        register_secret(session_id)
        return Session(session_id, instance)

    return login


def signing_key(settings: SalesforceSettings) -> str:
    """The JWT bearer flow's private key, read (from its file, on each login) and tried
    on a signature: an `AuthError` naming the setting when it cannot be read or used,
    never the key itself."""
    import jwt

    if settings.private_key is not None:
        setting, key = "PRIVATE_KEY", secret(settings.private_key) or ""
    else:
        setting = "PRIVATE_KEY_FILE"
        try:
            key = Path(str(settings.private_key_file)).read_text("utf-8")
        except (OSError, ValueError) as exc:
            problem = getattr(exc, "strerror", None) or type(exc).__name__
            raise AuthError(
                "salesforce",
                "login",
                f"LEADSCORE_SALESFORCE__{setting}: cannot read "
                f"{settings.private_key_file} ({problem})",
            ) from None
        register_secret(key)
    try:
        jwt.encode({"aud": "leadscore"}, key, algorithm="RS256")
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise AuthError(
            "salesforce",
            "login",
            f"LEADSCORE_SALESFORCE__{setting}: not a usable RSA "
            f"private key ({type(exc).__name__}); give the PEM key of the connected app's "
            "certificate",
        ) from None
    return key


def first_session(settings: SalesforceSettings) -> Session | None:
    """The session the settings give outright (an access token); None for a login flow."""
    if settings.flow != "token":
        return None
    token = secret(settings.access_token)
    assert token is not None and settings.instance_url is not None
    return Session(token, instance_of(settings.instance_url))


def client_for(session: Session, http: requests.Session, version: str) -> Any:
    """A simple-salesforce client on `session` (it never logs in by itself), its answers'
    objects read as plain dicts (ordered as the answer gives them, as every dict is)
    rather than the `OrderedDict` it makes by default: a pair hook is a Python call per
    object, about half of reading a collection update's 200 results."""
    from simple_salesforce.api import Salesforce

    return Salesforce(
        instance=session.instance, session_id=session.session_id, session=http, version=version,
        object_pairs_hook=None,
    )  # fmt: skip
