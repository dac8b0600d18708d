"""How fast the quick commands answer, from a fresh process, against the 300 ms goal.

    .venv/bin/python bench/startup.py            # 7 runs of each
    .venv/bin/python bench/startup.py --runs 3

Each command runs in a fresh interpreter, as a user's shell runs it, with the
machine's page cache warm (the first run of each is discarded). The commands write their
bytecode to a folder of their own (`PYTHONPYCACHEPREFIX`) even when the caller's
environment says not to, as `bench/coldstart.py` does: an installed leadscore has its
bytecode (pip compiles what it installs), and a figure that compiled leadscore's own
modules on every run would measure the compiler. Beside them: the
bare interpreter (the floor no command can go under) and importing everything a
sync loads (the command line, the application, the engine, the store, the HubSpot
SDK: what every command would pay if it imported at the top). Prints the median
time of each and its ratio to the goal (300 ms); exits 1 if `--help` or `validate`
misses it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
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


def timed(command: list[str], env: dict[str, str]) -> float:
    began = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=env, capture_output=True, check=True)
    return time.perf_counter() - began


def within_goal(name: str, command: list[str], env: dict[str, str], runs: int) -> bool:
    """Prints the command's line; False when it is a checked one that misses the goal."""
    timed(command, env)  # the page cache and the bytecode, not the command
    times = [timed(command, env) for _ in range(max(1, runs))]
    median = statistics.median(times)
    print(f"{name:<36} {median * 1000:>6.0f} ms {min(times) * 1000:>5.0f} ms {median / GOAL:>7.2f}")
    return name not in CHECKED or median <= GOAL


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    print(f"{'command':<36} {'median':>8} {'min':>8} {'/ goal':>7}")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory() as bytecode:
        env["PYTHONPYCACHEPREFIX"] = bytecode
        missed = [
            name
            for name, command in COMMANDS.items()
            if not within_goal(name, command, env, args.runs)
        ]
    print(f"goal: {GOAL * 1000:.0f} ms for {' and '.join(CHECKED)}", end="")
    print(f"; MISSED by {', '.join(missed)}" if missed else "; met")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
