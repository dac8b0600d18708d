"""The Mailchimp writes and pulls against their limits: calls against the minimum, wall time
against the calls' latency spread over Mailchimp's 10 connections.

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

And the pull of the batches path's full sync (its streams side by side, sharing the
connections): per stream measured, its calls against the minimum (members: a page per
1,000 and the newest-change read, while the count also holds the walk's overlap, a page
per 49, and the activity streams' one read of the archived members, the same operation;
email activity: the campaign and report lists, then
per campaign its report pages by the counts its cursor kept, at least one, its
unsubscribes and its abuse reports), goal at most 1.05; its wall, and the whole pull
phase's, against calls x latency / 10, goal at most 1.2.
"""

from __future__ import annotations

import argparse
import gc
import json
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
from connectors.mailchimp.collections_walk import PAGE_COUNT
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
STREAM_OPERATIONS = {
    "contacts": ("lists.get_list_members_info",),
    "email_activity": ("campaigns.list", "reports."),
}
"""The pull calls of each stream measured (the audience list, `lists.get_all_lists`, is
shared by the streams and counted apart)."""


def serve(pipe: Connection, people: int, seed: int, scale: float, latency: float) -> None:
    """The Mailchimp sandbox in a process of its own: its work (the batches' operations
    among it) does not compete with the sync's for this process's interpreter."""
    from sandbox.mailchimp import MailchimpSandbox
    from sandbox.world.generate import generate_world

    started = time.perf_counter()
    world = generate_world(people, seed=seed)
    clock = SandboxClock(scale)
    with MailchimpSandbox(world, latency=Latency(latency), clock=clock) as box:
        # The world and the sandbox's indexes (millions of objects) left out of the
        # collector's passes: a full pass over them stalled every request in flight for
        # 1.2 to 1.5 s, a pause of this process, not of Mailchimp.
        gc.collect()
        gc.freeze()
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


def activity_minimum(cursor: str | None) -> int:
    """The fewest calls of a first email-activity pull: the campaign list and the report
    list, then per campaign its email-activity report (a call per 1,000 recipients, at
    least one), its unsubscribes (per 1,000, at least one) and its abuse reports (one),
    by the counts the pull kept in its cursor."""
    entries = (json.loads(cursor) if cursor else {}).get("campaigns") or {}
    least = 2
    for entry in entries.values():
        counts = entry.get("counts") or {}
        least += max(1, math.ceil(int(counts.get("emails_sent", 0)) / PAGE_COUNT))
        least += max(1, math.ceil(int(counts.get("unsubscribed", 0)) / PAGE_COUNT)) + 1
    return least


def pull_figures(got: dict[str, Any], latency: float, scale: float) -> list[tuple[Any, ...]]:
    """Per stream measured, and for the whole pull phase: (name, calls, minimum, calls /
    minimum, wall seconds, calls x latency / connections, wall / that bound)."""
    rows: list[tuple[Any, ...]] = []
    total = 0
    for stream, prefixes in STREAM_OPERATIONS.items():
        calls = sum(n for op, n in got["all_calls"].items() if op.startswith(prefixes))
        least = got["least"][stream]
        wall = got["streams"].get(stream, 0.0)
        bound = calls * latency / CONNECTIONS / scale
        rows.append((stream, calls, least, calls / least, wall, bound, wall / bound))
        total += calls
    pulled = sum(n for op, n in got["all_calls"].items() if not op.startswith(WRITE_OPERATIONS))
    wall, bound = got["phases"].get("pull", 0.0), pulled * latency / CONNECTIONS / scale
    rows.append(("pull (all)", pulled, None, None, wall, bound, wall / bound))
    return rows


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
        activity_cursor = store.cursors("mailchimp").get("email_activity")
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
        "all_calls": dict(stats.calls),
        "streams": dict(stats.stream_seconds),
        "least": {
            "contacts": math.ceil(world["members"] / PAGE_COUNT) + 1,
            "email_activity": activity_minimum(activity_cursor),
        },
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
    rows, ok, pulls = [], True, []
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
        if path == "batches":
            pulls = pull_figures(got, args.latency, args.scale)
            for row in pulls:
                ok = ok and (row[3] is None or row[3] <= 1.05) and row[6] <= 1.2
        print(
            f"{path:<9}audience of {got['members']:,} built in {got['built']:.1f} s; "
            f"{got['written']:,} of {got['planned']:,} written, {got['failed']} failed; peak "
            f"{got['peak']} connections; write calls "
            + ", ".join(f"{op} {n}" for op, n in sorted(got["calls"].items()))
        )
        print("         phases: " + ", ".join(f"{k} {v:.2f} s" for k, v in got["phases"].items()))
        print("         pull: " + ", ".join(f"{k} {v:.2f} s" for k, v in got["streams"].items()))
    print()
    print(f"{'path':<9}{'written':>8}{'calls':>7}{'min':>7}{'ratio':>7}"
          f"{'write wall':>12}{'bound':>9}{'ratio':>7}")  # fmt: skip
    for path, got, calls, least, ratio, bound, wall_ratio in rows:
        print(
            f"{path:<9}{got['written']:>8,}{calls:>7}{least:>7}{ratio:>7.3f}"
            f"{got['wall']:>11.2f}s{bound:>8.2f}s{wall_ratio:>7.3f}"
        )
    print()
    print(f"{'pull':<15}{'calls':>7}{'min':>7}{'ratio':>7}{'wall':>9}{'bound':>9}{'ratio':>7}")
    for stream, calls, least, ratio, wall, bound, wall_ratio in pulls:
        shown = f"{least:>7}{ratio:>7.3f}" if least is not None else f"{'':>14}"
        print(f"{stream:<15}{calls:>7}{shown}{wall:>8.2f}s{bound:>8.2f}s{wall_ratio:>7.3f}")
    print(
        "pull: the batches path's full sync, its streams side by side (each stream's wall is "
        "its own pull's, sharing the connections with the others; bound = calls x latency / "
        f"{CONNECTIONS}); goals: calls/min <= 1.05, wall/bound <= 1.2"
    )
    print(
        "goals: calls/min <= 1.05 on both paths; call by call, write wall <= 1.2 x calls x "
        f"{args.latency * 1000:g} ms / {CONNECTIONS} (scale {args.scale:g}); batches' bound is "
        "the sandbox's assumed processing time (no goal)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
