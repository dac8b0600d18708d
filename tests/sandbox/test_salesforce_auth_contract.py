"""Contract tests of the sandbox's newer logins against Salesforce's Postman collection.

The collection's "JWT Bearer Token Flow" and "User Info" templates, sent as
Postman would (see `Postman` in test_salesforce_contract), with the fields its
test script reads: the token answer's `access_token`, `instance_url` and an `id`
ending in the org and user ids.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.salesforce import SalesforceSandbox
from tests.sandbox.test_salesforce import small_world
from tests.sandbox.test_salesforce_auth import APP_CERTIFICATE, assertion
from tests.sandbox.test_salesforce_contract import COLLECTION, Postman


@pytest.fixture
def app() -> Iterator[tuple[SalesforceSandbox, Postman]]:
    if not COLLECTION.is_dir():
        pytest.skip("the Postman collection under ../shared/specs/salesforce is absent")
    with SalesforceSandbox(small_world(), certificate=APP_CERTIFICATE) as sandbox:
        yield sandbox, Postman(sandbox)


def test_jwt_bearer_answers_what_the_collection_script_reads(
    app: tuple[SalesforceSandbox, Postman],
) -> None:
    sandbox, postman = app
    template = postman.template("auth/jwt_bearer_token_flow.json")
    form = {field["key"]: field["value"] for field in template["data"]}
    signed = assertion(sandbox, exp=int(sandbox.login.now()) + 180)

    answer = postman.send("auth/jwt_bearer_token_flow.json", body=form | {"assertion": signed})
    token = answer.json()

    assert answer.status_code == 200
    assert token["access_token"] and token["instance_url"].startswith("https://")
    assert token["id"].split("/")[-2:] == [sandbox.login.org_id, sandbox.login.user_id]


def test_user_info_answers_for_the_collections_token(
    app: tuple[SalesforceSandbox, Postman],
) -> None:
    sandbox, postman = app
    login = postman.send("auth/oauth_username_password.json").json()
    postman.variables["_accessToken"] = login["access_token"]

    answer = postman.send("auth/user_info.json")

    assert answer.status_code == 200
    assert answer.json()["user_id"] == sandbox.login.user_id
    assert answer.json()["sub"] == login["id"]
