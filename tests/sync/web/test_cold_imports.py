"""The serverless cold start's import contract: a fresh process that imports the Lambda
handler and answers a signed HubSpot workflow event (fetch, score, write) loads only
what that answer needs. Each module named here was made lazy on purpose; one that comes
back on this path costs every cold start its import time."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from connectors.hubspot.history import has_web_analytics
from sandbox import Sandbox
from sync import Leadscore
from sync.settings import isolated_settings
from sync.setup_memo import recall_features
from sync.web.routes import ROUTES

ROOT = Path(__file__).parents[3]
RULES = ROOT / "scoring" / "rulesets" / "default.yaml"
SECRET = "cold-start-client-secret-0123456789"
HOST = "abc123.lambda-url.eu-west-1.on.aws"

NEVER_ON_THE_ANSWER = (
    "pandas",  # the store's read of one person builds Arrow columns, never a frame
    "adbc_driver_manager",
    "adbc_driver_sqlite",
    "adbc_driver_postgresql",
    "sqlalchemy.orm",  # the store is SQLAlchemy core
    "yaml",  # the rule file's data comes from its cache entry
    "scoring.yamlrules",
    "sync.web.salesforce",  # only the endpoint asked is made
    "sync.web.salesforce_soap",
    "sync.web.mailchimp",
    "defusedxml",
    "connectors.files",
    "simple_salesforce",  # no other system's SDK
    "mailchimp_marketing",
    "hubspot.crm.properties",  # the setup check is remembered since setup (sync.setup_memo)
    "hubspot.events",  # the events API's probe is remembered too (sync.setup_memo)
    "numpy.ma",  # Arrow arrays are built from their buffers (sync.columns.masked)
    "rich",  # the consoles are the CLI's
    "scoring.backtest",
    "requests",  # HubSpot's legacy APIs go through the SDK's urllib3
    "hubspot.crm.contacts",  # contacts through the generic objects package, as deals
    "hubspot.marketing.forms",  # the forms and deal pipelines lists are plain GETs
    "hubspot.crm.pipelines",
    "pyarrow.compute",  # the store's read calls Arrow's registry (sync.columns.compute)
    "sync.retention",  # a run's purge: imported by the run (`Sync._run`, `Leadscore.retention`)
    "sync.fanin",  # a run's pull of the streams side by side
    "sync.preview",  # a dry run's scratch store and the setup warnings
    "sync.shadow",  # shadow rules and their comparison: a run's (`score_due`)
    "sync.backtest_report",
    "sync.capacity",  # sales capacity: only when the rules have a `capacity` block
    "html",  # the report's HTML refusal page (`sync.web.report.browser_page`)
    "difflib",  # the closest setting to a variable that names none (`sync.config`)
)
HANDLER_AND_SETTINGS = "import sync.web.aws; from sync.config import read_settings; read_settings()"
NEVER_ON_THE_IMPORT = (
    "numpy",
    "sqlalchemy",
    "pyarrow",
    "hubspot",
    "requests",
    "sync.app",
    "difflib",
)
"""What importing the handler and reading its settings (before any event) never loads."""

ANSWER = """
import json, sys
from sync.web.aws import handler
answer = handler(json.loads(sys.stdin.read()), None)
print(json.dumps({"answer": answer, "modules": sorted(sys.modules)}))
"""


def signed(record: str) -> dict[str, Any]:
    body = json.dumps({"hs_object_id": record})
    stamp = str(int(time.time() * 1000))
    message = f"POSThttps://{HOST}/hubspot{body}{stamp}".encode()
    signature = base64.b64encode(hmac.new(SECRET.encode(), message, hashlib.sha256).digest())
    return {
        "version": "2.0",
        "rawPath": "/hubspot",
        "rawQueryString": "",
        "headers": {
            "content-type": "application/json",
            "host": HOST,
            "x-hubspot-signature-v3": signature.decode(),
            "x-hubspot-request-timestamp": stamp,
        },
        "requestContext": {"domainName": HOST, "http": {"method": "POST", "path": "/hubspot"}},
        "body": body,
        "isBase64Encoded": False,
    }


@pytest.mark.slow
def test_a_cold_signed_hubspot_answer_loads_only_what_it_needs(tmp_path: Path) -> None:
    rules = tmp_path / "leadscore.yaml"
    rules.write_bytes(RULES.read_bytes())
    state = f"sqlite:///{tmp_path / 'state.db'}"
    with Sandbox(people=20, seed=3) as box:
        section = box.connection_settings()["hubspot"]
        with Leadscore.open(
            isolated_settings(state_url=state, rules=rules, hubspot=section)
        ) as app:
            app.setup()  # and the rule file read once, as a deployment's first start does
            recall_features(app)  # and a first answer's probes, kept for the next start
            assert not has_web_analytics(app.connectors[0].api)  # type: ignore[attr-defined]
        probes = box.hubspot.calls["web_events.list"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEADSCORE_")}
        env.update(
            PYTHONPATH=str(ROOT),
            LEADSCORE_RULES=str(rules),
            LEADSCORE_STATE_URL=state,
            LEADSCORE_HUBSPOT__ACCESS_TOKEN=section["access_token"],
            LEADSCORE_HUBSPOT__HOST=section["host"],
            LEADSCORE_HUBSPOT__WEBHOOK_CLIENT_SECRET=SECRET,
            LEADSCORE_LOG_LEVEL="WARNING",
        )
        done = subprocess.run(
            [sys.executable, "-c", ANSWER],
            input=json.dumps(signed("3")),
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert box.hubspot.calls["web_events.list"] == probes  # no probe on the cold answer
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    answer = seen["answer"]
    assert answer["statusCode"] == 200, answer
    body = json.loads(answer["body"])
    assert body["status"] == "done" and body["record"] == "3" and "score" in body

    modules = set(seen["modules"])
    loaded = sorted(
        name
        for name in NEVER_ON_THE_ANSWER
        if any(m.split(".")[: name.count(".") + 1] == name.split(".") for m in modules)
    )
    assert loaded == []
    # what the answer does need is loaded, so the list above is not vacuous
    assert {"sqlalchemy", "numpy", "hubspot", "scoring.rulecache"} <= modules


def test_each_route_makes_the_endpoint_of_its_path() -> None:
    for path, make in ROUTES.items():
        assert make().path == path


def test_importing_the_handler_with_its_settings_loads_no_store_engine_or_sdk(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADSCORE_")}
    env.update(PYTHONPATH=str(ROOT), LEADSCORE_HUBSPOT__ACCESS_TOKEN="pat-na1-token")
    code = f"{HANDLER_AND_SETTINGS}; import json, sys; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    modules = set(json.loads(done.stdout))
    loaded = [n for n in NEVER_ON_THE_IMPORT if any(m.split(".")[0] == n.split(".")[0] and
              (m == n or m.startswith(f"{n}.")) for m in modules)]  # fmt: skip
    assert loaded == []
    assert {"sync.web.aws", "sync.config", "pydantic_settings"} <= modules
