"""The figures `bench/scale.py` projects from, measured on a sandbox sync: bytes per store
row and calls per run.

    .venv/bin/python bench/scale_measure.py                    # SQLite, 5,000 people
    .venv/bin/python bench/scale_measure.py --people 20000 \
        --url 'postgresql+psycopg://postgres@/scale?host=/tmp/pg&port=5433'

A world of `--people` (seed 7) in the three emulators (HubSpot, Salesforce, Mailchimp),
synced as the demo syncs it: setup, a full sync, then an incremental sync with nothing
new. Printed: per system, its records and activities in the store and the calls each
sync made (from the emulators' own counts, by operation); per table of the store, its
rows and bytes with its indexes (SQLite: `dbstat`, the pages each table and index takes;
PostgreSQL: `pg_total_relation_size` after a VACUUM, so heap, indexes and TOAST), and
the bytes per row. The store is the one `--url` names (an empty database), else a SQLite
file in a scratch folder. It takes a minute or more; `bench/scale.py` itself only
reads the figures this printed, kept in its tables with the date and the command.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from sandbox import Sandbox
from scoring import load_rules
from sync import Leadscore, SyncOptions
from sync.demo import DEMO_SYSTEMS, sandbox_settings
from sync.schema import activities, identities, metadata

RULES = Path(__file__).parents[1] / "scoring" / "rulesets" / "default.yaml"
SPEED = 200.0
"""Vendor seconds per real second: calls are counted, not timed, here."""


def calls(box: Sandbox) -> dict[str, Counter[str]]:
    return {name: Counter(emulator.calls) for name, emulator in box.emulators.items()}


def clear(box: Sandbox) -> None:
    for emulator in box.emulators.values():
        emulator.calls.clear()


def table_bytes(engine: sa.Engine) -> dict[str, int]:
    """Bytes each table of the store takes, its indexes (and TOAST) included."""
    sizes: Counter[str] = Counter()
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            owner: dict[str, str] = dict(
                connection.execute(sa.text("SELECT name, tbl_name FROM sqlite_master")).all()
            )
            pages = "SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"
            for name, size in connection.execute(sa.text(pages)).all():
                sizes[owner.get(name, name)] += int(size)
        else:
            query = "SELECT relname, pg_total_relation_size(relid) FROM pg_statio_user_tables"
            for name, size in connection.execute(sa.text(query)).all():
                sizes[name] += int(size)
    return dict(sizes)


def vacuum(engine: sa.Engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(
            sa.text("VACUUM" if engine.dialect.name == "sqlite" else "VACUUM ANALYZE")
        )


def measure(people: int, seed: int, url: str) -> dict[str, Any]:
    rules = load_rules(RULES)
    began = time.perf_counter()
    with Sandbox(people=people, seed=seed, scale=SPEED) as box:
        settings = sandbox_settings(box, url, systems=DEMO_SYSTEMS)
        opened = Leadscore.open(settings, rules=rules, clock=box.now, pace=box.clock,
                                http=box.sessions())  # fmt: skip
        with opened as app:
            app.setup()
            clear(box)
            full = app.sync(SyncOptions(full=True))
            full_calls = calls(box)
            clear(box)
            quiet = app.sync()
            quiet_calls = calls(box)
    engine = sa.create_engine(url)
    try:
        vacuum(engine)
        sizes = table_bytes(engine)
        with engine.connect() as connection:
            rows = {
                table.name: int(
                    connection.scalar(sa.select(sa.func.count()).select_from(table)) or 0
                )
                for table in metadata.sorted_tables
            }
            held = {
                system: {"records": int(records)}
                for system, records in connection.execute(
                    sa.select(identities.c.system, sa.func.count()).group_by(identities.c.system)
                ).all()
            }
            for system, count in connection.execute(
                sa.select(activities.c.system, sa.func.count()).group_by(activities.c.system)
            ).all():
                held.setdefault(system, {"records": 0})["activities"] = int(count)
    finally:
        engine.dispose()
    return {
        "people": people,
        "seed": seed,
        "backend": url.split(":", 1)[0],
        "seconds": round(time.perf_counter() - began, 1),
        "held": held,
        "written": {name: s.written for name, s in full.systems.items()},
        "quiet_written": {name: s.written for name, s in quiet.systems.items()},
        "full_calls": {name: dict(c) for name, c in full_calls.items()},
        "quiet_calls": {name: dict(c) for name, c in quiet_calls.items()},
        "tables": {
            name: {
                "rows": rows.get(name, 0),
                "bytes": size,
                "per_row": round(size / rows[name], 1) if rows.get(name) else None,
            }
            for name, size in sorted(sizes.items())
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--url", help="an empty store's URL (default: a scratch SQLite file)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="leadscore-scale-") as scratch:
        url = args.url or f"sqlite:///{Path(scratch) / 'state.db'}"
        found = measure(args.people, args.seed, url)
    print(json.dumps(found, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
