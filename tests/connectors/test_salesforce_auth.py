"""Logging in to Salesforce: which flow the settings choose, what each sends, and a session
renewed once. Unit tests of the requests simple-salesforce makes, with `responses`."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jwt
import pytest
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError

from connectors.errors import AuthError, TransportError
from connectors.policy import CallPolicy
from connectors.salesforce.client import SalesforceApi
from connectors.salesforce.settings import SalesforceSettings
from tests.connectors.test_policy import FakeClock

INSTANCE = "https://acme.my.salesforce.com"
TOKEN_URL = f"{INSTANCE}/services/oauth2/token"
QUERY_URL = f"{INSTANCE}/services/data/v59.0/query/"
EMPTY = {"done": True, "totalSize": 0, "records": []}
LOOKS_PEM = "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n"
"""A PEM block, as the settings check it, that holds no key (the login's check finds that)."""


def api_of(**settings: Any) -> SalesforceApi:
    policy = CallPolicy("salesforce", clock=FakeClock(), seed=1)
    return SalesforceApi(SalesforceSettings(**settings), policy=policy)


def token_answer(token: str = "00D!session-1") -> dict[str, str]:
    return {"access_token": token, "instance_url": INSTANCE, "token_type": "Bearer",
            "id": "https://login.salesforce.com/id/00D/005", "issued_at": "1"}  # fmt: skip


def query(api: SalesforceApi) -> Any:
    return api.query_page("leads.query", "SELECT Id FROM Lead", None)


@pytest.mark.parametrize(
    ("given", "flow"),
    [
        ({"access_token": "t", "instance_url": INSTANCE}, "token"),
        ({"client_id": "k", "username": "u@x.io", "private_key": LOOKS_PEM}, "jwt"),
        ({"client_id": "k", "username": "u@x.io", "private_key_file": "KEY_FILE"}, "jwt"),
        ({"client_id": "k", "client_secret": "s", "my_domain": INSTANCE}, "client_credentials"),
        ({"username": "u@x.io", "password": "p", "security_token": "t"}, "password"),
        ({"username": "u@x.io", "password": "p", "client_id": "k", "client_secret": "s"},
         "password"),
        ({"client_id": "k", "client_secret": "s"}, None),
        ({"username": "u@x.io", "password": "p"}, None),
        ({"access_token": "  "}, None),
    ],
)  # fmt: skip
def test_the_settings_given_choose_the_login_flow(
    given: dict[str, Any], flow: str | None, tmp_path: Path
) -> None:
    if given.get("private_key_file") == "KEY_FILE":
        (tmp_path / "key.pem").write_text(LOOKS_PEM, "utf-8")
        given = given | {"private_key_file": str(tmp_path / "key.pem")}
    settings = SalesforceSettings(**given)

    assert settings.flow == flow and settings.configured is (flow is not None)


def test_bad_settings_are_refused_without_echoing_them() -> None:
    with pytest.raises(ValidationError) as bad_url:
        SalesforceSettings(my_domain="acme.my.salesforce.com/secret-path")
    with pytest.raises(ValidationError):
        SalesforceSettings(permission_set="Lead Score")
    with pytest.raises(ValidationError):
        SalesforceSettings(domain="prod")

    assert "secret-path" not in str(bad_url.value).split("input_value")[0]
    assert SalesforceSettings(api_version="v60.0").api_version == "60.0"


@responses.activate
def test_client_credentials_post_the_app_credentials_to_my_domain() -> None:
    responses.post(TOKEN_URL, json=token_answer())
    responses.get(QUERY_URL, json=EMPTY, headers={"Sforce-Limit-Info": "api-usage=10/1000"})
    api = api_of(client_id="app-key", client_secret="app-secret", my_domain=INSTANCE)

    assert query(api) == EMPTY

    login, call = responses.calls[0].request, responses.calls[1].request
    assert parse_qs(str(login.body)) == {"grant_type": ["client_credentials"]}
    basic = base64.b64encode(b"app-key:app-secret").decode()
    assert login.headers["Authorization"] == f"Basic {basic}"
    assert call.headers["Authorization"] == "Bearer 00D!session-1"
    assert api.policy.budget is not None and api.policy.budget.remaining == 990


@responses.activate
def test_the_jwt_bearer_flow_signs_an_assertion_for_the_login_host() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    responses.post("https://test.salesforce.com/services/oauth2/token", json=token_answer())
    responses.get(QUERY_URL, json=EMPTY)
    api = api_of(client_id="app-key", username="int@acme.io", private_key=pem, domain="test")

    query(api)

    form = parse_qs(str(responses.calls[0].request.body))
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    claims = jwt.decode(form["assertion"][0], key.public_key(), algorithms=["RS256"],
                        audience="https://test.salesforce.com")  # fmt: skip
    assert claims["iss"] == "app-key" and claims["sub"] == "int@acme.io"


@responses.activate
def test_an_expired_session_logs_in_once_more_and_no_further() -> None:
    # Secrets here are long: every credential a connector uses is scrubbed from all error
    # messages of the process, and a one-letter one would garble the other tests' messages.
    expired = [{"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}]
    responses.post(TOKEN_URL, json=token_answer("00D!session-1"))
    responses.post(TOKEN_URL, json=token_answer("00D!session-2"))
    responses.get(QUERY_URL, json=expired, status=401)
    responses.get(QUERY_URL, json=EMPTY)
    responses.get(QUERY_URL, json=expired, status=401)
    responses.get(QUERY_URL, json=expired, status=401)
    api = api_of(client_id="app-key", client_secret="app-secret-2", my_domain=INSTANCE)

    assert query(api) == EMPTY
    with pytest.raises(AuthError) as refused:
        query(api)

    tokens = [c.request.headers.get("Authorization") for c in responses.calls]
    assert tokens.count("Bearer 00D!session-2") == 3 and api.logins == 3
    assert "session-" not in str(refused.value)


@responses.activate
def test_a_refused_login_shows_salesforces_words_and_no_secret() -> None:
    responses.post(TOKEN_URL, status=400,
                   json={"error": "invalid_client", "error_description": "invalid client credentials"})  # fmt: skip
    api = api_of(client_id="k", client_secret="very-secret-value", my_domain=INSTANCE)

    with pytest.raises(AuthError) as refused:
        query(api)

    assert "invalid_client" in str(refused.value)
    assert "very-secret-value" not in str(refused.value)
    assert len(responses.calls) == 1  # a refused login is never retried


@responses.activate
def test_the_concurrent_request_limit_is_waited_out_and_the_header_read_on_errors() -> None:
    busy = [{"errorCode": "REQUEST_LIMIT_EXCEEDED",
             "message": "ConcurrentPerOrgLongTxn Limit exceeded."}]  # fmt: skip
    responses.get(QUERY_URL, json=busy, status=403,
                  headers={"Sforce-Limit-Info": "api-usage=500/1000"})  # fmt: skip
    responses.get(QUERY_URL, json=EMPTY)
    api = api_of(access_token="00D!given", instance_url=INSTANCE)

    assert query(api) == EMPTY

    assert api.policy.calls() == {"leads.query": 2}
    # Salesforce's count, heard on the refusal, less the retry that followed it.
    assert api.policy.budget is not None and api.policy.budget.remaining == 499


@responses.activate
def test_a_token_from_the_settings_is_used_as_it_is() -> None:
    responses.get(QUERY_URL, json=EMPTY)
    api = api_of(access_token="00D!given", instance_url=INSTANCE)

    query(api)

    assert responses.calls[0].request.headers["Authorization"] == "Bearer 00D!given"
    assert api.logins == 0


def test_client_credentials_log_in_to_the_sandbox_on_its_my_domain() -> None:
    from sandbox.salesforce import SalesforceSandbox, sandbox_session

    with SalesforceSandbox() as box:
        given = box.credentials("client_credentials")
        settings = SalesforceSettings(client_id=given["consumer_key"],
                                      client_secret=given["consumer_secret"],
                                      my_domain="https://leadscore-sandbox.my.salesforce.com")  # fmt: skip
        api = SalesforceApi(settings, http=sandbox_session(box))

        assert settings.login_domain() == given["domain"] == "leadscore-sandbox.my"
        assert query(api)["records"] == [] and api.logins == 1


def test_the_jwt_bearer_flow_logs_in_to_the_sandbox() -> None:
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    from sandbox.salesforce import SalesforceSandbox, sandbox_session

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "leadscore")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(1)
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()  # fmt: skip
    cert = certificate.public_bytes(serialization.Encoding.PEM)
    with SalesforceSandbox(certificate=cert) as box:
        given = box.credentials("jwt")
        settings = SalesforceSettings(client_id=given["consumer_key"],
                                      username=given["username"], private_key=pem)  # fmt: skip
        api = SalesforceApi(settings, http=sandbox_session(box))

        assert query(api)["records"] == [] and api.logins == 1


# -- settings that cannot log in, refused before any call; logins that fail without a trace ----


@pytest.mark.parametrize(
    ("domain", "hint"),
    [
        ("https://login.salesforce.com", "give the org's My Domain"),
        ("https://test.salesforce.com", "give the org's My Domain"),
        ("https://acme.lightning.force.com", "https://acme.my.salesforce.com"),
        ("https://acme--uat.sandbox.lightning.force.com",
         "https://acme--uat.sandbox.my.salesforce.com"),
        ("http://127.0.0.1:8080", "a host ending in .my.salesforce.com"),
        ("http://acme.my.salesforce.com", "https://"),
        ("https://acme.my.salesforce.com:8443", "a host ending in .my.salesforce.com"),
        ("https://acme.salesforce.com", "a host ending in .my.salesforce.com"),
        ("https://acme.my.salesforce.com/lightning/page/home", "e.g. https://acme.my"),
    ],
)  # fmt: skip
def test_a_my_domain_that_is_no_my_domain_is_refused_with_its_form(domain: str, hint: str) -> None:
    with pytest.raises(ValidationError) as refused:
        SalesforceSettings(client_id="k", client_secret="s", my_domain=domain)

    assert hint in str(refused.value)


@pytest.mark.parametrize(
    "domain",
    [
        "https://acme.my.salesforce.com",
        "https://acme--uat.sandbox.my.salesforce.com",
        "https://acme-dev-ed.develop.my.salesforce.com",
        "https://fun-dog-1234.scratch.my.salesforce.com",
        "https://leadscore-sandbox.my.salesforce.com/",
        "HTTPS://Acme.My.Salesforce.com",
    ],
)
def test_my_domains_of_every_kind_of_org_are_accepted(domain: str) -> None:
    settings = SalesforceSettings(client_id="k", client_secret="s", my_domain=domain)

    assert settings.my_domain is not None and settings.my_domain.endswith(".my.salesforce.com")
    assert settings.login_domain().endswith(".my")


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        ("https://acme.my.salesforce.com", True),
        ("https://na1.salesforce.com", True),
        ("https://cs42.salesforce.com", True),
        ("https://login.salesforce.com", False),
        ("https://acme.lightning.force.com", False),
        ("http://na1.salesforce.com", False),
        ("https://example.com", False),
    ],
)
def test_an_instance_url_is_a_my_domain_or_an_instance_host(url: str, accepted: bool) -> None:
    if accepted:
        assert SalesforceSettings(access_token="t", instance_url=url).instance_url == url
    else:
        with pytest.raises(ValidationError):
            SalesforceSettings(access_token="t", instance_url=url)


def test_a_private_key_file_that_is_missing_or_holds_no_key_is_refused(tmp_path: Path) -> None:
    jwt_flow = {"client_id": "k", "username": "u@x.io"}
    written = tmp_path / "cert.pem"
    written.write_text("-----BEGIN CERTIFICATE-----\nc2VjcmV0\n-----END CERTIFICATE-----\n")
    encrypted = tmp_path / "encrypted.pem"
    encrypted.write_text(LOOKS_PEM.replace("PRIVATE", "ENCRYPTED PRIVATE"))

    problems = {}
    for given in (tmp_path / "nope.pem", tmp_path, written, encrypted):
        with pytest.raises(ValidationError) as refused:
            SalesforceSettings(**jwt_flow, private_key_file=str(given))
        problems[given.name] = str(refused.value).split("[type=")[0]

    assert f"no file {tmp_path / 'nope.pem'}" in problems["nope.pem"]
    assert "is a folder, not a key file" in problems[tmp_path.name]
    assert "holds no PEM private key: expected a -----BEGIN" in problems["cert.pem"]
    assert "c2VjcmV0" not in problems["cert.pem"]
    assert "holds an encrypted private key" in problems["encrypted.pem"]


def test_a_private_key_that_is_no_pem_is_refused_without_showing_it() -> None:
    with pytest.raises(ValidationError) as refused:
        SalesforceSettings(client_id="k", username="u@x.io", private_key="my-secret-key-text")

    problem = str(refused.value).split("[type=")[0]
    assert "not a PEM private key" in problem and "my-secret-key-text" not in problem


def test_a_key_file_gone_since_the_settings_were_read_is_an_auth_error(tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    key.write_text(LOOKS_PEM, "utf-8")
    api = api_of(client_id="k", username="u@x.io", private_key_file=str(key))
    key.unlink()

    with pytest.raises(AuthError) as refused:
        query(api)

    assert "LEADSCORE_SALESFORCE__PRIVATE_KEY_FILE: cannot read" in str(refused.value)


@pytest.mark.parametrize("setting", ["private_key", "private_key_file"])
def test_a_pem_block_that_is_no_usable_key_is_an_auth_error_naming_the_setting(
    setting: str, tmp_path: Path
) -> None:
    key = tmp_path / "key.pem"
    key.write_text(LOOKS_PEM, "utf-8")
    given = LOOKS_PEM if setting == "private_key" else str(key)
    api = api_of(client_id="k", username="u@x.io", **{setting: given})

    with pytest.raises(AuthError) as refused:
        query(api)

    message = str(refused.value)
    assert f"LEADSCORE_SALESFORCE__{setting.upper()}: not a usable RSA private key" in message
    assert "bm90IGEga2V5" not in message


@responses.activate
def test_a_login_answer_echoing_the_secret_is_scrubbed() -> None:
    responses.post(TOKEN_URL, status=400, json={"error": "invalid_client",
                                                "error_description": "bad secret very-secret-2"})  # fmt: skip
    api = api_of(client_id="k", client_secret="very-secret-2", my_domain=INSTANCE)

    with pytest.raises(AuthError) as refused:
        query(api)

    assert "very-secret-2" not in str(refused.value)


def test_a_my_domain_that_cannot_be_reached_is_named() -> None:
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.exceptions import MaxRetryError, NewConnectionError

    class Unknown(HTTPAdapter):
        def send(self, request: Any, **kwargs: Any) -> Any:
            unknown = NewConnectionError(None, "Failed to resolve")  # type: ignore[arg-type]
            failed = MaxRetryError(None, request.url, unknown)  # type: ignore[arg-type]
            raise requests.ConnectionError(failed, request=request)

    http = requests.Session()
    http.mount("https://", Unknown())
    settings = SalesforceSettings(client_id="k", client_secret="app-secret-3", my_domain=INSTANCE)
    policy = CallPolicy("salesforce", clock=FakeClock(), attempts=1)
    api = SalesforceApi(settings, http=http, policy=policy)

    with pytest.raises(TransportError) as failed:
        query(api)

    assert "cannot reach acme.my.salesforce.com" in str(failed.value)


class Recorded:
    """An adapter mounted on a session from outside, answering every request with `status`
    and `body` and keeping the timeout each was sent with."""

    def __init__(self, status: int, body: bytes) -> None:
        import requests
        from requests.adapters import HTTPAdapter

        self.timeouts: list[Any] = []
        timeouts = self.timeouts

        class Adapter(HTTPAdapter):
            def send(self, request: Any, **kwargs: Any) -> Any:
                timeouts.append(kwargs.get("timeout"))
                answer = requests.Response()
                answer.status_code, answer.url, answer._content = status, request.url, body
                answer.headers["Content-Type"] = "application/json"
                return answer

        self.adapter = Adapter()
        self.http = requests.Session()
        self.http.mount("https://", self.adapter)


def test_the_login_request_has_a_timeout_through_a_session_given_from_outside() -> None:
    # simple-salesforce's SalesforceLogin posts with no timeout of its own.
    from connectors.salesforce.client import SF_TIMEOUT

    recorded = Recorded(400, b'{"error": "invalid_client", "error_description": "no"}')
    settings = SalesforceSettings(client_id="k", client_secret="app-secret-3", my_domain=INSTANCE)
    policy = CallPolicy("salesforce", clock=FakeClock())
    api = SalesforceApi(settings, http=recorded.http, policy=policy)

    with pytest.raises(AuthError):
        query(api)

    assert recorded.timeouts == [SF_TIMEOUT]
    assert recorded.http.get_adapter(INSTANCE) is recorded.adapter


def test_a_session_is_timed_once_however_many_clients_share_it() -> None:
    from connectors.salesforce.client import SF_TIMEOUT, timed

    recorded = Recorded(200, b"{}")
    http = timed(timed(recorded.http), 5.0)
    http.get(f"{INSTANCE}/a")
    http.get(f"{INSTANCE}/b", timeout=3)

    assert recorded.timeouts == [SF_TIMEOUT, 3]


# -- field permissions, on canned answers (the sandbox has no permission sets yet) -------------

DATA = f"{INSTANCE}/services/data/v59.0"


def grant_api() -> SalesforceApi:
    return api_of(access_token="00D!given", instance_url=INSTANCE)


@responses.activate
def test_setup_makes_the_permission_set_and_grants_each_field_on_leads_and_contacts() -> None:
    from connectors.salesforce.setup import grant_fields

    responses.get(f"{DATA}/query/", json=EMPTY)
    responses.post(f"{DATA}/sobjects/PermissionSet", json={"id": "0PS000000000001AAA",
                                                           "success": True, "errors": []})  # fmt: skip
    responses.post(f"{DATA}/sobjects/FieldPermissions", json={"id": "01k000000000001AAA",
                                                              "success": True, "errors": []})  # fmt: skip
    responses.get(f"{INSTANCE}/services/oauth2/userinfo", json={"user_id": "005000000000001AAA"})
    responses.post(f"{DATA}/sobjects/PermissionSetAssignment", json={"id": "0Pa000000000001AAA",
                                                                     "success": True, "errors": []})  # fmt: skip

    granted = grant_fields(grant_api(), "Leadscore", ["Leadscore_Score__c", "Leadscore_Stage__c"])

    assert len(granted) == 4
    sent = [(c.request.method, c.request.url, c.request.body) for c in responses.calls]
    assert "Name+%3D+%27Leadscore%27" in str(sent[0][1])
    assert json.loads(sent[1][2] or "{}") == {"Name": "Leadscore", "Label": "Leadscore"}
    grants = [json.loads(body or "{}") for method, url, body in sent[2:6]]
    assert [g["Field"] for g in grants] == [
        "Lead.Leadscore_Score__c", "Lead.Leadscore_Stage__c",
        "Contact.Leadscore_Score__c", "Contact.Leadscore_Stage__c",
    ]  # fmt: skip
    assert all(g["ParentId"] == "0PS000000000001AAA" and g["PermissionsRead"] is True
               and g["PermissionsEdit"] is True for g in grants)  # fmt: skip
    assert [g["SobjectType"] for g in grants] == ["Lead", "Lead", "Contact", "Contact"]
    assert json.loads(sent[7][2] or "{}") == {"AssigneeId": "005000000000001AAA",
                                              "PermissionSetId": "0PS000000000001AAA"}  # fmt: skip


@responses.activate
def test_setup_grants_only_what_the_permission_set_lacks_and_a_dry_run_nothing() -> None:
    from connectors.salesforce.setup import grant_fields

    found = {"done": True, "totalSize": 1, "records": [{"Id": "0PS000000000001AAA"}]}
    held = {"done": True, "totalSize": 1, "records": [{"Field": "Lead.Leadscore_Score__c"}]}
    for _ in range(2):
        responses.get(f"{DATA}/query/", json=found)
        responses.get(f"{DATA}/query/", json=held)
    responses.post(f"{DATA}/sobjects/FieldPermissions", json={"id": "01k000000000002AAA",
                                                              "success": True, "errors": []})  # fmt: skip
    responses.get(f"{INSTANCE}/services/oauth2/userinfo", json={"user_id": "005000000000001AAA"})
    duplicate = [{"errorCode": "DUPLICATE_VALUE", "message": "duplicate value found"}]
    responses.post(f"{DATA}/sobjects/PermissionSetAssignment", json=duplicate, status=400)

    planned = grant_fields(grant_api(), "Leadscore", ["Leadscore_Score__c"], dry_run=True)
    granted = grant_fields(grant_api(), "Leadscore", ["Leadscore_Score__c"])

    assert planned == granted == ["Leadscore: Contact.Leadscore_Score__c (field permission)"]
    posts = [c.request for c in responses.calls if c.request.method == "POST"]
    assert len(posts) == 2
    assert json.loads(posts[0].body or "{}")["Field"] == "Contact.Leadscore_Score__c"
    assert "PermissionSetAssignment" in str(posts[1].url)  # already assigned: left as it is
