"""One cold run of one side of the engine bench, in a fresh process (bench/engine.py starts it).

    python bench/engine_cold.py engine|baseline INPUT_DIR RULES_FILE RULE_COUNT OUT.npz
                                [--warm N] [--profile N]

The clock starts at the top of this file, before numpy is imported, and stops when
the scores are there: importing, reading the input files, building the frames (the
engine's `from_arrays`; the baseline's email domains), loading the rules (the
engine) and the one call. Prints one JSON line: the seconds, by phase and in all,
the process's peak resident memory (VmHWM) at that moment, and for the engine the
time of the first `reasons` (it lays out the rules' hits by contact, once). Then,
untimed, writes total, dimensions, disqualification, the RFM digits and the top
interest with its score to OUT.npz for the check,
and with --warm N times N more calls in the same process (the frames built).
"""

# ruff: noqa: E402  (the clock starts before the imports it times)
import time

STARTED = time.perf_counter()

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from engine_baseline import REALISTIC, Inputs, baseline, load, load_field, with_variants


def peak_mb() -> float:
    """The process's peak resident memory so far, in MB (VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def engine_side(folder: Path, rules_file: str) -> tuple[Callable[[], Any], dict[str, float]]:
    from datetime import UTC, datetime

    import scoring

    imported = time.perf_counter()
    rules = scoring.load_rules(rules_file)
    contact_fields = [
        name
        for name in rules.contact_fields()
        if (folder / f"c.{name}.npy").exists() or (folder / f"c.{name}.codes.npy").exists()
    ]
    contacts = scoring.ContactFrame.from_arrays(
        load(folder, "ids"),
        (load(folder, "email_codes"), load(folder, "email_categories")),
        {name: load_field(folder, "c", name) for name in contact_fields},
    )
    activity_fields = [  # those the bench's world holds (no purchase `system`, `currency`)
        name
        for name in rules.activity_fields()
        if (folder / f"a.{name}.npy").exists() or (folder / f"a.{name}.codes.npy").exists()
    ]
    activities = scoring.ActivityFrame.from_arrays(
        load(folder, "a.person"),
        load(folder, "a.type"),
        load(folder, "a.at"),
        {name: load_field(folder, "a", name) for name in activity_fields},
    )
    moment = json.loads((folder / "meta.json").read_text())["now"]
    as_of = datetime.fromtimestamp(moment, UTC)
    framed = time.perf_counter()

    def call() -> Any:
        # the population's quantities first, as the sync computes them over its store
        bounds = scoring.population_bounds(rules, activities, len(contacts), moment)
        rollups = scoring.population_rollups(rules, contacts, activities, moment)
        return scoring.score(rules, contacts, activities, as_of, rfm=bounds, accounts=rollups)

    return call, {"import": imported - STARTED, "frames": framed - imported}


def baseline_side(folder: Path, count: int) -> tuple[Callable[[], Any], dict[str, float]]:
    imported = time.perf_counter()
    inputs = Inputs.read(folder)
    rules = with_variants(REALISTIC, count)
    framed = time.perf_counter()
    phases = {"import": imported - STARTED, "frames": framed - imported}
    return lambda: baseline(inputs, rules), phases


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("side", choices=["engine", "baseline"])
    parser.add_argument("folder", type=Path)
    parser.add_argument("rules")
    parser.add_argument("count", type=int)
    parser.add_argument("out", type=Path)
    parser.add_argument("--warm", type=int, default=0)
    parser.add_argument("--profile", type=int, default=0)
    args = parser.parse_args(argv)

    if args.side == "engine":
        call, report = engine_side(args.folder, args.rules)
    else:
        call, report = baseline_side(args.folder, args.count)
    began = time.perf_counter()
    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        result = profiler.runcall(call)
    else:
        result = call()
    ended = time.perf_counter()
    report |= {"call": ended - began, "seconds": ended - STARTED, "peak_mb": peak_mb()}
    if args.side == "engine":
        began = time.perf_counter()
        result.reasons(0)
        report["first_reasons"] = time.perf_counter() - began
        total, dims, disqualified = result.total, result.dimensions, result.disqualified
        more = {}
        if result.rfm is not None:
            rfm = result.rfm
            more["rfm"] = rfm.r.astype(np.int32) * 100 + rfm.f.astype(np.int32) * 10 + rfm.m
        if result.interests is not None:
            more["top"], more["top_score"] = result.interests.top, result.interests.top_score
    else:
        total, dims, disqualified, more = result
    np.savez(args.out, total=total, dimensions=dims, disqualified=disqualified, **more)
    if args.warm:
        del result, total, dims, disqualified, more  # as a caller that let the scores go
        times = []
        for _ in range(args.warm):
            began = time.perf_counter()
            result = call()
            times.append(time.perf_counter() - began)
            del result
        report["warm"] = min(times)
    print(json.dumps(report), flush=True)
    if args.profile:
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(args.profile)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
