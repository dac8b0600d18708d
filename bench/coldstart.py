"""A serverless cold start, from a fresh process, against the triggers' goals.

    .venv/bin/python bench/coldstart.py            # 7 runs of each
    .venv/bin/python bench/coldstart.py --runs 3

Each figure is a fresh interpreter, as a new Lambda or Cloud Functions instance
starts one (the page cache warm: the first run of each is discarded):

- importing the Lambda handler module and reading its settings (goal 300 ms);
- the whole cold answer to a sample event: an API Gateway HTTP API (2.0) event
  for `/hubspot`, signed with `X-HubSpot-Signature-v3`, handled by
  `sync.web.aws.handler` in the fresh process: the signature checked, the
  application opened (rules, store, connector, the fields checked), the contact
  fetched from the HubSpot emulator, scored and written (goal 600 ms);
- beside them, importing everything a sync loads, the time a handler would pay if
  it imported at the top, and the bare interpreter.

Each figure runs until the child has written its last line (the answer, or that the
imports are done), not until the interpreter has exited: Lambda sends the answer when
the handler returns and keeps the process, so tearing it down (a few hundred ms once
numpy, pyarrow and SQLAlchemy are loaded) is never part of an answer. The children
write their bytecode to a folder of their own (`PYTHONPYCACHEPREFIX`) even when the
caller's environment says not to, and the first run of each is discarded: a deployed
package holds its bytecode (pip compiles what it installs), and a figure that compiled
leadscore's own modules on every run would measure the compiler.

Each child has the variables Lambda sets that the handler reads
(`AWS_LAMBDA_FUNCTION_NAME`: `sync.entry.cold_start`).

The emulator runs in this process on loopback with no added latency; its store
and fields are set up once before the runs. Prints the median of each and its
ratio to its goal; exits 1 if a goal is missed.

    .venv/bin/python bench/coldstart.py --package leadscore-lambda.zip

runs the same children from that zip (`leadscore package`), unzipped, as Lambda runs
them: the folder alone on the path (no site-packages), its rule file, and nothing made
there kept from one start to the next (Lambda's /var/task is read-only): bytecode is
not written, and whatever a run left in the folder is removed before the next. So a zip
without bytecode compiles what it imports on every start, as it would on Lambda.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RULES = ROOT / "scoring" / "rulesets" / "default.yaml"
SECRET = "bench-client-secret-0123456789"
IMPORT_GOAL, ANSWER_GOAL = 0.300, 0.600
EVERYTHING = (
    "import sync.cli, sync.app, sync.pipeline, sync.store, scoring.engine, "
    "connectors.hubspot.client, hubspot, sync.web.core, sync.web.hubspot"
)
IMPORT = "import sync.web.aws; from sync.config import read_settings; read_settings()"
ANSWER = """
import json, sys
event = json.loads(sys.stdin.read())
from sync.web.aws import handler
answer = handler(event, None)
assert answer["statusCode"] == 200, answer
print(answer["body"], flush=True)
"""
DONE = "; print('done', flush=True)"
"""Ends each import command: the figure stops at that line (see the module's docstring)."""


def signed_event(host: str, record: str) -> dict[str, object]:
    body = json.dumps({"hs_object_id": record})
    stamp = str(int(time.time() * 1000))
    uri = f"https://{host}/hubspot"
    message = f"POST{uri}{body}{stamp}".encode()
    signature = base64.b64encode(hmac.new(SECRET.encode(), message, hashlib.sha256).digest())
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/hubspot",
        "rawQueryString": "",
        "headers": {
            "content-type": "application/json",
            "host": host,
            "x-hubspot-signature-v3": signature.decode(),
            "x-hubspot-request-timestamp": stamp,
        },
        "requestContext": {
            "domainName": host,
            "http": {"method": "POST", "path": "/hubspot", "protocol": "HTTP/1.1"},
        },
        "body": body,
        "isBase64Encoded": False,
    }


def timed(command: list[str], env: dict[str, str], stdin: str = "") -> float:
    """Seconds from starting `command` to its first line of output (it writes one, last)."""
    with tempfile.TemporaryFile("w+") as errors:
        began = time.perf_counter()
        with subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        ) as child:
            assert child.stdin is not None and child.stdout is not None
            child.stdin.write(stdin)
            child.stdin.close()
            child.stdout.readline()
            took = time.perf_counter() - began
            child.stdout.read()
        if child.returncode != 0:
            errors.seek(0)
            raise SystemExit(f"{command[-1][:60]!r} failed:\n{errors.read()[-2000:]}")
    return took


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--package", type=Path, help="a zip from `leadscore package`")
    args = parser.parse_args(argv)

    from sandbox import Sandbox
    from sync import Leadscore
    from sync.settings import isolated_settings

    with tempfile.TemporaryDirectory() as folder, Sandbox(people=200, seed=3) as box:
        state = f"sqlite:///{Path(folder) / 'state.db'}"
        section = box.connection_settings()["hubspot"]
        settings = isolated_settings(state_url=state, rules=RULES, hubspot=section)
        with Leadscore.open(settings) as app:
            app.setup()
        env = {key: value for key, value in os.environ.items() if not key.startswith("LEADSCORE_")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        rules, python, fresh = RULES, [sys.executable], None
        if args.package is not None:
            unzipped = Path(folder) / "function"
            with zipfile.ZipFile(args.package) as archive:
                archive.extractall(unzipped)
            rules, python = unzipped / "leadscore.yaml", [sys.executable, "-S"]
            fresh = set(unzipped.rglob("*"))

            def fresh_folder() -> None:  # as read-only: nothing a run made is there next time
                for made in sorted(set(unzipped.rglob("*")) - fresh, reverse=True):
                    made.rmdir() if made.is_dir() else made.unlink()

            env.update(PYTHONPATH=str(unzipped), PYTHONDONTWRITEBYTECODE="1")
        else:
            env.update(PYTHONPYCACHEPREFIX=str(Path(folder) / "bytecode"), PYTHONPATH=str(ROOT))
        env.update(
            LEADSCORE_RULES=str(rules),
            LEADSCORE_STATE_URL=state,
            LEADSCORE_HUBSPOT__ACCESS_TOKEN=section["access_token"],
            LEADSCORE_HUBSPOT__HOST=section["host"],
            LEADSCORE_HUBSPOT__WEBHOOK_CLIENT_SECRET=SECRET,
            LEADSCORE_LOG_LEVEL="WARNING",
            AWS_LAMBDA_FUNCTION_NAME="leadscore",  # as Lambda sets it in every instance
        )
        host = "abc123.lambda-url.eu-west-1.on.aws"
        rows: list[tuple[str, list[float], float | None]] = []
        figures = [
            ("python -c pass (the floor)", [*python, "-c", "pass" + DONE], None),
            ("import the handler + settings", [*python, "-c", IMPORT + DONE], IMPORT_GOAL),
        ]
        if args.package is None:  # the zip holds no command line to import
            figures.append(
                ("import everything a sync loads", [*python, "-c", EVERYTHING + DONE], None)
            )
        for name, command, goal in figures:
            runs = []
            for run in range(args.runs + 1):
                if fresh is not None:
                    fresh_folder()
                took = timed(command, env)
                if run:
                    runs.append(took)
            rows.append((name, runs, goal))
        answers = []
        for run in range(args.runs + 1):
            if fresh is not None:
                fresh_folder()
            event = json.dumps(signed_event(host, str(run % 150 + 1)))
            took = timed([*python, "-c", ANSWER], env, event)
            if run:
                answers.append(took)
        rows.append(("answer a signed HubSpot event, cold", answers, ANSWER_GOAL))

    print(f"{'from a fresh process':<40} {'median':>8} {'min':>8} {'/ goal':>7}")
    missed = []
    for name, runs, goal in rows:
        median = statistics.median(runs)
        ratio = f"{median / goal:>7.2f}" if goal else f"{'':>7}"
        print(f"{name:<40} {median * 1000:>6.0f} ms {min(runs) * 1000:>5.0f} ms {ratio}")
        if goal and median > goal:
            missed.append(name)
    if args.package is None:
        everything = statistics.median(rows[2][1])
        handler = statistics.median(rows[1][1])
        print(f"the handler's import + settings / importing everything: {handler / everything:.2f}")
    if missed:
        print("missed: " + "; ".join(missed))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
