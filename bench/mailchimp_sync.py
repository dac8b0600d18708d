"""The Mailchimp writes against their limits: calls against the minimum, wall time against
the calls' latency spread over Mailchimp's 10 connections.

    .venv/bin/python bench/mailchimp_sync.py                        # 50,000 members
    .venv/bin/python bench/mailchimp_sync.py --members 5000 --direct 500 --scale 5

For each write path, a fresh audience (its own sandbox process, with `--latency`
vendor seconds added to every answer and its clock `--scale` times real time) gets
leadscore's merge fields, then one full sync, whose write phase writes every member
(none holds a score yet), each with its merge fields and its stage tag: first
through `/batches` (`batch_write_above` 0) for `--members` members, then call by call
(`batch_write_above` above the count) for `--direct` members (a run of 50,000 call by
call would take 50,000 x 2 x latency / 10 = 42 minutes at 250 ms). The write phase is
the sync's own `write` phase, store work included. Printed per path:

- write calls (every call the connector made in the phase, retries included) against
  the path's minimum: batches, per batch of 10,000 operations a start, a status read
  and a download, plus the one read of the audience's tags; call by call, a PATCH and
  a tags POST per member plus that read: goal at most 1.05;
- call by call: the write phase's wall time against calls x latency / 10 (Mailchimp's
  connections set the pace): goal at most 1.2. A batch's wall time is Mailchimp's
  processing (the sandbox's assumed pace, `batch_pace` operations a second after
  `batch_start_delay`), printed against that, without a goal.
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

from connectors.mailchimp.batch import BATCH_OPERATIONS
from connectors.mailchimp.client import CONNECTIONS
from connectors.mailchimp.connector import MailchimpConnector
from connectors.mailchimp.system import MAILCHIMP_CAPABILITIES
from connectors.policy import CallPolicy
from sandbox import Latency, SandboxClock
from scoring import load_rules
from sync import StateStore, Sync, SyncOptions
from sync.fields import FieldMap

RULES = Path(__file__).parents[1] / "scoring" / "rulesets" / "default.yaml"
MAILCHIMP_SHARE = 0.591
"""Share of the synthetic world's people that are audience members (measured on seed 7)."""
WRITE_OPERATIONS = ("lists.update_list_member", "lists.update_list_member_tags",
                    "lists.list_segments", "batches.")  # fmt: skip


def serve(pipe: Connection, people: int, seed: int, scale: float, latency: float) -> None:
    """The Mailchimp sandbox in a process of its own: its work (the batches' operations
    among it) does not compete with the sync's for this process's interpreter."""
    from sandbox.mailchimp import MailchimpSandbox
    from sandbox.world.generate import generate_world

    started = time.perf_counter()
    world = generate_world(people, seed=seed)
    clock = SandboxClock(scale)
    with MailchimpSandbox(world, latency=Latency(latency), clock=clock) as box:
        pipe.send({"base_url": box.base_url, "api_key": box.api_key, "now": world.now,
                   "built": time.perf_counter() - started, "members": box.audience.size,
                   "pace": box.batch_pace, "delay": box.batch_start_delay})  # fmt: skip
        while (order := pipe.recv()) != "stop":
            if order == "peak":
                pipe.send(box.peak_connections)


def minimum(path: str, written: int) -> int:
    """The fewest write calls of the path for what the run wrote (every member tagged)."""
    if path == "direct":
        return 2 * written + 1
    return 3 * math.ceil(2 * written / BATCH_OPERATIONS) + 1


def run_path(path: str, args: argparse.Namespace, members: int) -> dict[str, Any]:
    """One fresh audience, set up, then one full sync; what its write phase did."""
    context = multiprocessing.get_context("spawn")
    pipe, child_end = context.Pipe()
    people = round(members / MAILCHIMP_SHARE)
    server = context.Process(
        target=serve, args=(child_end, people, args.seed, args.scale, args.latency), daemon=True
    )
    server.start()
    world = pipe.recv()
    rules = load_rules(RULES)
    fields = FieldMap.for_rules(rules, MAILCHIMP_CAPABILITIES)
    clock = SandboxClock(args.scale)  # the server's rate: its batches and our reads agree
    connector = MailchimpConnector(
        api_key=world["api_key"],
        base_url=world["base_url"],
        batch_write_above=0 if path == "batches" else 10**9,
        policy=CallPolicy("mailchimp", clock=clock, seed=0),
    )
    connector.setup(fields.specs)
    at = datetime.fromtimestamp(world["now"], UTC)
    with tempfile.TemporaryDirectory() as scratch:
        store = StateStore(f"sqlite:///{Path(scratch) / 'state.db'}")
        sync = Sync(rules, store, [connector], {"mailchimp": fields}, clock=lambda: at)
        summary = sync.run(SyncOptions(full=True, workers=4))
        store.close()
    pipe.send("peak")
    peak = pipe.recv()
    pipe.send("stop")
    server.join(timeout=30)
    stats = summary.systems["mailchimp"]
    writes = {op: n for op, n in stats.calls.items() if op.startswith(WRITE_OPERATIONS)}
    return {
        "path": path,
        "built": world["built"],
        "members": world["members"],
        "written": stats.written,
        "failed": stats.failed,
        "planned": stats.planned,
        "calls": writes,
        "wall": summary.phases.get("write", 0.0),
        "phases": summary.phases,
        "peak": peak,
        "pace": world["pace"],
        "delay": world["delay"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=50_000, help="members, by batches")
    parser.add_argument("--direct", type=int, default=2_000, help="members, call by call")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="vendor seconds per real second; local work is not scaled, so >1 understates us",
    )
    parser.add_argument("--latency", type=float, default=0.25, help="vendor seconds per answer")
    args = parser.parse_args(argv)
    rows, ok = [], True
    for path, members in (("batches", args.members), ("direct", args.direct)):
        got = run_path(path, args, members)
        calls = sum(got["calls"].values())
        least = minimum(path, got["written"])
        ratio = calls / least if least else float("inf")
        if path == "direct":
            bound = calls * args.latency / CONNECTIONS / args.scale
        else:  # Mailchimp's processing at the sandbox's assumed pace, one batch after another
            batches = math.ceil(2 * got["written"] / BATCH_OPERATIONS)
            bound = (2 * got["written"] / got["pace"] + batches * got["delay"]) / args.scale
        wall_ratio = got["wall"] / bound if bound else float("inf")
        ok = ok and ratio <= 1.05 and (path != "direct" or wall_ratio <= 1.2)
        ok = ok and got["written"] == got["planned"] and got["failed"] == 0 and got["peak"] <= 10
        rows.append((path, got, calls, least, ratio, bound, wall_ratio))
        print(
            f"{path:<9}audience of {got['members']:,} built in {got['built']:.1f} s; "
            f"{got['written']:,} of {got['planned']:,} written, {got['failed']} failed; peak "
            f"{got['peak']} connections; write calls "
            + ", ".join(f"{op} {n}" for op, n in sorted(got["calls"].items()))
        )
        print("         phases: " + ", ".join(f"{k} {v:.2f} s" for k, v in got["phases"].items()))
    print()
    print(f"{'path':<9}{'written':>8}{'calls':>7}{'min':>7}{'ratio':>7}"
          f"{'write wall':>12}{'bound':>9}{'ratio':>7}")  # fmt: skip
    for path, got, calls, least, ratio, bound, wall_ratio in rows:
        print(
            f"{path:<9}{got['written']:>8,}{calls:>7}{least:>7}{ratio:>7.3f}"
            f"{got['wall']:>11.2f}s{bound:>8.2f}s{wall_ratio:>7.3f}"
        )
    print(
        "goals: calls/min <= 1.05 on both paths; call by call, write wall <= 1.2 x calls x "
        f"{args.latency * 1000:g} ms / {CONNECTIONS} (scale {args.scale:g}); batches' bound is "
        "the sandbox's assumed processing time (no goal)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
