"""A serverless instance's start holds the cyclic garbage collector off until its first
answer (`sync.entry.cold_start`), then freezes what was made so far, so that the first
collection does not walk it all; anywhere else importing a handler changes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = """
import gc, json, sys
import sync.web.{module}
held = not gc.isenabled()
{answer}
young = gc.get_count()[0]  # made since the answer: a pass over them stays short
print(json.dumps([held, gc.isenabled(), gc.get_freeze_count() > 10_000, young < 5_000]))
"""
AWS_ANSWER = "from sync.web.aws import handler; handler({'no': 'kind'}, None)"
GCP_ANSWER = "from sync.web.gcp import scheduled; scheduled(None)"


def run(module: str, answer: str, **variables: str) -> list[bool]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("AWS_LAMBDA_FUNCTION_NAME", "FUNCTION_TARGET", "K_SERVICE")
    }
    env.update(PYTHONPATH=str(ROOT), **variables)
    code = SCRIPT.format(module=module, answer=answer)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
        timeout=120, check=True,
    )  # fmt: skip
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    ("module", "answer", "variable"),
    [
        ("aws", AWS_ANSWER, "AWS_LAMBDA_FUNCTION_NAME"),
        ("gcp", GCP_ANSWER, "FUNCTION_TARGET"),
        ("gcp", GCP_ANSWER, "K_SERVICE"),
    ],
)
def test_a_platform_instance_holds_the_collector_until_its_first_answer(
    module: str, answer: str, variable: str
) -> None:
    assert run(module, answer, **{variable: "leadscore"}) == [True, True, True, True]


@pytest.mark.parametrize(("module", "answer"), [("aws", AWS_ANSWER), ("gcp", GCP_ANSWER)])
def test_imported_elsewhere_the_collector_is_left_alone(module: str, answer: str) -> None:
    assert run(module, answer) == [False, True, False, True]


def test_a_collector_turned_off_by_the_caller_stays_off() -> None:
    code = "import gc; gc.disable()\n" + SCRIPT.format(module="aws", answer=AWS_ANSWER)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AWS_LAMBDA_FUNCTION_NAME": "leadscore"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
        timeout=120, check=True,
    )  # fmt: skip
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [True, False, False, False]
