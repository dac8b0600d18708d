"""A fault campaign against every built connector: do faulty and killed runs end like clean ones?

    PYTHONPATH=. .venv/bin/python bench/faults.py               # 3 seeds, 20 kills, 600 people
    PYTHONPATH=. .venv/bin/python bench/faults.py --people 50 --seeds 1 --kills 0

Loopback only: every system is its emulator on 127.0.0.1, on a clock `SCALE`
times faster than real time (rate windows, Retry-After and backoff pass
quickly), over a small synthetic world. For each system of
`connectors.registry.SYSTEMS` (each needs an entry in `TARGETS`, which says how
to point leadscore at its emulator, how to read the values written there, what
new activity to add and which of the vendor's own faults to raise) and each
seed, the same sequence runs:

    setup, full sync, new activity, incremental sync, new activity, incremental sync

first against a clean emulator (the reference values), then under each scenario:

- heavy: 10-30 % refused for rate (HubSpot's 429; Salesforce's 403 of its
  concurrent-request limit), 5-10 % 5xx, 2-5 % dropped connections, 2-5 %
  records refused inside a batch write (Salesforce: UNABLE_TO_LOCK_ROW, in
  collections and Bulk API jobs alike), and the vendor's own (Salesforce: 0.2-0.6 %
  403 REQUEST_LIMIT_EXCEEDED of its daily allocation, which stops a run, 1-3 %
  sessions ended, 401 INVALID_SESSION_ID, 2-5 % of Bulk API 2.0 query jobs
  Failed, and every ingest job failing after 60-140 of its records, the rest
  unprocessed); shares drawn from the seed;
- truncated: 10 % of replies cut off mid-body;
- lost: 10 % of requests carried out, then the connection closed unanswered;
- kill: a sync or setup in a process of its own, killed with SIGKILL after a random
  number of its calls (over the whole sequence's calls), then run again, and the
  rest of the sequence.

Salesforce is set to take Bulk API 2.0 above `BULK_ABOVE` (150) records: at 600
people the full sync writes its Leads and Contacts in one ingest job each and pulls
Leads, Contacts, campaign members, tasks and events through query jobs, while an
incremental sync writes a few dozen records in collections and pulls over REST
(at 20 people, as in tests/test_bench.py, everything stays on REST). Every
scenario's faults fall on the jobs' requests too (create, upload, close, polls,
result sets).

A run that raises is a failed run; the next step goes on as a scheduled job would
(a failed setup is run again, up to `FOLLOW_UPS` times, as whoever runs it would).
Where records were refused or the last run failed, up to `FOLLOW_UPS` quiet
incremental runs follow (the next scheduled runs). Then the values of every
contact in the emulator (our fields, the scoring time aside) are compared with
the clean run's. Printed: one row per system and scenario with runs, failed
runs, contacts whose values differ (goal 0) and seconds. Exit 1 if any differ.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from connectors.mailchimp.system import STAGE_TAG
from connectors.registry import SYSTEMS
from connectors.system import System
from sandbox import FaultPlan, Sandbox, SandboxClock
from sandbox.http import Emulator
from sandbox.mailchimp.simulation import add_member_activity as mailchimp_activity
from sandbox.mailchimp.values import subscriber_hash
from sandbox.salesforce import sandbox_session
from sandbox.salesforce.values import to_json
from scoring import RuleSet, load_rules
from scoring.records import ActivityType
from sync import Leadscore, SyncOptions
from sync.demo import NEW_ACTIVITY
from sync.fields import SCORED_AT, FieldMap
from sync.settings import isolated_settings

ROOT = Path(__file__).parents[1]
RULES = ROOT / "scoring" / "rulesets" / "default.yaml"
SCALE = 20.0
"""Vendor seconds per real second: a 10-second rate window passes in half a second."""
STIRRED = 0.05
"""Share of contacts given new activity before each incremental sync."""
FOLLOW_UPS = 2
STEPS = ("setup", "full", "stir", "incremental", "stir", "incremental")
KILL_TIMEOUT = 120.0
BULK_ABOVE = 150
"""Salesforce's `bulk_write_above` and `bulk_query_above` in the campaign: at 600 people
its full sync writes about 320 Leads and Contacts and pulls some 200 to 2,500 records a
stream, an incremental sync a few dozen."""

BATCHES_ABOVE = 40
"""Mailchimp's `batch_write_above` in the campaign: a full sync writes its few hundred
members through `/batches`, an incremental one its few dozen call by call."""

Values = dict[str, dict[str, str | None]]


# -- what the campaign needs to know of each system's emulator ---------------------------------


@dataclass(frozen=True)
class Target:
    """How the campaign reaches one system's emulator in a `Sandbox`."""

    emulator: Callable[[Sandbox], Emulator]
    section: Callable[[Sandbox], dict[str, str]]
    """The system's settings section that points leadscore at the emulator."""
    held: Callable[[Sandbox, Sequence[str]], Values]
    """Per record, the values of these fields as the emulator holds them."""
    people: Callable[[Sandbox], list[str]]
    """Who may be given new activity (as `add` names them)."""
    kinds: Sequence[Any]
    """What new activity may be: each person stirred gets one to three of these."""
    add: Callable[[Sandbox, str, Any, datetime], None]
    """Give one person one kind of new activity, dated at the moment given."""
    faults: Callable[[random.Random], dict[str, float]] = lambda rnd: {}
    """The system's own faults (`FaultPlan` shares) mixed into the heavy scenario."""
    transport: Callable[[str], Any] | None = None
    """A requests session reaching the emulator at this base URL, for an SDK that needs one."""
    heavy_jobs: Callable[[Any, random.Random], None] | None = None
    """Sets the emulator's asynchronous jobs to fail partway in the heavy scenario."""


def stir(target: Target, box: Sandbox, rnd: random.Random, at: datetime) -> int:
    """Give seeded-random people new activity dated `at`; how many."""
    people = target.people(box)
    chosen = sorted(rnd.sample(range(len(people)), max(1, round(len(people) * STIRRED))))
    for index in chosen:
        for kind in rnd.sample(list(target.kinds), rnd.randint(1, min(3, len(target.kinds)))):
            target.add(box, people[index], kind, at)
    return len(chosen)


def hubspot_held(box: Sandbox, names: Sequence[str]) -> Values:
    table = box.hubspot.contacts
    return {
        str(row + 1): {name: table.value(name, row) for name in names if name in table.defs}
        for row in range(table.size)
    }


def hubspot_add(box: Sandbox, contact: str, kind: Any, at: datetime) -> None:
    activity, url = kind
    box.hubspot.add_event(contact, activity, at, url=url)


def salesforce_section(box: Sandbox) -> dict[str, str]:
    """The recommended login, client credentials on the org's My Domain, so that a session
    that ends is renewed as in production."""
    given = box.salesforce.credentials("client_credentials")
    return {
        "client_id": given["consumer_key"],
        "client_secret": given["consumer_secret"],
        "my_domain": f"https://{given['domain']}.salesforce.com",
        # a full sync writes and reads its larger streams through Bulk API 2.0 jobs,
        # an incremental one (a few writes, short pulls) through REST
        "bulk_write_above": str(BULK_ABOVE),
        "bulk_query_above": str(BULK_ABOVE),
    }


def salesforce_held(box: Sandbox, names: Sequence[str]) -> Values:
    """Every Lead and Contact that can hold our fields: a converted Lead is never written
    (its person is scored on their Contact)."""
    org, found = box.salesforce.org, {}
    with box.salesforce.org_lock:
        for sobject in ("Lead", "Contact"):
            table = org.table(sobject)
            for row in range(len(table)):
                record = table.record(row)
                if not record.get("IsConverted"):
                    found[record["Id"]] = {n: sf_text(record.get(n)) for n in names}
    return found


def sf_text(value: Any) -> str | None:
    return None if value is None else str(to_json(value))


def salesforce_people(box: Sandbox) -> list[str]:
    """World persons with a live Lead or Contact."""
    index = box.salesforce.org.index
    size = 0 if box.world is None else len(box.world.people)
    return [str(p) for p in range(size) if index.person_record(p) is not None]


def salesforce_add(box: Sandbox, person: str, kind: Any, at: datetime) -> None:
    """A campaign response, a logged call or a meeting; a response to one of the email
    campaigns (the world's, first among the Campaigns), chosen by the person."""
    emails = 0 if box.world is None else len(box.world.campaigns)
    campaign = int(person) % max(1, emails)
    box.salesforce.add_activity(int(person), kind, at, campaign=campaign)


def salesforce_faults(rnd: random.Random) -> dict[str, float]:
    """An org near its rolling 24-hour allocation (403 TotalRequests, never retried: the
    run stops), sessions that end (401 INVALID_SESSION_ID: logged in again once) and now
    and then a Bulk API 2.0 query job that fails (the stream stops, its cursor unmoved)."""
    shares = {"daily_limit": rnd.uniform(0.002, 0.006), "expired_session": rnd.uniform(0.01, 0.03)}
    return shares | {"job_failure": rnd.uniform(0.02, 0.05)}


def salesforce_jobs(emulator: Any, rnd: random.Random) -> None:
    """Bulk API 2.0 ingest jobs that fail after 60 to 140 records, the rest unprocessed (a
    full sync's Lead and Contact jobs hold some 150 and 200 at 600 people)."""
    emulator.bulk.fail_after = rnd.randint(60, 140)


def mailchimp_held(box: Sandbox, names: Sequence[str]) -> Values:
    """Every member the audience still holds (archived ones too: a write may reach them),
    by leadscore's record id, with its merge fields of these names and its stage tag."""
    audience, list_id = box.mailchimp.audience, box.mailchimp.list_id
    found: Values = {}
    with box.mailchimp.lock:
        for row in range(audience.size):
            if row in audience.deleted:
                continue
            member = audience.member(row)
            values: dict[str, str | None] = {
                n: str(member.merge_fields[n]) or None for n in names if n in member.merge_fields
            }
            stages = sorted(t for t in member.tags if t.startswith(STAGE_TAG))
            values["stage tag"] = ", ".join(stages) or None
            found[f"{list_id}:{subscriber_hash(audience.emails[row])}"] = values
    return found


def mailchimp_people(box: Sandbox) -> list[str]:
    """The addresses of the members the audience holds."""
    audience = box.mailchimp.audience
    return [audience.emails[row] for row in range(audience.size) if row not in audience.deleted]


def mailchimp_add(box: Sandbox, email: str, kind: Any, at: datetime) -> None:
    """An open or a click of one of the world's campaigns, chosen by the address."""
    campaigns = len(box.mailchimp.campaigns)
    campaign = sum(map(ord, email)) % max(1, campaigns)
    mailchimp_activity(box.mailchimp, email, kind, at, campaign=campaign,
                       url="https://example.com/pricing")  # fmt: skip


def mailchimp_connections(emulator: Any, rnd: random.Random) -> None:
    """Another app of the account holds most of its 10 connections: 2 to 4 are left, so
    the connector's own 10 meet Mailchimp's 429 ("too many simultaneous connections")."""
    emulator.max_connections = rnd.randint(2, 4)


TARGETS: dict[str, Target] = {
    "hubspot": Target(
        lambda box: box.hubspot,
        lambda box: dict(box.connection_settings()["hubspot"]),
        hubspot_held,
        lambda box: [str(c) for c in range(1, box.hubspot.contacts.size + 1)],
        NEW_ACTIVITY,
        hubspot_add,
    ),
    "salesforce": Target(
        lambda box: box.salesforce,
        salesforce_section,
        salesforce_held,
        salesforce_people,
        (ActivityType.EMAIL_CLICK, ActivityType.SALES_TOUCH, ActivityType.MEETING),
        salesforce_add,
        salesforce_faults,
        sandbox_session,
        salesforce_jobs,
    ),
    "mailchimp": Target(
        lambda box: box.mailchimp,
        lambda box: (
            dict(box.connection_settings()["mailchimp"]) | {"batch_write_above": str(BATCHES_ABOVE)}
        ),
        mailchimp_held,
        mailchimp_people,
        (ActivityType.EMAIL_OPEN, ActivityType.EMAIL_CLICK),
        mailchimp_add,
        heavy_jobs=mailchimp_connections,
    ),
}


# -- one world, one sequence -------------------------------------------------------------------


@dataclass
class Tally:
    runs: int = 0
    failed: int = 0
    differ: int = 0
    calls: int = 0
    seconds: float = 0.0
    notes: list[str] | None = None

    def note(self, text: str) -> None:
        self.notes = [*(self.notes or []), text]


@dataclass(frozen=True)
class World:
    """One seed's sandbox settings and the moments every run of it uses."""

    system: System
    target: Target
    seed: int
    people: int
    rules: RuleSet

    def sandbox(self) -> Sandbox:
        return Sandbox(people=self.people, seed=self.seed, scale=SCALE)

    def names(self) -> list[str]:
        fields = FieldMap.for_rules(self.rules, self.system.capabilities)
        return [s.name for s in fields.specs if s.key != SCORED_AT]

    @staticmethod
    def start(box: Sandbox) -> datetime:
        return box.now() - timedelta(seconds=box.clock.now())

    def scored_at(self, box: Sandbox) -> datetime:
        """Every run scores as of one moment, after all the new activity."""
        return self.start(box) + timedelta(hours=1)

    def stamp(self, box: Sandbox, stir: int) -> datetime:
        """New activity is dated the same in every run of this world."""
        return self.start(box) + timedelta(minutes=stir + 1)

    def open(self, box: Sandbox, state: str, seed: int) -> Leadscore:
        emulator = self.target.emulator(box)
        return open_app(self.system.name, self.target.section(box), emulator.base_url, state,
                        self.rules, self.scored_at(box), box.clock, seed)  # fmt: skip


def open_app(
    name: str,
    section: dict[str, str],
    base_url: str,
    state: str,
    rules: RuleSet,
    at: datetime,
    pace: SandboxClock,
    seed: int,
) -> Leadscore:
    """A run of one system against its emulator, wired as from settings (in this process
    and in a child to be killed): its connector is built as the registry builds it, with
    the target's requests session where its SDK needs one."""
    settings = isolated_settings(state_url=state, **{name: section})
    transport = TARGETS[name].transport
    http = {name: transport(base_url)} if transport is not None else None
    return Leadscore.open(settings, rules=rules, clock=lambda: at, pace=pace, seed=seed, http=http)


def run_step(app: Leadscore, step: str, tally: Tally) -> bool:
    """One setup or sync; False (and counted) when it raises."""
    tally.runs += 1
    try:
        if step == "setup":
            app.setup()
        else:
            app.sync(SyncOptions(full=step == "full"))
    except Exception as exc:  # a failed run is a figure, not the end of the campaign
        tally.failed += 1
        tally.note(f"{step}: {type(exc).__name__}: {str(exc)[:160]}")
        return False
    return True


def follow_up(world: World, app: Leadscore, tally: Tally, ok: bool) -> None:
    """The next scheduled runs, where records were refused or the last run failed."""
    for _ in range(FOLLOW_UPS):
        if ok and not app.store.failures(world.system.name):
            return
        ok = run_step(app, "incremental", tally)


def sequence(
    world: World,
    box: Sandbox,
    state: str,
    tally: Tally,
    *,
    steps: Sequence[str] = STEPS,
    stirs_done: int = 0,
    counts: list[int] | None = None,
) -> None:
    """Run `steps` in this process; `counts` gets each step's calls to the emulator."""
    emulator = world.target.emulator(box)
    app = world.open(box, state, seed=world.seed)
    try:
        ok, stirs = True, stirs_done
        for step in steps:
            before = emulator.calls.total()
            if step == "stir":
                rnd = random.Random(world.seed * 1000 + stirs)
                stir(world.target, box, rnd, world.stamp(box, stirs))
                stirs += 1
            else:
                ok = run_step(app, step, tally)
                for _ in range(FOLLOW_UPS if step == "setup" else 0):
                    if ok:
                        break
                    ok = run_step(app, step, tally)  # as whoever runs setup would
            if counts is not None:
                counts.append(emulator.calls.total() - before)
        follow_up(world, app, tally, ok)
    finally:
        app.close()


def compare(world: World, box: Sandbox, expected: Values) -> int:
    got = world.target.held(box, world.names())
    return sum(got.get(contact) != values for contact, values in expected.items()) + len(
        set(got) - set(expected)
    )


# -- scenarios ---------------------------------------------------------------------------------


def heavy(seed: int, target: Target) -> FaultPlan:
    rnd = random.Random(seed)
    return FaultPlan(
        rate_limited=rnd.uniform(0.10, 0.30),
        server_error=rnd.uniform(0.05, 0.10),
        dropped=rnd.uniform(0.02, 0.05),
        record_failure=rnd.uniform(0.02, 0.05),
        seed=seed,
        **target.faults(rnd),
    )


PLANS: dict[str, Callable[[int, Target], FaultPlan]] = {
    "heavy faults": heavy,
    "truncated replies": lambda seed, _: FaultPlan(truncated=0.10, seed=seed),
    "lost replies": lambda seed, _: FaultPlan(lost=0.10, seed=seed),
}


@dataclass
class Clean:
    values: Values
    counts: list[int]


def fresh(scratch: Path, name: str) -> str:
    """A new, empty SQLite store in the scratch directory."""
    number = len(list(scratch.glob(f"{name}-*.db")))
    return f"sqlite:///{scratch / f'{name}-{number}.db'}"


def clean_run(world: World, scratch: Path) -> Clean:
    counts: list[int] = []
    with world.sandbox() as box:
        tally = Tally()
        sequence(world, box, fresh(scratch, "clean"), tally, counts=counts)
        if tally.failed:
            raise RuntimeError(f"the clean run of seed {world.seed} failed: {tally.notes}")
        values = world.target.held(box, world.names())
        if not any(any(v is not None for v in held.values()) for held in values.values()):
            raise RuntimeError(f"the clean run of seed {world.seed} wrote nothing")
        return Clean(values, counts)


def faulty_run(
    world: World, plan: FaultPlan, clean: Clean, scratch: Path, tally: Tally, heavy: bool
) -> None:
    with world.sandbox() as box:
        world.target.emulator(box).faults = plan  # from setup on
        if heavy and world.target.heavy_jobs is not None:
            world.target.heavy_jobs(world.target.emulator(box), random.Random(world.seed))
        state = fresh(scratch, "faulty")
        sequence(world, box, state, tally)
        world.target.emulator(box).faults = FaultPlan()
        tally.calls += world.target.emulator(box).calls.total()
        differ = compare(world, box, clean.values)
        tally.differ += differ
        if differ:
            tally.note(f"seed {world.seed}: {differ} contacts differ")


CHILD = textwrap.dedent(
    """
    import json, sys
    from datetime import datetime
    from pathlib import Path
    from sandbox import SandboxClock
    from scoring import load_rules
    from sync import SyncOptions

    sys.path.insert(0, str(Path("bench").resolve()))
    import faults

    system, section, base, state, rules, at, step, scale, seed = sys.argv[1:]
    app = faults.open_app(
        system, json.loads(section), base, state, load_rules(rules), datetime.fromisoformat(at),
        SandboxClock(float(scale)), int(seed),
    )
    if step == "setup":
        app.setup()
    else:
        app.sync(SyncOptions(full=step == "full"))
    """
)


def killed_run(
    world: World, clean: Clean, point: int, rnd: random.Random, scratch: Path, tally: Tally
) -> None:
    """The sequence, with the step holding call number `point` (of the clean run's) run in a
    child killed at that call, then run again here; and the rest of the sequence."""
    ends = [sum(clean.counts[: i + 1]) for i in range(len(STEPS))]
    index = next(i for i, end in enumerate(ends) if point <= end)
    tally.note(
        f"kill at call {point}: in {STEPS[index]}, its call {point - sum(clean.counts[:index])}"
    )
    into = point - (ends[index] - clean.counts[index])
    state = fresh(scratch, "killed")
    with world.sandbox() as box:
        emulator = world.target.emulator(box)
        sequence(world, box, state, tally, steps=STEPS[:index])
        before = emulator.calls.total()
        child = subprocess.Popen(
            [
                sys.executable,
                "-c",
                CHILD,
                world.system.name,
                json.dumps(world.target.section(box)),
                emulator.base_url,
                state,
                str(RULES),
                world.scored_at(box).isoformat(),
                STEPS[index],
                str(SCALE),
                str(world.seed),
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        tally.runs += 1
        deadline = time.monotonic() + KILL_TIMEOUT
        while emulator.calls.total() - before < into and child.poll() is None:
            if time.monotonic() > deadline:
                break
            time.sleep(0.001)
        time.sleep(rnd.uniform(0, 0.02))  # into the local work that follows the call
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
        else:
            tally.note(f"kill at call {point} ({STEPS[index]}): the run ended first")
        child.wait()
        stirs = STEPS[:index].count("stir")
        sequence(world, box, state, tally, steps=STEPS[index:], stirs_done=stirs)
        tally.calls += emulator.calls.total()
        differ = compare(world, box, clean.values)
        tally.differ += differ
        if differ:
            tally.note(f"kill at call {point} (seed {world.seed}): {differ} contacts differ")


# -- the campaign ------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=600, help="people in each world")
    parser.add_argument("--seeds", type=int, default=3, help="worlds and fault plans per scenario")
    parser.add_argument("--kills", type=int, default=20, help="random kill -9 points per system")
    parser.add_argument(
        "--system",
        action="append",
        choices=[s.name for s in SYSTEMS],
        help="only this system (repeatable; default: every registered one)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="print each failed run and each kill point"
    )
    args = parser.parse_args(argv)
    if args.people < 10 or args.seeds < 1 or args.kills < 0:
        parser.error("--people at least 10, --seeds at least 1, --kills at least 0")

    missing = [s.name for s in SYSTEMS if s.name not in TARGETS]
    if missing:
        print(f"no campaign target for {', '.join(missing)}: add it to TARGETS", file=sys.stderr)
        return 2
    rules = load_rules(RULES)
    seeds = [101 + i for i in range(args.seeds)]
    rows: list[tuple[str, str, Tally]] = []
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="leadscore-faults-") as scratch_dir:
        scratch = Path(scratch_dir)
        for system in [s for s in SYSTEMS if not args.system or s.name in args.system]:
            worlds = [World(system, TARGETS[system.name], s, args.people, rules) for s in seeds]
            cleans: dict[int, Clean] = {}
            tally = Tally()
            started = time.perf_counter()
            for world in worlds:
                cleans[world.seed] = clean_run(world, scratch)
                tally.runs += len(STEPS) - STEPS.count("stir")
                tally.calls += sum(cleans[world.seed].counts)
            tally.seconds = time.perf_counter() - started
            rows.append((system.label, "clean (reference)", tally))
            for scenario, plan in PLANS.items():
                tally = Tally()
                started = time.perf_counter()
                for world in worlds:
                    faulty = plan(world.seed, world.target)
                    heavy_jobs = plan is heavy
                    faulty_run(world, faulty, cleans[world.seed], scratch, tally, heavy_jobs)
                tally.seconds = time.perf_counter() - started
                rows.append((system.label, scenario, tally))
            if args.kills:
                tally = Tally()
                started = time.perf_counter()
                rnd = random.Random(7)
                for kill in range(args.kills):
                    world = worlds[kill % len(worlds)]
                    clean = cleans[world.seed]
                    point = rnd.randint(1, sum(clean.counts))
                    killed_run(world, clean, point, rnd, scratch, tally)
                tally.seconds = time.perf_counter() - started
                rows.append((system.label, f"kill -9 ({args.kills}) and re-run", tally))

    print(
        f"{args.people} people a world, seeds {', '.join(map(str, seeds))}, scale {SCALE:g}; "
        "each run: " + ", ".join(STEPS)
    )
    header = ("system", "scenario", "runs", "failed runs", "contacts differing", "calls", "seconds")
    table = [header] + [
        (
            label,
            scenario,
            str(t.runs),
            str(t.failed),
            str(t.differ),
            f"{t.calls:,}",
            f"{t.seconds:.1f}",
        )
        for label, scenario, t in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for number, row in enumerate(table):
        print(
            "  ".join(
                c.ljust(w) if i < 2 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if number == 0:
            print("  ".join("-" * w for w in widths))
    print(f"total {time.perf_counter() - began:.1f} s")
    if args.verbose:
        for label, scenario, t in rows:
            for note in t.notes or []:
                print(f"  {label} {scenario}: {note}")
    return 1 if any(t.differ for _, _, t in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
