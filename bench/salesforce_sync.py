"""The Salesforce writes against their limits: calls against the minimum, the budget used,
wall time against the calls' latency spread over the concurrent requests.

    .venv/bin/python bench/salesforce_sync.py                      # 50,000 records
    .venv/bin/python bench/salesforce_sync.py --contacts 5000 --scale 5
    .venv/bin/python bench/salesforce_sync.py --path collections   # that path alone

For each write path, a fresh org (its own sandbox process, as Salesforce would
serve from its own machines, with `--latency` vendor seconds added to every
answer and its clock `--scale` times real time) gets leadscore's fields, then
one full sync, whose write phase writes every Lead and Contact (none holds a
score yet): first through sObject Collections (`bulk_write_above` above the
count), then through Bulk API 2.0 jobs (`bulk_write_above` 0). The write phase
is the sync's own `write` phase: from handing the first batch to the connector
to the last outcome recorded in the state store, store work included; the
pull, the scoring and the plan before it are not in it. Printed per path:

- write calls (every call the connector made in the phase, retries included)
  against the path's minimum: records / 200 for collections; for bulk, per job
  create, upload, close and one poll, plus the result sets its counts call for:
  goal at most 1.05;
- the daily budget the run used (the org's count in `Sforce-Limit-Info`, before
  and after the sync) and the write phase's share of it;
- collections: the write phase's wall time against calls x latency / workers
  (Salesforce has no per-second limit, so the latency and the 4 concurrent
  requests set the pace): goal at most 1.15. A bulk job's wall time is
  Salesforce's processing time, not its calls', and is printed without a goal.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import sys
import tempfile
import time
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from connectors.policy import CallPolicy
from connectors.salesforce.attributes import SALESFORCE_ATTRIBUTES
from connectors.salesforce.connector import SalesforceConnector
from connectors.salesforce.settings import SalesforceSettings
from connectors.salesforce.system import SF_CAPABILITIES
from sandbox import Latency, SandboxClock
from scoring import load_rules
from sync import StateStore, Sync, SyncOptions
from sync.fields import FieldMap

RULES = Path(__file__).parents[1] / "scoring" / "rulesets" / "default.yaml"
SALESFORCE_SHARE = 0.534
"""Share of the synthetic world's people that Salesforce holds as live Leads and Contacts
(measured on seed 7)."""
WORKERS = 4
COLLECTION = 200
JOB_LEAST = 4
"""create, upload, close and one poll."""


def serve(pipe: Connection, people: int, seed: int, scale: float, latency: float) -> None:
    """The Salesforce sandbox in a process of its own: its work does not compete with the
    sync's for this process's interpreter."""
    from sandbox.salesforce import SalesforceSandbox
    from sandbox.world.generate import generate_world

    started = time.perf_counter()
    world = generate_world(people, seed=seed)
    clock = SandboxClock(scale)
    with SalesforceSandbox(world, latency=Latency(latency), clock=clock) as box:
        with box.org_lock:
            box.org.settle()
            now = box.org.stamp()
        given = box.credentials("oauth")
        pipe.send({"base_url": box.base_url, "credentials": given, "now": now.timestamp(),
                   "built": time.perf_counter() - started, "limit": box.budget.limit})  # fmt: skip
        while (order := pipe.recv()) != "stop":
            if order == "used":
                pipe.send(box.budget.used)
            elif order == "calls":
                pipe.send(dict(box.calls))


def minimum(path: str, written: int, calls: dict[str, int], jobs: int) -> int:
    """The fewest write calls of the path for what the run wrote."""
    if path == "collections":
        return math.ceil(written / COLLECTION)
    results = sum(n for op, n in calls.items() if op.startswith("bulk2.") and "esults" in op)
    results += calls.get("bulk2.unprocessedrecords", 0)
    return jobs * JOB_LEAST + results


def run_path(path: str, args: argparse.Namespace, people: int) -> dict[str, Any]:
    """One fresh org, set up, then one full sync; what its write phase did."""
    import requests

    from sandbox.salesforce import SandboxAdapter

    context = multiprocessing.get_context("spawn")
    pipe, child_end = context.Pipe()
    server = context.Process(
        target=serve, args=(child_end, people, args.seed, args.scale, args.latency), daemon=True
    )
    server.start()
    world = pipe.recv()
    given = world["credentials"]
    above = 10**9 if path == "collections" else 0
    settings = SalesforceSettings(
        username=given["username"], password=given["password"],
        client_id=given["consumer_key"], client_secret=given["consumer_secret"],
        bulk_write_above=above,
    )  # fmt: skip
    rules = load_rules(RULES)
    fields = FieldMap.for_rules(rules, SF_CAPABILITIES)
    http = requests.Session()
    http.mount("https://", SandboxAdapter(world["base_url"]))
    clock = SandboxClock(args.scale)  # the server's rate: its jobs and our polls agree
    connector = SalesforceConnector(
        settings,
        properties=fields.pulled(rules, SALESFORCE_ATTRIBUTES),
        http=http,
        policy=CallPolicy("salesforce", clock=clock, seed=0),
    )
    connector.setup(fields.specs)  # the fields, and the permission set that shows them
    at = datetime.fromtimestamp(world["now"], UTC)
    with tempfile.TemporaryDirectory() as scratch:
        store = StateStore(f"sqlite:///{Path(scratch) / 'state.db'}")
        sync = Sync(rules, store, [connector], {"salesforce": fields}, clock=lambda: at)
        pipe.send("used")
        before = pipe.recv()
        summary = sync.run(SyncOptions(full=True, workers=WORKERS))
        pipe.send("used")
        after = pipe.recv()
        store.close()
    pipe.send("calls")
    served = pipe.recv()
    pipe.send("stop")
    server.join(timeout=30)
    stats = summary.systems["salesforce"]
    writes = {
        op: n for op, n in stats.calls.items() if op.split(".")[0] in ("collections", "bulk2")
    }
    return {
        "path": path,
        "built": world["built"],
        "limit": world["limit"],
        "written": stats.written,
        "failed": stats.failed,
        "planned": stats.planned,
        "calls": writes,
        "jobs": served.get("bulk2.create", 0),
        "run_calls": after - before,
        "wall": summary.phases.get("write", 0.0),
        "phases": summary.phases,
        "budget": stats.budget or {},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=50_000, help="Leads and Contacts")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="vendor seconds per real second; local work is not scaled, so >1 understates us",
    )
    parser.add_argument("--latency", type=float, default=0.05, help="vendor seconds per answer")
    parser.add_argument(
        "--path",
        choices=("collections", "bulk", "both"),
        default="both",
        help="the write path(s) to measure",
    )
    args = parser.parse_args(argv)
    people = round(args.contacts / SALESFORCE_SHARE)
    print(f"world      {people:,} people, about {args.contacts:,} Salesforce Leads and Contacts")
    rows, ok = [], True
    for path in ("collections", "bulk") if args.path == "both" else (args.path,):
        got = run_path(path, args, people)
        calls = sum(got["calls"].values())
        least = minimum(path, got["written"], got["calls"], got["jobs"])
        ratio = calls / least if least else float("inf")
        bound = calls * args.latency / WORKERS / args.scale
        wall_ratio = got["wall"] / bound if path == "collections" else None
        ok = ok and ratio <= 1.05 and (wall_ratio is None or wall_ratio <= 1.15)
        ok = ok and got["written"] == got["planned"] and got["failed"] == 0
        rows.append((path, got, calls, least, ratio, bound, wall_ratio))
        print(
            f"{path:<12}org built in {got['built']:.1f} s; {got['written']:,} of "
            f"{got['planned']:,} written, {got['failed']} failed; write calls "
            + ", ".join(f"{op} {n}" for op, n in sorted(got["calls"].items()))
        )
        print("           phases: " + ", ".join(f"{k} {v:.2f} s" for k, v in got["phases"].items()))
    print()
    head = f"{'path':<12}{'written':>8}{'calls':>7}{'min':>6}{'ratio':>7}  "
    print(head + f"{'budget used (run, writes)':<28}{'write wall':>11}{'bound':>8}{'ratio':>7}")
    for path, got, calls, least, ratio, bound, wall_ratio in rows:
        limit = got["limit"]
        share = f"{got['run_calls'] / limit:.3%}, {calls / limit:.3%}"
        wall = f"{wall_ratio:.3f}" if wall_ratio is not None else "-"
        print(
            f"{path:<12}{got['written']:>8,}{calls:>7}{least:>6}{ratio:>7.3f}  {share:<28}"
            f"{got['wall']:>10.2f}s{bound:>7.2f}s{wall:>7}"
        )
    print(
        "goals: calls/min <= 1.05 on both paths; collections' write wall <= 1.15 x calls x "
        f"{args.latency * 1000:g} ms / {WORKERS} (scale {args.scale:g}); budget of "
        f"{rows[0][1]['limit']:,} requests a day"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
