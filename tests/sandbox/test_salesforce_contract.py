"""Contract tests: Salesforce's own Postman collection, replayed against the sandbox.

The collection (../shared/specs/salesforce, API 50.0) holds request templates and
test scripts but no example response bodies. So each test sends a template's
method, URL, headers and body as Postman would, checks the answer has the fields
the collection's test scripts read, and checks the keys that Salesforce's
documentation gives for that response (REST API Developer Guide: OAuth 2.0
Username-Password Flow, Query, sObject Describe, sObject Basic Information,
Describe Global, Limits, sObject Collections; Bulk API 2.0 Developer Guide:
Create a Job, Get Information About an Ingest Job, Get All Jobs, Create a Query
Job, Get Information About a Query Job, Get Results for a Query Job).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

import pytest
import requests
from defusedxml.ElementTree import fromstring

from sandbox.salesforce import SalesforceSandbox, sandbox_session
from sandbox.salesforce.ids import make_id
from tests.sandbox.salesforce_helpers import quick_jobs
from tests.sandbox.test_salesforce import small_world

COLLECTION = (
    Path(__file__).resolve().parents[3] / "shared" / "specs" / "salesforce"
    / "postman-salesforce-apis" / "src" / "collections" / "salesforce_apis"
)  # fmt: skip
BOB = make_id("00Q", 0)
JOB_KEYS = {"id", "operation", "object", "createdById", "createdDate", "systemModstamp", "state",
            "concurrencyMode", "contentType", "apiVersion", "contentUrl", "lineEnding",
            "columnDelimiter"}  # fmt: skip
QUERY_JOB_KEYS = {"id", "operation", "object", "createdById", "createdDate", "systemModstamp",
                  "state", "concurrencyMode", "contentType", "apiVersion", "lineEnding",
                  "columnDelimiter"}  # fmt: skip
"""Create a Query Job's answer, per the Bulk API 2.0 guide's query walkthrough."""
JOB_INFO_KEYS = JOB_KEYS | {"jobType", "numberRecordsProcessed", "numberRecordsFailed", "retries",
                            "totalProcessingTime", "apiActiveProcessingTime", "apexProcessingTime"}  # fmt: skip


class Postman:
    """Sends the collection's request templates the way Postman fills them in."""

    def __init__(self, sandbox: SalesforceSandbox) -> None:
        self.sandbox = sandbox
        self.session = sandbox_session(sandbox)
        self.variables = {
            "url": "https://login.salesforce.com", "site": "", "version": "59.0",
            "username": sandbox.login.username, "password": sandbox.login.password,
            "secretToken": sandbox.login.security_token, "clientId": sandbox.login.consumer_key,
            "clientSecret": sandbox.login.consumer_secret, "_accessToken": "", "_endpoint": "",
        }  # fmt: skip

    def template(self, name: str) -> dict[str, Any]:
        return dict(json.loads((COLLECTION / name).read_text()))

    def fill(self, text: str, placeholders: dict[str, str]) -> str:
        for key, value in self.variables.items():
            text = text.replace("{{" + key + "}}", value)
        for key, value in placeholders.items():
            text = text.replace(f"/<{key}>" if not value else f"<{key}>", value)
        return text

    def send(self, name: str, body: Any = None, **placeholders: str) -> requests.Response:
        item = self.template(name)
        lines = (line.split(":", 1) for line in (item.get("headers") or "").splitlines())
        headers = {
            k.strip(): v.strip() for k, v in (p for p in lines if len(p) == 2) if k[:2] != "//"
        }
        if (item.get("auth") or {}).get("type") != "noauth":
            headers["Authorization"] = f"Bearer {self.variables['_accessToken']}"
        data: Any = body
        if body is None and item.get("dataMode") == "urlencoded":
            data = {d["key"]: self.fill(d["value"], placeholders) for d in item["data"]}
        elif body is None and item.get("rawModeData"):
            data = self.fill(item["rawModeData"], placeholders).encode()
        url = self.fill(item["url"], placeholders)
        return self.session.request(item["method"], url, headers=headers, data=data, timeout=5)


@pytest.fixture
def postman() -> Iterator[Postman]:
    if not COLLECTION.is_dir():
        pytest.skip("the Postman collection under ../shared/specs/salesforce is absent")
    with SalesforceSandbox(small_world()) as sandbox:
        yield Postman(sandbox)


def child(element: Element, *path: str) -> Element:
    for name in path:
        found = next((c for c in element if c.tag.rpartition("}")[2] == name), None)
        assert found is not None, f"no {name} in the answer"
        element = found
    return element


def login(postman: Postman) -> None:
    answer = postman.send("auth/oauth_username_password.json")
    token = answer.json()
    postman.variables |= {"_accessToken": token["access_token"], "_endpoint": token["instance_url"]}


def test_soap_login_answers_what_the_collection_script_reads(postman: Postman) -> None:
    answer = postman.send("auth/soap_login.json")
    result = child(fromstring(answer.content), "Body", "loginResponse", "result")
    server_url = str(child(result, "serverUrl").text).split("/")

    assert answer.status_code == 200
    assert server_url[0] + "//" + server_url[2] == "https://leadscore-sandbox.my.salesforce.com"
    assert child(result, "sessionId").text and str(child(result, "userId").text).startswith("005")
    assert str(child(result, "userInfo", "organizationId").text).startswith("00D")


def test_oauth_username_password_answers_what_the_collection_script_reads(postman: Postman) -> None:
    answer = postman.send("auth/oauth_username_password.json")
    token = answer.json()
    identity = token["id"].split("/")

    assert answer.status_code == 200
    assert set(token) == {
        "access_token",
        "instance_url",
        "id",
        "token_type",
        "issued_at",
        "signature",
    }
    assert (identity[-2][:3], identity[-1][:3]) == ("00D", "005")
    assert token["token_type"] == "Bearer" and token["instance_url"].startswith("https://")


@pytest.mark.parametrize(
    ("name", "keys"),
    [
        ("rest/resources_by_version.json", {"sobjects", "query", "limits"}),
        ("rest/limit.json", {"DailyApiRequests"}),
        ("rest/describe_global.json", {"encoding", "maxBatchSize", "sobjects"}),
        ("rest/sobject_basic_information.json", {"objectDescribe", "recentItems"}),
        ("rest/sobject_describe.json", {"name", "label", "labelPlural", "keyPrefix", "fields",
                                        "urls", "custom", "queryable", "updateable"}),
        ("rest/sobject_rows.json", {"attributes", "Id", "Email", "SystemModstamp"}),
        ("rest/query.json", {"totalSize", "done", "records"}),
        ("rest/queryall.json", {"totalSize", "done", "records"}),
    ],
)  # fmt: skip
def test_rest_templates_get_the_documented_answer(
    postman: Postman, name: str, keys: set[str]
) -> None:
    login(postman)
    answer = postman.send(name, SOBJECT_API_NAME="Lead", RECORD_ID=BOB)

    assert answer.status_code == 200, answer.text
    assert keys <= set(answer.json())
    assert "api-usage=" in answer.headers["Sforce-Limit-Info"]


def test_versions_and_record_update_templates(postman: Postman) -> None:
    login(postman)
    versions = postman.send("rest/versions.json").json()
    template = json.loads(postman.template("rest/sobject_rows_update.json")["rawModeData"])
    updated = postman.send("rest/sobject_rows_update.json", json.dumps({"Title": "Owner"}),
                           SOBJECT_API_NAME="Lead", RECORD_ID=BOB)  # fmt: skip
    described = postman.send("rest/sobject_describe.json", SOBJECT_API_NAME="Lead").json()

    assert {"label", "url", "version"} <= set(versions[0]) and versions[0]["version"] == "59.0"
    assert list(template) == ["field API name"]
    assert updated.status_code == 204
    assert {"name", "type", "label", "custom", "updateable", "nillable", "length", "referenceTo",
            "relationshipName", "picklistValues", "soapType"} <= set(described["fields"][0])  # fmt: skip


def test_collections_update_template_keys_are_what_the_sandbox_reads(postman: Postman) -> None:
    login(postman)
    template = postman.template("composite/sobject_collections_update.json")
    keys = set(json.loads(template["rawModeData"]))
    record = {"attributes": {"type": "Lead"}, "id": BOB, "Title": "Head"}
    # The template's URL ends in /<SOBJECT_API_NAME>, which the REST guide gives to upserts by
    # external id; updates go to /composite/sobjects, where simple-salesforce sends them too.
    answer = postman.send("composite/sobject_collections_update.json",
                          json.dumps({"allOrNone": False, "records": [record]}),
                          SOBJECT_API_NAME="")  # fmt: skip

    assert keys == {"allOrNone", "records"}
    assert answer.status_code == 200
    assert answer.json() == [{"id": BOB, "success": True, "errors": []}]


def test_bulk_templates_run_an_ingest_job_end_to_end(postman: Postman) -> None:
    quick_jobs(postman.sandbox)
    login(postman)
    template = json.loads(postman.template("bulk_v2/create_job.json")["rawModeData"])
    created = postman.send("bulk_v2/create_job.json", json.dumps(template | {"object": "Lead"}))
    postman.variables["_jobId"] = created.json()["id"]
    data = f"Id,Title\n{BOB},Bulk\n{make_id('00Q', 77)},Nobody\n".encode()
    uploaded = postman.send("bulk_v2/upload_job_data.json", data)
    closed = postman.send("bulk_v2/close_or_abort_a_job.json")
    info = postman.send("bulk_v2/get_job_info.json").json()
    succeeded = postman.send("bulk_v2/get_job_successful_record_results.json").text
    failed = postman.send("bulk_v2/get_job_failed_record_results.json").text
    unprocessed = postman.send("bulk_v2/get_job_unprocessed_record_results.json")
    listed = postman.send("bulk_v2/get_all_jobs.json").json()
    deleted = postman.send("bulk_v2/delete_job.json")

    assert set(template) == {"object", "operation"}
    assert (created.status_code, set(created.json())) == (200, JOB_KEYS)
    assert (uploaded.status_code, closed.json()["state"]) == (201, "UploadComplete")
    assert set(info) >= JOB_INFO_KEYS and info["state"] == "JobComplete"
    assert (info["numberRecordsProcessed"], info["numberRecordsFailed"]) == (2, 1)
    assert next(csv.reader(io.StringIO(succeeded))) == ["sf__Id", "sf__Created", "Id", "Title"]
    assert next(csv.reader(io.StringIO(failed))) == ["sf__Id", "sf__Error", "Id", "Title"]
    assert unprocessed.status_code == 200
    assert {"done", "records"} <= set(listed) and listed["records"][0]["id"] == created.json()["id"]
    assert deleted.status_code == 204


def test_bulk_query_templates_run_a_query_job_end_to_end(postman: Postman) -> None:
    quick_jobs(postman.sandbox)
    login(postman)
    template = json.loads(postman.template("query/create_job_query.json")["rawModeData"])
    body = template | {"query": "SELECT Id, Email FROM Lead ORDER BY Email",
                       "columnDelimiter": "COMMA", "lineEnding": "LF"}  # fmt: skip
    created = postman.send("query/create_job_query.json", json.dumps(body))
    postman.variables["_jobId"] = created.json()["id"]
    info = postman.send("query/get_job_info_query.json").json()
    results = postman.send("query/get_job_query_result.json")
    listed = postman.send("query/get_all_query_jobs.json").json()
    refused = postman.send("query/abort_a_job_query.json")
    deleted = postman.send("query/delete_job_query.json")

    assert set(template) == {"operation", "query", "contentType", "columnDelimiter", "lineEnding"}
    assert (created.status_code, created.json()["state"]) == (200, "UploadComplete")
    assert set(created.json()) == QUERY_JOB_KEYS
    assert set(info) == QUERY_JOB_KEYS | {"jobType", "numberRecordsProcessed", "retries",
                                          "totalProcessingTime"}  # fmt: skip
    assert (info["state"], info["numberRecordsProcessed"]) == ("JobComplete", 4)
    assert results.headers["Sforce-NumberOfRecords"] == "4"
    assert results.headers["Sforce-Locator"] == "null"
    assert next(csv.reader(io.StringIO(results.text))) == ["Id", "Email"]
    assert [r["id"] for r in listed["records"]] == [created.json()["id"]]
    assert refused.status_code == 400  # a complete job can no longer be aborted
    assert deleted.status_code == 204
