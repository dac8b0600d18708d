"""The JWT of Salesforce's OAuth 2.0 JWT bearer flow, checked as the token endpoint checks it.

Follows Salesforce Help, "OAuth 2.0 JWT Bearer Flow for Server-to-Server
Integration": the assertion is signed RS256 with the connected app's private
key and verified with the certificate uploaded to the app; `iss` is the app's
client id, `sub` the user's username, `aud` the login host
(https://login.salesforce.com, or https://test.salesforce.com for a sandbox org)
and `exp` the expiry in seconds since the epoch. Refusals are the OAuth error
pairs users report from Salesforce; sources in docs/sandbox.md (Salesforce).

PyJWT and cryptography are imported when an assertion arrives, so that the
rest of the sandbox runs without them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

INVALID_ASSERTION = ("invalid_grant", "invalid assertion")
UNKNOWN_CLIENT = ("invalid_client_id", "client identifier invalid")
WRONG_AUDIENCE = ("invalid_grant", "audience is invalid")
EXPIRED = ("invalid_grant", "expired authorization code")
NOT_APPROVED = ("invalid_grant", "user hasn't approved this consumer")


@dataclass(frozen=True)
class Expected:
    """What a valid assertion names: the app, the user, the login host; and the time now."""

    client_id: str
    username: str
    audience: str
    now: float
    approved: bool


def assertion_failure(
    assertion: str, certificate: bytes | None, expected: Expected
) -> tuple[str, str] | None:
    """The OAuth error and description Salesforce answers for this assertion, or None."""
    import jwt

    try:
        header = jwt.get_unverified_header(assertion)
        claims: dict[str, Any] = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        return INVALID_ASSERTION
    if claims.get("iss") != expected.client_id:
        return UNKNOWN_CLIENT
    if header.get("alg") != "RS256" or certificate is None:
        return INVALID_ASSERTION
    try:
        key = _public_key(certificate)
        unchecked = {"verify_exp": False, "verify_aud": False, "verify_iat": False}
        jwt.decode(assertion, key, algorithms=["RS256"], options=unchecked)  # type: ignore[arg-type]
    except (jwt.PyJWTError, ValueError):
        return INVALID_ASSERTION
    if claims.get("aud") != expected.audience:
        return WRONG_AUDIENCE
    try:
        expires = float(claims["exp"])  # simple-salesforce sends it as a string of digits
    except (KeyError, TypeError, ValueError):
        return INVALID_ASSERTION
    if expires <= expected.now:
        return EXPIRED
    if claims.get("sub") != expected.username:
        return INVALID_ASSERTION
    if not expected.approved:
        return NOT_APPROVED
    return None


def _public_key(certificate: bytes) -> Any:
    """The RSA public key of a PEM certificate (or of a bare PEM public key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    if b"BEGIN CERTIFICATE" in certificate:
        return x509.load_pem_x509_certificate(certificate).public_key()
    return load_pem_public_key(certificate)
