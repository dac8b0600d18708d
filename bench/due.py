"""A run's local work when little changed: everyone scored once, then only who is due.

    .venv/bin/python bench/due.py                       # 100,000 people
    .venv/bin/python bench/due.py --people 1000000

Builds a SQLite store of the synthetic world's people (one HubSpot record each) and
their activity directly, through `StateStore.save_contacts` and `save_activities`;
then, each in a fresh process, on the default rules:

- a full local pass: load and score everyone, diff against what was written, record
  the written values and every person's due moment (what `sync --full` does locally);
- a no-change incremental local pass a minute later: load and score only who is due,
  diff, record.

Printed per pass: persons scored, records changed, CPU seconds and peak RSS, and the
ratio of the no-change pass to the full one. Goal at a million contacts and twenty
million activities: the no-change pass under 10 s CPU and 1 GB. Local only: no
emulator, no network.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

RULES = Path(__file__).parents[1] / "scoring" / "rulesets" / "default.yaml"
CHUNK = 50_000


def build(url: str, people: int, seed: int) -> dict[str, float]:
    """The world's people and activity in a new store."""
    import numpy as np

    from sandbox.world.columns import world_columns
    from sandbox.world.generate import generate_world
    from scoring import Activity, ActivityType, Contact
    from scoring.records import TYPE_CODES
    from sync import StateStore

    world = generate_world(people, seed=seed)
    c = world_columns(world)
    store = StateStore(url)
    now = datetime.fromtimestamp(world.now, UTC)
    codes, emails = c.emails
    fields = {k: v for k, v in c.people.items() if isinstance(v, tuple)}
    contacts = []
    for i in range(len(world.people)):
        attributes = {
            k: str(cats[codes_[i]]) for k, (codes_, cats) in fields.items() if codes_[i] >= 0
        }
        contacts.append(Contact(str(i), email=str(emails[codes[i]]), attributes=attributes))
    for start in range(0, len(contacts), CHUNK):
        store.save_contacts("hubspot", contacts[start : start + CHUNK], now)
    kinds = {code: kind for kind, code in TYPE_CODES.items()}
    texts = {k: v for k, v in c.events.items() if isinstance(v, tuple)}
    for start in range(0, len(c.person), CHUNK):
        end = min(start + CHUNK, len(c.person))
        found = []
        for j in range(start, end):
            attributes = {
                k: str(cats[codes_[j]]) for k, (codes_, cats) in texts.items() if codes_[j] >= 0
            }
            found.append(
                Activity(
                    str(int(c.person[j])),
                    ActivityType(kinds[int(c.type[j])]),
                    datetime.fromtimestamp(float(c.at[j]), UTC),
                    attributes=attributes,
                    id=f"e{j}",
                )
            )
        store.save_activities("hubspot", found)
    counts = store.counts()
    store.close()
    del np
    return {"now": world.now, "persons": counts["persons"], "activities": counts["activities"]}


def local_pass(url: str, at: float, full: bool) -> dict[str, float]:
    """What a sync does locally: score (everyone, or who is due), diff, record written
    values and due moments. CPU and peak memory of this process."""
    from connectors.hubspot import CAPABILITIES
    from scoring import load_rules
    from sync import StateStore, Sync, SyncOptions, SyncSummary
    from sync.fields import FieldMap
    from sync.incremental import save_unplanned, save_written, score_due
    from sync.pipeline import WritePlan

    began = time.perf_counter()
    rules = load_rules(RULES)
    fields = FieldMap.for_rules(rules, CAPABILITIES)
    store = StateStore(url)
    as_of = datetime.fromtimestamp(at, UTC)
    job = Sync(rules, store, [], {"hubspot": fields}, clock=lambda: as_of)
    summary = SyncSummary("bench")
    scored = score_due(job, SyncOptions(full=full), summary, as_of)
    written = scored.written.get("hubspot", {})
    row_of = {int(pid): row for row, pid in enumerate(scored.batch.contact_ids)}
    changed = {}
    for person, records in scored.people.records.items():
        row = row_of[int(person)]
        for _system, record in records:
            values = fields.values(scored.batch, row, as_of)
            if fields.differs(values, written.get(record)):
                changed[record] = values
    store.record_written("hubspot", changed, as_of)
    save_unplanned(job, scored, WritePlan())
    save_written(job, scored, WritePlan(), {})
    store.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "persons": summary.persons,
        "scored": summary.rescored,
        "changed": len(changed),
        "cpu": usage.ru_utime + usage.ru_stime,
        "wall": time.perf_counter() - began,
        "peak_mb": usage.ru_maxrss / 1024,
    }


def child(*args: str) -> dict[str, float]:
    """One step in a fresh process; its JSON answer."""
    out = subprocess.run(
        [sys.executable, __file__, *args], check=True, capture_output=True, text=True
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--store", default="/tmp/due-bench.db")
    parser.add_argument("--step", choices=["build", "full", "incremental"], help=argparse.SUPPRESS)
    parser.add_argument("--at", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    url = f"sqlite:///{args.store}"
    if args.step == "build":
        print(json.dumps(build(url, args.people, args.seed)))
        return
    if args.step is not None:
        print(json.dumps(local_pass(url, args.at, args.step == "full")))
        return

    Path(args.store).unlink(missing_ok=True)
    started = time.perf_counter()
    built = child(
        "--step",
        "build",
        "--people",
        str(args.people),
        "--seed",
        str(args.seed),
        "--store",
        args.store,
    )
    print(
        f"store      {built['persons']:,.0f} persons, {built['activities']:,.0f} activities "
        f"in {time.perf_counter() - started:.0f} s"
    )
    at = built["now"] + 3600
    later = (datetime.fromtimestamp(at, UTC) + timedelta(minutes=1)).timestamp()
    full = child("--step", "full", "--at", str(at), "--store", args.store)
    quiet = child("--step", "incremental", "--at", str(later), "--store", args.store)
    for name, found in (("full", full), ("no-change", quiet)):
        print(
            f"{name:<10} scored {found['scored']:,.0f} of {found['persons']:,.0f}, "
            f"{found['changed']:,.0f} records changed: {found['cpu']:.2f} s CPU "
            f"({found['wall']:.2f} s wall), peak {found['peak_mb']:.0f} MB"
        )
    print(
        f"ratio      no-change / full: CPU {quiet['cpu'] / full['cpu']:.3f}, "
        f"peak memory {quiet['peak_mb'] / full['peak_mb']:.3f}"
    )


if __name__ == "__main__":
    main()
