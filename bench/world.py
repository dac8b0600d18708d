"""Sandbox figures against their limits: world generation and server start-up.

    .venv/bin/python bench/world.py                 # 1,000,000 people; start-up with 5,000
    .venv/bin/python bench/world.py --people 100000

Prints, each with its ratio to the goal:
- generating a world of --people people (goal: a million in under 60 s);
- projecting a 5,000-person world onto the three emulators (the demo's size);
- starting the three servers (goal: under 1 s), then one request to each.
"""

from __future__ import annotations

import argparse
import resource
import time

import requests

from sandbox import Sandbox
from sandbox.world.generate import generate_world


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    started = time.perf_counter()
    world = generate_world(args.people, seed=args.seed)
    generated = time.perf_counter() - started
    goal = 60.0 * args.people / 1_000_000
    print(f"generate   {args.people:,} people, {len(world.events):,} events in {generated:.2f} s")
    print(f"           ratio {generated / goal:.2f} of the goal ({goal:.0f} s for this size)")
    print(f"peak rss   {peak_mb():.0f} MB")
    del world

    small = generate_world(5000, seed=args.seed)
    started = time.perf_counter()
    box = Sandbox(small)
    projected = time.perf_counter() - started
    print(f"project    5,000 people onto three emulators in {projected:.2f} s")
    started = time.perf_counter()
    with box:
        up = time.perf_counter() - started
        for emulator in box.emulators.values():
            requests.get(emulator.base_url + "/", timeout=5)
        answered = time.perf_counter() - started
    print(f"start      three servers in {up * 1000:.1f} ms, ratio {up / 1.0:.3f} of the 1 s goal")
    print(f"first      one answer from each within {answered * 1000:.1f} ms of the start")


if __name__ == "__main__":
    main()
