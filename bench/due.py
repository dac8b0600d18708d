"""A run's local work when little changed: everyone scored once, then only who is due.

    .venv/bin/python bench/due.py                       # 100,000 people
    .venv/bin/python bench/due.py --people 1000000

Builds a SQLite store of the synthetic world's people (one HubSpot record each) and
their activity in bulk (rows as `StateStore.save_contacts` and `save_activities` would
leave them: tests/test_bench.py checks that on a small world); then, each in a fresh
process, on the default rules:

- a full local pass: load and score everyone, diff against what was written, record
  the written values and every person's due moment (what `sync --full` does locally);
- a no-change incremental local pass a minute later: load and score only who is due,
  diff, record;
- the floor a full pass is held to: the activities query read into Arrow over ADBC,
  alone, plus the CPU the engine took in the full pass.

Printed per pass: persons scored, records changed, CPU seconds (the pass's process and
its reading worker) and peak RSS (of each), and the ratio of the no-change pass to the
full one. Goals at a million contacts and twenty million activities (issue 10): the full
pass within 3x of the floor and under 4 GB (the two peaks added), the no-change pass
under 10 s CPU and 1 GB. Local only: no emulator, no network.

    .venv/bin/python bench/due.py --people 1000000 --reuse   # again on the store built
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
from typing import Any

import numpy as np

RULES = Path(__file__).parents[1] / "scoring" / "rulesets" / "default.yaml"
CHUNK = 50_000


def build(url: str, people: int, seed: int, bulk: bool = True) -> dict[str, float]:
    """The world's people (one HubSpot record each) and their activity in a new store:
    in bulk, or (`bulk` False: slow, for checking the bulk one) through `save_contacts`
    and `save_activities`. Both leave the same rows."""
    from sandbox.world.columns import world_columns
    from sandbox.world.generate import generate_world
    from sync import StateStore

    world = generate_world(people, seed=seed)
    c = world_columns(world)
    store = StateStore(url)
    now = datetime.fromtimestamp(world.now, UTC)
    codes, emails = c.emails
    fields = {k: v for k, v in c.people.items() if isinstance(v, tuple)}
    contacts = [
        (
            str(i),
            str(emails[codes[i]]),
            {k: str(cats[codes_[i]]) for k, (codes_, cats) in fields.items() if codes_[i] >= 0},
        )
        for i in range(len(world.people))
    ]
    texts = {k: v for k, v in c.events.items() if isinstance(v, tuple)}
    if bulk:
        store_contacts(store, contacts, now)
        store.close()  # the ADBC driver's SQLite must be alone with the file
        store_activities(url.removeprefix("sqlite:///"), c.person, c.type, c.at, texts)
        store = StateStore(url)
    else:
        save_through_the_store(store, contacts, now, c.person, c.type, c.at, texts)
    counts = store.counts()
    store.close()
    return {"now": world.now, "persons": counts["persons"], "activities": counts["activities"]}


def save_through_the_store(
    store: Any,
    contacts: list[tuple[str, str, dict[str, str]]],
    now: datetime,
    person: np.ndarray,
    kind: np.ndarray,
    at: np.ndarray,
    texts: dict[str, tuple[np.ndarray, np.ndarray]],
) -> None:
    """What a sync's pulls would store: contacts and activities one object each."""
    from scoring import Activity, ActivityType, Contact
    from scoring.records import TYPE_CODES

    found = [Contact(i, email=e, attributes=a) for i, e, a in contacts]
    for start in range(0, len(found), CHUNK):
        store.save_contacts("hubspot", found[start : start + CHUNK], now)
    kinds = {code: kind for kind, code in TYPE_CODES.items()}
    for start in range(0, len(person), CHUNK):
        rows = []
        for j in range(start, min(start + CHUNK, len(person))):
            attributes = {
                k: str(cats[codes_[j]]) for k, (codes_, cats) in texts.items() if codes_[j] >= 0
            }
            rows.append(
                Activity(
                    str(int(person[j])),
                    ActivityType(kinds[int(kind[j])]),
                    datetime.fromtimestamp(float(at[j]), UTC),
                    attributes=attributes,
                    id=f"e{j}",
                )
            )
        store.save_activities("hubspot", rows)


def store_contacts(
    store: Any, contacts: list[tuple[str, str, dict[str, str]]], now: datetime
) -> None:
    """Persons and identities as `save_contacts` leaves them in an empty store: each
    chunk of records gets its new persons in address order."""
    import sqlalchemy as sa

    from scoring import normalize_email
    from sync.json_text import dumps
    from sync.schema import CHUNK as PART
    from sync.schema import identities, persons

    person_rows, identity_rows = [], []
    for start in range(0, len(contacts), PART):
        part = contacts[start : start + PART]
        addresses = sorted({normalize_email(e) for _, e, _ in part} - {None})
        pid = {e: start + 1 + n for n, e in enumerate(addresses)}
        assert len(addresses) == len(part), "one address per record, none shared"
        person_rows += [{"id": pid[e], "email": e} for e in addresses]
        identity_rows += [
            {
                "system": "hubspot",
                "record_id": record,
                "person_id": pid[normalize_email(email)],
                "email": normalize_email(email),
                "attributes": dumps(attributes),
                "pulled_at": now.timestamp(),
            }
            for record, email, attributes in part
        ]
    with store.engine.begin() as connection:
        connection.exec_driver_sql("PRAGMA cache_size=-4000000")  # indexes in memory
        for start in range(0, len(person_rows), CHUNK):
            connection.execute(sa.insert(persons), person_rows[start : start + CHUNK])
            connection.execute(sa.insert(identities), identity_rows[start : start + CHUNK])


def store_activities(
    path: str,
    person: np.ndarray,
    kind: np.ndarray,
    at: np.ndarray,
    texts: dict[str, tuple[np.ndarray, np.ndarray]],
) -> None:
    """Activities as `save_activities` stores them, ingested as Arrow columns (ADBC):
    keyed by record, times to the microsecond (as a `datetime` holds them). No other
    connection to the file may be open in this process (`sync/arrow_worker.py`)."""
    import adbc_driver_sqlite.dbapi
    import pyarrow as pa
    import pyarrow.compute as pc

    from scoring.records import TYPE_CODES
    from sync.schema import bounded

    size = len(person)
    ids = np.arange(size, dtype=np.int64)
    names = np.empty(max(TYPE_CODES.values()) + 1, dtype=object)
    for activity_type, code in TYPE_CODES.items():
        names[code] = activity_type.value
    seconds = np.floor(at)
    micros = np.round((at - seconds) * 1e6)
    columns: dict[str, Any] = {
        "system": pa.repeat("hubspot", size),
        "activity_id": pc.binary_join_element_wise("e", pc.cast(pa.array(ids), pa.string()), ""),
        "record_id": pc.cast(pa.array(person.astype(np.int64)), pa.string()),
        "email": pa.nulls(size, pa.string()),
        "type": pa.array(names[kind], pa.string()),
        "occurred_at": pa.array((seconds * 1e6 + micros) / 1e6, pa.float64()),
    }
    for name, limit in (("url", None), ("campaign", 128), ("form", 256)):
        if name not in texts:
            columns[name] = pa.nulls(size, pa.string())
            continue
        codes, categories = texts[name]
        kept = [bounded(str(v), limit) for v in categories.tolist()]
        dictionary = pa.array(kept, pa.string())
        indices = pa.array(codes, pa.int32(), mask=codes < 0)
        columns[name] = pa.DictionaryArray.from_arrays(indices, dictionary).cast(pa.string())
    columns["amount"] = pa.nulls(size, pa.float64())
    columns["extra"] = pa.repeat("{}", size)
    table = pa.table(columns)
    with adbc_driver_sqlite.dbapi.connect(path) as connection:
        with connection.cursor() as cursor:
            # the indexes' pages in memory: ids are not inserted in their index's order
            cursor.execute("PRAGMA cache_size=-8000000")
            cursor.fetchall()
            for start in range(0, size, 1_000_000):
                cursor.adbc_ingest("activities", table.slice(start, 1_000_000), mode="append")
        connection.commit()


def local_pass(url: str, at: float, full: bool) -> dict[str, float]:
    """What a sync does locally: score (everyone, or who is due), diff, record written
    values and due moments. CPU and peak memory of this process, and the CPU the
    engine took (`scoring.score` on the frames the pass built)."""
    import sync.incremental
    from connectors.hubspot import CAPABILITIES
    from scoring import load_rules
    from sync import StateStore, Sync, SyncOptions, SyncSummary
    from sync.fields import FieldMap
    from sync.incremental import save_unplanned, save_written, score_due
    from sync.pipeline import WritePlan

    engine_cpu = 0.0
    scoring = sync.incremental.score_frames

    def timed(*args: Any, **kwargs: Any) -> Any:
        nonlocal engine_cpu
        began = time.process_time()
        try:
            return scoring(*args, **kwargs)
        finally:
            engine_cpu += time.process_time() - began

    sync.incremental.score_frames = timed  # type: ignore[assignment]
    began = time.perf_counter()
    rules = load_rules(RULES)
    fields = FieldMap.for_rules(rules, CAPABILITIES)
    store = StateStore(url)
    as_of = datetime.fromtimestamp(at, UTC)
    job = Sync(rules, store, [], {"hubspot": fields}, clock=lambda: as_of)
    summary = SyncSummary("bench")
    scored = score_due(job, SyncOptions(full=full), summary, as_of)
    written = scored.written.get("hubspot", {})
    row_of = {pid: row for row, pid in enumerate(scored.batch.contact_ids)}
    changed, part = 0, {}
    for person, records in scored.people.records.items():
        row = row_of[person]
        for _system, record in records:
            values = fields.values(scored.batch, row, as_of)
            if fields.differs(values, written.get(record)):
                part[record] = values
        if len(part) >= CHUNK:  # recorded a chunk at a time, as a write phase records
            store.record_written("hubspot", part, as_of)
            changed, part = changed + len(part), {}
    store.record_written("hubspot", part, as_of)
    changed += len(part)
    save_unplanned(job, scored, WritePlan())
    save_written(job, scored, WritePlan(), {})
    store.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)  # the store's reading worker
    return {
        "persons": summary.persons,
        "scored": summary.rescored,
        "changed": changed,
        "cpu": usage.ru_utime + usage.ru_stime + workers.ru_utime + workers.ru_stime,
        "engine_cpu": engine_cpu,
        "wall": time.perf_counter() - began,
        "peak_mb": usage.ru_maxrss / 1024,
        "worker_peak_mb": workers.ru_maxrss / 1024,
    }


def account_rollups(url: str, at: float) -> dict[str, float]:
    """The accounts' roll-ups as a sync computes them at the start of each run
    (`sync.account_step.refresh`, on the demo's rules: the default ones with an `accounts`
    block): every person's frames read, rolled up, compared with the kept roll-ups and
    kept. Twice: with none kept (every account moved, its people marked due), then again
    a minute later (none moved). Wall, CPU and peak of this process for each."""
    from scoring import demo_rules_text, parse_rules
    from sync import StateStore
    from sync.account_step import refresh

    rules = parse_rules(demo_rules_text())
    store = StateStore(url)
    out: dict[str, float] = {}
    for name, moment in (("first", at), ("again", at + 60)):
        began, cpu = time.perf_counter(), time.process_time()
        rolled = refresh(store, rules, moment)
        out[f"{name}_wall"] = time.perf_counter() - began
        out[f"{name}_cpu"] = time.process_time() - cpu
        out["accounts"] = len(rolled.accounts) if rolled is not None else 0
    store.close()
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)  # the store's reading worker
    out["worker_cpu"] = workers.ru_utime + workers.ru_stime
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def read_columns(url: str) -> dict[str, float]:
    """The floor of reading: everyone's activities, by the query a full pass runs, into
    Arrow columns over ADBC in this process, the fastest way the store gives them out
    (safe here: no other connection to the file is open in this process)."""
    import adbc_driver_sqlite.dbapi

    from sync.arrow_worker import WHOLE
    from sync.columns import compiled
    from sync.readback import activities_query

    began = time.perf_counter()
    text, parameters = compiled(activities_query(None, None), "sqlite")
    database = url.removeprefix("sqlite:///")
    with adbc_driver_sqlite.dbapi.connect(database) as adbc, adbc.cursor() as cursor:
        cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": WHOLE})
        cursor.execute(text, parameters or None)
        rows = cursor.fetch_arrow_table().num_rows
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "rows": rows,
        "cpu": usage.ru_utime + usage.ru_stime,
        "wall": time.perf_counter() - began,
        "peak_mb": usage.ru_maxrss / 1024,
    }


def reset(url: str) -> None:
    """A store built before, as it was built: nothing written, everyone due, no scoring."""
    import sqlalchemy as sa

    from sync import StateStore
    from sync.schema import meta, persons, written

    store = StateStore(url)
    with store.engine.begin() as connection:
        connection.execute(sa.delete(written))
        connection.execute(sa.delete(meta).where(meta.c.key != "schema_version"))
        connection.execute(sa.update(persons).values(due=None))
    store.close()


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
    parser.add_argument(
        "--reuse", action="store_true", help="measure on the store a run of this size built"
    )
    parser.add_argument(
        "--accounts", action="store_true", help="also time the accounts' roll-up of a sync"
    )
    steps = ["build", "full", "incremental", "read", "reset", "accounts"]
    parser.add_argument("--step", choices=steps, help=argparse.SUPPRESS)
    parser.add_argument("--at", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    url = f"sqlite:///{args.store}"
    if args.step == "build":
        print(json.dumps(build(url, args.people, args.seed)))
        return
    if args.step == "read":
        print(json.dumps(read_columns(url)))
        return
    if args.step == "reset":
        reset(url)
        print("{}")
        return
    if args.step == "accounts":
        print(json.dumps(account_rollups(url, args.at)))
        return
    if args.step is not None:
        print(json.dumps(local_pass(url, args.at, args.step == "full")))
        return

    made = Path(f"{args.store}.json")  # what the build answered, for --reuse
    started = time.perf_counter()
    if args.reuse and made.exists() and json.loads(made.read_text())["people"] == args.people:
        built = json.loads(made.read_text())
        child("--step", "reset", "--store", args.store)
    else:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{args.store}{suffix}").unlink(missing_ok=True)
        size = ["--people", str(args.people), "--seed", str(args.seed)]
        built = child("--step", "build", *size, "--store", args.store)
        made.write_text(json.dumps({**built, "people": args.people}))
    print(
        f"store      {built['persons']:,.0f} persons, {built['activities']:,.0f} activities "
        f"in {time.perf_counter() - started:.0f} s"
    )
    at = built["now"] + 3600
    later = (datetime.fromtimestamp(at, UTC) + timedelta(minutes=1)).timestamp()
    if args.accounts:
        found = child("--step", "accounts", "--at", str(at), "--store", args.store)
        print(
            f"accounts   {found['accounts']:,.0f} accounts rolled up over "
            f"{built['persons']:,.0f} persons (sync.account_step.refresh): "
            f"{found['first_wall']:.2f} s wall ({found['first_cpu']:.2f} s CPU) with none "
            f"kept, {found['again_wall']:.2f} s ({found['again_cpu']:.2f} s CPU) a minute "
            f"later; peak {found['peak_mb']:.0f} MB, its reading worker "
            f"{found['worker_cpu']:.2f} s CPU"
        )
    read = child("--step", "read", "--store", args.store)
    full = child("--step", "full", "--at", str(at), "--store", args.store)
    quiet = child("--step", "incremental", "--at", str(later), "--store", args.store)
    for name, found in (("full", full), ("no-change", quiet)):
        print(
            f"{name:<10} scored {found['scored']:,.0f} of {found['persons']:,.0f}, "
            f"{found['changed']:,.0f} records changed: {found['cpu']:.2f} s CPU "
            f"({found['wall']:.2f} s wall), peak {found['peak_mb']:.0f} MB "
            f"+ {found['worker_peak_mb']:.0f} MB its reading worker"
        )
    floor = read["cpu"] + full["engine_cpu"]
    full_peak = (full["peak_mb"] + full["worker_peak_mb"]) / 1024  # at most both at once
    quiet_peak = (quiet["peak_mb"] + quiet["worker_peak_mb"]) / 1024
    print(
        f"read       {read['rows']:,.0f} activity rows to Arrow: {read['cpu']:.2f} s CPU "
        f"({read['wall']:.2f} s wall), peak {read['peak_mb']:.0f} MB; "
        f"engine {full['engine_cpu']:.2f} s CPU"
    )
    print(
        f"goals      full / (read + engine) {full['cpu'] / floor:.2f} (at most 3), "
        f"full peak {full_peak:.2f} GB (under 4); no-change "
        f"{quiet['cpu']:.2f} s CPU (under 10), peak {quiet_peak:.2f} GB (under 1)"
    )


if __name__ == "__main__":
    main()
