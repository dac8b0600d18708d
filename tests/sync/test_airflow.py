"""The Airflow DAG of `sync/airflow.py`, run by `dag.test()` against three sandboxes for
three tenants: one mapped task per tenant and system in the `leadscore` pool, each run's
summary its task's result, a busy tenant and system skipped, a failed try tried again,
and what needs a person failed without retries.

Airflow reads its configuration once per process and sets up logging of its own, so the
DAG runs in a Python process of its own, with a temporary AIRFLOW_HOME and a SQLite
metadata database; `dag.test()` runs every task in that process (no scheduler, no
executor), and the tasks reach the sandboxes this process serves over HTTP. The tests
fail where CI=true and Airflow is missing (`make test` installs the `airflow` extra), and
are skipped elsewhere.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from connectors.mailchimp.system import MAILCHIMP_CAPABILITIES
from sandbox import Sandbox
from scoring.loader import load_rules
from sync.fields import FieldMap
from sync.locks import run_lock
from sync.store import StateStore
from sync.tenants import read_tenants
from tests.sync.cli_env import DEFAULT_RULES
from tests.sync.test_tenants_sync import (
    TENANTS,
    assert_apart,
    boxes,  # noqa: F401 (the fixture: a sandbox per tenant)
    sandbox_emails,
    secrets,  # noqa: F401 (the fixture: each tenant's secrets in the environment)
    set_up,
    store_emails,
    tenants_file,
)

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "airflow" / "leadscore_dag.py"


@pytest.fixture(scope="module", autouse=True)
def airflow_installed() -> None:
    if importlib.util.find_spec("airflow") is None:
        if os.environ.get("CI"):
            pytest.fail("Apache Airflow is not installed; `make test` installs the airflow extra")
        pytest.skip("Apache Airflow is not installed here (pip install -e '.[airflow]' brings it)")


RUN_DAG = r"""
import json, sys
from pathlib import Path

from airflow.models.pool import Pool
from airflow.models.xcom import XComModel
from airflow.utils import db
from airflow.utils.session import create_session

import sync.tenants
from airflow.sdk.exceptions import AirflowFailException
from sync.airflow import sync_tenant, tenant_systems
from sync.errors import StoreUnavailable

dags, out, bad, unknown = (Path(a) for a in sys.argv[1:5])
# what needs a person fails the task without retries
failed = []
for call in (lambda: tenant_systems(str(bad)),
             lambda: sync_tenant("acme", "hubspot", str(unknown), full=False, wait=0.0)):
    try:
        call()
    except AirflowFailException as exc:
        failed.append(str(exc))

db.initdb()
Pool.create_or_update_pool("leadscore", slots=2, description="leadscore syncs", include_deferred=False)

# globex's first try at HubSpot meets a store that does not answer; Airflow tries again
real, tries = sync.tenants.run_tenant, []
def flaky(name, system=None, **options):
    tries.append(f"{name}/{system}")
    if tries.count("globex/hubspot") == 1 and f"{name}/{system}" == "globex/hubspot":
        raise StoreUnavailable("the state store did not answer")
    return real(name, system, **options)
sync.tenants.run_tenant = flaky

from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=str(dags))
parsed = {
    dag_id: {
        "schedule": str(dag.schedule),
        "max_active_runs": dag.max_active_runs,
        "tasks": {t.task_id: {"pool": t.pool, "retries": t.retries} for t in dag.tasks},
    }
    for dag_id, dag in bag.dags.items()
}
run = bag.dags["leadscore_test"].test()
with create_session() as session:
    instances = [
        {"task": ti.task_id, "index": ti.map_index, "state": str(ti.state), "try": ti.try_number,
         "pool": ti.pool, "label": ti.rendered_map_index}
        for ti in run.get_task_instances(session=session)
    ]
    xcoms = [
        {"task": x.task_id, "index": x.map_index, "key": x.key, "value": x.value}
        for x in session.query(XComModel).filter(XComModel.run_id == run.run_id)
    ]
out.write_text(json.dumps({"state": str(run.state), "errors": bag.import_errors,
                           "parsed": parsed, "instances": instances, "xcoms": xcoms,
                           "tries": tries, "failed": failed}, default=str))
"""

TEST_DAG = """
from datetime import timedelta

from sync.airflow import tenant_dag

dag = tenant_dag(
    "leadscore_test", schedule=None, pool="leadscore", retries=1,
    retry_delay=timedelta(0), tenants_file={tenants!r},
)
"""


def run_dag(folder: Path, tenants: Path) -> dict[str, Any]:
    """The test DAG (and the example beside it, parsed) run by `dag.test()` in a process of
    its own; what Airflow recorded of the run."""
    home = folder / "airflow"
    dags = home / "dags"
    dags.mkdir(parents=True)
    shutil.copy(EXAMPLE, dags / EXAMPLE.name)
    (dags / "leadscore_test_dag.py").write_text(TEST_DAG.format(tenants=str(tenants)), "utf-8")
    env = {
        **os.environ,  # with the tenants' secrets
        "PYTHONPATH": str(ROOT),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
    }
    out = folder / "run.json"
    bad = folder / "bad" / "tenants.yaml"
    bad.parent.mkdir()
    bad.write_text("tenants:\n  Acme Corp: {}\n", "utf-8")
    unknown = folder / "bad" / "none.yaml"
    unknown.write_text("tenants:\n  acme: {}\n", "utf-8")
    done = subprocess.run(
        [sys.executable, "-c", RUN_DAG, str(dags), str(out), str(bad), str(unknown)],
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result: dict[str, Any] = json.loads(out.read_text("utf-8"))
    return result


@pytest.mark.slow  # Airflow's import, its database made and five tasks run: 15 s of CPU
@pytest.mark.usefixtures("secrets")
def test_the_dag_syncs_each_tenant_and_system_in_a_task_of_its_own(
    tmp_path: Path,
    boxes: dict[str, Sandbox],  # noqa: F811
) -> None:
    tenants = tenants_file(tmp_path, boxes, f"sqlite:///{tmp_path}/{{tenant}}.db", "acme")
    assert {n: t.systems for n, t in read_tenants(tenants).items()} == {
        "acme": ["hubspot", "mailchimp"],
        "globex": ["hubspot"],
        "initech": ["hubspot"],
    }
    set_up(tenants, boxes)
    urls = {name: f"sqlite:///{tmp_path}/{name}.db" for name in TENANTS}
    # another run holds acme's Mailchimp lock: that task is skipped, acme's HubSpot is not
    store = StateStore(urls["acme"])
    held = run_lock(store, ["mailchimp"])
    try:
        result = run_dag(tmp_path, tenants)
    finally:
        held.release()
        store.close()

    assert result["errors"] == {}
    parsed = result["parsed"]
    assert set(parsed) == {"leadscore", "leadscore_full", "leadscore_test"}
    assert parsed["leadscore"]["schedule"] == "*/15 * * * *"
    assert parsed["leadscore"]["tasks"]["sync"] == {"pool": "leadscore", "retries": 3}
    assert parsed["leadscore_full"]["max_active_runs"] == 1

    assert result["state"] == "success"
    mapped = {i["label"]: i for i in result["instances"] if i["task"] == "sync"}
    assert sorted(mapped) == ["acme/hubspot", "acme/mailchimp", "globex/hubspot", "initech/hubspot"]
    assert {i["pool"] for i in mapped.values()} == {"leadscore"}
    assert mapped["acme/mailchimp"]["state"] == "skipped"
    assert mapped["globex/hubspot"] | {"state": "success", "try": 2} == mapped["globex/hubspot"]
    assert {mapped[k]["state"] for k in ("acme/hubspot", "initech/hubspot")} == {"success"}
    assert result["tries"].count("globex/hubspot") == 2

    results = {
        x["index"]: x["value"]
        for x in result["xcoms"]
        if x["task"] == "sync" and x["key"] == "return_value"
    }
    assert set(results) == {mapped[k]["index"] for k in mapped if k != "acme/mailchimp"}
    summaries = {name: results[mapped[f"{name}/hubspot"]["index"]] for name in TENANTS}
    # each sandbox holds its own tenant's fields and writes, none of another's
    assert_apart(boxes, summaries)
    for name, summary in summaries.items():
        assert set(summary["systems"]) == {"hubspot"}
        # the task's result is the run's summary, as the tenant's own store keeps it
        runs = StateStore(urls[name]).runs()
        assert [r.summary for r in runs] == [summary]
        # each store holds its own tenant's people, and acme's none of its Mailchimp's
        assert store_emails(urls[name]) == sandbox_emails(boxes[name], mailchimp=False)
    # acme's Mailchimp, skipped, holds none of its scores
    tag = FieldMap.for_rules(load_rules(DEFAULT_RULES), MAILCHIMP_CAPABILITIES, "acme_")
    audience = boxes["acme"].mailchimp.audience
    merged = {audience.member(r).merge_fields.get(tag.names["score"]) for r in range(audience.size)}
    assert merged == {""}  # the merge field `leadscore setup` made, empty

    # a bad tenants file, a tenant with no system: failed at once, with where and what
    bad, unknown = result["failed"]
    assert "bad/tenants.yaml:2: tenants.Acme Corp: a tenant's name" in bad
    assert unknown.startswith("acme/hubspot: tenant acme configures no system: give it a section")
