"""A quiet sync's local work with an `accounts` block: everyone scored once, then a run a
minute later with nothing new.

    .venv/bin/python bench/account_quiet.py                 # 50,000 people
    .venv/bin/python bench/account_quiet.py --people 200000 --reuse

Builds the store `bench/due.py` builds (the synthetic world's people, one HubSpot record
each, and their activity), then, each in a fresh process, on the demo's rules (the
default ones with an `accounts` block): a full local pass (`sync --full` locally: the
accounts rolled up over everyone, everyone scored, written values and dues recorded),
then a no-change pass a minute later. Printed per pass: persons scored, CPU seconds
(the process and its reading worker) and peak RSS of each. Local only.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent


def run(*args: str) -> dict[str, float]:
    """A step in a fresh process (this file's, or `bench/due.py`'s); its JSON answer."""
    out = subprocess.run([sys.executable, *args], check=True, capture_output=True, text=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def local_pass(store: str, at: float, full: bool) -> dict[str, float]:
    """`bench/due.py`'s local pass, on the demo's rules."""
    sys.path.insert(0, str(HERE))
    import due  # bench/due.py

    from scoring import demo_rules_text

    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as rules:
        rules.write(demo_rules_text())
    due.RULES = Path(rules.name)
    try:
        return dict(due.local_pass(f"sqlite:///{store}", at, full))
    finally:
        Path(rules.name).unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--store", default="/tmp/account-quiet.db")
    parser.add_argument("--reuse", action="store_true", help="on the store built before")
    parser.add_argument("--step", choices=["full", "quiet"], help=argparse.SUPPRESS)
    parser.add_argument("--at", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step is not None:
        print(json.dumps(local_pass(args.store, args.at, args.step == "full")))
        return
    due, made = str(HERE / "due.py"), Path(f"{args.store}.json")
    if args.reuse and made.exists() and json.loads(made.read_text())["people"] == args.people:
        built = json.loads(made.read_text())
        run(due, "--step", "reset", "--store", args.store)
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{args.store}{suffix}").unlink(missing_ok=True)
        size = ["--people", str(args.people), "--seed", str(args.seed)]
        built = run(due, "--step", "build", *size, "--store", args.store)
        made.write_text(json.dumps({**built, "people": args.people}))
    at = built["now"] + 3600
    for name, moment in (("full", at), ("quiet", at + 60)):
        began = time.perf_counter()
        found = run(__file__, "--step", name, "--at", str(moment), "--store", args.store)
        print(
            f"{name:<6} scored {found['scored']:,.0f} of {found['persons']:,.0f}: "
            f"{found['cpu']:.2f} s CPU ({time.perf_counter() - began:.2f} s wall with start-up), "
            f"peak {found['peak_mb']:.0f} MB + {found['worker_peak_mb']:.0f} MB its reading worker"
        )


if __name__ == "__main__":
    main()
