"""How fast the quick commands answer, from a fresh process, against the 300 ms goal.

    .venv/bin/python bench/startup.py            # 7 runs of each
    .venv/bin/python bench/startup.py --runs 3

Each command runs in a fresh interpreter, as a user's shell runs it, with the
machine's page cache warm (the first run of each is discarded). Beside them: the
bare interpreter (the floor no command can go under) and importing everything a
sync loads (the command line, the application, the engine, the store, the HubSpot
SDK: what every command would pay if it imported at the top). Prints the median
time of each and its ratio to the goal (300 ms); exits 1 if `--help` or `validate`
misses it.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL = 0.300
RULES = str(ROOT / "scoring" / "rulesets" / "default.yaml")
EVERYTHING = (
    "import sync.cli, sync.app, sync.pipeline, sync.store, scoring.engine, "
    "connectors.hubspot.client, hubspot"
)
COMMANDS = {
    "python -c pass (the floor)": [sys.executable, "-c", "pass"],
    "leadscore --help": [sys.executable, "-m", "sync", "--help"],
    "leadscore validate default.yaml": [sys.executable, "-m", "sync", "validate", RULES],
    "import everything a sync loads": [sys.executable, "-c", EVERYTHING],
}
CHECKED = ("leadscore --help", "leadscore validate default.yaml")


def timed(command: list[str]) -> float:
    began = time.perf_counter()
    subprocess.run(command, cwd=ROOT, capture_output=True, check=True)
    return time.perf_counter() - began


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    print(f"{'command':<36} {'median':>8} {'min':>8} {'/ goal':>7}")
    missed = []
    for name, command in COMMANDS.items():
        timed(command)  # the page cache, not the command
        runs = [timed(command) for _ in range(max(1, args.runs))]
        median = statistics.median(runs)
        print(
            f"{name:<36} {median * 1000:>6.0f} ms {min(runs) * 1000:>5.0f} ms {median / GOAL:>7.2f}"
        )
        if name in CHECKED and median > GOAL:
            missed.append(name)
    print(f"goal: {GOAL * 1000:.0f} ms for {' and '.join(CHECKED)}", end="")
    print(f"; MISSED by {', '.join(missed)}" if missed else "; met")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
