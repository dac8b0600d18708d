"""Logging in to the Salesforce sandbox as Salesforce wants it now, through simple-salesforce.

The OAuth 2.0 client credentials flow (My Domain only), the JWT bearer flow
(an RS256 assertion checked against the connected app's certificate), a
Salesforce sandbox org at test.salesforce.com, and sessions that end after a
time without calls. Every test runs the real SDK, or plain `requests` where the
SDK would hide the answer, against a sandbox on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceExpiredSession

from sandbox.clock import SandboxClock
from sandbox.salesforce import SalesforceSandbox, connect, sandbox_session

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
TOKEN_PATH = "/services/oauth2/token"


class SteppedClock(SandboxClock):
    """Vendor time that moves only when a test moves it."""

    def __init__(self) -> None:
        super().__init__()
        self.offset = 0.0

    def now(self) -> float:
        return self.offset


def key_pair() -> tuple[str, bytes]:
    """A private key (PEM text) and a self-signed certificate (PEM bytes) of a connected app."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "leadscore")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return private.decode(), certificate.public_bytes(serialization.Encoding.PEM)


APP_KEY, APP_CERTIFICATE = key_pair()
OTHER_KEY, _ = key_pair()


def org(**options: Any) -> SalesforceSandbox:
    """An empty org whose clock starts at NOW, with the connected app's certificate."""
    world_clock = SteppedClock()
    sandbox = SalesforceSandbox(None, clock=world_clock, certificate=APP_CERTIFICATE, **options)
    sandbox.login.now = lambda: NOW.timestamp() + world_clock.now()
    return sandbox


@pytest.fixture
def sandbox() -> Iterator[SalesforceSandbox]:
    with org() as running:
        yield running


def token_request(sandbox: SalesforceSandbox, host: str, **form: str) -> Any:
    """A token request as a client would send it to `host`; the status and the JSON."""
    answer = sandbox_session(sandbox).post(f"https://{host}{TOKEN_PATH}", data=form, timeout=5)
    return answer.status_code, answer.json()


def assertion(sandbox: SalesforceSandbox, key: str = APP_KEY, **claims: Any) -> str:
    """A JWT bearer assertion for the sandbox's user and app, valid for three minutes."""
    payload = {"iss": sandbox.login.consumer_key, "sub": sandbox.login.username,
               "aud": "https://login.salesforce.com", "exp": int(NOW.timestamp()) + 180}  # fmt: skip
    return jwt.encode(payload | claims, key, algorithm="RS256")


# -- client credentials ------------------------------------------------------------------------


def test_client_credentials_on_my_domain_log_the_sdk_in(sandbox: SalesforceSandbox) -> None:
    sf = connect(sandbox, "client_credentials")
    status, token = token_request(sandbox, "leadscore-sandbox.my.salesforce.com",
                                  grant_type="client_credentials",
                                  client_id=sandbox.login.consumer_key,
                                  client_secret=sandbox.login.consumer_secret)  # fmt: skip

    assert sf.auth_type == "client-credentials"
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 0
    assert status == 200
    assert set(token) == {"access_token", "signature", "scope", "instance_url", "id",
                          "token_type", "issued_at"}  # fmt: skip
    assert "refresh_token" not in token


@pytest.mark.parametrize("host", ["login.salesforce.com", "test.salesforce.com"])
def test_client_credentials_are_refused_on_the_shared_login_hosts(
    sandbox: SalesforceSandbox, host: str
) -> None:
    status, answer = token_request(sandbox, host, grant_type="client_credentials",
                                   client_id=sandbox.login.consumer_key,
                                   client_secret=sandbox.login.consumer_secret)  # fmt: skip

    assert (status, answer) == (400, {"error": "invalid_grant",
                                      "error_description": "request not supported on this domain"})  # fmt: skip


def test_a_wrong_client_secret_is_invalid_client(sandbox: SalesforceSandbox) -> None:
    with pytest.raises(SalesforceAuthenticationFailed) as refused:
        connect(sandbox, "client_credentials", consumer_secret="wrong")

    assert (refused.value.code, refused.value.auth_message) == ("invalid_client",
                                                           "invalid client credentials")  # fmt: skip


def test_an_app_without_a_run_as_user_cannot_use_client_credentials(
    sandbox: SalesforceSandbox,
) -> None:
    sandbox.login.run_as = False

    with pytest.raises(SalesforceAuthenticationFailed) as refused:
        connect(sandbox, "client_credentials")

    assert refused.value.auth_message == "no client credentials user enabled"


# -- JWT bearer --------------------------------------------------------------------------------


def test_a_jwt_signed_with_the_apps_key_logs_the_sdk_in(sandbox: SalesforceSandbox) -> None:
    sf = connect(sandbox, "jwt", privatekey=APP_KEY)

    assert sf.auth_type == "jwt-bearer"
    assert sf.sf_instance == "leadscore-sandbox.my.salesforce.com"
    assert sf.query("SELECT COUNT() FROM Contact")["totalSize"] == 0
    assert sandbox.calls["oauth.token"] == 1


def test_a_jwt_from_a_key_file_on_my_domain_logs_the_sdk_in(
    sandbox: SalesforceSandbox, tmp_path: Any
) -> None:
    key_file = tmp_path / "app.key"
    key_file.write_text(APP_KEY)

    sf = connect(sandbox, "jwt", privatekey_file=str(key_file),
                 instance_url="leadscore-sandbox.my")  # fmt: skip

    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 0


@pytest.mark.parametrize(
    ("claims", "key", "error"),
    [({}, OTHER_KEY, ("invalid_grant", "invalid assertion")),
     ({"iss": "someone-else"}, APP_KEY, ("invalid_client_id", "client identifier invalid")),
     ({"aud": "https://test.salesforce.com"}, APP_KEY, ("invalid_grant", "audience is invalid")),
     ({"exp": int(NOW.timestamp()) - 1}, APP_KEY, ("invalid_grant", "expired authorization code")),
     ({"sub": "nobody@example.com"}, APP_KEY, ("invalid_grant", "invalid assertion"))],
    ids=["other key", "other app", "other audience", "expired", "other user"],
)  # fmt: skip
def test_a_bad_jwt_is_refused_as_salesforce_refuses_it(
    sandbox: SalesforceSandbox, claims: dict[str, Any], key: str, error: tuple[str, str]
) -> None:
    grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    status, answer = token_request(sandbox, "login.salesforce.com", grant_type=grant,
                                   assertion=assertion(sandbox, key, **claims))  # fmt: skip

    assert (status, answer) == (400, {"error": error[0], "error_description": error[1]})


def test_a_garbled_assertion_is_an_invalid_assertion(sandbox: SalesforceSandbox) -> None:
    grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    status, answer = token_request(sandbox, "login.salesforce.com", grant_type=grant,
                                   assertion="not.a.jwt")  # fmt: skip

    assert (status, answer["error_description"]) == (400, "invalid assertion")


def test_a_user_not_approved_for_the_app_gets_the_sdk_warning(sandbox: SalesforceSandbox) -> None:
    sandbox.login.approved = False

    with (
        pytest.warns(UserWarning, match="self-authorize"),
        pytest.raises(SalesforceAuthenticationFailed) as refused,
    ):
        connect(sandbox, "jwt", privatekey=APP_KEY)

    assert refused.value.auth_message == "user hasn't approved this consumer"


def test_an_app_without_a_certificate_refuses_every_assertion() -> None:
    with (
        SalesforceSandbox(None) as sandbox,
        pytest.raises(SalesforceAuthenticationFailed) as refused,
    ):
        connect(sandbox, "jwt", privatekey=APP_KEY)

    assert (refused.value.code, refused.value.auth_message) == (
        "invalid_grant",
        "invalid assertion",
    )


# -- a Salesforce sandbox org ------------------------------------------------------------------


@pytest.mark.parametrize("flow", ["oauth", "soap", "jwt"])
def test_a_sandbox_org_logs_in_at_test_salesforce_com(flow: Any) -> None:
    with org(login_host="test.salesforce.com") as sandbox:
        sf = connect(sandbox, flow, **({"privatekey": APP_KEY} if flow == "jwt" else {}))

        assert sandbox.credentials(flow)["domain"] == "test"
        assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 0


@pytest.mark.parametrize("flow", ["oauth", "soap", "jwt"])
def test_a_sandbox_org_refuses_logins_at_login_salesforce_com(flow: Any) -> None:
    with org(login_host="test.salesforce.com") as sandbox:
        extra = {"privatekey": APP_KEY} if flow == "jwt" else {}
        with pytest.raises(SalesforceAuthenticationFailed) as refused:
            connect(sandbox, flow, domain="login", **extra)

    expected = {"oauth": "authentication failure", "soap": "Invalid username, password",
                "jwt": "audience is invalid"}  # fmt: skip
    assert expected[flow] in str(refused.value.auth_message)


def test_a_sandbox_orgs_identity_url_and_soap_result_say_so() -> None:
    with org(login_host="test.salesforce.com") as sandbox:
        session = sandbox_session(sandbox)
        form = {"grant_type": "password", "username": sandbox.login.username,
                "password": sandbox.login.password, "client_id": sandbox.login.consumer_key,
                "client_secret": sandbox.login.consumer_secret}  # fmt: skip
        token = session.post(f"https://test.salesforce.com{TOKEN_PATH}", data=form, timeout=5)
        envelope = ('<?xml version="1.0"?><e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/'
                    'envelope/" xmlns:u="urn:partner.soap.sforce.com"><e:Body><u:login>'
                    f"<u:username>{sandbox.login.username}</u:username>"
                    f"<u:password>{sandbox.login.password}</u:password></u:login></e:Body>"
                    "</e:Envelope>")  # fmt: skip
        soap = session.post("https://test.salesforce.com/services/Soap/u/59.0", data=envelope,
                            headers={"SOAPAction": "login"}, timeout=5)  # fmt: skip

    assert token.json()["id"].startswith("https://test.salesforce.com/id/")
    assert "<sandbox>true</sandbox>" in soap.text


# -- sessions that time out --------------------------------------------------------------------


def session_client(sandbox: SalesforceSandbox) -> Salesforce:
    """A client holding only a token (no login of its own), as a connector that logs in
    itself would hold one."""
    token = connect(sandbox, "client_credentials").session_id
    return Salesforce(instance_url="https://leadscore-sandbox.my.salesforce.com",
                      session_id=token, session=sandbox_session(sandbox))  # fmt: skip


def test_a_session_ends_after_its_lifetime_without_calls() -> None:
    with org(session_seconds=900) as sandbox:
        sf = session_client(sandbox)
        clock = sandbox.clock
        assert isinstance(clock, SteppedClock)
        clock.offset += 899
        sf.query("SELECT COUNT() FROM Lead")  # a call restarts the inactivity timer
        clock.offset += 899
        sf.query("SELECT COUNT() FROM Lead")
        clock.offset += 900

        with pytest.raises(SalesforceExpiredSession) as expired:
            sf.query("SELECT COUNT() FROM Lead")

    assert expired.value.content == [  # type: ignore[comparison-overlap]
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]


def test_the_sdk_logs_in_again_when_its_session_timed_out() -> None:
    with org() as sandbox:
        sf = connect(sandbox, "jwt", privatekey=APP_KEY)
        clock = sandbox.clock
        assert isinstance(clock, SteppedClock)
        clock.offset += 2 * 3600  # the default lifetime: two hours

        assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 0
        assert sandbox.calls["oauth.token"] == 2
        assert len(sandbox.login.sessions) == 1


def test_issued_at_is_the_orgs_time_not_the_machines() -> None:
    with org() as sandbox:
        status, token = token_request(sandbox, "leadscore-sandbox.my.salesforce.com",
                                      grant_type="client_credentials",
                                      client_id=sandbox.login.consumer_key,
                                      client_secret=sandbox.login.consumer_secret)  # fmt: skip

    assert (status, int(token["issued_at"])) == (200, int(NOW.timestamp() * 1000))
