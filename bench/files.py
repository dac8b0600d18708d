"""`leadscore score` on files, against a plain pyarrow read of the same files plus the engine.

    .venv/bin/python bench/files.py          # 100,000 contacts, 1M activities
    .venv/bin/python bench/files.py --contacts 1000000 --activities 10000000 --runs 1

What it does:

1. Writes the input into a temporary folder, in CSV and in Parquet, from the sandbox's
   seeded world (`sandbox.world.generate_world` of --contacts people): contacts with
   the address as the CRM holds it (odd case, spaces), company, industry, employees,
   country, job function, seniority and `lifecycle_stage` (Customer for buyers); and
   --activities of the world's events drawn at random (id, contact_id, or for one in
   twenty the address instead, type, occurred_at, campaign, url, subject, amount).
   The CSV file has ISO-8601 times with milliseconds; the Parquet file has timestamps
   and numbers typed.
2. Per format, --runs pairs, each run in a fresh process (as a user runs it; the files
   are in the page cache for every run), the two of a pair in turn one way round and the
   other, everything written flushed to disk after each run:
   - `leadscore score --rules bench/rules_realistic.yaml --contacts ... --activities
     ... --out scores.<format>`, timed as the whole process;
   - the baseline: `pyarrow.csv.read_csv` / `pyarrow.parquet.read_table` of the two
     files with pyarrow's defaults (but a CSV file's block size, below), timed, plus
     `scoring.score` on frames built from those tables (the frames are built untimed,
     in plain code that checks nothing), in a
     process whose memory is set as `score` sets its own (glibc keeps what is freed,
     Arrow's buffers from malloc), CSV read in blocks of the size `score` reads.
3. Prints one table: median wall time, peak RSS of the process
   (`resource.getrusage(RUSAGE_CHILDREN)` of a process that runs only that one),
   the ratio leadscore / baseline (the median of each pair's ratio) against the goal
   (at most 2), and the goal of under 4 GB of memory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "bench" / "rules_realistic.yaml"
GOAL_RATIO = 2.0
GOAL_BYTES = 4 * 1024**3


def make_files(folder: Path, contacts: int, activities: int, seed: int) -> tuple[str, int]:
    """The world's contacts and a draw of its events, in CSV and Parquet; the world's
    `now` (ISO text) and the number of activities written."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from sandbox.world import HUBSPOT, SALESFORCE, generate_world
    from scoring.records import ACTIVITY_TYPES

    world = generate_world(contacts, seed=seed)
    people, firms, events = world.people, world.companies, world.events
    rng = np.random.default_rng(seed)
    size = min(activities, len(events))
    picked = np.sort(rng.choice(len(events), size=size, replace=False))

    def text(values: Any, codes: Any = None) -> Any:
        table = pa.array(values.tolist(), type=pa.string())
        if codes is None:
            return table
        return pc.take(table, pa.array(np.where(codes < 0, 0, codes), mask=codes < 0))

    email = np.where(
        people.systems & SALESFORCE > 0,
        people.email_as_held[SALESFORCE],
        people.email_as_held[HUBSPOT],
    )
    company = people.company
    contact_table = pa.table(
        {
            "id": pa.array([f"c{i + 1}" for i in range(len(people))]),
            "email": text(email),
            "first_name": text(people.first_name),
            "last_name": text(people.last_name),
            "company": text(firms.name, company),
            "industry": text(firms.industry, company),
            "employees": pa.array(firms.employees[company].astype(np.int64)),
            "country": text(people.country),
            "job_function": text(people.job_function),
            "seniority": text(people.seniority),
            "lifecycle_stage": text(np.where(people.converted, "Customer", None)),
        }
    )
    person = events.person[picked]
    by_email = pa.array(rng.random(size) < 0.05)
    no_text = pa.scalar(None, pa.string())
    ids = pc.binary_join_element_wise("a", pc.cast(pa.array(picked + 1), pa.string()), "")
    refs = pc.binary_join_element_wise("c", pc.cast(pa.array(person + 1), pa.string()), "")
    canonical = pa.array(people.email.tolist(), type=pa.string())
    kinds = pa.array([t.value for t in ACTIVITY_TYPES])
    campaign, url, amount = events.campaign[picked], events.url[picked], events.amount[picked]
    at = pa.array((events.at[picked] * 1000).astype(np.int64), pa.timestamp("ms", tz="UTC"))
    activity_table = pa.table(
        {
            "id": ids,
            "contact_id": pc.if_else(by_email, no_text, refs),
            "email": pc.if_else(by_email, pc.take(canonical, pa.array(person)), no_text),
            "type": pc.take(kinds, pa.array(events.type[picked].astype(np.int32))),
            "occurred_at": at,
            "campaign": text(world.campaigns.name, campaign),
            "url": text(world.urls, url),
            "subject": text(world.campaigns.subject, campaign),
            "amount": pa.array(amount, mask=np.isnan(amount)),
        }
    )
    pq.write_table(contact_table, folder / "contacts.parquet")
    pq.write_table(activity_table, folder / "activities.parquet")
    pacsv.write_csv(contact_table, folder / "contacts.csv")
    iso = pc.strftime(at, format="%Y-%m-%dT%H:%M:%SZ")
    pacsv.write_csv(activity_table.set_column(4, "occurred_at", iso), folder / "activities.csv")
    now = datetime.fromtimestamp(world.now, UTC).isoformat().replace("+00:00", "Z")
    return now, size


# -- the baseline, in a process of its own -------------------------------------------------


def baseline(kind: str, contacts: str, activities: str, as_of: str) -> dict[str, float]:
    """Read both files with pyarrow's defaults but a CSV file's block size (timed), build
    frames (untimed), score (timed). The process's memory is set as `leadscore score` sets
    its own: glibc keeps what is freed (`sync.heap`) and Arrow takes its buffers from malloc
    (`connectors.files.table`); a CSV file is read in blocks of the size `score` reads
    (`csv_columns.BLOCK_BYTES`). `score`'s reading without numpy's huge pages
    (`sync.heap.small_pages`) has nothing to act on here: pyarrow's read makes no numpy
    array, and the engine runs with numpy's default in both. Every module is imported
    before the clock starts."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    import scoring
    from connectors.files.csv_columns import BLOCK_BYTES
    from sync.heap import keep_freed_memory

    keep_freed_memory()
    pa.set_memory_pool(pa.system_memory_pool())
    started = time.perf_counter()
    if kind == "csv":
        blocks = pacsv.ReadOptions(block_size=BLOCK_BYTES)  # as `score` reads
        people = pacsv.read_csv(contacts, read_options=blocks)
        events = pacsv.read_csv(activities, read_options=blocks)
    else:
        people, events = pq.read_table(contacts), pq.read_table(activities)
    read = time.perf_counter() - started

    def coded(column: Any) -> tuple[Any, Any]:
        encoded = pc.dictionary_encode(column).combine_chunks()
        codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
        return codes.astype(np.int32), np.array(encoded.dictionary.to_pylist(), dtype=object)

    rules = scoring.load_rules(RULES)
    ids = people.column("id").cast(pa.string())
    emails = pc.utf8_lower(pc.utf8_trim_whitespace(people.column("email")))
    attributes: dict[str, Any] = {
        name: coded(people.column(name).cast(pa.string()))
        for name in ("industry", "country", "job_function", "seniority", "lifecycle_stage")
    }
    attributes["employees"] = people.column("employees").to_numpy().astype(np.float64)
    frame = scoring.ContactFrame.from_arrays(
        np.array(ids.to_pylist(), dtype=object), coded(emails), attributes
    )
    by_id = pc.index_in(events.column("contact_id").cast(pa.string()), value_set=ids)
    by_email = pc.index_in(events.column("email"), value_set=emails)
    rows = pc.coalesce(by_id, by_email).fill_null(-1).to_numpy(zero_copy_only=False)
    names = {t.value: code for t, code in scoring.TYPE_CODES.items()}
    type_codes, type_names = coded(events.column("type"))
    types = np.array([names[n] for n in type_names.tolist()], dtype=np.int8)[type_codes]
    stamps = events.column("occurred_at").cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
    seconds = stamps.to_numpy() / 1e6
    keep = rows >= 0
    acts = {"url": coded(events.column("url")), "campaign": coded(events.column("campaign"))}
    kept = {name: (codes[keep], values) for name, (codes, values) in acts.items()}
    activity_frame = scoring.ActivityFrame.from_arrays(rows[keep], types[keep], seconds[keep], kept)
    moment = datetime.fromisoformat(as_of)
    started = time.perf_counter()
    # RFM's quintiles and the account roll-ups over the file's contacts, as `score` does
    stamp = moment.timestamp()
    bounds = scoring.population_bounds(rules, activity_frame, len(frame), stamp)
    rollups = scoring.population_rollups(rules, frame, activity_frame, stamp)
    scoring.score(rules, frame, activity_frame, moment, rfm=bounds, accounts=rollups)
    return {"read": read, "engine": time.perf_counter() - started}


# -- measuring ------------------------------------------------------------------------------


def measured(command: list[str]) -> dict[str, Any]:
    """Run `command` from a process of its own, which reports its wall time and peak RSS."""
    probe = [sys.executable, __file__, "--measure", "--", *command]
    done = subprocess.run(probe, capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{done.stdout}{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure(command: list[str]) -> int:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    report: dict[str, Any] = {"wall": wall, "rss": peak, "code": done.returncode}
    if done.returncode != 0:
        report["stderr"] = done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    if lines and lines[-1].startswith("{"):
        report["inner"] = json.loads(lines[-1])
    print(json.dumps(report))
    return 0


def gb(size: float) -> str:
    return f"{size / 1024**3:.2f} GB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--activities", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=3, help="fresh processes per command")
    parser.add_argument("--formats", default="csv,parquet")
    parser.add_argument("--folder", type=Path, help="write the files here (default: a temp dir)")
    parser.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--baseline", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("command", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        return measure(args.command)
    if args.baseline:
        print(json.dumps(baseline(*args.baseline)))
        return 0

    with tempfile.TemporaryDirectory(prefix="leadscore-files-") as scratch:
        folder = args.folder or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        as_of, written = make_files(folder, args.contacts, args.activities, args.seed)
        os.sync()  # the files on disk before any run: no run shares the disk with their flush
        print(
            f"input      {args.contacts:,} contacts, {written:,} activities "
            f"(world seed {args.seed}, as of {as_of}), written in "
            f"{time.perf_counter() - started:.1f} s",
            flush=True,
        )
        for kind in args.formats.split(","):
            sizes = sum((folder / f"{n}.{kind}").stat().st_size for n in ("contacts", "activities"))
            files = [str(folder / f"contacts.{kind}"), str(folder / f"activities.{kind}")]
            score = [sys.executable, "-m", "sync", "score", "--rules", str(RULES)]
            score += ["--contacts", files[0], "--activities", files[1], "--as-of", as_of]
            score += ["--out", str(folder / f"scores.{kind}")]
            plain = [sys.executable, __file__, "--baseline", kind, *files, as_of]
            ours, theirs = [], []
            for run in range(args.runs):  # each pair in turn one way round, then the other
                for side in (ours, theirs) if run % 2 == 0 else (theirs, ours):
                    side.append(measured(score if side is ours else plain))
                    os.sync()  # what a run wrote is on disk before the next starts
            for run in ours:
                if run["code"] != 0:
                    print(run.get("stderr", ""))
                    return 1
            ours_s = statistics.median(r["wall"] for r in ours)
            read_s = statistics.median(r["inner"]["read"] for r in theirs)
            engine_s = statistics.median(r["inner"]["engine"] for r in theirs)
            ours_rss = max(r["rss"] for r in ours)
            base_rss = max(r["rss"] for r in theirs)
            # each run of ours against the baseline run beside it, so that a machine busy
            # with other work for a while weighs on both sides of a ratio
            pairs = [
                a["wall"] / (b["inner"]["read"] + b["inner"]["engine"])
                for a, b in zip(ours, theirs, strict=True)
            ]
            ratio = statistics.median(pairs)
            missed = "" if ratio <= GOAL_RATIO else ": missed"
            rss_missed = "" if ours_rss < GOAL_BYTES else ": missed"
            print(f"\n{kind} ({sizes / 1024**2:,.0f} MB of input), median of {args.runs} runs")
            print(f"  {'':<34} {'time':>9} {'peak RSS':>10}  runs")
            runs = " ".join(f"{r['wall']:.2f}" for r in ours)
            label = "leadscore score (whole process)"
            print(f"  {label:<34} {ours_s:8.2f}s {gb(ours_rss):>10}  {runs}")
            runs = " ".join(f"{r['inner']['read'] + r['inner']['engine']:.2f}" for r in theirs)
            label = f"pyarrow read {read_s:.2f}s + engine {engine_s:.2f}s"
            print(f"  {label:<34} {read_s + engine_s:8.2f}s {gb(base_rss):>10}  {runs}")
            print(
                f"  ratio {ratio:.2f}, the median of the runs' ratios "
                f"({' '.join(f'{p:.2f}' for p in pairs)}; goal at most {GOAL_RATIO:g}{missed}); "
                f"peak RSS {gb(ours_rss)} (goal under {gb(GOAL_BYTES)}{rss_missed})"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
