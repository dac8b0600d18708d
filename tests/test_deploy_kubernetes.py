"""docs/deploy/kubernetes/: the tenant CronJobs parse, never overlap, run one tenant each
with the CLI's own options, and read that tenant's secrets from the directory mounted."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer.main
import yaml

from sync.cli import app

FOLDER = Path(__file__).parents[1] / "docs" / "deploy" / "kubernetes"


SECRETS_DIRS = {
    found
    for path in FOLDER.glob("*.yaml")
    for found in re.findall(r"^#\s+secrets_dir: (\S+)$", path.read_text("utf-8"), re.M)
}
"""The tenants' secrets directories the tenants.yaml the files show names."""


def documents() -> list[dict[str, Any]]:
    found = []
    for path in sorted(FOLDER.glob("*.yaml")):
        found += [d for d in yaml.safe_load_all(path.read_text("utf-8")) if d is not None]
    return found


def sync_options() -> set[str]:
    command = typer.main.get_command(app).commands["sync"]  # type: ignore[attr-defined]
    return {name for p in command.params for name in p.opts if name.startswith("--")}


def test_every_cronjob_runs_one_tenant_without_overlap() -> None:
    jobs = [d for d in documents() if d["kind"] == "CronJob"]
    assert len(jobs) >= 2
    known = sync_options()
    for job in jobs:
        spec = job["spec"]
        assert job["apiVersion"] == "batch/v1"
        assert spec["concurrencyPolicy"] == "Forbid"
        assert len(spec["schedule"].split()) == 5
        pod = spec["jobTemplate"]["spec"]["template"]["spec"]
        assert pod["restartPolicy"] == "Never"
        (container,) = pod["containers"]
        args = container["args"]
        assert args[0] == "sync"
        tenant = args[args.index("--tenant") + 1]
        assert job["metadata"]["labels"]["leadscore/tenant"] == tenant
        assert {a for a in args if a.startswith("--")} <= known
        deadline = spec["jobTemplate"]["spec"]["activeDeadlineSeconds"]
        assert int(args[args.index("--max-seconds") + 1]) < deadline


def test_each_pod_mounts_its_own_tenants_secret_where_the_settings_look() -> None:
    for job in (d for d in documents() if d["kind"] == "CronJob"):
        pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        env = {e["name"]: e["value"] for e in container["env"]}
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        secret = next(n for n, v in volumes.items() if "secret" in v)
        tenant = job["metadata"]["labels"]["leadscore/tenant"]
        assert volumes[secret]["secret"]["secretName"] == f"leadscore-{tenant}"
        # a tenant reads its secrets_dir from tenants.yaml, never LEADSCORE_SECRETS_DIR
        assert set(env) == {"LEADSCORE_TENANTS_FILE"}
        assert mounts[secret] in SECRETS_DIRS
        tenants = next(n for n, v in volumes.items() if "configMap" in v)
        assert Path(env["LEADSCORE_TENANTS_FILE"]).parent == Path(mounts[tenants])
        assert pod["automountServiceAccountToken"] is False
