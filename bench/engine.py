"""Benchmark of the batch engine, cold, against a hand-written plain numpy baseline.

    .venv/bin/python bench/engine.py                          # 530,000 people, ~10M activities
    .venv/bin/python bench/engine.py --size 1000000:10000000  # 1M people, the latest 10M
    .venv/bin/python bench/engine.py --size 50000 --runs 3 --rules 40

What it does, for each --size (PEOPLE, or PEOPLE:ACTIVITIES):

1. Generates the sandbox's seeded synthetic B2B world (`sandbox.world.generate_world`,
   one year up to its `now`): companies with industry, country and a heavy-tailed head
   count; people with job function, seniority, title and an address at their company's
   domain, a free-mail domain or (rarely) a competitor's; and their event log: campaign
   email sends with the opens, clicks (mail-gateway and sandbox scanner clicks among
   them), bounces, unsubscribes and spam reports that follow, site sessions, downloads,
   forms, questions, demo requests, meetings, quotes and purchases (about 19 a person
   over the year). With ACTIVITIES, only the latest ACTIVITIES events are kept (a
   shorter history of the same people). The CRM stage of each contact
   (`lifecycle_stage`) is Customer for the world's buyers, missing for the others.
2. Writes the world's plain columns (`sandbox.world.columns.world_columns`) to .npy
   files, one a field, and the rule files: bench/rules_realistic.yaml (40 rules) and a
   100-rule variant of it (`engine_baseline.with_variants`).
3. Runs each side in a fresh process (bench/engine_cold.py), --runs times, engine and
   baseline in turn. Both start from the same files: numbers memory-mapped from the
   page cache, text unpickled (`engine_baseline.load`), each reading the fields it
   uses (the engine: those its rules name, as the sync pulls them). The timed part
   runs from the top of the child, before numpy is imported, to the scores: imports,
   reading, building the frames (the engine's `from_arrays`, which normalizes the
   addresses and derives their domains; the baseline its own domains), the rules and
   one call: the engine's computes the population's RFM quintile bounds and account
   roll-ups first (`population_bounds`, `population_rollups`, as a sync does over its
   store) and passes them to `score`. Each child also reports its peak resident memory
   (VmHWM).
4. Checks that both sides give the same totals, dimensions, disqualifications, RFM
   digits and top interest (with its score) for every contact, and exits 1 if not.
5. Prints one table: size, rules, the median cold time of each side, their ratio (goal
   at most 1.5), the median peak memory of each side (goal for 100 rules from a
   million contacts up: under 2 GB), then per line the ratio run by run (each engine
   run over the baseline run after it), each side's median phases, the engine's first
   `reasons` (it lays the rules' hits out by contact, once; not timed), and with
   --warm N the best of N more calls in the same process. The machine's load average
   is printed after each size: the figures move with it.

The baseline (bench/engine_baseline.py) is the same arithmetic for the same rules in
plain numpy, with the rules as a table: the "physical limit" of plain numpy, written
straightforwardly. It drops the same machine clicks as the engine's default filter
(email clicks less than 10 s after the email_sent of the same campaign to the same
contact, or more than 2 by one contact within one second), sorting only the sends to
contacts who clicked, as the engine does. Its RFM (quintiles of purchases), account
roll-ups (by company email domain) and interests (topics by URL globs) are in
bench/engine_population.py, written from their definitions. It does not build what the
engine also builds: each rule's hits for reasons, stages and grades, the roll-ups'
summed and largest engagement, each topic's match counts.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml

import scoring
from sandbox.world import generate_world
from sandbox.world.columns import world_columns
from scoring.filters import machine_clicks as engine_machine_clicks
from scoring.records import ACTIVITY_TYPES, TYPE_CODES, ActivityType

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine_baseline import Inputs, load_field, machine_clicks, with_variants

HERE = Path(__file__).resolve().parent
RULES_PATH = HERE / "rules_realistic.yaml"
CHILD = HERE / "engine_cold.py"
PEAK_GOAL_MB = 2048.0
RATIO_GOAL = 1.5


@dataclass(frozen=True)
class Size:
    people: int
    activities: int | None = None
    """Keep only the latest this many events (None: all)."""

    @classmethod
    def parse(cls, text: str) -> Size:
        people, _, activities = text.replace(",", "").replace("_", "").partition(":")
        return cls(int(people), int(activities) if activities else None)


# --- the input files -----------------------------------------------------------------------


def write_inputs(folder: Path, size: Size, seed: int, days: int) -> dict[str, Any]:
    """The world's columns as .npy files in `folder`; what was made, for the report."""
    started = time.perf_counter()
    world = generate_world(size.people, seed=seed, days=days)
    generated = time.perf_counter() - started
    c = world_columns(world)
    keep = np.arange(len(c.at))
    if size.activities is not None and size.activities < len(keep):
        latest = np.argsort(c.at, kind="stable")[len(keep) - size.activities :]
        keep = np.sort(latest)

    def save(name: str, array: np.ndarray) -> None:
        np.save(folder / f"{name}.npy", array, allow_pickle=array.dtype == object)

    save("ids", c.ids)
    save("email_codes", c.emails[0])
    save("email_categories", c.emails[1])
    stage = np.array(["Customer"], dtype=object)  # the CRM records won deals
    crm = (np.where(world.people.converted, 0, -1).astype(np.int32), stage)
    for name, value in (c.people | {"lifecycle_stage": crm}).items():
        if isinstance(value, tuple):
            save(f"c.{name}.codes", value[0])
            save(f"c.{name}.categories", value[1])
        else:
            save(f"c.{name}", value)
    save("a.person", c.person[keep])
    save("a.type", c.type[keep])
    save("a.at", c.at[keep])
    for name, value in c.events.items():
        if isinstance(value, tuple):
            save(f"a.{name}.codes", value[0][keep])
            save(f"a.{name}.categories", value[1])
        else:
            save(f"a.{name}", value[keep])
    meta = {"now": world.now, "type_codes": {t.value: code for t, code in TYPE_CODES.items()}}
    (folder / "meta.json").write_text(json.dumps(meta), "utf-8")
    shares = np.bincount(c.type[keep], minlength=len(ACTIVITY_TYPES)) / max(len(keep), 1)
    return {
        "contacts": size.people,
        "activities": len(keep),
        "events": len(c.at),
        "now": world.now,
        "generate": generated,
        "mix": [
            f"{t.value} {s:.1%}" for t, s in zip(ACTIVITY_TYPES, shares, strict=True) if s > 0.004
        ],
    }


def write_rules(folder: Path, count: int, source: Path = RULES_PATH) -> Path:
    """The engine's rule file: `source` as it is (40 rules) or with variants up to `count`."""
    data = yaml.safe_load(source.read_text("utf-8"))
    if count == len(data["rules"]):
        return source
    data["rules"] = with_variants(data["rules"], count)
    path = folder / f"rules_{count}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), "utf-8")
    return path


def filtered_clicks(folder: Path, rules_path: Path) -> str:
    """How many clicks each side's filter drops, and whether they are the same rows."""
    inputs = Inputs.read(folder)
    acts = scoring.ActivityFrame.from_arrays(
        inputs.who, inputs.types, inputs.when, {"campaign": load_field(folder, "a", "campaign")}
    )
    usable = inputs.when <= inputs.now
    ours = machine_clicks(inputs, usable)
    bot = scoring.load_rules(rules_path).filters.bot_clicks
    same = np.array_equal(ours, engine_machine_clicks(acts, usable, bot))
    clicks = int((usable & (inputs.types == TYPE_CODES[ActivityType.EMAIL_CLICK])).sum())
    return (
        f"{int(ours.sum()):,} of {clicks:,} email clicks are machine clicks "
        f"({'same rows as' if same else 'NOT the same rows as'} the engine's filter)"
    ) + ("" if same else " MISMATCH")


# --- the runs ------------------------------------------------------------------------------


def run_child(side: str, folder: Path, rules: Path, count: int, warm: int, profile: int) -> dict:
    out = folder / f"result-{side}-{count}.npz"
    root = str(HERE.parent)
    env = os.environ | {"PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, str(CHILD), side, str(folder), str(rules), str(count), str(out)]
    command += ["--warm", str(warm), "--profile", str(profile)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{side} run failed ({done.returncode}):\n{done.stderr}")
    if profile:
        print(done.stderr)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    report["out"] = out
    return report


def agree(folder: Path, count: int) -> str | None:
    """None when both sides gave the same scores, else what differs."""
    engine = np.load(folder / f"result-engine-{count}.npz")
    base = np.load(folder / f"result-baseline-{count}.npz")
    bad_total = ~np.isclose(engine["total"], base["total"])
    bad_dims = ~np.isclose(engine["dimensions"], base["dimensions"]).all(axis=1)
    bad_disq = engine["disqualified"] != base["disqualified"]
    # RFM digits, the top interest and its score, where the engine's rules have them
    bad_more = np.zeros(len(bad_total), dtype=bool)
    for name in ("rfm", "top", "top_score"):
        if name in engine.files:
            bad_more |= ~np.isclose(engine[name], base[name])
    if not (bad_total.any() or bad_dims.any() or bad_disq.any() or bad_more.any()):
        return None
    text = (
        f"engine and baseline disagree on {int(bad_total.sum()):,} totals, "
        f"{int(bad_dims.sum()):,} dimension rows, {int(bad_disq.sum()):,} disqualified, "
        f"{int(bad_more.sum()):,} RFM digits or top interests"
    )
    for row in np.flatnonzero(bad_total | bad_dims | bad_disq)[:3].tolist():
        text += (
            f"\n  row {row}: engine {engine['total'][row]:.4f} {engine['dimensions'][row].round(4)}"
            f" baseline {base['total'][row]:.4f} {base['dimensions'][row].round(4)}"
        )
    return text


@dataclass
class Line:
    size: str
    people: int
    rules: int
    engine: list[dict]
    baseline: list[dict]
    check: str | None

    def median(self, side: str, key: str) -> float:
        return statistics.median(run[key] for run in getattr(self, side) if key in run)

    @property
    def ratio(self) -> float:
        return self.median("engine", "seconds") / self.median("baseline", "seconds")

    def pair_ratios(self) -> list[float]:
        """Each engine run over the baseline run right after it, smallest first."""
        pairs = zip(self.engine, self.baseline, strict=True)
        return sorted(e["seconds"] / b["seconds"] for e, b in pairs)

    def goal(self) -> str:
        met = self.ratio <= RATIO_GOAL
        text = f"ratio <= {RATIO_GOAL}"
        if self.rules >= 100 and self.people == 1_000_000:  # the goal's size: 1M, 100 rules
            met = met and self.median("engine", "peak_mb") < PEAK_GOAL_MB
            text += f", peak < {PEAK_GOAL_MB:.0f} MB"
        return f"{text}: {'met' if met else 'MISSED'}"


def spread(runs: list[dict], key: str) -> str:
    values = sorted(run[key] for run in runs)
    return f"{statistics.median(values):.2f} s ({values[0]:.2f}-{values[-1]:.2f})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--size",
        action="append",
        type=Size.parse,
        help="PEOPLE or PEOPLE:ACTIVITIES (the latest ACTIVITIES events); repeatable; "
        "default 530000 (about 10M activities)",
    )
    parser.add_argument("--people", type=int, help="one size of PEOPLE people, all their events")
    parser.add_argument("--rules", default="40,100", help="rule counts, comma-separated")
    parser.add_argument(
        "--rule-file",
        type=Path,
        default=RULES_PATH,
        help="the engine's rules (the baseline keeps the realistic ones: another file "
        "fails the check, which is how a test makes sure that the check can fail)",
    )
    parser.add_argument("--runs", type=int, default=5, help="cold runs of each side")
    parser.add_argument("--warm", type=int, default=0, metavar="N", help="also time N warm calls")
    parser.add_argument("--days", type=int, default=365, help="days of events up to now")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data", type=Path, help="keep the input files in this folder")
    parser.add_argument(
        "--profile", type=int, default=0, metavar="N", help="profile one more engine run"
    )
    args = parser.parse_args(argv)
    sizes = args.size or [Size(args.people or 530_000)]
    counts = [int(c) for c in args.rules.split(",")]

    lines: list[Line] = []
    failed = False
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="engine-bench-") as scratch:
            folder = args.data or Path(scratch)
            folder.mkdir(parents=True, exist_ok=True)
            made = write_inputs(folder, size, args.seed, args.days)
            label = f"{made['contacts']:,} / {made['activities'] / 1e6:.1f}M"
            show(
                "world",
                f"{made['contacts']:,} contacts, {made['activities']:,} activities of "
                f"{made['events']:,} over {args.days} days (seed {args.seed}, as of "
                f"{datetime.fromtimestamp(made['now'], UTC):%Y-%m-%d %H:%M} UTC), "
                f"generated in {made['generate']:.1f} s",
            )
            show("mix", ", ".join(made["mix"]))
            show("filtered", filtered_clicks(folder, RULES_PATH))
            for count in counts:
                rules = write_rules(folder, count, args.rule_file)
                runs: dict[str, list[dict]] = {"engine": [], "baseline": []}
                for _ in range(args.runs):
                    for side in ("engine", "baseline"):
                        runs[side].append(run_child(side, folder, rules, count, args.warm, 0))
                check = agree(folder, count)
                line = Line(label, size.people, count, runs["engine"], runs["baseline"], check)
                lines.append(line)
                failed |= check is not None
                if args.profile:
                    run_child("engine", folder, rules, count, 0, args.profile)
            uptime = Path("/proc/loadavg").read_text().split()[:3]
            show("load", f"{' '.join(uptime)} (1, 5, 15 min) after the runs of this size")
    print_table(lines, args.runs, args.warm)
    for line in lines:
        if line.check is not None:
            show("check", f"FAILED at {line.size}, {line.rules} rules: {line.check}")
    if not failed:
        show(
            "check",
            "totals, dimensions, disqualifications, RFM digits and top interests "
            "agree on every line",
        )
    return 1 if failed else 0


def show(label: str, text: str) -> None:
    print(f"{label:<10} {text}", flush=True)


def print_table(lines: list[Line], runs: int, warm: int) -> None:
    print()
    print(f"cold: each side in a fresh process, median of {runs} runs (min-max in the notes)")
    head = (
        f"{'size':<18} {'rules':>5} {'engine':>8} {'baseline':>9} {'ratio':>6} "
        f"{'engine peak':>12} {'base peak':>10}  goal"
    )
    print(head)
    print("-" * len(head))
    for line in lines:
        print(
            f"{line.size:<18} {line.rules:>5} {line.median('engine', 'seconds'):>7.2f}s "
            f"{line.median('baseline', 'seconds'):>8.2f}s {line.ratio:>6.2f} "
            f"{line.median('engine', 'peak_mb'):>9.0f} MB "
            f"{line.median('baseline', 'peak_mb'):>7.0f} MB"
            f"  {line.goal()}"
        )
    print()
    for line in lines:
        pairs = line.pair_ratios()
        print(
            f"{line.size}, {line.rules} rules: ratio run by run {statistics.median(pairs):.2f} "
            f"median ({pairs[0]:.2f}-{pairs[-1]:.2f})"
        )
        for side in ("engine", "baseline"):
            phases = ", ".join(
                f"{key} {line.median(side, key):.2f}" for key in ("import", "frames", "call")
            )
            extra = ""
            if side == "engine":
                extra = f"; first reasons {line.median(side, 'first_reasons'):.2f} s (untimed)"
            if warm:
                extra += f"; warm call {line.median(side, 'warm'):.2f} s (best of {warm})"
            print(f"  {side:<9} {spread(getattr(line, side), 'seconds')}: {phases}{extra}")


if __name__ == "__main__":
    sys.exit(main())
