"""The HubSpot client's calls: reading an answer is part of the call."""

from __future__ import annotations

import json
import subprocess
import sys
import traceback
from typing import Any

import pytest
import urllib3

from connectors.errors import ServerError, error_for_status
from connectors.hubspot.client import HubSpotApi
from connectors.policy import CallPolicy
from sandbox import FaultPlan, Sandbox
from sandbox.faults import Fault
from sandbox.http import Request, Response

TOKEN = "pat-na1-11111111-2222-3333-4444-555555555555"


class Answer:
    """An SDK answer read with `_preload_content=False`; its first reads time out."""

    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.headers = {"X-HubSpot-RateLimit-Daily-Remaining": "99"}

    @property
    def data(self) -> bytes:
        if self.failures:
            raise self.failures.pop(0)
        return b'{"results": [1, 2]}'

    def release_conn(self) -> None:
        """Nothing to give back."""


def api() -> HubSpotApi:
    return HubSpotApi(TOKEN, host="http://127.0.0.1:9", policy=CallPolicy("hubspot", base_wait=0))


def test_a_read_timeout_or_a_reset_while_reading_the_body_is_retried() -> None:
    client = api()
    failures: list[Exception] = [
        urllib3.exceptions.ReadTimeoutError(None, "/crm", "read timed out"),  # type: ignore[arg-type]
        urllib3.exceptions.ProtocolError("Connection broken: IncompleteRead"),
    ]
    sent: list[dict[str, Any]] = []

    def sdk_call(**kwargs: Any) -> Answer:
        sent.append(kwargs)
        return Answer(failures)

    body = client.json("contacts.list", sdk_call, limit=2)

    assert body == {"results": [1, 2]}
    assert len(sent) == 3 and client.policy.calls() == {"contacts.list": 3}
    assert all(k["_preload_content"] is False for k in sent)


def test_an_error_answer_that_echoes_the_token_never_carries_it_into_the_error() -> None:
    with Sandbox(people=3, seed=1, faults={"hubspot": FaultPlan(server_error=1.0)}) as box:
        token = box.hubspot.token

        def echo(request: Request, fault: Fault) -> Response:
            said = f"refused {request.headers['authorization']!r} for /v3?hapikey={token}"
            return Response.json({"message": said, "category": "ERROR"}, 502)

        box.hubspot.fault_response = echo  # type: ignore[method-assign]
        policy = CallPolicy("hubspot", attempts=2, base_wait=0)
        client = HubSpotApi(token, host=box.hubspot.base_url, policy=policy)
        with pytest.raises(ServerError) as failed:
            client.json("contacts.list", client.contacts_basic.get_page, limit=1)

    message = str(failed.value)
    assert failed.value.status == 502 and message.startswith("hubspot contacts.list 502: refused")
    assert token not in message and "Bearer" not in message
    assert message.count("[redacted]") == 2
    # Nor does the traceback a host prints (a Lambda runtime, a web server's log): the
    # SDK's exception, which quotes the answer whole, is not chained to it.
    shown = "".join(traceback.format_exception(failed.value))
    assert token not in shown and "Bearer" not in shown


def test_each_sdk_api_is_made_on_first_use_and_imports_only_its_package() -> None:
    code = (
        "import json, sys\n"
        "from connectors.hubspot.client import HubSpotApi\n"
        f"api = HubSpotApi({TOKEN!r}, host='http://127.0.0.1:9')\n"
        "before = sorted(m for m in sys.modules if m.startswith('hubspot.crm.'))\n"
        "first = api.contacts_basic\n"
        "deal = api.batches['deals']\n"
        "same = first is api.contacts_basic and deal is api.batches['deals']\n"
        "after = {m.split('.')[2] for m in sys.modules if m.startswith('hubspot.crm.')}\n"
        "after |= {m for m in sys.modules if m.startswith(('hubspot.marketing.', 'hubspot.events.'))}\n"
        "print(json.dumps([before, sorted(after), same]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, after, same = json.loads(done.stdout.strip().splitlines()[-1])
    assert before == []
    assert "objects" in after  # the contacts too are read through the generic package
    assert not set(after) & {"contacts", "deals", "properties", "pipelines", "associations"}
    assert "companies" not in after
    assert not [name for name in after if name.startswith("hubspot.")]  # forms, web events
    assert same


def test_the_object_apis_are_the_sdks_own_for_each_kind() -> None:
    client = api()
    assert list(client.objects) == ["meetings", "calls", "emails", "deals"]
    deals, calls = client.search["deals"], client.batches["calls"]
    assert type(deals.api).__module__ == "hubspot.crm.objects.api.search_api"
    assert deals.do_search.args == ("deals",)  # /crm/v3/objects/deals/search
    assert calls.read.args == ("calls",)
    with pytest.raises(KeyError):
        client.objects["tickets"]
    contacts = client.contacts_basic  # /crm/v3/objects/contacts/..., as the contacts package
    assert type(contacts.api).__module__ == "hubspot.crm.objects.api.basic_api"
    assert contacts.get_by_id.args == ("contacts",)
    assert "contacts" not in client.objects  # the four kinds an activity comes from


def test_known_features_are_not_probed_and_a_refusal_of_one_is_told() -> None:
    client = api()
    told: list[tuple[str, bool]] = []
    probed: list[str] = []
    client.known_features(
        {"forms": True}, lambda feature, available: told.append((feature, available))
    )
    assert client.available("forms", lambda: probed.append("forms"))
    assert probed == [] and told == []
    assert not client.refused("forms", ServerError("hubspot", "forms.list", "down", status=500))
    assert client.available("forms", lambda: probed.append("forms")) and told == []
    assert client.refused("forms", error_for_status(403)("hubspot", "forms.list", "no", status=403))
    assert told == [("forms", False)]
    assert not client.available("forms", lambda: probed.append("forms")) and probed == []
    assert client.refused("forms", error_for_status(404)("hubspot", "forms.list", "no", status=404))
    assert told == [("forms", False)]  # no change: nothing more to keep
    assert client.available("views", lambda: probed.append("views"))  # unknown: probed, told
    assert probed == ["views"] and told[-1] == ("views", True)
