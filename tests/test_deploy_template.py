"""docs/deploy/template.yaml: cfn-lint passes on it, and the values cfn-lint does not check
on a SAM function (it validates SAM resources against their schema only) are right."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

TEMPLATE = Path(__file__).parents[1] / "docs" / "deploy" / "template.yaml"
LAMBDA_LONGEST = 900
"""Seconds: Lambda's longest timeout."""


class TemplateLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !Sub, !GetAtt...) read as plain values."""


def tagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node)}
    return {suffix: loader.construct_mapping(node)}


TemplateLoader.add_multi_constructor("!", tagged)


def template() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load(TEMPLATE.read_text("utf-8"), TemplateLoader)
    return loaded


def function() -> dict[str, Any]:
    found = [
        r["Properties"]
        for r in template()["Resources"].values()
        if r["Type"] == "AWS::Serverless::Function"
    ]
    assert len(found) == 1
    return found[0]


def test_cfn_lint_passes() -> None:
    if importlib.util.find_spec("cfnlint") is None:
        if os.environ.get("CI"):
            pytest.fail("cfn-lint is not installed; `make test` installs it with the dev extra")
        pytest.skip("cfn-lint is not installed here (pip install -e '.[dev]' brings it)")
    linted = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from cfnlint.runner import main; sys.exit(main())",
            str(TEMPLATE),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_the_function_runs_the_handler_within_lambdas_limits() -> None:
    props = function()
    assert props["Runtime"] == "python3.12"
    assert props["Handler"] == "sync.web.aws.handler"
    assert isinstance(props["Timeout"], int) and 0 < props["Timeout"] <= LAMBDA_LONGEST
    assert props["FunctionUrlConfig"]["AuthType"] in {"NONE", "AWS_IAM"}
    module, _, name = props["Handler"].rpartition(".")
    imported = __import__(module, fromlist=[name])
    assert callable(getattr(imported, name))


def test_a_schedule_and_settings_reach_the_function() -> None:
    props = function()
    events = props["Events"].values()
    assert any(e["Type"] in ("Schedule", "ScheduleV2") for e in events)
    variables = props["Environment"]["Variables"]
    assert all(name.startswith("LEADSCORE_") for name in variables)
    state = variables["LEADSCORE_STATE_URL"]
    assert "{{resolve:secretsmanager:" in str(state)  # a secret, never written in the template
    for name, value in variables.items():
        if "SECRET" in name or "TOKEN" in name:
            assert "{{resolve:secretsmanager:" in str(value), name


def test_every_setting_named_exists() -> None:
    from sync.settings import env_example

    known = {
        line.split("=")[0] for line in env_example().splitlines() if line.startswith("LEADSCORE_")
    }
    named = set(function()["Environment"]["Variables"])
    assert named <= known, named - known
