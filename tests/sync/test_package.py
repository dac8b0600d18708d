"""`leadscore package --target lambda`: the zip is built from this environment, offline,
within Lambda's 250 MB, and works alone: unpacked in an empty folder, a fresh isolated
interpreter with only that folder on its path imports the handler (without the heavy
libraries), answers `/healthz`, and runs a scheduled sync against the HubSpot sandbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sync.cli import app
from sync.package import (
    LAMBDA_UNZIPPED_LIMIT,
    PROJECT_PACKAGES,
    UNUSED,
    closure,
    source_label,
    wanted,
)

RUN_IN_ZIP = r"""
import importlib.machinery, json, sys, tempfile, time
root = sys.argv[1]
sys.path.insert(0, root)
compiled = []
from_source = importlib.machinery.SourceFileLoader.source_to_code
def counted(self, data, path, *args, **kwargs):
    compiled.append(str(path))
    return from_source(self, data, path, *args, **kwargs)
importlib.machinery.SourceFileLoader.source_to_code = counted
began = time.perf_counter()
from sync.web.aws import handler
imported = time.perf_counter() - began
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"numpy", "sqlalchemy", "hubspot", "pyarrow"})

class Context:
    def get_remaining_time_in_millis(self):
        return 120_000

health = handler({"version": "2.0", "rawPath": "/healthz", "rawQueryString": "",
                  "headers": {}, "requestContext": {"domainName": "x.lambda-url.us-east-1.on.aws",
                  "http": {"method": "GET", "path": "/healthz"}}, "isBase64Encoded": False}, Context())

from pathlib import Path
from scoring import load_rules
rules = load_rules(Path(root) / "leadscore.yaml")
yaml_read = sorted({"yaml", "scoring.yamlrules"} & set(sys.modules))

from sandbox import Sandbox
from sync import Leadscore
from sync.demo import sandbox_settings
from sync.web import serverless
from sync.web.core import WebhookCore

with Sandbox(people=20, seed=3) as box:
    settings = sandbox_settings(box, "sqlite:///" + tempfile.mkdtemp() + "/state.db")
    with Leadscore.open(settings, rules=rules, pace=box.clock) as app:
        app.setup()
        serverless.use_core(WebhookCore(settings, open_app=lambda s: app))
        run = handler({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}, Context())

outside = sorted(
    name for name, module in list(sys.modules.items())
    if (getattr(module, "__file__", None) or "").find("site-packages") >= 0
)
print(json.dumps({"imported": imported, "heavy": heavy, "health": health, "run": run,
                  "outside": outside[:5], "path": sys.path, "yaml_read": yaml_read,
                  "compiled": [p for p in compiled if p.startswith(root)][:5]}))
"""


def cached_name(source: str, tag: str) -> str:
    folder, _, module = source.rpartition("/")
    return f"{folder}/__pycache__/{module[:-3]}.{tag}.pyc"


@pytest.mark.slow
def test_the_lambda_zip_runs_the_handler_alone(tmp_path: Path) -> None:
    out = tmp_path / "leadscore-lambda.zip"
    rules = Path(__file__).parents[2] / "scoring" / "rulesets" / "default.yaml"
    built = CliRunner().invoke(
        app, ["package", "--target", "lambda", "--out", str(out), "--rules", str(rules)]
    )
    assert built.exit_code == 0, built.output
    said = built.output
    assert "MB unzipped of Lambda's 250 MB; built with python3." in said

    folder = tmp_path / "function"
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        unzipped = sum(info.file_size for info in archive.infolist())
        archive.extractall(folder)
    tops = {name.split("/")[0] for name in names}
    assert {"sync", "scoring", "connectors", "numpy", "pyarrow", "psycopg"} <= tops
    assert not tops & {"pytest", "_pytest", "hypothesis", "mypy", "ruff", "typer", "pygments"}
    assert "sync/web/aws.py" in names and "leadscore.yaml" in names
    assert unzipped <= LAMBDA_UNZIPPED_LIMIT
    # bytecode for every module: beside the project's sources, in place of the others'
    tag = sys.implementation.cache_tag
    sources = [n for n in names if n.endswith(".py")]
    assert sources and all(n.split("/")[0] in PROJECT_PACKAGES for n in sources)
    shown = set(names)
    lacking = [n for n in sources if cached_name(n, tag) not in shown]
    assert lacking == []
    assert {"numpy/__init__.pyc", "sqlalchemy/engine/base.pyc", "six.pyc"} <= shown
    assert len([n for n in names if n.endswith(".pyc")]) >= len(sources) + 1000
    assert [n for n in names if n.startswith("__pycache__/leadscore.yaml.")] != []
    assert not [n for n in names if n.startswith(("adbc_driver_sqlite/", "sqlalchemy/orm/"))]

    # Times no bytecode was made for, as an unzipped function's files may carry: the
    # bytecode is used all the same, and nothing is written in the folder.
    for where in folder.rglob("*"):
        os.utime(where, (1_000_000_000, 1_000_000_000))
    before = sorted(str(p) for p in folder.rglob("*"))
    env = {"PATH": os.environ.get("PATH", "/usr/bin"), "HOME": str(tmp_path)}
    env["LEADSCORE_STATE_URL"] = f"sqlite:///{tmp_path / 'unused.db'}"
    done = subprocess.run(
        [sys.executable, "-S", "-I", "-c", RUN_IN_ZIP, str(folder)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["compiled"] == [] and seen["yaml_read"] == []
    assert sorted(str(p) for p in folder.rglob("*")) == before
    assert seen["outside"] == [] and not any("site-packages" in p for p in seen["path"])
    assert seen["heavy"] == [] and seen["imported"] < 1.0
    assert seen["health"]["statusCode"] == 200
    assert json.loads(seen["health"]["body"]) == {"status": "ok"}
    run = seen["run"]
    assert (run["status"], run["error"]) == ("ok", None), run
    assert run["systems"]["hubspot"]["written"] > 0


def test_bad_arguments_write_no_zip(tmp_path: Path) -> None:
    out = tmp_path / "f.zip"
    runner = CliRunner()
    other = runner.invoke(app, ["package", "--target", "gcp", "--out", str(out)])
    assert other.exit_code == 2 and "expected lambda" in other.output
    missing = runner.invoke(app, ["package", "--out", str(out), "--rules", str(tmp_path / "no")])
    assert missing.exit_code == 2 and "--rules: no file" in " ".join(missing.output.split())
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nrules: 3\n")
    invalid = runner.invoke(app, ["package", "--out", str(out), "--rules", str(bad)])
    said = "".join(invalid.output.split())  # a long path may be wrapped anywhere
    assert invalid.exit_code == 2 and f"{bad}:2:rules:" in said and "Traceback" not in said
    assert not out.exists()


def test_requirements_are_read_with_their_extras_and_markers() -> None:
    assert wanted('psycopg[binary]>=3.2; extra == "postgres"', ["postgres"]) == (
        "psycopg",
        {"binary"},
    )
    assert wanted('pytest>=8; extra == "dev"', ["postgres"]) is None
    assert wanted("PyYAML>=6.0", []) == ("pyyaml", set())
    assert wanted('tomli; python_version < "3.0"', []) is None
    names = {d.metadata["Name"].lower() for d in closure("leadscore", ["postgres"])}
    assert {"numpy", "pyarrow", "psycopg", "psycopg-binary", "hubspot-api-client"} <= names
    assert not names & {"pytest", "hypothesis", "mypy", "ruff", "functions-framework"}


@pytest.mark.parametrize(
    ("name", "left_out"),
    [
        ("pyarrow/libarrow_flight.so.2600", True),
        ("pyarrow/libarrow_python.so", True),
        ("pyarrow/libarrow_python.so.2600.1.0", True),
        ("pyarrow/libarrow_python.so.2600", False),
        ("pyarrow/lib.cpython-312-x86_64-linux-gnu.so", False),
        ("pyarrow/_compute.cpython-312-x86_64-linux-gnu.so", False),
        ("pyarrow/_parquet.cpython-312-x86_64-linux-gnu.so", True),
        ("hubspot/cms/blogs/api.py", True),
        ("hubspot/crm/contacts/api/basic_api.py", True),  # contacts through crm/objects
        ("hubspot/crm/objects/api/basic_api.py", False),
        ("hubspot/marketing/forms/api.py", True),  # a plain GET
        ("hubspot/crm/pipelines/api/pipelines_api.py", True),
        ("hubspot/crm/associations/v4/api/batch_api.py", False),
        ("sqlalchemy/dialects/postgresql/base.py", False),
        ("sqlalchemy/dialects/mysql/base.py", True),
        ("sqlalchemy/orm/session.py", True),
        ("sqlalchemy/sql/schema.py", False),
    ],
)
def test_what_the_function_never_loads_is_left_out(name: str, left_out: bool) -> None:
    assert bool(UNUSED.match(name)) is left_out


def test_bytecode_is_counted_with_its_source() -> None:
    labels = {"numpy/core.py": "numpy", "sync/app.py": "leadscore", "six.py": "six"}
    assert source_label("numpy/core.pyc", labels) == "numpy"
    assert source_label("sync/__pycache__/app.cpython-312.pyc", labels) == "leadscore"
    assert source_label("six.pyc", labels) == "six"
    assert source_label("numpy/core.py", labels) == "numpy"
    assert source_label("__pycache__/leadscore.yaml.0a1b.json", labels) == "leadscore"


def test_every_sdk_package_the_code_names_is_kept_in_the_zip() -> None:
    """A module of the HubSpot SDK named anywhere in the packages (an import, or the
    client's attribute path `crm.<api>`) is kept: a path the zip test does not run (the
    account roll-ups' company reads and writes) would otherwise fail in Lambda only."""
    import re

    root = Path(__file__).parents[2]
    named: set[str] = set()
    for package in PROJECT_PACKAGES:
        for source in (root / package).rglob("*.py"):
            text = source.read_text()
            named |= set(re.findall(r"(?<![.\w])hubspot\.((?:[a-z_]+\.)*[a-z_]+)", text))
            named |= {f"crm.{api}" for api in re.findall(r"_client\.crm\.([a-z_]+)", text)}
    assert named, "the pattern found no SDK module"
    left_out = sorted(n for n in named if UNUSED.match(f"hubspot/{n.replace('.', '/')}/x.py"))
    assert left_out == []
