"""What keeping score history costs a sync's local work, with and without it, same store.

    .venv/bin/python bench/history.py                   # 20,000 people
    .venv/bin/python bench/history.py --people 100000

Builds the store of `bench/due.py` (one HubSpot record per person, their activity) and
copies it twice. On each copy, each pass in a fresh process: a full local pass (score
everyone, plan what differs from what was written, take every planned write as landed,
record the written values, save the due moments: what `sync --full` does locally), then
an incremental one 30 days later (who is due; decay moves some scores), then a no-change
one a minute after. One copy keeps history (`sync.history`), the other has it switched
off; printed per pass: records changed, history rows added, CPU and wall seconds of the
pass, and the difference. Local only: no emulator, no network.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from due import RULES, build


def local_pass(url: str, at: float, full: bool, history: bool) -> dict[str, float]:
    """A sync's local work on the store as of `at`, every planned write taken as landed."""
    import sqlalchemy as sa

    import sync.incremental
    from connectors.hubspot import CAPABILITIES
    from connectors.protocol import Write
    from scoring import load_rules
    from sync import StateStore, Sync, SyncOptions, SyncSummary
    from sync.fields import FieldMap
    from sync.incremental import save_unplanned, save_written, score_due
    from sync.schema import history as history_table
    from sync.writing import WritePlan

    if not history:
        sync.incremental.record_landed = lambda *_args, **_kwargs: 0  # type: ignore[assignment]
    rules = load_rules(RULES)
    fields = FieldMap.for_rules(rules, CAPABILITIES)
    store = StateStore(url)
    as_of = datetime.fromtimestamp(at, UTC)
    began, cpu = time.perf_counter(), time.process_time()
    job = Sync(rules, store, [], {"hubspot": fields}, clock=lambda: as_of)
    scored = score_due(job, SyncOptions(full=full), SyncSummary("bench"), as_of)
    written = scored.written.get("hubspot", {})
    row_of = {pid: row for row, pid in enumerate(scored.batch.contact_ids)}
    planned: dict[str, Write] = {}
    for person, records in scored.people.records.items():
        for _system, record in records:
            values = fields.values(scored.batch, row_of[person], as_of)
            if fields.differs(values, written.get(record)):
                planned[record] = Write(record, values)
    plan = WritePlan({"hubspot": planned})
    save_unplanned(job, scored, plan)
    store.record_written("hubspot", {r: w.values for r, w in planned.items()}, as_of)
    saving = time.perf_counter()
    save_written(job, scored, plan, {"hubspot": list(planned)})
    saved = time.perf_counter() - saving
    with store.engine.connect() as connection:
        rows = connection.execute(sa.select(sa.func.count()).select_from(history_table)).scalar()
    store.close()
    return {
        "changed": len(planned),
        "rows": float(rows or 0),
        "cpu": time.process_time() - cpu,
        "wall": time.perf_counter() - began,
        "save_written": saved,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def child(*args: str) -> dict[str, Any]:
    """One step in a fresh process; its JSON answer."""
    out = subprocess.run(
        [sys.executable, __file__, *args], check=True, capture_output=True, text=True
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--store", default="/tmp/history-bench.db")
    parser.add_argument("--step", choices=["build", "full", "incremental"], help=argparse.SUPPRESS)
    parser.add_argument("--at", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--off", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    url = f"sqlite:///{args.store}"
    if args.step == "build":
        print(json.dumps(build(url, args.people, args.seed)))
        return
    if args.step is not None:
        print(json.dumps(local_pass(url, args.at, args.step == "full", not args.off)))
        return

    for suffix in ("", "-wal", "-shm"):
        Path(f"{args.store}{suffix}").unlink(missing_ok=True)
    built = child("--step", "build", "--people", str(args.people), "--seed", str(args.seed),
                  "--store", args.store)  # fmt: skip
    print(f"store      {built['persons']:,.0f} persons, {built['activities']:,.0f} activities")
    start = datetime.fromtimestamp(built["now"] + 3600, UTC)
    moments = [
        ("full", "full", start),
        ("+30 days", "incremental", start + timedelta(days=30)),
        ("no change", "incremental", start + timedelta(days=30, minutes=1)),
    ]
    copies = {"on": f"{args.store}.on", "off": f"{args.store}.off"}
    for copy in copies.values():
        shutil.copyfile(args.store, copy)
    for name, step, moment in moments:
        found = {}
        for mode, copy in copies.items():
            extra = ["--off"] if mode == "off" else []
            found[mode] = child("--step", step, "--at", str(moment.timestamp()), "--store",
                                copy, *extra)  # fmt: skip
        on, off = found["on"], found["off"]
        print(
            f"{name:<10} {on['changed']:,.0f} records changed, history rows {on['rows']:,.0f}: "
            f"CPU {off['cpu']:.2f} -> {on['cpu']:.2f} s ({on['cpu'] - off['cpu']:+.2f}), "
            f"wall {off['wall']:.2f} -> {on['wall']:.2f} s, save_written "
            f"{off['save_written']:.3f} -> {on['save_written']:.3f} s"
        )
    for copy in copies.values():
        Path(copy).unlink(missing_ok=True)


if __name__ == "__main__":
    main()
